/* Spark's BasicOperationsSuite (streaming) on the testOperation harness: every DStream
 * operation with Spark's inputs and expected batches, slice and rdd cleanup over remembered
 * RDDs, persistence, and the definition-time errors of the DSL. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include "queue-fixture.h"

#include <ember/testing.h>

#include "criticals.h"

#include <inttypes.h>

/* ---- Helpers ---- */

static void check_op(const char *const *input, size_t n_input, em_test_op_fn op,
                     const char *const *expected, size_t n_expected, bool use_set)
{
    GError *err = NULL;
    bool ok = em_test_operation(input, n_input, op, NULL, expected, n_expected, use_set, &err);
    cr_assert(ok, "%s", err ? err->message : "");
}

static void check_op2(const char *const *input1, const char *const *input2, size_t n_input,
                      em_test_op_fn op, const char *const *expected, size_t n_expected,
                      bool use_set)
{
    GError *err = NULL;
    bool ok = em_test_operation2(input1, n_input, input2, n_input, op, NULL, expected, n_expected,
                                 use_set, &err);
    cr_assert(ok, "%s", err ? err->message : "");
}

static em_value to_string(em_value v, void *ud)
{
    (void)ud;
    return em_str_printf("%" G_GINT64_FORMAT, em_as_int(v));
}

static em_value pair_one(em_value v, void *ud)
{
    (void)ud;
    return em_pair(v, em_int(1));
}

static em_value pair_x(em_value v, void *ud)
{
    (void)ud;
    return em_pair(v, em_str("x"));
}

static em_value plus_4(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) + 4);
}

static em_value plus_8(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) + 8);
}

static em_value plus_10(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) + 10);
}

/* ---- One-to-one operations ---- */

static em_dstream *op_map_to_string(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map(in[0], to_string);
}

Test(basic_ops, map_turns_ints_into_strings)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    check_op(input, 3, op_map_to_string, expected, 3, false);
    /* The text matches for ints too: prove the records are strings now. */
    em_test_batch batches[] = {{.text = input[0]}};
    em_test_input in = {batches, 1};
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_map_to_string, NULL, NULL, NULL);
    cr_assert_not_null(out);
    cr_assert_eq(out->batches[0]->n, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert(em_is_str(out->batches[0]->items[i]));
}

static em_value self_and_double(em_value v, void *ud)
{
    (void)ud;
    em_value both[] = {v, em_int(em_as_int(v) * 2)};
    return em_list(both, 2, EM_LIST);
}

static em_dstream *op_flat_map(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_flat_map(in[0], self_and_double);
}

Test(basic_ops, flat_map_emits_each_item_of_the_returned_list)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"1, 2, 2, 4, 3, 6, 4, 8", "5, 10, 6, 12, 7, 14, 8, 16",
                              "9, 18, 10, 20, 11, 22, 12, 24"};
    check_op(input, 3, op_flat_map, expected, 3, false);
}

static bool is_even(em_value v, void *ud)
{
    (void)ud;
    return em_as_int(v) % 2 == 0;
}

static em_dstream *op_filter(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_filter(in[0], is_even);
}

Test(basic_ops, filter_keeps_matching_records)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"2, 4", "6, 8", "10, 12"};
    check_op(input, 3, op_filter, expected, 3, false);
}

static em_dstream *op_glom(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_glom(in[0]);
}

Test(basic_ops, glom_gives_one_array_per_input_partition)
{
    /* The harness makes 2 input partitions, as Spark's numInputPartitions. */
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"Array(1, 2), Array(3, 4)", "Array(5, 6), Array(7, 8)",
                              "Array(9, 10), Array(11, 12)"};
    check_op(input, 3, op_glom, expected, 3, false);
}

static void sum_partition(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index, (void)ud;
    int64_t sum = 0;
    em_value v;
    while (em_iter_next(in, &v))
        sum += em_as_int(v);
    em_emit(out, em_int(sum));
}

static em_dstream *op_map_partitions(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map_partitions(in[0], sum_partition);
}

Test(basic_ops, map_partitions_sees_each_partition_once)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"3, 7", "11, 15", "19, 23"};
    check_op(input, 3, op_map_partitions, expected, 3, true);
}

/* ---- Repartition: glom shows the partitions ---- */

static em_dstream *op_repartition(em_dstream *const *in, void *ud)
{
    return em_glom(em_repartition(in[0], GPOINTER_TO_INT(ud)));
}

