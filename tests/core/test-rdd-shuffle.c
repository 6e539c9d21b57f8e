/* The shuffle family: reduceByKey and groupByKey (results and failures), distinct, repartition,
 * partitionBy, sortByKey, and a property test of every by-key operator against a reference
 * computed on the driver, over partition counts and thread counts. */
#include <criterion/criterion.h>

#include "rdd-fixture.h"

#include <inttypes.h>

static em_context *sc;

static void setup(void) { sc = em_context_new("local[2]", "test", NULL); }
static void teardown(void) { em_context_free(sc); }

TestSuite(rdd_shuffle, .init = setup, .fini = teardown);

/* The records in collect order / sorted, as text. */

/* Each partition's records in order: [Array(...), Array(...)]. */
static char *partitions(em_rdd *rdd)
{
    g_autoptr(em_rdd) glom = em_rdd_glom(rdd);
    return collected(glom);
}

/* The message of the error collecting rdd fails with. */
static char *failure(em_rdd *rdd)
{
    GError *err = NULL;
    em_values *out = em_rdd_collect(rdd, &err);
    cr_assert_null(out, "the job should have failed");
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK), "%s", err->message);
    char *msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

/* ---- reduceByKey ---- */

Test(rdd_shuffle, reduce_by_key_sums_per_key_into_the_partitions_asked_for)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (b,2), (a,3), (c,4), (b,5), (a,6)", 3);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key_n(pairs, em_sum, 4);
    cr_assert_eq(em_rdd_num_partitions(sums), 4);
    g_autofree char *text = sorted(sums);
    cr_assert_str_eq(text, "[(a,10), (b,7), (c,4)]");
    g_autoptr(em_rdd) by_default = em_rdd_reduce_by_key(pairs, em_sum);
    cr_assert_eq(em_rdd_num_partitions(by_default), 3);
}

/* Key i of the pipeline test: its digits padded with 'x' to i % 20 bytes, so the keys run
 * through every length the combiner's pipeline takes (up to 16 bytes) and a few it does not. */
static em_value padded_key(int i, em_arena *arena)
{
    char buf[32];
    int n = g_snprintf(buf, sizeof buf, "%d", i);
    while (n < i % 20)
        buf[n++] = 'x';
    return em_str_dup_in(arena, buf, (size_t)n);
}

Test(rdd_shuffle, reduce_by_key_sums_exactly_over_every_key_length_and_table_growth)
{
    /* 3000 distinct keys (the map-side table grows several times while records wait for
     * their slots), key i seen i % 7 + 1 times with the values 1, 2, ...: a sum of
     * (m + 1)(m + 2) / 2 for m = i % 7. Rounds interleave the keys. */
    enum { KEYS = 3000 };
    g_autoptr(em_values) in = em__values_new();
    for (int round = 0; round < 7; round++)
        for (int i = 0; i < KEYS; i++)
            if (round <= i % 7)
                em__values_append(in, em_pair_in(in->arena, padded_key(i, in->arena),
                                                 em_int(round + 1)));
    for (int parts = 1; parts <= 3; parts++) {
        g_autoptr(em_rdd) pairs = em_parallelize(sc, in->items, in->n, parts);
        g_autoptr(em_rdd) sums = em_rdd_reduce_by_key_n(pairs, em_sum, 2);
        g_autoptr(em_values) out = collect(sums);
        cr_assert_eq(out->n, KEYS, "%d partitions", parts);
        g_autoptr(em_arena) arena = em_arena_new();
        GHashTable *want = g_hash_table_new(g_str_hash, g_str_equal);
        for (int i = 0; i < KEYS; i++) {
            em_value k = padded_key(i, arena);
            int64_t m = i % 7;
            g_hash_table_insert(want, g_strndup(em_str_ptr(k), em_str_len(k)),
                                GINT_TO_POINTER((int)((m + 1) * (m + 2) / 2)));
        }
        for (size_t j = 0; j < out->n; j++) {
            em_value k = em_key(out->items[j]);
            g_autofree char *key = g_strndup(em_str_ptr(k), em_str_len(k));
            cr_assert(g_hash_table_contains(want, key), "unexpected key %s", key);
            cr_assert_eq(em_as_int(em_val(out->items[j])),
                         GPOINTER_TO_INT(g_hash_table_lookup(want, key)), "sum of %s", key);
        }
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, want);
        while (g_hash_table_iter_next(&it, &key, NULL))
            g_free(key);
        g_hash_table_unref(want);
    }
}

