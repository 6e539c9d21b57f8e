/* Custom receivers (Spark's Receiver API): store, restart, report_error, is_stopped, the block
 * generator's blocks as partitions, the rate limiter, stops, and ownership of user data. */
#include "receiver-fixture.h"

/* A receiver driven by commands the test pushes: a record in em_value_parse's text, "!restart"
 * or "!error", or "*" and records separated by spaces, stored with one em_receiver_store_many();
 * "" (pushed by on_stop) wakes it to look at em_receiver_is_stopped(). */
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
        } else if (*cmd == '*') {
            char **parts = g_strsplit(cmd + 1, " ", -1);
            GArray *vs = g_array_new(FALSE, FALSE, sizeof(em_value));
            for (char **p = parts; *p; p++) {
                em_value v;
                if (em_value_parse(*p, em_scratch(), &v, NULL))
                    g_array_append_val(vs, v);
            }
            em_receiver_store_many(r, (const em_value *)(void *)vs->data, vs->len);
            g_array_unref(vs);
            g_strfreev(parts);
            em_scratch_reset();
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
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
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

/* Stores 0..n-1 as fast as store lets it: one by one, or in chunks of `chunk` records with
 * em_receiver_store_many(). */
typedef struct ticker {
    int n;
    int chunk; /* 0: em_receiver_store() per record */
} ticker;

static void ticker_start(em_receiver *r, void *ud)
{
    ticker *t = ud;
    if (t->chunk > 0) {
        em_value *vs = g_new(em_value, t->chunk);
        for (int i = 0; i < t->n && !em_receiver_is_stopped(r); i += t->chunk) {
            int k = MIN(t->chunk, t->n - i);
            for (int j = 0; j < k; j++)
                vs[j] = em_int(i + j);
            em_receiver_store_many(r, vs, (size_t)k);
        }
        g_free(vs);
        return;
    }
    for (int i = 0; i < t->n && !em_receiver_is_stopped(r); i++)
        em_receiver_store(r, em_int(i));
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

static char *numbers(int from, int to)
{
    GString *s = g_string_new("[");
    for (int i = from; i < to; i++)
        g_string_append_printf(s, i > from ? ", %d" : "%d", i);
    g_string_append(s, "]\n");
    return g_string_free(s, FALSE);
}

/* Moves the manual clock to batch time t (a multiple of the 1 s batch) and waits for it. */
static void advance_to_batch(em_ssc *ssc, em_time t)
{
    em_ssc_advance_clock(ssc, t - em_ssc_clock_time(ssc));
    cr_assert(em_ssc_wait_for_batch(ssc, t, IO_TIMEOUT_MS));
}

Test(receiver, block_interval_cuts_blocks_on_the_context_clock)
{
    /* 50 ms blocks: records at 0 ms, 0 ms, 50 ms, 60 ms and 999 ms make blocks [0 1] [2 3] [4]. */
    fixture f = {0};
    setup(&f, &(em_receiver_opts){.block_interval = 50});
    push(&f, "0");
    push(&f, "1");
    wait_records(f.ds, 2);
    em_ssc_advance_clock(f.ssc, 50);
    push(&f, "2");
    wait_records(f.ds, 3);
    em_ssc_advance_clock(f.ssc, 10);
    push(&f, "3");
    wait_records(f.ds, 4);
    em_ssc_advance_clock(f.ssc, 939);
    push(&f, "4");
    wait_records(f.ds, 5);
    advance_to_batch(f.ssc, 1000);
    assert_batches(&f, "[0, 1, 2, 3, 4]\n");
    cr_assert_eq(g_array_index(f.out.partitions, int, 0), 3);
    teardown(&f);
}

Test(receiver, max_rate_paces_stores_on_the_context_clock)
{
    /* 100 records at 200 a second: the first passes at once, then one per 5 ms of clock. */
    ticker t = {.n = 100};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, &(em_receiver_opts){.max_rate = 200}, &out, &ds);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 1);
    em_ssc_advance_clock(ssc, 100);
    /* 100 ms of clock: 20 more tokens, 20 more records, then a wait again. */
    wait_records(ds, 21);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 21);
    em_ssc_advance_clock(ssc, 395);
    wait_records(ds, 100);
    advance_to_batch(ssc, 1000);
    char *got = batches_text(&out), *expected = numbers(0, 100);
    cr_assert_str_eq(got, expected);
    g_free(got);
    g_free(expected);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, store_many_takes_what_the_rate_allows_and_cuts_blocks_at_the_clock_it_waited_for)
{
    /* One call with 100 records at 200 a second and 50 ms blocks: the first record passes at
     * once (block 0), 100 ms of clock let 20 more through together (block 2), 395 ms the last
     * 79 (block 9): one batch of three blocks. */
    ticker t = {.n = 100, .chunk = 100};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc =
        start_ticker(&t, &(em_receiver_opts){.max_rate = 200, .block_interval = 50}, &out, &ds);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 1);
    em_ssc_advance_clock(ssc, 100);
    wait_records(ds, 21);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 21);
    em_ssc_advance_clock(ssc, 395);
    wait_records(ds, 100);
    advance_to_batch(ssc, 1000);
    char *got = batches_text(&out), *expected = numbers(0, 100);
    cr_assert_str_eq(got, expected);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), 100);
    cr_assert_eq(g_array_index(out.partitions, int, 0), 3);
    g_free(got);
    g_free(expected);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, store_many_puts_each_chunk_in_the_block_and_batch_of_its_clock_time)
{
    /* 50 ms blocks: chunks at 0 ms and 70 ms go to batch 1000 as two blocks, a chunk at 1010 ms
     * to batch 2000; an empty chunk stores nothing. */
    fixture f = {0};
    setup(&f, &(em_receiver_opts){.block_interval = 50});
    push(&f, "*1 2 3");
    wait_records(f.ds, 3);
    em_ssc_advance_clock(f.ssc, 70);
    push(&f, "*4 5");
    wait_records(f.ds, 5);
    advance_to_batch(f.ssc, 1000);
    em_ssc_advance_clock(f.ssc, 10);
    push(&f, "*");
    push(&f, "*6 x 7");
    wait_records(f.ds, 8);
    advance_to_batch(f.ssc, 2000);
    assert_batches(&f, "[1, 2, 3, 4, 5]\n[6, x, 7]\n");
    cr_assert_eq(g_array_index(f.out.records, int64_t, 0), 5);
    cr_assert_eq(g_array_index(f.out.records, int64_t, 1), 3);
    cr_assert_eq(g_array_index(f.out.partitions, int, 0), 2);
    cr_assert_eq(g_array_index(f.out.partitions, int, 1), 1);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    teardown(&f);
}

