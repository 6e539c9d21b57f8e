/* cache/persist/unpersist, proven by counting the calls of a map function across actions, and
 * the lineage dump in the exact shape of Spark's toDebugString. */
#include <criterion/criterion.h>

#include "core-private.h"

static em_context *sc;
static gint calls;

static void setup(void)
{
    sc = em_context_new("local[2]", "test", NULL);
    g_atomic_int_set(&calls, 0);
}

static void teardown(void) { em_context_free(sc); }

TestSuite(rdd_persist, .init = setup, .fini = teardown);

static em_value counted(em_value v, void *ud)
{
    (void)ud;
    g_atomic_int_inc(&calls);
    return v;
}

static char *collect_text(em_rdd *rdd)
{
    GError *err = NULL;
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    return em_values_to_string(out);
}

static em_rdd *counted_source(void)
{
    g_autoptr(em_rdd) src = em_parallelize_text(sc, "1, 2, 3, 4, 5, 6", 3, NULL);
    return em_rdd_map(src, counted);
}

Test(rdd_persist, without_cache_every_action_recomputes)
{
    g_autoptr(em_rdd) rdd = counted_source();
    cr_assert_not(em_rdd_is_cached(rdd));
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    g_autofree char *text = collect_text(rdd);
    cr_assert_str_eq(text, "[1, 2, 3, 4, 5, 6]");
    cr_assert_eq(g_atomic_int_get(&calls), 12);
}

Test(rdd_persist, cache_computes_each_partition_once)
{
    g_autoptr(em_rdd) rdd = counted_source();
    cr_assert_eq(em_rdd_cache(rdd), rdd);
    cr_assert(em_rdd_is_cached(rdd));
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    g_autofree char *text = collect_text(rdd);
    cr_assert_str_eq(text, "[1, 2, 3, 4, 5, 6]");
    cr_assert_eq(g_atomic_int_get(&calls), 6);
}

Test(rdd_persist, persist_caches_as_cache_does)
{
    g_autoptr(em_rdd) rdd = em_rdd_persist(counted_source());
    cr_assert(em_rdd_is_cached(rdd));
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    cr_assert_eq(g_atomic_int_get(&calls), 6);
}

Test(rdd_persist, a_partly_computed_cache_computes_only_the_rest)
{
    g_autoptr(em_rdd) rdd = em_rdd_cache(counted_source());
    g_autoptr(em_values) first = em_rdd_take(rdd, 1, NULL);
    cr_assert_eq(first->n, 1);
    cr_assert_eq(g_atomic_int_get(&calls), 2); /* partition 0: 1, 2 */
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    cr_assert_eq(g_atomic_int_get(&calls), 6);
}

Test(rdd_persist, unpersist_drops_the_data_and_recomputes)
{
    g_autoptr(em_rdd) rdd = em_rdd_cache(counted_source());
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    em_rdd_unpersist(rdd);
    cr_assert_not(em_rdd_is_cached(rdd));
    g_autofree char *text = collect_text(rdd);
    cr_assert_str_eq(text, "[1, 2, 3, 4, 5, 6]");
    cr_assert_eq(em_rdd_count(rdd, NULL), 6);
    cr_assert_eq(g_atomic_int_get(&calls), 18);
}

Test(rdd_persist, cached_data_survives_the_user_dropping_parent_and_rdd)
{
    em_rdd *src = em_parallelize_text(sc, "(a,1), (b,2), (a,3)", 2, NULL);
    em_rdd *cached = em_rdd_cache(em_rdd_map(src, counted));
    em_rdd_unref(src); /* the cached RDD holds its lineage */
    cr_assert_eq(em_rdd_count(cached, NULL), 3);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key(cached, em_sum);
    em_rdd_unref(cached); /* and the child holds the cached RDD */
    g_autoptr(em_values) out = em_rdd_collect(sums, NULL);
    g_autofree char *text = em_values_to_string(em_values_sort(out));
    cr_assert_str_eq(text, "[(a,4), (b,2)]");
    cr_assert_eq(g_atomic_int_get(&calls), 3);
}

Test(rdd_persist, two_branches_over_a_cached_rdd_share_one_computation)
{
    g_autoptr(em_rdd) cached = em_rdd_cache(counted_source());
    g_autoptr(em_rdd) pairs = em_rdd_map(cached, em_pair_one);
    g_autoptr(em_rdd) keys = em_rdd_keys(pairs);
    g_autofree char *a = collect_text(pairs);
    g_autofree char *b = collect_text(keys);
    cr_assert_str_eq(a, "[(1,1), (2,1), (3,1), (4,1), (5,1), (6,1)]");
    cr_assert_str_eq(b, "[1, 2, 3, 4, 5, 6]");
    cr_assert_eq(g_atomic_int_get(&calls), 6);
}

static em_value fail_on_strings(em_value v, void *ud)
{
    (void)ud;
    return em_is_str(v) ? em_fail("a string") : v;
}

