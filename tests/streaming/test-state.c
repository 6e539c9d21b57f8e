/* Per-key state: updateStateByKey as Spark's BasicOperationsSuite checks it. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

#include "queue-fixture.h"

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_dstream *op_update_state(em_dstream *const *in, void *ud)
{
    return em_update_state_by_key_full(em_map(in[0], em_pair_one),
                                       &(em_update_state_spec){.fn = running_sum,
                                                               .name = "running_sum",
                                                               .initial_state = ud});
}

static const char *const letters[] = {"a", "a, b", "a, b, c", "a, b", "a", ""};

Test(state, update_state_by_key_sums_across_batches)
{
    const char *expected[] = {"(a,1)",
                              "(a,2), (b,1)",
                              "(a,3), (b,2), (c,1)",
                              "(a,4), (b,3), (c,1)",
                              "(a,5), (b,3), (c,1)",
                              "(a,5), (b,3), (c,1)"};
    GError *err = NULL;
    cr_assert(em_test_operation(letters, 6, op_update_state, NULL, expected, 6, true, &err), "%s",
              err ? err->message : "");
}

Test(state, update_state_by_key_starts_from_the_initial_rdd)
{
    em_context *sc = em_context_new("local[2]", "init", NULL);
    em_rdd *initial = em_parallelize_text(sc, "(a,1), (c,2)", 1, NULL);
    em_test_batch batches[6];
    for (size_t i = 0; i < 6; i++)
        batches[i] = (em_test_batch){.text = letters[i]};
    em_test_input input = {batches, 6};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&input, 1, op_update_state, initial, &(em_test_opts){.context = sc}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "[(a,2), (c,2)]\n"
                           "[(a,3), (b,1), (c,2)]\n"
                           "[(a,4), (b,2), (c,3)]\n"
                           "[(a,5), (b,3), (c,3)]\n"
                           "[(a,6), (b,3), (c,3)]\n"
                           "[(a,6), (b,3), (c,3)]\n");
    em_test_output_free(out);
    em_rdd_unref(initial);
    em_context_free(sc);
}

/* Spark's "with input reset": no values this batch removes the key. */
static em_value sum_or_forget(em_value key, const em_value *values, size_t n, em_value state,
                              em_time t, void *ud)
{
    if (n == 0)
        return em_none();
    return running_sum(key, values, n, state, t, ud);
}

static em_dstream *op_forget(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_update_state_by_key(em_map(in[0], em_pair_one), sum_or_forget);
}

Test(state, update_state_by_key_removes_keys_whose_state_becomes_none)
{
    const char *expected[] = {"(a,1)",        "(a,2), (b,1)", "(a,3), (b,2), (c,1)",
                              "(a,4), (b,3)", "(a,5)",        ""};
    GError *err = NULL;
    cr_assert(em_test_operation(letters, 6, op_forget, NULL, expected, 6, true, &err), "%s",
              err ? err->message : "");
}

static em_value stamp_time(em_value key, const em_value *values, size_t n, em_value state,
                           em_time t, void *ud)
{
    (void)key, (void)values, (void)n, (void)state, (void)ud;
    return em_int(t);
}

static em_dstream *op_stamp(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_update_state_by_key(em_map(in[0], em_pair_one), stamp_time);
}

Test(state, initial_rdd_of_another_context_is_refused_at_definition)
{
    em_context *other = em_context_new("local[1]", "other", NULL);
    em_rdd *initial = em_parallelize_text(other, "(a,1)", 1, NULL);
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    cr_assert_null(
        em_update_state_by_key_full(in, &(em_update_state_spec){.fn = running_sum,
                                                                .initial_state = initial}));
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    em_rdd_unref(initial);
    em_context_free(other);
}

