/* Event time on Ember's DataFrames: window() boundaries as Spark's TimeWindow, withWatermark()
 * with Spark 3.5's rules (late rows judged by the previous batch's watermark, groups evicted by
 * the current one, a batch without data when the watermark moves), the programming guide's
 * windowed word count in update, append and complete modes (each trigger's rows as PySpark 3.5
 * printed them for the same input), the progress's eventTime block, and a property test of
 * append mode against a batch computation. */
#include "query-fixture.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define MIN_MS (60 * 1000)

static gint compare_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The console text with each table's rows sorted: Spark writes groups in its hash order, so
 * the comparison with its output is per batch, as sets of rows. g_free() it. */
static char *rows_sorted(const char *console)
{
    g_auto(GStrv) lines = g_strsplit(console, "\n", -1);
    size_t n = g_strv_length(lines);
    GString *out = g_string_new(NULL);
    size_t i = 0;
    while (i < n) {
        /* a table: border, header, border, rows..., border */
        if (g_str_has_prefix(lines[i], "+") && i + 2 < n && g_str_has_prefix(lines[i + 2], "+")) {
            for (size_t k = i; k <= i + 2; k++)
                g_string_append_printf(out, "%s\n", lines[k]);
            size_t first = i + 3, end = first;
            while (end < n && !g_str_has_prefix(lines[end], "+"))
                end++;
            GPtrArray *rows = g_ptr_array_new();
            for (size_t k = first; k < end; k++)
                g_ptr_array_add(rows, lines[k]);
            g_ptr_array_sort(rows, compare_lines);
            for (size_t k = 0; k < rows->len; k++)
                g_string_append_printf(out, "%s\n", (char *)rows->pdata[k]);
            g_ptr_array_free(rows, TRUE);
            i = end;
            continue;
        }
        g_string_append(out, lines[i]);
        if (i + 1 < n)
            g_string_append_c(out, '\n');
        i++;
    }
    return g_string_free(out, FALSE);
}

/* "ts,word" lines -> (timestamp, word) rows. */
static em_df *events_of(const em_df *lines)
{
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of("timestamp timestamp, word string");
    return ok(em_df_from_csv(lines, "value", schema, NULL, &err), err);
}

/* The guide's query: withWatermark("timestamp", "10 minutes"),
 * groupBy(window("timestamp", "10 minutes", "5 minutes"), "word").count(). */
static em_df *windowed_counts(const em_df *lines, em_duration delay)
{
    GError *err = NULL;
    g_autoptr(em_df) events = events_of(lines);
    g_autoptr(em_df) marked = ok(em_df_with_watermark(events, "timestamp", delay, &err), err);
    g_autoptr(em_df) windowed =
        ok(em_df_window(marked, "timestamp", 10 * MIN_MS, 5 * MIN_MS, &err), err);
    const char *keys[] = {"window", "word"};
    return ok(em_df_group_by_count(windowed, keys, 2, &err), err);
}

/* The programming guide's late-data example, one trigger per string. */
static const char *const guide[] = {
    "2026-01-01 12:07:00,dog\n2026-01-01 12:08:00,owl",
    "2026-01-01 12:14:00,dog\n2026-01-01 12:09:00,cat",
    "2026-01-01 12:15:00,cat\n2026-01-01 12:08:00,dog\n2026-01-01 12:13:00,owl\n"
    "2026-01-01 12:21:00,owl",
    "2026-01-01 12:17:00,owl\n2026-01-01 12:04:00,donkey",
};

typedef struct {
    char *console;
    char **progress; /* recentProgress */
} run_result;

static run_result run_query(const char *const *batches, size_t n, int triggers,
                            em_output_mode mode, em_duration delay)
{
    query_fixture fx;
    query_fixture_init(&fx, batches, n);
    g_autoptr(em_df) counts = windowed_counts(fx.lines, delay);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = mode,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, triggers);
    run_result r = {.console = rows_sorted(fx.console), .progress = em_query_recent_progress(q)};
    em_query_stop(q);
    query_fixture_fini(&fx);
    return r;
}

static void run_result_clear(run_result *r)
{
    g_free(r->console);
    g_strfreev(r->progress);
}

#define BANNER(n)                                                                                 \
    "-------------------------------------------\nBatch: " #n "\n"                                \
    "-------------------------------------------\n"
#define HEAD                                                                                      \
    "+------------------------------------------+----+-----+\n"                                   \
    "|window                                    |word|count|\n"                                   \
    "+------------------------------------------+----+-----+\n"
#define FOOT "+------------------------------------------+----+-----+\n\n"
#define HEAD6                                                                                     \
    "+------------------------------------------+------+-----+\n"                                 \
    "|window                                    |word  |count|\n"                                 \
    "+------------------------------------------+------+-----+\n"
#define FOOT6 "+------------------------------------------+------+-----+\n\n"
#define EMPTY                                                                                     \
    "+------+----+-----+\n|window|word|count|\n+------+----+-----+\n+------+----+-----+\n\n"