Test(receiver, without_max_rate_store_does_not_wait_for_the_clock)
{
    /* The clock never moves: every record is stored all the same. */
    ticker t = {.n = 100000};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, NULL, &out, &ds);
    wait_records(ds, 100000);
    cr_assert_eq(em__receiver_rate(ds), 0);
    step(ssc);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), 100000);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, past_max_pending_bytes_store_waits_for_a_batch_and_the_batch_says_so)
{
    ticker t = {.n = 1000000};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, &(em_receiver_opts){.max_pending_bytes = 64 << 10}, &out, &ds);
    int64_t first = em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_BATCHES);
    cr_assert(first > 0 && first < 1000000, "%" G_GINT64_FORMAT " stored", (gint64)first);
    cr_assert_geq(em__receiver_pending_bytes(ds), 64 << 10);
    cr_assert_eq(em_receiver_stream_records(ds), first, "the store stays blocked");
    /* The batch takes what was stored and the store goes on, until the bound again. */
    step(ssc);
    wait_records(ds, first + 1);
    int64_t second = em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_BATCHES);
    cr_assert_gt(second, first);
    step(ssc);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), first);
    cr_assert_eq(g_array_index(out.records, int64_t, 1), second - first);
    cr_assert_eq(g_array_index(out.blocked, int, 0), 1);
    cr_assert_eq(g_array_index(out.blocked, int, 1), 1);
    /* A stop ends the wait. */
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, store_many_checks_max_pending_bytes_before_each_chunk)
{
    /* Chunks of 1000 ints (16,000 bytes): the store waits at a chunk boundary, past the bound by
     * less than one chunk, and each batch takes whole chunks. */
    ticker t = {.n = 1000000, .chunk = 1000};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, &(em_receiver_opts){.max_pending_bytes = 64 << 10}, &out, &ds);
    int64_t first = em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_BATCHES);
    cr_assert(first > 0 && first < 1000000 && first % 1000 == 0, "%" G_GINT64_FORMAT " stored",
              (gint64)first);
    int64_t pending = em__receiver_pending_bytes(ds);
    cr_assert(pending >= 64 << 10 && pending < (64 << 10) + 2 * 16000, "%" G_GINT64_FORMAT,
              (gint64)pending);
    step(ssc);
    wait_records(ds, first + 1);
    int64_t second = em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_BATCHES);
    cr_assert(second > first && second % 1000 == 0);
    step(ssc);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), first);
    cr_assert_eq(g_array_index(out.records, int64_t, 1), second - first);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    em_ssc_free(ssc);
    collected_clear(&out);
}

