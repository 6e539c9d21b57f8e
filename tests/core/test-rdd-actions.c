/* Actions: reduce, fold, first, take, takeOrdered, top, countByKey, countByValue, foreach,
 * foreachPartition, isEmpty (collect and count are used throughout). */
#include <criterion/criterion.h>

#include "core-private.h"

static em_context *sc;
static em_arena *arena; /* where results land */

static void setup(void)
{
    sc = em_context_new("local[4]", "test", NULL);
    arena = em_arena_new();
}

static void teardown(void)
{
    em_arena_free(arena);
    em_context_free(sc);
}

TestSuite(rdd_actions, .init = setup, .fini = teardown);

static em_rdd *parallelize(const char *text, int slices)
{
    GError *err = NULL;
    em_rdd *rdd = em_parallelize_text(sc, text, slices, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    return rdd;
}

/* 1..n in slices partitions. */
static em_rdd *range(int n, int slices)
{
    em_value *vals = g_new(em_value, n);
    for (int i = 0; i < n; i++)
        vals[i] = em_int(i + 1);
    em_rdd *rdd = em_parallelize(sc, vals, (size_t)n, slices);
    g_free(vals);
    return rdd;
}

static char *text_of(em_values *vals, GError *err)
{
    cr_assert_not_null(vals, "%s", err ? err->message : "");
    char *text = em_values_to_string(vals);
    em_values_free(vals);
    return text;
}

static em_value fail_on_three(em_value v, void *ud)
{
    (void)ud;
    if (em_is_int(v) && em_as_int(v) == 3)
        return em_fail("three is bad");
    return v;
}

/* ---- reduce ---- */

Test(rdd_actions, reduce_sums_one_or_many_partitions)
{
    for (int slices = 1; slices <= 7; slices += 6) {
        g_autoptr(em_rdd) nums = range(100, slices);
        em_value sum;
        GError *err = NULL;
        cr_assert(em_rdd_reduce(nums, em_sum, NULL, arena, &sum, &err));
        cr_assert_eq(em_as_int(sum), 5050);
    }
}

Test(rdd_actions, reduce_skips_empty_partitions)
{
    g_autoptr(em_rdd) nums = parallelize("4, 9", 5);
    em_value max;
    cr_assert(em_rdd_reduce(nums, em_max, NULL, arena, &max, NULL));
    cr_assert_eq(em_as_int(max), 9);
    g_autoptr(em_rdd) single = parallelize("x", 4);
    em_value only;
    cr_assert(em_rdd_reduce(single, em_sum, NULL, arena, &only, NULL));
    g_autofree char *text = em_value_to_string(only);
    cr_assert_str_eq(text, "x", "one record needs no call");
}

Test(rdd_actions, reduce_of_an_empty_rdd_is_an_error)
{
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    g_autoptr(em_rdd) empty_parts = parallelize("", 3);
    em_rdd *rdds[] = {none, empty_parts};
    for (int i = 0; i < 2; i++) {
        em_value out;
        GError *err = NULL;
        cr_assert_not(em_rdd_reduce(rdds[i], em_sum, NULL, arena, &out, &err));
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_INVALID));
        cr_assert_str_eq(err->message, "reduce of an empty RDD");
        g_error_free(err);
    }
}

Test(rdd_actions, reduce_keeps_accumulators_built_in_scratch_and_partition_order)
{
    /* em_concat builds each result in scratch, which sources reset after every record. */
    em_value vals[26];
    char letters[27] = "abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 26; i++)
        vals[i] = em_strn(letters + i, 1);
    for (int slices = 1; slices <= 6; slices += 5) {
        g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 26, slices);
        em_value out;
        cr_assert(em_rdd_reduce(strs, em_concat, NULL, arena, &out, NULL));
        cr_assert_eq(em_str_len(out), 26);
        cr_assert(memcmp(em_str_ptr(out), letters, 26) == 0);
    }
}

Test(rdd_actions, reduce_concatenates_binary_and_unicode_strings)
{
    em_value vals[] = {em_strn("a\0b", 3), em_str("\xc3\xa9"), em_strn("\0", 1)};
    g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 3, 2);
    em_value out;
    cr_assert(em_rdd_reduce(strs, em_concat, NULL, arena, &out, NULL));
    cr_assert(em_value_equal(out, em_strn("a\0b\xc3\xa9\0", 6)));
}

