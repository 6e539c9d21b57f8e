/* mapWithState, as Spark's MapWithStateSuite checks it: mapped output, state snapshots, state
 * removal, idle timeouts (first batch at or after last update + timeout) and initial state. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

#include "criticals.h"
#include "queue-fixture.h"

static const char *const input[] = {"", "a", "a, b", "a, b, c", "a, b", "a", ""};

/* Spark's "basic operations with simple API": a running count, returned. */
static em_value running_count(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)key, (void)ud;
    int64_t sum = (value.type == EM_T_NONE ? 0 : em_as_int(value)) +
                  (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_state_update(state, em_int(sum));
    return em_int(sum);
}

typedef struct {
    em_mapping_fn fn;
    em_duration timeout;
    bool snapshots;
    em_rdd *initial;
} spec_args;

static em_dstream *op_map_with_state(em_dstream *const *in, void *ud)
{
    const spec_args *a = ud;
    em_dstream *mapped =
        em_map_with_state(em_map(in[0], em_pair_one), &(em_state_spec){.fn = a->fn,
                                                                       .timeout = a->timeout,
                                                                       .initial_state = a->initial,
                                                                       .name = "fn"});
    return a->snapshots ? em_state_snapshots(mapped) : mapped;
}

static void check(spec_args args, const char *const *in, size_t n_in, const char *const *expected,
                  size_t n_expected)
{
    GError *err = NULL;
    cr_assert(em_test_operation(in, n_in, op_map_with_state, &args, expected, n_expected, true,
                                &err),
              "%s", err ? err->message : "");
}

Test(map_state, running_count_emits_the_updated_count)
{
    const char *expected[] = {"", "1", "2, 1", "3, 2, 1", "4, 3", "5", ""};
    check((spec_args){running_count, 0, false, NULL}, input, 7, expected, 7);
}

Test(map_state, snapshots_give_the_whole_table_after_each_batch)
{
    const char *expected[] = {"",
                              "(a,1)",
                              "(a,2), (b,1)",
                              "(a,3), (b,2), (c,1)",
                              "(a,4), (b,3), (c,1)",
                              "(a,5), (b,3), (c,1)",
                              "(a,5), (b,3), (c,1)"};
    check((spec_args){running_count, 0, true, NULL}, input, 7, expected, 7);
}

/* Spark's "state removing": present -> remove and emit the key; absent -> store the value. */
static em_value toggle(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)ud;
    if (em_state_exists(state)) {
        em_state_remove(state);
        return key;
    }
    em_state_update(state, value);
    return em_none();
}

Test(map_state, removing_state_drops_the_key)
{
    const char *in[] = {"", "a", "a, b", "a, b, c", "a, b, c", "a, b", "a"};
    const char *expected[] = {"", "", "a", "b", "a, c", "b", "a"};
    const char *snapshots[] = {"", "(a,1)", "(b,1)", "(a,1), (c,1)", "(b,1)", "(a,1)", ""};
    check((spec_args){toggle, 0, false, NULL}, in, 7, expected, 7);
    check((spec_args){toggle, 0, true, NULL}, in, 7, snapshots, 7);
}

/* Spark's "state timing out": data sets the state; a timeout emits the key. */
static em_value emit_on_timeout(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)ud;
    if (value.type != EM_T_NONE)
        em_state_update(state, em_int(1));
    return em_state_is_timing_out(state) ? key : em_none();
}

static const char *const timeout_input[] = {"a, b, c", "a, b", "a", "", "a, b", "", "", "", ""};

Test(map_state, idle_keys_time_out_at_last_update_plus_timeout)
{
    /* c: last 1000 -> out at 4000. a, b: refreshed at 5000 -> out at 8000. */
    const char *expected[] = {"", "", "", "c", "", "", "", "a, b", ""};
    const char *snapshots[] = {"(a,1), (b,1), (c,1)",
                               "(a,1), (b,1), (c,1)",
                               "(a,1), (b,1), (c,1)",
                               "(a,1), (b,1)",
                               "(a,1), (b,1)",
                               "(a,1), (b,1)",
                               "(a,1), (b,1)",
                               "",
                               ""};
    check((spec_args){emit_on_timeout, 3000, false, NULL}, timeout_input, 9, expected, 9);
    check((spec_args){emit_on_timeout, 3000, true, NULL}, timeout_input, 9, snapshots, 9);
}