static void check_repartition(int input_partitions, int partitions)
{
    em_value values[3][100];
    em_test_batch batches[3];
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 100; i++)
            values[b][i] = em_int(b * 100 + i + 1);
        batches[b] = (em_test_batch){.values = values[b], .n = 100};
    }
    em_test_input in = {batches, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out =
        em_test_run(&in, 1, op_repartition, GINT_TO_POINTER(partitions),
                    &(em_test_opts){.input_partitions = input_partitions}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    cr_assert_eq(out->n_batches, 3);
    for (int b = 0; b < 3; b++) {
        em_values *parts = out->batches[b];
        cr_assert_eq(parts->n, (size_t)partitions, "batch %d: %zu partitions", b, parts->n);
        bool seen[100] = {false};
        for (size_t p = 0; p < parts->n; p++) {
            em_value part = parts->items[p];
            /* Round-robin from every input partition: an even spread. */
            cr_assert_eq(em_list_len(part), (size_t)(100 / partitions));
            for (size_t i = 0; i < em_list_len(part); i++) {
                int64_t x = em_as_int(em_list_get(part, i)) - b * 100 - 1;
                cr_assert(x >= 0 && x < 100 && !seen[x], "batch %d: record %" PRId64, b,
                          x + b * 100 + 1);
                seen[x] = true;
            }
        }
    }
}

Test(basic_ops, repartition_to_more_partitions_keeps_every_record) { check_repartition(2, 5); }

Test(basic_ops, repartition_to_fewer_partitions_keeps_every_record) { check_repartition(5, 2); }

/* ---- Whole-batch reductions ---- */

static em_dstream *op_reduce(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce(in[0], em_sum);
}

Test(basic_ops, reduce_gives_one_record_per_batch)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12", ""};
    /* An empty batch reduces to nothing (Spark's reduceByKey on no records). */
    const char *expected[] = {"10", "26", "42", ""};
    check_op(input, 4, op_reduce, expected, 4, false);
}

static em_dstream *op_count(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_count(in[0]);
}

Test(basic_ops, count_counts_each_batch_and_zero_for_empty_ones)
{
    const char *input[] = {"", "1", "1, 2", "1, 2, 3", "1, 2, 3, 4"};
    const char *expected[] = {"0", "1", "2", "3", "4"};
    check_op(input, 5, op_count, expected, 5, false);
}

static em_dstream *op_count_by_value(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_count_by_value(in[0]);
}

Test(basic_ops, count_by_value_counts_each_distinct_record)
{
    const char *input[] = {"1", "1, 1, 1", "1, 2", "1, 1, 2, 2"};
    const char *expected[] = {"(1,1)", "(1,3)", "(1,1), (2,1)", "(2,2), (1,2)"};
    check_op(input, 4, op_count_by_value, expected, 4, true);
}

/* ---- Key-value operations (Spark's inputs: "a","a","b" / "","" / nothing) ---- */

static const char *const kv_input[] = {"a, a, b", "\"\", \"\"", ""};

static em_dstream *op_group_by_key(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_group_by_key(em_map(in[0], pair_one));
}

Test(basic_ops, group_by_key_collects_the_values_of_each_key)
{
    const char *expected[] = {"(a,CompactBuffer(1, 1)), (b,CompactBuffer(1))",
                              "(\"\",CompactBuffer(1, 1))", ""};
    check_op(kv_input, 3, op_group_by_key, expected, 3, true);
}

static em_dstream *op_reduce_by_key(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key(em_map(in[0], pair_one), em_sum);
}

Test(basic_ops, reduce_by_key_merges_the_values_of_each_key)
{
    const char *expected[] = {"(a,2), (b,1)", "(\"\",2)", ""};
    check_op(kv_input, 3, op_reduce_by_key, expected, 3, true);
}

static em_dstream *op_combine_by_key(em_dstream *const *in, void *ud)
{
    em_dstream *combined = em_combine_by_key_full(em_map(in[0], pair_one),
                                                  &(em_combine_spec){.create = em_identity,
                                                                     .merge_value = em_sum,
                                                                     .merge_combiners = em_sum,
                                                                     .name = "sum",
                                                                     .num_partitions = 3});
    return ud ? em_glom(combined) : combined;
}

Test(basic_ops, combine_by_key_merges_into_the_partitions_asked_for)
{
    const char *expected[] = {"(a,2), (b,1)", "(\"\",2)", ""};
    check_op(kv_input, 3, op_combine_by_key, expected, 3, true);
    /* Glommed: three partitions every batch, as new HashPartitioner(3). */
    em_test_batch batches[] = {{.text = kv_input[0]}, {.text = kv_input[1]}};
    em_test_input in = {batches, 2};
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_combine_by_key, "glom", NULL, NULL);
    cr_assert_not_null(out);
    cr_assert_eq(out->batches[0]->n, 3);
    cr_assert_eq(out->batches[1]->n, 3);
}