Test(rdd_shuffle, reduce_by_key_sums_ints_doubles_and_other_keys_in_one_partition)
{
    /* Ints wait in the combiner's pipeline, the double does not: every record still meets the
     * ones before it in order, and the keys that never waited (ints, long strings) sum too. */
    g_autoptr(em_rdd) pairs =
        parse(sc,
              "(a,1), (bbbbbbbbbbbbbbbbbbbbbbbb,2), (a,2), (7,1), (a,0.5), (a,4), "
              "(bbbbbbbbbbbbbbbbbbbbbbbb,3), (7,2), (cccccccccccc,5), (cccccccccccc,6), (a,1)",
              1);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key_n(pairs, em_sum, 1);
    g_autofree char *text = sorted(sums);
    cr_assert_str_eq(text, "[(7,3), (a,8.5), (bbbbbbbbbbbbbbbbbbbbbbbb,5), (cccccccccccc,11)]");
    g_autoptr(em_rdd) folded = em_rdd_fold_by_key(pairs, em_int(10), em_sum);
    g_autofree char *folded_text = sorted(folded);
    cr_assert_str_eq(folded_text,
                     "[(7,13), (a,18.5), (bbbbbbbbbbbbbbbbbbbbbbbb,15), (cccccccccccc,21)]");
}

static em_value fail_on_big(em_value a, em_value b, void *ud)
{
    (void)ud;
    if (em_as_int(a) >= 3 || em_as_int(b) >= 3)
        return em_fail("cannot merge %" PRId64 " and %" PRId64, em_as_int(a), em_as_int(b));
    return em_int(em_as_int(a) + em_as_int(b));
}

Test(rdd_shuffle, reduce_by_key_failure_on_the_map_side_names_function_stage_and_partition)
{
    /* Slice 1 holds both b values, so its map-side combine calls the function. */
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (a,2), (b,3), (b,4)", 2);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key(pairs, fail_on_big);
    g_autofree char *msg = failure(sums);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 1: reduceByKey (fail_on_big) failed: "
                          "cannot merge 3 and 4");
}

Test(rdd_shuffle, reduce_by_key_failure_on_the_reduce_side_names_the_reduce_stage)
{
    /* One value per key and slice: only the reduce side merges. */
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (a,10)", 2);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key_n(pairs, fail_on_big, 1);
    g_autofree char *msg = failure(sums);
    cr_assert_str_eq(msg, "Job aborted: stage 1, partition 0: reduceByKey (fail_on_big) failed: "
                          "cannot merge 1 and 10");
}

Test(rdd_shuffle, reduce_by_key_rejects_a_record_that_is_not_a_pair_naming_it)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), \"not a pair\"", 1);
    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key(pairs, em_sum);
    g_autofree char *msg = failure(sums);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 0: reduceByKey (em_sum) failed: "
                          "record not a pair is not a (key, value) pair");
}

/* ---- groupByKey ---- */

Test(rdd_shuffle, group_by_key_keeps_values_in_map_order)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (b,2), (a,3), (a,4)", 2);
    g_autoptr(em_rdd) groups = em_rdd_group_by_key_n(pairs, 1);
    g_autofree char *text = collected(groups);
    cr_assert_str_eq(text, "[(a,CompactBuffer(1, 3, 4)), (b,CompactBuffer(2))]");
}

