/* Custom receivers (Spark's Receiver API): store, restart, report_error, is_stopped, the block
 * generator's blocks as partitions, the rate limiter, stops, and ownership of user data. */
#include "receiver-fixture.h"

/* A receiver driven by commands the test pushes: a record in em_value_parse's text, "!restart"
 * or "!error"; "" (pushed by on_stop) wakes it to look at em_receiver_is_stopped(). */
typedef struct commanded {
    GAsyncQueue *cmds;
    gint starts, stops, destroyed;
    GThread *start_thread, *stop_thread[2];
    gint64 stop_us[2], start_us[2];
    bool stopped_at_start, stopped_at_return;
} commanded;

static void commanded_start(em_receiver *r, void *ud)
{
    commanded *c = ud;
    int i = g_atomic_int_get(&c->starts);
    c->start_thread = g_thread_self();
    c->start_us[MIN(i, 1)] = g_get_monotonic_time();
    c->stopped_at_start = em_receiver_is_stopped(r);
    g_atomic_int_inc(&c->starts);
    for (;;) {
        char *cmd = g_async_queue_pop(c->cmds);
        if (strcmp(cmd, "!restart") == 0) {
            em_receiver_restart(r, "asked to", 100);
        } else if (strcmp(cmd, "!error") == 0) {
            em_receiver_report_error(r, "something odd");
        } else if (*cmd) {
            em_value v;
            if (em_value_parse(cmd, em_scratch(), &v, NULL))
                em_receiver_store(r, v); /* copies: cmd and the scratch go right after */
            em_scratch_reset();
        }
        g_free(cmd);
        if (em_receiver_is_stopped(r))
            break;
    }
    c->stopped_at_return = em_receiver_is_stopped(r);
}

static void commanded_stop(em_receiver *r, void *ud)
{
    (void)r;
    commanded *c = ud;
    int i = MIN(g_atomic_int_get(&c->stops), 1);
    c->stop_thread[i] = g_thread_self();
    c->stop_us[i] = g_get_monotonic_time();
    g_atomic_int_inc(&c->stops);
    g_async_queue_push(c->cmds, g_strdup(""));
}

static void commanded_destroy(void *ud) { g_atomic_int_inc(&((commanded *)ud)->destroyed); }

static const em_receiver_funcs commanded_funcs = {.name = "TestReceiver",
                                                  .on_start = commanded_start,
                                                  .on_stop = commanded_stop,
                                                  .destroy = commanded_destroy};

typedef struct fixture {
    em_ssc *ssc;
    em_dstream *ds;
    commanded cmd;
    collected out;
} fixture;

static void setup(fixture *f, const em_receiver_opts *opts)
{
    f->cmd.cmds = g_async_queue_new_full(g_free);
    collected_init(&f->out);
    f->ssc = manual_ssc("local[2]");
    f->ds = em_receiver_stream(f->ssc, &commanded_funcs, &f->cmd, opts);
    cr_assert_not_null(f->ds);
    collect(f->ds, &f->out);
    cr_assert(em_ssc_start(f->ssc, NULL));
}

static void push(fixture *f, const char *cmd) { g_async_queue_push(f->cmd.cmds, g_strdup(cmd)); }

static void teardown(fixture *f)
{
    em_ssc_free(f->ssc);
    cr_assert_eq(f->cmd.destroyed, 1);
    collected_clear(&f->out);
    g_async_queue_unref(f->cmd.cmds);
}

static void assert_batches(fixture *f, const char *expected)
{
    char *got = batches_text(&f->out);
    cr_assert_str_eq(got, expected);
    g_free(got);
}

static void assert_events(fixture *f, const char *expected)
{
    char *got = events_text(&f->out);
    cr_assert_str_eq(got, expected);
    g_free(got);
}

/* A stop that hangs fails its test instead of the run. */
TestSuite(receiver);

Test(receiver, stored_records_arrive_in_the_batch_after_them)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "a");
    push(&f, "(k,(1,x))");
    push(&f, "2.5");
    wait_records(f.ds, 3);
    step(f.ssc);
    step(f.ssc);
    push(&f, "b");
    wait_records(f.ds, 4);
    step(f.ssc);
    assert_batches(&f, "[a, (k,(1,x)), 2.5]\n[]\n[b]\n");
    int64_t *records = (int64_t *)f.out.records->data;
    cr_assert_eq(f.out.records->len, 3);
    cr_assert(records[0] == 3 && records[1] == 0 && records[2] == 1);
    cr_assert_gt(f.out.retained_bytes_max, 0, "the BlockRDD reports its blocks' bytes");
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started TestReceiver#0\nstopped\n");
    teardown(&f);
}