static em_dstream *op_map_values(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map_values(em_reduce_by_key(em_map(in[0], pair_one), em_sum), plus_10);
}

Test(basic_ops, map_values_changes_values_and_keeps_keys)
{
    const char *expected[] = {"(a,12), (b,11)", "(\"\",12)", ""};
    check_op(kv_input, 3, op_map_values, expected, 3, true);
}

static em_value value_and_plus_10(em_value v, void *ud)
{
    (void)ud;
    em_value both[] = {v, em_int(em_as_int(v) + 10)};
    return em_list(both, 2, EM_LIST);
}

static em_dstream *op_flat_map_values(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_flat_map_values(em_reduce_by_key(em_map(in[0], pair_one), em_sum),
                              value_and_plus_10);
}

Test(basic_ops, flat_map_values_pairs_each_item_with_its_key)
{
    const char *expected[] = {"(a,2), (a,12), (b,1), (b,11)", "(\"\",2), (\"\",12)", ""};
    check_op(kv_input, 3, op_flat_map_values, expected, 3, true);
}

/* ---- Union and transform ---- */

static const char *const hundreds[] = {"1, 2, 3, 4", "101, 102, 103, 104", "201, 202, 203, 204"};

static em_dstream *op_union(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_union(in[0], em_map(in[0], plus_4));
}

Test(basic_ops, union_puts_the_first_streams_partitions_first)
{
    const char *expected[] = {"1, 2, 3, 4, 5, 6, 7, 8", "101, 102, 103, 104, 105, 106, 107, 108",
                              "201, 202, 203, 204, 205, 206, 207, 208"};
    check_op(hundreds, 3, op_union, expected, 3, false);
}

static em_dstream *op_union_n(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *three[] = {in[0], em_map(in[0], plus_4), em_map(in[0], plus_8)};
    return em_ssc_union(em_dstream_ssc(in[0]), three, 3);
}

Test(basic_ops, union_of_three_streams_as_streaming_context_union)
{
    const char *expected[] = {"1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
                              "101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112",
                              "201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212"};
    check_op(hundreds, 3, op_union_n, expected, 3, false);
}

static em_value plus_k(em_value v, void *ud)
{
    return em_int(em_as_int(v) + (int64_t)(intptr_t)ud);
}

static em_dstream *op_union_of_twelve(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *twelve[12];
    for (int i = 0; i < 12; i++)
        twelve[i] = em_map_full(in[0], plus_k, (void *)(intptr_t)(4 * i), NULL, "plus_k");
    return em_ssc_union(em_dstream_ssc(in[0]), twelve, 12);
}

Test(basic_ops, ssc_union_takes_any_number_of_streams)
{
    /* Twelve copies of 1..4 shifted by 0, 4, ..., 44: 1..48 (em_union_n stopped at 8). */
    GString *want = g_string_new(NULL);
    for (int v = 1; v <= 48; v++)
        g_string_append_printf(want, v > 1 ? ", %d" : "%d", v);
    const char *input[] = {"1, 2, 3, 4"};
    const char *expected[] = {want->str};
    check_op(input, 1, op_union_of_twelve, expected, 1, false);
    g_string_free(want, TRUE);
}

/* Spark's ssc.transform(Seq(a, b, c), (rdds, time) => ...): the union of the first two
 * joined with the third, given in order. */
static em_rdd *union_then_join(em_rdd *const *rdds, size_t n, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    cr_assert_eq(n, 3);
    g_autoptr(em_rdd) both = em_rdd_union(rdds[0], rdds[1]);
    return em_rdd_join(both, rdds[2]);
}

static em_dstream *op_ssc_transform(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *three[] = {em_map(in[0], pair_one), em_map(in[1], pair_one),
                           em_map(in[1], pair_x)};
    return em_ssc_transform(em_dstream_ssc(in[0]), three, 3, union_then_join);
}

Test(basic_ops, ssc_transform_gets_the_rdds_of_several_streams)
{
    const char *a[] = {"a, b", "c"};
    const char *b[] = {"b", "c, d"};
    /* b is in both unioned streams: it joins twice. */
    const char *expected[] = {"(b,(1,x)), (b,(1,x))", "(c,(1,x)), (c,(1,x)), (d,(1,x))"};
    check_op2(a, b, 2, op_ssc_transform, expected, 2, true);
}

static em_rdd *refuse_batch_2(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)ud;
    if (t == 2000) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "no batches on Tuesdays (%lld ms)",
                    (long long)t);
        return NULL;
    }
    return em_rdd_ref(rdd);
}

static em_dstream *op_transform_refusing(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform(in[0], refuse_batch_2);
}