Test(rdd_shuffle, group_by_key_handles_one_key_with_ten_thousand_values)
{
    enum { HOT = 10000, COLD = 500 };
    g_autoptr(em_values) in = em__values_new();
    for (int i = 0; i < HOT; i++) {
        em__values_append(in, em_pair_in(in->arena, em_str("hot"), em_int(i)));
        if (i < COLD)
            em__values_append(in, em_pair_in(in->arena, em_int(i), em_int(-i)));
    }
    g_autoptr(em_rdd) pairs = em_parallelize(sc, in->items, in->n, 4);
    g_autoptr(em_rdd) groups = em_rdd_group_by_key_n(pairs, 3);
    g_autoptr(em_values) out = collect(groups);
    cr_assert_eq(out->n, COLD + 1);
    em_values_sort(out);
    for (int i = 0; i < COLD; i++) {
        g_autofree char *got = em_value_to_string(out->items[i]);
        g_autofree char *want = g_strdup_printf("(%d,CompactBuffer(%d))", i, -i);
        cr_assert_str_eq(got, want);
    }
    em_value hot = out->items[COLD];
    cr_assert(em_value_equal(em_key(hot), em_str("hot")));
    em_value vals = em_val(hot);
    cr_assert_eq(em_list_len(vals), HOT);
    for (int i = 0; i < HOT; i++)
        cr_assert_eq(em_as_int(em_list_get(vals, i)), i, "value %d out of map order", i);
}

Test(rdd_shuffle, group_by_key_rejects_a_record_that_is_not_a_pair)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), 7", 1);
    g_autoptr(em_rdd) groups = em_rdd_group_by_key(pairs);
    g_autofree char *msg = failure(groups);
    cr_assert_str_eq(msg, "Job aborted: stage 1, partition 0: groupByKey failed: record 7 is not "
                          "a (key, value) pair");
}

/* ---- distinct ---- */

Test(rdd_shuffle, distinct_keeps_one_of_each_value_of_mixed_types)
{
    /* 1 and 1.0 differ; "a" and a are the same string; 0.0 equals -0.0 and NaN equals NaN. */
    g_autoptr(em_rdd) values =
        parse(sc,
              "1, 1.0, a, \"a\", (a,1), (a,1), null, null, None, Some(1), Some(1), "
              "List(1, 2), List(1, 2), true, 1, 0.0, -0.0, NaN, NaN, (a,1,2), ü",
              3);
    g_autoptr(em_rdd) once = em_rdd_distinct(values);
    cr_assert_eq(em_rdd_num_partitions(once), 3);
    g_autofree char *text = sorted(once);
    cr_assert_str_eq(text, "[null, true, 1, 0.0, 1.0, NaN, a, ü, (a,1), (a,1,2), List(1, 2), "
                           "None, Some(1)]");
}

Test(rdd_shuffle, distinct_tells_binary_strings_apart_by_every_byte)
{
    const em_value in[] = {em_strn("a\0b", 3), em_strn("a\0c", 3),      em_strn("a", 1),
                           em_strn("a\0b", 3), em_strn("", 0),          em_strn("a\0", 2),
                           em_strn("", 0),     em_strn("u\xcc\x88", 3), em_strn("\xc3\xbc", 2)};
    g_autoptr(em_rdd) values = em_parallelize(sc, in, G_N_ELEMENTS(in), 2);
    g_autoptr(em_rdd) once = em_rdd_distinct_n(values, 3);
    g_autoptr(em_values) out = collect(once);
    em_values_sort(out);
    const em_value want[] = {em_strn("", 0),        em_strn("a", 1),    em_strn("a\0", 2),
                             em_strn("a\0b", 3),    em_strn("a\0c", 3), em_strn("u\xcc\x88", 3),
                             em_strn("\xc3\xbc", 2)};
    cr_assert_eq(out->n, G_N_ELEMENTS(want));
    for (size_t i = 0; i < out->n; i++)
        cr_assert(em_value_equal(out->items[i], want[i]), "record %zu", i);
}

Test(rdd_shuffle, distinct_of_an_empty_rdd_is_empty)
{
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    g_autoptr(em_rdd) once = em_rdd_distinct_n(none, 2);
    g_autofree char *text = partitions(once);
    cr_assert_str_eq(text, "[Array(), Array()]");
}

/* ---- repartition ---- */

