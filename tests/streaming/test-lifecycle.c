/* The StreamingContext's lifecycle: construction errors, one active context per process, stop
 * (idempotent, from any thread, from inside callbacks, graceful or not), await_termination, a
 * failing batch, and the job generator's clock thread that never runs user code. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include "queue-fixture.h"

#include <ember/testing.h>

#include "criticals.h"

#include <inttypes.h>

/* ---- Helpers ---- */

/* What the output operation saw, and a gate that can hold it inside one batch. */
typedef struct {
    em_ssc *ssc;
    GMutex lock;
    GCond cond;
    GArray *times;      /* batch times the output operation ran for, in order */
    GPtrArray *outputs; /* "[records]" per batch run */
    em_time hold_at;    /* the output operation waits at this batch until opened (0: never) */
    bool held, open;
    em_time stop_at; /* the output operation stops the ssc at this batch (0: never) */
    GThread *thread; /* the thread the output operation last ran on */
} probe;

static void probe_init(probe *p, em_ssc *ssc)
{
    *p = (probe){.ssc = ssc};
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    p->times = g_array_new(FALSE, FALSE, sizeof(em_time));
    p->outputs = g_ptr_array_new_with_free_func(g_free);
}

static void probe_clear(probe *p)
{
    g_array_unref(p->times);
    g_ptr_array_unref(p->outputs);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
}

static bool probe_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    probe *p = ud;
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    g_mutex_lock(&p->lock);
    g_array_append_val(p->times, t);
    g_ptr_array_add(p->outputs, em_values_to_string(em_values_sort(vals)));
    p->thread = g_thread_self();
    if (t == p->hold_at) {
        p->held = true;
        g_cond_broadcast(&p->cond);
        while (!p->open)
            g_cond_wait(&p->cond, &p->lock);
    }
    g_mutex_unlock(&p->lock);
    em_values_free(vals);
    if (t == p->stop_at)
        em_ssc_stop(p->ssc, EM_STOP_DEFAULT);
    return true;
}

static void probe_wait_held(probe *p)
{
    g_mutex_lock(&p->lock);
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    while (!p->held)
        cr_assert(g_cond_wait_until(&p->cond, &p->lock, deadline), "the batch never came");
    g_mutex_unlock(&p->lock);
}

static void probe_open(probe *p)
{
    g_mutex_lock(&p->lock);
    p->open = true;
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
}

static char *probe_times(probe *p)
{
    GString *s = g_string_new(NULL);
    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->times->len; i++)
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? " " : "",
                               (gint64)g_array_index(p->times, em_time, i));
    g_mutex_unlock(&p->lock);
    return g_string_free(s, FALSE);
}

/* ---- Construction ---- */

Test(lifecycle, new_with_a_bad_master_or_interval_fails)
{
    capture_criticals();
    cr_assert_null(em_ssc_new("spark://nowhere:7077", "t", EM_SECONDS(1)));
    assert_critical("spark://nowhere:7077");
    cr_assert_null(em_ssc_new("local[2]", "t", 0));
    assert_critical("the batch interval must be > 0 ms (got 0)");
    cr_assert_null(em_ssc_new("local[2]", "t", -5));
    assert_critical("(got -5)");
    GError *err = NULL;
    cr_assert_null(
        em_ssc_new_full(&(em_ssc_opts){.master = "local[x]", .batch_interval = 10}, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_INVALID));
    cr_assert(strstr(err->message, "local[x]"), "%s", err->message);
    g_clear_error(&err);
}

Test(lifecycle, advance_clock_on_the_system_clock_is_refused)
{
    capture_criticals();
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_SECONDS(1));
    em_time before = em_ssc_clock_time(ssc);
    em_ssc_advance_clock(ssc, EM_MINUTES(60));
    assert_critical("em_ssc_advance_clock: this StreamingContext runs on the system clock");
    cr_assert_lt(em_ssc_clock_time(ssc) - before, EM_MINUTES(1));
    em_ssc_free(ssc);
}

/* ---- One active context; no restart ---- */

