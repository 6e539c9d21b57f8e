/* Structured Streaming queries on the operations page over real TCP on 127.0.0.1: the REST
 * list and per-run JSON against the queries' own lastProgress and recentProgress, Spark's
 * Structured Streaming tab (the active and completed query tables, a run's page with its
 * recent progress) cell for cell, a failed query with its error, 4xx for unknown runs, and
 * Spark's formatDurationVerbose. Time runs on the manual clock. */
#include "../structured/file-fixture.h"
#include "http-client.h"
#include "ui-private.h"

#include <inttypes.h>

static em_ssc *page_ssc(void)
{
    GError *err = NULL;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "QueryPage",
                                                 .batch_interval = 1000,
                                                 .manual_clock = true,
                                                 .ui_address = "127.0.0.1:0"},
                                  &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    cr_assert_gt(em_ssc_ui_port(ssc), 0);
    return ssc;
}

static JsonNode *parse(const char *json)
{
    JsonNode *node = json_from_string(json, NULL);
    cr_assert_not_null(node, "not JSON: %s", json);
    return node;
}

/* GET path: asserts status, returns the body (g_free it). */
static char *get(em_ssc *ssc, const char *path, int status)
{
    http_reply r = http_get(em_ssc_ui_port(ssc), path);
    cr_assert_eq(r.status, status, "GET %s: %d %s", path, r.status, r.body);
    g_free(r.headers);
    return r.body;
}

/* Spark's "Avg ... /sec": the mean of member over the progress (absent counts 0), "%.2f". */
static char *avg_of(char **progress, const char *member)
{
    double sum = 0;
    guint n = g_strv_length(progress);
    for (guint i = 0; i < n; i++) {
        g_autoptr(JsonNode) p = parse(progress[i]);
        JsonObject *o = json_node_get_object(p);
        if (json_object_has_member(o, member))
            sum += json_object_get_double_member(o, member);
    }
    return g_strdup_printf("%.2f", sum / n);
}

static int64_t duration_of(const char *json, const char *member)
{
    g_autoptr(JsonNode) p = parse(json);
    return json_object_get_int_member(json_object_get_object_member(json_node_get_object(p),
                                                                    "durationMs"),
                                      member);
}

static char *rate_of(const char *json, const char *member)
{
    g_autoptr(JsonNode) p = parse(json);
    JsonObject *o = json_node_get_object(p);
    return json_object_has_member(o, member)
               ? g_strdup_printf("%.2f", json_object_get_double_member(o, member))
               : g_strdup("NaN");
}

/* The table row of query q as Spark's StreamingQueryPage draws it. */
static char *query_row(em_query *q, const char *name, const char *status, const char *duration,
                       const char *error)
{
    g_auto(GStrv) progress = em_query_recent_progress(q);
    g_autofree char *in = avg_of(progress, "inputRowsPerSecond");
    g_autofree char *proc = avg_of(progress, "processedRowsPerSecond");
    g_autofree char *error_cell =
        error ? g_strdup_printf("<td class=\"l\">%s</td>", error) : g_strdup("");
    return g_strdup_printf("<tr><td class=\"l\"><a href=\"/StreamingQuery/statistics?id=%s\">%s"
                           "</a></td><td class=\"l\">%s</td><td class=\"l\">%s</td>"
                           "<td class=\"l\">%s</td><td>1970/01/01 00:00:00</td><td>%s</td>"
                           "<td>%s</td><td>%s</td><td>%" G_GINT64_FORMAT "</td>%s</tr>\n",
                           em_query_run_id(q), name, status, em_query_id(q), em_query_run_id(q),
                           duration, in, proc, em_query_batches(q) - 1, error_cell);
}

static void assert_contains(const char *body, const char *want)
{
    cr_assert(strstr(body, want), "missing:\n%s\nin:\n%s", want, body);
}

typedef struct {
    char *root, *words, *lines;
    em_ssc *ssc;
    em_query *counts, *plain;
} two_queries;

/* "counts": a word count of the lines of root/words (complete, memory, named); and an unnamed
 * query of the lines of root/lines; each a file a trigger, two triggers. */
