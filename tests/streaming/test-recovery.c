/* Recovery from checkpoints, as Spark's CheckpointSuite tests it (testCheckpointedOperation):
 * a run stopped after N batches and restarted from its checkpoint directory gives exactly the
 * batches of an uninterrupted run, for every N; plus getOrCreate's refusals (another program, a
 * renamed stateful operator) and the checkpoint intervals Spark uses by default. */
#include <criterion/criterion.h>

#include "checkpoint-file.h"
#include "streaming-private.h"

#include <ember/testing.h>

#include <ftw.h>
#include <stdio.h>

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-recovery-XXXXXX", NULL);
    cr_assert(tmp);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
}

TestSuite(recovery, .init = setup, .fini = teardown);

/* ---- Operations ---- */

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_dstream *op_update_state(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_update_state_by_key(em_map(in[0], em_pair_one), running_sum);
}

/* mapWithState counting per key, with a 2-batch timeout: a key idle for 2 s times out and
 * emits (key, -count). */
static em_value count_or_expire(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)value, (void)ud;
    if (em_state_is_timing_out(state))
        return em_pair(key, em_int(-em_as_int(em_state_get(state))));
    int64_t n = em_state_exists(state) ? em_as_int(em_state_get(state)) + 1 : 1;
    em_state_update(state, em_int(n));
    return em_pair(key, em_int(n));
}

static em_dstream *op_map_with_state(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_map_with_state(em_map(in[0], em_pair_one),
                             &(em_state_spec){.fn = count_or_expire,
                                              .name = "count_or_expire",
                                              .timeout = EM_SECONDS(2)});
}

static const char *const words[] = {"a", "a, b", "b, c", "", "", "a, c", "c", "", "", "", "b"};
enum { N_WORDS = sizeof words / sizeof *words };

static em_test_input text_input(em_test_batch *batches, const char *const *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        batches[i] = (em_test_batch){.text = text[i]};
    return (em_test_input){batches, n};
}

/* The run of text[0..n) uninterrupted, and stopped and restarted after every possible batch:
 * same output. */
static void assert_restarts_of_are_invisible(em_test_op_fn op, const char *const *text, size_t n)
{
    em_test_batch batches[N_WORDS];
    cr_assert_leq(n, N_WORDS);
    em_test_input in = text_input(batches, text, n);
    GError *err = NULL;
    em_test_output *whole = em_test_run(&in, 1, op, NULL, NULL, &err);
    cr_assert_not_null(whole, "%s", err ? err->message : "");
    g_autofree char *want = em_test_output_format(whole, true);
    em_test_output_free(whole);
    for (size_t stop = 1; stop < n; stop++) {
        em_test_output *out = em_test_run_checkpointed(&in, 1, op, NULL, NULL, stop, &err);
        cr_assert_not_null(out, "stopped after %zu: %s", stop, err ? err->message : "");
        g_autofree char *got = em_test_output_format(out, true);
        cr_assert_str_eq(got, want, "stopped after %zu batches:\n%s\nwant:\n%s", stop, got, want);
        em_test_output_free(out);
    }
}

static void assert_restarts_are_invisible(em_test_op_fn op)
{
    assert_restarts_of_are_invisible(op, words, N_WORDS);
}

Test(recovery, update_state_by_key_goes_on_from_the_checkpoint_after_any_batch)
{
    const char *expected[] = {"(a,1)", "(a,2), (b,1)", "(a,2), (b,2), (c,1)"};
    GError *err = NULL;
    cr_assert(em_test_checkpointed_operation(words, 3, op_update_state, NULL, expected, 3, 2, true,
                                             &err),
              "%s", err ? err->message : "");
    assert_restarts_are_invisible(op_update_state);
}