Test(state, update_function_sees_every_key_every_batch_with_the_batch_time)
{
    const char *input[] = {"a", "b"};
    const char *expected[] = {"(a,1000)", "(a,2000), (b,2000)", "(a,3000), (b,3000)"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 2, op_stamp, NULL, expected, 3, true, &err), "%s",
              err ? err->message : "");
}

/* ---- More of Spark's BasicOperationsSuite: time stamps, object lifecycle ---- */

/* Spark's "testing time stamps as input": the state is the sum of the batch times in which the
 * key had values, starting from the initial (a,0), (c,0). */
static em_value add_time_when_seen(em_value key, const em_value *values, size_t n, em_value state,
                                   em_time t, void *ud)
{
    (void)key, (void)values, (void)ud;
    int64_t before = state.type == EM_T_NONE ? 0 : em_as_int(state);
    return em_int(n > 0 ? t + before : before);
}

static em_dstream *op_time_stamps(em_dstream *const *in, void *ud)
{
    return em_update_state_by_key_full(em_map(in[0], em_pair_one),
                                       &(em_update_state_spec){.fn = add_time_when_seen,
                                                               .name = "updateFunc",
                                                               .num_partitions = 2,
                                                               .initial_state = ud});
}

Test(state, update_function_time_stamps_accumulate_from_the_initial_state)
{
    em_context *sc = em_context_new("local[2]", "stamps", NULL);
    em_rdd *initial = em_parallelize_text(sc, "(a,0), (c,0)", 2, NULL);
    em_test_batch batches[6];
    for (size_t i = 0; i < 6; i++)
        batches[i] = (em_test_batch){.text = letters[i]};
    em_test_input input = {batches, 6};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&input, 1, op_time_stamps, initial, &(em_test_opts){.context = sc}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    /* a -> 1000, 3000, 6000, 10000, 15000, 15000; b -> 2000, 5000, 9000, ...; c -> 0, 0, 3000 */
    cr_assert_str_eq(text, "[(a,1000), (c,0)]\n"
                           "[(a,3000), (b,2000), (c,0)]\n"
                           "[(a,6000), (b,5000), (c,3000)]\n"
                           "[(a,10000), (b,9000), (c,3000)]\n"
                           "[(a,15000), (b,9000), (c,3000)]\n"
                           "[(a,15000), (b,9000), (c,3000)]\n");
    em_test_output_free(out);
    em_rdd_unref(initial);
    em_context_free(sc);
}

/* Spark's "object lifecycle": the state object (counter, expireCounter) is cleared when seen
 * without new values twice in a row. Here the object is a string "counter/expire" built in the
 * scratch arena each call: Ember must copy it into the state, batch after batch. */
static em_value lifecycle(em_value key, const em_value *values, size_t n, em_value state,
                          em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    long long counter = 0, expire = 0;
    if (state.type != EM_T_NONE) {
        g_autofree char *text = g_strndup(em_str_ptr(state), em_str_len(state));
        if (sscanf(text, "%lld/%lld", &counter, &expire) != 2)
            return em_fail("not a state object: %s", text);
    }
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    if (sum == 0) {
        expire++;
    } else {
        counter += sum;
        expire = 0;
    }
    if (expire == 2)
        return em_none();
    return em_str_printf("%lld/%lld", counter, expire);
}

static em_value counter_of(em_value v, void *ud)
{
    (void)ud;
    return em_int(g_ascii_strtoll(em_str_ptr(v), NULL, 10));
}

static em_dstream *op_lifecycle(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *objects = em_update_state_by_key(em_map(in[0], em_pair_one), lifecycle);
    return em_map_values(objects, counter_of);
}

Test(state, state_objects_live_across_batches_until_expired)
{
    const char *input[] = {"a, b", "", "a, c, a", "c", "", ""};
    const char *expected[] = {"(a,1), (b,1)", "(a,1), (b,1)", "(a,3), (c,1)",
                              "(a,3), (c,2)", "(c,2)",        ""};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 6, op_lifecycle, NULL, expected, 6, true, &err), "%s",
              err ? err->message : "");
}