static int update_refused;

static em_value update_while_timing_out(em_time t, em_value key, em_value value, em_state *state,
                                        void *ud)
{
    (void)t, (void)key, (void)ud;
    if (em_state_is_timing_out(state)) {
        cr_assert(value.type == EM_T_NONE);
        em_state_update(state, em_int(99)); /* refused */
        update_refused += em_as_int(em_state_get(state)) == 1;
        return key;
    }
    em_state_update(state, em_int(1));
    return em_none();
}

Test(map_state, updating_a_timing_out_state_is_refused_and_the_key_still_goes)
{
    const char *in[] = {"a"};
    const char *expected[] = {"", "", "a", ""};
    const char *snapshots[] = {"(a,1)", "(a,1)", "", ""};
    check((spec_args){update_while_timing_out, 2000, false, NULL}, in, 1, expected, 4);
    cr_assert_eq(update_refused, 1);
    check((spec_args){update_while_timing_out, 2000, true, NULL}, in, 1, snapshots, 4);
}

Test(map_state, initial_state_is_where_the_first_batch_starts)
{
    em_context *sc = em_context_new("local[2]", "init", NULL);
    em_rdd *initial = em_parallelize_text(sc, "(a,10), (z,5)", 2, NULL);
    em_test_batch batches[] = {{.text = "a, b"}, {.text = "z"}};
    em_test_input in = {batches, 2};
    spec_args args = {running_count, 0, true, initial};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&in, 1, op_map_with_state, &args, &(em_test_opts){.context = sc}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "[(a,11), (b,1), (z,5)]\n[(a,11), (b,1), (z,6)]\n");
    em_test_output_free(out);
    em_rdd_unref(initial);
    em_context_free(sc);
}

Test(map_state, many_keys_survive_growth_removal_and_compaction)
{
    /* 3,000 keys in, then every other one removed: tables grow, shift-delete and compact. */
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    em_arena *arena = em_arena_new();
    em_value *keys = g_new(em_value, 3000);
    for (int i = 0; i < 3000; i++) {
        char name[16];
        snprintf(name, sizeof name, "key-%05d", i);
        keys[i] = em_str_dup_in(arena, name, 9);
    }
    g_autoptr(em_rdd) all = em_parallelize(ssc->sc, keys, 3000, 4);
    g_autoptr(em_rdd) again = em_parallelize(ssc->sc, keys, 3000, 4);
    em_rdd_queue_push(q, all);
    em_rdd_queue_push(q, again);
    em_dstream *mapped =
        em_map_with_state(em_map(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL),
                                 em_pair_one),
                          &(em_state_spec){.fn = toggle, .num_partitions = 3});
    em_dstream *count = em_count(em_state_snapshots(mapped));
    FILE *devnull = fopen("/dev/null", "w");
    em_print_to(count, 1, devnull);
    cr_assert(em_ssc_start(ssc, NULL));
    int64_t keys_in_state, bytes;
    em_ssc_advance_clock(ssc, 1000);
    cr_assert(em_ssc_wait_for_batch(ssc, 1000, 30000));
    em_map_with_state_size(mapped, &keys_in_state, &bytes);
    cr_assert_eq(keys_in_state, 3000);
    em_ssc_advance_clock(ssc, 1000);
    cr_assert(em_ssc_wait_for_batch(ssc, 2000, 30000));
    em_map_with_state_size(mapped, &keys_in_state, &bytes);
    cr_assert_eq(keys_in_state, 0);
    em_ssc_free(ssc);
    fclose(devnull);
    em_rdd_queue_free(q);
    em_arena_free(arena);
    g_free(keys);
}

/* Each update stores a 4 KiB state: rewriting keys fills the table's arena with garbage. */
static em_value big_state_emit_on_timeout(em_time t, em_value key, em_value value, em_state *state,
                                          void *ud)
{
    (void)t, (void)ud;
    if (value.type != EM_T_NONE)
        em_state_update(state, em_str_printf("%4096d", 1));
    return em_state_is_timing_out(state) ? key : em_none();
}

