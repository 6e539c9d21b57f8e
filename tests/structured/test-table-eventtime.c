/* Event time on Ember's DataFrames: window() boundaries as Spark's TimeWindow, withWatermark()
 * with Spark 3.5's rules (late rows judged by the previous batch's watermark, groups evicted by
 * the current one, a batch without data when the watermark moves), the programming guide's
 * windowed word count in update, append and complete modes (each trigger's rows as PySpark 3.5
 * printed them for the same input), the progress's eventTime block, and a property test of
 * append mode against a batch computation. */
#include "query-fixture.h"

#include <glib/gstdio.h>
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
                    "12:10",
                    "12:20") "owl |1    |\n" W("12:15",
                                               "12:25") "cat |1    |\n" W("12:15",
                                                                          "12:"
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
        BANNER(3) HEAD6 W("11:55", "12:05") "donkey|1    |\n" W(
            "12:00",
            "12:10") "cat   |1    "
                     "|\n" W("12:00", "12:10") "dog   |2    |\n" W(
                         "12:00",
                         "12:10") "do"
                                  "nk"
                                  "ey"
                                  "|1"
                                  "  "
                                  "  "
                                  "|"
                                  "\n" W("12:00", "12:10") "owl   |1    |\n" W(
                                      "12:05",
                                      "12:"
                                      "15") "cat   |1    |\n" W("12:05",
                                                                "12:15") "dog   |3    "
                                                                         "|\n" W(
                                                                             "12:05",
                                                                             "12:"
                                                                             "15") "owl   |2    "
                                                                                   "|\n" W("12:10", "12:20") "cat   |1    |\n" W(
                                                                                       "12:10",
                                                                                       "12:20") "d"
                                                                                                "o"
                                                                                                "g"
                                                                                                " "
                                                                                                " "
                                                                                                " "
                                                                                                "|"
                                                                                                "1"
                                                                                                " "
                                                                                                " "
                                                                                                " "
                                                                                                " "
                                                                                                "|"
                                                                                                "\n" W("12:10", "12:20") "owl   |2    |\n" W("12:15", "12:25") "cat   |1    |\n" W(
                                                                                                    "12:"
                                                                                                    "15",
                                                                                                    "12:"
                                                                                                    "25") "owl   |2    |\n" W("12:20",
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

/* ---- window() on a static table ---- */

static em_context *static_sc(void) { return em_context_new("local[2]", "test-eventtime", NULL); }

/* Spark 3.5: tumbling windows hold start <= ts < end; sliding ones give a row per window, the
 * latest start first; before the epoch the boundaries still align (floor, not truncation). */
Test(eventtime, window_boundaries_as_spark_time_window)
{
    em_context *sc = static_sc();
    g_autoptr(em_df) df = df_of(sc, "ts timestamp, v long",
                                "2026-01-01 12:10:00,1\n2026-01-01 12:09:59.999999,2\n"
                                "1969-12-31 23:58:00,3\n,4");
    GError *err = NULL;
    g_autoptr(em_df) tumbling = ok(em_df_window(df, "ts", 10 * MIN_MS, 10 * MIN_MS, &err), err);
    g_autofree char *t = shown(tumbling, 20, 0);
    cr_assert_str_eq(
        t, "+--------------------------+---+------------------------------------------+\n"
           "|ts                        |v  |window                                    |\n"
           "+--------------------------+---+------------------------------------------+\n"
           "|2026-01-01 12:10:00       |1  |{2026-01-01 12:10:00, 2026-01-01 12:20:00}|\n"
           "|2026-01-01 12:09:59.999999|2  |{2026-01-01 12:00:00, 2026-01-01 12:10:00}|\n"
           "|1969-12-31 23:58:00       |3  |{1969-12-31 23:50:00, 1970-01-01 00:00:00}|\n"
           "+--------------------------+---+------------------------------------------+\n\n");
    g_autoptr(em_df) sliding =
        ok(em_df_window_full(df, "ts", 10 * MIN_MS, 5 * MIN_MS, 2 * MIN_MS, "w", &err), err);
    const char *cols[] = {"v", "w"};
    g_autoptr(em_df) picked = ok(em_df_select(sliding, cols, 2, &err), err);
    g_autofree char *s = shown(picked, 20, 0);
    cr_assert_str_eq(s, "+---+------------------------------------------+\n"
                        "|v  |w                                         |\n"
                        "+---+------------------------------------------+\n"
                        "|1  |{2026-01-01 12:07:00, 2026-01-01 12:17:00}|\n"
                        "|1  |{2026-01-01 12:02:00, 2026-01-01 12:12:00}|\n"
                        "|2  |{2026-01-01 12:07:00, 2026-01-01 12:17:00}|\n"
                        "|2  |{2026-01-01 12:02:00, 2026-01-01 12:12:00}|\n"
                        "|3  |{1969-12-31 23:57:00, 1970-01-01 00:07:00}|\n"
                        "|3  |{1969-12-31 23:52:00, 1970-01-01 00:02:00}|\n"
                        "+---+------------------------------------------+\n\n");
    em_context_free(sc);
}

Test(eventtime, window_and_watermark_reject_bad_arguments)
{
    em_context *sc = static_sc();
    g_autoptr(em_df) df = df_of(sc, "ts timestamp, v long", "2026-01-01 12:10:00,1");
    GError *err = NULL;
    cr_assert_null(em_df_window(df, "ts", 5 * MIN_MS, 10 * MIN_MS, &err));
    cr_assert_str_eq(err->message, "The slide duration (600000 ms) must be less than or equal to "
                                   "the windowDuration (300000 ms).");
    g_clear_error(&err);
    cr_assert_null(em_df_window(df, "ts", 0, 0, &err));
    cr_assert_str_eq(err->message, "The window duration (0 ms) must be greater than 0.");
    g_clear_error(&err);
    cr_assert_null(em_df_window_full(df, "ts", 10, 5, 5, NULL, &err));
    cr_assert(strstr(err->message, "start time (5 ms)"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_null(em_df_window(df, "v", 10, 5, &err));
    cr_assert_str_eq(err->message, "window(v) needs a timestamp column: `v` is bigint");
    g_clear_error(&err);
    cr_assert_null(em_df_window(df, "nope", 10, 5, &err));
    cr_assert(strstr(err->message, "`nope` cannot be resolved"), "%s", err->message);
    g_clear_error(&err);
    /* a static table has no batches to watermark */
    cr_assert_null(em_df_with_watermark(df, "ts", 1000, &err));
    cr_assert(strstr(err->message, "needs a streaming DataFrame"), "%s", err->message);
    g_clear_error(&err);
    em_context_free(sc);
}

Test(eventtime, watermark_rejects_a_non_timestamp_column_and_negative_delay)
{
    const char *const batches[] = {"2026-01-01 12:00:00,a"};
    query_fixture fx;
    query_fixture_init(&fx, batches, 1);
    g_autoptr(em_df) events = events_of(fx.lines);
    GError *err = NULL;
    cr_assert_null(em_df_with_watermark(events, "word", 1000, &err));
    cr_assert_str_eq(err->message,
                     "Event time must be defined on a window or a timestamp, but word is of type "
                     "string");
    g_clear_error(&err);
    cr_assert_null(em_df_with_watermark(events, "timestamp", -1, &err));
    cr_assert_str_eq(err->message, "The delay threshold (-1 ms) should not be negative.");
    g_clear_error(&err);
    /* append mode on an aggregation needs the watermark on a group column */
    const char *by[] = {"word"};
    g_autoptr(em_df) marked = ok(em_df_with_watermark(events, "timestamp", 1000, &err), err);
    g_autoptr(em_df) counts = ok(em_df_group_by_count(marked, by, 1, &err), err);
    cr_assert_null(
        em_query_start(counts, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert(strstr(err->message, "Append output mode not supported"), "%s", err->message);
    g_clear_error(&err);
    query_fixture_fini(&fx);
}

/* After the guide's batches a row at 12:40 moves the watermark to 12:30: the next trigger
 * has no data but runs a batch (Spark's no-data batch) that writes the windows ending by then;
 * the trigger after it runs none. */
Test(eventtime, a_moved_watermark_runs_a_batch_without_data)
{
    const char *const batches[] =
        {guide[0], guide[1], guide[2], guide[3], "2026-01-01 12:40:00,late-comer", NULL, NULL};
    run_result r = run_query(batches, 7, 7, EM_OUTPUT_APPEND, 10 * MIN_MS);
    cr_assert_eq(g_strv_length(r.progress), 6);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *p = progress_at(parser, r.progress, 5);
    cr_assert_eq(json_object_get_int_member(p, "batchId"), 5);
    cr_assert_eq(json_object_get_int_member(p, "numInputRows"), 0);
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T12:30:00.000Z");
    cr_assert_null(event_time(p, "max"));             /* no rows, no event times */
    cr_assert_eq(state_figure(p, "numRowsTotal"), 2); /* late-comer's two windows */
    const char *b5 = strstr(r.console, BANNER(5));
    cr_assert_not_null(b5);
    cr_assert_str_eq(
        b5,
        BANNER(5) HEAD W("12:05", "12:15") "cat |1    |\n" W("12:05", "12:15") "dog |3    |\n" W(
            "12:05",
            "12"
            ":1"
            "5") "owl |2    |\n" W("12:10",
                                   "12:20") "cat |1    |\n" W("12:10",
                                                              "12:20") "dog |1    |\n" W("12:10",
                                                                                         "12:20") "owl |2    |\n" W("12:15",
                                                                                                                    "12:25") "cat |1    |\n" W("12:15",
                                                                                                                                               "12:25") "owl |2    |\n" W("12:20",
                                                                                                                                                                          "12:30") "owl |1    |\n" FOOT);
    run_result_clear(&r);
}

/* ---- Property: append mode against a batch computation ---- */

#define BASE_S 1767225600 /* 2026-01-01 00:00:00 UTC */
#define LEN_MIN 10
#define SLIDE_MIN 5
#define DELAY_MIN 10

typedef struct {
    GHashTable *expected; /* "start_min word" -> count, on-time rows only */
    int64_t dropped[16];  /* per batch: late groups */
} model;

static void count_windows(GHashTable *into, int64_t ts_min, const char *word)
{
    int64_t last = ts_min - (((ts_min % SLIDE_MIN) + SLIDE_MIN) % SLIDE_MIN);
    for (int i = 0; i < LEN_MIN / SLIDE_MIN; i++) {
        int64_t start = last - i * SLIDE_MIN;
        char *k = g_strdup_printf("%" G_GINT64_FORMAT " %s", (gint64)start, word);
        gpointer old = g_hash_table_lookup(into, k);
        g_hash_table_insert(into, k, GINT_TO_POINTER(GPOINTER_TO_INT(old) + 1));
    }
}

static char *format_ts(int64_t minutes)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(BASE_S + minutes * 60);
    return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

/* Batches of rows, mostly out of order within the delay, some (late) wholly behind the
 * previous batch's watermark; the last batch a row far ahead, then a trigger without data to
 * flush the windows. Fills m with what a batch computation and Spark's rules give. */
static char **make_stream(guint32 seed, size_t n_batches, model *m)
{
    GRand *rand = g_rand_new_with_seed(seed);
    static const char *const words[] = {"a", "b", "c"};
    char **batches = g_new0(char *, n_batches + 3);
    /* minutes since BASE_S; late_wm: the previous batch's watermark, wm: this batch's */
    int64_t max_min = 60, late_wm = 0, wm = 0;
    for (size_t b = 0; b < n_batches; b++) {
        GString *text = g_string_new(NULL);
        GHashTable *late = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        int64_t batch_max = max_min;
        int rows = g_rand_int_range(rand, 1, 6);
        for (int r = 0; r < rows; r++) {
            const char *word = words[g_rand_int_range(rand, 0, 3)];
            bool is_late = late_wm - LEN_MIN > 0 && g_rand_int_range(rand, 0, 5) == 0;
            int64_t ts;
            if (is_late) /* every window of ts ends at or before late_wm */
                ts = late_wm - LEN_MIN - g_rand_int_range(rand, 0, 20);
            else /* ahead, or behind the largest event time seen by less than the delay */
                ts = max_min - DELAY_MIN + 1 + g_rand_int_range(rand, 0, DELAY_MIN + 8);
            g_autofree char *s = format_ts(ts);
            g_string_append_printf(text, "%s%s,%s", r ? "\n" : "", s, word);
            if (is_late)
                count_windows(late, ts, word);
            else
                count_windows(m->expected, ts, word);
            batch_max = MAX(batch_max, ts);
        }
        m->dropped[b] = g_hash_table_size(late);
        g_hash_table_destroy(late);
        batches[b] = g_string_free(text, FALSE);
        /* the next batch's watermark: the largest event time seen minus the delay */
        max_min = batch_max;
        late_wm = wm;
        wm = MAX(wm, max_min - DELAY_MIN);
    }
    g_autofree char *far = format_ts(max_min + 1000);
    batches[n_batches] = g_strdup_printf("%s,flush", far);
    g_rand_free(rand);
    return batches;
}

Test(eventtime, append_mode_equals_a_batch_computation_and_counts_late_rows)
{
    for (guint32 seed = 1; seed <= 4; seed++) {
        enum { N = 8 };
        model m = {.expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
        g_auto(GStrv) batches = make_stream(seed, N, &m);
        query_fixture fx;
        /* N batches, the flush row, then one trigger without data */
        query_fixture_init(&fx, (const char *const *)batches, N + 2);
        g_autoptr(em_df) counts = windowed_counts(fx.lines, DELAY_MIN * MIN_MS);
        GError *err = NULL;
        g_autoptr(em_query) q =
            em_query_start(counts,
                           &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                           &err);
        cr_assert_not_null(q, "%s", err ? err->message : "");
        query_fixture_run(&fx, N + 2);
        g_autoptr(em_values) rows = em_query_memory_rows(q);
        GHashTable *got = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (size_t i = 0; i < rows->n; i++) {
            em_value w = em_row_get(rows->items[i], 0);
            int64_t start_min = (em_row_get(w, 0).as.i / 1000000 - BASE_S) / 60;
            em_value word = em_row_get(rows->items[i], 1);
            char *k = g_strdup_printf("%" G_GINT64_FORMAT " %.*s", (gint64)start_min,
                                      (int)word.len, word.as.s);
            cr_assert_null(g_hash_table_lookup(got, k), "seed %u: %s written twice", seed, k);
            g_hash_table_insert(got, k, GINT_TO_POINTER((int)em_row_get(rows->items[i], 2).as.i));
        }
        cr_assert_eq(g_hash_table_size(got), g_hash_table_size(m.expected),
                     "seed %u: %u windows written, %u expected", seed, g_hash_table_size(got),
                     g_hash_table_size(m.expected));
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, m.expected);
        while (g_hash_table_iter_next(&it, &k, &v))
            cr_assert_eq(g_hash_table_lookup(got, k), v, "seed %u: window %s: %d, expected %d",
                         seed, (char *)k, GPOINTER_TO_INT(g_hash_table_lookup(got, k)),
                         GPOINTER_TO_INT(v));
        g_auto(GStrv) progress = em_query_recent_progress(q);
        cr_assert_eq(g_strv_length(progress), N + 2, "seed %u", seed);
        g_autoptr(JsonParser) parser = json_parser_new();
        for (size_t b = 0; b < N; b++) {
            JsonObject *p = progress_at(parser, progress, b);
            cr_assert_eq(state_figure(p, "numRowsDroppedByWatermark"), m.dropped[b],
                         "seed %u batch %zu", seed, b);
        }
        /* the flush row's windows stay: state is bounded by the watermark */
        JsonObject *last = progress_at(parser, progress, N + 1);
        cr_assert_eq(state_figure(last, "numRowsTotal"), 2, "seed %u", seed);
        em_query_stop(q);
        query_fixture_fini(&fx);
        g_hash_table_destroy(got);
        g_hash_table_destroy(m.expected);
    }
}

/* ---- session_window ---- */

static const char *const sessions_in[] = {
    "2026-01-01 10:00:00,a\n2026-01-01 10:00:05,a\n2026-01-01 10:00:03,b",
    "2026-01-01 10:00:14,a\n2026-01-01 10:00:30,b\n2026-01-01 10:00:20,a",
    "2026-01-01 10:00:26,a\n2026-01-01 10:00:50,c",
};

/* groupBy(session_window(ts, 10 s), word).count(), watermarked when delay >= 0. */
static em_df *session_counts(const em_df *lines, em_duration delay)
{
    GError *err = NULL;
    g_autoptr(em_df) events = events_of(lines);
    g_autoptr(em_df) marked =
        delay >= 0 ? ok(em_df_with_watermark(events, "timestamp", delay, &err), err) : NULL;
    g_autoptr(em_df) sessions =
        ok(em_df_session_window(marked ? marked : events, "timestamp", 10 * 1000, "session", &err),
           err);
    const char *keys[] = {"session", "word"};
    return ok(em_df_group_by_count(sessions, keys, 2, &err), err);
}

static char *session_console(em_output_mode mode, em_duration delay, int triggers)
{
    query_fixture fx;
    query_fixture_init(&fx, sessions_in, G_N_ELEMENTS(sessions_in));
    g_autoptr(em_df) counts = session_counts(fx.lines, delay);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = mode,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, triggers);
    char *text = rows_sorted(fx.console);
    em_query_stop(q);
    query_fixture_fini(&fx);
    return text;
}

#define SHEAD                                                                                     \
    "+------------------------------------------+----+-----+\n"                                   \
    "|session                                   |word|count|\n"                                   \
    "+------------------------------------------+----+-----+\n"
#define EMPTY_S                                                                                   \
    "+-------+----+-----+\n|session|word|count|\n+-------+----+-----+\n+-------+----+-----+\n\n"
#define S(a, b) "|{2026-01-01 10:00:" a ", 2026-01-01 10:00:" b "}|"

/* Sessions merge when one starts at or before another's end, across batches: a's events at
 * :00 :05 :14 :20 :26 make one session [:00, :36); b's at :03 and :30 two. */
Test(eventtime, session_windows_merge_across_batches_in_complete_mode)
{
    g_autofree char *text = session_console(EM_OUTPUT_COMPLETE, -1, 3);
    cr_assert_str_eq(
        text,
        BANNER(0) SHEAD S("00", "15") "a   |2    |\n" S("03", "13") "b   |1    |\n" FOOT BANNER(1)
            SHEAD S("00",
                    "30") "a   |4    |\n" S("03",
                                            "13") "b   |1    |\n" S("30",
                                                                    "40") "b   |1    |\n" FOOT
                BANNER(2) SHEAD S("00", "36") "a   |5    |\n" S("03", "13") "b   |1    |\n" S(
                    "30", "40") "b   |1    |\n"
                                "|{2026-01-01 10:00:50, 2026-01-01 10:01:00}|c   |1    |\n" FOOT);
}

/* With a 10 s watermark, batch 2's is 10:00:20: b's first session (ended :13) is written, the
 * others stay open; the watermark then moves to 10:00:40 (:50 - 10 s), so the trigger without
 * data runs a batch that writes the sessions ended by then. */
Test(eventtime, session_windows_are_written_once_the_watermark_passes_their_end)
{
    g_autofree char *text = session_console(EM_OUTPUT_APPEND, 10 * 1000, 4);
    cr_assert_str_eq(text,
                     BANNER(0) EMPTY_S BANNER(1) EMPTY_S BANNER(
                         2) SHEAD S("03", "13") "b   |1    |\n" FOOT BANNER(3)
                         SHEAD S("00", "36") "a   |5    |\n" S("30", "40") "b   |1    |\n" FOOT);
}

Test(eventtime, session_windows_refuse_update_mode_and_append_without_watermark)
{
    query_fixture fx;
    query_fixture_init(&fx, sessions_in, 1);
    GError *err = NULL;
    g_autoptr(em_df) counts = session_counts(fx.lines, -1);
    cr_assert_null(
        em_query_start(counts, &(em_query_opts){.mode = EM_OUTPUT_UPDATE, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert_str_eq(err->message, "Update output mode not supported for session window on "
                                   "streaming DataFrames/DataSets;");
    g_clear_error(&err);
    cr_assert_null(
        em_query_start(counts, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert(strstr(err->message, "without watermark"), "%s", err->message);
    g_clear_error(&err);
    query_fixture_fini(&fx);
}

/* select and filter after a watermarked aggregation apply to the rows it writes. */
Test(eventtime, operations_after_the_aggregation_apply_to_its_rows)
{
    query_fixture fx;
    query_fixture_init(&fx, guide, 4);
    g_autoptr(em_df) counts = windowed_counts(fx.lines, 10 * MIN_MS);
    GError *err = NULL;
    g_autoptr(em_df) many = ok(em_df_filter_cmp(counts, "count", EM_CMP_GE, em_int(2), &err), err);
    const char *cols[] = {"word", "count"};
    g_autoptr(em_df) picked = ok(em_df_select(many, cols, 2, &err), err);
    g_autoptr(em_query) q =
        em_query_start(picked, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 4);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    g_autofree char *text = em_values_to_string(rows);
    /* append mode's batch 3 wrote (12:00-12:10, dog, 2) and four windows counted once */
    cr_assert_str_eq(text, "[(dog,2)]");
    em_query_stop(q);
    query_fixture_fini(&fx);
}

/* ---- dropDuplicates ---- */

/* dropDuplicates("word", "timestamp") with a 10 minute watermark: a repeat is written once;
 * rows at or before the previous batch's watermark are dropped and counted; keys the watermark
 * passed are forgotten (state bounded). */
Test(eventtime, drop_duplicates_within_the_watermark)
{
    const char *const batches[] = {
        "2026-01-01 12:00:00,a\n2026-01-01 12:00:00,a\n2026-01-01 12:01:00,a",
        "2026-01-01 12:00:00,a\n2026-01-01 12:20:00,b",
        "2026-01-01 12:30:00,c",
        /* watermark 12:10 judges late rows here, 12:20 evicts */
        "2026-01-01 12:05:00,a\n2026-01-01 12:20:00,b\n2026-01-01 12:31:00,c",
    };
    query_fixture fx;
    query_fixture_init(&fx, batches, 4);
    GError *err = NULL;
    g_autoptr(em_df) events = events_of(fx.lines);
    g_autoptr(em_df) marked =
        ok(em_df_with_watermark(events, "timestamp", 10 * MIN_MS, &err), err);
    const char *cols[] = {"word", "timestamp"};
    g_autoptr(em_df) unique = ok(em_df_drop_duplicates(marked, cols, 2, &err), err);
    cr_assert_null(
        em_query_start(unique,
                       &(em_query_opts){.mode = EM_OUTPUT_COMPLETE, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert(strstr(err->message, "Complete output mode not supported"), "%s", err->message);
    g_clear_error(&err);
    g_autoptr(em_query) q =
        em_query_start(unique, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 4);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    cr_assert_eq(rows->n, 5);
    const char *want[][2] = {{"12:00:00", "a"},
                             {"12:01:00", "a"},
                             {"12:20:00", "b"},
                             {"12:30:00", "c"},
                             {"12:31:00", "c"}};
    for (size_t i = 0; i < rows->n; i++) {
        g_autofree char *iso = g_strdup_printf("2026-01-01T%sZ", want[i][0]);
        g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);
        cr_assert_eq(em_row_get(rows->items[i], 0).as.i, g_date_time_to_unix(dt) * 1000000,
                     "row %zu", i);
        em_value word = em_row_get(rows->items[i], 1);
        cr_assert(word.len == 1 && word.as.s[0] == want[i][1][0], "row %zu", i);
    }
    g_auto(GStrv) progress = em_query_recent_progress(q);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *p = progress_at(parser, progress, 3);
    cr_assert_str_eq(event_time(p, "watermark"), "2026-01-01T12:20:00.000Z");
    JsonObject *op =
        json_array_get_object_element(json_object_get_array_member(p, "stateOperators"), 0);
    cr_assert_str_eq(json_object_get_string_member(op, "operatorName"), "dedupe");
    /* (12:05, a) is at or before 12:10: dropped; (12:20, b) is a repeat */
    cr_assert_eq(state_figure(p, "numRowsDroppedByWatermark"), 1);
    cr_assert_eq(state_figure(p, "numRowsUpdated"), 1);
    /* 12:00 a and 12:01 a went in batch 2 (watermark 12:10), 12:20 b now; the c's stay */
    cr_assert_eq(state_figure(p, "numRowsRemoved"), 1);
    cr_assert_eq(state_figure(p, "numRowsTotal"), 2);
    em_query_stop(q);
    query_fixture_fini(&fx);
}