Test(receiver, a_batch_with_nothing_pending_reports_no_blocked_input)
{
    ticker t = {.n = 10};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc = start_ticker(&t, NULL, &out, &ds);
    wait_records(ds, 10);
    step(ssc);
    cr_assert_eq(g_array_index(out.records, int64_t, 0), 10);
    cr_assert_eq(g_array_index(out.blocked, int, 0), 0);
    cr_assert_eq(em__receiver_pending_bytes(ds), 0);
    em_ssc_free(ssc);
    collected_clear(&out);
}

/* ---- Backpressure ---- */

static em_batch_info completed(em_time t, const int64_t *records, int64_t processing_delay,
                               int64_t scheduling_delay)
{
    return (em_batch_info){.batch_time = t,
                           .n_inputs = 1,
                           .input_records = records,
                           .num_records = records[0],
                           .processing_end = t + 100,
                           .processing_delay = processing_delay,
                           .scheduling_delay = scheduling_delay};
}

Test(receiver, backpressure_starts_at_the_initial_rate_capped_by_max_rate)
{
    em_ssc *ssc = manual_ssc("local[1]");
    ticker t = {.n = 0};
    em_dstream *a =
        em_receiver_stream(ssc, &ticker_funcs, &t,
                           &(em_receiver_opts){.backpressure = true, .initial_rate = 300});
    em_dstream *b = em_receiver_stream(ssc, &ticker_funcs, &t,
                                       &(em_receiver_opts){.backpressure = true,
                                                           .initial_rate = 300,
                                                           .max_rate = 200});
    em_dstream *c =
        em_receiver_stream(ssc, &ticker_funcs, &t, &(em_receiver_opts){.backpressure = true});
    /* initialRate is a backpressure setting: without it only max_rate counts. */
    em_dstream *d =
        em_receiver_stream(ssc, &ticker_funcs, &t, &(em_receiver_opts){.initial_rate = 300});
    cr_assert_eq(em__receiver_rate(a), 300);
    cr_assert_eq(em__receiver_rate(b), 200);
    cr_assert_eq(em__receiver_rate(c), 0);
    cr_assert_eq(em__receiver_rate(d), 0);
    em_ssc_free(ssc);
}

Test(receiver, backpressure_follows_the_pid_estimate_capped_by_max_rate)
{
    em_ssc *ssc = manual_ssc("local[1]");
    ticker t = {.n = 0};
    em_dstream *ds = em_receiver_stream(ssc, &ticker_funcs, &t,
                                        &(em_receiver_opts){.backpressure = true,
                                                            .initial_rate = 500,
                                                            .max_rate = 5000});
    /* The first batch only measures: 100 records in 100 ms, 1000 a second. */
    em_batch_info b = completed(1000, (int64_t[]){100}, 100, 0);
    em__receiver_on_batch_completed(ds, &b);
    cr_assert_eq(em__receiver_rate(ds), 500);
    /* 200 in 100 ms: error -1000, no delay: 1000 + 1000 = 2000 a second. */
    b = completed(2000, (int64_t[]){200}, 100, 0);
    em__receiver_on_batch_completed(ds, &b);
    cr_assert_eq(em__receiver_rate(ds), 2000);
    /* 150 in 100 ms with 500 ms of scheduling delay: 2000 - 500 - 0.2 * 500 * 1500 / 1000. */
    b = completed(3000, (int64_t[]){150}, 100, 500);
    em__receiver_on_batch_completed(ds, &b);
    cr_assert_eq(em__receiver_rate(ds), 1350);
    /* 2000 in 100 ms: 20000 a second is capped at max_rate. */
    b = completed(4000, (int64_t[]){2000}, 100, 0);
    em__receiver_on_batch_completed(ds, &b);
    cr_assert_eq(em__receiver_rate(ds), 5000);
    /* An empty batch says nothing: the rate stays. */
    b = completed(5000, (int64_t[]){0}, 100, 0);
    em__receiver_on_batch_completed(ds, &b);
    cr_assert_eq(em__receiver_rate(ds), 5000);
    em_ssc_free(ssc);
}

