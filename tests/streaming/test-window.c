/* Windows, as Spark's WindowOperationsSuite checks them: boundaries, slides, and definition-time
 * validation of durations. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

#include "criticals.h"
#include "queue-fixture.h"

typedef struct {
    em_duration window, slide;
} window_args;

static em_dstream *op_window(em_dstream *const *in, void *ud)
{
    const window_args *w = ud;
    return em_window(in[0], w->window, w->slide);
}

static void check_window(em_duration window, em_duration slide, const char *const *input,
                         size_t n_input, const char *const *expected, size_t n_expected)
{
    window_args args = {window, slide};
    GError *err = NULL;
    cr_assert(em_test_operation(input, n_input, op_window, &args, expected, n_expected, true,
                                &err),
              "%s", err ? err->message : "");
}

static const char *const digits[] = {"0", "1", "2", "3", "4", "5"};

Test(window, basic_window_covers_the_last_two_batches)
{
    const char *expected[] = {"0", "0, 1", "1, 2", "2, 3", "3, 4", "4, 5", "5", ""};
    check_window(2000, 1000, digits, 6, expected, 8);
}

Test(window, tumbling_window_emits_only_at_slide_times)
{
    const char *expected[] = {NULL, "0, 1", NULL, "2, 3", NULL, "4, 5"};
    check_window(2000, 2000, digits, 6, expected, 6);
}

Test(window, larger_window_keeps_emitting_until_data_slides_out)
{
    const char *expected[] = {NULL,         "0, 1", NULL,   "0, 1, 2, 3", NULL,
                              "2, 3, 4, 5", NULL,   "4, 5", NULL,         ""};
    check_window(4000, 2000, digits, 6, expected, 10);
}

Test(window, non_overlapping_window_with_gaps)
{
    const char *expected[] = {NULL, NULL, "2", NULL, NULL, "5"};
    check_window(1000, 3000, digits, 6, expected, 6);
}

Test(window, durations_not_multiple_of_parent_slide_are_rejected_at_definition)
{
    const struct {
        em_duration window, slide;
    } bad[] = {{1500, 1000}, {2000, 1500}, {0, 1000}, {2000, 0}, {-1000, 1000}};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
        em_rdd_queue *q = em_rdd_queue_new();
        em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
        cr_assert_null(em_window(in, bad[i].window, bad[i].slide), "window %lld slide %lld",
                       (long long)bad[i].window, (long long)bad[i].slide);
        em_ssc_free(ssc);
        em_rdd_queue_free(q);
    }
}

Test(window, joining_streams_with_different_slides_is_rejected_at_definition)
{
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *slow = em_window(in, 2000, 2000);
    cr_assert_not_null(slow);
    cr_assert_eq(em_dstream_slide(slow), 2000);
    cr_assert_null(em_join(in, slow));
    cr_assert_null(em_union(in, slow));
    cr_assert_not_null(em_join(slow, em_window(in, 4000, 2000)));
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

/* ---- reduceByKeyAndWindow, countByWindow, countByValueAndWindow (Spark's cases) ---- */

typedef struct {
    em_duration window, slide;
    bool inverse, filter;
} rbkw_args;

static em_dstream *op_rbkw(em_dstream *const *in, void *ud)
{
    const rbkw_args *a = ud;
    return em_reduce_by_key_and_window_full(in[0],
                                            &(em_reduce_window_spec){.fn = em_sum,
                                                                     .inv = a->inverse
                                                                                ? em_subtract
                                                                                : NULL,
                                                                     .window = a->window,
                                                                     .slide = a->slide,
                                                                     .filter =
                                                                         a->filter
                                                                             ? em_filter_nonzero
                                                                             : NULL,
                                                                     .name = "em_sum"});
}

static const char *const big_input[] = {
    "(a,1)", "(a,1), (b,1)", "(a,1), (b,1), (c,1)", "(a,1), (b,1)", "(a,1)", "",
    "(a,1)", "(a,1), (b,1)", "(a,1), (b,1), (c,1)", "(a,1), (b,1)", "(a,1)", "",
};

static const char *const big_reduce_output[] = {
    "(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,1)", "(a,1)",
    "(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,1)", "(a,1)",
};