Test(rdd_persist, a_failed_computation_caches_nothing)
{
    g_autoptr(em_rdd) src = em_parallelize_text(sc, "1, 2, x", 1, NULL);
    g_autoptr(em_rdd) rdd = em_rdd_cache(em_rdd_map(src, fail_on_strings));
    for (int attempt = 0; attempt < 2; attempt++) {
        GError *err = NULL;
        cr_assert_eq(em_rdd_count(rdd, &err), -1);
        cr_assert(err && strstr(err->message, "a string"), "%s", err ? err->message : "");
        g_error_free(err);
    }
    g_autofree char *dump = em_rdd_debug_string(rdd);
    cr_assert_str_eq(dump, "(1) MapPartitionsRDD[1] at map (fail_on_strings) "
                           "[Memory Deserialized 1x Replicated]\n"
                           " |  ParallelCollectionRDD[0] at parallelize []");
}

/* ---- The lineage dump ---- */

Test(rdd_persist, debug_string_of_a_word_count_is_sparks)
{
    g_autoptr(em_rdd) words = em_parallelize_text(sc, "a, b, a", 2, NULL);
    g_autoptr(em_rdd) pairs = em_rdd_map(words, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key(pairs, em_sum);
    g_autofree char *dump = em_rdd_debug_string(counts);
    cr_assert_str_eq(dump, "(2) ShuffledRDD[2] at reduceByKey (em_sum) []\n"
                           " +-(2) MapPartitionsRDD[1] at map (em_pair_one) []\n"
                           "    |  ParallelCollectionRDD[0] at parallelize []");
}

Test(rdd_persist, debug_string_nests_shuffles_and_centres_bars_under_wide_counts)
{
    g_autoptr(em_rdd) src = em_parallelize_text(sc, "a, b, a", 10, NULL);
    g_autoptr(em_rdd) pairs = em_rdd_map(src, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key_full(pairs, em_sum, NULL, NULL, "em_sum", 3);
    g_autoptr(em_rdd) swapped = em_rdd_map(counts, em_swap);
    g_autoptr(em_rdd) by_count =
        em_rdd_reduce_by_key_full(swapped, em_sum, NULL, NULL, "em_sum", 12);
    g_autofree char *dump = em_rdd_debug_string(by_count);
    cr_assert_str_eq(dump, "(12) ShuffledRDD[4] at reduceByKey (em_sum) []\n"
                           " +-(3) MapPartitionsRDD[3] at map (em_swap) []\n"
                           "    |  ShuffledRDD[2] at reduceByKey (em_sum) []\n"
                           "    +-(10) MapPartitionsRDD[1] at map (em_pair_one) []\n"
                           "       |   ParallelCollectionRDD[0] at parallelize []");
}

static const em_rdd_class cogroup_class = {.type_name = "CoGroupedRDD"};

Test(rdd_persist, debug_string_draws_a_rail_past_every_shuffle_but_the_last)
{
    /* Two shuffle dependencies, as Spark's CoGroupedRDD under a join has. */
    g_autoptr(em_rdd) left = em_parallelize_text(sc, "(a,1)", 2, NULL);
    g_autoptr(em_rdd) pairs = em_rdd_map(left, em_identity);
    g_autoptr(em_rdd) right = em_parallelize_text(sc, "(a,2)", 3, NULL);
    g_autoptr(em_rdd) cg = em__rdd_new(sc, &cogroup_class, "cogroup", 2, NULL, 0);
    em__rdd_add_shuffle(cg, em__shuffle_new(pairs, 2, EM_PART_HASH, NULL));
    em__rdd_add_shuffle(cg, em__shuffle_new(right, 2, EM_PART_HASH, NULL));
    g_autofree char *dump = em_rdd_debug_string(cg);
    cr_assert_str_eq(dump, "(2) CoGroupedRDD[3] at cogroup []\n"
                           " +-(2) MapPartitionsRDD[1] at map (em_identity) []\n"
                           " |  |  ParallelCollectionRDD[0] at parallelize []\n"
                           " +-(3) ParallelCollectionRDD[2] at parallelize []");
}

Test(rdd_persist, debug_string_shows_storage_and_cached_partitions)
{
    g_autoptr(em_rdd) nums = em_rdd_cache(em_parallelize_text(sc, "1, 2, 3, 4", 2, NULL));
    g_autoptr(em_rdd) pairs = em_rdd_map(nums, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key(pairs, em_sum);
    g_autofree char *before = em_rdd_debug_string(nums);
    cr_assert_str_eq(before, "(2) ParallelCollectionRDD[0] at parallelize "
                             "[Memory Deserialized 1x Replicated]");
    g_autoptr(em_values) first = em_rdd_take(nums, 1, NULL);
    g_autofree char *one = em_rdd_debug_string(nums);
    /* Ints carry no payload: 2 records of 16 bytes. */
    cr_assert_str_eq(one, "(2) ParallelCollectionRDD[0] at parallelize "
                          "[Memory Deserialized 1x Replicated]\n"
                          " |       CachedPartitions: 1; MemorySize: 32.0 B; DiskSize: 0.0 B");
    cr_assert_eq(em_rdd_count(counts, NULL), 4);
    g_autofree char *all = em_rdd_debug_string(counts);
    cr_assert_str_eq(all, "(2) ShuffledRDD[2] at reduceByKey (em_sum) []\n"
                          " +-(2) MapPartitionsRDD[1] at map (em_pair_one) []\n"
                          "    |  ParallelCollectionRDD[0] at parallelize "
                          "[Memory Deserialized 1x Replicated]\n"
                          "    |      CachedPartitions: 2; MemorySize: 64.0 B; DiskSize: 0.0 B");
}

Test(rdd_persist, debug_string_prints_memory_as_spark_does)
{
    /* 200 strings of 20 bytes, cached as a string column: 4000 bytes of text and a 4-byte end
     * offset each, 4800 bytes; above 2 KiB Spark switches to KiB. */
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 200; i++)
        g_string_append_printf(text, "%sabcdefghijklmnop%04d", i ? ", " : "", i);
    g_autoptr(em_rdd) rdd = em_rdd_cache(em_parallelize_text(sc, text->str, 1, NULL));
    g_string_free(text, TRUE);
    cr_assert_eq(em_rdd_count(rdd, NULL), 200);
    size_t bytes = 4800;
    g_autofree char *want =
        g_strdup_printf("(1) ParallelCollectionRDD[0] at parallelize [Memory Deserialized 1x "
                        "Replicated]\n"
                        " |       CachedPartitions: 1; MemorySize: %.1f KiB; DiskSize: 0.0 B",
                        (double)bytes / 1024);
    g_autofree char *dump = em_rdd_debug_string(rdd);
    cr_assert_str_eq(dump, want);
}

static em_value counted_pair(em_value v, void *ud)
{
    g_atomic_int_inc((gint *)ud);
    return em_pair(v, em_int(1));
}

Test(rdd_persist, cached_shuffle_result_is_not_recomputed_after_its_shuffle_data_is_freed)
{
    gint maps = 0;
    em_rdd *words = em_parallelize_text(sc, "a, b, a, c", 2, NULL);
    em_rdd *pairs = em_rdd_map_full(words, counted_pair, &maps, NULL, "counted_pair");
    em_rdd *counts = em_rdd_cache(em_rdd_reduce_by_key(pairs, em_sum));
    cr_assert_eq(em_rdd_count(counts, NULL), 3);
    cr_assert_eq(maps, 4);
    /* What a streaming batch does when its jobs are done. */
    em__rdd_release_shuffles(counts);
    cr_assert_eq(em_rdd_count(counts, NULL), 3);
    cr_assert_eq(maps, 4, "the map stage ran again for a fully cached RDD");
    /* Uncached, the map stage runs again, and gives the same answer. */
    em_rdd_unpersist(counts);
    cr_assert_eq(em_rdd_count(counts, NULL), 3);
    cr_assert_eq(maps, 8);
    em_rdd_unref(counts);
    em_rdd_unref(pairs);
    em_rdd_unref(words);
}

Test(rdd_persist, cached_strings_then_other_records_keep_every_record_in_order)
{
    /* The first partition starts as a string column and meets an int, a tuple and an empty
     * string; the second holds only strings (one empty). Both read back exactly, twice. */
    g_autoptr(em_rdd) rdd = em_rdd_cache(
        em_parallelize_text(sc, "a, bb, 3, (c,4), \"\", dd, eee, \"\", ffff, g", 2, NULL));
    for (int run = 0; run < 2; run++) {
        g_autofree char *text = collect_text(rdd);
        cr_assert_str_eq(text, "[a, bb, 3, (c,4), , dd, eee, , ffff, g]", "run %d", run);
    }
    cr_assert_eq(em_rdd_count(rdd, NULL), 10);
    g_autofree char *dump = em_rdd_debug_string(rdd);
    cr_assert(strstr(dump, "CachedPartitions: 2;"), "%s", dump);
}

Test(rdd_persist, cached_text_lines_take_their_bytes_and_four_more_a_line)
{
    /* 1000 lines of 30 bytes: 30,000 bytes of text and 4,000 of offsets, nothing else
     * (34,000 bytes: 33.2 KiB). */
    g_autoptr(em_values) lines = em__values_new();
    for (int i = 0; i < 1000; i++) {
        char buf[32];
        int n = g_snprintf(buf, sizeof buf, "line %04d of the cached text..", i);
        cr_assert_eq(n, 30);
        em__values_append(lines, em_str_dup_in(lines->arena, buf, (size_t)n));
    }
    g_autoptr(em_rdd) rdd = em_rdd_cache(em_parallelize(sc, lines->items, lines->n, 1));
    cr_assert_eq(em_rdd_count(rdd, NULL), 1000);
    g_autofree char *dump = em_rdd_debug_string(rdd);
    cr_assert(strstr(dump, "CachedPartitions: 1; MemorySize: 33.2 KiB;"), "%s", dump);
    g_autoptr(em_values) back = em_rdd_collect(rdd, NULL);
    cr_assert_not_null(back);
    cr_assert_eq(back->n, 1000);
    for (size_t i = 0; i < back->n; i++)
        cr_assert(em_value_equal(back->items[i], lines->items[i]), "line %zu", i);
}
