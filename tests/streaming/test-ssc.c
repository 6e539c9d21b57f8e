/* The StreamingContext: lifecycle, misuse, batch times, print's exact format, and queue input. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

static em_dstream *op_map_pair(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map(in[0], em_pair_one);
}

Test(ssc, map_runs_batch_by_batch_on_the_manual_clock)
{
    const char *input[] = {"a, b", "c", ""};
    const char *expected[] = {"(a,1), (b,1)", "(c,1)", "", ""};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 3, op_map_pair, NULL, expected, 4, false, &err), "%s",
              err ? err->message : "");
}

static em_dstream *op_word_count(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key(em_map(em_flat_map(in[0], em_split_words), em_pair_one), em_sum);
}

Test(ssc, word_count_per_batch)
{
    const char *input[] = {"\"a b a\", \"c a\"", "\"b\""};
    const char *expected[] = {"(a,3), (b,1), (c,1)", "(b,1)"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 2, op_word_count, NULL, expected, 2, true, &err), "%s",
              err ? err->message : "");
}

static em_dstream *op_count(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_count(in[0]);
}

Test(ssc, count_is_zero_for_empty_batches)
{
    const char *input[] = {"1, 2, 3", "", "4"};
    const char *expected[] = {"3", "0", "1", "0"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 3, op_count, NULL, expected, 4, false, &err), "%s",
              err ? err->message : "");
}

Test(ssc, print_matches_spark_byte_for_byte)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    g_autoptr(em_rdd) first = em_parallelize_text(ssc->sc, "1, 2, 3", 2, NULL);
    em_rdd_queue_push(q, first);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    em_dstream *ds = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_print_to(ds, 2, out);
    cr_assert(em_ssc_start(ssc, NULL));
    em_ssc_advance_clock(ssc, 1000);
    cr_assert(em_ssc_wait_for_batch(ssc, 1000, 10000));
    em_ssc_advance_clock(ssc, 1000);
    cr_assert(em_ssc_wait_for_batch(ssc, 2000, 10000));
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    fclose(out);
    cr_assert_str_eq(buf, "-------------------------------------------\n"
                          "Time: 1000 ms\n"
                          "-------------------------------------------\n"
                          "1\n"
                          "2\n"
                          "...\n"
                          "\n"
                          "-------------------------------------------\n"
                          "Time: 2000 ms\n"
                          "-------------------------------------------\n"
                          "\n");
    free(buf);
}

Test(ssc, start_without_output_operations_fails)
{
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_rdd_queue *q = em_rdd_queue_new();
    em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    GError *err = NULL;
    cr_assert_not(em_ssc_start(ssc, &err));
    cr_assert(strstr(err->message, "No output operations registered"), "%s", err->message);
    g_error_free(err);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

Test(ssc, stopped_context_cannot_restart_and_stop_is_idempotent)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .batch_interval = 100, .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    em_print(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL));
    cr_assert(em_ssc_start(ssc, NULL));
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_ACTIVE);
    GError *err = NULL;
    cr_assert_not(em_ssc_start(ssc, &err));
    g_clear_error(&err);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_STOPPED);
    cr_assert(em_ssc_await_termination(ssc, NULL));
    cr_assert_not(em_ssc_start(ssc, &err));
    cr_assert(strstr(err->message, "cannot be restarted"), "%s", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

static int batches_seen;

static bool count_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    batches_seen++;
    return true;
}

Test(ssc, stop_after_batches_stops_gracefully_after_the_last_one)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .batch_interval = 1000, .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    em_foreach_rdd(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL), count_batch);
    em_ssc_stop_after_batches(ssc, 2);
    cr_assert(em_ssc_start(ssc, NULL));
    em_ssc_advance_clock(ssc, 1000);
    cr_assert(em_ssc_wait_for_batch(ssc, 1000, 10000));
    cr_assert_eq(em_ssc_await_termination_or_timeout(ssc, 0, NULL), 0);
    em_ssc_advance_clock(ssc, 1000);
    cr_assert_eq(em_ssc_await_termination_or_timeout(ssc, 10000, NULL), 1);
    em_ssc_advance_clock(ssc, 1000); /* no generator any more: nothing runs */
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_STOPPED);
    cr_assert_eq(batches_seen, 2);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}
