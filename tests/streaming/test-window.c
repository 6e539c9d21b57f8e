/* Windows, as Spark's WindowOperationsSuite checks them: boundaries, slides, and definition-time
 * validation of durations. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

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
    const char *expected[] = {NULL, "0, 1", NULL, "0, 1, 2, 3", NULL, "2, 3, 4, 5", NULL, "4, 5",
                              NULL, ""};
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
        em_dstream *in = em_queue_stream(ssc, q, true, NULL);
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
    em_dstream *in = em_queue_stream(ssc, q, true, NULL);
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
    return em_reduce_by_key_and_window_full(in[0], em_sum, a->inverse ? em_subtract : NULL,
                                            a->window, a->slide, 0,
                                            a->filter ? em_filter_nonzero : NULL, NULL, NULL,
                                            "em_sum");
}

static const char *const big_input[] = {
    "(a,1)", "(a,1), (b,1)", "(a,1), (b,1), (c,1)", "(a,1), (b,1)", "(a,1)", "",
    "(a,1)", "(a,1), (b,1)", "(a,1), (b,1), (c,1)", "(a,1), (b,1)", "(a,1)", "",
};

static const char *const big_reduce_output[] = {
    "(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,1)",
    "(a,1)", "(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)",
    "(a,2), (b,1)", "(a,1)",
};

static void check_rbkw(rbkw_args args, const char *const *input, size_t n_input,
                       const char *const *expected, size_t n_expected)
{
    GError *err = NULL;
    cr_assert(em_test_operation(input, n_input, op_rbkw, &args, expected, n_expected, true,
                                &err),
              "%s", err ? err->message : "");
}

Test(window, reduce_by_key_and_window_big_test)
{
    check_rbkw((rbkw_args){2000, 1000, false, false}, big_input, 12, big_reduce_output, 12);
}

Test(window, reduce_by_key_and_window_with_inverse_keeps_keys_at_zero)
{
    const char *expected[] = {
        "(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)",
        "(a,2), (b,1), (c,0)", "(a,1), (b,0), (c,0)", "(a,1), (b,0), (c,0)",
        "(a,2), (b,1), (c,0)", "(a,2), (b,2), (c,1)", "(a,2), (b,2), (c,1)",
        "(a,2), (b,1), (c,0)", "(a,1), (b,0), (c,0)",
    };
    check_rbkw((rbkw_args){2000, 1000, true, false}, big_input, 12, expected, 12);
}

Test(window, reduce_by_key_and_window_with_inverse_and_filter_drops_zeros)
{
    check_rbkw((rbkw_args){2000, 1000, true, true}, big_input, 12, big_reduce_output, 12);
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
    const char *expected[] = {"(1,1)", "(1,2)", "(1,2), (2,1)", "(1,1), (2,1), (0,1)", "(0,1)",
                              ""};
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
    const char *expected[] = {"(a,CompactBuffer(1))", "(a,CompactBuffer(1, 2)), (b,CompactBuffer(1))",
                              "(a,CompactBuffer(2)), (b,CompactBuffer(1, 2))",
                              "(b,CompactBuffer(2))"};
    GError *err = NULL;
    cr_assert(em_test_operation(input, 3, op_group_by_key_and_window, NULL, expected, 4, true,
                                &err),
              "%s", err ? err->message : "");
}