static void two_queries_run(two_queries *t)
{
    t->root = tmp_dir();
    t->words = g_build_filename(t->root, "words", NULL);
    t->lines = g_build_filename(t->root, "lines", NULL);
    cr_assert_eq(g_mkdir(t->words, 0755), 0);
    cr_assert_eq(g_mkdir(t->lines, 0755), 0);
    put_file(t->words, "1.txt", "a\nb\n", 100);
    put_file(t->words, "2.txt", "a\n", 200);
    put_file(t->lines, "1.txt", "x\n", 100);
    t->ssc = page_ssc();
    GError *err = NULL;
    const em_file_source_opts one = {.max_files_per_trigger = 1};
    g_autoptr(em_df) words = ok(em_df_read_files(t->ssc, t->words, &one, &err), err);
    const char *by[] = {"value"};
    g_autoptr(em_df) counted = ok(em_df_group_by_count(words, by, 1, &err), err);
    t->counts = started(counted, &(em_query_opts){.mode = EM_OUTPUT_COMPLETE,
                                                  .sink = EM_SINK_MEMORY,
                                                  .name = "counts",
                                                  .defer_ssc_start = true});
    g_autoptr(em_df) lines = ok(em_df_read_files(t->ssc, t->lines, &one, &err), err);
    t->plain = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY, .defer_ssc_start = true});
    cr_assert(em_ssc_start(t->ssc, &err), "%s", err ? err->message : "");
    run_batches(t->ssc, 2);
}

static void two_queries_free(two_queries *t)
{
    em_ssc_free(t->ssc);
    em_query_unref(t->counts);
    em_query_unref(t->plain);
    g_free(t->words);
    g_free(t->lines);
    tmp_dir_free(t->root);
}

Test(query_page, rest_lists_each_query_with_its_last_progress)
{
    two_queries t;
    two_queries_run(&t);
    g_autofree char *body = get(t.ssc, "/api/v1/streaming/queries", 200);
    g_autoptr(JsonNode) root = parse(body);
    JsonArray *all = json_node_get_array(root);
    cr_assert_eq(json_array_get_length(all), 2);
    em_query *qs[] = {t.counts, t.plain};
    for (guint i = 0; i < 2; i++) {
        JsonObject *o = json_array_get_object_element(all, i);
        cr_assert_str_eq(json_object_get_string_member(o, "id"), em_query_id(qs[i]));
        cr_assert_str_eq(json_object_get_string_member(o, "runId"), em_query_run_id(qs[i]));
        if (i == 0)
            cr_assert_str_eq(json_object_get_string_member(o, "name"), "counts");
        else
            cr_assert(json_node_is_null(json_object_get_member(o, "name")));
        cr_assert_str_eq(json_object_get_string_member(o, "status"), "RUNNING");
        cr_assert(json_node_is_null(json_object_get_member(o, "exception")));
        cr_assert_eq(json_object_get_int_member(o, "startTimestamp"), 0);
        cr_assert_eq(json_object_get_int_member(o, "durationMs"), 2000);
        cr_assert_eq(json_object_get_int_member(o, "numBatches"), i == 0 ? 2 : 1);
        g_autofree char *last = em_query_last_progress(qs[i]);
        g_autoptr(JsonNode) want = parse(last);
        cr_assert(json_node_equal(json_object_get_member(o, "lastProgress"), want), "%s\nvs\n%s",
                  body, last);
        cr_assert_not(json_object_has_member(o, "recentProgress"));
    }
    /* One run: its recentProgress, oldest first, as the query reports it. */
    g_autofree char *path =
        g_strdup_printf("/api/v1/streaming/queries/%s", em_query_run_id(t.counts));
    g_autofree char *one = get(t.ssc, path, 200);
    g_autoptr(JsonNode) run = parse(one);
    JsonArray *recent = json_object_get_array_member(json_node_get_object(run), "recentProgress");
    g_auto(GStrv) progress = em_query_recent_progress(t.counts);
    cr_assert_eq(json_array_get_length(recent), 2);
    for (guint i = 0; i < 2; i++) {
        g_autoptr(JsonNode) want = parse(progress[i]);
        cr_assert(json_node_equal(json_array_get_element(recent, i), want));
    }
    /* The state operator and the offsets are there, as Spark's progress has them. */
    JsonObject *last = json_array_get_object_element(recent, 1);
    JsonObject *state =
        json_array_get_object_element(json_object_get_array_member(last, "stateOperators"), 0);
    cr_assert_eq(json_object_get_int_member(state, "numRowsTotal"), 2);
    JsonObject *source =
        json_array_get_object_element(json_object_get_array_member(last, "sources"), 0);
    g_autofree char *end = json_to_string(json_object_get_member(source, "endOffset"), FALSE);
    cr_assert_str_eq(end, "{\"logOffset\":1}");
    two_queries_free(&t);
}

