/* Stream-stream joins (em_df_join, Spark's StreamingSymmetricHashJoinExec): the guide's
 * impressions and clicks, inner and left outer, with the exact rows each trigger writes and the
 * join's state figures; right outer; the state bounded over a long run; the errors. */
#include "join-fixture.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define D "2026-01-01 "
#define GUIDE_CONDITION                                                                           \
    "clickAdId = adId AND clickTime >= impressionTime AND "                                       \
    "clickTime <= impressionTime + interval 1 hour"

/* Four batches of each side: matches within a batch, a left row matching a click buffered
 * before it (ad 10), impressions never clicked (3, 9, 12 at 10:30: a state watermark boundary),
 * a click out of range (3), a null
 * key, a late row on each side in the last batch and a pair (ad 11) that arrives after the
 * state watermark passed it: the impression is buffered for the batch (Spark 3.5), the click
 * meets it, and both leave at the batch's end. */
static const char *const impressions[] = {
    "1," D "10:00:00\n2," D "10:05:00\n3," D "10:10:00",
    "4," D "11:00:00\n9," D "11:05:00\n12," D "10:30:00",
    "5," D "14:00:00\n10," D "10:15:00\n," D "11:00:00",
    "6," D "15:00:00\n7," D "07:00:00\n11," D "10:20:00",
};
static const char *const clicks[] = {
    "1," D "10:20:00",
    "2," D "10:50:00\n3," D "11:30:00\n4," D "11:30:00\n10," D "10:30:00",
    "5," D "14:30:00",
    "6," D "15:10:00\n8," D "08:00:00\n11," D "10:25:00",
};

typedef struct {
    char *console;
    char **progress;
} run_result;

static run_result run_guide(em_join_type type, const char *condition)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, G_N_ELEMENTS(impressions));
    g_autoptr(em_df) left = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) right = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined = ok(em_df_join(left, right, condition, type, &err), err);
    g_autoptr(em_query) q = em_query_start(joined,
                                           &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    join_fixture_run(&fx, (int)G_N_ELEMENTS(impressions) + 2);
    run_result r = {.console = g_strdup(fx.console), .progress = em_query_recent_progress(q)};
    join_fixture_fini(&fx);
    return r;
}

static void run_result_clear(run_result *r)
{
    g_free(r->console);
    g_strfreev(r->progress);
}

#define BANNER(n)                                                                                 \
    "-------------------------------------------\n"                                               \
    "Batch: " #n "\n"                                                                             \
    "-------------------------------------------\n"
#define HEAD                                                                                      \
    "+----+-------------------+---------+-------------------+\n"                                  \
    "|adId|impressionTime     |clickAdId|clickTime          |\n"                                  \
    "+----+-------------------+---------+-------------------+\n"
#define FOOT "+----+-------------------+---------+-------------------+\n\n"
#define ROW(ad, imp, click, ct) "|" ad "|" D imp "|" click "|" D ct "|\n"

/* Batches 0 to 3 of the inner join, which the outer joins write too. */
#define MATCHES_0_TO_2                                                                            \
    BANNER(0)                                                                                     \
    HEAD ROW("1   ", "10:00:00", "1        ", "10:20:00") FOOT BANNER(1)                          \
        HEAD ROW("2   ", "10:05:00", "2        ", "10:50:00")                                     \
            ROW("4   ", "11:00:00", "4        ", "11:30:00") FOOT BANNER(2)                       \
                HEAD ROW("5   ", "14:00:00", "5        ", "14:30:00")                             \
                    ROW("10  ", "10:15:00", "10       ", "10:30:00") FOOT

/* Batch 3's matches: ad 11's pair meets although the state watermark passed both. */
#define MATCHES_3                                                                                 \
    ROW("6   ", "15:00:00", "6        ", "15:10:00")                                              \
    ROW("11  ", "10:20:00", "11       ", "10:25:00")

Test(stream_join, guide_inner_join_writes_each_match_once_per_trigger)
{
    run_result r = run_guide(EM_JOIN_INNER, GUIDE_CONDITION);
    /* batch 4 runs without data: the watermark moved (11:30 to 12:10) and cleans state */
    cr_assert_str_eq(r.console, MATCHES_0_TO_2 BANNER(3) HEAD MATCHES_3 FOOT BANNER(
                                    4) "+----+--------------+---------+---------+\n"
                                       "|adId|impressionTime|clickAdId|clickTime|\n"
                                       "+----+--------------+---------+---------+\n"
                                       "+----+--------------+---------+---------+\n\n");
    cr_assert_eq(g_strv_length(r.progress), 5);
    run_result_clear(&r);
}