Test(basic_ops, transform_fails_the_batch_with_its_own_message)
{
    const char *input[] = {"1", "2"};
    const char *expected[] = {"1", "2"};
    GError *err = NULL;
    cr_assert_not(
        em_test_operation(input, 2, op_transform_refusing, NULL, expected, 2, false, &err));
    cr_assert(strstr(err->message, "batch 2000 ms") &&
                  strstr(err->message, "transform (refuse_batch_2): no batches on Tuesdays "
                                       "(2000 ms)"),
              "%s", err->message);
    g_error_free(err);
}

static em_rdd *rdd_to_string(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    return em_rdd_map(rdd, to_string);
}

static em_dstream *op_transform(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform(in[0], rdd_to_string);
}

Test(basic_ops, transform_applies_an_rdd_function_each_batch)
{
    const char *input[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    const char *expected[] = {"1, 2, 3, 4", "5, 6, 7, 8", "9, 10, 11, 12"};
    check_op(input, 3, op_transform, expected, 3, false);
}

static em_rdd *rdd_with_time(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    /* Tags each record with the batch time the function was given. */
    (void)ud, (void)err;
    g_autoptr(em_rdd) tagged = em_rdd_map(rdd, em_pair_one);
    em_value time = em_int(t);
    g_autoptr(em_rdd) times = em_parallelize(em_rdd_context(rdd), &time, 1, 1);
    return em_rdd_union(times, tagged);
}

static em_dstream *op_transform_time(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform(in[0], rdd_with_time);
}

Test(basic_ops, transform_gets_each_batch_time)
{
    const char *input[] = {"a", "b", ""};
    const char *expected[] = {"1000, (a,1)", "2000, (b,1)", "3000"};
    check_op(input, 3, op_transform_time, expected, 3, false);
}

static em_rdd *rdd_null(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    return NULL;
}

static em_dstream *op_transform_null(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform(in[0], rdd_null);
}

Test(basic_ops, transform_returning_no_rdd_fails_the_batch)
{
    const char *input[] = {"1, 2, 3, 4"};
    const char *expected[] = {""};
    GError *err = NULL;
    cr_assert_not(em_test_operation(input, 1, op_transform_null, NULL, expected, 1, false, &err));
    cr_assert(strstr(err->message, "batch 1000 ms") &&
                  strstr(err->message, "transform (rdd_null) returned no RDD"),
              "%s", err->message);
    g_error_free(err);
}

static em_rdd *rdd_join(em_rdd *a, em_rdd *b, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    return em_rdd_join(a, b);
}

static em_dstream *op_transform_with(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_transform_with(em_map(in[0], pair_one), em_map(in[1], pair_x), rdd_join);
}

/* Spark's two-stream inputs for transformWith and the joins. */
static const char *const in1[] = {"a, b", "a, \"\"", "\"\"", ""};
static const char *const in2[] = {"a, b", "b, \"\"", "", "\"\""};

Test(basic_ops, transform_with_combines_two_streams_batch_by_batch)
{
    const char *expected[] = {"(a,(1,x)), (b,(1,x))", "(\"\",(1,x))", "", ""};
    check_op2(in1, in2, 4, op_transform_with, expected, 4, true);
}

static em_dstream *op_cogroup(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_cogroup(em_map(in[0], pair_one), em_map(in[1], pair_x));
}

Test(basic_ops, cogroup_groups_both_sides_for_every_key)
{
    const char *c1[] = {"a, a, b", "a, \"\"", "\"\"", ""};
    const char *c2[] = {"a, a, b", "b, \"\"", "", ""};
    const char *expected[] =
        {"(a,(CompactBuffer(1, 1),CompactBuffer(x, x))), (b,(CompactBuffer(1),CompactBuffer(x)))",
         "(a,(CompactBuffer(1),CompactBuffer())), (b,(CompactBuffer(),CompactBuffer(x))), "
         "(\"\",(CompactBuffer(1),CompactBuffer(x)))",
         "(\"\",(CompactBuffer(1),CompactBuffer()))", ""};
    check_op2(c1, c2, 4, op_cogroup, expected, 4, true);
}

static em_dstream *op_join(em_dstream *const *in, void *ud)
{
    em_dstream *a = em_map(in[0], pair_one), *b = em_map(in[1], pair_x);
    switch (GPOINTER_TO_INT(ud)) {
    case 0: return em_join(a, b);
    case 1: return em_left_outer_join(a, b);
    case 2: return em_right_outer_join(a, b);
    default: return em_full_outer_join(a, b);
    }
}

static void check_join(int kind, const char *const *expected)
{
    GError *err = NULL;
    bool ok = em_test_operation2(in1, 4, in2, 4, op_join, GINT_TO_POINTER(kind), expected, 4, true,
                                 &err);
    cr_assert(ok, "%s", err ? err->message : "");
}

Test(basic_ops, join_pairs_keys_present_on_both_sides)
{
    const char *expected[] = {"(a,(1,x)), (b,(1,x))", "(\"\",(1,x))", "", ""};
    check_join(0, expected);
}

Test(basic_ops, left_outer_join_keeps_every_left_key)
{
    const char *expected[] = {"(a,(1,Some(x))), (b,(1,Some(x)))",
                              "(\"\",(1,Some(x))), (a,(1,None))", "(\"\",(1,None))", ""};
    check_join(1, expected);
}

Test(basic_ops, right_outer_join_keeps_every_right_key)
{
    const char *expected[] = {"(a,(Some(1),x)), (b,(Some(1),x))",
                              "(\"\",(Some(1),x)), (b,(None,x))", "", "(\"\",(None,x))"};
    check_join(2, expected);
}

Test(basic_ops, full_outer_join_keeps_every_key_of_either_side)
{
    const char *expected[] = {"(a,(Some(1),Some(x))), (b,(Some(1),Some(x)))",
                              "(\"\",(Some(1),Some(x))), (a,(Some(1),None)), (b,(None,Some(x)))",
                              "(\"\",(Some(1),None))", "(\"\",(None,Some(x)))"};
    check_join(3, expected);
}

/* ---- Output operations ---- */

static em_dstream *op_print(em_dstream *const *in, void *ud)
{
    em_print_to(em_map(in[0], pair_one), 10, ud);
    return in[0];
}

Test(basic_ops, print_shows_ten_records_and_dots_only_when_there_are_more)
{
    char *printed = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&printed, &len);
    em_test_batch batches[] = {{.text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"},
                               {.text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"}};
    em_test_input in = {batches, 2};
    GError *err = NULL;
    g_autoptr(em_test_output) run = em_test_run(&in, 1, op_print, out, NULL, &err);
    cr_assert_not_null(run, "%s", err ? err->message : "");
    fclose(out);
    const char *rule = "-------------------------------------------\n";
    GString *want = g_string_new(NULL);
    for (int b = 1; b <= 2; b++) {
        g_string_append_printf(want, "%sTime: %d000 ms\n%s", rule, b, rule);
        for (int i = 1; i <= 10; i++)
            g_string_append_printf(want, "(%d,1)\n", i);
        g_string_append(want, b == 2 ? "...\n\n" : "\n");
    }
    cr_assert_str_eq(printed, want->str);
    g_string_free(want, TRUE);
    free(printed);
}

/* ---- The harness itself fails on a difference ---- */

static em_dstream *op_identity(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map(in[0], em_identity);
}

Test(basic_ops, test_operation_names_the_first_differing_batch)
{
    const char *input[] = {"1, 2", "3"};
    const char *expected[] = {"1, 2", "4"};
    GError *err = NULL;
    cr_assert_not(em_test_operation(input, 2, op_identity, NULL, expected, 2, false, &err));
    cr_assert_str_eq(err->message, "batch 1 (2000 ms): expected [4], got [3]");
    g_clear_error(&err);
    const char *unordered[] = {"2, 1"};
    const char *identity_in[] = {"1, 2"};
    cr_assert_not(em_test_operation(identity_in, 1, op_identity, NULL, unordered, 1, false, &err));
    g_clear_error(&err);
    cr_assert(em_test_operation(identity_in, 1, op_identity, NULL, unordered, 1, true, &err), "%s",
              err ? err->message : "");
}

/* ---- Remembered RDDs: slice and cleanup, on a queue stream and the manual clock ---- */

/* The records of the sliced RDDs, sorted, as "[...]". */
static char *slice_text(em_dstream *ds, em_time from, em_time to)
{
    g_autoptr(GPtrArray) rdds = em_slice(ds, from, to);
    em_values *all = NULL;
    for (guint i = 0; i < rdds->len; i++) {
        em_values *vals = em_rdd_collect(rdds->pdata[i], NULL);
        cr_assert_not_null(vals);
        if (!all) {
            all = vals;
            continue;
        }
        for (size_t k = 0; k < vals->n; k++)
            em__values_append_copy(all, vals->items[k]);
        em_values_free(vals);
    }
    if (!all)
        return g_strdup("[]");
    char *text = em_values_to_string(em_values_sort(all));
    em_values_free(all);
    return text;
}

Test(basic_ops, slice_returns_remembered_rdds_between_aligned_times)
{
    const char *batches[] = {"1", "2", "3", "4"};
    queue_fixture f = queue_fixture_new(batches, 4);
    em_foreach_rdd(f.input, ignore_rdd);
    em_ssc_remember(f.ssc, EM_SECONDS(10));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 4);
    struct {
        em_time from, to;
        const char *want;
    } cases[] = {
        {0, 1000, "[1]"},
        {0, 2000, "[1, 2]"},
        {1000, 2000, "[1, 2]"},
        {2000, 4000, "[2, 3, 4]"},
        {1500, 3999, "[1, 2, 3]"}, /* both ends aligned down to the slide */
        {5000, 9000, "[]"},        /* not generated yet */
        {0, G_MAXINT64 / 2, "[1, 2, 3, 4]"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = slice_text(f.input, cases[i].from, cases[i].to);
        cr_assert_str_eq(got, cases[i].want, "slice(%" PRId64 ", %" PRId64 ")", cases[i].from,
                         cases[i].to);
    }
    queue_fixture_free(&f);
}

Test(basic_ops, slice_before_start_fails_as_not_initialized)
{
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    em_foreach_rdd(f.input, ignore_rdd);
    capture_criticals();
    cr_assert_null(em_slice(f.input, 0, 1000));
    assert_critical("em_slice: QueueInputDStream has not been initialized");
    queue_fixture_free(&f);
}

static em_value mod_10_one(em_value v, void *ud)
{
    (void)ud;
    return em_pair(em_int(em_as_int(v) % 10), em_int(1));
}

static GArray *generated_times(em_dstream *ds)
{
    GArray *times = g_array_new(FALSE, FALSE, sizeof(em_time));
    g_mutex_lock(&ds->lock);
    for (guint i = 0; i < ds->generated->len; i++)
        g_array_append_val(times, g_array_index(ds->generated, em_generated, i).time);
    g_mutex_unlock(&ds->lock);
    return times;
}

static void assert_times(em_dstream *ds, const em_time *want, size_t n)
{
    g_autoptr(GArray) times = generated_times(ds);
    cr_assert_eq(times->len, n, "%s remembers %u RDDs, expected %zu", ds->op, times->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(g_array_index(times, em_time, i), want[i], "%s: RDD %zu", ds->op, i);
}

/* Spark's cleanupTestInput: (0 until 10).map(x => Seq(x, x + 1)). */
static const char *const cleanup_input[] = {"0, 1", "1, 2", "2, 3", "3, 4", "4, 5",
                                            "5, 6", "6, 7", "7, 8", "8, 9", "9, 10"};

Test(basic_ops, rdd_cleanup_keeps_only_what_remember_asks_for)
{
    queue_fixture f = queue_fixture_new(cleanup_input, 10);
    em_dstream *mapped = em_map(f.input, mod_10_one);
    em_foreach_rdd(mapped, ignore_rdd);
    em_ssc_remember(f.ssc, EM_SECONDS(3));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 10);
    cr_assert_eq(em_ssc_clock_time(f.ssc), 10000);
    /* Remember 3 s at 10 s: 8, 9 and 10 s stay; 7 s and older are gone. */
    const em_time kept[] = {8000, 9000, 10000};
    assert_times(mapped, kept, 3);
    assert_times(f.input, kept, 3);
    g_autofree char *old = slice_text(mapped, 0, 7000);
    cr_assert_str_eq(old, "[]");
    g_autofree char *recent = slice_text(mapped, 0, 10000);
    cr_assert_str_eq(recent, "[(0,1), (7,1), (8,1), (8,1), (9,1), (9,1)]");
    queue_fixture_free(&f);
}

Test(basic_ops, rdd_cleanup_without_remember_keeps_only_the_last_batch)
{
    queue_fixture f = queue_fixture_new(cleanup_input, 10);
    em_dstream *mapped = em_map(f.input, mod_10_one);
    em_foreach_rdd(mapped, ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 4);
    const em_time kept[] = {4000};
    assert_times(mapped, kept, 1);
    assert_times(f.input, kept, 1);
    queue_fixture_free(&f);
}

Test(basic_ops, rdd_cleanup_of_map_and_window_remembers_what_each_window_needs)
{
    /* Spark's "rdd cleanup - map and window": remember 3 s; a window needs its parent's RDDs
     * for its own length longer. */
    queue_fixture f = queue_fixture_new(cleanup_input, 10);
    em_dstream *mapped = em_map(f.input, mod_10_one);
    em_dstream *window1 = em_window(mapped, EM_SECONDS(2), EM_SECONDS(1));
    em_dstream *window2 = em_window(window1, EM_SECONDS(4), EM_SECONDS(2));
    em_foreach_rdd(window2, ignore_rdd);
    em_ssc_remember(f.ssc, EM_SECONDS(3));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 10);
    cr_assert_eq(window2->remember, EM_SECONDS(3));
    cr_assert_eq(window1->remember, EM_SECONDS(3 + 4));
    cr_assert_eq(mapped->remember, EM_SECONDS(3 + 4 + 2));
    const em_time kept2[] = {8000, 10000};
    assert_times(window2, kept2, 2);
    const em_time kept1[] = {4000, 5000, 6000, 7000, 8000, 9000, 10000};
    assert_times(window1, kept1, 7);
    const em_time kept_mapped[] = {2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000};
    assert_times(mapped, kept_mapped, 9);
    queue_fixture_free(&f);
}

/* ---- Persistence: a cached stream's RDD is computed once for all its outputs ---- */

static em_value counting_identity(em_value v, void *ud)
{
    g_atomic_int_inc((gint *)ud);
    return v;
}

static bool count_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    return em_rdd_count(rdd, err) >= 0;
}

static em_dstream *op_counted(em_dstream *const *in, void *ud)
{
    struct {
        gint calls;
        bool cache;
    } *c = ud;
    em_dstream *mapped = em_map_full(in[0], counting_identity, &c->calls, NULL, "count");
    if (c->cache)
        em_cache(mapped);
    em_foreach_rdd(mapped, count_rdd); /* one output; the harness's collector another */
    return mapped;
}

static int calls_with(bool cache)
{
    struct {
        gint calls;
        bool cache;
    } c = {0, cache};
    em_test_batch batches[] = {{.text = "1, 2, 3"}, {.text = "4, 5"}};
    em_test_input in = {batches, 2};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_counted, &c, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, false);
    cr_assert_str_eq(text, "[1, 2, 3]\n[4, 5]\n");
    return g_atomic_int_get(&c.calls);
}