Test(query_page, the_tab_lists_active_queries_then_completed_ones_as_spark)
{
    two_queries t;
    two_queries_run(&t);
    g_autofree char *page = get(t.ssc, "/StreamingQuery/", 200);
    assert_contains(page, "<h4 id=\"active-title\">Active Streaming Queries (2)</h4>");
    assert_contains(page, "<h4 id=\"completed-title\">Completed Streaming Queries (0)</h4>");
    assert_contains(page, "<tr><th class=\"l\">Name</th><th class=\"l\">Status</th>"
                          "<th class=\"l\">ID</th><th class=\"l\">Run ID</th>"
                          "<th>Start Time</th><th>Duration</th><th>Avg Input /sec</th>"
                          "<th>Avg Process /sec</th><th>Latest Batch</th></tr>");
    g_autofree char *counts = query_row(t.counts, "counts", "RUNNING", "2 seconds ", NULL);
    g_autofree char *plain = query_row(t.plain, "&lt;no name&gt;", "RUNNING", "2 seconds ", NULL);
    g_autofree char *both = g_strconcat(counts, plain, NULL);
    assert_contains(page, both);
    /* Stopped: both go to the completed table, with no error. */
    em_query_stop(t.counts);
    g_autofree char *after = get(t.ssc, "/StreamingQuery", 200);
    assert_contains(after, "Active Streaming Queries (0)</h4>");
    assert_contains(after, "Completed Streaming Queries (2)</h4>");
    g_autofree char *done1 = query_row(t.counts, "counts", "FINISHED", "2 seconds ", "-");
    g_autofree char *done2 = query_row(t.plain, "&lt;no name&gt;", "FINISHED", "2 seconds ", "-");
    g_autofree char *done = g_strconcat(done1, done2, NULL);
    assert_contains(after, done);
    /* The streaming page links to the tab. */
    g_autofree char *streaming = get(t.ssc, "/streaming", 200);
    assert_contains(streaming, "<a href=\"/StreamingQuery/\">Structured Streaming</a>");
    two_queries_free(&t);
}

Test(query_page, a_run_page_shows_its_recent_progress_newest_first)
{
    two_queries t;
    two_queries_run(&t);
    g_autofree char *path =
        g_strdup_printf("/StreamingQuery/statistics?id=%s", em_query_run_id(t.counts));
    g_autofree char *page = get(t.ssc, path, 200);
    assert_contains(page, "<p id=\"summary\">Running batches for <strong>2 seconds </strong> "
                          "since <strong>1970/01/01 00:00:00</strong> (<strong>2</strong> "
                          "completed batches)</p>");
    g_autofree char *ids =
        g_strdup_printf("<tr><th class=\"l\">Name</th><td class=\"l\">counts</td></tr>"
                        "<tr><th class=\"l\">Id</th><td class=\"l\">%s</td></tr>"
                        "<tr><th class=\"l\">RunId</th><td class=\"l\">%s</td></tr>"
                        "<tr><th class=\"l\">Status</th><td class=\"l\">RUNNING</td></tr>",
                        em_query_id(t.counts), em_query_run_id(t.counts));
    assert_contains(page, ids);
    g_auto(GStrv) progress = em_query_recent_progress(t.counts);
    /* Batch 1 (2 s: one row, 1 row/s since batch 0), then batch 0 (1 s: two rows). */
    GString *rows = g_string_new(NULL);
    for (int b = 1; b >= 0; b--) {
        g_autofree char *in = rate_of(progress[b], "inputRowsPerSecond");
        g_autofree char *proc = rate_of(progress[b], "processedRowsPerSecond");
        g_string_append_printf(
            rows,
            "<tr><td>%d</td><td class=\"l\">1970-01-01T00:00:0%d.000Z</td><td>%d</td>"
            "<td>%s</td><td>%s</td><td>%" G_GINT64_FORMAT " ms</td><td>%" G_GINT64_FORMAT
            " ms</td><td>2/2</td><td class=\"l\">%s</td><td class=\"l\">{&quot;logOffset&quot;:%d}"
            "</td><td class=\"l\">-</td></tr>\n",
            b, b + 1, b == 0 ? 2 : 1, in, proc, duration_of(progress[b], "triggerExecution"),
            duration_of(progress[b], "addBatch"), b == 0 ? "null" : "{&quot;logOffset&quot;:0}",
            b);
    }
    cr_assert(strstr(rows->str, "<td>1.00</td>"), "batch 1's input rate: %s", rows->str);
    assert_contains(page, rows->str);
    g_string_free(rows, TRUE);
    assert_contains(page, "<h4>Recent Progress (2)</h4>");
    /* Unknown and missing runs. */
    g_autofree char *unknown = get(t.ssc, "/StreamingQuery/statistics?id=nope", 404);
    cr_assert_str_eq(unknown, "no query run with runId \"nope\"\n");
    g_autofree char *missing = get(t.ssc, "/StreamingQuery/statistics", 400);
    cr_assert_str_eq(missing, "expected /StreamingQuery/statistics?id=<runId>\n");
    g_autofree char *rest = get(t.ssc, "/api/v1/streaming/queries/nope", 404);
    cr_assert_str_eq(rest, "no query run with runId \"nope\"\n");
    two_queries_free(&t);
}

