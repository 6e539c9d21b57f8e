/* Spark's hashing and order: JVM hashCodes (expected values printed by Java 17 with Scala
 * 2.12.18, Spark 3.5's), HashPartitioner's non-negative mod, and AppendOnlyMap's iteration
 * order (expected order printed by Spark 3.5.9's own org.apache.spark.util.collection.
 * AppendOnlyMap for the same inserts). */
#include <criterion/criterion.h>
#include <inttypes.h>

#include "../core/rdd-fixture.h"
#include "spark-order.h"

Test(spark_order, strings_hash_as_java_string_hash_code_over_utf16)
{
    cr_assert_eq(em_jvm_hash_code(em_str("apple")), 93029210);
    cr_assert_eq(em_jvm_hash_code(em_str("")), 0);
    cr_assert_eq(em_jvm_hash_code(em_str("caf\xc3\xa9")), 3045921);
    /* U+1F600 is a surrogate pair in UTF-16. */
    cr_assert_eq(em_jvm_hash_code(em_str("\xf0\x9f\x98\x80x")), 54959989);
    cr_assert_eq(em_jvm_hash_code(em_str("polygenelubricants")), INT32_MIN);
    cr_assert_eq(em_jvm_hash_code(em_strn("\xff", 1)), 0xfffd, "malformed byte as U+FFFD");
}

Test(spark_order, numbers_and_tuples_hash_as_the_jvm)
{
    cr_assert_eq(em_jvm_hash_code(em_int(-5000000000LL)), 705032702, "Long.hashCode");
    cr_assert_eq(em_jvm_hash_code(em_int(-7)), -7, "Integer.hashCode");
    cr_assert_eq(em_jvm_hash_code(em_double(1.5)), 1073217536);
    cr_assert_eq(em_jvm_hash_code(em_double(-0.0)), INT32_MIN);
    cr_assert_eq(em_jvm_hash_code(em_bool(true)), 1231);
    cr_assert_eq(em_jvm_hash_code(em_pair(em_str("a"), em_int(1))), 128003929);
    cr_assert_eq(em_jvm_hash_code(em_pair(em_str("a"), em_double(0.5))), -322215006,
                 "a Float-exact double mixes as Float.hashCode");
    cr_assert_eq(em_jvm_hash_code(em_pair(em_double(2.0), em_int(3))), 983083826,
                 "a whole double mixes as its Int");
    em_value xyz[] = {em_str("x"), em_str("y"), em_double(0.1)};
    cr_assert_eq(em_jvm_hash_code(em_tuple_in(em_scratch(), xyz, 3)), -453408242);
    cr_assert_eq(em_jvm_hash_code(em_some(em_str("a"))), -1168522918);
    cr_assert_eq(em_jvm_hash_code(em_none()), 2433880);
    cr_assert_eq(em_jvm_hash_code(em_list(NULL, 0, EM_LIST)), 473519988);
    em_value items[] = {em_str("a"), em_int(1)};
    cr_assert_eq(em_jvm_hash_code(em_list(items, 2, EM_LIST)), 192483549);
    cr_assert_eq(em_jvm_hash_code(em_pair(em_pair(em_str("a"), em_int(1)), em_str("b"))),
                 742144168);
    em_scratch_reset();
}

Test(spark_order, hash_partitioner_takes_the_non_negative_mod)
{
    cr_assert_eq(em_spark_partition(em_str("orange"), 2), 0);
    cr_assert_eq(em_spark_partition(em_str("banana"), 2), 1); /* hashCode -1396355227 */
    cr_assert_eq(em_spark_partition(em_str("polygenelubricants"), 3), 1); /* MIN_VALUE % 3 = -2 */
    cr_assert_eq(em_spark_partition(em_int(-1), 4), 3);
    cr_assert_eq(em_spark_partition(em_null(), 4), 0);
}

/* The hashCodes of keys in insertion order, the order AppendOnlyMap iterates them in. */
static char *aom_order_of(const char *const *keys, size_t n, ssize_t null_index)
{
    int32_t *hashes = g_new(int32_t, n);
    uint32_t *order = g_new(uint32_t, n);
    for (size_t i = 0; i < n; i++)
        hashes[i] = (ssize_t)i == null_index ? 0 : em_jvm_hash_code(em_str(keys[i]));
    em_arena *scratch = em_arena_new();
    em__aom_order(hashes, n, null_index, order, scratch);
    em_arena_free(scratch);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "%s%s", i ? " " : "", keys[order[i]]);
    g_free(hashes);
    g_free(order);
    return g_string_free(out, FALSE);
}

Test(spark_order, append_only_map_order_of_the_issue_words)
{
    static const char *const p0[] = {"orange", "apple"}, *const p1[] = {"banana", "cherry"};
    g_autofree char *a = aom_order_of(p0, 2, -1);
    g_autofree char *b = aom_order_of(p1, 2, -1);
    cr_assert_str_eq(a, "orange apple");
    cr_assert_str_eq(b, "banana cherry");
}

