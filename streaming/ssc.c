/* em_ssc, Spark's StreamingContext: its lifecycle (INITIALIZED -> ACTIVE -> STOPPED) — new,
 * start, stop, await, free. The graph (graph.c), the job generator (job-generator.c), the job
 * scheduler (job-scheduler.c) and the listener bus (listener-bus.c) do the work (streaming). */
#include "recovery.h"
#include "ui-private.h"

static GMutex active_lock;
static em_ssc *active_ssc; /* one active StreamingContext per process, as Spark */

em_ssc *em_ssc_new_full(const em_ssc_opts *opts, GError **err)
{
    if (opts->batch_interval <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_new: the batch interval must be > 0 ms (got %" G_GINT64_FORMAT ")",
                    (gint64)opts->batch_interval);
        return NULL;
    }
    em_context *sc = opts->context;
    bool owns = false;
    if (!sc) {
        sc = em_context_new(opts->master, opts->app_name, err);
        if (!sc)
            return NULL;
        owns = true;
    }
    em_ssc *ssc = g_new0(em_ssc, 1);
    ssc->sc = sc;
    ssc->owns_sc = owns;
    ssc->batch = opts->batch_interval;
    ssc->state = EM_SSC_INITIALIZED;
    g_mutex_init(&ssc->lock);
    g_cond_init(&ssc->cond);
    g_rec_mutex_init(&ssc->generate_lock);
    ssc->current_batch = G_MININT64;
    ssc->streams = g_ptr_array_new_with_free_func((GDestroyNotify)em__dstream_free);
    ssc->inputs = g_ptr_array_new();
    ssc->outputs = g_ptr_array_new();
    ssc->listeners = g_array_new(FALSE, TRUE, sizeof(em_listener_entry));
    ssc->manual = opts->manual_clock;
    ssc->manual_now = opts->manual_start;
    ssc->receiver_wal = opts->receiver_wal;
    ssc->last_done = G_MININT64;
    if (!em__monitor_attach(ssc, opts->ui_address, err)) {
        em_ssc_free(ssc);
        return NULL;
    }
    return ssc;
}

em_ssc *em_ssc_new(const char *master, const char *app_name, em_duration batch_interval)
{
    GError *err = NULL;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = master,
                                                 .app_name = app_name,
                                                 .batch_interval = batch_interval},
                                  &err);
    if (!ssc) {
        g_critical("%s", err->message);
        g_error_free(err);
    }
    return ssc;
}

em_ssc_state em_ssc_get_state(const em_ssc *ssc)
{
    /* A stop on another thread writes it under the lock. */
    g_mutex_lock((GMutex *)&ssc->lock);
    em_ssc_state state = ssc->state;
    g_mutex_unlock((GMutex *)&ssc->lock);
    return state;
}
em_context *em_ssc_context(const em_ssc *ssc) { return ssc->sc; }
em_duration em_ssc_batch_interval(const em_ssc *ssc) { return ssc->batch; }

void em_ssc_remember(em_ssc *ssc, em_duration duration)
{
    g_mutex_lock(&ssc->lock);
    if (ssc->state != EM_SSC_INITIALIZED)
        g_critical("em_ssc_remember: call it before em_ssc_start");
    else
        ssc->remember = duration;
    g_mutex_unlock(&ssc->lock);
}

/* ---- Start, stop, await ---- */

bool em_ssc_start(em_ssc *ssc, GError **err)
{
    g_mutex_lock(&ssc->lock);
    em_ssc_state state = ssc->state;
    g_mutex_unlock(&ssc->lock);
    if (state == EM_SSC_ACTIVE) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "em_ssc_start: already started");
        return false;
    }
    if (state == EM_SSC_STOPPED) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_start: this StreamingContext was stopped; it cannot be restarted, "
                    "make a new one");
        return false;
    }
    if (ssc->outputs->len == 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_start: No output operations registered, so nothing to execute "
                    "(add em_print, em_foreach_rdd or em_save_as_text_files)");
        return false;
    }
    g_mutex_lock(&active_lock);
    if (active_ssc) {
        g_mutex_unlock(&active_lock);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_start: another StreamingContext is active in this process; stop it "
                    "first");
        return false;
    }
    active_ssc = ssc;
    g_mutex_unlock(&active_lock);

    em_time first = em__job_generator_first_batch(em_ssc_clock_time(ssc), ssc->batch);
    ssc->zero_time = first - ssc->batch;
    em__recovery_start(ssc, &first);
    em__graph_init(ssc, ssc->zero_time);
    if (!em__graph_start_inputs(ssc, err)) {
        g_mutex_lock(&active_lock);
        active_ssc = NULL;
        g_mutex_unlock(&active_lock);
        return false;
    }
    ssc->batches = g_async_queue_new();
    g_mutex_lock(&ssc->lock);
    ssc->state = EM_SSC_ACTIVE;
    g_mutex_unlock(&ssc->lock);
    em__job_scheduler_start(ssc);
    em__job_generator_start(ssc, first);
    return true;
}

void em__ssc_finish_stop(em_ssc *ssc)
{
    em__recovery_stop(ssc);
    g_mutex_lock(&active_lock);
    if (active_ssc == ssc)
        active_ssc = NULL;
    g_mutex_unlock(&active_lock);
    g_mutex_lock(&ssc->lock);
    ssc->terminated = true;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
}