static void check_rbkw(rbkw_args args, const char *const *input, size_t n_input,
                       const char *const *expected, size_t n_expected)
{
    GError *err = NULL;
    cr_assert(em_test_operation(input, n_input, op_rbkw, &args, expected, n_expected, true, &err),
              "%s", err ? err->message : "");
}

Test(window, reduce_by_key_and_window_big_test)
{
    check_rbkw((rbkw_args){2000, 1000, false, false}, big_input, 12, big_reduce_output, 12);
}

Test(window, reduce_by_key_and_window_with_inverse_keeps_keys_at_zero)
{
    const char *expected[] = {
        "(a,1)",
        "(a,2), (b,1)",
        "(a,2), (b,2), (c,1)",
        "(a,2), (b,2), (c,1)",
        "(a,2), (b,1), (c,0)",
        "(a,1), (b,0), (c,0)",
        "(a,1), (b,0), (c,0)",
        "(a,2), (b,1), (c,0)",
        "(a,2), (b,2), (c,1)",
        "(a,2), (b,2), (c,1)",
        "(a,2), (b,1), (c,0)",
        "(a,1), (b,0), (c,0)",
    };
    check_rbkw((rbkw_args){2000, 1000, true, false}, big_input, 12, expected, 12);
}

Test(window, reduce_by_key_and_window_with_inverse_and_filter_drops_zeros)
{
    check_rbkw((rbkw_args){2000, 1000, true, true}, big_input, 12, big_reduce_output, 12);
}

/* Issue 8: Spark filters the window state itself, so a key filtered out at 0 is later
 * subtracted from nothing. The state stays unfiltered; only what is emitted is filtered. */
Test(window, inverse_with_filter_subtracts_a_key_that_was_filtered_out_at_zero)
{
    /* Window 3 holds batches 2 and 3: -1 + 5 = 4 (Spark gives 5). */
    const char *input[] = {"(a,1)", "(a,-1)", "(a,5)"};
    const char *expected[] = {"(a,1)", "", "(a,4)"};
    check_rbkw((rbkw_args){2000, 1000, true, true}, input, 3, expected, 3);
}

Test(window, inverse_with_filter_keeps_a_key_whose_zero_sum_leaves_the_window)
{
    /* Window 3 holds batch 2 alone: (a,-1), and window 4 nothing (Spark aborts at 3). */
    const char *input[] = {"(a,1)", "(a,-1)", "", ""};
    const char *expected[] = {"(a,1)", "", "(a,-1)", ""};
    check_rbkw((rbkw_args){2000, 1000, true, true}, input, 4, expected, 4);
}

Test(window, inverse_with_filter_takes_a_single_zero_record)
{
    /* (a,0) is in windows 1 and 2, filtered out of both, then leaves (Spark aborts at 3); a
     * key that comes back after leaving starts from its new batches. */
    const char *input[] = {"(a,0)", "", "", "(a,2)", "(a,0)"};
    const char *expected[] = {"", "", "", "(a,2)", "(a,2)"};
    check_rbkw((rbkw_args){2000, 1000, true, true}, input, 5, expected, 5);
}

static em_dstream *op_rbkw_default_slide(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key_and_window_full(in[0], &(em_reduce_window_spec){.fn = em_sum,
                                                                            .inv = em_subtract,
                                                                            .window = 2000});
}

Test(window, spec_slide_0_is_the_parent_slide)
{
    GError *err = NULL;
    cr_assert(em_test_operation(big_input, 12, op_rbkw_default_slide, NULL,
                                (const char *const[]){"(a,1)", "(a,2), (b,1)",
                                                      "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)",
                                                      "(a,2), (b,1), (c,0)",
                                                      "(a,1), (b,0), (c,0)"},
                                6, true, &err),
              "%s", err ? err->message : "");
}

static bool dump_lineage(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)err;
    if (t == 3000)
        *(char **)ud = em_rdd_debug_string(rdd);
    return true;
}