Test(rdd_shuffle, repartition_keeps_every_record_and_spreads_them_evenly)
{
    g_autoptr(em_values) in = em__values_new();
    for (int i = 0; i < 100; i++)
        em__values_append(in, em_int(i % 50)); /* every value twice */
    g_autoptr(em_rdd) values = em_parallelize(sc, in->items, in->n, 2);
    g_autoptr(em_rdd) spread = em_rdd_repartition(values, 7);
    cr_assert_eq(em_rdd_num_partitions(spread), 7);
    g_autoptr(em_values) all = collect(spread);
    em_values_sort(all);
    em_values_sort(in);
    cr_assert_eq(all->n, in->n);
    for (size_t i = 0; i < in->n; i++)
        cr_assert(em_value_equal(all->items[i], in->items[i]), "record %zu", i);
    /* Round robin: each of the two map partitions (50 records) gives 7 or 8 to each. */
    g_autoptr(em_rdd) glom = em_rdd_glom(spread);
    g_autoptr(em_values) parts = collect(glom);
    cr_assert_eq(parts->n, 7);
    for (size_t p = 0; p < parts->n; p++)
        cr_assert(em_list_len(parts->items[p]) >= 14 && em_list_len(parts->items[p]) <= 16,
                  "partition %zu has %zu records", p, em_list_len(parts->items[p]));
}

Test(rdd_shuffle, repartition_into_one_partition_keeps_map_order)
{
    g_autoptr(em_rdd) values = parse(sc, "a, b, c, d, e", 2);
    g_autoptr(em_rdd) one = em_rdd_repartition(values, 1);
    g_autofree char *text = partitions(one);
    cr_assert_str_eq(text, "[Array(a, b, c, d, e)]");
}

/* ---- partitionBy ---- */

Test(rdd_shuffle, partition_by_places_equal_keys_in_their_hash_partition_unchanged)
{
    g_autoptr(em_rdd) pairs =
        parse(sc, "(a,1), (b,2), (a,3), (c,4), (b,5), (a,6), (d,7), (e,8), (f,9), (g,10)", 3);
    g_autoptr(em_rdd) placed = em_rdd_partition_by(pairs, 4);
    cr_assert_eq(em_rdd_num_partitions(placed), 4);
    g_autofree char *all = sorted(placed);
    cr_assert_str_eq(all, "[(a,1), (a,3), (a,6), (b,2), (b,5), (c,4), (d,7), (e,8), (f,9), "
                          "(g,10)]");
    g_autoptr(em_rdd) glom = em_rdd_glom(placed);
    g_autoptr(em_values) parts = collect(glom);
    cr_assert_eq(parts->n, 4);
    for (size_t p = 0; p < parts->n; p++)
        for (size_t i = 0; i < em_list_len(parts->items[p]); i++) {
            em_value key = em_key(em_list_get(parts->items[p], i));
            cr_assert_eq(em__shuffle_partition_of(placed->shuffles[0], key), (int)p);
        }
}

Test(rdd_shuffle, partition_by_rejects_a_record_that_is_not_a_pair)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), x", 1);
    g_autoptr(em_rdd) placed = em_rdd_partition_by(pairs, 1);
    g_autofree char *msg = failure(placed);
    cr_assert_str_eq(msg, "Job aborted: stage 1, partition 0: partitionBy failed: record x is not "
                          "a (key, value) pair");
}

/* ---- sortByKey ---- */

/* 100 distinct int keys, scrambled, in 3 slices. */
static em_rdd *scrambled_keys(void)
{
    g_autoptr(em_values) in = em__values_new();
    for (int i = 0; i < 100; i++)
        em__values_append(in, em_pair_in(in->arena, em_int(i * 37 % 100), em_int(i)));
    return em_parallelize(sc, in->items, in->n, 3);
}

