/* Narrow operators on whole partitions and several parents: mapPartitionsWithIndex, glom, union,
 * sample, zipWithIndex, coalesce. */
#include <criterion/criterion.h>

#include "core-private.h"

static em_context *sc;

static void setup(void) { sc = em_context_new("local[4]", "test", NULL); }
static void teardown(void) { em_context_free(sc); }

TestSuite(rdd_narrow, .init = setup, .fini = teardown);

static em_rdd *parallelize(const char *text, int slices)
{
    GError *err = NULL;
    em_rdd *rdd = em_parallelize_text(sc, text, slices, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    return rdd;
}

/* The collected records as text, sorted first when sort is set. */
static char *collect_text(em_rdd *rdd, bool sort)
{
    GError *err = NULL;
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    return em_values_to_string(sort ? em_values_sort(out) : out);
}

/* Each partition as an Array(...), in order. */
static char *glom_text(em_rdd *rdd)
{
    g_autoptr(em_rdd) parts = em_rdd_glom(rdd);
    return collect_text(parts, false);
}

/* The error message of a collect that must fail. */
static char *collect_error(em_rdd *rdd)
{
    GError *err = NULL;
    em_values *out = em_rdd_collect(rdd, &err);
    cr_assert_null(out);
    cr_assert_not_null(err);
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    char *msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

/* ---- mapPartitionsWithIndex ---- */

static void tag_with_index(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)ud;
    em_value v;
    while (em_iter_next(in, &v))
        em_emit(out, em_pair(em_int(index), v));
}

static void count_partition(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)ud;
    int64_t n = 0;
    em_value v;
    while (em_iter_next(in, &v))
        n++;
    em_emit(out, em_pair(em_int(index), em_int(n)));
}

Test(rdd_narrow, map_partitions_passes_each_partition_its_index)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2, 3, 4, 5", 3);
    g_autoptr(em_rdd) tagged = em_rdd_map_partitions(nums, tag_with_index);
    g_autofree char *text = collect_text(tagged, false);
    cr_assert_str_eq(text, "[(0,1), (1,2), (1,3), (2,4), (2,5)]");
    cr_assert_eq(em_rdd_num_partitions(tagged), 3);
}

Test(rdd_narrow, map_partitions_runs_on_empty_partitions_too)
{
    /* Two records in four slices: partitions 1 and 3 hold one each. */
    g_autoptr(em_rdd) nums = parallelize("a, b", 4);
    g_autoptr(em_rdd) counts = em_rdd_map_partitions(nums, count_partition);
    g_autofree char *text = collect_text(counts, false);
    cr_assert_str_eq(text, "[(0,0), (1,1), (2,0), (3,1)]");
}

Test(rdd_narrow, map_partitions_over_an_empty_rdd_gives_nothing)
{
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autoptr(em_rdd) counts = em_rdd_map_partitions(empty, count_partition);
    g_autofree char *text = collect_text(counts, false);
    cr_assert_str_eq(text, "[]");
}

/* Emits (previous, current) with both strings built in scratch: the previous one must survive
 * the emit of the pair before it. */
static void pair_with_previous(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index, (void)ud;
    em_value v, prev = em_null();
    while (em_iter_next(in, &v)) {
        em_value cur = em_str_printf("<%.*s>", (int)em_str_len(v), em_str_ptr(v));
        if (!em_is_null(prev))
            em_emit(out, em_pair(prev, cur));
        prev = cur;
    }
}

Test(rdd_narrow, map_partitions_scratch_values_survive_emits_through_a_map_downstream)
{
    g_autoptr(em_rdd) words = parallelize("a, b, c, d", 1);
    g_autoptr(em_rdd) pairs = em_rdd_map_partitions(words, pair_with_previous);
    g_autoptr(em_rdd) swapped = em_rdd_map(pairs, em_swap);
    g_autofree char *text = collect_text(swapped, false);
    cr_assert_str_eq(text, "[(<b>,<a>), (<c>,<b>), (<d>,<c>)]");
}

static void fail_on_partition_one(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)ud;
    em_value v;
    while (em_iter_next(in, &v)) {
        if (index == 1) {
            em_fail("bad record %.*s", (int)em_str_len(v), em_str_ptr(v));
            return;
        }
        em_emit(out, v);
    }
}