Test(receiver, on_start_runs_on_its_own_thread_and_on_stop_on_the_stopping_thread)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "a");
    wait_records(f.ds, 1);
    gint64 t0 = g_get_monotonic_time();
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    cr_assert_lt(g_get_monotonic_time() - t0, G_USEC_PER_SEC);
    cr_assert_eq(f.cmd.starts, 1);
    cr_assert_eq(f.cmd.stops, 1);
    cr_assert_neq(f.cmd.start_thread, g_thread_self());
    cr_assert_eq(f.cmd.stop_thread[0], g_thread_self());
    cr_assert_not(f.cmd.stopped_at_start);
    cr_assert(f.cmd.stopped_at_return);
    teardown(&f);
}

Test(receiver, restart_calls_on_stop_waits_and_starts_again)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "a");
    push(&f, "!restart");
    gint64 deadline = g_get_monotonic_time() + IO_TIMEOUT_MS * 1000;
    while (g_atomic_int_get(&f.cmd.starts) < 2 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    cr_assert_eq(g_atomic_int_get(&f.cmd.starts), 2);
    cr_assert_eq(f.cmd.stops, 1);
    /* on_stop ran on the receiver's thread, and on_start came back after the delay. */
    cr_assert_eq(f.cmd.stop_thread[0], f.cmd.start_thread);
    cr_assert_geq(f.cmd.start_us[1] - f.cmd.stop_us[0], 100 * 1000);
    push(&f, "b");
    wait_records(f.ds, 2);
    step(f.ssc);
    assert_batches(&f, "[a, b]\n");
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    cr_assert_eq(f.cmd.stops, 2);
    assert_events(&f, "started TestReceiver#0\n"
                      "stopped Restarting receiver with delay 100 ms: asked to\n"
                      "started TestReceiver#0\n"
                      "stopped\n");
    teardown(&f);
}

Test(receiver, report_error_reaches_listeners_and_the_receiver_goes_on)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "!error");
    push(&f, "x");
    wait_records(f.ds, 1);
    step(f.ssc);
    assert_batches(&f, "[x]\n");
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started TestReceiver#0\nerror something odd\nstopped\n");
    cr_assert_eq(f.cmd.starts, 1);
    teardown(&f);
}

Test(receiver, graceful_stop_processes_records_already_received)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "a");
    push(&f, "b");
    wait_records(f.ds, 2);
    /* No batch time has come: the stop itself gives the records a batch. */
    em_ssc_stop(f.ssc, EM_STOP_GRACEFUL);
    assert_batches(&f, "[a, b]\n");
    teardown(&f);
}

Test(receiver, hard_stop_drops_records_not_yet_in_a_batch)
{
    fixture f = {0};
    setup(&f, NULL);
    push(&f, "a");
    wait_records(f.ds, 1);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_batches(&f, "");
    teardown(&f);
}

Test(receiver, a_block_interval_longer_than_the_batch_gives_one_partition_per_batch)
{
    fixture f = {0};
    setup(&f, &(em_receiver_opts){.block_interval = EM_MINUTES(60)});
    push(&f, "1");
    push(&f, "2");
    wait_records(f.ds, 2);
    step(f.ssc);
    step(f.ssc);
    push(&f, "3");
    wait_records(f.ds, 3);
    step(f.ssc);
    assert_batches(&f, "[1, 2]\n[]\n[3]\n");
    int *parts = (int *)f.out.partitions->data;
    cr_assert(parts[0] == 1 && parts[1] == 0 && parts[2] == 1, "%d %d %d", parts[0], parts[1],
              parts[2]);
    teardown(&f);
}

/* Stores 0..n-1, one every 5 ms, as fast as the rate limit lets it, or stores them at once. */
typedef struct ticker {
    int n;
    bool paced;
    gint64 elapsed_us;
} ticker;

static void ticker_start(em_receiver *r, void *ud)
{
    ticker *t = ud;
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < t->n && !em_receiver_is_stopped(r); i++) {
        em_receiver_store(r, em_int(i));
        if (t->paced)
            g_usleep(5000);
    }
    t->elapsed_us = g_get_monotonic_time() - t0;
}

static const em_receiver_funcs ticker_funcs = {.name = "Ticker", .on_start = ticker_start};

static em_ssc *start_ticker(ticker *t, const em_receiver_opts *opts, collected *out,
                            em_dstream **ds)
{
    em_ssc *ssc = manual_ssc("local[2]");
    *ds = em_receiver_stream(ssc, &ticker_funcs, t, opts);
    collect(*ds, out);
    cr_assert(em_ssc_start(ssc, NULL));
    return ssc;
}

static char *numbers(int n)
{
    GString *s = g_string_new("[");
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, i ? ", %d" : "%d", i);
    g_string_append(s, "]\n");
    return g_string_free(s, FALSE);
}

