/* Feeds an ssc's monitor batch events by hand, with figures chosen by the test, so that
 * wall-clock figures (delays, rates) have exact expected values. The ssc is never started: the
 * monitor hears only these events. */
#ifndef EMBER_TESTS_MONITOR_FEED_H
#define EMBER_TESTS_MONITOR_FEED_H

#include "ui-private.h"

typedef struct {
    em_time time;
    int64_t records;     /* one input */
    int64_t submitted;   /* wall-clock ms */
    int64_t sched, proc; /* delays, ms */
    const char *failure; /* NULL for none */
    int64_t retained_batches, retained_bytes;
} fed_batch;

/* One batch with one output operation (id 0, "print") that takes the whole processing time. */
static inline void feed_batch(em_ssc *ssc, const fed_batch *b)
{
    const em_listener *l = &em__monitor_listener;
    void *m = em__monitor_of(ssc);
    int64_t records[1] = {b->records};
    em_batch_info info = {.batch_time = b->time,
                          .n_inputs = 1,
                          .input_records = records,
                          .num_records = b->records,
                          .submission_time = b->submitted,
                          .processing_start = b->submitted + b->sched,
                          .processing_end = -1,
                          .scheduling_delay = b->sched,
                          .processing_delay = -1,
                          .total_delay = -1};
    l->batch_started(&info, m);
    em_output_op_info op = {.batch_time = b->time,
                            .id = 0,
                            .name = "print",
                            .start_time = info.processing_start,
                            .end_time = -1};
    l->output_op_started(&op, m);
    op.end_time = op.start_time + b->proc;
    op.failure = b->failure;
    l->output_op_completed(&op, m);
    info.processing_end = info.processing_start + b->proc;
    info.processing_delay = b->proc;
    info.total_delay = b->sched + b->proc;
    info.retained_batches = b->retained_batches;
    info.retained_bytes = b->retained_bytes;
    info.failed = b->failure != NULL;
    char *failure = b->failure ? g_strdup_printf("batch %" G_GINT64_FORMAT " ms: %s",
                                                 (gint64)b->time, b->failure)
                               : NULL;
    info.failure = failure;
    l->batch_completed(&info, m);
    g_free(failure);
}

/* A manual-clock ssc named app with one queue input and em_print on it, never started. */
static inline em_ssc *fed_ssc_new(const char *app, em_rdd_queue **queue)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .app_name = app,
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    *queue = em_rdd_queue_new();
    em_print(em_queue_stream(ssc, *queue, true, NULL));
    return ssc;
}

#endif