Test(rdd_narrow, map_partitions_failure_names_operator_function_stage_and_partition)
{
    g_autoptr(em_rdd) words = parallelize("\"a\", \"b\", \"c\"", 3);
    g_autoptr(em_rdd) failing = em_rdd_map_partitions(words, fail_on_partition_one);
    g_autofree char *msg = collect_error(failing);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 1: mapPartitions "
                          "(fail_on_partition_one) failed: bad record b");
}

static em_value fail_on_b(em_value v, void *ud)
{
    (void)ud;
    if (em_str_len(v) == 1 && em_str_ptr(v)[0] == 'b')
        return em_fail("no b please");
    return v;
}

/* After emitting into a map that calls a user function, em_fail still names mapPartitions. */
static void emit_then_fail(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index, (void)ud;
    em_value v;
    while (em_iter_next(in, &v))
        em_emit(out, v);
    em_fail("after the emits");
}

Test(rdd_narrow, map_partitions_failure_after_emits_still_names_map_partitions)
{
    g_autoptr(em_rdd) words = parallelize("\"a\"", 1);
    g_autoptr(em_rdd) emitted = em_rdd_map_partitions(words, emit_then_fail);
    g_autoptr(em_rdd) mapped = em_rdd_map(emitted, fail_on_b);
    g_autofree char *msg = collect_error(mapped);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 0: mapPartitions (emit_then_fail) "
                          "failed: after the emits");
}

static void emit_counting(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index;
    em_value v;
    while (em_iter_next(in, &v)) {
        g_atomic_int_inc((gint *)ud);
        em_emit(out, v);
    }
}

Test(rdd_narrow, map_partitions_stops_iterating_when_downstream_fails)
{
    gint seen = 0;
    g_autoptr(em_rdd) words = parallelize("\"a\", \"b\", \"c\"", 1);
    g_autoptr(em_rdd) emitted =
        em_rdd_map_partitions_full(words, emit_counting, &seen, NULL, "emit_counting");
    g_autoptr(em_rdd) mapped = em_rdd_map(emitted, fail_on_b);
    g_autofree char *msg = collect_error(mapped);
    cr_assert_str_eq(msg,
                     "Job aborted: stage 0, partition 0: map (fail_on_b) failed: no b please");
    cr_assert_eq(seen, 2, "the iterator went on after the failure");
}

static void count_destroy(gpointer p) { g_atomic_int_inc((gint *)p); }

static void pass_through(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index;
    g_atomic_int_inc((gint *)ud + 1);
    em_value v;
    while (em_iter_next(in, &v))
        em_emit(out, v);
}

Test(rdd_narrow, map_partitions_destroys_user_data_once_when_the_rdd_is_freed)
{
    gint calls[2] = {0, 0}; /* destroy calls, function calls */
    em_rdd *nums = parallelize("1, 2, 3", 2);
    em_rdd *passed = em_rdd_map_partitions_full(nums, pass_through, calls, count_destroy, "pass");
    em_rdd *child = em_rdd_glom(passed);
    em_rdd_unref(nums);
    em_rdd_unref(passed);
    g_autofree char *text = collect_text(child, false);
    cr_assert_str_eq(text, "[Array(1), Array(2, 3)]");
    cr_assert_eq(calls[1], 2);
    cr_assert_eq(calls[0], 0, "destroyed while the child still holds the RDD");
    em_rdd_unref(child);
    cr_assert_eq(calls[0], 1);
}

/* ---- glom ---- */

Test(rdd_narrow, glom_gives_one_array_per_partition)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2, 3, 4, 5", 3);
    g_autofree char *text = glom_text(nums);
    cr_assert_str_eq(text, "[Array(1), Array(2, 3), Array(4, 5)]");
}

Test(rdd_narrow, glom_of_an_empty_partition_is_an_empty_array)
{
    g_autoptr(em_rdd) nums = parallelize("x, y", 3);
    g_autofree char *text = glom_text(nums);
    cr_assert_str_eq(text, "[Array(), Array(x), Array(y)]");
    g_autoptr(em_rdd) one = parallelize("x, (y,1)", 1);
    g_autofree char *single = glom_text(one);
    cr_assert_str_eq(single, "[Array(x, (y,1))]");
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autofree char *none = glom_text(empty);
    cr_assert_str_eq(none, "[]");
}