Test(receiver, block_interval_cuts_a_batch_into_about_interval_sized_blocks)
{
    /* 60 records over ~300 ms in 50 ms blocks: about 6 partitions. */
    ticker t = {.n = 60, .paced = true};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, &(em_receiver_opts){.block_interval = 50}, &out, &ds);
    wait_records(ds, 60);
    step(ssc);
    char *got = batches_text(&out), *expected = numbers(60);
    cr_assert_str_eq(got, expected);
    int parts = g_array_index(out.partitions, int, 0);
    cr_assert(parts >= 4 && parts <= 12, "%d partitions", parts);
    g_free(got);
    g_free(expected);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, max_rate_limits_how_fast_records_are_stored)
{
    /* 100 records at 200 a second: the first passes at once, the rest take ~495 ms. */
    ticker t = {.n = 100};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, &(em_receiver_opts){.max_rate = 200}, &out, &ds);
    wait_records(ds, 100);
    step(ssc);
    char *got = batches_text(&out), *expected = numbers(100);
    cr_assert_str_eq(got, expected);
    cr_assert(t.elapsed_us >= 450 * 1000 && t.elapsed_us <= 3 * G_USEC_PER_SEC,
              "100 records at 200/s took %" G_GINT64_FORMAT " us", t.elapsed_us);
    g_free(got);
    g_free(expected);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, without_max_rate_store_does_not_wait)
{
    ticker t = {.n = 100000};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, NULL, &out, &ds);
    wait_records(ds, 100000);
    cr_assert_lt(t.elapsed_us, 2 * G_USEC_PER_SEC);
    step(ssc);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), 100000);
    em_ssc_free(ssc);
    collected_clear(&out);
}

/* Spark's style: on_start starts a thread of its own and returns; on_stop joins it. */
typedef struct threaded {
    em_receiver *r;
    GThread *thread;
} threaded;

static gpointer threaded_main(gpointer ud)
{
    threaded *t = ud;
    for (int i = 0; i < 3; i++)
        em_receiver_store(t->r, em_int(i));
    while (!em_receiver_is_stopped(t->r))
        g_usleep(1000);
    return NULL;
}

static void threaded_start(em_receiver *r, void *ud)
{
    threaded *t = ud;
    t->r = r;
    t->thread = g_thread_new("threaded", threaded_main, t);
}

static void threaded_stop(em_receiver *r, void *ud)
{
    (void)r;
    threaded *t = ud;
    g_thread_join(t->thread);
    t->thread = NULL;
}

Test(receiver, on_start_may_return_and_leave_a_thread_of_its_own_receiving)
{
    threaded t = {0};
    collected out;
    collected_init(&out);
    em_ssc *ssc = manual_ssc("local[2]");
    em_dstream *ds = em_receiver_stream(
        ssc, &(em_receiver_funcs){.on_start = threaded_start, .on_stop = threaded_stop}, &t,
        NULL);
    collect(ds, &out);
    cr_assert(em_ssc_start(ssc, NULL));
    wait_records(ds, 3);
    step(ssc);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    cr_assert_null(t.thread, "on_stop joined the receiving thread");
    char *got = batches_text(&out), *events = events_text(&out);
    cr_assert_str_eq(got, "[0, 1, 2]\n");
    cr_assert_str_eq(events, "started Receiver#0\nstopped\n");
    g_free(got);
    g_free(events);
    em_ssc_free(ssc);
    collected_clear(&out);
}

static void count_destroy(void *ud) { g_atomic_int_inc((gint *)ud); }

Test(receiver, user_data_is_destroyed_once_also_when_creation_fails)
{
    g_log_set_writer_func(quiet_criticals, NULL, NULL);
    gint destroyed = 0;
    em_receiver_funcs funcs = {.on_start = ticker_start, .destroy = count_destroy};
    em_ssc *ssc = manual_ssc("local[1]");

    cr_assert_null(em_receiver_stream(ssc, &(em_receiver_funcs){.destroy = count_destroy},
                                      &destroyed, NULL));
    cr_assert_eq(destroyed, 1, "no on_start");
    cr_assert_null(em_receiver_stream(ssc, &funcs, &destroyed,
                                      &(em_receiver_opts){.max_rate = -1}));
    cr_assert_eq(destroyed, 2, "a negative rate");

    ticker t = {.n = 0};
    funcs.destroy = NULL;
    em_print(em_receiver_stream(ssc, &funcs, &t, NULL));
    cr_assert(em_ssc_start(ssc, NULL));
    funcs.destroy = count_destroy;
    cr_assert_null(em_receiver_stream(ssc, &funcs, &destroyed, NULL));
    cr_assert_eq(destroyed, 3, "after start");
    em_ssc_free(ssc);

    ssc = manual_ssc("local[1]");
    cr_assert_not_null(em_receiver_stream(ssc, &funcs, &destroyed, NULL));
    cr_assert_eq(destroyed, 3);
    em_ssc_free(ssc);
    cr_assert_eq(destroyed, 4, "with the ssc, never started");
    cr_assert_eq(em_receiver_stream_records(NULL), -1);
}
