/* The StreamingContext: lifecycle, misuse, batch times, print's exact format, and queue input. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

#include <string.h>

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
                                                 .batch_interval = 100,
                                                 .manual_clock = true},
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
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
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

/* ---- em_slice after start: Spark's getOrCompute up to the current batch ---- */

typedef struct {
    em_dstream *other;  /* a stream whose RDD at t is not generated when the transform runs */
    char *seen;         /* what slicing it gave, as "[records]" */
    int64_t queue_left; /* the queue's length right after the slice */
    em_rdd_queue *queue;
} slicer;

static em_rdd *slice_other(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)err;
    slicer *s = ud;
    if (t == 2000) {
        g_autoptr(GPtrArray) rdds = em_slice(s->other, 0, G_MAXINT64);
        GString *text = g_string_new(NULL);
        for (guint i = 0; i < rdds->len; i++) {
            em_values *vals = em_rdd_collect(rdds->pdata[i], NULL);
            char *one = em_values_to_string(vals);
            g_string_append(text, one);
            g_free(one);
            em_values_free(vals);
        }
        s->seen = g_string_free(text, FALSE);
        s->queue_left = (int64_t)em_rdd_queue_length(s->queue);
    }
    return em_rdd_ref(rdd);
}

static em_value times_ten(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) * 10);
}

static bool ignore(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    return true;
}

Test(ssc, slice_computes_times_not_yet_generated_up_to_the_current_batch)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    for (int i = 1; i <= 3; i++) {
        g_autofree char *text = g_strdup_printf("%d", i);
        g_autoptr(em_rdd) rdd = em_parallelize_text(em_ssc_context(ssc), text, 1, NULL);
        em_rdd_queue_push(q, rdd);
    }
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    slicer s = {.queue = q};
    /* Output 0 slices `other` while batch 2 s generates, before output 1 has asked for it. */
    s.other = em_map(in, times_ten);
    em_foreach_rdd(em_transform_full(in, slice_other, &s, NULL, "slice_other"), ignore);
    em_foreach_rdd(s.other, ignore);
    em_ssc_remember(ssc, EM_SECONDS(10));
    cr_assert(em_ssc_start(ssc, NULL));
    for (em_time t = 1000; t <= 3000; t += 1000) {
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        cr_assert(em_ssc_wait_for_batch(ssc, t, 10000));
    }
    /* 1 s remembered, 2 s computed by the slice (the queue's second RDD, taken once), 3 s not
     * reached yet. */
    cr_assert_str_eq(s.seen, "[10][20]");
    cr_assert_eq(s.queue_left, 1);
    cr_assert_eq(em_rdd_queue_length(q), 0);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    g_free(s.seen);
}

/* ---- <ember/testing.h>: none batches, several streams, failed batches, timeouts ---- */

static em_value count_values(em_value key, const em_value *values, size_t n, em_value state,
                             em_time t, void *ud)
{
    (void)key, (void)values, (void)t, (void)ud;
    return em_int((state.type == EM_T_NONE ? 0 : em_as_int(state)) + (int64_t)n);
}

static em_dstream *op_state_count(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_update_state_by_key(em_map(in[0], em_pair_one), count_values);
}

static em_dstream *op_union_self(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_union(in[0], in[0]);
}

static const em_test_batch none_in_the_middle[] = {{.text = "a"}, {.none = true}, {.text = "b"}};

Test(ssc, a_none_input_batch_still_runs_update_state_by_key)
{
    em_test_input in = {none_in_the_middle, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_state_count, NULL, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "[(a,1)]\n[(a,1)]\n[(a,1), (b,1)]\n");
}

Test(ssc, a_none_input_batch_is_not_an_empty_one_for_union)
{
    em_test_input in = {none_in_the_middle, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out =
        em_test_run(&in, 1, op_union_self, NULL, &(em_test_opts){.keep_going = true}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    /* Spark's UnionDStream: "Could not generate RDD from a parent for unifying". An empty
     * batch would give [] here. */
    cr_assert_eq(out->status[1], EM_TEST_FAILED, "batch 2 s: status %d", out->status[1]);
    cr_assert(strstr(out->failures[1], "Could not generate RDD from a parent for unifying at "
                                       "time 2000 ms"),
              "%s", out->failures[1]);
    cr_assert_eq(out->status[2], EM_TEST_OUTPUT);
}

static em_rdd *same_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    return em_rdd_ref(rdd);
}

static em_dstream *op_transform_same(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform(in[0], same_rdd);
}

Test(ssc, a_none_input_batch_fails_transform)
{
    em_test_input in = {none_in_the_middle, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_transform_same, NULL, NULL, &err);
    cr_assert_null(out);
    cr_assert_str_eq(err->message, "batch 2000 ms: transform: Could not generate RDD from a "
                                   "parent for transforming at time 2000 ms");
    g_error_free(err);
}

static em_value count_mapped(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)key, (void)value, (void)ud;
    int64_t n = (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0) + 1;
    em_state_update(state, em_int(n));
    return em_int(n);
}