Test(rdd_narrow, glom_keeps_binary_and_unicode_strings)
{
    em_value vals[] = {em_strn("a\0b", 3), em_str("h\xc3\xa9llo"), em_str("\xe2\x82\xac")};
    g_autoptr(em_rdd) strs = em_parallelize(sc, vals, 3, 2);
    g_autoptr(em_rdd) glommed = em_rdd_glom(strs);
    g_autoptr(em_values) out = em_rdd_collect(glommed, NULL);
    cr_assert_eq(out->n, 2);
    em_value first = out->items[0];
    cr_assert_eq(em_list_len(first), 1);
    cr_assert(em_value_equal(em_list_get(first, 0), vals[0]));
    cr_assert_eq(em_list_len(out->items[1]), 2);
    cr_assert(em_value_equal(em_list_get(out->items[1], 0), vals[1]));
    cr_assert(em_value_equal(em_list_get(out->items[1], 1), vals[2]));
}

/* ---- union ---- */

Test(rdd_narrow, union_keeps_the_partitions_of_each_parent_in_order)
{
    g_autoptr(em_rdd) a = parallelize("1, 2", 2);
    g_autoptr(em_rdd) b = parallelize("3, 4, 5, 1", 3);
    g_autoptr(em_rdd) both = em_rdd_union(a, b);
    cr_assert_eq(em_rdd_num_partitions(both), 5);
    g_autofree char *text = glom_text(both);
    cr_assert_str_eq(text, "[Array(1), Array(2), Array(3), Array(4), Array(5, 1)]");
    cr_assert_eq(em_rdd_count(both, NULL), 6);
}

Test(rdd_narrow, union_n_joins_many_rdds_including_empty_ones)
{
    g_autoptr(em_rdd) a = parallelize("a", 1);
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autoptr(em_rdd) b = parallelize("b, c", 3);
    em_rdd *rdds[] = {a, empty, b, a};
    g_autoptr(em_rdd) all = em_rdd_union_n(rdds, 4);
    cr_assert_eq(em_rdd_num_partitions(all), 5);
    g_autofree char *text = glom_text(all);
    cr_assert_str_eq(text, "[Array(a), Array(), Array(b), Array(c), Array(a)]");
}

Test(rdd_narrow, union_of_one_rdd_is_the_same_records)
{
    g_autoptr(em_rdd) a = parallelize("(k,1), (k,2)", 2);
    g_autoptr(em_rdd) same = em_rdd_union_n(&a, 1);
    g_autofree char *text = collect_text(same, false);
    cr_assert_str_eq(text, "[(k,1), (k,2)]");
}

Test(rdd_narrow, union_feeds_a_shuffle)
{
    g_autoptr(em_rdd) a = parallelize("(a,1), (b,1)", 2);
    g_autoptr(em_rdd) b = parallelize("(a,10)", 1);
    g_autoptr(em_rdd) both = em_rdd_union(a, b);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key(both, em_sum);
    g_autofree char *text = collect_text(sums, true);
    cr_assert_str_eq(text, "[(a,11), (b,1)]");
}

Test(rdd_narrow, union_of_rdds_from_two_contexts_is_refused)
{
    em_context *other = em_context_new("local", "other", NULL);
    em_rdd *a = parallelize("1", 1);
    em_rdd *b = em_parallelize_text(other, "2", 1, NULL);
    cr_assert_null(em_rdd_union(a, b));
    em_rdd_unref(a);
    em_rdd_unref(b);
    em_context_free(other);
}

/* ---- sample ---- */

static char *sample_in(const char *master, double fraction, uint64_t seed, em_sample_flags flags)
{
    em_context *ctx = em_context_new(master, "sample", NULL);
    em_value vals[1000];
    for (int i = 0; i < 1000; i++)
        vals[i] = em_int(i);
    em_rdd *nums = em_parallelize(ctx, vals, 1000, 8);
    em_rdd *sampled = em_rdd_sample(nums, fraction, seed, flags);
    em_values *out = em_rdd_collect(sampled, NULL);
    char *text = em_values_to_string(out);
    em_values_free(out);
    em_rdd_unref(sampled);
    em_rdd_unref(nums);
    em_context_free(ctx);
    return text;
}

static size_t count_items(const char *text)
{
    size_t n = strcmp(text, "[]") != 0;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    return n;
}