Test(window, lineage_dump_of_an_incremental_window_shows_its_parents)
{
    const char *batches[] = {"(a,1)", "(a,1), (b,1)", "(b,1)"};
    queue_fixture f = queue_fixture_new(batches, 3);
    em_dstream *counts =
        em_reduce_by_key_and_window_full(em_map(f.input, em_pair_one),
                                         &(em_reduce_window_spec){.fn = em_sum,
                                                                  .inv = em_subtract,
                                                                  .window = 2000,
                                                                  .filter = em_filter_nonzero,
                                                                  .name = "em_sum"});
    char *dump = NULL;
    em_foreach_rdd_full(counts, dump_lineage, &dump, NULL, "dump");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 3);
    cr_assert_not_null(dump);
    /* The emitted records over the window at 3 s, over the previous window (its own lineage
     * cut: it stands alone) and the reduced batches that left (1 s) and entered (3 s). */
    const char *lines[] = {"MapPartitionsRDD",        "CoGroupedRDD",
                           "at reduceByKeyAndWindow", "ShuffledRDD",
                           "at reduceByKey (em_sum)", "at map (em_pair_one)"};
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
        cr_assert(strstr(dump, lines[i]), "\"%s\" not in:\n%s", lines[i], dump);
    /* Two reduced batches, each reading its queued RDD through the map. */
    int shuffled = 0;
    for (const char *p = dump; (p = strstr(p, "ShuffledRDD")); p++)
        shuffled++;
    cr_assert_eq(shuffled, 2, "%s", dump);
    g_free(dump);
    queue_fixture_free(&f);
}

Test(window, reduce_by_key_and_window_larger_slide)
{
    const char *input[] = {"(a,1)", "(a,2)", "(a,3)", "(a,4)", "(a,5)", "(a,6)", "", ""};
    const char *expected[] = {NULL, "(a,3)", NULL, "(a,10)", NULL, "(a,18)", NULL, "(a,11)"};
    check_rbkw((rbkw_args){4000, 2000, false, false}, input, 8, expected, 8);
    check_rbkw((rbkw_args){4000, 2000, true, false}, input, 8, expected, 8);
}

static em_dstream *op_count_by_window(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_count_by_window(in[0], 2000, 1000);
}

Test(window, count_by_window_counts_records_in_each_window)
{
    const char *input[] = {"1", "1", "1, 2", "0", "", ""};
    const char *expected[] = {"1", "2", "3", "3", "1", "0"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 6, op_count_by_window, NULL, expected, 6, false, &err),
              "%s", err ? err->message : "");
}

static em_dstream *op_count_by_value_and_window(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_count_by_value_and_window(in[0], 2000, 1000);
}

Test(window, count_by_value_and_window_drops_values_that_left)
{
    const char *input[] = {"1", "1", "1, 2", "0", "", ""};
    const char *expected[] = {"(1,1)", "(1,2)", "(1,2), (2,1)", "(1,1), (2,1), (0,1)",
                              "(0,1)", ""};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 6, op_count_by_value_and_window, NULL, expected, 6, true,
                                &err),
              "%s", err ? err->message : "");
}

static em_dstream *op_group_by_key_and_window(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map_values(em_group_by_key_and_window(in[0], 2000, 1000), em_identity);
}

Test(window, group_by_key_and_window_groups_over_the_window)
{
    const char *input[] = {"(a,1)", "(a,2), (b,1)", "(b,2)"};
    const char *expected[] = {"(a,CompactBuffer(1))",
                              "(a,CompactBuffer(1, 2)), (b,CompactBuffer(1))",
                              "(a,CompactBuffer(2)), (b,CompactBuffer(1, 2))",
                              "(b,CompactBuffer(2))"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 3, op_group_by_key_and_window, NULL, expected, 4, true,
                                &err),
              "%s", err ? err->message : "");
}

/* ---- A failed window: the next one is computed from its own batches ---- */

static gint boom_once = 1;

/* em_filter_nonzero, but the first time it meets the key "boom" it fails the batch. */
static bool nonzero_failing_on_boom(em_value kv, void *ud)
{
    em_value key = em_key(kv);
    if (em_is_str(key) && em_str_len(key) == 4 && memcmp(em_str_ptr(key), "boom", 4) == 0 &&
        g_atomic_int_compare_and_exchange(&boom_once, 1, 0)) {
        em_fail("the filter failed on boom");
        return false;
    }
    return em_filter_nonzero(kv, ud);
}