Test(rdd_actions, reduce_failure_in_a_partition_names_reduce_stage_and_partition)
{
    g_autoptr(em_rdd) mixed = parallelize("1, 2, 3, x", 2);
    em_value out;
    GError *err = NULL;
    cr_assert_not(em_rdd_reduce(mixed, em_sum, NULL, arena, &out, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 1: reduce failed: em_sum: "
                                   "cannot add non-numbers");
    g_error_free(err);
}

Test(rdd_actions, reduce_failure_while_merging_partitions_fails_the_job)
{
    g_autoptr(em_rdd) strs = parallelize("a, b", 2);
    em_value out;
    GError *err = NULL;
    cr_assert_not(em_rdd_reduce(strs, em_sum, NULL, arena, &out, &err));
    cr_assert_str_eq(err->message, "Job aborted: stage 1, partition 0: reduce failed: em_sum: "
                                   "cannot add non-numbers");
    g_error_free(err);
}

Test(rdd_actions, reduce_over_a_failing_map_names_the_map)
{
    g_autoptr(em_rdd) nums = range(4, 2);
    g_autoptr(em_rdd) failing = em_rdd_map(nums, fail_on_three);
    em_value out;
    GError *err = NULL;
    cr_assert_not(em_rdd_reduce(failing, em_sum, NULL, arena, &out, &err));
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 1: map (fail_on_three) "
                                   "failed: three is bad");
    g_error_free(err);
}

/* ---- fold ---- */

Test(rdd_actions, fold_uses_zero_per_partition_and_once_more_to_merge)
{
    em_value out;
    g_autoptr(em_rdd) three = parallelize("1, 2, 3", 3);
    cr_assert(em_rdd_fold(three, em_int(1), em_sum, NULL, arena, &out, NULL));
    cr_assert_eq(em_as_int(out), 10); /* 1 + (1+1) + (1+2) + (1+3) */
    g_autoptr(em_rdd) one = parallelize("1, 2, 3", 1);
    cr_assert(em_rdd_fold(one, em_int(1), em_sum, NULL, arena, &out, NULL));
    cr_assert_eq(em_as_int(out), 8); /* 1 + (1+1+2+3) */
    g_autoptr(em_rdd) empty_parts = parallelize("", 2);
    cr_assert(em_rdd_fold(empty_parts, em_int(1), em_sum, NULL, arena, &out, NULL));
    cr_assert_eq(em_as_int(out), 3); /* 1 + 1 + 1 */
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    cr_assert(em_rdd_fold(none, em_int(1), em_sum, NULL, arena, &out, NULL));
    cr_assert_eq(em_as_int(out), 1);
}

Test(rdd_actions, fold_copies_string_results_into_the_callers_arena)
{
    g_autoptr(em_rdd) strs = parallelize("b, c, d", 2);
    em_value out;
    cr_assert(em_rdd_fold(strs, em_str("-"), em_concat, NULL, arena, &out, NULL));
    g_autofree char *text = em_value_to_string(out);
    cr_assert_str_eq(text, "--b-cd");
}

/* ---- first, take, isEmpty ---- */

Test(rdd_actions, first_skips_empty_partitions_and_fails_on_an_empty_rdd)
{
    g_autoptr(em_rdd) late = parallelize("(k,v)", 6);
    em_value out;
    cr_assert(em_rdd_first(late, arena, &out, NULL));
    g_autofree char *text = em_value_to_string(out);
    cr_assert_str_eq(text, "(k,v)");
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    GError *err = NULL;
    cr_assert_not(em_rdd_first(none, arena, &out, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_INVALID));
    cr_assert_str_eq(err->message, "first of an empty RDD");
    g_error_free(err);
}

