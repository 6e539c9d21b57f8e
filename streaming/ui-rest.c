/* The JSON of Spark's streaming REST API (org.apache.spark.status.api.v1.streaming):
 * StreamingStatistics, BatchInfo, OutputOperationInfo and ReceiverInfo, field for field; an
 * absent Option is left out, as Spark's writer does. Dates as Spark writes them. */
#include "ui-private.h"

#include <string.h>

static void field_int(GString *o, const char *key, int64_t v)
{
    g_string_append_printf(o, "\"%s\":%" G_GINT64_FORMAT ",", key, (gint64)v);
}

static void field_double(GString *o, const char *key, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(o, "\"%s\":%s,", key, g_ascii_formatd(buf, sizeof buf, "%.3f", v));
}

static void field_date(GString *o, const char *key, int64_t ms)
{
    g_string_append_printf(o, "\"%s\":", key);
    em__json_date(o, ms);
    g_string_append_c(o, ',');
}

static void field_string(GString *o, const char *key, const char *s)
{
    g_string_append_printf(o, "\"%s\":", key);
    em__json_string(o, s);
    g_string_append_c(o, ',');
}

/* Ends an object whose last field left a comma. */
static void close_object(GString *o)
{
    if (o->str[o->len - 1] == ',')
        g_string_truncate(o, o->len - 1);
    g_string_append_c(o, '}');
}

char *em__ui_rest_statistics(const em__snapshot *s, int n_receivers_known)
{
    GString *o = g_string_new("{");
    field_date(o, "startTime", s->start_time);
    field_int(o, "batchDuration", s->interval);
    int active = 0;
    for (guint i = 0; i < s->receivers->len; i++)
        active += g_array_index(s->receivers, em__receiver_row, i).active;
    int receivers = MAX(n_receivers_known, (int)s->receivers->len);
    field_int(o, "numReceivers", receivers);
    field_int(o, "numActiveReceivers", active);
    field_int(o, "numInactiveReceivers", receivers - active);
    field_int(o, "numTotalCompletedBatches", s->total_completed);
    field_int(o, "numRetainedCompletedBatches", s->completed->len);
    field_int(o, "numActiveBatches", (s->active ? 1 : 0) + s->queued);
    field_int(o, "numProcessedRecords", s->total_records);
    field_int(o, "numReceivedRecords",
              s->total_records + (s->active ? s->active->num_records : 0));
    guint n = s->completed->len;
    if (n) {
        int64_t records = 0, sched = 0, proc = 0, total = 0;
        for (guint i = 0; i < n; i++) {
            const em_batch_progress *p = s->completed->pdata[i];
            records += p->num_records;
            sched += p->scheduling_delay;
            proc += p->processing_delay;
            total += p->total_delay;
        }
        /* Spark: records * 1000.0 / (batches * batchDuration); delays as Long averages. */
        field_double(o, "avgInputRate",
                     (double)records * 1000.0 / ((double)n * (double)s->interval));
        field_int(o, "avgSchedulingDelay", sched / (int64_t)n);
        field_int(o, "avgProcessingTime", proc / (int64_t)n);
        field_int(o, "avgTotalDelay", total / (int64_t)n);
    }
    close_object(o);
    return g_string_free(o, FALSE);
}

static void batch_info(GString *o, const em_batch_progress *p)
{
    g_string_append_c(o, '{');
    field_int(o, "batchId", p->batch_time);
    field_date(o, "batchTime", p->batch_time);
    field_string(o, "status", p->completed ? "COMPLETED" : "PROCESSING");
    field_int(o, "batchDuration", p->batch_interval);
    field_int(o, "inputSize", p->num_records);
    if (p->scheduling_delay >= 0)
        field_int(o, "schedulingDelay", p->scheduling_delay);
    if (p->processing_delay >= 0)
        field_int(o, "processingTime", p->processing_delay);
    if (p->total_delay >= 0)
        field_int(o, "totalDelay", p->total_delay);
    int running = 0, done = 0, failed = 0;
    const char *first_failure = NULL;
    for (int i = 0; i < p->n_output_ops; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        if (op->end_time < 0)
            running++;
        else if (op->failure) {
            failed++;
            first_failure = first_failure ? first_failure : op->failure;
        } else
            done++;
    }
    field_int(o, "numActiveOutputOps", running);
    field_int(o, "numCompletedOutputOps", done);
    field_int(o, "numFailedOutputOps", failed);
    field_int(o, "numTotalOutputOps", p->n_output_ops);
    if (first_failure || p->failure)
        field_string(o, "firstFailureReason", first_failure ? first_failure : p->failure);
    close_object(o);
}