Test(window, after_a_failed_window_the_next_is_computed_from_its_own_batches)
{
    /* A queue gives each batch once: recomputing every window before the failed one would
     * take later batches' RDDs for batches long gone. */
    const char *batches[] = {"a", "a, b", "b", "c", "", "boom, c", "c", "", "a", "", "x", "x"};
    queue_fixture f = queue_fixture_new(batches, G_N_ELEMENTS(batches));
    em_dstream *pairs = em_map(f.input, em_pair_one);
    em_dstream *counts =
        em_reduce_by_key_and_window_full(pairs,
                                         &(em_reduce_window_spec){.fn = em_sum,
                                                                  .inv = em_subtract,
                                                                  .window = 2000,
                                                                  .slide = 1000,
                                                                  .filter =
                                                                      nonzero_failing_on_boom,
                                                                  .name = "sum"});
    batch_log l = {0};
    batch_log_attach(&l, counts);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 10);
    /* The window at 6 s fails; the one at 7 s holds batches 6 and 7, and the chain goes on. */
    const char *want[] = {"[(a,1)]",           "[(a,2), (b,1)]",
                          "[(a,1), (b,2)]",    "[(b,1), (c,1)]",
                          "[(c,1)]",           NULL,
                          "[(boom,1), (c,2)]", "[(c,1)]",
                          "[(a,1)]",           "[(a,1)]"};
    batch_log_check(&l, want, 10);
    /* Ten batches took ten RDDs. */
    cr_assert_eq(em_rdd_queue_length(f.queue), 2);
    queue_fixture_free(&f);
    batch_log_clear(&l);
}

/* ---- More of Spark's WindowOperationsSuite ---- */

Test(window, spark_non_overlapping_window_takes_two_batches_every_three)
{
    const char *expected[] = {NULL, NULL, "1, 2", NULL, NULL, "4, 5"};
    check_window(2000, 3000, digits, 6, expected, 6);
}

Test(window, window_persists_its_parent_not_its_unions)
{
    /* Spark's "window - persistence level": the windowed RDDs share the parent's, so the
     * parent is the one cached. */
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    cr_assert_not(in->cached);
    em_dstream *win = em_window(in, EM_SECONDS(2), EM_SECONDS(1));
    cr_assert(in->cached);
    cr_assert_not(win->cached);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

Test(window, reduce_by_key_and_window_spark_small_cases_with_and_without_inverse)
{
    const struct {
        const char *name;
        const char *input[4];
        const char *naive[4], *inverse[4];
        size_t n;
    } cases[] = {
        {"basic reduction", {"(a,1), (a,3)"}, {"(a,4)"}, {"(a,4)"}, 1},
        {"key already in window and new value added into window",
         {"(a,1)", "(a,1)"},
         {"(a,1)", "(a,2)"},
         {"(a,1)", "(a,2)"},
         2},
        {"new key added into window",
         {"(a,1)", "(a,1), (b,1)"},
         {"(a,1)", "(a,2), (b,1)"},
         {"(a,1)", "(a,2), (b,1)"},
         2},
        {"key removed from window",
         {"(a,1)", "(a,1)", "", ""},
         {"(a,1)", "(a,2)", "(a,1)", ""},
         {"(a,1)", "(a,2)", "(a,1)", "(a,0)"},
         4},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        rbkw_args naive = {2000, 1000, false, false}, inverse = {2000, 1000, true, false};
        cr_assert(em_test_operation(cases[i].input, cases[i].n, op_rbkw, &naive, cases[i].naive,
                                    cases[i].n, true, &err),
                  "%s: %s", cases[i].name, err ? err->message : "");
        cr_assert(em_test_operation(cases[i].input, cases[i].n, op_rbkw, &inverse,
                                    cases[i].inverse, cases[i].n, true, &err),
                  "%s (inverse): %s", cases[i].name, err ? err->message : "");
    }
}

Test(window, group_by_key_and_window_big_test)
{
    const char *expected[] = {
        "(a,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1, 1)), (c,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1, 1)), (c,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1))",
        "(a,CompactBuffer(1))",
        "(a,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1, 1)), (c,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1, 1)), (c,CompactBuffer(1))",
        "(a,CompactBuffer(1, 1)), (b,CompactBuffer(1))",
        "(a,CompactBuffer(1))",
    };
    GError *err = NULL;
    cr_assert(em_test_operation(big_input, 12, op_group_by_key_and_window, NULL, expected, 12,
                                true, &err),
              "%s", err ? err->message : "");
}

Test(window, count_by_value_and_window_spark_case)
{
    const char *input[] = {"a", "b, b", "a, b"};
    const char *expected[] = {"(a,1)", "(a,1), (b,2)", "(a,1), (b,3)"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 3, op_count_by_value_and_window, NULL, expected, 3, true,
                                &err),
              "%s", err ? err->message : "");
}