static size_t op_mapped_and_snapshots(em_dstream *const *in, em_dstream **out, size_t max,
                                      void *ud)
{
    (void)ud;
    cr_assert_eq(max, 2);
    out[0] = em_map_with_state(em_map(in[0], em_pair_one),
                               &(em_state_spec){.fn = count_mapped, .name = "count_mapped"});
    out[1] = em_state_snapshots(out[0]);
    return 2;
}

Test(ssc, a_map_with_state_stream_and_its_snapshots_are_collected_in_one_run)
{
    const em_test_batch batches[] = {{.text = "a"}, {.text = "a, b"}};
    em_test_input in = {batches, 2};
    size_t n = 0;
    GError *err = NULL;
    em_test_output **outs =
        em_test_run_multi(&in, 1, op_mapped_and_snapshots, 2, NULL, NULL, &n, &err);
    cr_assert_not_null(outs, "%s", err ? err->message : "");
    cr_assert_eq(n, 2);
    g_autofree char *mapped = em_test_output_format(outs[0], true);
    g_autofree char *snapshots = em_test_output_format(outs[1], true);
    cr_assert_str_eq(mapped, "[1]\n[1, 2]\n");
    cr_assert_str_eq(snapshots, "[(a,1)]\n[(a,2), (b,1)]\n");
    em_test_outputs_free(outs, n);
}

static em_value pair_or_fail_on_boom(em_value v, void *ud)
{
    (void)ud;
    if (em_str_len(v) == 4 && memcmp(em_str_ptr(v), "boom", 4) == 0)
        return em_fail("boom at this record");
    return v;
}

static em_dstream *op_map_boom(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map(in[0], pair_or_fail_on_boom);
}

Test(ssc, keep_going_keeps_outputs_around_a_failed_batch)
{
    const em_test_batch batches[] = {{.text = "a"}, {.text = "boom"}, {.text = "c"}};
    em_test_input in = {batches, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out =
        em_test_run(&in, 1, op_map_boom, NULL, &(em_test_opts){.keep_going = true}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    cr_assert_eq(out->status[0], EM_TEST_OUTPUT);
    cr_assert_eq(out->status[1], EM_TEST_FAILED);
    cr_assert(strstr(out->failures[1], "batch 2000 ms"), "%s", out->failures[1]);
    cr_assert(strstr(out->failures[1], "boom at this record"), "%s", out->failures[1]);
    cr_assert_eq(out->status[2], EM_TEST_OUTPUT);
    cr_assert_null(out->failures[2]);
    g_autofree char *text = em_test_output_format(out, false);
    g_autofree char *want = g_strdup_printf("[a]\nfailed: %s\n[c]\n", out->failures[1]);
    cr_assert_str_eq(text, want);
    /* Without keep_going the run ends at the failed batch. */
    g_autoptr(em_test_output) none = em_test_run(&in, 1, op_map_boom, NULL, NULL, &err);
    cr_assert_null(none);
    cr_assert(strstr(err->message, "boom at this record"), "%s", err->message);
    g_error_free(err);
}

static em_dstream *op_window_2s(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_window(in[0], EM_SECONDS(2), EM_SECONDS(2));
}

Test(ssc, a_time_with_no_rdd_is_reported_as_such)
{
    const em_test_batch batches[] = {{.text = "a"}, {.text = "b"}, {.text = "c"}, {.text = ""}};
    em_test_input in = {batches, 4};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_window_2s, NULL, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    em_test_batch_status want[] = {EM_TEST_NO_RDD, EM_TEST_OUTPUT, EM_TEST_NO_RDD, EM_TEST_OUTPUT};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out->status[i], want[i], "batch %d: %d", i + 1, out->status[i]);
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "none\n[a, b]\nnone\n[c]\n");
}

/* A batch held until em_test_run says it gave up on it. */
static GMutex gate_lock;
static GCond gate_cond;
static bool gate_open;

static GLogWriterOutput open_gate_on_timeout(GLogLevelFlags level, const GLogField *fields,
                                             gsize n, gpointer ud)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0 &&
            strstr(fields[i].value, "batch 1000 ms did not complete in 5 ms")) {
            g_mutex_lock(&gate_lock);
            gate_open = true;
            g_cond_broadcast(&gate_cond);
            g_mutex_unlock(&gate_lock);
            return G_LOG_WRITER_HANDLED;
        }
    return g_log_writer_default(level, fields, n, ud);
}

static em_value wait_for_gate(em_value v, void *ud)
{
    (void)ud;
    g_mutex_lock(&gate_lock);
    while (!gate_open)
        g_cond_wait(&gate_cond, &gate_lock);
    g_mutex_unlock(&gate_lock);
    return v;
}

static em_dstream *op_held(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map(in[0], wait_for_gate);
}

Test(ssc, a_batch_longer_than_the_batch_timeout_fails_the_run)
{
    g_log_set_writer_func(open_gate_on_timeout, NULL, NULL);
    const em_test_batch batches[] = {{.text = "a"}};
    em_test_input in = {batches, 1};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&in, 1, op_held, NULL, &(em_test_opts){.batch_timeout = 5}, &err);
    cr_assert_null(out);
    cr_assert_str_eq(err->message, "em_test_run: batch 1000 ms did not complete in 5 ms");
    g_error_free(err);
}