Test(recovery, map_with_state_keeps_states_and_idle_timeouts_across_restarts)
{
    /* a: 1 s, 2 s, then idle until it times out at 4 s (-2), is counted again at 6 s ... */
    em_test_batch batches[N_WORDS];
    em_test_input in = text_input(batches, words, N_WORDS);
    GError *err = NULL;
    em_test_output *whole = em_test_run(&in, 1, op_map_with_state, NULL, NULL, &err);
    cr_assert_not_null(whole, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(whole, true);
    cr_assert_str_eq(text, "[(a,1)]\n"
                           "[(a,2), (b,1)]\n"
                           "[(b,2), (c,1)]\n"
                           "[(a,-2)]\n"
                           "[(b,-2), (c,-1)]\n"
                           "[(a,1), (c,1)]\n"
                           "[(c,2)]\n"
                           "[(a,-1)]\n"
                           "[(c,-2)]\n"
                           "[]\n"
                           "[(b,1)]\n");
    em_test_output_free(whole);
    assert_restarts_are_invisible(op_map_with_state);
}

/* Restored keys go to the state partition their later records are shuffled to (Spark's
 * HashPartitioner under Spark's order): with many keys, a key put anywhere else would start
 * counting again after the restart. */
Test(recovery, map_with_state_restores_each_key_into_its_own_partition)
{
    static const char *const many[] =
        {"k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15",
         "k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15",
         "k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15"};
    em_test_batch batches[3];
    em_test_input in = text_input(batches, many, 3);
    GError *err = NULL;
    em_test_output *out = em_test_run_checkpointed(&in, 1, op_map_with_state, NULL, NULL, 2, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *got = em_test_output_format(out, true);
    em_test_output_free(out);
    g_autofree char *last = g_strrstr(got, "\n[") ? g_strdup(g_strrstr(got, "\n[") + 1) : NULL;
    cr_assert_str_eq(last,
                     "[(k0,3), (k1,3), (k10,3), (k11,3), (k12,3), (k13,3), (k14,3), (k15,3), "
                     "(k2,3), (k3,3), (k4,3), (k5,3), (k6,3), (k7,3), (k8,3), (k9,3)]\n");
    assert_restarts_of_are_invisible(op_map_with_state, many, 3);
}

/* ---- Windows: their remembered batches and partial results come back ---- */

static em_dstream *op_window(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_window(in[0], EM_SECONDS(3), EM_SECONDS(1));
}

static em_dstream *op_reduce_window_inv(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key_and_window_full(em_map(in[0], em_pair_one),
                                            &(em_reduce_window_spec){.fn = em_sum,
                                                                     .inv = em_subtract,
                                                                     .window = EM_SECONDS(3),
                                                                     .slide = EM_SECONDS(1),
                                                                     .filter = em_filter_nonzero,
                                                                     .name = "sum"});
}

static em_dstream *op_reduce_window_slide_2(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key_and_window_full(em_map(in[0], em_pair_one),
                                            &(em_reduce_window_spec){.fn = em_sum,
                                                                     .inv = em_subtract,
                                                                     .window = EM_SECONDS(4),
                                                                     .slide = EM_SECONDS(2),
                                                                     .name = "sum"});
}

static em_dstream *op_reduce_window_plain(em_dstream *const *in, void *ud)
{
    (void)ud;
    return em_reduce_by_key_and_window_full(em_map(in[0], em_pair_one),
                                            &(em_reduce_window_spec){.fn = em_sum,
                                                                     .window = EM_SECONDS(3),
                                                                     .name = "sum"});
}

Test(recovery, a_window_keeps_its_batches_across_restarts)
{
    assert_restarts_are_invisible(op_window);
}

Test(recovery, an_incremental_window_goes_on_from_its_partial_results)
{
    assert_restarts_are_invisible(op_reduce_window_inv);
    assert_restarts_are_invisible(op_reduce_window_slide_2);
}

Test(recovery, a_window_reduced_from_its_batches_goes_on_too)
{
    assert_restarts_are_invisible(op_reduce_window_plain);
}

/* ---- getOrCreate ---- */

typedef struct {
    const char *app;
    const char *state_name;
    em_rdd_queue *queue;
    int calls;
    bool recovering;
} program;

static bool ignore(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    return true;
}

/* "test" with an updateStateByKey named state_name over a queue: the graph em_test_run
 * builds for op_update_state, under another name when asked. */
static em_ssc *create_program(bool recovering, void *ud)
{
    program *p = ud;
    p->calls++;
    p->recovering = recovering;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = p->app,
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    p->queue = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, p->queue, true, NULL);
    em_dstream *state =
        em_update_state_by_key_full(em_map(in, em_pair_one),
                                    &(em_update_state_spec){.fn = running_sum,
                                                            .name = p->state_name});
    em_foreach_rdd(state, ignore);
    return ssc;
}

/* Two batches of op_update_state checkpointed into tmp (app "test"). */
static void checkpoint_two_batches(void)
{
    em_test_batch batches[2];
    em_test_input in = text_input(batches, words, 2);
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&in, 1, op_update_state, NULL, &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    em_test_output_free(out);
}

Test(recovery, a_new_directory_creates_the_program_and_checkpoints_into_it)
{
    g_autofree char *dir = g_build_filename(tmp, "new", NULL);
    program p = {.app = "test", .state_name = "running_sum"};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(dir, create_program, &p, NULL, &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    cr_assert_eq(p.calls, 1);
    cr_assert_not(p.recovering);
    cr_assert_eq(em_ssc_recovered_time(ssc), -1);
    cr_assert(em_ssc_start(ssc, NULL));
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(ssc, 1000, 60000));
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    em_checkpoint_figures f;
    em_ssc_checkpoint_figures(ssc, &f);
    cr_assert_eq(f.written, 1, "the final checkpoint of a graceful stop");
    cr_assert_eq(f.last_time, 1000);
    cr_assert_gt(f.last_bytes, 0);
    em_ssc_free(ssc);
    em_rdd_queue_free(p.queue);
    g_autofree char *file = g_build_filename(dir, "checkpoint-1000", NULL);
    cr_assert(g_file_test(file, G_FILE_TEST_IS_REGULAR));
}

Test(recovery, the_program_is_rebuilt_and_the_clock_goes_on_from_the_checkpoint)
{
    checkpoint_two_batches();
    program p = {.app = "test", .state_name = "running_sum"};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(tmp, create_program, &p, NULL, &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    cr_assert(p.recovering);
    cr_assert_eq(em_ssc_recovered_time(ssc), 2000);
    cr_assert(em_ssc_start(ssc, NULL));
    cr_assert_eq(em_ssc_clock_time(ssc), 2000, "the manual clock moved up to the checkpoint");
    em_ssc_free(ssc);
    em_rdd_queue_free(p.queue);
}

Test(recovery, another_programs_checkpoint_is_refused)
{
    checkpoint_two_batches();
    program p = {.app = "OtherApp", .state_name = "running_sum"};
    GError *err = NULL;
    cr_assert_null(em_ssc_get_or_create(tmp, create_program, &p, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_INVALID);
    cr_assert(strstr(err->message, "was written by another program (\"test\"), not by "
                                   "\"OtherApp\""),
              "%s", err->message);
    g_error_free(err);
    em_rdd_queue_free(p.queue);
}

Test(recovery, a_renamed_stateful_operator_is_refused_naming_it_unless_dropped)
{
    checkpoint_two_batches();
    program p = {.app = "test", .state_name = "renamed_sum"};
    GError *err = NULL;
    cr_assert_null(em_ssc_get_or_create(tmp, create_program, &p, NULL, &err));
    cr_assert(strstr(err->message, "holds the state of updateStateByKey \"running_sum\", "
                                   "which the program does not define"),
              "%s", err->message);
    g_clear_error(&err);
    em_rdd_queue_free(p.queue);
    em_ssc *ssc = em_ssc_get_or_create(tmp, create_program, &p,
                                       &(em_recovery_opts){.drop_unmatched_state = true}, &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    cr_assert_eq(em_ssc_recovered_time(ssc), 2000);
    em_ssc_free(ssc);
    em_rdd_queue_free(p.queue);
}

static bool keep_all(em_value v, void *ud)
{
    (void)v, (void)ud;
    return true;
}

static em_dstream *op_mapped_then_state(em_dstream *const *in, void *ud)
{
    (void)ud; /* a stateless filter added in front of the state: still recovers */
    return em_update_state_by_key(em_filter(em_map(in[0], em_pair_one), keep_all), running_sum);
}

Test(recovery, a_new_stateless_operator_still_recovers)
{
    checkpoint_two_batches();
    em_test_batch batches[3];
    em_test_input in = text_input(batches, words, 3);
    GError *err = NULL;
    em_test_output *out = em_test_run(&in, 1, op_mapped_then_state, NULL,
                                      &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "none\nnone\n[(a,2), (b,2), (c,1)]\n");
    em_test_output_free(out);
}

/* ---- Intervals ---- */

static char *checkpoint_files(void)
{
    g_autoptr(GPtrArray) paths = em__ckpt_list(tmp, NULL);
    GString *names = g_string_new(NULL);
    for (guint i = paths->len; i-- > 0;)
        g_string_append_printf(names, "%s ", strrchr(paths->pdata[i], '/') + 1);
    return g_string_free(names, FALSE);
}

Test(recovery, update_state_by_key_checkpoints_every_10_s_by_default_and_at_the_stop)
{
    const char *twelve[12] = {"a"};
    em_test_batch batches[12];
    em_test_input in = text_input(batches, twelve, 12);
    for (int i = 1; i < 12; i++)
        batches[i] = (em_test_batch){.text = ""};
    em_test_output *out =
        em_test_run(&in, 1, op_update_state, NULL, &(em_test_opts){.checkpoint_dir = tmp}, NULL);
    cr_assert_not_null(out);
    em_test_output_free(out);
    g_autofree char *files = checkpoint_files();
    cr_assert_str_eq(files, "checkpoint-10000 checkpoint-12000 ");
}

static em_dstream *op_state_every_3(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *ds = op_update_state(in, NULL);
    em_dstream_checkpoint(ds, EM_SECONDS(3));
    return ds;
}

Test(recovery, a_streams_own_interval_is_kept)
{
    const char *seven[7] = {"a", "", "", "", "", "", ""};
    em_test_batch batches[7];
    em_test_input in = text_input(batches, seven, 7);
    em_test_output *out =
        em_test_run(&in, 1, op_state_every_3, NULL, &(em_test_opts){.checkpoint_dir = tmp}, NULL);
    cr_assert_not_null(out);
    em_test_output_free(out);
    g_autofree char *files = checkpoint_files();
    cr_assert_str_eq(files, "checkpoint-3000 checkpoint-6000 checkpoint-7000 ");
}