#define W(a, b) "|{2026-01-01 " a ":00, 2026-01-01 " b ":00}|"

/* PySpark 3.5.9's update-mode output for the guide's input (rows sorted per batch). Batch 3:
 * (12:04, donkey) is not late for Spark 3.5: late rows are judged by the previous batch's
 * watermark (12:04), and its windows end at 12:05 and 12:10. */
Test(eventtime, guide_update_mode_writes_changed_windows_as_spark)
{
    run_result r = run_query(guide, 4, 4, EM_OUTPUT_UPDATE, 10 * MIN_MS);
    cr_assert_str_eq(
        r.console,
        BANNER(0) HEAD W("12:00", "12:10") "dog |1    |\n" W("12:00", "12:10") "owl |1    |\n" W(
            "12:05", "12:15") "dog |1    |\n" W("12:05", "12:15") "owl |1    |\n" FOOT BANNER(1)
            HEAD W("12:00", "12:10") "cat |1    |\n" W("12:05", "12:15") "cat |1    |\n" W(
                "12:05", "12:15") "dog |2    |\n" W("12:10",
                                                    "12:20") "dog |1    |\n" FOOT BANNER(2) HEAD
                W("12:00", "12:10") "dog |2    |\n" W("12:05", "12:15") "dog |3    |\n" W("12:05", "12:15") "owl |2    |\n" W("12:10", "12:20") "cat |1    |\n" W(
                    "12:10", "12:20") "owl |1    |\n" W("12:15",
                                                        "12:25") "cat |1    |\n" W("12:15", "12:"
                                                                                            "25") "owl |1    |\n" W("12:20",
                                                                                                                    "12:30") "owl |1    |\n" FOOT
                    BANNER(3) HEAD6 W("11:55", "12:05") "donkey|1    |\n" W(
                        "12:00",
                        "12:10") "donkey|1    |\n" W("12:10",
                                                     "12:20") "owl   |2    |\n" W("12:15",
                                                                                  "12:25") "owl   "
                                                                                           "|2    "
                                                                                           "|"
                                                                                           "\n" FOOT6);
    run_result_clear(&r);
}

/* Append mode writes a window once, when the watermark (12:11 in batch 3) passes its end. */
Test(eventtime, guide_append_mode_writes_windows_once_the_watermark_passes)
{
    run_result r = run_query(guide, 4, 4, EM_OUTPUT_APPEND, 10 * MIN_MS);
    cr_assert_str_eq(
        r.console,
        BANNER(0) EMPTY BANNER(1) EMPTY BANNER(2) EMPTY BANNER(3)
            HEAD6 W("11:55", "12:05") "donkey|1    |\n" W("12:00", "12:10") "cat   |1    |\n" W(
                "12:00",
                "12:10") "dog   |2    |\n" W("12:00",
                                             "12:10") "donkey|1    |\n" W("12:00",
                                                                          "12:10") "owl   |1    "
                                                                                   "|\n" FOOT6);
    run_result_clear(&r);
}

Test(eventtime, guide_complete_mode_keeps_every_window)
{
    run_result r = run_query(guide, 4, 4, EM_OUTPUT_COMPLETE, 10 * MIN_MS);
    g_autofree char *last = g_strdup(strstr(r.console, BANNER(3)));
    cr_assert_str_eq(
        last,
        BANNER(3) HEAD6 W("11:55", "12:05") "donkey|1    |\n" W("12:00", "12:10") "cat   |1    "
                                                                                  "|\n" W("12:00", "12:10") "dog   |2    |\n" W(
                                                                                      "12:00",
                                                                                      "12:10") "do"
                                                                                               "nk"
                                                                                               "ey"
                                                                                               "|1"
                                                                                               "  "
                                                                                               "  "
                                                                                               "|"
                                                                                               "\n" W("12:00",
                                                                                                      "12:10") "owl   |1    |\n" W("12:05",
                                                                                                                                   "12:15") "cat   |1    |\n" W("12:05", "12:15") "dog   |3    |\n" W("12:05", "12:15") "owl   |2    |\n" W("12:10", "12:20") "cat   |1    |\n" W("12:10", "12:20") "dog   |1    |\n" W("12:10", "12:20") "owl   |2    |\n" W("12:15", "12:25") "cat   |1    |\n" W("12:15",
                                                                                                                                                                                                                                                                                                                                                                                                    "12:25") "owl   |2    |\n" W("12:20",
                                                                                                                                                                                                                                                                                                                                                                                                                                 "12:30") "owl   |1    |\n" FOOT6);
    run_result_clear(&r);
}

static JsonObject *progress_at(JsonParser *parser, char **progress, size_t i)
{
    cr_assert(i < g_strv_length(progress));
    cr_assert(json_parser_load_from_data(parser, progress[i], -1, NULL), "%s", progress[i]);
    return json_node_get_object(json_parser_get_root(parser));
}

