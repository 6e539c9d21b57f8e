/* cogroup and the joins built on it: Spark's output shapes, duplicate keys on both sides, keys
 * on one side only, empty sides, partition counts, deterministic order, and failures. */
#include <criterion/criterion.h>

#include "rdd-fixture.h"

static em_context *sc;

static void setup(void) { sc = em_context_new("local[2]", "test", NULL); }
static void teardown(void) { em_context_free(sc); }

TestSuite(rdd_join, .init = setup, .fini = teardown);

/* Checks that rdd's records, sorted, print as want, and frees rdd. */
static void expect(em_rdd *rdd, const char *want)
{
    g_autofree char *got = sorted(rdd);
    cr_assert_str_eq(got, want);
    em_rdd_unref(rdd);
}

/* Two sides: a twice on each (a cross product of four), b on both, c left only, d right only. */
#define LEFT "(a,1), (a,2), (b,3), (c,4)"
#define RIGHT "(a,x), (b,z), (a,y), (d,w)"

Test(rdd_join, join_pairs_every_value_of_one_side_with_every_value_of_the_other)
{
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    expect(em_rdd_join(left, right), "[(a,(1,x)), (a,(1,y)), (a,(2,x)), (a,(2,y)), (b,(3,z))]");
}

Test(rdd_join, left_outer_join_keeps_unmatched_keys_with_none)
{
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    expect(em_rdd_left_outer_join(left, right),
           "[(a,(1,Some(x))), (a,(1,Some(y))), (a,(2,Some(x))), (a,(2,Some(y))), "
           "(b,(3,Some(z))), (c,(4,None))]");
}

Test(rdd_join, right_outer_join_keeps_unmatched_keys_of_the_other_side_with_none)
{
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    expect(em_rdd_right_outer_join(left, right),
           "[(a,(Some(1),x)), (a,(Some(1),y)), (a,(Some(2),x)), (a,(Some(2),y)), "
           "(b,(Some(3),z)), (d,(None,w))]");
}

Test(rdd_join, full_outer_join_keeps_unmatched_keys_of_both_sides)
{
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    expect(em_rdd_full_outer_join(left, right),
           "[(a,(Some(1),Some(x))), (a,(Some(1),Some(y))), (a,(Some(2),Some(x))), "
           "(a,(Some(2),Some(y))), (b,(Some(3),Some(z))), (c,(Some(4),None)), "
           "(d,(None,Some(w)))]");
}

Test(rdd_join, cogroup_gives_every_key_of_either_side_both_buffers)
{
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    expect(em_rdd_cogroup(left, right),
           "[(a,(CompactBuffer(1, 2),CompactBuffer(x, y))), "
           "(b,(CompactBuffer(3),CompactBuffer(z))), (c,(CompactBuffer(4),CompactBuffer())), "
           "(d,(CompactBuffer(),CompactBuffer(w)))]");
}

Test(rdd_join, subtract_by_key_keeps_the_records_whose_key_the_other_lacks)
{
    g_autoptr(em_rdd) left = parse(sc, "(a,1), (c,4), (c,5), (e,6), (a,7), (e,6)", 2);
    g_autoptr(em_rdd) right = parse(sc, "(a,x), (b,y), (a,z)", 3);
    expect(em_rdd_subtract_by_key(left, right), "[(c,4), (c,5), (e,6), (e,6)]");
}

Test(rdd_join, output_order_within_a_partition_is_deterministic)
{
    /* Keys in Spark's order (its AppendOnlyMap's over the keys as the map outputs meet them,
     * left side first), values in map order. */
    g_autoptr(em_rdd) left = parse(sc, LEFT, 2);
    g_autoptr(em_rdd) right = parse(sc, RIGHT, 3);
    for (int run = 0; run < 5; run++) {
        g_autoptr(em_rdd) joined = em_rdd_full_outer_join_n(left, right, 1);
        g_autofree char *text = collected(joined);
        cr_assert_str_eq(text,
                         "[(d,(None,Some(w))), (a,(Some(1),Some(x))), "
                         "(a,(Some(1),Some(y))), (a,(Some(2),Some(x))), "
                         "(a,(Some(2),Some(y))), (b,(Some(3),Some(z))), (c,(Some(4),None))]");
        g_autoptr(em_rdd) left_only = em_rdd_subtract_by_key_n(left, right, 1);
        g_autofree char *rest = collected(left_only);
        cr_assert_str_eq(rest, "[(c,4)]");
    }
}