Test(rdd_narrow, sample_is_the_same_for_a_seed_whatever_the_thread_count)
{
    g_autofree char *one = sample_in("local[1]", 0.1, 42, EM_SAMPLE_DEFAULT);
    g_autofree char *four = sample_in("local[4]", 0.1, 42, EM_SAMPLE_DEFAULT);
    cr_assert_str_eq(one, four);
    g_autofree char *again = sample_in("local[4]", 0.1, 42, EM_SAMPLE_DEFAULT);
    cr_assert_str_eq(four, again);
    g_autofree char *other = sample_in("local[4]", 0.1, 43, EM_SAMPLE_DEFAULT);
    cr_assert_str_neq(four, other);
    g_autofree char *rep1 = sample_in("local[1]", 0.5, 7, EM_SAMPLE_WITH_REPLACEMENT);
    g_autofree char *rep4 = sample_in("local[4]", 0.5, 7, EM_SAMPLE_WITH_REPLACEMENT);
    cr_assert_str_eq(rep1, rep4);
}

Test(rdd_narrow, sample_without_replacement_keeps_about_the_fraction)
{
    g_autofree char *text = sample_in("local[4]", 0.3, 42, EM_SAMPLE_DEFAULT);
    size_t n = count_items(text);
    cr_assert(n >= 240 && n <= 360, "kept %zu of 1000 at 0.3", n);
    cr_assert_eq(n, 305);
    g_autofree char *none = sample_in("local[2]", 0.0, 1, EM_SAMPLE_DEFAULT);
    cr_assert_str_eq(none, "[]");
    g_autofree char *all = sample_in("local[2]", 1.0, 1, EM_SAMPLE_DEFAULT);
    cr_assert_eq(count_items(all), 1000);
}

Test(rdd_narrow, sample_with_replacement_repeats_records_poisson_times)
{
    g_autofree char *text = sample_in("local[4]", 2.0, 42, EM_SAMPLE_WITH_REPLACEMENT);
    size_t n = count_items(text);
    cr_assert(n >= 1800 && n <= 2200, "drew %zu from 1000 at 2.0", n);
    cr_assert_eq(n, 1953);
}

Test(rdd_narrow, sample_with_a_bad_fraction_is_refused)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2", 1);
    cr_assert_null(em_rdd_sample(nums, 1.5, 1, EM_SAMPLE_DEFAULT));
    cr_assert_null(em_rdd_sample(nums, -0.1, 1, EM_SAMPLE_WITH_REPLACEMENT));
    cr_assert_null(em_rdd_sample(nums, 0.5, 1, (em_sample_flags)4));
}

/* ---- cartesian ---- */

Test(rdd_narrow, cartesian_pairs_every_record_partition_by_partition_in_spark_order)
{
    g_autoptr(em_rdd) xs = parallelize("1, 2, 3", 2); /* [1] [2, 3] */
    g_autoptr(em_rdd) ys = parallelize("a, b, c", 3); /* [a] [b] [c] */
    g_autoptr(em_rdd) product = em_rdd_cartesian(xs, ys);
    cr_assert_eq(em_rdd_num_partitions(product), 6);
    g_autofree char *text = glom_text(product);
    cr_assert_str_eq(text, "[Array((1,a)), Array((1,b)), Array((1,c)), Array((2,a), (3,a)), "
                           "Array((2,b), (3,b)), Array((2,c), (3,c))]");
    g_autofree char *lineage = em_rdd_debug_string(product);
    cr_assert_str_eq(lineage, "(6) CartesianRDD[2] at cartesian []\n"
                              " |  ParallelCollectionRDD[0] at parallelize []\n"
                              " |  ParallelCollectionRDD[1] at parallelize []");
}

static em_value double_it(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) * 2);
}