/* The first and last key of each partition: [Array((0,24)), ...] as (first,last) pairs. */
static char *key_ranges(em_rdd *rdd)
{
    g_autoptr(em_rdd) glom = em_rdd_glom(rdd);
    g_autoptr(em_values) parts = collect(glom);
    GString *out = g_string_new(NULL);
    for (size_t p = 0; p < parts->n; p++) {
        em_value part = parts->items[p];
        size_t n = em_list_len(part);
        g_string_append(out, p ? " " : "");
        if (n)
            g_string_append_printf(out, "%" PRId64 "..%" PRId64,
                                   em_as_int(em_key(em_list_get(part, 0))),
                                   em_as_int(em_key(em_list_get(part, n - 1))));
        else
            g_string_append(out, "-");
    }
    return g_string_free(out, FALSE);
}

Test(rdd_shuffle, sort_by_key_ascending_gives_each_partition_a_contiguous_range)
{
    g_autoptr(em_rdd) pairs = scrambled_keys();
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, true, 4);
    cr_assert_eq(em_rdd_num_partitions(ordered), 4);
    g_autoptr(em_values) out = collect(ordered);
    cr_assert_eq(out->n, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(em_as_int(em_key(out->items[i])), i);
    /* Every key is sampled: the bounds split them exactly in four. */
    g_autofree char *ranges = key_ranges(ordered);
    cr_assert_str_eq(ranges, "0..24 25..49 50..74 75..99");
}

Test(rdd_shuffle, sort_by_key_descending_puts_the_largest_keys_first)
{
    g_autoptr(em_rdd) pairs = scrambled_keys();
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, false, 4);
    g_autoptr(em_values) out = collect(ordered);
    cr_assert_eq(out->n, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(em_as_int(em_key(out->items[i])), 99 - i);
    g_autofree char *ranges = key_ranges(ordered);
    cr_assert_str_eq(ranges, "99..75 74..50 49..25 24..0");
}

Test(rdd_shuffle, sort_by_key_defaults_to_the_parent_partition_count)
{
    g_autoptr(em_rdd) pairs = scrambled_keys();
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key(pairs, true);
    cr_assert_eq(em_rdd_num_partitions(ordered), 3);
    g_autofree char *ranges = key_ranges(ordered);
    cr_assert_str_eq(ranges, "0..33 34..66 67..99");
}

Test(rdd_shuffle, sort_by_key_orders_strings_bytewise_including_unicode)
{
    g_autoptr(em_rdd) pairs =
        parse(sc, "(b,1), (é,2), (a,3), (Z,4), (ä,5), (aa,6), (\"\",7), (z,8), (日本,9)", 3);
    g_autoptr(em_rdd) up = em_rdd_sort_by_key_n(pairs, true, 3);
    g_autofree char *asc = collected(up);
    cr_assert_str_eq(asc, "[(,7), (Z,4), (a,3), (aa,6), (b,1), (z,8), (ä,5), (é,2), (日本,9)]");
    g_autoptr(em_rdd) down = em_rdd_sort_by_key_n(pairs, false, 2);
    g_autofree char *desc = collected(down);
    cr_assert_str_eq(desc, "[(日本,9), (é,2), (ä,5), (z,8), (b,1), (aa,6), (a,3), (Z,4), (,7)]");
}

Test(rdd_shuffle, sort_by_key_orders_tuples_field_by_field)
{
    g_autoptr(em_rdd) pairs =
        parse(sc, "((1,b),1), ((0,z),2), ((1,a),3), ((1,a,x),4), ((2,a),5), ((1,a),6)", 2);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, true, 3);
    g_autoptr(em_values) out = collect(ordered);
    g_autofree char *text = em_values_to_string(out);
    /* Equal keys keep no particular order: compare the keys alone. */
    const char *keys[] = {"(0,z)", "(1,a)", "(1,a)", "(1,a,x)", "(1,b)", "(2,a)"};
    cr_assert_eq(out->n, G_N_ELEMENTS(keys), "%s", text);
    for (size_t i = 0; i < out->n; i++) {
        g_autofree char *key = em_value_to_string(em_key(out->items[i]));
        cr_assert_str_eq(key, keys[i], "%s", text);
    }
}