Test(rdd_join, many_values_per_key_on_both_sides_give_the_whole_cross_product)
{
    g_autoptr(em_rdd) left = parse(sc, "(k,1), (k,2), (k,3), (j,0)", 3);
    g_autoptr(em_rdd) right = parse(sc, "(k,a), (k,b), (k,c), (k,d)", 2);
    g_autoptr(em_rdd) joined = em_rdd_join(left, right);
    g_autoptr(em_values) out = collect(joined);
    cr_assert_eq(out->n, 12);
    g_autofree char *text = em_values_to_string(em_values_sort(out));
    cr_assert_str_eq(text, "[(k,(1,a)), (k,(1,b)), (k,(1,c)), (k,(1,d)), (k,(2,a)), (k,(2,b)), "
                           "(k,(2,c)), (k,(2,d)), (k,(3,a)), (k,(3,b)), (k,(3,c)), (k,(3,d))]");
}

Test(rdd_join, an_empty_side_gives_what_spark_gives)
{
    g_autoptr(em_rdd) left = parse(sc, "(a,1), (b,2), (a,3)", 2);
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    g_autoptr(em_rdd) blank = parse(sc, "", 3); /* three empty partitions */
    em_rdd *nothing[] = {empty, blank};
    for (size_t i = 0; i < G_N_ELEMENTS(nothing); i++) {
        em_rdd *none = nothing[i];
        expect(em_rdd_join(left, none), "[]");
        expect(em_rdd_join(none, left), "[]");
        expect(em_rdd_left_outer_join(left, none), "[(a,(1,None)), (a,(3,None)), (b,(2,None))]");
        expect(em_rdd_left_outer_join(none, left), "[]");
        expect(em_rdd_right_outer_join(none, left), "[(a,(None,1)), (a,(None,3)), (b,(None,2))]");
        expect(em_rdd_right_outer_join(left, none), "[]");
        expect(em_rdd_full_outer_join(none, left),
               "[(a,(None,Some(1))), (a,(None,Some(3))), (b,(None,Some(2)))]");
        expect(em_rdd_cogroup(left, none), "[(a,(CompactBuffer(1, 3),CompactBuffer())), "
                                           "(b,(CompactBuffer(2),CompactBuffer()))]");
        expect(em_rdd_subtract_by_key(left, none), "[(a,1), (a,3), (b,2)]");
        expect(em_rdd_subtract_by_key(none, left), "[]");
        expect(em_rdd_cogroup(none, none), "[]");
    }
}

Test(rdd_join, default_partition_count_is_the_larger_parents_and_subtract_by_key_keeps_its_own)
{
    g_autoptr(em_rdd) three = parse(sc, "(a,1), (b,2)", 3);
    g_autoptr(em_rdd) five = parse(sc, "(a,x)", 5);
    g_autoptr(em_rdd) empty = em_empty_rdd(sc);
    em_rdd *made[] = {em_rdd_join(three, five),
                      em_rdd_join(five, three),
                      em_rdd_left_outer_join(three, five),
                      em_rdd_right_outer_join(three, five),
                      em_rdd_full_outer_join(five, three),
                      em_rdd_cogroup(three, five),
                      em_rdd_subtract_by_key(three, five),
                      em_rdd_subtract_by_key(five, three),
                      em_rdd_cogroup(empty, empty)};
    const int want[] = {5, 5, 5, 5, 5, 5, 3, 5, 1};
    for (size_t i = 0; i < G_N_ELEMENTS(made); i++) {
        cr_assert_eq(em_rdd_num_partitions(made[i]), want[i], "rdd %zu", i);
        em_rdd_unref(made[i]);
    }
}

Test(rdd_join, an_explicit_partition_count_is_where_the_keys_land)
{
    /* Keys 0..59 on a side of 3 partitions, 30..89 on a side of 5, into 4 partitions: each
     * operator's records spread over all four, each key in its hash partition. */
    g_autoptr(em_values) l = em__values_new(), r = em__values_new();
    for (int i = 0; i < 60; i++) {
        em__values_append(l, em_pair_in(l->arena, em_int(i), em_int(i * 10)));
        em__values_append(r, em_pair_in(r->arena, em_int(i + 30), em_int(-i)));
    }
    g_autoptr(em_rdd) left = em_parallelize(sc, l->items, l->n, 3);
    g_autoptr(em_rdd) right = em_parallelize(sc, r->items, r->n, 5);
    em_rdd *made[] = {em_rdd_join_n(left, right, 4),
                      em_rdd_left_outer_join_n(left, right, 4),
                      em_rdd_right_outer_join_n(left, right, 4),
                      em_rdd_full_outer_join_n(left, right, 4),
                      em_rdd_cogroup_n(left, right, 4),
                      em_rdd_subtract_by_key_n(left, right, 4)};
    const size_t want[] = {30, 60, 60, 90, 90, 30};
    for (size_t o = 0; o < G_N_ELEMENTS(made); o++) {
        cr_assert_eq(em_rdd_num_partitions(made[o]), 4);
        g_autoptr(em_rdd) glom = em_rdd_glom(made[o]);
        g_autoptr(em_values) parts = collect(glom);
        cr_assert_eq(parts->n, 4);
        size_t total = 0;
        for (size_t p = 0; p < parts->n; p++) {
            size_t n = em_list_len(parts->items[p]);
            cr_assert_gt(n, 0, "operator %zu: partition %zu is empty", o, p);
            for (size_t i = 0; i < n; i++) {
                em_value key = em_key(em_list_get(parts->items[p], i));
                cr_assert_eq(em__shuffle_partition_of(made[o]->shuffles[0], key), (int)p);
            }
            total += n;
        }
        cr_assert_eq(total, want[o], "operator %zu", o);
        em_rdd_unref(made[o]);
    }
}