Test(lifecycle, stop_before_start_leaves_a_stopped_context_that_cannot_start)
{
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    em_foreach_rdd(f.input, ignore_rdd);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    em_ssc_stop(f.ssc, EM_STOP_GRACEFUL);
    cr_assert_eq(em_ssc_get_state(f.ssc), EM_SSC_STOPPED);
    cr_assert(em_ssc_await_termination(f.ssc, NULL));
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 0, NULL), 1);
    GError *err = NULL;
    cr_assert_not(em_ssc_start(f.ssc, &err));
    cr_assert(strstr(err->message, "cannot be restarted"), "%s", err->message);
    g_clear_error(&err);
    queue_fixture_free(&f);
}

Test(lifecycle, a_second_context_starts_only_once_the_first_has_stopped)
{
    const char *batches[] = {"1"};
    queue_fixture a = queue_fixture_new(batches, 1), b = queue_fixture_new(batches, 1);
    em_foreach_rdd(a.input, ignore_rdd);
    em_foreach_rdd(b.input, ignore_rdd);
    cr_assert(em_ssc_start(a.ssc, NULL));
    GError *err = NULL;
    cr_assert_not(em_ssc_start(b.ssc, &err));
    cr_assert(strstr(err->message, "another StreamingContext is active"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_eq(em_ssc_get_state(b.ssc), EM_SSC_INITIALIZED);
    em_ssc_stop(a.ssc, EM_STOP_DEFAULT);
    cr_assert(em_ssc_start(b.ssc, &err), "%s", err ? err->message : "");
    run_batch(b.ssc, 1000);
    queue_fixture_free(&a);
    queue_fixture_free(&b);
}

/* ---- Stop ---- */

static gpointer stop_thread(gpointer data)
{
    em_ssc_stop(data, EM_STOP_DEFAULT);
    return NULL;
}

static gpointer stop_gracefully_thread(gpointer data)
{
    em_ssc_stop(data, EM_STOP_GRACEFUL);
    return NULL;
}

Test(lifecycle, stop_from_another_thread_ends_await_termination)
{
    const char *batches[] = {"1", "2"};
    queue_fixture f = queue_fixture_new(batches, 2);
    probe p;
    probe_init(&p, f.ssc);
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batch(f.ssc, 1000);
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 20, NULL), 0);
    GThread *stopper = g_thread_new("stopper", stop_thread, f.ssc);
    cr_assert(em_ssc_await_termination(f.ssc, NULL));
    g_thread_join(stopper);
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 0, NULL), 1);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT); /* idempotent */
    cr_assert_eq(em_ssc_get_state(f.ssc), EM_SSC_STOPPED);
    /* The clock moves on, but nothing runs after the stop. */
    em_ssc_advance_clock(f.ssc, EM_SECONDS(5));
    cr_assert_not(em_ssc_wait_for_batch(f.ssc, 2000, 100));
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "1000");
    queue_fixture_free(&f);
    probe_clear(&p);
}

Test(lifecycle, stop_inside_foreach_rdd_returns_and_frees_the_active_slot)
{
    const char *batches[] = {"1", "2", "3"};
    queue_fixture f = queue_fixture_new(batches, 3);
    probe p;
    probe_init(&p, f.ssc);
    p.stop_at = 2000;
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batch(f.ssc, 1000);
    run_batch(f.ssc, 2000);
    GError *err = NULL;
    cr_assert(em_ssc_await_termination(f.ssc, &err), "%s", err ? err->message : "");
    cr_assert_eq(em_ssc_get_state(f.ssc), EM_SSC_STOPPED);
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    cr_assert_not(em_ssc_wait_for_batch(f.ssc, 3000, 100));
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "1000 2000");
    /* Once await_termination has returned, another context may start. */
    queue_fixture g = queue_fixture_new(batches, 1);
    em_foreach_rdd(g.input, ignore_rdd);
    cr_assert(em_ssc_start(g.ssc, &err), "%s", err ? err->message : "");
    queue_fixture_free(&g);
    queue_fixture_free(&f);
    probe_clear(&p);
}

static void stop_on_completed(const em_batch_info *info, void *ud)
{
    if (info->batch_time == 1000)
        em_ssc_stop(ud, EM_STOP_GRACEFUL);
}

