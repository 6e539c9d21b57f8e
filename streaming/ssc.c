/* em_ssc, Spark's StreamingContext: lifecycle (INITIALIZED -> ACTIVE -> STOPPED), the clock
 * (system or manual), the job generator thread that only watches time, and the scheduler thread
 * that turns each batch into RDDs and runs its output operations in order. */
#include "streaming-private.h"
#include "ui-private.h"

#include <string.h>

static GMutex active_lock;
static em_ssc *active_ssc; /* one active StreamingContext per process, as Spark */

int64_t em__now_ms(void) { return g_get_real_time() / 1000; }

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
    ssc->streams = g_ptr_array_new_with_free_func((GDestroyNotify)em__dstream_free);
    ssc->inputs = g_ptr_array_new();
    ssc->outputs = g_ptr_array_new();
    ssc->listeners = g_array_new(FALSE, TRUE, sizeof(em_listener_entry));
    ssc->manual = opts->manual_clock;
    ssc->manual_now = opts->manual_start;
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
    em_ssc *ssc = em_ssc_new_full(
        &(em_ssc_opts){.master = master, .app_name = app_name, .batch_interval = batch_interval},
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

void em_ssc_add_listener(em_ssc *ssc, const em_listener *listener, void *ud)
{
    em_listener_entry e = {*listener, ud};
    g_mutex_lock(&ssc->lock);
    g_array_append_val(ssc->listeners, e);
    g_mutex_unlock(&ssc->lock);
}

/* ---- Clock ---- */

em_time em_ssc_clock_time(const em_ssc *ssc)
{
    if (ssc->manual) {
        g_mutex_lock((GMutex *)&ssc->lock);
        em_time t = ssc->manual_now;
        g_mutex_unlock((GMutex *)&ssc->lock);
        return t;
    }
    return em__now_ms();
}

void em_ssc_advance_clock(em_ssc *ssc, em_duration d)
{
    if (!ssc->manual) {
        g_critical("em_ssc_advance_clock: this StreamingContext runs on the system clock");
        return;
    }
    g_mutex_lock(&ssc->lock);
    ssc->manual_now += d;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
}

/* ---- Listener events ---- */

#define EMIT(ssc, member, info)                                                               \
    do {                                                                                      \
        for (guint i_ = 0; i_ < (ssc)->listeners->len; i_++) {                                \
            em_listener_entry *e_ = &g_array_index((ssc)->listeners, em_listener_entry, i_);  \
            if (e_->l.member)                                                                 \
                e_->l.member((info), e_->ud);                                                 \
        }                                                                                     \
    } while (0)

void em__ssc_emit_receiver(em_ssc *ssc, em_receiver_event event, const em_receiver_info *info)
{
    g_mutex_lock(&ssc->lock);
    GArray *listeners = g_array_copy(ssc->listeners);
    g_mutex_unlock(&ssc->lock);
    struct {
        GArray *listeners;
    } copy = {listeners}, *c = &copy;
    switch (event) {
    case EM_RECEIVER_STARTED: EMIT(c, receiver_started, info); break;
    case EM_RECEIVER_ERROR: EMIT(c, receiver_error, info); break;
    case EM_RECEIVER_STOPPED: EMIT(c, receiver_stopped, info); break;
    }
    g_array_unref(listeners);
}

/* ---- The generator: the clock's thread ---- */

static void seal_inputs(em_ssc *ssc, em_time t)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->seal)
            in->klass->seal(in, t);
    }
}

static bool inputs_pending(em_ssc *ssc)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->has_pending && in->klass->has_pending(in))
            return true;
    }
    return false;
}

/* A generated batch waiting for the scheduler, and when it was queued: Spark's submission
 * time, from which the scheduling delay counts (it grows while batches wait). */
typedef struct {
    em_time time;
    int64_t submitted;
} queued_batch;

static void queue_batch(em_ssc *ssc, em_time t)
{
    queued_batch *b = g_new(queued_batch, 1);
    *b = (queued_batch){t, em__now_ms()};
    g_async_queue_push(ssc->batches, b);
}

static gpointer generator_main(gpointer data)
{
    em_ssc *ssc = data;
    g_mutex_lock(&ssc->lock);
    for (;;) {
        em_time t = ssc->next_batch;
        /* Wait for the clock to reach t, or for a stop. */
        while (!ssc->stopping) {
            em_time now = ssc->manual ? ssc->manual_now : em__now_ms();
            if (now >= t)
                break;
            if (ssc->manual)
                g_cond_wait(&ssc->cond, &ssc->lock);
            else
                g_cond_wait_until(&ssc->cond, &ssc->lock,
                                  g_get_monotonic_time() + (t - now) * 1000);
        }
        if (ssc->stopping)
            break;
        ssc->next_batch = t + ssc->batch;
        g_mutex_unlock(&ssc->lock);
        seal_inputs(ssc, t);
        queue_batch(ssc, t);
        g_mutex_lock(&ssc->lock);
    }
    bool graceful = ssc->graceful;
    g_mutex_unlock(&ssc->lock);
    /* A graceful stop: receivers are stopped already; give every block still waiting a batch,
     * at the next batch times, without waiting for the clock. */
    while (graceful && inputs_pending(ssc)) {
        em_time t = ssc->next_batch;
        ssc->next_batch = t + ssc->batch;
        seal_inputs(ssc, t);
        queue_batch(ssc, t);
    }
    queue_batch(ssc, -1);
    return NULL;
}

