/* A failed batch is all or nothing: every output is generated and run as its own job, every
 * input's RDD at t is taken once, stateful streams go on from the last good state, and every
 * stream hears how each batch ended (the batch_done hook). */
#include "queue-fixture.h"

#include <string.h>

static em_value pair_one_failing_on_boom(em_value v, void *ud)
{
    (void)ud;
    if (em_is_str(v) && em_str_len(v) == 4 && memcmp(em_str_ptr(v), "boom", 4) == 0)
        return em_fail("boom");
    return em_pair(v, em_int(1));
}

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

Test(batch_failure, a_poisoned_batch_leaves_both_states_as_without_it)
{
    const char *batches[] = {"a, b", "a, boom, b", "a, b", "a, b", "a, b"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_dstream *pairs = em_map(f.input, pair_one_failing_on_boom);
    batch_log first = {0}, second = {0};
    batch_log_attach(&first, em_update_state_by_key(pairs, running_sum));
    batch_log_attach(&second, em_update_state_by_key(pairs, running_sum));
    cr_assert(em_ssc_start(f.ssc, NULL));
    for (int i = 1; i <= 4; i++)
        run_batch(f.ssc, EM_SECONDS(i));
    /* Four batches took four RDDs: the fifth is still queued, for the fifth batch. */
    cr_assert_eq(em_rdd_queue_length(f.queue), 1);
    run_batch(f.ssc, EM_SECONDS(5));
    cr_assert_eq(em_rdd_queue_length(f.queue), 0);
    /* Batch 2 s failed for both outputs; 3 s has no poison and succeeds; the states go on as
     * if batch 2 s never happened: four batches of a, b. */
    const char *want[] = {"[(a,1), (b,1)]", NULL, "[(a,2), (b,2)]", "[(a,3), (b,3)]",
                          "[(a,4), (b,4)]"};
    batch_log_check(&first, want, 5);
    batch_log_check(&second, want, 5);
    queue_fixture_free(&f);
    batch_log_clear(&first);
    batch_log_clear(&second);
}

/* ---- Each output is its own job ---- */

static bool fail_at_2s(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud;
    if (t == 2000) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "output failed at 2 s");
        return false;
    }
    return true;
}

Test(batch_failure, a_failing_output_does_not_skip_the_next)
{
    const char *batches[] = {"a", "b", "c"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_foreach_rdd(f.input, fail_at_2s);
    batch_log l = {0};
    batch_log_attach(&l, f.input);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 3);
    /* Batch 2 s failed (the first output), yet the second output saw its records. */
    cr_assert(l.failed[1]);
    cr_assert_str_eq(l.text[1], "[b]");
    cr_assert_str_eq(l.text[2], "[c]");
    cr_assert_not(l.failed[2]);
    queue_fixture_free(&f);
    batch_log_clear(&l);
}

/* ---- The batch_done hook: every stream, once per batch, after the jobs ---- */

typedef struct {
    GMutex lock;
    GString *log;
} done_log;

static done_log hook_log;

static em_rdd *pass_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *rdd = em__dstream_get_or_compute(ds->parents[0], t, err);
    return rdd ? em_rdd_ref(rdd) : NULL;
}

static void record_done(em_dstream *ds, em_time t, bool succeeded)
{
    g_mutex_lock(&hook_log.lock);
    g_string_append_printf(hook_log.log, "%d@%lld:%s ", ds->id, (long long)t,
                           succeeded ? "ok" : "failed");
    g_mutex_unlock(&hook_log.lock);
}

static const em_dstream_class hooked_class = {.type_name = "HookedDStream",
                                              .compute = pass_compute,
                                              .batch_done = record_done};

static bool log_job(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud, (void)err;
    g_mutex_lock(&hook_log.lock);
    g_string_append_printf(hook_log.log, "job@%lld ", (long long)t);
    g_mutex_unlock(&hook_log.lock);
    return t != 2000 || (g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "job failed"), false);
}

Test(batch_failure, batch_done_reaches_every_stream_after_the_jobs)
{
    g_mutex_init(&hook_log.lock);
    hook_log.log = g_string_new(NULL);
    const char *batches[] = {"a", "b"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_dstream *a = em__dstream_new(f.ssc, &hooked_class, "hooked", &f.input, 1);
    /* Not under any output: still part of the graph, it hears of every batch. */
    em_dstream *b = em__dstream_new(f.ssc, &hooked_class, "hooked", &f.input, 1);
    em_foreach_rdd(a, log_job);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 2);
    g_autofree char *want = g_strdup_printf("job@1000 %d@1000:ok %d@1000:ok job@2000 "
                                            "%d@2000:failed %d@2000:failed ",
                                            a->id, b->id, a->id, b->id);
    cr_assert_str_eq(hook_log.log->str, want);
    queue_fixture_free(&f);
    g_string_free(hook_log.log, TRUE);
    g_mutex_clear(&hook_log.lock);
}

/* ---- A batch whose output fails after the state was computed ----
 * All or nothing: the state goes on as after the previous batch (the stateful streams'
 * batch_done rolls the failed batch back). */

static bool fail_output_at_2s(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    return fail_at_2s(rdd, t, ud, err);
}

static void check_rollback(em_dstream *(*make)(em_dstream *pairs))
{
    const char *batches[] = {"a", "a, b", "a", "b"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_dstream *state = make(em_map(f.input, em_pair_one));
    batch_log l = {0};
    batch_log_attach(&l, state);
    em_foreach_rdd(state, fail_output_at_2s);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 4);
    /* Batch 2 s: the log output saw the state computed, but the batch failed as a whole. */
    cr_assert(l.failed[1]);
    cr_assert_eq(em_rdd_queue_length(f.queue), 0);
    /* 3 s goes on from the state after 1 s, without batch 2 s's records. */
    cr_assert_str_eq(l.text[2], "[(a,2)]", "3 s: %s", l.text[2]);
    cr_assert_str_eq(l.text[3], "[(a,2), (b,1)]", "4 s: %s", l.text[3]);
    queue_fixture_free(&f);
    batch_log_clear(&l);
}

static em_dstream *make_update_state(em_dstream *pairs)
{
    return em_update_state_by_key(pairs, running_sum);
}

static em_value running_count(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)key, (void)ud;
    int64_t sum = (value.type == EM_T_NONE ? 0 : em_as_int(value)) +
                  (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_state_update(state, em_int(sum));
    return em_int(sum);
}

static em_dstream *make_map_with_state_snapshots(em_dstream *pairs)
{
    return em_state_snapshots(
        em_map_with_state(pairs, &(em_state_spec){.fn = running_count, .name = "running_count"}));
}

Test(batch_failure, a_failed_output_rolls_update_state_by_key_back)
{
    check_rollback(make_update_state);
}

Test(batch_failure, a_failed_output_rolls_map_with_state_back)
{
    check_rollback(make_map_with_state_snapshots);
}
