/* Structured Streaming queries on the operations page, as Spark's Structured Streaming tab
 * shows them: the queries an ssc ran (registered by table-query.c when one starts and when it
 * terminates), a table of the active and one of the completed ones, a page per query run with
 * its recent progress, and the same as REST JSON. The figures are the queries' own progress
 * records (recentProgress), read on the page's thread. */
#include "table-private.h"
#include "ui-private.h"

#include <math.h>
#include <string.h>

typedef struct em__ui_query {
    em_query *q;      /* a reference */
    int64_t start_ms; /* the ssc's clock when it started */
    int64_t end_ms;   /* ... when it terminated, -1 while it runs */
} em__ui_query;

void em__ui_query_started(em_ssc *ssc, em_query *q)
{
    em__monitor *m = em__monitor_of(ssc);
    em__ui_query row = {em_query_ref(q), em_ssc_clock_time(ssc), -1};
    g_mutex_lock(&m->lock);
    if (!m->queries)
        m->queries = g_array_new(FALSE, FALSE, sizeof(em__ui_query));
    g_array_append_val(m->queries, row);
    g_mutex_unlock(&m->lock);
}

void em__ui_query_terminated(em_ssc *ssc, em_query *q)
{
    em__monitor *m = em__monitor_of(ssc);
    int64_t now = em_ssc_clock_time(ssc);
    g_mutex_lock(&m->lock);
    for (guint i = 0; m->queries && i < m->queries->len; i++) {
        em__ui_query *row = &g_array_index(m->queries, em__ui_query, i);
        if (row->q == q && row->end_ms < 0)
            row->end_ms = now;
    }
    g_mutex_unlock(&m->lock);
}

static void row_clear(gpointer p) { em_query_unref(((em__ui_query *)p)->q); }

void em__ui_queries_free(em__monitor *m)
{
    if (!m->queries)
        return;
    g_array_set_clear_func(m->queries, row_clear);
    g_array_unref(m->queries);
    m->queries = NULL;
}

/* ---- One query's figures, read once per request ---- */

typedef struct {
    em_query *q; /* borrowed from the snapshot */
    char *status, *exception, *name_html;
    int64_t start_ms, duration_ms;
    JsonNode **progress; /* recentProgress parsed, oldest first */
    guint n;
} query_view;

/* Spark's UIUtils.getQueryStatus. */
static const char *status_of(em_query *q, const char *exception)
{
    return em_query_is_active(q) ? "RUNNING" : exception ? "FAILED" : "FINISHED";
}

static GPtrArray *views(em_ssc *ssc)
{
    em__monitor *m = em__monitor_of(ssc);
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em__ui_query));
    g_mutex_lock(&m->lock);
    for (guint i = 0; m->queries && i < m->queries->len; i++) {
        em__ui_query row = g_array_index(m->queries, em__ui_query, i);
        row.q = em_query_ref(row.q);
        g_array_append_val(rows, row);
    }
    g_mutex_unlock(&m->lock);
    int64_t now = em_ssc_clock_time(ssc);
    GPtrArray *all = g_ptr_array_new();
    for (guint i = 0; i < rows->len; i++) {
        em__ui_query *row = &g_array_index(rows, em__ui_query, i);
        query_view *v = g_new0(query_view, 1);
        v->q = row->q;
        v->exception = em_query_exception(row->q);
        v->status = g_strdup(status_of(row->q, v->exception));
        const char *name = em_query_name(row->q);
        v->name_html = g_markup_escape_text(name && *name ? name : "<no name>", -1);
        v->start_ms = row->start_ms;
        v->duration_ms = (row->end_ms >= 0 ? row->end_ms : now) - row->start_ms;
        g_auto(GStrv) recent = em_query_recent_progress(row->q);
        v->n = g_strv_length(recent);
        v->progress = g_new0(JsonNode *, v->n + 1);
        for (guint k = 0; k < v->n; k++)
            v->progress[k] = json_from_string(recent[k], NULL);
        g_ptr_array_add(all, v);
    }
    g_array_unref(rows); /* the references move to the views */
    return all;
}