Test(map_state, compaction_keeps_the_update_order_that_timeouts_follow)
{
    /* k50..k99 last updated at 1000, k00..k49 rewritten 20 times at 2000: the 4 MB of garbage
     * compacts each table before batch 3000, which must still find k50..k99 oldest. */
    GString *first = g_string_new(NULL), *rewrite = g_string_new(NULL);
    GString *late = g_string_new(NULL), *early = g_string_new(NULL);
    for (int i = 0; i < 100; i++) {
        g_string_append_printf(first, "%sk%02d", i ? ", " : "", i);
        g_string_append_printf(i < 50 ? early : late, "%sk%02d", i % 50 ? ", " : "", i);
        for (int r = 0; i < 50 && r < 20; r++)
            g_string_append_printf(rewrite, "%sk%02d", rewrite->len ? ", " : "", i);
    }
    const char *in[] = {first->str, rewrite->str, "", "", ""};
    const char *expected[] = {"", "", late->str, early->str, ""};
    check((spec_args){big_state_emit_on_timeout, 2000, false, NULL}, in, 5, expected, 5);
    g_string_free(first, TRUE);
    g_string_free(rewrite, TRUE);
    g_string_free(late, TRUE);
    g_string_free(early, TRUE);
}

/* ---- More of Spark's MapWithStateSuite ---- */

static const char *const running_snapshots[] = {"",
                                                "(a,1)",
                                                "(a,2), (b,1)",
                                                "(a,3), (b,2), (c,1)",
                                                "(a,4), (b,3), (c,1)",
                                                "(a,5), (b,3), (c,1)",
                                                "(a,5), (b,3), (c,1)"};

/* "basic operations with advanced API": the running count kept, the key doubled returned. */
static em_value count_and_double_key(em_time t, em_value key, em_value value, em_state *state,
                                     void *ud)
{
    running_count(t, key, value, state, ud);
    return em_str_printf("%.*s%.*s", (int)em_str_len(key), em_str_ptr(key), (int)em_str_len(key),
                         em_str_ptr(key));
}

Test(map_state, mapped_records_can_differ_from_the_state)
{
    const char *expected[] = {"", "aa", "aa, bb", "aa, bb, cc", "aa, bb", "aa", ""};
    check((spec_args){count_and_double_key, 0, false, NULL}, input, 7, expected, 7);
    check((spec_args){count_and_double_key, 0, true, NULL}, input, 7, running_snapshots, 7);
}

/* "states as mapped data": (key, count) returned. */
static em_value count_and_return_pair(em_time t, em_value key, em_value value, em_state *state,
                                      void *ud)
{
    return em_pair(key, running_count(t, key, value, state, ud));
}

Test(map_state, states_as_mapped_data)
{
    const char *expected[] =
        {"", "(a,1)", "(a,2), (b,1)", "(a,3), (b,2), (c,1)", "(a,4), (b,3)", "(a,5)", ""};
    check((spec_args){count_and_return_pair, 0, false, NULL}, input, 7, expected, 7);
    check((spec_args){count_and_return_pair, 0, true, NULL}, input, 7, running_snapshots, 7);
}

/* "initial states, with nothing returned as from mapping function". */
static em_value count_and_return_nothing(em_time t, em_value key, em_value value, em_state *state,
                                         void *ud)
{
    running_count(t, key, value, state, ud);
    return em_none();
}

static void check_with_initial(spec_args args, const char *initial_text,
                               const char *const *in_text, size_t n, const char *want)
{
    em_context *sc = em_context_new("local[2]", "init", NULL);
    args.initial = em_parallelize_text(sc, initial_text, 2, NULL);
    em_test_batch batches[16];
    cr_assert_leq(n, G_N_ELEMENTS(batches));
    for (size_t i = 0; i < n; i++)
        batches[i] = (em_test_batch){.text = in_text[i]};
    em_test_input in = {batches, n};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&in, 1, op_map_with_state, &args, &(em_test_opts){.context = sc}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, want);
    em_test_output_free(out);
    em_rdd_unref(args.initial);
    em_context_free(sc);
}