Test(stream_join, guide_left_outer_join_writes_unmatched_impressions_once_the_watermark_passes)
{
    run_result r = run_guide(EM_JOIN_LEFT_OUTER, GUIDE_CONDITION);
    /* batch 3 (watermark 11:30): impressions up to 10:29:59.999 leave, 3 unmatched; batch 4
     * (12:10): up to 11:09:59.999, 9, 12 (10:30, just after 10:29:59.999) and the null key
     * unmatched */
    cr_assert_str_eq(r.console, MATCHES_0_TO_2 BANNER(3) HEAD
                     "|3   |" D "10:10:00|NULL     |NULL               |\n" MATCHES_3 FOOT BANNER(
                         4) "+----+-------------------+---------+---------+\n"
                            "|adId|impressionTime     |clickAdId|clickTime|\n"
                            "+----+-------------------+---------+---------+\n"
                            "|NULL|" D "11:00:00|NULL     |NULL     |\n"
                            "|9   |" D "11:05:00|NULL     |NULL     |\n"
                            "|12  |" D "10:30:00|NULL     |NULL     |\n"
                            "+----+-------------------+---------+---------+\n\n");
    run_result_clear(&r);
}

Test(stream_join, right_outer_join_writes_unmatched_clicks_with_null_impressions)
{
    /* the same condition as BETWEEN: click 3 (11:30) leaves unmatched at 12:10 */
    run_result r =
        run_guide(EM_JOIN_RIGHT_OUTER, "clickAdId = adId AND clickTime BETWEEN impressionTime AND "
                                       "impressionTime + INTERVAL '60' MINUTES");
    cr_assert_str_eq(r.console, MATCHES_0_TO_2 BANNER(3) HEAD MATCHES_3 FOOT BANNER(
                                    4) "+----+--------------+---------+-------------------+\n"
                                       "|adId|impressionTime|clickAdId|clickTime          |\n"
                                       "+----+--------------+---------+-------------------+\n"
                                       "|NULL|NULL          |3        |" D "11:30:00|\n"
                                       "+----+--------------+---------+-------------------+\n\n");
    run_result_clear(&r);
}

Test(stream_join, strict_bounds_evict_at_the_state_watermark_itself)
{
    /* impressionTime > clickTime - 1 h: impressions at or before W - 1 h leave (>= would keep
     * W - 1 h itself): at 11:30, 12 (10:30) leaves with 3, a batch before the guide's */
    run_result r = run_guide(EM_JOIN_LEFT_OUTER,
                             "adId = clickAdId AND impressionTime > clickTime - interval 1 hour "
                             "AND impressionTime < clickTime + interval 10 minutes");
    cr_assert_str_eq(r.console, MATCHES_0_TO_2 BANNER(3) HEAD
                     "|3   |" D "10:10:00|NULL     |NULL               |\n" MATCHES_3 "|12  |" D
                     "10:30:00|NULL     |NULL               |\n" FOOT BANNER(
                         4) "+----+-------------------+---------+---------+\n"
                            "|adId|impressionTime     |clickAdId|clickTime|\n"
                            "+----+-------------------+---------+---------+\n"
                            "|NULL|" D "11:00:00|NULL     |NULL     |\n"
                            "|9   |" D "11:05:00|NULL     |NULL     |\n"
                            "+----+-------------------+---------+---------+\n\n");
    run_result_clear(&r);
}

static JsonObject *progress_at(JsonParser *parser, char **progress, size_t i)
{
    cr_assert(i < g_strv_length(progress));
    cr_assert(json_parser_load_from_data(parser, progress[i], -1, NULL), "%s", progress[i]);
    return json_node_get_object(json_parser_get_root(parser));
}

static int64_t join_figure(JsonObject *p, const char *name)
{
    JsonArray *ops = json_object_get_array_member(p, "stateOperators");
    cr_assert_eq(json_array_get_length(ops), 1);
    JsonObject *op = json_array_get_object_element(ops, 0);
    cr_assert_str_eq(json_object_get_string_member(op, "operatorName"), "symmetricHashJoin");
    return json_object_get_int_member(op, name);
}