static em_dstream *op_reduce_by_window(em_dstream *const *in, void *ud)
{
    const rbkw_args *a = ud;
    return em_reduce_by_window_full(in[0], &(em_reduce_window_spec){.fn = em_sum,
                                                                    .inv = a->inverse ? em_subtract
                                                                                      : NULL,
                                                                    .window = a->window,
                                                                    .slide = a->slide,
                                                                    .name = "em_sum"});
}

Test(window, reduce_by_window_with_and_without_inverse)
{
    /* The naive form has no record for an empty window; the inverse one keeps its single key
     * once it has been in a window, at 0 when the window is empty. */
    const char *input[] = {"", "1, 2", "3", "", "", "4", ""};
    const char *naive[] = {"", "3", "6", "3", "", "4", "4", ""};
    const char *inverse[] = {"", "3", "6", "3", "0", "4", "4", "0"};
    GError *err = NULL;
    rbkw_args a = {2000, 1000, false, false};
    cr_assert(em_test_operation(input, 7, op_reduce_by_window, &a, naive, 8, false, &err), "%s",
              err ? err->message : "");
    a.inverse = true;
    cr_assert(em_test_operation(input, 7, op_reduce_by_window, &a, inverse, 8, false, &err), "%s",
              err ? err->message : "");
}

/* ---- (batch, window, slide): valid ones emit at the right times, invalid ones fail at
 *      definition with a critical naming the durations ---- */

typedef struct {
    em_duration window, slide;
    bool count;
} triple_args;

static em_dstream *op_triple(em_dstream *const *in, void *ud)
{
    const triple_args *a = ud;
    return a->count ? em_count_by_window(in[0], a->window, a->slide)
                    : em_window(in[0], a->window, a->slide);
}

Test(window, valid_triples_emit_every_slide_the_batches_of_the_window)
{
    const struct {
        em_duration batch, window, slide;
    } valid[] = {
        {1000, 1000, 1000}, {1000, 3000, 1000}, {1000, 3000, 2000}, {1000, 2000, 3000},
        {500, 1500, 1000},  {200, 600, 400},    {100, 500, 500},    {1000, 6000, 3000},
    };
    enum { N = 12 };
    em_test_batch batches[N];
    char text[N][8];
    for (int i = 0; i < N; i++) {
        g_snprintf(text[i], sizeof text[i], "%d", i);
        batches[i] = (em_test_batch){.text = text[i]};
    }
    em_test_input in = {batches, N};
    for (size_t v = 0; v < G_N_ELEMENTS(valid); v++) {
        for (int count = 0; count <= 1; count++) {
            triple_args a = {valid[v].window, valid[v].slide, count};
            em_test_opts opts = {.batch_interval = valid[v].batch};
            GError *err = NULL;
            g_autoptr(em_test_output) out = em_test_run(&in, 1, op_triple, &a, &opts, &err);
            cr_assert_not_null(out, "%s", err ? err->message : "");
            for (int j = 0; j < N; j++) {
                em_time t = (em_time)(j + 1) * valid[v].batch;
                char what[64];
                g_snprintf(what, sizeof what, "batch %lld window %lld slide %lld at %lld ms",
                           (long long)valid[v].batch, (long long)valid[v].window,
                           (long long)valid[v].slide, (long long)t);
                if (t % valid[v].slide != 0) {
                    cr_assert_null(out->batches[j], "%s: an RDD between slides", what);
                    continue;
                }
                /* Batch i is the record i, at (i + 1) * batch: those in (t - window, t]. */
                GString *want = g_string_new("[");
                int in_window = 0;
                for (int i = 0; i <= j; i++)
                    if ((em_time)(i + 1) * valid[v].batch > t - valid[v].window)
                        g_string_append_printf(want, "%s%d", in_window++ ? ", " : "", i);
                g_string_append_c(want, ']');
                if (count)
                    g_string_printf(want, "[%d]", in_window);
                cr_assert_not_null(out->batches[j], "%s: no RDD", what);
                g_autofree char *got = em_values_to_string(em_values_sort(out->batches[j]));
                cr_assert_str_eq(got, want->str, "%s (%s)", what, count ? "count" : "window");
                g_string_free(want, TRUE);
            }
        }
    }
}