Test(rdd_actions, take_returns_the_first_records_in_partition_order)
{
    GError *err = NULL;
    g_autoptr(em_rdd) nums = range(10, 4);
    g_autofree char *three = text_of(em_rdd_take(nums, 3, &err), err);
    cr_assert_str_eq(three, "[1, 2, 3]");
    g_autofree char *seven = text_of(em_rdd_take(nums, 7, &err), err);
    cr_assert_str_eq(seven, "[1, 2, 3, 4, 5, 6, 7]");
    g_autofree char *all = text_of(em_rdd_take(nums, 100, &err), err);
    cr_assert_str_eq(all, "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]");
    g_autofree char *none = text_of(em_rdd_take(nums, 0, &err), err);
    cr_assert_str_eq(none, "[]");
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autofree char *from_empty = text_of(em_rdd_take(empty, 5, &err), err);
    cr_assert_str_eq(from_empty, "[]");
    g_autoptr(em_rdd) one = range(3, 1);
    g_autofree char *from_one = text_of(em_rdd_take(one, 2, &err), err);
    cr_assert_str_eq(from_one, "[1, 2]");
}

/* Sets bit `index` of the mask in ud for each partition computed. */
static void mark_partition(int index, em_iter *in, em_emitter *out, void *ud)
{
    g_atomic_int_or((guint *)ud, 1u << index);
    em_value v;
    while (em_iter_next(in, &v))
        em_emit(out, v);
}

/* 0..7, one record in each of 8 partitions, marking the partitions computed in mask. */
static em_rdd *marked(guint *mask)
{
    g_autoptr(em_rdd) src = parallelize("0, 1, 2, 3, 4, 5, 6, 7", 8);
    return em_rdd_map_partitions_full(src, mark_partition, mask, NULL, "mark_partition");
}

static bool is_ud(em_value v, void *ud) { return em_as_int(v) == *(const int *)ud; }

Test(rdd_actions, take_one_computes_only_the_first_partition_when_it_has_data)
{
    guint mask = 0;
    g_autoptr(em_rdd) rdd = marked(&mask);
    GError *err = NULL;
    g_autofree char *text = text_of(em_rdd_take(rdd, 1, &err), err);
    cr_assert_str_eq(text, "[0]");
    cr_assert_eq(mask, 0x1u);
}

Test(rdd_actions, take_scans_four_times_more_partitions_each_round_while_it_finds_nothing)
{
    guint mask = 0;
    g_autoptr(em_rdd) rdd = marked(&mask);
    /* Round one scans partition 0, round two partitions 1 to 4, where 2 has the record. */
    int two = 2, seven = 7;
    g_autoptr(em_rdd) in_two = em_rdd_filter_full(rdd, is_ud, &two, NULL, "is_two");
    GError *err = NULL;
    g_autofree char *text = text_of(em_rdd_take(in_two, 1, &err), err);
    cr_assert_str_eq(text, "[2]");
    cr_assert_eq(mask, 0x1fu);
    /* Round three is capped by the partitions left. */
    mask = 0;
    g_autoptr(em_rdd) in_seven = em_rdd_filter_full(rdd, is_ud, &seven, NULL, "is_seven");
    g_autofree char *last = text_of(em_rdd_take(in_seven, 1, &err), err);
    cr_assert_str_eq(last, "[7]");
    cr_assert_eq(mask, 0xffu);
}

Test(rdd_actions, take_estimates_the_partitions_left_from_what_it_found)
{
    guint mask = 0;
    g_autoptr(em_rdd) rdd = marked(&mask);
    /* One record found in one partition, two left: ceil(1.5 * 2 * 1 / 1) = 3 more. */
    GError *err = NULL;
    g_autofree char *text = text_of(em_rdd_take(rdd, 3, &err), err);
    cr_assert_str_eq(text, "[0, 1, 2]");
    cr_assert_eq(mask, 0xfu);
}

static em_value count_calls(em_value v, void *ud)
{
    g_atomic_int_inc((gint *)ud);
    return v;
}

Test(rdd_actions, take_stops_reading_a_partition_once_it_has_enough)
{
    gint calls = 0;
    g_autoptr(em_rdd) nums = range(1000, 1);
    g_autoptr(em_rdd) counted = em_rdd_map_full(nums, count_calls, &calls, NULL, "count_calls");
    GError *err = NULL;
    g_autofree char *text = text_of(em_rdd_take(counted, 2, &err), err);
    cr_assert_str_eq(text, "[1, 2]");
    cr_assert_eq(calls, 2);
    cr_assert_eq(em_rdd_is_empty(counted, NULL), 0);
    cr_assert_eq(calls, 3);
}