Test(stream_join, progress_lists_the_join_state_and_the_global_watermark)
{
    run_result r = run_guide(EM_JOIN_LEFT_OUTER, GUIDE_CONDITION);
    /* the global watermark is the min of impressions' (max - 2 h) and clicks' (max - 3 h) */
    static const char *const watermarks[] = {"1970-01-01T00:00:00.000Z", D "07:20:00",
                                             D "08:30:00", D "11:30:00", D "12:10:00"};
    /* left outer: the null-key impression (11:00) is buffered, and leaves at 12:10 */
    static const int64_t total[] = {4, 11, 15, 10, 4}, updated[] = {4, 7, 4, 3, 0},
                         removed[] = {0, 0, 0, 8, 6}, dropped[] = {0, 0, 0, 2, 0},
                         left_rows[] = {3, 3, 3, 3, 0}, right_rows[] = {1, 4, 1, 3, 0};
    g_autoptr(JsonParser) parser = json_parser_new();
    for (size_t i = 0; i < G_N_ELEMENTS(total); i++) {
        JsonObject *p = progress_at(parser, r.progress, i);
        JsonObject *et = json_object_get_object_member(p, "eventTime");
        g_autofree char *wm = g_strdelimit(g_strdup(watermarks[i]), " ", 'T');
        g_autofree char *want = i ? g_strconcat(wm, ".000Z", NULL) : g_strdup(wm);
        cr_assert_str_eq(json_object_get_string_member(et, "watermark"), want, "batch %zu", i);
        cr_assert_eq(join_figure(p, "numRowsTotal"), total[i], "batch %zu", i);
        cr_assert_eq(join_figure(p, "numRowsUpdated"), updated[i], "batch %zu", i);
        cr_assert_eq(join_figure(p, "numRowsRemoved"), removed[i], "batch %zu", i);
        cr_assert_eq(join_figure(p, "numRowsDroppedByWatermark"), dropped[i], "batch %zu", i);
        cr_assert_gt(join_figure(p, "memoryUsedBytes"), 0);
        JsonArray *sources = json_object_get_array_member(p, "sources");
        cr_assert_eq(json_array_get_length(sources), 2);
        cr_assert_eq(json_object_get_int_member(json_array_get_object_element(sources, 0),
                                                "numInputRows"),
                     left_rows[i]);
        cr_assert_eq(json_object_get_int_member(json_array_get_object_element(sources, 1),
                                                "numInputRows"),
                     right_rows[i]);
        cr_assert_eq(json_object_get_int_member(p, "numInputRows"), left_rows[i] + right_rows[i]);
    }
    /* the first batch's event times: the impressions' (Spark's first watermark operator) */
    JsonObject *et =
        json_object_get_object_member(progress_at(parser, r.progress, 0), "eventTime");
    cr_assert_str_eq(json_object_get_string_member(et, "max"), "2026-01-01T10:10:00.000Z");
    run_result_clear(&r);
}

/* em_df_join's error for condition on the guide's tables (watermarked as given), or NULL. */
static char *join_error(bool left_marked, bool right_marked, const char *condition,
                        em_join_type type)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, 1);
    g_autoptr(em_df) left = left_marked ? join_fixture_marked(&fx, 0) : NULL;
    g_autoptr(em_df) right = right_marked ? join_fixture_marked(&fx, 1) : NULL;
    GError *err = NULL;
    em_df *joined =
        em_df_join(left ? left : fx.impressions, right ? right : fx.clicks, condition, type, &err);
    char *message = err ? g_strdup(err->message) : NULL;
    cr_assert(!joined == !!err);
    em_df_free(joined);
    g_clear_error(&err);
    join_fixture_fini(&fx);
    return message;
}

Test(stream_join, outer_joins_need_the_nullable_sides_watermark_and_a_range)
{
    /* no watermark on clicks, the nullable side of a left outer join */
    g_autofree char *no_wm = join_error(true, false, GUIDE_CONDITION, EM_JOIN_LEFT_OUTER);
    cr_assert_str_eq(no_wm,
                     "Stream-stream LeftOuter join between two streaming DataFrame/Datasets is "
                     "not supported without a watermark in the join keys, or a watermark on the "
                     "nullable side and an appropriate range condition (join condition "
                     "\"" GUIDE_CONDITION "\")");
    /* watermarks, but no range bounding the impressions */
    g_autofree char *no_range = join_error(true, true, "clickAdId = adId", EM_JOIN_LEFT_OUTER);
    cr_assert(g_str_has_prefix(no_range, "Stream-stream LeftOuter join between two streaming"),
              "%s", no_range);
    /* clickTime >= impressionTime bounds clicks from below, not impressions */
    g_autofree char *one_sided =
        join_error(true, true, "clickAdId = adId AND clickTime >= impressionTime",
                   EM_JOIN_LEFT_OUTER);
    cr_assert(g_str_has_prefix(one_sided, "Stream-stream LeftOuter join"), "%s", one_sided);
    g_autofree char *right = join_error(false, true, GUIDE_CONDITION, EM_JOIN_RIGHT_OUTER);
    cr_assert(g_str_has_prefix(right, "Stream-stream RightOuter join between two streaming"), "%s",
              right);
    /* an inner join needs neither (its state then grows, as Spark's) */
    g_autofree char *inner = join_error(false, false, "clickAdId = adId", EM_JOIN_INNER);
    cr_assert_null(inner, "%s", inner);
}

