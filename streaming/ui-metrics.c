/* Prometheus' text exposition (format 0.0.4) of the monitor's figures: counters over the run,
 * gauges of the newest completed batch, one family per figure with its HELP and TYPE lines.
 * Durations are in seconds, as Prometheus names them; every sample carries the app label. */
#include "ui-private.h"

typedef struct {
    GString *out;
    char *app; /* the escaped app name */
} metrics;

/* A label value: backslash, double quote and newline escaped. */
static char *label_escape(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *c = s ? s : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            g_string_append_c(out, '\\');
        if (*c == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *c);
    }
    return g_string_free(out, FALSE);
}

static void family(metrics *m, const char *name, const char *type, const char *help)
{
    g_string_append_printf(m->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{app="..."[,extra]} */
static void sample_head(metrics *m, const char *name, const char *extra)
{
    g_string_append_printf(m->out, "%s{app=\"%s\"%s%s} ", name, m->app, extra ? "," : "",
                           extra ? extra : "");
}

static void sample_int(metrics *m, const char *name, const char *extra, int64_t v)
{
    sample_head(m, name, extra);
    g_string_append_printf(m->out, "%" G_GINT64_FORMAT "\n", (gint64)v);
}

static void sample_seconds(metrics *m, const char *name, const char *extra, int64_t ms)
{
    sample_head(m, name, extra);
    g_string_append_printf(m->out, "%" G_GINT64_FORMAT ".%03d\n", (gint64)(ms / 1000),
                           (int)(ms % 1000));
}

static void sample_double(metrics *m, const char *name, const char *extra, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    sample_head(m, name, extra);
    g_string_append_printf(m->out, "%s\n", g_ascii_formatd(buf, sizeof buf, "%.3f", v));
}

/* A label pair with an escaped value; the caller g_free()s it. */
static char *label(const char *key, const char *value)
{
    char *escaped = label_escape(value);
    char *pair = g_strdup_printf("%s=\"%s\"", key, escaped);
    g_free(escaped);
    return pair;
}

static void run_counters(metrics *m, const em__snapshot *s)
{
    family(m, "ember_streaming_batches_completed_total", "counter",
           "Batches completed since start, failed ones included.");
    sample_int(m, "ember_streaming_batches_completed_total", NULL, s->total_completed);
    family(m, "ember_streaming_batches_failed_total", "counter", "Batches that failed.");
    sample_int(m, "ember_streaming_batches_failed_total", NULL, s->total_failed);
    family(m, "ember_streaming_input_records_total", "counter",
           "Records each input stream gave completed batches.");
    for (guint i = 0; i < s->input_totals->len; i++) {
        const em_input_progress *in = &g_array_index(s->input_totals, em_input_progress, i);
        char *l = label("input", in->name);
        sample_int(m, "ember_streaming_input_records_total", l, in->records);
        g_free(l);
    }
    family(m, "ember_streaming_batch_interval_seconds", "gauge", "The batch interval.");
    sample_seconds(m, "ember_streaming_batch_interval_seconds", NULL, s->interval);
    family(m, "ember_streaming_active_batches", "gauge", "Batches being processed.");
    sample_int(m, "ember_streaming_active_batches", NULL, s->active ? 1 : 0);
    family(m, "ember_streaming_queued_batches", "gauge",
           "Batches generated and waiting for the one before to finish.");
    sample_int(m, "ember_streaming_queued_batches", NULL, s->queued);
    int64_t active = 0;
    for (guint i = 0; i < s->receivers->len; i++)
        active += g_array_index(s->receivers, em__receiver_row, i).active;
    family(m, "ember_streaming_receivers", "gauge", "Receivers by state.");
    sample_int(m, "ember_streaming_receivers", "state=\"active\"", active);
    sample_int(m, "ember_streaming_receivers", "state=\"inactive\"",
               (int64_t)s->receivers->len - active);
}

static void last_batch(metrics *m, const em_batch_progress *p)
{
    family(m, "ember_streaming_last_batch_time_seconds", "gauge",
           "Batch time of the newest completed batch (the context's clock).");
    sample_seconds(m, "ember_streaming_last_batch_time_seconds", NULL, p->batch_time);
    family(m, "ember_streaming_last_batch_records", "gauge", "Its input records.");
    sample_int(m, "ember_streaming_last_batch_records", NULL, p->num_records);
    family(m, "ember_streaming_last_batch_input_rate", "gauge",
           "Its records per second of batch interval.");
    sample_double(m, "ember_streaming_last_batch_input_rate", NULL, p->input_rate);
    family(m, "ember_streaming_last_batch_processing_rate", "gauge",
           "Its records per second of processing time.");
    sample_double(m, "ember_streaming_last_batch_processing_rate", NULL, p->processing_rate);
    const struct {
        const char *name, *help;
        int64_t ms;
    } delays[] = {
        {"ember_streaming_last_batch_scheduling_delay_seconds", "Its scheduling delay.",
         p->scheduling_delay},
        {"ember_streaming_last_batch_processing_delay_seconds", "Its processing time.",
         p->processing_delay},
        {"ember_streaming_last_batch_total_delay_seconds", "Its total delay.", p->total_delay},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(delays); i++) {
        family(m, delays[i].name, "gauge", delays[i].help);
        sample_seconds(m, delays[i].name, NULL, delays[i].ms);
    }
    family(m, "ember_streaming_output_op_duration_seconds", "gauge",
           "Each output operation's time in the newest completed batch.");
    for (int i = 0; i < p->n_output_ops; i++) {
        char *name = label("name", p->output_ops[i].name);
        char *extra = g_strdup_printf("op=\"%d\",%s", p->output_ops[i].id, name);
        if (p->output_ops[i].duration >= 0)
            sample_seconds(m, "ember_streaming_output_op_duration_seconds", extra,
                           p->output_ops[i].duration);
        g_free(extra);
        g_free(name);
    }
    family(m, "ember_streaming_state_keys", "gauge", "Keys each stateful stream holds.");
    for (int i = 0; i < p->n_states; i++) {
        char *l = label("stream", p->states[i].name);
        sample_int(m, "ember_streaming_state_keys", l, p->states[i].keys);
        g_free(l);
    }
    family(m, "ember_streaming_state_bytes", "gauge", "Bytes each stateful stream holds.");
    for (int i = 0; i < p->n_states; i++) {
        char *l = label("stream", p->states[i].name);
        sample_int(m, "ember_streaming_state_bytes", l, p->states[i].bytes);
        g_free(l);
    }
    family(m, "ember_streaming_retained_batches", "gauge", "RDDs all streams keep.");
    sample_int(m, "ember_streaming_retained_batches", NULL, p->retained_batches);
    family(m, "ember_streaming_retained_bytes", "gauge", "Bytes of the RDDs streams keep.");
    sample_int(m, "ember_streaming_retained_bytes", NULL, p->retained_bytes);
    if (p->checkpoint_time >= 0) {
        family(m, "ember_streaming_last_checkpoint_seconds", "gauge",
               "Time the newest batch's checkpoint took.");
        sample_seconds(m, "ember_streaming_last_checkpoint_seconds", NULL, p->checkpoint_time);
    }
}

char *em__metrics_render(const em__snapshot *s)
{
    metrics m = {g_string_new(NULL), label_escape(s->app_name)};
    run_counters(&m, s);
    if (s->completed->len)
        last_batch(&m, s->completed->pdata[s->completed->len - 1]);
    g_free(m.app);
    return g_string_free(m.out, FALSE);
}

char *em_ssc_metrics_text(em_ssc *ssc)
{
    em__snapshot *s = em__monitor_snapshot(em__monitor_of(ssc));
    char *text = em__metrics_render(s);
    em__snapshot_free(s);
    return text;
}