Test(lifecycle, stop_inside_a_listener_does_not_deadlock)
{
    const char *batches[] = {"1", "2"};
    queue_fixture f = queue_fixture_new(batches, 2);
    probe p;
    probe_init(&p, f.ssc);
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = stop_on_completed}, f.ssc);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batch(f.ssc, 1000);
    cr_assert(em_ssc_await_termination(f.ssc, NULL));
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "1000");
    queue_fixture_free(&f);
    probe_clear(&p);
}

/* Holds the output operation inside batch 1 s while batches 2 s and 3 s wait in the queue,
 * then stops (graceful or not) and lets batch 1 s finish. Returns the batches that ran. */
static char *stop_with_queued_batches(bool graceful)
{
    const char *batches[] = {"1", "2", "3"};
    queue_fixture f = queue_fixture_new(batches, 3);
    probe p;
    probe_init(&p, f.ssc);
    p.hold_at = 1000;
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    em_ssc_advance_clock(f.ssc, EM_SECONDS(3));
    probe_wait_held(&p);
    /* The generator queues 2 s and 3 s without waiting for the scheduler. */
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    while (g_async_queue_length(f.ssc->batches) < 2 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    cr_assert_eq(g_async_queue_length(f.ssc->batches), 2);

    GThread *stopper =
        g_thread_new("stopper", graceful ? stop_gracefully_thread : stop_thread, f.ssc);
    g_mutex_lock(&f.ssc->lock);
    while (!f.ssc->stopping)
        g_cond_wait(&f.ssc->cond, &f.ssc->lock);
    g_mutex_unlock(&f.ssc->lock);
    probe_open(&p);
    g_thread_join(stopper);
    cr_assert(em_ssc_await_termination(f.ssc, NULL));
    char *times = probe_times(&p);
    queue_fixture_free(&f);
    probe_clear(&p);
    return times;
}

Test(lifecycle, graceful_stop_runs_the_batches_already_generated)
{
    g_autofree char *times = stop_with_queued_batches(true);
    cr_assert_str_eq(times, "1000 2000 3000");
}

Test(lifecycle, hard_stop_finishes_the_batch_under_way_and_drops_the_rest)
{
    g_autofree char *times = stop_with_queued_batches(false);
    cr_assert_str_eq(times, "1000");
}

static gpointer open_later(gpointer data)
{
    /* Only orders the events: whatever the delay, a correct stop waits for the batch. */
    g_usleep(100 * 1000);
    probe_open(data);
    return NULL;
}

Test(lifecycle, a_second_concurrent_stop_returns_only_once_stopped)
{
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    probe p;
    probe_init(&p, f.ssc);
    p.hold_at = 1000;
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    probe_wait_held(&p);
    GThread *first = g_thread_new("stopper", stop_thread, f.ssc);
    g_mutex_lock(&f.ssc->lock);
    while (!f.ssc->stopping)
        g_cond_wait(&f.ssc->cond, &f.ssc->lock);
    g_mutex_unlock(&f.ssc->lock);
    GThread *opener = g_thread_new("opener", open_later, &p);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 0, NULL), 1,
                 "stop returned before the context stopped");
    g_thread_join(first);
    g_thread_join(opener);
    queue_fixture_free(&f);
    probe_clear(&p);
}

Test(lifecycle, await_termination_or_timeout_is_0_while_running_and_1_after_stop)
{
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    em_foreach_rdd(f.input, ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    gint64 start = g_get_monotonic_time();
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 50, NULL), 0);
    cr_assert_geq(g_get_monotonic_time() - start, 50 * 1000);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 50, NULL), 1);
    queue_fixture_free(&f);
}