Test(stream_join, conditions_spark_cannot_run_are_refused_naming_the_problem)
{
    static const struct {
        const char *condition, *message;
    } cases[] = {
        {"clickTime >= impressionTime",
         "Stream-stream join without equality predicate is not supported (join condition "
         "\"clickTime >= impressionTime\")"},
        {"clikAdId = adId",
         "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name "
         "`clikAdId` cannot be resolved. Did you mean one of the following? [`adId`, "
         "`impressionTime`, `clickAdId`, `clickTime`]"},
        {"clickAdId = clickTime",
         "join condition \"clickAdId = clickTime\": `clickAdId` = `clickTime` compares two "
         "columns of the right table; each conjunct must compare a column of the left table "
         "with one of the right"},
        {"clickAdId = impressionTime",
         "join condition \"clickAdId = impressionTime\": the join keys `clickAdId` (bigint) and "
         "`impressionTime` (timestamp) differ in type"},
        {"clickAdId = adId AND clickAdId < adId + interval 1 hour",
         "join condition \"clickAdId = adId AND clickAdId < adId + interval 1 hour\": "
         "`clickAdId` < `adId`: range conditions compare timestamp columns, and `clickAdId` is "
         "of type bigint"},
        {"clickAdId = adId AND clickTime < impressionTime + interval 1 month",
         "join condition \"clickAdId = adId AND clickTime < impressionTime + interval 1 "
         "month\": expected an interval unit (millisecond, second, minute, hour, day or week; "
         "months and years are not exact) at character 62 (\"month\")"},
        {"clickAdId = adId OR clickTime < impressionTime",
         "join condition \"clickAdId = adId OR clickTime < impressionTime\": expected AND or the "
         "end at character 18 (\"OR clickTime < impre\")"},
        {"clickAdId = adId AND", "join condition \"clickAdId = adId AND\": expected a column at "
                                 "character 21 (\"\")"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = join_error(true, true, cases[i].condition, EM_JOIN_INNER);
        cr_assert_str_eq(message, cases[i].message);
    }
}

Test(stream_join, tables_the_join_cannot_take_are_refused)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, 1);
    GError *err = NULL;
    /* a column in both tables */
    const char *cols[] = {"adId", "impressionTime"};
    g_autoptr(em_df) again = ok(em_df_select(fx.impressions, cols, 2, &err), err);
    cr_assert_null(em_df_join(fx.impressions, again, "adId = adId", EM_JOIN_INNER, &err));
    cr_assert_str_eq(err->message,
                     "join: both tables have a column `adId`; Ember names the joined columns by "
                     "their names alone, so rename one side's (select it under another name) "
                     "first");
    g_clear_error(&err);
    /* a static table */
    g_autoptr(em_df) fixed = df_of(em_ssc_context(fx.ssc), "clickAdId long, clickTime timestamp",
                                   "1,2026-01-01 10:00:00\n");
    cr_assert_null(em_df_join(fx.impressions, fixed, "clickAdId = adId", EM_JOIN_INNER, &err));
    cr_assert_str_eq(err->message, "join: the right table is static; Ember joins two streaming "
                                   "tables only (stream-static joins are not supported yet)");
    g_clear_error(&err);
    /* an aggregation after the join would read its inputs: refused */
    g_autoptr(em_df) joined =
        ok(em_df_join(fx.impressions, fx.clicks, "clickAdId = adId", EM_JOIN_INNER, &err), err);
    const char *key[] = {"adId"};
    cr_assert_null(em_df_group_by_count(joined, key, 1, &err));
    cr_assert_str_eq(err->message, "groupBy after a stream-stream join is not supported yet "
                                   "(select, filter and withColumn are)");
    g_clear_error(&err);
    join_fixture_fini(&fx);
}

