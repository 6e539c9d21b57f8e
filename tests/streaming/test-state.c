/* Per-key state: updateStateByKey as Spark's BasicOperationsSuite checks it. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

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
    return em_update_state_by_key_full(em_map(in[0], em_pair_one), running_sum, NULL, NULL,
                                       "running_sum", 0, ud);
}

static const char *const letters[] = {"a", "a, b", "a, b, c", "a, b", "a", ""};

Test(state, update_state_by_key_sums_across_batches)
{
    const char *expected[] = {"(a,1)", "(a,2), (b,1)", "(a,3), (b,2), (c,1)",
                              "(a,4), (b,3), (c,1)", "(a,5), (b,3), (c,1)",
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
    em_test_output *out = em_test_run(&input, 1, op_update_state, initial,
                                      &(em_test_opts){.context = sc}, &err);
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
    const char *expected[] = {"(a,1)", "(a,2), (b,1)", "(a,3), (b,2), (c,1)", "(a,4), (b,3)",
                              "(a,5)", ""};
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
    em_dstream *in = em_queue_stream(ssc, q, true, NULL);
    cr_assert_null(em_update_state_by_key_full(in, running_sum, NULL, NULL, "running_sum", 0,
                                               initial));
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