Test(lifecycle, a_borrowed_context_outlives_the_ssc_unless_stop_context_is_asked)
{
    GError *err = NULL;
    em_context *sc = em_context_new("local[2]", "shared", &err);
    cr_assert_not_null(sc);
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.context = sc,
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
                                  &err);
    cr_assert_not_null(ssc);
    cr_assert_eq(em_ssc_context(ssc), sc);
    em_rdd_queue *q = em_rdd_queue_new();
    em_foreach_rdd(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL), ignore_rdd);
    cr_assert(em_ssc_start(ssc, NULL));
    run_batch(ssc, 1000);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    /* Still usable: Spark's stop(stopSparkContext = false). */
    g_autoptr(em_rdd) rdd = em_parallelize_text(sc, "1, 2, 3", 2, NULL);
    cr_assert_eq(em_rdd_count(rdd, NULL), 3);
    g_clear_pointer(&rdd, em_rdd_unref);

    /* With stop_context the ssc frees it: the test must not (ASan would see a double free). */
    ssc = em_ssc_new_full(&(em_ssc_opts){.context = sc,
                                         .batch_interval = 1000,
                                         .manual_clock = true},
                          NULL);
    q = em_rdd_queue_new();
    em_foreach_rdd(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL), ignore_rdd);
    cr_assert(em_ssc_start(ssc, NULL));
    em_ssc_stop(ssc, EM_STOP_CONTEXT);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
}

/* ---- A failing batch ---- */

static em_value fail_on_two(em_value v, void *ud)
{
    (void)ud;
    if (em_as_int(v) == 2)
        return em_fail("two is not allowed");
    return v;
}

Test(lifecycle, a_failing_map_fails_its_batch_and_later_batches_still_run)
{
    const char *batches[] = {"1", "2, 3", "4"};
    queue_fixture f = queue_fixture_new(batches, 3);
    probe p;
    probe_init(&p, f.ssc);
    em_foreach_rdd_full(em_map(f.input, fail_on_two), probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batch(f.ssc, 1000);
    run_batch(f.ssc, 2000);
    GError *err = NULL;
    cr_assert_not(em_ssc_await_termination(f.ssc, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK), "%s", err->message);
    cr_assert(g_str_has_prefix(err->message, "batch 2000 ms: "), "%s", err->message);
    cr_assert(strstr(err->message, "map (fail_on_two) failed: two is not allowed"), "%s",
              err->message);
    g_clear_error(&err);
    /* As Spark: the context keeps running. */
    cr_assert_eq(em_ssc_get_state(f.ssc), EM_SSC_ACTIVE);
    run_batch(f.ssc, 3000);
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "1000 3000");
    cr_assert_str_eq(p.outputs->pdata[1], "[4]");
    /* The first failure stays the answer, also after stop. */
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, 0, &err), -1);
    cr_assert(strstr(err->message, "batch 2000 ms"), "%s", err->message);
    g_clear_error(&err);
    queue_fixture_free(&f);
    probe_clear(&p);
}

/* ---- The clock thread: slow batches delay, never skip ---- */

typedef struct {
    GMutex lock;
    GArray *started; /* batch times at batch_started */
    GArray *delays;  /* their scheduling delays */
    GThread *transform_thread;
} timing;

static void record_started(const em_batch_info *info, void *ud)
{
    timing *tm = ud;
    g_mutex_lock(&tm->lock);
    g_array_append_val(tm->started, info->batch_time);
    g_array_append_val(tm->delays, info->scheduling_delay);
    g_mutex_unlock(&tm->lock);
}

static em_rdd *note_thread(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)err;
    timing *tm = ud;
    g_mutex_lock(&tm->lock);
    tm->transform_thread = g_thread_self();
    g_mutex_unlock(&tm->lock);
    return em_rdd_ref(rdd);
}

static bool slow_output(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)err;
    g_usleep(200 * 1000);
    ((probe *)ud)->thread = g_thread_self();
    return true;
}