Test(rdd_actions, take_failure_names_the_map_stage_and_partition)
{
    g_autoptr(em_rdd) nums = range(4, 4);
    g_autoptr(em_rdd) failing = em_rdd_map(nums, fail_on_three);
    GError *err = NULL;
    g_autofree char *one = text_of(em_rdd_take(failing, 1, &err), err);
    cr_assert_str_eq(one, "[1]", "take(1) computes partition 0 only");
    cr_assert_null(em_rdd_take(failing, 4, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    /* take(1) was stage 0; take(4) scans partition 0 (stage 1), then 1 to 3 (stage 2). */
    cr_assert_str_eq(err->message, "Job aborted: stage 2, partition 2: map (fail_on_three) "
                                   "failed: three is bad");
    g_error_free(err);
}

Test(rdd_actions, is_empty_runs_no_job_without_partitions_and_reads_one_record_otherwise)
{
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    cr_assert_eq(em_rdd_is_empty(none, NULL), 1);
    g_autoptr(em_rdd) empty_parts = parallelize("", 3);
    cr_assert_eq(em_rdd_is_empty(empty_parts, NULL), 1);
    g_autoptr(em_rdd) late = parallelize("z", 3);
    cr_assert_eq(em_rdd_is_empty(late, NULL), 0);
    g_autoptr(em_rdd) nums = range(3, 1);
    g_autoptr(em_rdd) failing = em_rdd_map(nums, fail_on_three);
    cr_assert_eq(em_rdd_is_empty(failing, NULL), 0, "take(1) never reaches the 3");
    int three = 3;
    g_autoptr(em_rdd) only_three = em_rdd_filter_full(failing, is_ud, &three, NULL, "is_three");
    GError *err = NULL;
    cr_assert_eq(em_rdd_is_empty(only_three, &err), -1);
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    g_error_free(err);
}

/* ---- takeOrdered and top ---- */

Test(rdd_actions, take_ordered_and_top_keep_duplicates)
{
    GError *err = NULL;
    g_autoptr(em_rdd) nums = parallelize("5, 1, 3, 5, 2, 1, 4", 3);
    g_autofree char *smallest = text_of(em_rdd_take_ordered(nums, 3, &err), err);
    cr_assert_str_eq(smallest, "[1, 1, 2]");
    g_autofree char *largest = text_of(em_rdd_top(nums, 3, &err), err);
    cr_assert_str_eq(largest, "[5, 5, 4]");
    g_autofree char *all = text_of(em_rdd_take_ordered(nums, 10, &err), err);
    cr_assert_str_eq(all, "[1, 1, 2, 3, 4, 5, 5]");
    g_autofree char *all_top = text_of(em_rdd_top(nums, 10, &err), err);
    cr_assert_str_eq(all_top, "[5, 5, 4, 3, 2, 1, 1]");
    g_autofree char *none = text_of(em_rdd_top(nums, 0, &err), err);
    cr_assert_str_eq(none, "[]");
}

Test(rdd_actions, take_ordered_and_top_of_empty_rdds_and_partitions)
{
    GError *err = NULL;
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    g_autofree char *a = text_of(em_rdd_take_ordered(none, 2, &err), err);
    cr_assert_str_eq(a, "[]");
    g_autoptr(em_rdd) sparse = parallelize("b, a", 6);
    g_autofree char *b = text_of(em_rdd_top(sparse, 1, &err), err);
    cr_assert_str_eq(b, "[b]");
    g_autofree char *c = text_of(em_rdd_take_ordered(sparse, 1, &err), err);
    cr_assert_str_eq(c, "[a]");
}

Test(rdd_actions, take_ordered_and_top_select_from_large_partitions)
{
    /* 0..2999 in a scrambled order (1231 is coprime with 3000), strings to exercise copying. */
    em_value vals[3000];
    for (int i = 0; i < 3000; i++) {
        char buf[16];
        int n = g_snprintf(buf, sizeof buf, "s%04d", (i * 1231) % 3000);
        vals[i] = em_str_dup_in(arena, buf, (size_t)n);
    }
    for (int slices = 1; slices <= 3; slices += 2) {
        g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 3000, slices);
        GError *err = NULL;
        g_autofree char *low = text_of(em_rdd_take_ordered(strs, 4, &err), err);
        cr_assert_str_eq(low, "[s0000, s0001, s0002, s0003]");
        g_autofree char *high = text_of(em_rdd_top(strs, 4, &err), err);
        cr_assert_str_eq(high, "[s2999, s2998, s2997, s2996]");
        g_autoptr(em_values) many = em_rdd_take_ordered(strs, 2500, &err);
        cr_assert_eq(many->n, 2500);
        for (size_t i = 0; i < many->n; i++) {
            char want[16];
            g_snprintf(want, sizeof want, "s%04zu", i);
            cr_assert(em_value_equal(many->items[i], em_str(want)));
        }
    }
}

Test(rdd_actions, top_orders_unicode_and_binary_strings_bytewise)
{
    em_value vals[] = {em_strn("a\0c", 3), em_strn("a\0b", 3), em_str("\xc3\xa9"), em_str("z")};
    g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 4, 2);
    GError *err = NULL;
    g_autoptr(em_values) top = em_rdd_top(strs, 4, &err);
    cr_assert_eq(top->n, 4);
    cr_assert(em_value_equal(top->items[0], vals[2]));
    cr_assert(em_value_equal(top->items[1], vals[3]));
    cr_assert(em_value_equal(top->items[2], vals[0]));
    cr_assert(em_value_equal(top->items[3], vals[1]));
}

