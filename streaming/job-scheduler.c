/* The job scheduler (Spark's JobScheduler): a thread that takes the batches the job generator
 * queued, one after another, generates each batch's RDDs through the graph, runs its output
 * operations in order as jobs of their own, and completes the batch: figures, failures,
 * listener events (streaming). */
#include "recovery.h"

/* One output operation's job on its RDD: the listener events around it; false with *err set
 * when it failed. */
static bool run_job(em_ssc *ssc, GArray *listeners, em_output_op *op, em_rdd *rdd, em_time t,
                    GError **err)
{
    (void)ssc;
    em_output_op_info oi = {.batch_time = t,
                            .id = op->id,
                            .name = op->name,
                            .start_time = em__now_ms(),
                            .end_time = -1};
    em__listener_bus_post_output_op(listeners, true, &oi);
    bool ok = op->run(op, rdd, t, err);
    oi.end_time = em__now_ms();
    oi.failure = ok ? NULL : (*err)->message;
    em__listener_bus_post_output_op(listeners, false, &oi);
    return ok;
}

void em__job_scheduler_batch_completed(em_ssc *ssc, em_time t, bool succeeded, em_batch_info *info)
{
    /* Every stream hears how the batch ended before anything is forgotten: a stateful stream
     * keeps or rolls back its state. */
    em__graph_batch_done(ssc, t, succeeded);
    em__graph_clear_metadata(ssc, t, info ? &info->retained_batches : NULL,
                             info ? &info->retained_bytes : NULL);
    int64_t us = em__recovery_batch_completed(ssc, t);
    if (info)
        info->checkpoint_time = us < 0 ? -1 : us / 1000;
}

void em__job_scheduler_run_batch(em_ssc *ssc, em_time t, int64_t submitted)
{
    guint n_outputs = ssc->outputs->len;
    int n_inputs = (int)ssc->inputs->len;
    int64_t *records = g_new0(int64_t, n_inputs > 0 ? n_inputs : 1);
    em_batch_info info = {.batch_time = t,
                          .n_inputs = n_inputs,
                          .input_records = records,
                          .submission_time = submitted,
                          .processing_start = -1,
                          .processing_end = -1,
                          .scheduling_delay = -1,
                          .processing_delay = -1,
                          .total_delay = -1,
                          .checkpoint_time = -1};
    GArray *listeners = em__listener_bus_snapshot(ssc);
    g_mutex_lock(&ssc->lock);
    ssc->current_batch = t;
    g_mutex_unlock(&ssc->lock);

    /* Generate every output's RDD first (Spark's generateJobs). */
    em_rdd **rdds = g_new0(em_rdd *, n_outputs ? n_outputs : 1);
    GError **errors = g_new0(GError *, n_outputs ? n_outputs : 1);
    em__graph_generate(ssc, t, rdds, errors);
    for (int i = 0; i < n_inputs; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        records[i] = in->last_records;
        info.num_records += in->last_records;
        in->last_records = 0;
        info.blocked_inputs += in->last_blocked;
        in->last_blocked = false;
    }
    /* Spark submits the job set once its RDDs exist, with the input figures. */
    em__listener_bus_post_batch(listeners, EM_BATCH_SUBMITTED, &info);
    info.processing_start = em__now_ms();
    info.scheduling_delay = info.processing_start - info.submission_time;
    em__listener_bus_post_batch(listeners, EM_BATCH_STARTED, &info);

    /* Each output operation is a job of its own: one failing (to generate or to run) does not
     * skip the next; the batch keeps the first failure in output order. */
    GError *err = NULL;
    for (guint i = 0; i < n_outputs; i++) {
        GError *job_err = g_steal_pointer(&errors[i]);
        if (!job_err && rdds[i])
            run_job(ssc, listeners, ssc->outputs->pdata[i], rdds[i], t, &job_err);
        if (job_err && !err)
            err = g_steal_pointer(&job_err);
        g_clear_error(&job_err);
    }
    g_free(errors);
    /* The batch's jobs are done: its shuffle outputs will not be read again (a window or a
     * state reads cached or checkpointed RDDs), so they go now rather than a batch later. */
    for (guint i = 0; i < n_outputs; i++)
        if (rdds[i])
            em__rdd_release_shuffles(rdds[i]);
    g_free(rdds);

    em__job_scheduler_batch_completed(ssc, t, err == NULL, &info);
    info.processing_end = em__now_ms();
    info.processing_delay = info.processing_end - info.processing_start;
    info.total_delay = info.processing_end - info.submission_time;
    if (err) {
        g_prefix_error(&err, "batch %" G_GINT64_FORMAT " ms: ", (gint64)t);
        info.failed = true;
        info.failure = err->message;
    }
    em__listener_bus_post_batch(listeners, EM_BATCH_COMPLETED, &info);
    g_array_unref(listeners);
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
        em_ssc_stop(ssc, EM_STOP_GRACEFUL);
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
        em_queued_batch *b = g_async_queue_pop(ssc->batches);
        em_queued_batch batch = *b;
        g_free(b);
        if (batch.stop)
            break;
        g_mutex_lock(&ssc->lock);
        /* A hard stop drops the batches not started yet. */
        bool drop = ssc->stopping && !ssc->graceful;
        g_mutex_unlock(&ssc->lock);
        if (!drop)
            em__job_scheduler_run_batch(ssc, batch.time, batch.submitted);
    }
    g_mutex_lock(&ssc->lock);
    ssc->scheduler_done = true;
    bool self_stop = ssc->self_stop;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
    /* Stopped from one of its own callbacks: nobody else completes the stop. */
    if (self_stop)
        em__ssc_finish_stop(ssc);
    return NULL;
}

void em__job_scheduler_start(em_ssc *ssc)
{
    GThread *scheduler = g_thread_new("em-scheduler", scheduler_main, ssc);
    g_mutex_lock(&ssc->lock);
    ssc->scheduler = scheduler;
    g_mutex_unlock(&ssc->lock);
}