static int destroyed;
static void count_destroy(void *p)
{
    (void)p;
    destroyed++;
}

/* Every windowed operation of ds with (window, slide), by index; NULL past the last. The _full
 * forms get user data whose destroy notify counts. */
static em_dstream *windowed_op(int op, em_dstream *ds, em_duration w, em_duration s,
                               const char **name)
{
    static const char *const names[] = {
        "window",
        "reduceByKeyAndWindow",
        "reduceByKeyAndWindow(inv)",
        "reduceByWindow",
        "reduceByWindow(inv)",
        "countByWindow",
        "groupByKeyAndWindow",
        "countByValueAndWindow",
    };
    *name = names[op];
    switch (op) {
    case 0: return em_window(ds, w, s);
    case 1:
        return em_reduce_by_key_and_window_full(ds,
                                                &(em_reduce_window_spec){.fn = em_sum,
                                                                         .window = w,
                                                                         .slide = s,
                                                                         .ud = &destroyed,
                                                                         .destroy = count_destroy,
                                                                         .name = "sum"});
    case 2:
        return em_reduce_by_key_and_window_full(ds,
                                                &(em_reduce_window_spec){.fn = em_sum,
                                                                         .inv = em_subtract,
                                                                         .window = w,
                                                                         .slide = s,
                                                                         .ud = &destroyed,
                                                                         .destroy = count_destroy,
                                                                         .name = "sum"});
    case 3:
        return em_reduce_by_window_full(ds, &(em_reduce_window_spec){.fn = em_sum,
                                                                     .window = w,
                                                                     .slide = s,
                                                                     .ud = &destroyed,
                                                                     .destroy = count_destroy,
                                                                     .name = "sum"});
    case 4:
        return em_reduce_by_window_full(ds, &(em_reduce_window_spec){.fn = em_sum,
                                                                     .inv = em_subtract,
                                                                     .window = w,
                                                                     .slide = s,
                                                                     .ud = &destroyed,
                                                                     .destroy = count_destroy,
                                                                     .name = "sum"});
    case 5: return em_count_by_window(ds, w, s);
    case 6: return em_group_by_key_and_window(ds, w, s);
    case 7: return em_count_by_value_and_window(ds, w, s);
    default: return NULL;
    }
}

enum { N_WINDOWED_OPS = 8 };

Test(window, invalid_triples_fail_at_definition_naming_the_durations, .init = capture_criticals)
{
    const struct {
        em_duration batch, window, slide;
        const char *says[2];
    } invalid[] = {
        {1000, 1500, 1000, {"window duration (1500 ms)", "parent stream (1000 ms)"}},
        {1000, 2000, 1500, {"slide duration (1500 ms)", "parent stream (1000 ms)"}},
        {1000, 0, 1000, {"window (0 ms)", "slide (1000 ms)"}},
        {1000, 0, 0, {"window (0 ms)", "must be > 0"}}, /* a spec's slide 0: the parent's */
        {1000, -1000, 1000, {"window (-1000 ms)", "must be > 0"}},
        {1000, 2000, -2000, {"slide (-2000 ms)", "must be > 0"}},
        {500, 1250, 500, {"window duration (1250 ms)", "parent stream (500 ms)"}},
        {200, 600, 300, {"slide duration (300 ms)", "parent stream (200 ms)"}},
    };
    for (size_t v = 0; v < G_N_ELEMENTS(invalid); v++) {
        for (int op = 0; op < N_WINDOWED_OPS; op++) {
            em_ssc *ssc = em_ssc_new("local[1]", "t", invalid[v].batch);
            em_rdd_queue *q = em_rdd_queue_new();
            em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
            const char *name;
            destroyed = 0;
            em_dstream *ds = windowed_op(op, in, invalid[v].window, invalid[v].slide, &name);
            g_autofree char *said = take_criticals();
            cr_assert_null(ds, "%s: batch %lld window %lld slide %lld accepted", name,
                           (long long)invalid[v].batch, (long long)invalid[v].window,
                           (long long)invalid[v].slide);
            for (int k = 0; k < 2; k++)
                cr_assert(strstr(said, invalid[v].says[k]), "%s: expected \"%s\" in: %s", name,
                          invalid[v].says[k], said);
            /* User data given with the operation is destroyed once, as the call failed. */
            cr_assert_eq(destroyed, op >= 1 && op <= 4, "%s: destroyed %d times", name, destroyed);
            em_ssc_free(ssc);
            em_rdd_queue_free(q);
        }
    }
}