Test(rdd_actions, top_failure_names_the_map)
{
    g_autoptr(em_rdd) nums = range(5, 2);
    g_autoptr(em_rdd) failing = em_rdd_map(nums, fail_on_three);
    GError *err = NULL;
    cr_assert_null(em_rdd_top(failing, 2, &err));
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 1: map (fail_on_three) "
                                   "failed: three is bad");
    g_error_free(err);
}

/* ---- countByKey and countByValue ---- */

Test(rdd_actions, count_by_key_counts_records_per_key_sorted)
{
    GError *err = NULL;
    g_autoptr(em_rdd) pairs = parallelize("(b,1), (a,2), (b,3), (c,4), (b,5), (a,6)", 4);
    g_autofree char *text = text_of(em_rdd_count_by_key(pairs, &err), err);
    cr_assert_str_eq(text, "[(a,2), (b,3), (c,1)]");
    g_autoptr(em_rdd) one = parallelize("(k,1), (k,1)", 1);
    g_autofree char *single = text_of(em_rdd_count_by_key(one, &err), err);
    cr_assert_str_eq(single, "[(k,2)]");
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    g_autofree char *empty = text_of(em_rdd_count_by_key(none, &err), err);
    cr_assert_str_eq(empty, "[]");
}

Test(rdd_actions, count_by_key_of_a_non_pair_fails_naming_count_by_key)
{
    g_autoptr(em_rdd) mixed = parallelize("(a,1), 7", 1);
    GError *err = NULL;
    cr_assert_null(em_rdd_count_by_key(mixed, &err));
    cr_assert_str_eq(err->message,
                     "Job aborted: stage 0, partition 0: countByKey failed: record 7 "
                     "is not a (key, value) pair");
    g_error_free(err);
}

Test(rdd_actions, count_by_value_counts_skewed_unicode_and_binary_records)
{
    em_value vals[12];
    for (int i = 0; i < 9; i++)
        vals[i] = em_str("\xc3\xa9t\xc3\xa9");
    vals[9] = em_strn("x\0y", 3);
    vals[10] = em_strn("x\0y", 3);
    vals[11] = em_strn("x\0z", 3);
    g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 12, 5);
    GError *err = NULL;
    g_autoptr(em_values) counts = em_rdd_count_by_value(strs, &err);
    cr_assert_not_null(counts, "%s", err ? err->message : "");
    cr_assert_eq(counts->n, 3);
    cr_assert(em_value_equal(counts->items[0], em_pair(vals[9], em_int(2))));
    cr_assert(em_value_equal(counts->items[1], em_pair(vals[11], em_int(1))));
    cr_assert(em_value_equal(counts->items[2], em_pair(vals[0], em_int(9))));
    g_autoptr(em_rdd) nums = parallelize("3, 1, 3, (1,2), 3", 2);
    g_autofree char *text = text_of(em_rdd_count_by_value(nums, &err), err);
    cr_assert_str_eq(text, "[(1,1), (3,3), ((1,2),1)]");
}