Test(basic_ops, cached_stream_computes_each_record_once_for_two_outputs)
{
    cr_assert_eq(calls_with(true), 5);
}

Test(basic_ops, uncached_stream_computes_each_record_for_every_output)
{
    cr_assert_eq(calls_with(false), 10);
}

static bool assert_cached(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    return em_rdd_is_cached(rdd);
}

Test(basic_ops, persist_marks_every_generated_rdd_cached_and_cleanup_frees_them)
{
    queue_fixture f = queue_fixture_new(cleanup_input, 10);
    em_dstream *mapped = em_persist(em_map(f.input, mod_10_one));
    cr_assert_eq(mapped->cached, true);
    em_foreach_rdd(mapped, assert_cached);
    em_foreach_rdd(mapped, count_rdd);
    em_ssc_remember(f.ssc, EM_SECONDS(2));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 5);
    GError *err = NULL;
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 0, &err), 0, "a batch failed: %s",
                 err ? err->message : "");
    const em_time kept[] = {4000, 5000};
    assert_times(mapped, kept, 2);
    /* The RDDs still remembered hold their cached partitions. */
    g_autoptr(GPtrArray) rdds = em_slice(mapped, 4000, 5000);
    cr_assert_eq(rdds->len, 2);
    for (guint i = 0; i < rdds->len; i++) {
        cr_assert(em_rdd_is_cached(rdds->pdata[i]));
        cr_assert_gt(em__rdd_retained_bytes(rdds->pdata[i]), 0);
    }
    queue_fixture_free(&f);
}