Test(map_state, initial_states_with_nothing_returned)
{
    const char *initial = "(a,5), (b,10), (c,-20), (d,0)";
    check_with_initial((spec_args){count_and_return_nothing, 0, false, NULL}, initial, input, 7,
                       "[]\n[]\n[]\n[]\n[]\n[]\n[]\n");
    check_with_initial((spec_args){count_and_return_nothing, 0, true, NULL}, initial, input, 7,
                       "[(a,5), (b,10), (c,-20), (d,0)]\n"
                       "[(a,6), (b,10), (c,-20), (d,0)]\n"
                       "[(a,7), (b,11), (c,-20), (d,0)]\n"
                       "[(a,8), (b,12), (c,-19), (d,0)]\n"
                       "[(a,9), (b,13), (c,-19), (d,0)]\n"
                       "[(a,10), (b,13), (c,-19), (d,0)]\n"
                       "[(a,10), (b,13), (c,-19), (d,0)]\n");
}

/* On data: count; on timeout: return (key, count). */
static em_value count_and_return_on_timeout(em_time t, em_value key, em_value value,
                                            em_state *state, void *ud)
{
    if (em_state_is_timing_out(state))
        return em_pair(key, em_state_get(state));
    running_count(t, key, value, state, ud);
    return em_none();
}

Test(map_state, initial_states_time_out_counted_from_the_first_batch)
{
    /* The initial state is loaded at the first batch (1 s), as Spark's createFromPairRDD stamps
     * it with the first batch time: b, idle, times out at 1 + 2 = 3 s; a, updated at 2 s, at
     * 4 s. */
    const char *in[] = {"", "a", "", "", ""};
    check_with_initial((spec_args){count_and_return_on_timeout, 2000, false, NULL},
                       "(a,5), (b,10)", in, 5, "[]\n[]\n[(b,10)]\n[(a,6)]\n[]\n");
    check_with_initial((spec_args){count_and_return_on_timeout, 2000, true, NULL}, "(a,5), (b,10)",
                       in, 5, "[(a,5), (b,10)]\n[(a,6), (b,10)]\n[(a,6)]\n[]\n[]\n");
}