/* ---- The scheduler: runs batches one after another ---- */

static void finish_stop(em_ssc *ssc);

static void run_batch(em_ssc *ssc, em_time t, int64_t submitted)
{
    int n_inputs = (int)ssc->inputs->len;
    int64_t *records = g_new0(int64_t, n_inputs > 0 ? n_inputs : 1);
    em_batch_info info = {.batch_time = t, .n_inputs = n_inputs, .input_records = records,
                          .submission_time = submitted, .processing_start = -1,
                          .processing_end = -1, .scheduling_delay = -1,
                          .processing_delay = -1, .total_delay = -1};
    /* The listeners of this batch: one added meanwhile (even by a callback) hears from the
     * next batch on, and the array may grow under us without harm. */
    g_mutex_lock(&ssc->lock);
    struct {
        GArray *listeners;
    } batch_listeners = {g_array_copy(ssc->listeners)}, *l = &batch_listeners;
    g_mutex_unlock(&ssc->lock);

    GError *err = NULL;
    /* Generate the batch's RDDs for every output operation first (Spark's generateJobs). */
    em_rdd **rdds = g_new0(em_rdd *, ssc->outputs->len ? ssc->outputs->len : 1);
    for (guint i = 0; i < ssc->outputs->len && !err; i++) {
        em_output_op *op = ssc->outputs->pdata[i];
        rdds[i] = em__dstream_get_or_compute(op->ds, t, &err);
    }
    for (int i = 0; i < n_inputs; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        records[i] = in->last_records;
        info.num_records += in->last_records;
        in->last_records = 0;
    }
    /* Spark submits the job set once its RDDs exist, with the input figures. */
    EMIT(l, batch_submitted, &info);
    info.processing_start = em__now_ms();
    info.scheduling_delay = info.processing_start - info.submission_time;
    EMIT(l, batch_started, &info);

    /* Each output operation is a job of its own: one failing does not skip the next (Spark's
     * JobScheduler); the batch keeps the first failure. */
    bool generated = !err;
    for (guint i = 0; i < ssc->outputs->len && generated; i++) {
        em_output_op *op = ssc->outputs->pdata[i];
        if (!rdds[i])
            continue;
        em_output_op_info oi = {.batch_time = t, .id = op->id, .name = op->name,
                                .start_time = em__now_ms(), .end_time = -1};
        EMIT(l, output_op_started, &oi);
        GError *op_err = NULL;
        bool ok = op->run(op, rdds[i], t, &op_err);
        oi.end_time = em__now_ms();
        oi.failure = ok ? NULL : op_err->message;
        EMIT(l, output_op_completed, &oi);
        if (op_err && !err)
            err = g_steal_pointer(&op_err);
        g_clear_error(&op_err);
    }
    /* The batch's jobs are done: its shuffle outputs will not be read again (a window or a
     * state reads cached or checkpointed RDDs), so they go now rather than a batch later. */
    for (guint i = 0; i < ssc->outputs->len; i++)
        if (rdds[i])
            em__rdd_release_shuffles(rdds[i]);
    g_free(rdds);

    /* Forget what no stream needs any more. */
    for (guint i = 0; i < ssc->outputs->len; i++)
        em__dstream_clear(((em_output_op *)ssc->outputs->pdata[i])->ds, t);
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < ssc->outputs->len; i++)
        em__dstream_retained(((em_output_op *)ssc->outputs->pdata[i])->ds, seen,
                             &info.retained_batches, &info.retained_bytes);
    g_hash_table_unref(seen);

    info.processing_end = em__now_ms();
    info.processing_delay = info.processing_end - info.processing_start;
    info.total_delay = info.processing_end - info.submission_time;
    if (err) {
        g_prefix_error(&err, "batch %" G_GINT64_FORMAT " ms: ", (gint64)t);
        info.failed = true;
        info.failure = err->message;
    }
    EMIT(l, batch_completed, &info);
    g_array_unref(batch_listeners.listeners);
    g_free(records);

    g_mutex_lock(&ssc->lock);
    if (err && !ssc->failure)
        ssc->failure = g_steal_pointer(&err);
    ssc->last_done = t;
    bool last = ssc->stop_after > 0 && --ssc->stop_after == 0;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
    g_clear_error(&err);
    if (last)
        em_ssc_stop(ssc, false, true);
}

void em_ssc_stop_after_batches(em_ssc *ssc, int64_t batches)
{
    g_mutex_lock(&ssc->lock);
    ssc->stop_after = batches > 0 ? batches : 0;
    g_mutex_unlock(&ssc->lock);
}