/* Newest first, as Spark lists them; status_filter "COMPLETED" or "PROCESSING" (or NULL). */
char *em__ui_rest_batches(const em__snapshot *s, const char *status_filter)
{
    GString *o = g_string_new("[");
    bool want_active = !status_filter || strcmp(status_filter, "PROCESSING") == 0;
    bool want_done = !status_filter || strcmp(status_filter, "COMPLETED") == 0;
    if (s->active && want_active) {
        batch_info(o, s->active);
        g_string_append_c(o, ',');
    }
    for (guint i = s->completed->len; want_done && i-- > 0;) {
        batch_info(o, s->completed->pdata[i]);
        g_string_append_c(o, ',');
    }
    if (o->str[o->len - 1] == ',')
        g_string_truncate(o, o->len - 1);
    g_string_append_c(o, ']');
    return g_string_free(o, FALSE);
}

char *em__ui_rest_batch(const em__snapshot *s, em_time t)
{
    const em_batch_progress *p = em__progress_find(s, t);
    if (!p)
        return NULL;
    GString *o = g_string_new(NULL);
    batch_info(o, p);
    return g_string_free(o, FALSE);
}

char *em__ui_rest_operations(const em__snapshot *s, em_time t)
{
    const em_batch_progress *p = em__progress_find(s, t);
    if (!p)
        return NULL;
    GString *o = g_string_new("[");
    for (int i = 0; i < p->n_output_ops; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        g_string_append_printf(o, "%s{", i ? "," : "");
        field_int(o, "outputOpId", op->id);
        field_string(o, "name", op->name);
        field_string(o, "description", op->description);
        field_date(o, "startTime", op->start_time);
        if (op->end_time >= 0) {
            field_date(o, "endTime", op->end_time);
            field_int(o, "duration", op->duration);
        }
        g_string_append(o, "\"jobIds\":[],");
        if (op->failure)
            field_string(o, "failureReason", op->failure);
        close_object(o);
    }
    g_string_append_c(o, ']');
    return g_string_free(o, FALSE);
}

/* A receiver's records per second in each retained batch, from its input's figures. */
static void event_rates(GString *o, const em__snapshot *s, int stream_id)
{
    double sum = 0;
    int n = 0;
    g_string_append(o, "\"eventRates\":[");
    for (guint i = 0; i < s->completed->len; i++) {
        const em_batch_progress *p = s->completed->pdata[i];
        for (int k = 0; k < p->n_inputs; k++) {
            if (p->inputs[k].stream_id != stream_id)
                continue;
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            double rate = (double)p->inputs[k].records * 1000.0 / (double)p->batch_interval;
            g_string_append_printf(o, "%s[%" G_GINT64_FORMAT ",%s]", n ? "," : "",
                                   (gint64)p->batch_time,
                                   g_ascii_formatd(buf, sizeof buf, "%.3f", rate));
            sum += rate;
            n++;
        }
    }
    g_string_append(o, "],");
    if (n)
        field_double(o, "avgEventRate", sum / n);
}

char *em__ui_rest_receivers(const em__snapshot *s)
{
    GString *o = g_string_new("[");
    for (guint i = 0; i < s->receivers->len; i++) {
        const em__receiver_row *r = &g_array_index(s->receivers, em__receiver_row, i);
        g_string_append_printf(o, "%s{", i ? "," : "");
        field_int(o, "streamId", r->stream_id);
        field_string(o, "streamName", r->name);
        g_string_append_printf(o, "\"isActive\":%s,", r->active ? "true" : "false");
        field_string(o, "executorId", "driver");
        field_string(o, "executorHost", "localhost");
        if (r->last_error) {
            field_date(o, "lastErrorTime", r->last_error_time);
            field_string(o, "lastError", r->last_error);
            field_string(o, "lastErrorMessage", r->last_error);
        }
        event_rates(o, s, r->stream_id);
        close_object(o);
    }
    g_string_append_c(o, ']');
    return g_string_free(o, FALSE);
}