Test(rdd_actions, count_by_value_fails_with_its_parent)
{
    g_autoptr(em_rdd) nums = range(4, 2);
    g_autoptr(em_rdd) failing = em_rdd_map(nums, fail_on_three);
    GError *err = NULL;
    cr_assert_null(em_rdd_count_by_value(failing, &err));
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 1: map (fail_on_three) "
                                   "failed: three is bad");
    g_error_free(err);
}

/* ---- foreach and foreachPartition ---- */

typedef struct {
    gint64 sum;
    gint calls;
} tally;

static void add_to_tally(em_value v, void *ud)
{
    tally *t = ud;
    g_atomic_int_inc(&t->calls);
    __atomic_fetch_add(&t->sum, em_as_int(v), __ATOMIC_SEQ_CST);
}

Test(rdd_actions, foreach_sees_every_record_exactly_once)
{
    for (int slices = 1; slices <= 7; slices += 6) {
        g_autoptr(em_rdd) nums = range(1000, slices);
        tally t = {0, 0};
        GError *err = NULL;
        cr_assert(em_rdd_foreach(nums, add_to_tally, &t, &err));
        cr_assert_eq(t.calls, 1000);
        cr_assert_eq(t.sum, 500500);
    }
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    tally t = {0, 0};
    cr_assert(em_rdd_foreach(none, add_to_tally, &t, NULL));
    cr_assert_eq(t.calls, 0);
}

static void fail_on_odd(em_value v, void *ud)
{
    (void)ud;
    if (em_as_int(v) % 2)
        em_fail("odd record %" G_GINT64_FORMAT, em_as_int(v));
}

