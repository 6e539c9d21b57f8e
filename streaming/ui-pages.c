/* The Streaming page as Spark's Streaming tab draws it: timelines and histograms of input
 * rate, scheduling delay, processing time and total delay (inline SVG, no external assets),
 * the active and completed batch tables, receivers and state sizes; and a batch's own page
 * with its inputs, output operations and the lineage of their RDDs. */
#include "ui-private.h"

#include <math.h>
#include <string.h>

static const char *const style =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th{background:#f0f0f0}td.l,th.l{text-align:left}"
    "svg{background:#fafafa;border:1px solid #ddd}"
    ".line{fill:none;stroke:#0088cc;stroke-width:1.5}.point{fill:#0088cc}"
    ".bar{fill:#0088cc;opacity:.7}.axis{font-size:10px;fill:#555}"
    ".failed{color:#b00}pre{background:#f6f6f6;padding:.5em;overflow:auto}";

void em__ui_page_open(GString *o, const char *title, const char *app, bool refresh)
{
    g_string_append(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    if (refresh)
        g_string_append(o, "<meta http-equiv=\"refresh\" content=\"5\">");
    char *t = g_markup_escape_text(title, -1), *a = g_markup_escape_text(app, -1);
    g_string_append_printf(o,
                           "<title>%s - %s</title><style>%s</style></head><body>\n"
                           "<h1>%s</h1><p><a href=\"/streaming\">Streaming</a> | "
                           "<a href=\"/streaming/graph\">DStream graph</a> | "
                           "<a href=\"/StreamingQuery/\">Structured Streaming</a> | "
                           "<a href=\"/api/v1/streaming/statistics\">REST</a> | "
                           "<a href=\"/metrics\">/metrics</a> &mdash; application <b>%s</b>"
                           "</p>\n",
                           t, a, style, t, a);
    g_free(t);
    g_free(a);
}

static char *format_ms(int64_t ms)
{
    if (ms < 0)
        return g_strdup("-");
    if (ms < 1000)
        return g_strdup_printf("%" G_GINT64_FORMAT " ms", (gint64)ms);
    return g_strdup_printf("%.1f s", (double)ms / 1000.0);
}

/* Batch times as Spark shows them (UTC), with milliseconds when they are not whole seconds. */
static char *format_batch_time(em_time t)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(t / 1000);
    char *text = g_date_time_format(dt, "%Y/%m/%d %H:%M:%S");
    g_date_time_unref(dt);
    if (t % 1000 == 0)
        return text;
    char *with_ms = g_strdup_printf("%s.%03d", text, (int)(t % 1000));
    g_free(text);
    return with_ms;
}

/* ---- Charts ---- */

typedef double (*figure_fn)(const em_batch_progress *p);
static double fig_input_rate(const em_batch_progress *p) { return p->input_rate; }
static double fig_sched(const em_batch_progress *p) { return (double)p->scheduling_delay; }
static double fig_proc(const em_batch_progress *p) { return (double)p->processing_delay; }
static double fig_total(const em_batch_progress *p) { return (double)p->total_delay; }

enum { CHART_W = 520, CHART_H = 140, HIST_W = 260, PAD = 30, BINS = 10 };

static void timeline(GString *o, const GPtrArray *batches, figure_fn fig, double max,
                     const char *unit, const char *id)
{
    g_string_append_printf(o,
                           "<svg id=\"timeline-%s\" class=\"timeline\" width=\"%d\" "
                           "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
                           id, CHART_W, CHART_H);
    g_string_append_printf(o,
                           "<text class=\"axis\" x=\"2\" y=\"12\">%.0f %s</text>"
                           "<text class=\"axis\" x=\"2\" y=\"%d\">0</text>",
                           max, unit, CHART_H - 4);
    guint n = batches->len;
    if (n) {
        const em_batch_progress *first = batches->pdata[0], *last = batches->pdata[n - 1];
        double span = (double)(last->batch_time - first->batch_time);
        GString *line = g_string_new(NULL);
        for (guint i = 0; i < n; i++) {
            const em_batch_progress *p = batches->pdata[i];
            double x =
                PAD + (span > 0 ? (double)(p->batch_time - first->batch_time) / span : 0.5) *
                          (CHART_W - 2 * PAD);
            double y = CHART_H - PAD / 2 - (max > 0 ? fig(p) / max : 0) * (CHART_H - PAD);
            g_string_append_printf(line, "%s%.1f,%.1f", i ? " " : "", x, y);
            g_string_append_printf(o,
                                   "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\">"
                                   "<title>%" G_GINT64_FORMAT " ms: %.1f %s</title></circle>",
                                   x, y, (gint64)p->batch_time, fig(p), unit);
        }
        g_string_append_printf(o, "<polyline class=\"line\" points=\"%s\"/>", line->str);
        g_string_free(line, TRUE);
        char *from = format_batch_time(first->batch_time);
        char *to = format_batch_time(last->batch_time);
        g_string_append_printf(o,
                               "<text class=\"axis\" x=\"%d\" y=\"%d\">%s</text>"
                               "<text class=\"axis\" x=\"%d\" y=\"%d\" "
                               "text-anchor=\"end\">%s</text>",
                               PAD, CHART_H - 2, from + 11, CHART_W - PAD, CHART_H - 2, to + 11);
        g_free(from);
        g_free(to);
    }
    g_string_append(o, "</svg>");
}

static void histogram(GString *o, const GPtrArray *batches, figure_fn fig, double max,
                      const char *id)
{
    int bins[BINS] = {0}, top = 0;
    for (guint i = 0; i < batches->len; i++) {
        int b = max > 0 ? (int)(fig(batches->pdata[i]) / max * BINS) : 0;
        b = CLAMP(b, 0, BINS - 1);
        top = MAX(top, ++bins[b]);
    }
    g_string_append_printf(o,
                           "<svg id=\"histogram-%s\" class=\"histogram\" width=\"%d\" "
                           "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
                           id, HIST_W, CHART_H);
    double bar_h = (double)(CHART_H - PAD) / BINS;
    for (int b = 0; b < BINS; b++) {
        if (!bins[b])
            continue;
        double w = (double)bins[b] / top * (HIST_W - 2 * PAD);
        g_string_append_printf(o,
                               "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
                               "height=\"%.1f\"><title>%d batches</title></rect>",
                               PAD, CHART_H - PAD / 2 - (b + 1) * bar_h, w, bar_h - 1, bins[b]);
    }
    g_string_append_printf(o,
                           "<text class=\"axis\" x=\"2\" y=\"12\">%.0f</text>"
                           "<text class=\"axis\" x=\"2\" y=\"%d\">0</text>"
                           "<text class=\"axis\" x=\"%d\" y=\"%d\">batches (most: %d)"
                           "</text></svg>",
                           max, CHART_H - 4, HIST_W - PAD - 80, CHART_H - 2, top);
}

static void chart_row(GString *o, const GPtrArray *batches, const char *title, figure_fn fig,
                      const char *unit, const char *id)
{
    double max = 0, sum = 0;
    for (guint i = 0; i < batches->len; i++) {
        max = MAX(max, fig(batches->pdata[i]));
        sum += fig(batches->pdata[i]);
    }
    double avg = batches->len ? sum / batches->len : 0;
    g_string_append_printf(o, "<tr><td class=\"l\"><b>%s</b><br>avg %.2f %s</td><td>", title, avg,
                           unit);
    timeline(o, batches, fig, max > 0 ? ceil(max) : 1, unit, id);
    g_string_append(o, "</td><td>");
    histogram(o, batches, fig, max > 0 ? ceil(max) : 1, id);
    g_string_append(o, "</td></tr>\n");
}

/* ---- Tables ---- */

static void batch_row(GString *o, const em_batch_progress *p)
{
    char *when = format_batch_time(p->batch_time);
    char *sched = format_ms(p->scheduling_delay), *proc = format_ms(p->processing_delay),
         *total = format_ms(p->total_delay);
    int ok = 0;
    for (int i = 0; i < p->n_output_ops; i++)
        ok += p->output_ops[i].end_time >= 0 && !p->output_ops[i].failure;
    g_string_append_printf(o,
                           "<tr class=\"batch%s\" data-batch-time=\"%" G_GINT64_FORMAT "\">"
                           "<td class=\"l\"><a href=\"/streaming/batch?id=%" G_GINT64_FORMAT
                           "\">%s</a></td><td>%" G_GINT64_FORMAT " records</td><td>%s</td>"
                           "<td>%s</td><td>%s</td><td>%d/%d</td><td class=\"l\">%s</td></tr>\n",
                           p->failed ? " failed" : "", (gint64)p->batch_time,
                           (gint64)p->batch_time, when, (gint64)p->num_records, sched, proc, total,
                           ok, p->n_output_ops,
                           !p->completed ? "processing"
                           : p->failed   ? "failed"
                                         : "");
    g_free(when);
    g_free(sched);
    g_free(proc);
    g_free(total);
}

static void batch_table(GString *o, const char *id, const char *title, GPtrArray *rows,
                        bool newest_first)
{
    g_string_append_printf(o,
                           "<h3>%s (%u)</h3><table id=\"%s\"><tr><th class=\"l\">Batch Time"
                           "</th><th>Records</th><th>Scheduling Delay</th><th>Processing Time"
                           "</th><th>Total Delay</th><th>Output Ops: Succeeded/Total</th>"
                           "<th class=\"l\">Status</th></tr>\n",
                           title, rows->len, id);
    for (guint i = 0; i < rows->len; i++)
        batch_row(o, rows->pdata[newest_first ? rows->len - 1 - i : i]);
    g_string_append(o, "</table>\n");
}

static void receivers_table(GString *o, const em__snapshot *s)
{
    g_string_append(o, "<h3>Receivers</h3><table id=\"receivers\"><tr><th class=\"l\">Receiver"
                       "</th><th class=\"l\">Status</th><th class=\"l\">Last Error</th></tr>\n");
    for (guint i = 0; i < s->receivers->len; i++) {
        const em__receiver_row *r = &g_array_index(s->receivers, em__receiver_row, i);
        char *name = g_markup_escape_text(r->name ? r->name : "?", -1);
        char *error = g_markup_escape_text(r->last_error ? r->last_error : "-", -1);
        g_string_append_printf(o,
                               "<tr><td class=\"l\">%s [%d]</td><td class=\"l\">%s</td>"
                               "<td class=\"l\">%s</td></tr>\n",
                               name, r->stream_id, r->active ? "ACTIVE" : "INACTIVE", error);
        g_free(name);
        g_free(error);
    }
    g_string_append(o, "</table>\n");
}

static void inputs_and_state(GString *o, const em__snapshot *s)
{
    g_string_append(o, "<h3>Input streams</h3><table id=\"inputs\"><tr><th class=\"l\">Input"
                       "</th><th>Records (whole run)</th></tr>\n");
    for (guint i = 0; i < s->input_totals->len; i++) {
        const em_input_progress *in = &g_array_index(s->input_totals, em_input_progress, i);
        char *name = g_markup_escape_text(in->name, -1);
        g_string_append_printf(o,
                               "<tr><td class=\"l\">%s</td><td>%" G_GINT64_FORMAT "</td></tr>\n",
                               name, (gint64)in->records);
        g_free(name);
    }
    g_string_append(o, "</table>\n<h3>State</h3><table id=\"state\"><tr><th class=\"l\">"
                       "Stateful stream</th><th>Keys</th><th>Bytes</th></tr>\n");
    const em_batch_progress *newest =
        s->completed->len ? s->completed->pdata[s->completed->len - 1] : NULL;
    if (!newest || !newest->n_states)
        g_string_append(o, "<tr><td class=\"l\" colspan=\"3\">no stateful streams</td></tr>\n");
    if (newest) {
        const em_batch_progress *p = newest;
        for (int i = 0; i < p->n_states; i++)
            g_string_append_printf(o,
                                   "<tr><td class=\"l\">%s</td><td>%" G_GINT64_FORMAT
                                   "</td><td>%" G_GINT64_FORMAT "</td></tr>\n",
                                   p->states[i].name, (gint64)p->states[i].keys,
                                   (gint64)p->states[i].bytes);
    }
    g_string_append(o, "</table>\n");
}

char *em__ui_page_streaming(em_ssc *ssc, const em__snapshot *s)
{
    (void)ssc;
    GString *o = g_string_new(NULL);
    em__ui_page_open(o, "Streaming Statistics", s->app_name, true);
    char *interval = format_ms(s->interval);
    g_string_append_printf(o,
                           "<p id=\"summary\">Running batches of %s: %" G_GINT64_FORMAT
                           " completed batches (%" G_GINT64_FORMAT " failed), %" G_GINT64_FORMAT
                           " records.</p>\n",
                           interval, (gint64)s->total_completed, (gint64)s->total_failed,
                           (gint64)s->total_records);
    g_free(interval);
    g_string_append_printf(o,
                           "<h3>Timelines (last %u batches) and histograms</h3><table "
                           "id=\"charts\">\n",
                           s->completed->len);
    chart_row(o, s->completed, "Input Rate", fig_input_rate, "records/sec", "input-rate");
    chart_row(o, s->completed, "Scheduling Delay", fig_sched, "ms", "scheduling-delay");
    chart_row(o, s->completed, "Processing Time", fig_proc, "ms", "processing-time");
    chart_row(o, s->completed, "Total Delay", fig_total, "ms", "total-delay");
    g_string_append(o, "</table>\n");
    inputs_and_state(o, s);
    receivers_table(o, s);
    GPtrArray *active = g_ptr_array_new();
    if (s->active)
        g_ptr_array_add(active, s->active);
    char *title =
        g_strdup_printf("Active Batches: processing, and %" G_GINT64_FORMAT " more waiting",
                        (gint64)s->queued);
    batch_table(o, "active-batches", title, active, true);
    g_free(title);
    g_ptr_array_unref(active);
    batch_table(o, "completed-batches", "Completed Batches (last 1000 out of all)", s->completed,
                true);
    g_string_append(o, "</body></html>\n");
    return g_string_free(o, FALSE);
}

static void op_rows(GString *o, const em_batch_progress *p)
{
    g_string_append(o, "<h3>Output Operations</h3><table id=\"output-ops\"><tr><th>Id</th>"
                       "<th class=\"l\">Description</th><th>Duration</th><th class=\"l\">Status"
                       "</th></tr>\n");
    for (int i = 0; i < p->n_output_ops; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        char *desc = g_markup_escape_text(op->description ? op->description : op->name, -1);
        char *dur = format_ms(op->duration);
        char *status = op->end_time < 0 ? g_strdup("running")
                       : op->failure    ? g_markup_escape_text(op->failure, -1)
                                        : g_strdup("succeeded");
        g_string_append_printf(o,
                               "<tr class=\"output-op\"><td>%d</td><td class=\"l\">%s</td>"
                               "<td>%s</td><td class=\"l\">%s</td></tr>\n",
                               op->id, desc, dur, status);
        g_free(desc);
        g_free(dur);
        g_free(status);
    }
    g_string_append(o, "</table>\n<h3>RDD lineage</h3>\n");
    for (int i = 0; i < p->n_output_ops; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        char *lineage = g_markup_escape_text(op->lineage ? op->lineage : "(no RDD)", -1);
        g_string_append_printf(o, "<p>Output operation %d</p><pre class=\"lineage\">%s</pre>\n",
                               op->id, lineage);
        g_free(lineage);
    }
}

char *em__ui_page_batch(em_ssc *ssc, const em__snapshot *s, em_time t)
{
    (void)ssc;
    const em_batch_progress *p = em__progress_find(s, t);
    if (!p)
        return NULL;
    GString *o = g_string_new(NULL);
    char *when = format_batch_time(t);
    char *title = g_strdup_printf("Details of batch at %s", when);
    em__ui_page_open(o, title, s->app_name, false);
    char *iv = format_ms(p->batch_interval), *sched = format_ms(p->scheduling_delay),
         *proc = format_ms(p->processing_delay), *total = format_ms(p->total_delay);
    g_string_append_printf(o,
                           "<ul id=\"batch-summary\"><li>Batch time: %" G_GINT64_FORMAT
                           " ms</li><li>Batch duration: %s</li><li>Input data size: "
                           "%" G_GINT64_FORMAT " records</li><li>Scheduling delay: %s</li>"
                           "<li>Processing time: %s</li><li>Total delay: %s</li>"
                           "<li>Status: %s</li></ul>\n",
                           (gint64)t, iv, (gint64)p->num_records, sched, proc, total,
                           !p->completed ? "processing"
                           : p->failed   ? "failed"
                                         : "completed");
    if (p->failure) {
        char *f = g_markup_escape_text(p->failure, -1);
        g_string_append_printf(o, "<p class=\"failed\">%s</p>\n", f);
        g_free(f);
    }
    g_string_append(o, "<h3>Input Metadata</h3><table id=\"batch-inputs\"><tr><th class=\"l\">"
                       "Input</th><th>Records</th></tr>\n");
    for (int i = 0; i < p->n_inputs; i++)
        g_string_append_printf(o,
                               "<tr><td class=\"l\">%s</td><td>%" G_GINT64_FORMAT "</td></tr>\n",
                               p->inputs[i].name, (gint64)p->inputs[i].records);
    g_string_append(o, "</table>\n");
    op_rows(o, p);
    g_string_append(o, "</body></html>\n");
    g_free(when);
    g_free(title);
    g_free(iv);
    g_free(sched);
    g_free(proc);
    g_free(total);
    return g_string_free(o, FALSE);
}

char *em__ui_page_graph(em_ssc *ssc)
{
    GString *o = g_string_new(NULL);
    em__ui_page_open(o, "DStream graph", em__ui_app_name(ssc), false);
    if (!em__ui_graph_fixed(ssc)) {
        g_string_append(o, "<p>The graph is drawn once the StreamingContext has started.</p>");
    } else {
        em__ui_graph_svg(ssc, o);
        g_string_append(o, "<h3>As text</h3>\n");
        for (int i = 0; i < em__ui_n_outputs(ssc); i++) {
            char *text = em_dstream_debug_string(em__ui_output_stream(ssc, i));
            char *escaped = g_markup_escape_text(text, -1);
            g_string_append_printf(o, "<p>Output operation %d</p><pre>%s</pre>\n", i, escaped);
            g_free(escaped);
            g_free(text);
        }
    }
    g_string_append(o, "</body></html>\n");
    return g_string_free(o, FALSE);
}