/* ---- A failed batch: the state goes on from the last state computed ---- */

static gint fail_once = 1;

static em_value sum_failing_once_at_3s(em_value key, const em_value *values, size_t n,
                                       em_value state, em_time t, void *ud)
{
    if (t == 3000 && g_atomic_int_compare_and_exchange(&fail_once, 1, 0))
        return em_fail("update failed at %lld ms", (long long)t);
    return running_sum(key, values, n, state, t, ud);
}

Test(state, after_a_failed_batch_the_state_goes_on_from_the_last_state_computed)
{
    /* A queue gives each batch once: recomputing old states would take later batches' RDDs. */
    const char *batches[] = {"a", "a, b", "a, b, c", "a", "b", "", "c", "c"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_dstream *pairs = em_map(f.input, em_pair_one);
    batch_log l = {0};
    batch_log_attach(&l, em_update_state_by_key(pairs, sum_failing_once_at_3s));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 6);
    /* Batch 3 s failed: its records ("a, b, c") never reach the state; 4 s starts from 2 s. */
    const char *want[] = {"[(a,1)]",        "[(a,2), (b,1)]", NULL,
                          "[(a,3), (b,1)]", "[(a,3), (b,2)]", "[(a,3), (b,2)]"};
    batch_log_check(&l, want, 6);
    /* Six batches took six RDDs: none was taken again to recompute a lost state. */
    cr_assert_eq(em_rdd_queue_length(f.queue), 2);
    queue_fixture_free(&f);
    batch_log_clear(&l);
}

/* ---- A failed batch is all or nothing (batch_done): another job's failure undoes it ---- */

static gint update_calls;

static em_value counting_sum(em_value key, const em_value *values, size_t n, em_value state,
                             em_time t, void *ud)
{
    g_atomic_int_inc(&update_calls);
    return running_sum(key, values, n, state, t, ud);
}

static em_value pair_unless_boom(em_value v, void *ud)
{
    (void)ud;
    if (em_is_str(v) && em_str_len(v) == 4 && memcmp(em_str_ptr(v), "boom", 4) == 0)
        return em_fail("the map failed on boom");
    return em_pair(v, em_int(1));
}

Test(state, a_batch_failed_upstream_of_another_state_leaves_this_state_as_before_it)
{
    /* Two states over one input: `all` takes every record, `checked` reads them through a map
     * that fails on boom. Batch 2 s computes all's state (with boom) and then fails in
     * checked's map: the batch failed, so all's state must be as after 1 s when 3 s starts. */
    const char *batches[] = {"a, b", "a, boom, b", "a, b"};
    queue_fixture f = queue_fixture_new(batches, 3);
    em_dstream *all = em_update_state_by_key(em_map(f.input, em_pair_one), counting_sum);
    em_dstream *checked = em_update_state_by_key(em_map(f.input, pair_unless_boom), running_sum);
    batch_log la = {0}, lc = {0};
    batch_log_attach(&la, all);
    batch_log_attach(&lc, checked);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 3);
    cr_assert(la.failed[1] && lc.failed[1] && !la.failed[2] && !lc.failed[2]);
    cr_assert_str_eq(la.text[0], "[(a,1), (b,1)]");
    cr_assert_str_eq(la.text[2], "[(a,2), (b,2)]", "all at 3 s: %s", la.text[2]);
    cr_assert_str_eq(lc.text[2], "[(a,2), (b,2)]", "checked at 3 s: %s", lc.text[2]);
    /* all's state was computed once a batch: 2 keys, then 3 (boom), then 2; nothing was
     * recomputed, and each batch took one queued RDD. */
    cr_assert_eq(g_atomic_int_get(&update_calls), 7);
    cr_assert_eq(em_rdd_queue_length(f.queue), 0);
    queue_fixture_free(&f);
    batch_log_clear(&la);
    batch_log_clear(&lc);
}