Test(stream_join, joins_are_written_in_append_mode_only)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined =
        ok(em_df_join(fx.impressions, fx.clicks, "clickAdId = adId", EM_JOIN_INNER, &err), err);
    cr_assert_null(
        em_query_start(joined, &(em_query_opts){.mode = EM_OUTPUT_UPDATE, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert_str_eq(err->message, "Join between two streaming DataFrames/Datasets is not "
                                   "supported in Update output mode, only in Append output mode");
    g_clear_error(&err);
    cr_assert_null(
        em_query_start(joined,
                       &(em_query_opts){.mode = EM_OUTPUT_COMPLETE, .sink = EM_SINK_MEMORY},
                       &err));
    cr_assert(g_str_has_prefix(err->message, "Complete output mode not supported when there are "
                                             "no streaming aggregations"),
              "%s", err->message);
    g_clear_error(&err);
    join_fixture_fini(&fx);
}

Test(stream_join, select_and_filter_apply_to_the_joined_rows)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, G_N_ELEMENTS(impressions));
    g_autoptr(em_df) left = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) right = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined =
        ok(em_df_join(left, right, GUIDE_CONDITION, EM_JOIN_INNER, &err), err);
    g_autoptr(em_df) later = ok(em_df_filter_cmp(joined, "adId", EM_CMP_GE, em_int(4), &err), err);
    const char *cols[] = {"clickTime", "adId"};
    g_autoptr(em_df) picked = ok(em_df_select(later, cols, 2, &err), err);
    g_autoptr(em_query) q =
        em_query_start(picked, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    join_fixture_run(&fx, (int)G_N_ELEMENTS(impressions) + 1);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(picked));
    cr_assert_str_eq(ddl, "clickTime timestamp, adId bigint");
    GString *text = g_string_new(NULL);
    em_rows_format(rows->items, rows->n, em_df_schema(picked), 20, 0, text);
    g_autofree char *got = g_string_free(text, FALSE);
    cr_assert_str_eq(got, "+-------------------+----+\n"
                          "|clickTime          |adId|\n"
                          "+-------------------+----+\n"
                          "|2026-01-01 11:30:00|4   |\n"
                          "|2026-01-01 14:30:00|5   |\n"
                          "|2026-01-01 10:30:00|10  |\n"
                          "|2026-01-01 15:10:00|6   |\n"
                          "|2026-01-01 10:25:00|11  |\n"
                          "+-------------------+----+\n");
    join_fixture_fini(&fx);
}

/* "2026-01-01 00:00" plus minutes, as the CSV lines hold it. */
static char *minute(int64_t m)
{
    g_autoptr(GDateTime) base = g_date_time_new_utc(2026, 1, 1, 0, 0, 0);
    g_autoptr(GDateTime) t = g_date_time_add_minutes(base, (gint)m);
    return g_date_time_format(t, "%Y-%m-%d %H:%M:%S");
}

