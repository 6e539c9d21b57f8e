/* Broadcast variables and accumulators on local[2]: tasks on two threads read the broadcast
 * and add to accumulators, the driver reads exact sums; reading an accumulator inside a task
 * is refused as Spark refuses it. */
#include <criterion/criterion.h>

#include "core-private.h"

#include "../streaming/criticals.h"

static em_context *sc;

static void setup(void) { sc = em_context_new("local[2]", "shared", NULL); }
static void teardown(void) { em_context_free(sc); }

TestSuite(shared, .init = setup, .fini = teardown);

static em_rdd *words(const char *text, int slices)
{
    em_rdd *rdd = em_parallelize_text(sc, text, slices, NULL);
    cr_assert_not_null(rdd);
    return rdd;
}

static bool not_blacklisted(em_value v, void *ud) { return !em_broadcast_contains(ud, v); }

Test(shared, tasks_read_a_deep_copy_of_the_broadcast_value)
{
    em_arena *mine = em_arena_new();
    em_value list =
        em_list_in(mine, (em_value[]){em_str_dup_in(mine, "a", 1), em_str_dup_in(mine, "the", 3)},
                   2, EM_LIST);
    em_broadcast *blacklist = em_broadcast_new(sc, list);
    em_arena_free(mine); /* the broadcast keeps its own copy */
    g_autofree char *text = em_value_to_string(em_broadcast_value(blacklist));
    cr_assert_str_eq(text, "List(a, the)");
    g_autoptr(em_rdd) in = words("the, cat, a, hat, the, end", 3);
    g_autoptr(em_rdd) kept = em_rdd_filter_full(in, not_blacklisted, blacklist, NULL, "filter");
    g_autoptr(em_values) got = em_rdd_collect(kept, NULL);
    g_autofree char *out = em_values_to_string(got);
    cr_assert_str_eq(out, "[cat, hat, end]");
    cr_assert(em_broadcast_contains(blacklist, em_str("the")));
    cr_assert_not(em_broadcast_contains(blacklist, em_str("List(a, the)")));
    em_broadcast *second = em_broadcast_new(sc, em_str("x"));
    cr_assert_eq(em_broadcast_id(second), em_broadcast_id(blacklist) + 1);
    cr_assert(em_broadcast_contains(second, em_str("x")), "a scalar contains itself");
    em_broadcast_unref(em_broadcast_ref(second));
    em_broadcast_unref(second);
    em_broadcast_unref(blacklist);
}

static void add_value(em_value v, void *ud) { em_accumulator_add(ud, v); }

static em_rdd *numbers(int n)
{
    em_value *vals = g_new(em_value, n);
    for (int i = 0; i < n; i++)
        vals[i] = em_int(i + 1);
    em_rdd *rdd = em_parallelize(sc, vals, (size_t)n, 8);
    g_free(vals);
    return rdd;
}

Test(shared, a_long_accumulator_sums_what_tasks_add_on_two_threads)
{
    g_autoptr(em_accumulator) acc = em_long_accumulator(sc, "total");
    g_autoptr(em_rdd) rdd = numbers(10000);
    cr_assert(em_rdd_foreach(rdd, add_value, acc, NULL));
    cr_assert_eq(em_accumulator_long(acc), 50005000); /* 10000 * 10001 / 2 */
    cr_assert_eq(em_accumulator_count(acc), 10000);
    cr_assert_str_eq(em_accumulator_name(acc), "total");
    cr_assert_eq(em_accumulator_get_kind(acc), EM_ACC_LONG);
    em_accumulator_reset(acc);
    cr_assert_eq(em_accumulator_long(acc), 0);
    cr_assert_eq(em_accumulator_count(acc), 0);
}

static void add_half(em_value v, void *ud)
{
    (void)v;
    em_accumulator_add_double(ud, 0.5);
}

Test(shared, a_double_accumulator_sums_exactly_representable_values_exactly)
{
    g_autoptr(em_accumulator) acc = em_double_accumulator(sc, NULL);
    g_autoptr(em_rdd) rdd = numbers(4096);
    cr_assert(em_rdd_foreach(rdd, add_half, acc, NULL));
    cr_assert_eq(em_accumulator_double(acc), 2048.0);
    cr_assert_eq(em_accumulator_count(acc), 4096);
    cr_assert_null(em_accumulator_name(acc));
}

Test(shared, a_collection_accumulator_keeps_every_value_added)
{
    g_autoptr(em_accumulator) acc = em_collection_accumulator(sc, "seen");
    g_autoptr(em_rdd) rdd = words("(b,1), a, (c,(d,2)), a", 4);
    cr_assert(em_rdd_foreach(rdd, add_value, acc, NULL));
    g_autoptr(em_values) got = em_values_sort(em_accumulator_collection(acc));
    g_autofree char *text = em_values_to_string(got);
    cr_assert_str_eq(text, "[a, a, (b,1), (c,(d,2))]");
    cr_assert_eq(em_accumulator_count(acc), 4);
}

static void read_inside(em_value v, void *ud)
{
    (void)v;
    em_accumulator_add_long(ud, em_accumulator_long(ud) + 1); /* reads 0: refused */
}

Test(shared, reading_an_accumulator_inside_a_task_is_refused)
{
    capture_criticals();
    g_autoptr(em_accumulator) acc = em_long_accumulator(sc, "dropped");
    g_autoptr(em_rdd) rdd = numbers(3);
    cr_assert(em_rdd_foreach(rdd, read_inside, acc, NULL));
    assert_critical("accumulator dropped cannot be read inside a task, only on the driver");
    cr_assert_eq(em_accumulator_long(acc), 3, "each add saw 0");
}

Test(shared, adding_a_string_to_a_numeric_accumulator_is_refused)
{
    capture_criticals();
    g_autoptr(em_accumulator) acc = em_long_accumulator(sc, "n");
    em_accumulator_add(acc, em_str("x"));
    assert_critical("accumulator n adds numbers, not a string");
    em_accumulator_add(acc, em_double(2.9));
    cr_assert_eq(em_accumulator_long(acc), 2, "a double added to a long one is truncated");
    cr_assert_eq(em_accumulator_count(acc), 1);
}