Test(receiver, backpressure_rate_paces_stores_on_the_context_clock)
{
    /* Initial rate 10 a second: one record at once, then one per 100 ms of clock. */
    ticker t = {.n = 1000};
    collected out;
    collected_init(&out);
    em_dstream *ds;
    em_ssc *ssc =
        start_ticker(&t, &(em_receiver_opts){.backpressure = true, .initial_rate = 10}, &out, &ds);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 1);
    em_ssc_advance_clock(ssc, 300);
    wait_records(ds, 4);
    cr_assert_eq(em__receiver_await_waiting(ds, EM__RECEIVER_WAITS_FOR_RATE), 4);
    em_ssc_free(ssc);
    collected_clear(&out);
}

/* Gives each batch a real processing delay of at least 5 ms, so the estimator has figures. */
static bool slow_output(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    gint64 until = g_get_monotonic_time() + 5000;
    while (g_get_monotonic_time() < until)
        g_thread_yield();
    return true;
}

Test(receiver, backpressure_is_fed_by_completed_batches)
{
    commanded cmd = {.cmds = g_async_queue_new_full(g_free)};
    em_ssc *ssc = manual_ssc("local[2]");
    em_dstream *ds =
        em_receiver_stream(ssc, &commanded_funcs, &cmd, &(em_receiver_opts){.backpressure = true});
    em_foreach_rdd_full(ds, slow_output, NULL, NULL, "slow");
    cr_assert(em_ssc_start(ssc, NULL));
    /* No initial rate: stores do not wait for the manual clock until the first estimate. */
    for (int batch = 1; batch <= 2; batch++) {
        for (int i = 0; i < 10; i++)
            g_async_queue_push(cmd.cmds, g_strdup("1"));
        wait_records(ds, batch * 10);
        step(ssc);
    }
    /* 10 records in 5 ms or more is at most 2000 a second; the estimate never goes below 100. */
    double rate = em__receiver_rate(ds);
    cr_assert(rate >= 100 && rate <= 2000, "rate %g", rate);
    em_ssc_free(ssc);
    g_async_queue_unref(cmd.cmds);
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
    em_dstream *ds = em_receiver_stream(ssc,
                                        &(em_receiver_funcs){.on_start = threaded_start,
                                                             .on_stop = threaded_stop},
                                        &t, NULL);
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

    cr_assert_null(
        em_receiver_stream(ssc, &(em_receiver_funcs){.destroy = count_destroy}, &destroyed, NULL));
    cr_assert_eq(destroyed, 1, "no on_start");
    cr_assert_null(
        em_receiver_stream(ssc, &funcs, &destroyed, &(em_receiver_opts){.max_rate = -1}));
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

/* ---- Stops from the receiver's own thread, and receivers that never stop ---- */

static void stop_from_error_listener(const em_receiver_info *info, void *ud)
{
    (void)info;
    em_ssc_stop(ud, EM_STOP_DEFAULT);
}

Test(receiver, em_ssc_stop_from_a_receiver_error_listener_stops_the_ssc)
{
    fixture f = {0};
    f.cmd.cmds = g_async_queue_new_full(g_free);
    collected_init(&f.out);
    f.ssc = manual_ssc("local[2]");
    f.ds = em_receiver_stream(f.ssc, &commanded_funcs, &f.cmd, NULL);
    collect(f.ds, &f.out);
    em_ssc_add_listener(f.ssc, &(em_listener){.receiver_error = stop_from_error_listener}, f.ssc);
    cr_assert(em_ssc_start(f.ssc, NULL));
    push(&f, "!error");
    cr_assert_eq(em_ssc_await_termination(f.ssc, NULL), true);
    cr_assert_eq(em_ssc_get_state(f.ssc), EM_SSC_STOPPED);
    cr_assert_eq(f.cmd.stops, 1);
    teardown(&f);
    /* The receiver thread ended once the listener returned, and was joined by the free. */
    cr_assert_eq(f.cmd.starts, 1);
}

static void stopping_start(em_receiver *r, void *ud)
{
    em_receiver_store(r, em_int(7));
    em_ssc_stop(ud, EM_STOP_GRACEFUL);
    /* Stopped: on_start returns, and what it stores now is dropped. */
    cr_assert(em_receiver_is_stopped(r));
    em_receiver_store(r, em_int(8));
}

Test(receiver, em_ssc_stop_from_on_start_stops_the_ssc)
{
    collected out;
    collected_init(&out);
    em_ssc *ssc = manual_ssc("local[2]");
    em_dstream *ds =
        em_receiver_stream(ssc, &(em_receiver_funcs){.on_start = stopping_start}, ssc, NULL);
    collect(ds, &out);
    cr_assert(em_ssc_start(ssc, NULL));
    cr_assert(em_ssc_await_termination(ssc, NULL));
    /* Graceful: the record stored before the stop got a batch. */
    char *got = batches_text(&out);
    cr_assert_str_eq(got, "[7]\n");
    g_free(got);
    cr_assert_eq(em_receiver_stream_records(ds), 1);
    em_ssc_free(ssc);
    char *events = events_text(&out);
    cr_assert_str_eq(events, "started Receiver#0\nstopped\n");
    g_free(events);
    collected_clear(&out);
}

/* An on_start that ignores stops: it returns only when the test releases it. */
typedef struct stubborn {
    GAsyncQueue *release;
    GAsyncQueue *destroyed;
} stubborn;

static void stubborn_start(em_receiver *r, void *ud)
{
    stubborn *s = ud;
    em_receiver_store(r, em_int(1));
    g_free(g_async_queue_pop(s->release));
    em_receiver_store(r, em_int(2)); /* long after the ssc is gone: dropped */
    em_receiver_report_error(r, "too late");
}

static void stubborn_destroy(void *ud)
{
    stubborn *s = ud;
    g_async_queue_push(s->destroyed, g_strdup("destroyed"));
}

static GString *warnings;

static GLogWriterOutput capture_warnings(GLogLevelFlags level, const GLogField *fields, gsize n,
                                         gpointer ud)
{
    if (!(level & G_LOG_LEVEL_WARNING))
        return g_log_writer_default(level, fields, n, ud);
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_string_append_printf(warnings, "%s\n", (const char *)fields[i].value);
    return G_LOG_WRITER_HANDLED;
}

Test(receiver, a_receiver_whose_on_start_never_returns_is_abandoned_after_the_stop_timeout)
{
    warnings = g_string_new(NULL);
    g_log_set_writer_func(capture_warnings, NULL, NULL);
    stubborn s = {g_async_queue_new(), g_async_queue_new()};
    collected out;
    collected_init(&out);
    em_ssc *ssc = manual_ssc("local[2]");
    em_dstream *ds = em_receiver_stream(ssc,
                                        &(em_receiver_funcs){.name = "Stubborn",
                                                             .on_start = stubborn_start,
                                                             .destroy = stubborn_destroy},
                                        &s, &(em_receiver_opts){.stop_timeout = 200});
    collect(ds, &out);
    cr_assert(em_ssc_start(ssc, NULL));
    wait_records(ds, 1);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_STOPPED);
    const char *expected = "Receiver Stubborn of stream 0 did not stop within 200 ms (its "
                           "on_start has not returned): abandoning its thread";
    char *events = events_text(&out),
         *want = g_strdup_printf("started Stubborn#0\nerror %s\n", expected);
    cr_assert_str_eq(events, want);
    cr_assert(strstr(warnings->str, expected), "warnings: %s", warnings->str);
    g_free(events);
    g_free(want);
    em_ssc_free(ssc);
    cr_assert_null(g_async_queue_try_pop(s.destroyed), "the abandoned thread still has its ud");
    /* Released, on_start returns; its thread frees what it kept. */
    g_async_queue_push(s.release, g_strdup("go"));
    g_free(g_async_queue_pop(s.destroyed));
    collected_clear(&out);
    g_async_queue_unref(s.release);
    g_async_queue_unref(s.destroyed);
    g_string_free(warnings, TRUE);
}