Test(rdd_narrow, cartesian_with_itself_an_empty_side_or_a_mapped_side)
{
    g_autoptr(em_rdd) xs = parallelize("1, 2", 2);
    g_autoptr(em_rdd) squared = em_rdd_cartesian(xs, xs);
    g_autofree char *all = collect_text(squared, false);
    cr_assert_str_eq(all, "[(1,1), (1,2), (2,1), (2,2)]");
    g_autoptr(em_rdd) none = parallelize("", 2);
    g_autoptr(em_rdd) empty1 = em_rdd_cartesian(xs, none);
    g_autoptr(em_rdd) empty2 = em_rdd_cartesian(none, xs);
    g_autofree char *e1 = collect_text(empty1, false);
    g_autofree char *e2 = collect_text(empty2, false);
    cr_assert_str_eq(e1, "[]");
    cr_assert_str_eq(e2, "[]");
    /* The left side's records may live in the task's scratch: each meets every right record. */
    g_autoptr(em_rdd) doubled = em_rdd_map(xs, double_it);
    g_autoptr(em_rdd) mixed = em_rdd_cartesian(doubled, squared);
    g_autofree char *text = collect_text(mixed, false);
    cr_assert_str_eq(text, "[(2,(1,1)), (2,(1,2)), (2,(2,1)), (2,(2,2)), (4,(1,1)), (4,(1,2)), "
                           "(4,(2,1)), (4,(2,2))]");
}

static em_value fail_on_three(em_value v, void *ud)
{
    (void)ud;
    return em_as_int(v) == 3 ? em_fail("three is bad") : v;
}

Test(rdd_narrow, cartesian_failure_in_either_side_fails_the_job)
{
    g_autoptr(em_rdd) xs = parallelize("1, 2, 3", 1);
    g_autoptr(em_rdd) bad = em_rdd_map_full(xs, fail_on_three, NULL, NULL, "fail_on_three");
    g_autoptr(em_rdd) left = em_rdd_cartesian(bad, xs);
    g_autoptr(em_rdd) right = em_rdd_cartesian(xs, bad);
    GError *err = NULL;
    cr_assert_null(em_rdd_collect(left, &err));
    cr_assert(strstr(err->message, "map (fail_on_three) failed: three is bad"), "%s",
              err->message);
    g_clear_error(&err);
    cr_assert_null(em_rdd_collect(right, &err));
    cr_assert(strstr(err->message, "map (fail_on_three) failed: three is bad"), "%s",
              err->message);
    g_clear_error(&err);
}

Test(rdd_narrow, cartesian_of_two_contexts_is_refused)
{
    em_context *other = em_context_new("local", "other", NULL);
    em_rdd *a = parallelize("1", 1);
    em_rdd *b = em_parallelize_text(other, "2", 1, NULL);
    cr_assert_null(em_rdd_cartesian(a, b));
    em_rdd_unref(a);
    em_rdd_unref(b);
    em_context_free(other);
}

/* ---- zipWithIndex ---- */

Test(rdd_narrow, zip_with_index_numbers_records_in_partition_then_record_order)
{
    g_autoptr(em_rdd) letters = parallelize("a, b, c, d, e", 4);
    g_autoptr(em_rdd) zipped = em_rdd_zip_with_index(letters);
    g_autofree char *text = glom_text(zipped);
    cr_assert_str_eq(text, "[Array((a,0)), Array((b,1)), Array((c,2)), Array((d,3), (e,4))]");
}

Test(rdd_narrow, zip_with_index_counts_across_empty_partitions)
{
    g_autoptr(em_rdd) letters = parallelize("a, b", 5);
    g_autoptr(em_rdd) zipped = em_rdd_zip_with_index(letters);
    g_autofree char *text = glom_text(zipped);
    cr_assert_str_eq(text, "[Array(), Array(), Array((a,0)), Array(), Array((b,1))]");
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autoptr(em_rdd) zipped_empty = em_rdd_zip_with_index(empty);
    g_autofree char *none = collect_text(zipped_empty, false);
    cr_assert_str_eq(none, "[]");
}

static em_value count_calls(em_value v, void *ud)
{
    g_atomic_int_inc((gint *)ud);
    return v;
}

Test(rdd_narrow, zip_with_index_counts_every_partition_but_the_last_at_once)
{
    gint calls = 0;
    g_autoptr(em_rdd) nums = parallelize("10, 20, 30", 3);
    g_autoptr(em_rdd) counted = em_rdd_map_full(nums, count_calls, &calls, NULL, "count_calls");
    g_autoptr(em_rdd) zipped = em_rdd_zip_with_index(counted);
    cr_assert_eq(calls, 2);
    g_autofree char *text = collect_text(zipped, false);
    cr_assert_str_eq(text, "[(10,0), (20,1), (30,2)]");
    cr_assert_eq(calls, 5);

    g_autoptr(em_rdd) single = parallelize("x, y", 1);
    g_autoptr(em_rdd) counted1 = em_rdd_map_full(single, count_calls, &calls, NULL, "count");
    g_autoptr(em_rdd) zipped1 = em_rdd_zip_with_index(counted1);
    cr_assert_eq(calls, 5, "no job for a single partition");
}