static const char *event_time(JsonObject *p, const char *name)
{
    JsonObject *et = json_object_get_object_member(p, "eventTime");
    cr_assert_not_null(et);
    return json_object_has_member(et, name) ? json_object_get_string_member(et, name) : NULL;
}

static int64_t state_figure(JsonObject *p, const char *name)
{
    JsonObject *op =
        json_array_get_object_element(json_object_get_array_member(p, "stateOperators"), 0);
    return json_object_get_int_member(op, name);
}

/* The figures PySpark 3.5.9 reported for the guide's update-mode run. */
Test(eventtime, progress_event_time_block_and_state_figures_as_spark)
{
    run_result r = run_query(guide, 4, 4, EM_OUTPUT_UPDATE, 10 * MIN_MS);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *p = progress_at(parser, r.progress, 0);
    cr_assert_str_eq(event_time(p, "avg"), "2026-01-01T12:07:30.000Z");
    cr_assert_str_eq(event_time(p, "max"), "2026-01-01T12:08:00.000Z");
    cr_assert_str_eq(event_time(p, "min"), "2026-01-01T12:07:00.000Z");
    cr_assert_str_eq(event_time(p, "watermark"), "1970-01-01T00:00:00.000Z");
    cr_assert_eq(state_figure(p, "numRowsTotal"), 4);
    p = progress_at(parser, r.progress, 1);
    cr_assert_str_eq(event_time(p, "avg"), "2026-01-01T12:11:30.000Z");
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T11:58:00.000Z");
    cr_assert_eq(state_figure(p, "numRowsTotal"), 7);
    cr_assert_eq(state_figure(p, "numRowsUpdated"), 4);
    p = progress_at(parser, r.progress, 2);
    cr_assert_str_eq(event_time(p, "avg"), "2026-01-01T12:14:15.000Z");
    cr_assert_str_eq(event_time(p, "max"), "2026-01-01T12:21:00.000Z");
    cr_assert_str_eq(event_time(p, "min"), "2026-01-01T12:08:00.000Z");
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T12:04:00.000Z");
    cr_assert_eq(state_figure(p, "numRowsTotal"), 12);
    cr_assert_eq(state_figure(p, "numRowsUpdated"), 8);
    p = progress_at(parser, r.progress, 3);
    cr_assert_str_eq(event_time(p, "avg"), "2026-01-01T12:10:30.000Z");
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T12:11:00.000Z");
    cr_assert_eq(state_figure(p, "numRowsTotal"), 9);
    cr_assert_eq(state_figure(p, "numRowsUpdated"), 4);
    cr_assert_eq(state_figure(p, "numRowsRemoved"), 5);
    cr_assert_eq(state_figure(p, "numRowsDroppedByWatermark"), 0);
    /* the eventTime block sits between durationMs and stateOperators, keys sorted */
    const char *json = r.progress[3];
    const char *d = strstr(json, "\"durationMs\""), *e = strstr(json, "\"eventTime\""),
               *s = strstr(json, "\"stateOperators\"");
    cr_assert(d && e && s && d < e && e < s, "%s", json);
    cr_assert(strstr(json, "\"avg\"") < strstr(json, "\"max\"") &&
              strstr(json, "\"max\"") < strstr(json, "\"min\"") &&
              strstr(json, "\"min\"") < strstr(json, "\"watermark\""));
    run_result_clear(&r);
}

/* Batch 1's watermark is 12:10 (12:20 - 10 min), batch 2's late watermark: a row whose
 * windows all end by 12:10 is dropped and counted, once per group (Spark counts the groups of
 * the batch, after its partial aggregation); one with a later window keeps that one. */
Test(eventtime, late_rows_are_dropped_and_counted)
{
    const char *const batches[] = {
        "2026-01-01 12:20:00,a",
        "2026-01-01 12:21:00,a",
        "2026-01-01 12:01:00,late\n2026-01-01 12:02:00,late\n2026-01-01 12:03:00,other\n"
        "2026-01-01 12:07:00,edge",
    };
    run_result r = run_query(batches, 3, 3, EM_OUTPUT_UPDATE, 10 * MIN_MS);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *p = progress_at(parser, r.progress, 2);
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T12:11:00.000Z");
    /* late: (11:55-12:05, late), (12:00-12:10, late), the same two for other, and
     * (12:00-12:10, edge): 5 groups; (12:05-12:15, edge) is kept (12:15 > 12:10) */
    cr_assert_eq(state_figure(p, "numRowsDroppedByWatermark"), 5);
    cr_assert_eq(state_figure(p, "numRowsUpdated"), 1);
    const char *b2 = strstr(r.console, BANNER(2));
    cr_assert_not_null(b2);
    cr_assert_str_eq(b2, BANNER(2) HEAD W("12:05", "12:15") "edge|1    |\n" FOOT);
    run_result_clear(&r);
}