Test(map_state, spark_state_timing_out_case)
{
    /* a, b, c; a, b; a; -; -; a; then a for 20 batches: b and c time out once each, a never. */
    const char *in[26] = {"a, b, c", "a, b", "a", "", "", "a"};
    for (size_t i = 6; i < 26; i++)
        in[i] = "a";
    spec_args args = {emit_on_timeout, 3000, false, NULL};
    em_test_batch batches[26];
    for (size_t i = 0; i < 26; i++)
        batches[i] = (em_test_batch){.text = in[i]};
    em_test_input input_26 = {batches, 26};
    GError *err = NULL;
    g_autoptr(em_test_output) out =
        em_test_run(&input_26, 1, op_map_with_state, &args, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *mapped = em_test_output_format(out, true);
    cr_assert_str_eq(mapped, "[]\n[]\n[]\n[c]\n[b]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n"
                             "[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n[]\n");
    args.snapshots = true;
    g_autoptr(em_test_output) snaps =
        em_test_run(&input_26, 1, op_map_with_state, &args, NULL, &err);
    cr_assert_not_null(snaps, "%s", err ? err->message : "");
    g_autofree char *first = em_values_to_string(em_values_sort(snaps->batches[0]));
    g_autofree char *last = em_values_to_string(em_values_sort(snaps->batches[25]));
    cr_assert_str_eq(first, "[(a,1), (b,1), (c,1)]");
    cr_assert_str_eq(last, "[(a,1)]");
}

/* ---- Removing a state twice, or one timing out, is refused (as Spark's StateImpl) ---- */

static int remove_refused;

static em_value remove_twice_or_while_timing_out(em_time t, em_value key, em_value value,
                                                 em_state *state, void *ud)
{
    (void)t, (void)value, (void)ud;
    if (em_state_is_timing_out(state)) {
        em_state_remove(state); /* refused: the key goes anyway */
        remove_refused += em_state_exists(state);
        return key;
    }
    if (em_state_exists(state)) {
        em_state_remove(state);
        em_state_remove(state); /* refused */
        remove_refused += !em_state_exists(state);
        return em_none();
    }
    em_state_update(state, em_int(1));
    return em_none();
}

Test(map_state, removing_a_removed_or_timing_out_state_is_refused, .init = capture_criticals)
{
    /* a: set at 1 s, removed (twice) at 2 s; b: set at 1 s, times out at 3 s. */
    const char *in[] = {"a, b", "a"};
    const char *expected[] = {"", "", "b", ""};
    check((spec_args){remove_twice_or_while_timing_out, 2000, false, NULL}, in, 2, expected, 4);
    g_autofree char *said = take_criticals();
    cr_assert(strstr(said, "em_state_remove: cannot remove the state that was removed already"),
              "%s", said);
    cr_assert(strstr(said, "em_state_remove: cannot remove the state that is timing out"), "%s",
              said);
    cr_assert_eq(remove_refused, 2);
}

/* ---- A failed batch is all or nothing (batch_done): the tables are undone ---- */

static gint mapping_calls;

static em_value counting_running_count(em_time t, em_value key, em_value value, em_state *state,
                                       void *ud)
{
    g_atomic_int_inc(&mapping_calls);
    return running_count(t, key, value, state, ud);
}

static em_value pair_unless_boom(em_value v, void *ud)
{
    (void)ud;
    if (em_is_str(v) && em_str_len(v) == 4 && memcmp(em_str_ptr(v), "boom", 4) == 0)
        return em_fail("the map failed on boom");
    return em_pair(v, em_int(1));
}

static em_value pair_count(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    return em_pair(key, running_count(t, key, value, state, ud));
}

Test(map_state, a_batch_failed_upstream_of_another_state_undoes_this_batch_in_the_tables)
{
    /* `all` maps every record with state (a timeout keeps the update-order list, which the
     * undo must restore too); `checked` reads them through a map that fails on boom. Batch 2 s
     * applies a, boom, b to all's tables and then fails in checked's map: the batch failed,
     * so all's tables must be as after 1 s when 3 s starts. */
    const char *batches[] = {"a, b", "a, boom, b, c", "a, b", "", "", ""};
    queue_fixture f = queue_fixture_new(batches, 6);
    em_dstream *all = em_map_with_state(em_map(f.input, em_pair_one),
                                        &(em_state_spec){.fn = counting_running_count,
                                                         .timeout = EM_SECONDS(2)});
    em_dstream *checked =
        em_map_with_state(em_map(f.input, pair_unless_boom), &(em_state_spec){.fn = pair_count});
    batch_log la = {0}, lc = {0}, ls = {0};
    batch_log_attach(&la, em_map(all, em_pair_one));
    batch_log_attach(&lc, checked);
    batch_log_attach(&ls, em_state_snapshots(all));
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 6);
    cr_assert(la.failed[1] && lc.failed[1] && !la.failed[2] && !lc.failed[2]);
    cr_assert_str_eq(la.text[2], "[(2,1), (2,1)]", "all at 3 s: %s", la.text[2]);
    cr_assert_str_eq(lc.text[2], "[(a,2), (b,2)]", "checked at 3 s: %s", lc.text[2]);
    cr_assert_str_eq(ls.text[2], "[(a,2), (b,2)]", "all's state at 3 s: %s", ls.text[2]);
    /* a and b, updated at 3 s, time out at 5 s; boom and c never made it into the state. */
    cr_assert_str_eq(ls.text[3], "[(a,2), (b,2)]", "%s", ls.text[3]);
    cr_assert_str_eq(ls.text[4], "[]", "%s", ls.text[4]);
    /* Computed once a batch: 2 records, 4, 2, then the 2 timeouts at 5 s. */
    cr_assert_eq(g_atomic_int_get(&mapping_calls), 10);
    cr_assert_eq(em_rdd_queue_length(f.queue), 0);
    queue_fixture_free(&f);
    batch_log_clear(&la);
    batch_log_clear(&lc);
    batch_log_clear(&ls);
}