void em_ssc_stop(em_ssc *ssc, em_stop_flags flags)
{
    bool stop_context = flags & EM_STOP_CONTEXT, graceful = flags & EM_STOP_GRACEFUL;
    g_mutex_lock(&ssc->lock);
    em_ssc_state state = ssc->state;
    ssc->state = EM_SSC_STOPPED;
    ssc->stop_context = ssc->stop_context || stop_context;
    if (state != EM_SSC_ACTIVE || ssc->stopping) {
        /* Never started, or a stop is under way or done: nothing more to do but wait for it
         * (as Spark's synchronized stop), unless called from a callback of the batch that
         * holds it up. */
        if (state == EM_SSC_INITIALIZED)
            ssc->terminated = true;
        g_cond_broadcast(&ssc->cond);
        while (ssc->stopping && !ssc->terminated && g_thread_self() != ssc->scheduler)
            g_cond_wait(&ssc->cond, &ssc->lock);
        g_mutex_unlock(&ssc->lock);
        return;
    }
    ssc->stopping = true;
    ssc->graceful = graceful;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);

    /* Receivers first, so that nothing new arrives. */
    em__graph_stop_inputs(ssc, graceful);
    em__job_generator_stop(ssc);
    if (g_thread_self() == ssc->scheduler) {
        /* Called from an output operation: the scheduler ends after this batch and completes
         * the stop; em_ssc_free joins it. await_termination returns when it has. */
        g_mutex_lock(&ssc->lock);
        ssc->self_stop = true;
        g_mutex_unlock(&ssc->lock);
        return;
    }
    g_thread_join(ssc->scheduler);
    g_mutex_lock(&ssc->lock);
    ssc->scheduler = NULL; /* a concurrent stop compares it under the lock */
    g_mutex_unlock(&ssc->lock);
    em__ssc_finish_stop(ssc);
}

/* The monotonic deadline timeout_ms from now, saturated at G_MAXINT64 (no overflow). */
static gint64 deadline_after(int64_t timeout_ms)
{
    gint64 now = g_get_monotonic_time();
    if (timeout_ms <= 0)
        return now;
    if (timeout_ms > (G_MAXINT64 - now) / 1000)
        return G_MAXINT64;
    return now + timeout_ms * 1000;
}

static bool wait_terminated(em_ssc *ssc, gint64 deadline, GError **err, int *result)
{
    g_mutex_lock(&ssc->lock);
    for (;;) {
        if (ssc->failure) {
            g_propagate_error(err, g_error_copy(ssc->failure));
            *result = -1;
            break;
        }
        /* Set once the stop is complete: by em_ssc_stop after joining the threads, or by the
         * scheduler when a callback stopped it. */
        if (ssc->terminated) {
            *result = 1;
            break;
        }
        if (deadline < 0)
            g_cond_wait(&ssc->cond, &ssc->lock);
        else if (!g_cond_wait_until(&ssc->cond, &ssc->lock, deadline)) {
            *result = 0;
            break;
        }
    }
    g_mutex_unlock(&ssc->lock);
    return *result == 1;
}

bool em_ssc_await_termination(em_ssc *ssc, GError **err)
{
    int result;
    return wait_terminated(ssc, -1, err, &result);
}

int em_ssc_await_termination_or_timeout(em_ssc *ssc, int64_t timeout_ms, GError **err)
{
    int result;
    wait_terminated(ssc, deadline_after(timeout_ms), err, &result);
    return result;
}

bool em_ssc_wait_for_batch(em_ssc *ssc, em_time t, int64_t timeout_ms)
{
    gint64 deadline = deadline_after(timeout_ms);
    g_mutex_lock(&ssc->lock);
    bool ok = true;
    while (ssc->last_done < t) {
        if (ssc->scheduler_done || ssc->terminated ||
            !g_cond_wait_until(&ssc->cond, &ssc->lock, deadline)) {
            ok = ssc->last_done >= t;
            break;
        }
    }
    g_mutex_unlock(&ssc->lock);
    return ok;
}

void em_ssc_free(em_ssc *ssc)
{
    if (!ssc)
        return;
    em__shutdown_forget(ssc);
    em_ssc_stop(ssc, ssc->stop_context ? EM_STOP_CONTEXT : EM_STOP_DEFAULT);
    if (ssc->scheduler) {
        g_thread_join(ssc->scheduler);
        ssc->scheduler = NULL;
    }
    em__ssc_finish_stop(ssc);
    em__monitor_stop_page(ssc); /* the page's thread reads the graph: it stops first */
    if (ssc->batches) {
        em_queued_batch *b;
        while ((b = g_async_queue_try_pop(ssc->batches)))
            g_free(b);
        g_async_queue_unref(ssc->batches);
    }
    em__recovery_free(ssc);
    em__graph_free(ssc);
    em__monitor_free(ssc); /* receivers report to it until the graph has joined them */
    g_array_unref(ssc->listeners);
    g_clear_error(&ssc->failure);
    /* A borrowed context is the ssc's to free once stop was asked to stop it. */
    if (ssc->owns_sc || ssc->stop_context)
        em_context_free(ssc->sc);
    g_mutex_clear(&ssc->lock);
    g_cond_clear(&ssc->cond);
    g_rec_mutex_clear(&ssc->generate_lock);
    g_free(ssc);
}