/* ---- Definition-time errors: a critical naming the problem, NULL, no crash ---- */

static int destroyed;
static void count_destroy(void *p)
{
    (void)p;
    destroyed++;
}

Test(basic_ops, null_stream_arguments_fail_at_definition)
{
    capture_criticals();
    cr_assert_null(em_map_full(NULL, em_identity, &destroyed, count_destroy, "id"));
    assert_critical("map: the stream is NULL");
    cr_assert_eq(destroyed, 1, "user data destroyed once on failure");
    cr_assert_null(em_combine_by_key_full(NULL, &(em_combine_spec){.create = em_identity,
                                                                   .merge_value = em_sum,
                                                                   .merge_combiners = em_sum,
                                                                   .ud = &destroyed,
                                                                   .destroy = count_destroy,
                                                                   .name = "c"}));
    assert_critical("combineByKey: the stream is NULL");
    cr_assert_eq(destroyed, 2);
    cr_assert_null(em_count(NULL));
    assert_critical("count: the stream is NULL");
    cr_assert_null(em_glom(NULL));
    assert_critical("the stream is NULL");
    cr_assert_null(em_cache(NULL));
    assert_critical("em_cache: the stream is NULL");

    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    cr_assert_null(em_union(f.input, NULL));
    assert_critical("union: the stream is NULL");
    cr_assert_null(em_join(NULL, f.input));
    assert_critical("join: the stream is NULL");
    cr_assert_null(
        em_transform_with_full(f.input, NULL, rdd_join, &destroyed, count_destroy, "j"));
    assert_critical("transformWith: the stream is NULL");
    cr_assert_eq(destroyed, 3);
    cr_assert_null(em_ssc_union(f.ssc, NULL, 0));
    assert_critical("em_ssc_union: give one stream or more (got 0)");
    em_foreach_rdd_full(NULL, ignore_rdd, &destroyed, count_destroy, "f");
    assert_critical("foreachRDD: the stream is NULL");
    cr_assert_eq(destroyed, 4);
    em_print(NULL);
    assert_critical("print: the stream is NULL");
    g_autoptr(GPtrArray) none = em_slice(NULL, 0, 1000);
    cr_assert_null(none);
    assert_critical("em_slice: the stream is NULL");
    cr_assert_eq(f.ssc->outputs->len, 0);
    queue_fixture_free(&f);
}