Test(query_page, a_failed_query_is_completed_with_its_error)
{
    char *root = tmp_dir();
    g_autofree char *missing = g_build_filename(root, "missing", NULL);
    em_ssc *ssc = page_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, missing, &(em_file_source_opts){0}, &err), err);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    cr_assert_not(em_query_await_termination(q, &err));
    g_clear_error(&err);
    g_autofree char *page = get(ssc, "/StreamingQuery/", 200);
    g_autofree char *error =
        g_strdup_printf("batch 1000 ms: file source: cannot list %s: No such file or directory",
                        missing);
    /* No progress: Spark's NaN averages and latest batch. */
    g_autofree char *want = g_strdup_printf(
        "<tr><td class=\"l\"><a href=\"/StreamingQuery/statistics?id=%s\">&lt;no name&gt;</a>"
        "</td><td class=\"l\">FAILED</td><td class=\"l\">%s</td><td class=\"l\">%s</td>"
        "<td>1970/01/01 00:00:00</td><td>1 second </td><td>NaN</td><td>NaN</td><td>NaN</td>"
        "<td class=\"l\">%s</td></tr>",
        em_query_run_id(q), em_query_id(q), em_query_run_id(q), error);
    assert_contains(page, want);
    g_autofree char *json = get(ssc, "/api/v1/streaming/queries", 200);
    g_autoptr(JsonNode) root_node = parse(json);
    JsonObject *o = json_array_get_object_element(json_node_get_array(root_node), 0);
    cr_assert_str_eq(json_object_get_string_member(o, "status"), "FAILED");
    cr_assert_str_eq(json_object_get_string_member(o, "exception"), error);
    cr_assert(json_node_is_null(json_object_get_member(o, "lastProgress")));
    em_ssc_free(ssc);
    tmp_dir_free(root);
}

Test(query_page, durations_read_as_spark_format_duration_verbose)
{
    const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "0 ms"},
        {250, "250 ms"},
        {1000, "1 second "},
        {3250, "3 seconds 250 ms"},
        {60000, "1 minute "},
        {125000, "2 minutes 5 seconds"},
        {3605000, "1 hour  5 seconds"},
        {90061000, "1 day 1 hour 1 minute"},
        {8LL * 86400000, "1 week 1 day "},
        /* Spark takes the days of ms % week, not of the year's rest: 366 days read so. */
        {366LL * 86400000, "1 year  2 days"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = em__ui_duration_verbose(cases[i].ms);
        cr_assert_str_eq(got, cases[i].text, "%" PRId64 " ms", cases[i].ms);
    }
}

Test(query_page, a_run_page_shows_the_watermark_of_an_event_time_query)
{
    char *root = tmp_dir();
    put_file(root, "1.csv", "2026-01-01 12:07:00,dog\n", 100);
    put_file(root, "2.csv", "2026-01-01 12:14:00,cat\n", 200);
    em_ssc *ssc = page_ssc();
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of("timestamp timestamp, word string");
    g_autoptr(em_df) events =
        ok(em_df_read_files(ssc, root,
                            &(em_file_source_opts){.format = EM_FILE_CSV,
                                                   .schema = schema,
                                                   .max_files_per_trigger = 1},
                            &err),
           err);
    g_autoptr(em_df) marked =
        ok(em_df_with_watermark(events, "timestamp", EM_MINUTES(10), &err), err);
    g_autoptr(em_query) q = started(marked, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 2);
    g_autofree char *path =
        g_strdup_printf("/StreamingQuery/statistics?id=%s", em_query_run_id(q));
    g_autofree char *page = get(ssc, path, 200);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 2);
    for (int b = 0; b < 2; b++) {
        g_autoptr(JsonNode) p = parse(progress[b]);
        const char *wm =
            json_object_get_string_member(json_object_get_object_member(json_node_get_object(p),
                                                                        "eventTime"),
                                          "watermark");
        /* Batch 1 runs with the watermark batch 0 left: 12:07 less 10 minutes. */
        if (b == 1)
            cr_assert_str_eq(wm, "2026-01-01T11:57:00.000Z");
        g_autofree char *cell = g_strdup_printf(
            "<td class=\"l\">{&quot;logOffset&quot;:%d}</td><td class=\"l\">%s</td></tr>", b, wm);
        assert_contains(page, cell);
    }
    em_ssc_free(ssc);
    tmp_dir_free(root);
}