Test(rdd_actions, foreach_failure_names_foreach_stage_and_partition)
{
    g_autoptr(em_rdd) nums = parallelize("2, 4, 6, 7", 2);
    GError *err = NULL;
    cr_assert_not(em_rdd_foreach(nums, fail_on_odd, NULL, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    cr_assert_str_eq(err->message,
                     "Job aborted: stage 0, partition 1: foreach failed: odd record 7");
    g_error_free(err);
}

typedef struct {
    gint64 sums[8];
    gint calls;
} partition_tally;

static void sum_partition(int index, em_iter *in, void *ud)
{
    partition_tally *t = ud;
    g_atomic_int_inc(&t->calls);
    em_value v;
    gint64 sum = 0;
    while (em_iter_next(in, &v))
        sum += em_as_int(v);
    t->sums[index] = sum; /* each index is written by one task only */
}

Test(rdd_actions, foreach_partition_runs_once_per_partition_with_its_index)
{
    g_autoptr(em_rdd) nums = range(10, 4); /* [1,2] [3,4,5] [6,7] [8,9,10] */
    partition_tally t = {{0}, 0};
    GError *err = NULL;
    cr_assert(em_rdd_foreach_partition(nums, sum_partition, &t, &err));
    cr_assert_eq(t.calls, 4);
    cr_assert_eq(t.sums[0], 3);
    cr_assert_eq(t.sums[1], 12);
    cr_assert_eq(t.sums[2], 13);
    cr_assert_eq(t.sums[3], 27);
    g_autoptr(em_rdd) sparse = parallelize("5", 3);
    partition_tally s = {{0}, 0};
    cr_assert(em_rdd_foreach_partition(sparse, sum_partition, &s, &err));
    cr_assert_eq(s.calls, 3, "empty partitions are visited too");
    cr_assert_eq(s.sums[2], 5);
}

static void fail_partition_two(int index, em_iter *in, void *ud)
{
    (void)in, (void)ud;
    if (index == 2)
        em_fail("partition two refused");
}

Test(rdd_actions, foreach_partition_failure_names_foreach_partition)
{
    g_autoptr(em_rdd) nums = range(6, 3);
    GError *err = NULL;
    cr_assert_not(em_rdd_foreach_partition(nums, fail_partition_two, NULL, &err));
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 2: foreachPartition failed: "
                                   "partition two refused");
    g_error_free(err);
}

/* ---- actions inside a task (Spark's SPARK-5063) ---- */

typedef struct {
    em_rdd *other; /* the RDD the user function wrongly runs an action on */
    GMutex lock;
    int calls;     /* user function calls */
    int refused;   /* inner actions that failed at once */
    char *message; /* the first inner error */
} nested_ctx;

static void note_refusal(nested_ctx *c, bool failed, GError *err)
{
    g_mutex_lock(&c->lock);
    c->calls++;
    if (failed) {
        c->refused++;
        if (!c->message)
            c->message = g_strdup(err->message);
    }
    g_mutex_unlock(&c->lock);
    g_clear_error(&err);
}

static void count_inside_foreach(em_value v, void *ud)
{
    (void)v;
    GError *err = NULL;
    int64_t n = em_rdd_count(((nested_ctx *)ud)->other, &err);
    note_refusal(ud, n == -1 && err != NULL, err);
}

static em_value collect_inside_map(em_value v, void *ud)
{
    GError *err = NULL;
    em_values *all = em_rdd_collect(((nested_ctx *)ud)->other, &err);
    note_refusal(ud, all == NULL && err != NULL, err);
    em_values_free(all);
    return v;
}

/* On local[1] the one pool thread would wait for itself: before the fix the job never ended. */
Test(rdd_actions, count_inside_foreach_fails_fast_naming_count_and_foreach)
{
    em_context *one = em_context_new("local[1]", "nested", NULL);
    em_rdd *rdd = em_parallelize(one, (em_value[]){em_int(1), em_int(2)}, 2, 2);
    em_rdd *other = em_parallelize(one, (em_value[]){em_int(7)}, 1, 1);
    nested_ctx c = {.other = other};
    g_mutex_init(&c.lock);
    GError *err = NULL;
    cr_assert_not(em_rdd_foreach(rdd, count_inside_foreach, &c, &err));
    /* The first call fails its task; the job stops before the second partition's task runs. */
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.refused, 1);
    cr_assert_str_eq(c.message,
                     "count called inside a user function of foreach (stage 0, partition 0): "
                     "actions run on the driver only, never inside another job's task (it "
                     "would wait for a pool thread it holds); compute the value before the "
                     "job, or use a join");
    cr_assert_eq(err->code, EM_ERROR_TASK);
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 0: foreach failed: count "
                                   "called inside a task");
    g_error_free(err);
    /* The context still works afterwards: no pool thread was left waiting. */
    cr_assert_eq(em_rdd_count(rdd, NULL), 2);
    g_free(c.message);
    g_mutex_clear(&c.lock);
    em_rdd_unref(other);
    em_rdd_unref(rdd);
    em_context_free(one);
}

Test(rdd_actions, collect_inside_map_fails_the_job_naming_collect_and_the_map)
{
    g_autoptr(em_rdd) rdd = range(4, 2);
    g_autoptr(em_rdd) other = range(3, 1);
    nested_ctx c = {.other = other};
    g_mutex_init(&c.lock);
    g_autoptr(em_rdd) mapped = em_rdd_map_full(rdd, collect_inside_map, &c, NULL, "peek");
    GError *err = NULL;
    em_values *out = em_rdd_collect(mapped, &err);
    cr_assert_null(out);
    cr_assert_eq(c.refused, c.calls);
    cr_assert_geq(c.calls, 1);
    cr_assert(g_str_has_prefix(c.message, "collect called inside a user function of map (peek) "
                                          "(stage "),
              "%s", c.message);
    cr_assert(g_str_has_suffix(err->message, ": map (peek) failed: collect called inside a task"),
              "%s", err->message);
    g_error_free(err);
    g_free(c.message);
    g_mutex_clear(&c.lock);
}