/* ---- Windows of windows: durations are multiples of the windowed stream's slide ---- */

Test(window, windows_over_a_windowed_stream_need_multiples_of_its_slide, .init = capture_criticals)
{
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *pairs = em_window(in, EM_SECONDS(2), EM_SECONDS(2));
    cr_assert_eq(em_dstream_slide(pairs), EM_SECONDS(2));
    const struct {
        em_duration window, slide;
        const char *says;
    } invalid[] = {
        {EM_SECONDS(3), EM_SECONDS(2), "window duration (3000 ms)"},
        {EM_SECONDS(4), EM_SECONDS(1), "slide duration (1000 ms)"},
        {EM_SECONDS(1), EM_SECONDS(2), "window duration (1000 ms)"},
    };
    for (size_t v = 0; v < G_N_ELEMENTS(invalid); v++) {
        for (int op = 0; op < N_WINDOWED_OPS; op++) {
            const char *name;
            em_dstream *ds = windowed_op(op, pairs, invalid[v].window, invalid[v].slide, &name);
            g_autofree char *said = take_criticals();
            cr_assert_null(ds, "%s over a 2 s slide accepted", name);
            cr_assert(strstr(said, invalid[v].says) && strstr(said, "parent stream (2000 ms)"),
                      "%s: %s", name, said);
        }
    }
    for (int op = 0; op < N_WINDOWED_OPS; op++) {
        const char *name;
        em_dstream *ds = windowed_op(op, pairs, EM_SECONDS(4), EM_SECONDS(2), &name);
        cr_assert_not_null(ds, "%s: (4 s, 2 s) over a 2 s slide", name);
        cr_assert_eq(em_dstream_slide(ds), EM_SECONDS(2), "%s", name);
        g_autofree char *said = take_criticals();
        cr_assert_str_empty(said);
    }
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

static em_dstream *op_window_of_window(em_dstream *const *in, void *ud)
{
    const window_args *outer = ud;
    em_dstream *inner = em_window(in[0], outer[0].window, outer[0].slide);
    return em_window(inner, outer[1].window, outer[1].slide);
}

Test(window, window_of_tumbling_windows_covers_the_outer_length_once)
{
    const window_args shape[] = {{2000, 2000}, {4000, 2000}};
    const char *expected[] = {NULL, "0, 1", NULL, "0, 1, 2, 3", NULL, "2, 3, 4, 5", NULL, "4, 5"};
    GError *err = NULL;
    cr_assert(em_test_operation(digits, 6, op_window_of_window, (void *)shape, expected, 8, true,
                                &err),
              "%s", err ? err->message : "");
}

Test(window, window_of_sliding_windows_counts_middle_batches_twice)
{
    /* inner (t - 2, t] and (t - 3, t - 1]: batch t - 1 is in both. */
    const window_args shape[] = {{2000, 1000}, {2000, 1000}};
    const char *expected[] = {"0",          "0, 0, 1",    "0, 1, 1, 2", "1, 2, 2, 3",
                              "2, 3, 3, 4", "3, 4, 4, 5", "4, 5, 5",    "5"};
    GError *err = NULL;
    cr_assert(em_test_operation(digits, 6, op_window_of_window, (void *)shape, expected, 8, true,
                                &err),
              "%s", err ? err->message : "");
}

static em_dstream *op_inverse_over_tumbling(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *pairs = em_window(in[0], 2000, 2000);
    return em_reduce_by_key_and_window_inv(pairs, em_sum, em_subtract, 4000, 2000);
}

Test(window, inverse_reduce_over_a_windowed_stream)
{
    const char *input[] = {"(a,1)", "(a,2)", "(a,3)", "(a,4)", "(a,5)", "(a,6)", "", ""};
    const char *expected[] = {NULL, "(a,3)", NULL, "(a,10)", NULL, "(a,18)", NULL, "(a,11)"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 8, op_inverse_over_tumbling, NULL, expected, 8, true, &err),
              "%s", err ? err->message : "");
}