Test(lifecycle, slow_batches_on_the_system_clock_queue_up_without_skipping)
{
    const em_duration interval = 100;
    em_ssc *ssc = em_ssc_new("local[2]", "slow", interval);
    em_rdd_queue *q = em_rdd_queue_new();
    timing tm = {.started = g_array_new(FALSE, FALSE, sizeof(em_time)),
                 .delays = g_array_new(FALSE, FALSE, sizeof(int64_t))};
    g_mutex_init(&tm.lock);
    probe p;
    probe_init(&p, ssc);
    em_dstream *ds = em_transform_full(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL),
                                       note_thread, &tm, NULL, "note_thread");
    em_foreach_rdd_full(ds, slow_output, &p, NULL, "slow");
    em_ssc_add_listener(ssc, &(em_listener){.batch_started = record_started}, &tm);
    cr_assert(em_ssc_start(ssc, NULL));
    GThread *clock_thread = ssc->generator;
    em_time zero = ssc->zero_time;
    cr_assert_eq(zero % interval, 0);
    cr_assert(em_ssc_wait_for_batch(ssc, zero + 4 * interval, 10000));
    em_ssc_stop(ssc, EM_STOP_DEFAULT);

    g_mutex_lock(&tm.lock);
    cr_assert_geq(tm.started->len, 4);
    for (guint i = 0; i < tm.started->len; i++)
        cr_assert_eq(g_array_index(tm.started, em_time, i), zero + (em_time)(i + 1) * interval,
                     "batch %u", i);
    /* Each batch takes 200 ms for 100 ms of time: the wait grows by ~100 ms a batch. */
    for (guint i = 1; i < 4; i++)
        cr_assert_geq(g_array_index(tm.delays, int64_t, i),
                      g_array_index(tm.delays, int64_t, i - 1), "scheduling delay %u", i);
    int64_t growth = g_array_index(tm.delays, int64_t, 3) - g_array_index(tm.delays, int64_t, 0);
    cr_assert_geq(growth, 150, "the scheduling delay grew by %" PRId64 " ms in 3 batches", growth);
    cr_assert_neq(tm.transform_thread, clock_thread, "a transform ran on the clock thread");
    cr_assert_neq(p.thread, clock_thread, "an output operation ran on the clock thread");
    cr_assert_eq(p.thread, tm.transform_thread);
    g_mutex_unlock(&tm.lock);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    g_array_unref(tm.started);
    g_array_unref(tm.delays);
    g_mutex_clear(&tm.lock);
    probe_clear(&p);
}

/* ---- Times before zero, long timeouts ---- */

Test(lifecycle, a_manual_clock_started_before_zero_runs_batches)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .manual_start = -5500},
                                  NULL);
    em_rdd_queue *q = em_rdd_queue_new();
    for (int i = 1; i <= 3; i++) {
        g_autofree char *text = g_strdup_printf("%d", i);
        g_autoptr(em_rdd) rdd = em_parallelize_text(em_ssc_context(ssc), text, 1, NULL);
        em_rdd_queue_push(q, rdd);
    }
    probe p;
    probe_init(&p, ssc);
    em_foreach_rdd_full(em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL), probe_rdd, &p, NULL,
                        "probe");
    cr_assert(em_ssc_start(ssc, NULL));
    /* The next multiple of 1 s after -5.5 s is -5 s; a negative batch time is a batch. */
    for (em_time t = -5000; t <= -3000; t += 1000) {
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        cr_assert(em_ssc_wait_for_batch(ssc, t, 10000), "batch %" PRId64, t);
    }
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "-5000 -4000 -3000");
    cr_assert_str_eq(p.outputs->pdata[2], "[3]");
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_ACTIVE);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    cr_assert_eq(em_ssc_get_state(ssc), EM_SSC_STOPPED);
    cr_assert_eq(em_ssc_await_termination_or_timeout(ssc, 0, NULL), 1);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    probe_clear(&p);
}

Test(lifecycle, the_longest_timeouts_wait_instead_of_overflowing)
{
    const char *batches[] = {"1", "2"};
    queue_fixture f = queue_fixture_new(batches, 2);
    probe p;
    probe_init(&p, f.ssc);
    p.stop_at = 2000;
    em_foreach_rdd_full(f.input, probe_rdd, &p, NULL, "probe");
    cr_assert(em_ssc_start(f.ssc, NULL));
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(f.ssc, 1000, G_MAXINT64));
    /* Batch 2 s stops the context from its output: a G_MAXINT64 wait returns when it has
     * (an overflowed deadline would be in the past and give 0 at once). */
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    cr_assert_eq(em_ssc_await_termination_or_timeout(f.ssc, G_MAXINT64, NULL), 1);
    cr_assert(em_ssc_wait_for_batch(f.ssc, 2000, G_MAXINT64));
    g_autofree char *times = probe_times(&p);
    cr_assert_str_eq(times, "1000 2000");
    queue_fixture_free(&f);
    probe_clear(&p);
}