Test(rdd_shuffle, sort_by_key_with_fewer_keys_than_partitions_leaves_some_empty)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(b,1), (a,2), (b,3), (a,4)", 2);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, true, 5);
    cr_assert_eq(em_rdd_num_partitions(ordered), 5);
    g_autoptr(em_values) out = collect(ordered);
    cr_assert_eq(out->n, 4);
    for (size_t i = 0; i < out->n; i++)
        cr_assert(em_value_equal(em_key(out->items[i]), em_str(i < 2 ? "a" : "b")));
    g_autoptr(em_rdd) glom = em_rdd_glom(ordered);
    g_autoptr(em_values) parts = collect(glom);
    cr_assert_eq(parts->n, 5);
    size_t nonempty = 0;
    for (size_t p = 0; p < parts->n; p++)
        nonempty += em_list_len(parts->items[p]) > 0;
    cr_assert_eq(nonempty, 2, "each key in one partition of its own");
}

Test(rdd_shuffle, sort_by_key_of_an_empty_rdd_is_empty)
{
    g_autoptr(em_rdd) none = em_empty_rdd(sc);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(none, true, 3);
    g_autofree char *text = partitions(ordered);
    cr_assert_str_eq(text, "[Array(), Array(), Array()]");
    g_autoptr(em_rdd) blank = parse(sc, "", 2);
    g_autoptr(em_rdd) ordered2 = em_rdd_sort_by_key(blank, false);
    g_autofree char *text2 = partitions(ordered2);
    cr_assert_str_eq(text2, "[Array(), Array()]");
}

Test(rdd_shuffle, sort_by_key_balances_a_large_input_from_a_bounded_sample)
{
    /* 40000 keys, far more than the sample (20 per output partition, 3x oversampled), each
     * input partition ascending: only a sample of the whole partition (not its first keys)
     * finds bounds near 10000, 20000 and 30000. */
    g_autoptr(em_values) in = em__values_new();
    for (int i = 0; i < 40000; i++)
        em__values_append(in, em_pair_in(in->arena, em_int(i), em_int(-i)));
    g_autoptr(em_rdd) pairs = em_parallelize(sc, in->items, in->n, 4);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, true, 4);
    g_autoptr(em_rdd) glom = em_rdd_glom(ordered);
    g_autoptr(em_values) parts = collect(glom);
    cr_assert_eq(parts->n, 4);
    int64_t next = 0;
    for (size_t p = 0; p < parts->n; p++) {
        em_value part = parts->items[p];
        size_t n = em_list_len(part);
        cr_assert(n > 7000 && n < 13000, "partition %zu has %zu records", p, n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(em_as_int(em_key(em_list_get(part, i))), next++);
    }
    cr_assert_eq(next, 40000);
}

static bool thin_out_the_last_quarter(em_value kv, void *ud)
{
    (void)ud;
    return em_as_int(em_key(kv)) < 30000 || em_as_int(em_key(kv)) % 10 == 0;
}

Test(rdd_shuffle, sort_by_key_weighs_each_sample_by_its_partition_size)
{
    /* Three partitions of 10000 keys and one of 1000 give equal-sized samples: unweighted,
     * the small one would take a quarter of the bounds. */
    g_autoptr(em_values) in = em__values_new();
    for (int i = 0; i < 40000; i++)
        em__values_append(in, em_pair_in(in->arena, em_int(i), em_int(-i)));
    g_autoptr(em_rdd) pairs = em_parallelize(sc, in->items, in->n, 4);
    g_autoptr(em_rdd) uneven = em_rdd_filter(pairs, thin_out_the_last_quarter);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(uneven, true, 4);
    g_autoptr(em_rdd) glom = em_rdd_glom(ordered);
    g_autoptr(em_values) parts = collect(glom);
    cr_assert_eq(parts->n, 4);
    for (size_t p = 0; p < parts->n; p++) {
        size_t n = em_list_len(parts->items[p]);
        cr_assert(n > 31000 / 4 * 2 / 3 && n < 31000 / 4 * 4 / 3, "partition %zu has %zu", p, n);
    }
}

static em_value fail_on_three(em_value v, void *ud)
{
    (void)ud;
    if (em_as_int(em_val(v)) == 3)
        return em_fail("bad value 3");
    return v;
}