Test(basic_ops, streams_of_different_contexts_cannot_be_combined)
{
    capture_criticals();
    const char *batches[] = {"1"};
    queue_fixture a = queue_fixture_new(batches, 1);
    queue_fixture b = queue_fixture_new(batches, 1);
    cr_assert_null(em_union(a.input, b.input));
    assert_critical("union: the streams belong to different StreamingContexts");
    cr_assert_null(em_cogroup(a.input, b.input));
    assert_critical("cogroup: the streams belong to different StreamingContexts");
    queue_fixture_free(&a);
    queue_fixture_free(&b);
}

Test(basic_ops, streams_with_different_slides_cannot_be_joined)
{
    capture_criticals();
    const char *batches[] = {"(a,1)"};
    queue_fixture f = queue_fixture_new(batches, 1);
    em_dstream *slow = em_window(f.input, EM_SECONDS(2), EM_SECONDS(2));
    cr_assert_not_null(slow);
    cr_assert_null(em_union(f.input, slow));
    assert_critical("union: the streams have different slide durations (1000 ms and 2000 ms)");
    cr_assert_null(em_join(slow, f.input));
    assert_critical("join: the streams have different slide durations (2000 ms and 1000 ms)");
    cr_assert_null(em_transform_with(f.input, slow, rdd_join));
    assert_critical("transformWith: the streams have different slide durations");
    queue_fixture_free(&f);
}