static void views_free(GPtrArray *all)
{
    for (guint i = 0; i < all->len; i++) {
        query_view *v = all->pdata[i];
        for (guint k = 0; k < v->n; k++)
            if (v->progress[k])
                json_node_unref(v->progress[k]);
        g_free(v->progress);
        g_free(v->status);
        g_free(v->exception);
        g_free(v->name_html);
        em_query_unref(v->q);
        g_free(v);
    }
    g_ptr_array_unref(all);
}

static JsonObject *progress_object(const query_view *v, guint k)
{
    JsonNode *n = v->progress[k];
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* A number member of o (0 when absent: Spark's withNumberInvalid turns NaN into 0). */
static double number(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_double(n) : 0.0;
}

/* The average of a rate over the recent progress, as Spark's "Avg Input /sec" column prints
 * it ("%.2f"; "NaN" without progress). */
static char *average(const query_view *v, const char *member)
{
    if (!v->n)
        return g_strdup("NaN");
    double sum = 0;
    for (guint k = 0; k < v->n; k++)
        sum += number(progress_object(v, k), member);
    return g_strdup_printf("%.2f", sum / v->n);
}

/* ---- Formatting as Spark's UIUtils ---- */

/* formatDate: yyyy/MM/dd HH:mm:ss (UTC here, as the rest of the page). */
static char *format_date(int64_t ms)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(s);
    return dt ? g_date_time_format(dt, "%Y/%m/%d %H:%M:%S") : g_strdup("-");
}

/* UIUtils' toString(num, unit): "" for 0, "1 second", "2 seconds". */
static char *unit_text(int64_t n, const char *unit)
{
    return n == 0   ? g_strdup("")
           : n == 1 ? g_strdup_printf("1 %s", unit)
                    : g_strdup_printf("%" G_GINT64_FORMAT " %ss", (gint64)n, unit);
}

/* formatDurationVerbose, word for word, empty parts and their spaces included: "250 ms",
 * "3 seconds 250 ms", "3 seconds ", "2 minutes 5 seconds", "1 hour  5 seconds", ... */
char *em__ui_duration_verbose(int64_t ms)
{
    const int64_t second = 1000, minute = 60 * second, hour = 60 * minute, day = 24 * hour,
                  week = 7 * day, year = 365 * day;
    if (ms < 0)
        ms = 0;
    g_autofree char *millis =
        ms >= second && ms % second == 0
            ? g_strdup("")
            : g_strdup_printf("%" G_GINT64_FORMAT " ms", (gint64)(ms % second));
    g_autofree char *secs = unit_text((ms % minute) / second, "second");
    g_autofree char *mins = unit_text((ms % hour) / minute, "minute");
    g_autofree char *hours = unit_text((ms % day) / hour, "hour");
    g_autofree char *days = unit_text((ms % week) / day, "day");
    g_autofree char *weeks = unit_text((ms % year) / week, "week");
    g_autofree char *years = unit_text(ms / year, "year");
    if (ms < second)
        return g_strdup(millis);
    if (ms < minute)
        return g_strdup_printf("%s %s", secs, millis);
    if (ms < hour)
        return g_strdup_printf("%s %s", mins, secs);
    if (ms < day)
        return g_strdup_printf("%s %s %s", hours, mins, secs);
    if (ms < week)
        return g_strdup_printf("%s %s %s", days, hours, mins);
    if (ms < year)
        return g_strdup_printf("%s %s %s", weeks, days, hours);
    return g_strdup_printf("%s %s %s", years, weeks, days);
}

static void cell(GString *o, const char *cls, const char *text_html)
{
    g_string_append_printf(o, "<td%s>%s</td>", cls ? cls : "", text_html);
}

static void cell_text(GString *o, const char *cls, const char *text)
{
    g_autofree char *esc = g_markup_escape_text(text ? text : "", -1);
    cell(o, cls, esc);
}

/* ---- The list page (Spark's StreamingQueryPage) ---- */

static void query_table(GString *o, const GPtrArray *all, bool active)
{
    guint n = 0;
    for (guint i = 0; i < all->len; i++)
        n += (strcmp(((query_view *)all->pdata[i])->status, "RUNNING") == 0) == active;
    const char *what = active ? "active" : "completed";
    g_string_append_printf(o, "<h4 id=\"%s-title\">%s Streaming Queries (%u)</h4>\n", what,
                           active ? "Active" : "Completed", n);
    if (!n)
        return;
    g_string_append_printf(o,
                           "<table id=\"%s-queries\"><thead><tr><th class=\"l\">Name</th>"
                           "<th class=\"l\">Status</th><th class=\"l\">ID</th>"
                           "<th class=\"l\">Run ID</th><th>Start Time</th><th>Duration</th>"
                           "<th>Avg Input /sec</th><th>Avg Process /sec</th>"
                           "<th>Latest Batch</th>%s</tr></thead><tbody>\n",
                           what, active ? "" : "<th class=\"l\">Error</th>");
    for (guint i = 0; i < all->len; i++) {
        const query_view *v = all->pdata[i];
        if ((strcmp(v->status, "RUNNING") == 0) != active)
            continue;
        g_autofree char *run_id = g_markup_escape_text(em_query_run_id(v->q), -1);
        g_string_append(o, "<tr>");
        g_autofree char *link =
            g_strdup_printf("<a href=\"/StreamingQuery/statistics?id=%s\">%s</a>", run_id,
                            v->name_html);
        cell(o, " class=\"l\"", link);
        cell_text(o, " class=\"l\"", v->status);
        cell_text(o, " class=\"l\"", em_query_id(v->q));
        cell(o, " class=\"l\"", run_id);
        g_autofree char *start = format_date(v->start_ms);
        g_autofree char *duration = em__ui_duration_verbose(v->duration_ms);
        g_autofree char *in = average(v, "inputRowsPerSecond");
        g_autofree char *proc = average(v, "processedRowsPerSecond");
        JsonObject *last = v->n ? progress_object(v, v->n - 1) : NULL;
        g_autofree char *batch =
            last ? g_strdup_printf("%" G_GINT64_FORMAT,
                                   (gint64)json_object_get_int_member(last, "batchId"))
                 : g_strdup("NaN");
        cell_text(o, NULL, start);
        cell_text(o, NULL, duration);
        cell_text(o, NULL, in);
        cell_text(o, NULL, proc);
        cell_text(o, NULL, batch);
        if (!active)
            cell_text(o, " class=\"l\"", v->exception ? v->exception : "-");
        g_string_append(o, "</tr>\n");
    }
    g_string_append(o, "</tbody></table>\n");
}

char *em__ui_page_queries(em_ssc *ssc, const em__snapshot *s)
{
    GPtrArray *all = views(ssc);
    GString *o = g_string_new(NULL);
    em__ui_page_open(o, "Streaming Query", s->app_name, true);
    query_table(o, all, true);
    query_table(o, all, false);
    g_string_append(o, "</body></html>\n");
    views_free(all);
    return g_string_free(o, FALSE);
}

/* ---- A query run's page (Spark's StreamingQueryStatisticsPage) ---- */

static query_view *find_run(GPtrArray *all, const char *run_id)
{
    for (guint i = 0; i < all->len; i++) {
        query_view *v = all->pdata[i];
        if (strcmp(em_query_run_id(v->q), run_id) == 0)
            return v;
    }
    return NULL;
}

/* A member of o as compact JSON text ("-" when absent). */
static char *member_json(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n ? json_to_string(n, FALSE) : g_strdup("-");
}

static char *rate_text(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n ? g_strdup_printf("%.2f", json_node_get_double(n)) : g_strdup("NaN");
}

/* The state operators' rows: "total/updated" each, comma-separated, or "-". */
static char *state_text(JsonObject *p)
{
    JsonArray *ops = json_object_has_member(p, "stateOperators")
                         ? json_object_get_array_member(p, "stateOperators")
                         : NULL;
    if (!ops || !json_array_get_length(ops))
        return g_strdup("-");
    GString *o = g_string_new(NULL);
    for (guint i = 0; i < json_array_get_length(ops); i++) {
        JsonObject *op = json_array_get_object_element(ops, i);
        g_string_append_printf(o, "%s%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, i ? ", " : "",
                               (gint64)number(op, "numRowsTotal"),
                               (gint64)number(op, "numRowsUpdated"));
    }
    return g_string_free(o, FALSE);
}

static void progress_row(GString *o, JsonObject *p)
{
    JsonObject *durations = json_object_has_member(p, "durationMs")
                                ? json_object_get_object_member(p, "durationMs")
                                : NULL;
    JsonArray *sources =
        json_object_has_member(p, "sources") ? json_object_get_array_member(p, "sources") : NULL;
    JsonObject *source = sources && json_array_get_length(sources)
                             ? json_array_get_object_element(sources, 0)
                             : NULL;
    JsonObject *event_time = json_object_has_member(p, "eventTime")
                                 ? json_object_get_object_member(p, "eventTime")
                                 : NULL;
    g_autofree char *batch =
        g_strdup_printf("%" G_GINT64_FORMAT, (gint64)json_object_get_int_member(p, "batchId"));
    g_autofree char *rows = g_strdup_printf("%" G_GINT64_FORMAT,
                                            (gint64)json_object_get_int_member(p, "numInputRows"));
    g_autofree char *in = rate_text(p, "inputRowsPerSecond");
    g_autofree char *proc = rate_text(p, "processedRowsPerSecond");
    g_autofree char *trigger =
        g_strdup_printf("%" G_GINT64_FORMAT " ms", (gint64)number(durations, "triggerExecution"));
    g_autofree char *add =
        g_strdup_printf("%" G_GINT64_FORMAT " ms", (gint64)number(durations, "addBatch"));
    g_autofree char *state = state_text(p);
    g_autofree char *start = member_json(source, "startOffset");
    g_autofree char *end = member_json(source, "endOffset");
    const char *wm = event_time && json_object_has_member(event_time, "watermark")
                         ? json_object_get_string_member(event_time, "watermark")
                         : "-";
    g_string_append(o, "<tr>");
    cell_text(o, NULL, batch);
    cell_text(o, " class=\"l\"", json_object_get_string_member_with_default(p, "timestamp", ""));
    cell_text(o, NULL, rows);
    cell_text(o, NULL, in);
    cell_text(o, NULL, proc);
    cell_text(o, NULL, trigger);
    cell_text(o, NULL, add);
    cell_text(o, NULL, state);
    cell_text(o, " class=\"l\"", start);
    cell_text(o, " class=\"l\"", end);
    cell_text(o, " class=\"l\"", wm);
    g_string_append(o, "</tr>\n");
}

char *em__ui_page_query(em_ssc *ssc, const em__snapshot *s, const char *run_id)
{
    GPtrArray *all = views(ssc);
    query_view *v = find_run(all, run_id);
    if (!v) {
        views_free(all);
        return NULL;
    }
    GString *o = g_string_new(NULL);
    em__ui_page_open(o, "Streaming Query Statistics", s->app_name, true);
    g_autofree char *since = format_date(v->start_ms);
    g_autofree char *duration = em__ui_duration_verbose(v->duration_ms);
    g_autofree char *id = g_markup_escape_text(em_query_id(v->q), -1);
    g_autofree char *run = g_markup_escape_text(em_query_run_id(v->q), -1);
    g_string_append_printf(o,
                           "<p id=\"summary\">Running batches for <strong>%s</strong> since "
                           "<strong>%s</strong> (<strong>%" G_GINT64_FORMAT
                           "</strong> completed batches)</p>\n"
                           "<table id=\"query\"><tbody>"
                           "<tr><th class=\"l\">Name</th><td class=\"l\">%s</td></tr>"
                           "<tr><th class=\"l\">Id</th><td class=\"l\">%s</td></tr>"
                           "<tr><th class=\"l\">RunId</th><td class=\"l\">%s</td></tr>"
                           "<tr><th class=\"l\">Status</th><td class=\"l\">%s</td></tr>"
                           "</tbody></table>\n",
                           duration, since, (gint64)em_query_batches(v->q), v->name_html, id, run,
                           v->status);
    if (v->exception) {
        g_autofree char *esc = g_markup_escape_text(v->exception, -1);
        g_string_append_printf(o, "<pre id=\"exception\" class=\"failed\">%s</pre>\n", esc);
    }
    g_string_append_printf(o, "<h4>Recent Progress (%u)</h4>\n", v->n);
    if (v->n) {
        g_string_append(o, "<table id=\"progress\"><thead><tr><th>Batch</th>"
                           "<th class=\"l\">Timestamp</th><th>Input Rows</th>"
                           "<th>Input Rows /sec</th><th>Process Rows /sec</th>"
                           "<th>Trigger Execution</th><th>Add Batch</th>"
                           "<th>State Rows (total/updated)</th><th class=\"l\">Start Offset</th>"
                           "<th class=\"l\">End Offset</th><th class=\"l\">Watermark</th>"
                           "</tr></thead><tbody>\n");
        for (guint k = v->n; k-- > 0;) /* newest first */
            if (progress_object(v, k))
                progress_row(o, progress_object(v, k));
        g_string_append(o, "</tbody></table>\n");
    }
    if (v->n && v->progress[v->n - 1]) {
        g_autoptr(JsonGenerator) gen = json_generator_new();
        json_generator_set_pretty(gen, TRUE);
        json_generator_set_indent(gen, 2);
        json_generator_set_root(gen, v->progress[v->n - 1]);
        g_autofree char *last = json_generator_to_data(gen, NULL);
        g_autofree char *esc = g_markup_escape_text(last, -1);
        g_string_append_printf(o, "<h4>lastProgress</h4><pre id=\"last-progress\">%s</pre>\n",
                               esc);
    }
    g_string_append(o, "</body></html>\n");
    views_free(all);
    return g_string_free(o, FALSE);
}

/* ---- REST ---- */

static void add_query(JsonBuilder *b, const query_view *v, bool recent)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, em_query_id(v->q));
    json_builder_set_member_name(b, "runId");
    json_builder_add_string_value(b, em_query_run_id(v->q));
    json_builder_set_member_name(b, "name");
    if (em_query_name(v->q))
        json_builder_add_string_value(b, em_query_name(v->q));
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, v->status);
    json_builder_set_member_name(b, "exception");
    if (v->exception)
        json_builder_add_string_value(b, v->exception);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "startTimestamp");
    json_builder_add_int_value(b, v->start_ms);
    json_builder_set_member_name(b, "durationMs");
    json_builder_add_int_value(b, v->duration_ms);
    json_builder_set_member_name(b, "numBatches");
    json_builder_add_int_value(b, em_query_batches(v->q));
    json_builder_set_member_name(b, "lastProgress");
    if (v->n && v->progress[v->n - 1])
        json_builder_add_value(b, json_node_copy(v->progress[v->n - 1]));
    else
        json_builder_add_null_value(b);
    if (recent) {
        json_builder_set_member_name(b, "recentProgress");
        json_builder_begin_array(b);
        for (guint k = 0; k < v->n; k++)
            if (v->progress[k])
                json_builder_add_value(b, json_node_copy(v->progress[k]));
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
}

static char *to_json(JsonBuilder *b)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

char *em__ui_rest_queries(em_ssc *ssc)
{
    GPtrArray *all = views(ssc);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < all->len; i++)
        add_query(b, all->pdata[i], false);
    json_builder_end_array(b);
    views_free(all);
    return to_json(b);
}

char *em__ui_rest_query(em_ssc *ssc, const char *run_id)
{
    GPtrArray *all = views(ssc);
    query_view *v = find_run(all, run_id);
    char *json = NULL;
    if (v) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        add_query(b, v, true);
        json = to_json(b);
    }
    views_free(all);
    return json;
}