Test(rdd_shuffle, sort_by_key_fails_with_the_error_of_its_sampling_job)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (b,2), (c,3), (d,4)", 2);
    g_autoptr(em_rdd) checked = em_rdd_map(pairs, fail_on_three);
    /* The sketch runs here, as stage 0. */
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(checked, true, 2);
    cr_assert_eq(em_rdd_num_partitions(ordered), 2);
    g_autofree char *msg = failure(ordered);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 1: map (fail_on_three) failed: "
                          "bad value 3");
}

Test(rdd_shuffle, sort_by_key_rejects_a_record_that_is_not_a_pair)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), 2", 1);
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, true, 2);
    g_autofree char *msg = failure(ordered);
    cr_assert_str_eq(msg, "Job aborted: stage 0, partition 0: sortByKey failed: record 2 is not a "
                          "(key, value) pair");
}

/* ---- Property: every by-key operator against a reference, for any partitioning ---- */

static const char *const key_strings[] = {"k0", "k1", "k2", "ключ", "", "日本"};

/* n random (key, int) pairs: int keys 0..9 and a few strings. */
static em_values *random_pairs(GRand *rand, size_t n)
{
    em_values *vals = em__values_new();
    for (size_t i = 0; i < n; i++) {
        int k = g_rand_int_range(rand, 0, 10 + (int)G_N_ELEMENTS(key_strings));
        em_value key = k < 10 ? em_int(k) : em_str(key_strings[k - 10]);
        em__values_append(vals,
                          em_pair_in(vals->arena, key, em_int(g_rand_int_range(rand, -5, 6))));
    }
    return vals;
}

/* The reference results, from the input sorted by (key, value): equal keys run together. */
static char *reference(const em_values *in, const em_values *other, const char *op)
{
    g_autoptr(em_values) sorted_in = em__values_new();
    for (size_t i = 0; i < in->n; i++)
        em__values_append(sorted_in, in->items[i]);
    em_values_sort(sorted_in);
    g_autoptr(em_values) out = em__values_new();
    em_arena *a = out->arena;
    const em_value *items = sorted_in->items;
    for (size_t i = 0, j; i < sorted_in->n; i = j) {
        em_value key = em_key(items[i]);
        int64_t sum = 0;
        for (j = i; j < sorted_in->n && em_value_equal(em_key(items[j]), key); j++)
            sum += em_as_int(em_val(items[j]));
        if (strcmp(op, "reduce") == 0) {
            em__values_append(out, em_pair_in(a, key, em_int(sum)));
        } else if (strcmp(op, "count") == 0) {
            em__values_append(out, em_pair_in(a, key, em_int((int64_t)(j - i))));
        } else if (strcmp(op, "group") == 0) {
            em_value *vs = em_arena_alloc(a, (j - i) * sizeof *vs);
            for (size_t k = i; k < j; k++)
                vs[k - i] = em_val(items[k]);
            em__values_append(out, em_pair_in(a, key, em_list_in(a, vs, j - i, EM_BUFFER)));
        } else if (strcmp(op, "distinct") == 0) {
            for (size_t k = i; k < j; k++)
                if (k == i || !em_value_equal(items[k], items[k - 1]))
                    em__values_append(out, items[k]);
        } else if (strcmp(op, "join") == 0) {
            for (size_t k = i; k < j; k++)
                for (size_t m = 0; m < other->n; m++)
                    if (em_value_equal(em_key(other->items[m]), key))
                        em__values_append(out, em_pair_in(a, key,
                                                          em_pair_in(a, em_val(items[k]),
                                                                     em_val(other->items[m]))));
        }
    }
    return em_values_to_string(em_values_sort(out));
}

/* groupByKey's result with each buffer sorted. */
static char *sorted_groups(em_rdd *groups)
{
    g_autoptr(em_values) out = collect(groups);
    for (size_t i = 0; i < out->n; i++) {
        em_value vs = em_val(out->items[i]);
        g_autoptr(em_values) tmp = em__values_new();
        for (size_t k = 0; k < em_list_len(vs); k++)
            em__values_append(tmp, em_list_get(vs, k));
        em_values_sort(tmp);
        out->items[i] = em_pair_in(out->arena, em_key(out->items[i]),
                                   em_list_in(out->arena, tmp->items, tmp->n, EM_BUFFER));
    }
    return em_values_to_string(em_values_sort(out));
}