Test(basic_ops, repartition_to_zero_partitions_fails_at_definition)
{
    capture_criticals();
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    cr_assert_null(em_repartition(f.input, 0));
    assert_critical("repartition: 0 partitions asked for");
    queue_fixture_free(&f);
}

Test(basic_ops, defining_streams_or_outputs_after_start_fails)
{
    capture_criticals();
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    em_foreach_rdd(f.input, ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    cr_assert_null(em_map_full(f.input, em_identity, &destroyed, count_destroy, "id"));
    assert_critical("map: the StreamingContext was started already");
    cr_assert_eq(destroyed, 1);
    em_foreach_rdd_full(f.input, ignore_rdd, &destroyed, count_destroy, "late");
    assert_critical("foreachRDD: the StreamingContext was started already");
    cr_assert_eq(destroyed, 2);
    cr_assert_eq(f.ssc->outputs->len, 1);
    cr_assert_null(em_queue_stream(f.ssc, f.queue, EM_QUEUE_ONE_AT_A_TIME, NULL));
    assert_critical("the StreamingContext was started already; define every input");
    cr_assert_null(em_union(f.input, f.input));
    assert_critical("union: the StreamingContext was started already");
    em_ssc_remember(f.ssc, EM_SECONDS(5));
    assert_critical("em_ssc_remember: call it before em_ssc_start");
    /* The running graph is intact. */
    run_batches(f.ssc, 1);
    queue_fixture_free(&f);
}

Test(basic_ops, queue_stream_all_at_once_takes_every_queued_rdd_in_one_batch)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    const char *texts[] = {"a", "b, c", "d"};
    for (size_t i = 0; i < 3; i++) {
        g_autoptr(em_rdd) rdd = em_parallelize_text(em_ssc_context(ssc), texts[i], 1, NULL);
        em_rdd_queue_push(q, rdd);
    }
    batch_log l = {0};
    batch_log_attach(&l, em_queue_stream(ssc, q, EM_QUEUE_ALL_AT_ONCE, NULL));
    cr_assert(em_ssc_start(ssc, NULL));
    run_batches(ssc, 2);
    const char *want[] = {"[a, b, c, d]", "[]"};
    batch_log_check(&l, want, 2);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    batch_log_clear(&l);
}