static gpointer scheduler_main(gpointer data)
{
    em_ssc *ssc = data;
    for (;;) {
        queued_batch *b = g_async_queue_pop(ssc->batches);
        queued_batch batch = *b;
        g_free(b);
        if (batch.time < 0)
            break;
        g_mutex_lock(&ssc->lock);
        /* A hard stop drops the batches not started yet. */
        bool drop = ssc->stopping && !ssc->graceful;
        g_mutex_unlock(&ssc->lock);
        if (!drop)
            run_batch(ssc, batch.time, batch.submitted);
    }
    g_mutex_lock(&ssc->lock);
    ssc->scheduler_done = true;
    bool self_stop = ssc->self_stop;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
    /* Stopped from one of its own callbacks: nobody else completes the stop. */
    if (self_stop)
        finish_stop(ssc);
    return NULL;
}

/* ---- Start, stop, await ---- */

static void init_stream(em_dstream *ds, em_time zero, em_duration remember)
{
    ds->zero_time = zero;
    if (remember > ds->remember)
        ds->remember = remember;
    em_duration extra = ds->klass->parent_remember_extra ? ds->klass->parent_remember_extra(ds)
                                                         : 0;
    for (int i = 0; i < ds->n_parents; i++)
        init_stream(ds->parents[i], zero, ds->remember + extra);
}

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

    /* Spark's RecurringTimer: the first batch is the next multiple of the interval. */
    em_time now = em_ssc_clock_time(ssc);
    em_time first = (now / ssc->batch + 1) * ssc->batch;
    ssc->zero_time = first - ssc->batch;
    ssc->next_batch = first;
    for (guint i = 0; i < ssc->outputs->len; i++) {
        em_dstream *ds = ((em_output_op *)ssc->outputs->pdata[i])->ds;
        init_stream(ds, ssc->zero_time, MAX(ssc->remember, ds->slide));
    }
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->start && !in->klass->start(in, err)) {
            for (guint j = 0; j < i; j++) {
                em_dstream *started = ssc->inputs->pdata[j];
                if (started->klass->stop)
                    started->klass->stop(started, false);
            }
            g_mutex_lock(&active_lock);
            active_ssc = NULL;
            g_mutex_unlock(&active_lock);
            return false;
        }
    }
    ssc->batches = g_async_queue_new();
    g_mutex_lock(&ssc->lock);
    ssc->state = EM_SSC_ACTIVE;
    g_mutex_unlock(&ssc->lock);
    ssc->scheduler = g_thread_new("em-scheduler", scheduler_main, ssc);
    ssc->generator = g_thread_new("em-generator", generator_main, ssc);
    return true;
}

static void finish_stop(em_ssc *ssc)
{
    g_mutex_lock(&active_lock);
    if (active_ssc == ssc)
        active_ssc = NULL;
    g_mutex_unlock(&active_lock);
    g_mutex_lock(&ssc->lock);
    ssc->terminated = true;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
}

void em_ssc_stop(em_ssc *ssc, bool stop_context, bool graceful)
{
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
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->stop)
            in->klass->stop(in, graceful);
    }
    g_thread_join(ssc->generator);
    g_mutex_lock(&ssc->lock);
    ssc->generator = NULL; /* joined */
    g_mutex_unlock(&ssc->lock);
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
    finish_stop(ssc);
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
    wait_terminated(ssc, g_get_monotonic_time() + timeout_ms * 1000, err, &result);
    return result;
}

bool em_ssc_wait_for_batch(em_ssc *ssc, em_time t, int64_t timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
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
    em_ssc_stop(ssc, ssc->stop_context, false);
    if (ssc->scheduler) {
        g_thread_join(ssc->scheduler);
        ssc->scheduler = NULL;
    }
    finish_stop(ssc);
    em__monitor_free(ssc); /* the page's thread reads the graph: it stops first */
    if (ssc->batches) {
        queued_batch *b;
        while ((b = g_async_queue_try_pop(ssc->batches)))
            g_free(b);
        g_async_queue_unref(ssc->batches);
    }
    for (guint i = 0; i < ssc->outputs->len; i++) {
        em_output_op *op = ssc->outputs->pdata[i];
        if (op->destroy)
            op->destroy(op->ud);
        g_free(op->fn_name);
        g_free(op);
    }
    g_ptr_array_unref(ssc->outputs);
    g_ptr_array_unref(ssc->inputs);
    /* Streams last: output operations and inputs only borrowed them. */
    g_ptr_array_unref(ssc->streams);
    g_array_unref(ssc->listeners);
    g_clear_error(&ssc->failure);
    /* A borrowed context is the ssc's to free once stop was asked to stop it. */
    if (ssc->owns_sc || ssc->stop_context)
        em_context_free(ssc->sc);
    g_mutex_clear(&ssc->lock);
    g_cond_clear(&ssc->cond);
    g_free(ssc);
}