/* Compares and frees two texts. */
static void expect_same(char *got, char *want, const char *what, const char *where)
{
    cr_assert_str_eq(got, want, "%s %s", what, where);
    g_free(got);
    g_free(want);
}

static void check_operators(em_context *ctx, const em_values *in, const em_values *other,
                            int parts, const char *where)
{
    g_autoptr(em_rdd) pairs = em_parallelize(ctx, in->items, in->n, parts);
    g_autoptr(em_rdd) others = em_parallelize(ctx, other->items, other->n, parts % 3 + 1);

    g_autoptr(em_rdd) sums = em_rdd_reduce_by_key_n(pairs, em_sum, parts);
    expect_same(sorted(sums), reference(in, NULL, "reduce"), "reduceByKey", where);

    g_autoptr(em_rdd) groups = em_rdd_group_by_key_n(pairs, parts);
    expect_same(sorted_groups(groups), reference(in, NULL, "group"), "groupByKey", where);

    g_autoptr(em_rdd) keys = em_rdd_keys(pairs);
    g_autoptr(em_rdd) ones = em_rdd_map(keys, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key(ones, em_sum);
    expect_same(sorted(counts), reference(in, NULL, "count"), "count by key", where);
    GError *err = NULL;
    g_autoptr(em_values) counted = em_rdd_count_by_key(pairs, &err);
    cr_assert_not_null(counted, "%s", err ? err->message : "");
    expect_same(em_values_to_string(counted), reference(in, NULL, "count"), "countByKey", where);

    g_autoptr(em_rdd) joined = em_rdd_join(pairs, others);
    expect_same(sorted(joined), reference(in, other, "join"), "join", where);

    g_autoptr(em_rdd) once = em_rdd_distinct_n(pairs, parts);
    expect_same(sorted(once), reference(in, NULL, "distinct"), "distinct", where);

    bool ascending = parts % 2 == 1;
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key_n(pairs, ascending, parts);
    g_autoptr(em_values) got = collect(ordered);
    for (size_t i = 1; i < got->n; i++) {
        int c = em_value_compare(em_key(got->items[i - 1]), em_key(got->items[i]));
        cr_assert(ascending ? c <= 0 : c >= 0, "sortByKey order %s at %zu", where, i);
    }
    g_autoptr(em_values) want = em__values_new();
    for (size_t i = 0; i < in->n; i++)
        em__values_append(want, in->items[i]);
    expect_same(em_values_to_string(em_values_sort(got)),
                em_values_to_string(em_values_sort(want)), "sortByKey records", where);
}

Test(rdd_shuffle, every_by_key_operator_agrees_with_a_reference_for_any_partitioning)
{
    const char *masters[] = {"local[1]", "local[2]", "local[4]"};
    const int counts[] = {1, 2, 3, 7};
    for (guint32 seed = 1; seed <= 6; seed++) {
        GRand *rand = g_rand_new_with_seed(seed);
        /* Seed 1 draws an empty input; the others up to 500 records. */
        size_t n = seed == 1 ? 0 : (size_t)g_rand_int_range(rand, 1, 500);
        g_autoptr(em_values) in = random_pairs(rand, n);
        g_autoptr(em_values) other = random_pairs(rand, g_rand_int_range(rand, 0, 40));
        g_rand_free(rand);
        for (size_t m = 0; m < G_N_ELEMENTS(masters); m++) {
            em_context *ctx = em_context_new(masters[m], "property", NULL);
            for (size_t c = 0; c < G_N_ELEMENTS(counts); c++) {
                g_autofree char *where =
                    g_strdup_printf("(seed %u, %s, %d partitions)", seed, masters[m], counts[c]);
                check_operators(ctx, in, other, counts[c], where);
            }
            em_context_free(ctx);
        }
    }
}