Test(rdd_join, keys_match_on_every_byte_of_binary_and_unicode_strings)
{
    const em_value l[] = {
        em_pair_in(em_scratch(), em_strn("k\0a", 3), em_int(1)),
        em_pair_in(em_scratch(), em_strn("k\0b", 3), em_int(2)),
        em_pair_in(em_scratch(), em_strn("k", 1), em_int(3)),
        em_pair_in(em_scratch(), em_str("schön"), em_int(4)),
    };
    const em_value r[] = {
        em_pair_in(em_scratch(), em_strn("k\0a", 3), em_str("A")),
        em_pair_in(em_scratch(), em_strn("k\0", 2), em_str("B")),
        em_pair_in(em_scratch(), em_str("scho\xcc\x88n"), em_str("C")), /* decomposed ö */
        em_pair_in(em_scratch(), em_str("schön"), em_str("D")),
    };
    g_autoptr(em_rdd) left = em_parallelize(sc, l, G_N_ELEMENTS(l), 2);
    g_autoptr(em_rdd) right = em_parallelize(sc, r, G_N_ELEMENTS(r), 3);
    em_scratch_reset();
    g_autoptr(em_rdd) joined = em_rdd_join(left, right);
    g_autoptr(em_values) out = collect(joined);
    em_values_sort(out);
    cr_assert_eq(out->n, 2);
    cr_assert(em_value_equal(em_key(out->items[0]), em_strn("k\0a", 3)));
    g_autofree char *first = em_value_to_string(em_val(out->items[0]));
    cr_assert_str_eq(first, "(1,A)");
    g_autofree char *second = em_value_to_string(out->items[1]);
    cr_assert_str_eq(second, "(schön,(4,D))");
}

Test(rdd_join, a_self_join_pairs_an_rdd_with_itself)
{
    g_autoptr(em_rdd) pairs = parse(sc, "(a,1), (a,2), (b,3)", 2);
    expect(em_rdd_join(pairs, pairs), "[(a,(1,1)), (a,(1,2)), (a,(2,1)), (a,(2,2)), (b,(3,3))]");
}

Test(rdd_join, a_record_that_is_not_a_pair_fails_the_join_naming_it)
{
    g_autoptr(em_rdd) left = parse(sc, "(a,1)", 1);
    g_autoptr(em_rdd) right = parse(sc, "(a,2), 5", 1);
    g_autoptr(em_rdd) joined = em_rdd_join_n(left, right, 1);
    GError *err = NULL;
    cr_assert_null(em_rdd_collect(joined, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    /* Stages 0 and 1 are the two map sides; the reduce stage meets the record. */
    cr_assert_str_eq(err->message, "Job aborted: stage 2, partition 0: join failed: record 5 is "
                                   "not a (key, value) pair");
    g_error_free(err);
}

Test(rdd_join, lineage_shows_both_shuffle_parents)
{
    g_autoptr(em_rdd) left = parse(sc, "(a,1)", 2);
    g_autoptr(em_rdd) right = parse(sc, "(a,2)", 3);
    g_autoptr(em_rdd) grouped = em_rdd_cogroup(left, right);
    g_autofree char *text = em_rdd_debug_string(grouped);
    g_autofree char *want = g_strdup_printf("(3) CoGroupedRDD[%d] at cogroup []\n"
                                            " +-(2) ParallelCollectionRDD[%d] at parallelize []\n"
                                            " +-(3) ParallelCollectionRDD[%d] at parallelize []",
                                            em_rdd_id(grouped), em_rdd_id(left), em_rdd_id(right));
    cr_assert_str_eq(text, want);
}