Test(stream_join, state_stays_bounded_by_the_watermarks_over_a_long_run)
{
    /* Batch i: impressions 2i and 2i+1 at minute i, a click on 2i at minute i + 5. The global
     * watermark at batch i is clicks' (i - 1) + 5 - 180 = i - 176 min, so impressions up to
     * minute i - 237 and clicks of batches up to i - 182 leave: the state holds
     * 2 * min(i + 1, 237) impressions and min(i + 1, 182) clicks, and from batch 237 on each
     * batch writes impression 2(i - 237) + 1 unmatched. */
    enum { N = 2000 };
    char **left = g_new0(char *, N), **right = g_new0(char *, N);
    for (int64_t i = 0; i < N; i++) {
        g_autofree char *t = minute(i), *c = minute(i + 5);
        left[i] = g_strdup_printf("%" G_GINT64_FORMAT ",%s\n%" G_GINT64_FORMAT ",%s",
                                  (gint64)(2 * i), t, (gint64)(2 * i + 1), t);
        right[i] = g_strdup_printf("%" G_GINT64_FORMAT ",%s", (gint64)(2 * i), c);
    }
    join_fixture fx;
    join_fixture_init(&fx, (const char *const *)left, (const char *const *)right, N);
    g_autoptr(em_df) imp = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) clk = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined =
        ok(em_df_join(imp, clk, GUIDE_CONDITION, EM_JOIN_LEFT_OUTER, &err), err);
    g_autoptr(em_query) q =
        em_query_start(joined, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    g_autoptr(JsonParser) parser = json_parser_new();
    int64_t bytes_half = 0, bytes_max = 0;
    for (int64_t i = 0; i < N; i++) {
        join_fixture_run(&fx, 1);
        g_autofree char *json = em_query_last_progress(q);
        cr_assert(json_parser_load_from_data(parser, json, -1, NULL));
        JsonObject *p = json_node_get_object(json_parser_get_root(parser));
        cr_assert_eq(json_object_get_int_member(p, "batchId"), i);
        int64_t want = 2 * MIN(i + 1, 237) + MIN(i + 1, 182);
        cr_assert_eq(join_figure(p, "numRowsTotal"), want, "batch %" G_GINT64_FORMAT, (gint64)i);
        int64_t out =
            json_object_get_int_member(json_object_get_object_member(p, "sink"), "numOutputRows");
        cr_assert_eq(out, i >= 237 ? 2 : 1, "batch %" G_GINT64_FORMAT, (gint64)i);
        int64_t bytes = join_figure(p, "memoryUsedBytes");
        if (i == N / 2)
            bytes_half = bytes;
        if (i > N / 2)
            bytes_max = MAX(bytes_max, bytes);
    }
    /* the buffers' arenas are compacted: memory follows the rows kept, not the rows seen */
    cr_assert_leq(bytes_max, 2 * bytes_half, "%" G_GINT64_FORMAT " > 2 * %" G_GINT64_FORMAT,
                  (gint64)bytes_max, (gint64)bytes_half);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    size_t unmatched = 0;
    for (size_t r = 0; r < rows->n; r++) {
        em_value row = rows->items[r];
        if (em_is_null(em_row_get(row, 2))) {
            cr_assert_eq(em_row_get(row, 0).as.i, 2 * (int64_t)unmatched + 1);
            unmatched++;
        }
    }
    cr_assert_eq(rows->n, N + (N - 237));
    cr_assert_eq(unmatched, N - 237);
    join_fixture_fini(&fx);
    for (size_t i = 0; i < N; i++) {
        g_free(left[i]);
        g_free(right[i]);
    }
    g_free(left);
    g_free(right);
}

/* Runs batches [from, to) of the guide's data as a left outer join checkpointed at dir; the
 * console text, and the first batch's progress into *first_progress (g_free it). */
static char *run_checkpointed(const char *dir, size_t from, size_t to, int triggers,
                              char **first_progress)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions + from, clicks + from, to - from);
    g_autoptr(em_df) left = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) right = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined =
        ok(em_df_join(left, right, GUIDE_CONDITION, EM_JOIN_LEFT_OUTER, &err), err);
    g_autoptr(em_query) q = em_query_start(joined,
                                           &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true,
                                                            .checkpoint_location = dir},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    join_fixture_run(&fx, triggers);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_not_null(progress[0]);
    *first_progress = g_strdup(progress[0]);
    char *console = g_strdup(fx.console);
    join_fixture_fini(&fx);
    return console;
}

Test(stream_join, a_restarted_join_goes_on_from_its_checkpointed_buffers_and_watermarks)
{
    g_autofree char *dir = g_dir_make_tmp("ember-join-ckpt-XXXXXX", NULL);
    cr_assert_not_null(dir);
    run_result whole = run_guide(EM_JOIN_LEFT_OUTER, GUIDE_CONDITION);
    g_autofree char *progress = NULL, *restarted = NULL;
    g_autofree char *first = run_checkpointed(dir, 0, 2, 2, &progress);
    /* the restart reads batches 2 and 3: they join the buffers batches 0 and 1 left (ad 10's
     * click, impression 3 unmatched), with the watermark batch 1 computed (08:30) */
    g_autofree char *second = run_checkpointed(dir, 2, 4, 3, &restarted);
    g_autofree char *both = g_strconcat(first, second, NULL);
    cr_assert_str_eq(both, whole.console);
    /* batch 2 runs with the watermark batch 1 computed, its buffers as batch 1 left them */
    g_autoptr(JsonParser) parser = json_parser_new();
    cr_assert(json_parser_load_from_data(parser, restarted, -1, NULL));
    JsonObject *p = json_node_get_object(json_parser_get_root(parser));
    cr_assert_eq(json_object_get_int_member(p, "batchId"), 2);
    cr_assert_str_eq(json_object_get_string_member(json_object_get_object_member(p, "eventTime"),
                                                   "watermark"),
                     "2026-01-01T08:30:00.000Z");
    cr_assert_eq(join_figure(p, "numRowsTotal"), 15);
    run_result_clear(&whole);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
    cr_assert_eq(system(rm), 0);
}