Test(rdd_narrow, zip_with_index_fails_every_compute_when_its_count_job_failed)
{
    g_autoptr(em_rdd) words = parallelize("a, b, c", 3);
    g_autoptr(em_rdd) failing = em_rdd_map(words, fail_on_b);
    g_autoptr(em_rdd) zipped = em_rdd_zip_with_index(failing);
    g_autofree char *msg = collect_error(zipped);
    /* Every partition fails; which one reports first depends on the threads. */
    cr_assert(g_str_has_prefix(msg, "Job aborted: stage 1, partition "), "%s", msg);
    cr_assert(g_str_has_suffix(msg, ": zipWithIndex failed: counting the records of the "
                                    "partitions failed: stage 0, partition 1: map (fail_on_b) "
                                    "failed: no b please"),
              "%s", msg);
    cr_assert_eq(em_rdd_count(zipped, NULL), -1);
}

Test(rdd_narrow, zip_with_index_failure_in_the_last_partition_surfaces_in_the_job)
{
    g_autoptr(em_rdd) words = parallelize("a, c, b", 3);
    g_autoptr(em_rdd) failing = em_rdd_map(words, fail_on_b);
    g_autoptr(em_rdd) zipped = em_rdd_zip_with_index(failing);
    g_autofree char *msg = collect_error(zipped);
    cr_assert_str_eq(msg,
                     "Job aborted: stage 1, partition 2: map (fail_on_b) failed: no b please");
}

/* ---- coalesce ---- */

Test(rdd_narrow, coalesce_groups_parent_partitions_contiguously)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2, 3, 4, 5", 5);
    g_autoptr(em_rdd) two = em_rdd_coalesce(nums, 2, false);
    cr_assert_eq(em_rdd_num_partitions(two), 2);
    g_autofree char *text = glom_text(two);
    cr_assert_str_eq(text, "[Array(1, 2), Array(3, 4, 5)]");
    g_autoptr(em_rdd) three = em_rdd_coalesce(nums, 3, false);
    g_autofree char *text3 = glom_text(three);
    cr_assert_str_eq(text3, "[Array(1), Array(2, 3), Array(4, 5)]");
    g_autoptr(em_rdd) one = em_rdd_coalesce(nums, 1, false);
    g_autofree char *text1 = glom_text(one);
    cr_assert_str_eq(text1, "[Array(1, 2, 3, 4, 5)]");
}

Test(rdd_narrow, coalesce_without_shuffle_never_adds_partitions)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2, 3", 3);
    g_autoptr(em_rdd) more = em_rdd_coalesce(nums, 10, false);
    cr_assert_eq(em_rdd_num_partitions(more), 3);
    g_autofree char *text = glom_text(more);
    cr_assert_str_eq(text, "[Array(1), Array(2), Array(3)]");
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autoptr(em_rdd) still_empty = em_rdd_coalesce(empty, 4, false);
    cr_assert_eq(em_rdd_num_partitions(still_empty), 0);
    cr_assert_null(em_rdd_coalesce(nums, 0, false));
}

Test(rdd_narrow, coalesce_with_shuffle_repartitions_every_record)
{
    g_autoptr(em_rdd) nums = parallelize("1, 2, 3, 4, 5, 6", 2);
    g_autoptr(em_rdd) more = em_rdd_coalesce(nums, 4, true);
    cr_assert_eq(em_rdd_num_partitions(more), 4);
    g_autofree char *text = collect_text(more, true);
    cr_assert_str_eq(text, "[1, 2, 3, 4, 5, 6]");
}

Test(rdd_narrow, coalesce_failure_names_the_coalesced_partition)
{
    g_autoptr(em_rdd) words = parallelize("a, c, d, b", 4);
    g_autoptr(em_rdd) failing = em_rdd_map(words, fail_on_b);
    g_autoptr(em_rdd) two = em_rdd_coalesce(failing, 2, false);
    g_autofree char *msg = collect_error(two);
    cr_assert_str_eq(msg,
                     "Job aborted: stage 0, partition 1: map (fail_on_b) failed: no b please");
}