/* 100 keys force two growths (64 -> 128 -> 256); the null key comes first. */
Test(spark_order, append_only_map_order_matches_spark_through_growth)
{
    const char *keys[101];
    char names[100][8];
    for (int i = 0; i < 100; i++) {
        g_snprintf(names[i], sizeof names[i], "w%d", i);
        keys[i] = names[i];
    }
    keys[100] = "null";
    g_autofree char *got = aom_order_of(keys, 101, 100);
    cr_assert_str_eq(
        got, "null w39 w58 w82 w18 w47 w26 w94 w45 w48 w52 w81 w92 w29 w0 w44 w63 w80 w21 w62 w54 "
             "w57 w74 w9 w89 w2 w41 w16 w19 w85 w8 w68 w69 w87 w34 w91 w43 w77 w6 w95 w84 w76 w97 "
             "w70 w51 w11 w13 w32 w12 w20 w64 w96 w24 w28 w42 w1 w59 w88 w65 w78 w49 w50 w30 w4 "
             "w86 w67 w46 w71 w66 w75 w23 w53 w40 w33 w31 w83 w5 w60 w93 w73 w3 w25 w99 w17 w22 "
             "w14 w90 w7 w15 w37 w98 w79 w27 w36 w56 w35 w55 w61 w72 w10 w38");
}

/* The issue's NetworkWordCount batch: one received block (one partition) reduced into
 * local[2]'s two partitions prints exactly as Spark does. */
Test(spark_order, word_count_prints_in_spark_order_by_default)
{
    em_context *sc = em_context_new("local[2]", "order", NULL);
    cr_assert(em_context_spark_order(sc));
    em_value line = em_str("apple banana apple cherry apple banana orange apple");
    g_autoptr(em_rdd) lines = em_parallelize(sc, &line, 1, 1);
    g_autoptr(em_rdd) words = em_rdd_flat_map(lines, em_split_space);
    g_autoptr(em_rdd) pairs = em_rdd_map(words, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key_n(pairs, em_sum, 2);
    g_autofree char *got = collected(counts);
    cr_assert_str_eq(got, "[(orange,1), (apple,4), (banana,2), (cherry,1)]");
    em_context_free(sc);
}

/* groupByKey (no map-side combine) keeps the values in map order; Spark 3.5.9 collects
 * [(d,[6]), (b,[1, 5]), (a,[2, 4]), (c,[3])] for the same pairs in two slices. */
Test(spark_order, group_by_key_orders_keys_as_spark_and_values_in_map_order)
{
    em_context *sc = em_context_new("local[2]", "order", NULL);
    g_autoptr(em_rdd) pairs = parse(sc, "(b,1), (a,2), (c,3), (a,4), (b,5), (d,6)", 2);
    g_autoptr(em_rdd) grouped = em_rdd_group_by_key(pairs);
    g_autofree char *got = collected(grouped);
    cr_assert_str_eq(got, "[(d,CompactBuffer(6)), (b,CompactBuffer(1, 5)), "
                          "(a,CompactBuffer(2, 4)), (c,CompactBuffer(3))]");
    em_context_free(sc);
}

Test(spark_order, turned_off_the_shuffle_keeps_insertion_order)
{
    em_context *sc = em_context_new("local[2]", "order", NULL);
    em_context_set_spark_order(sc, false);
    cr_assert_not(em_context_spark_order(sc));
    g_autoptr(em_rdd) pairs = parse(sc, "(k1,1), (k2,2), (k1,3)", 1);
    g_autoptr(em_rdd) summed = em_rdd_reduce_by_key_n(pairs, em_sum, 1);
    g_autofree char *got = collected(summed);
    cr_assert_str_eq(got, "[(k1,4), (k2,2)]");
    em_context_free(sc);
}

/* Spark's sort-based writer orders a map output by key hashCode, the records of one hashCode
 * in the order they came: checked on 5,000 records (sorted by counting passes past 1,024),
 * with hash collisions ("Aa" and "BB" share Java's hashCode), negative hashes and INT32_MIN. */
Test(spark_order, sort_by_hash_orders_by_signed_hash_and_keeps_ties_in_order)
{
    enum { N = 5000 };
    const char *fixed[] = {"Aa", "BB", "polygenelubricants", "AaAa", "BBBB", "AaBB", "BBAa"};
    em_arena *arena = em_arena_new();
    em_value *records = em_arena_alloc(arena, N * sizeof *records);
    for (int i = 0; i < N; i++) {
        char *key = i % 10 < 7 ? g_strdup(fixed[i % 10])
                               : g_strdup_printf("w%d", (int)((i * 2654435761u) % 997));
        records[i] = em_pair_in(arena, em_value_copy(em_str(key), arena), em_int(i));
        g_free(key);
    }
    em__spark_sort_by_hash(records, N, arena);
    for (int i = 1; i < N; i++) {
        int32_t a = em_jvm_hash_code(em_key(records[i - 1]));
        int32_t b = em_jvm_hash_code(em_key(records[i]));
        cr_assert(a < b || (a == b &&
                            em_as_int(em_val(records[i - 1])) < em_as_int(em_val(records[i]))),
                  "record %d (hash %d, input %" PRId64 ") after hash %d, input %" PRId64, i, b,
                  em_as_int(em_val(records[i])), a, em_as_int(em_val(records[i - 1])));
    }
    em_value first = em_key(records[0]);
    cr_assert(em_str_len(first) == 18 && memcmp(em_str_ptr(first), "polygenelubricants", 18) == 0,
              "INT32_MIN first");
    em_arena_free(arena);
}
