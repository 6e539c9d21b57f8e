/* Streaming queries on the manual clock: output modes and their errors, the console sink in
 * Spark's format, the memory and foreachBatch sinks, triggers, progress and the listener. */
#include "query-fixture.h"

#include <json-glib/json-glib.h>

/* The input of tests/structured/ss.py's three files, one per batch. */
static const char *const wc_batches[] = {"a b a\nc", "b  a", "\nc c"};

/* lines -> explode(split(value, " ")) as word -> groupBy(word).count(). */
static em_df *word_counts(const em_df *lines)
{
    GError *err = NULL;
    g_autoptr(em_df) words = ok(em_df_explode_split(lines, "value", " ", "word", &err), err);
    const char *by[] = {"word"};
    return ok(em_df_group_by_count(words, by, 1, &err), err);
}

Test(query, complete_mode_prints_every_batch_as_spark_console_sink)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    const char *by[] = {"word"};
    g_autoptr(em_df) sorted = ok(em_df_order_by(counts, by, 1, &err), err);
    g_autoptr(em_query) q = em_query_start(sorted,
                                           &(em_query_opts){.mode = EM_OUTPUT_COMPLETE,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 3);
    /* PySpark 3.5's console output for the same three files (ss.py, orderBy("word")). */
    cr_assert_str_eq(fx.console, "-------------------------------------------\n"
                                 "Batch: 0\n"
                                 "-------------------------------------------\n"
                                 "+----+-----+\n|word|count|\n+----+-----+\n"
                                 "|   a|    2|\n|   b|    1|\n|   c|    1|\n"
                                 "+----+-----+\n\n"
                                 "-------------------------------------------\n"
                                 "Batch: 1\n"
                                 "-------------------------------------------\n"
                                 "+----+-----+\n|word|count|\n+----+-----+\n"
                                 "|    |    1|\n|   a|    3|\n|   b|    2|\n|   c|    1|\n"
                                 "+----+-----+\n\n"
                                 "-------------------------------------------\n"
                                 "Batch: 2\n"
                                 "-------------------------------------------\n"
                                 "+----+-----+\n|word|count|\n+----+-----+\n"
                                 "|    |    2|\n|   a|    3|\n|   b|    2|\n|   c|    3|\n"
                                 "+----+-----+\n\n");
    cr_assert_eq(em_query_batches(q), 3);
    query_fixture_fini(&fx);
}

/* The memory sink's rows sorted, as text. */
static char *memory_rows(em_query *q)
{
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    return em_values_to_string(em_values_sort(rows));
}

Test(query, update_mode_writes_only_the_groups_a_batch_changed)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    g_autoptr(em_query) q =
        em_query_start(counts, &(em_query_opts){.mode = EM_OUTPUT_UPDATE, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 1);
    g_autofree char *b0 = memory_rows(q);
    cr_assert_str_eq(b0, "[(a,2), (b,1), (c,1)]");
    query_fixture_run(&fx, 2);
    /* Appended: batch 1 updated "", a, b; batch 2 updated "" and c (Spark's update output). */
    g_autofree char *all = memory_rows(q);
    cr_assert_str_eq(all, "[(,1), (,2), (a,2), (a,3), (b,1), (b,2), (c,1), (c,3)]");
    query_fixture_fini(&fx);
}

Test(query, append_mode_writes_each_batch_rows_once)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    GError *err = NULL;
    g_autoptr(em_df) words = ok(em_df_explode_split(fx.lines, "value", " ", "word", &err), err);
    g_autoptr(em_df) as = ok(em_df_filter_cmp(words, "word", EM_CMP_EQ, em_str("a"), &err), err);
    g_autoptr(em_query) q =
        em_query_start(as, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 3);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    cr_assert_eq(rows->n, 3); /* a, a in batch 0; a in batch 1; none in batch 2 */
    cr_assert_eq(em_query_batches(q), 3);
    query_fixture_fini(&fx);
}

Test(query, unsupported_modes_fail_with_spark_analysis_messages)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    cr_assert_null(em_query_start(fx.lines, &(em_query_opts){.mode = EM_OUTPUT_COMPLETE}, &err));
    cr_assert_str_eq(err->message, "Complete output mode not supported when there are no "
                                   "streaming aggregations on streaming DataFrames/Datasets;");
    g_clear_error(&err);
    cr_assert_null(em_query_start(counts, &(em_query_opts){.mode = EM_OUTPUT_APPEND}, &err));
    cr_assert_str_eq(err->message, "Append output mode not supported when there are streaming "
                                   "aggregations on streaming DataFrames/DataSets without "
                                   "watermark;");
    g_clear_error(&err);
    const char *by[] = {"value"};
    cr_assert_null(em_df_order_by(fx.lines, by, 1, &err));
    cr_assert_str_eq(err->message, "Sorting is not supported on streaming DataFrames/Datasets, "
                                   "unless it is on aggregated DataFrame/Dataset in Complete "
                                   "output mode;");
    g_clear_error(&err);
    cr_assert_null(em_query_start(counts,
                                  &(em_query_opts){.mode = EM_OUTPUT_UPDATE,
                                                   .trigger = EM_TRIGGER_PROCESSING_TIME,
                                                   .interval = 2000},
                                  &err));
    cr_assert_str_eq(err->message, "trigger interval 2000 ms: a processing-time trigger runs at "
                                   "the StreamingContext's batch interval (1000 ms)");
    g_clear_error(&err);
    g_autoptr(em_df) stat = df_of(em_ssc_context(fx.ssc), "a long", "1\n");
    cr_assert_null(em_query_start(stat, &(em_query_opts){.mode = EM_OUTPUT_APPEND}, &err));
    cr_assert_str_eq(err->message,
                     "'writeStream' can be called only on streaming Dataset/DataFrame");
    g_error_free(err);
    query_fixture_fini(&fx);
}

typedef struct {
    int started, terminated;
    GPtrArray *progress;
} events;

static void on_started(em_query *q, void *ud)
{
    (void)q;
    ((events *)ud)->started++;
}
static void on_progress(em_query *q, const char *json, void *ud)
{
    (void)q;
    g_ptr_array_add(((events *)ud)->progress, g_strdup(json));
}
static void on_terminated(em_query *q, const char *exception, void *ud)
{
    (void)q;
    cr_assert_null(exception);
    ((events *)ud)->terminated++;
}

static JsonObject *parse_json(JsonParser *parser, const char *json)
{
    cr_assert(json_parser_load_from_data(parser, json, -1, NULL), "%s", json);
    return json_node_get_object(json_parser_get_root(parser));
}

Test(query, progress_has_spark_fields_and_the_listener_sees_each_batch)
{
    /* An empty batch between two with data: no batch runs for it, batch ids stay 0, 1. */
    const char *const batches[] = {"a b a", NULL, "b"};
    query_fixture fx;
    query_fixture_init(&fx, batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    events ev = {.progress = g_ptr_array_new_with_free_func(g_free)};
    GError *err = NULL;
    g_autoptr(em_query) q =
        em_query_start(counts,
                       &(em_query_opts){.mode = EM_OUTPUT_UPDATE,
                                        .sink = EM_SINK_MEMORY,
                                        .name = "counts",
                                        .listener =
                                            &(em_query_listener){.started = on_started,
                                                                 .progress = on_progress,
                                                                 .terminated = on_terminated},
                                        .listener_ud = &ev},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    cr_assert_str_eq(em_query_name(q), "counts");
    cr_assert_eq(strlen(em_query_id(q)), 36);
    query_fixture_run(&fx, 3);
    cr_assert_eq(ev.started, 1);
    cr_assert_eq(ev.progress->len, 2);
    g_autofree char *last = em_query_last_progress(q);
    cr_assert_str_eq(last, ev.progress->pdata[1]);
    g_auto(GStrv) recent = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(recent), 2);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *p = parse_json(parser, last);
    cr_assert_str_eq(json_object_get_string_member(p, "id"), em_query_id(q));
    cr_assert_str_eq(json_object_get_string_member(p, "name"), "counts");
    cr_assert_str_eq(json_object_get_string_member(p, "timestamp"), "1970-01-01T00:00:03.000Z");
    cr_assert_eq(json_object_get_int_member(p, "batchId"), 1);
    cr_assert_eq(json_object_get_int_member(p, "numInputRows"), 1);
    /* One row over the 2 s since the previous batch ran (at 1 s). */
    cr_assert_float_eq(json_object_get_double_member(p, "inputRowsPerSecond"), 0.5, 1e-12);
    cr_assert(json_object_has_member(json_object_get_object_member(p, "durationMs"),
                                     "triggerExecution"));
    JsonObject *state =
        json_array_get_object_element(json_object_get_array_member(p, "stateOperators"), 0);
    cr_assert_eq(json_object_get_int_member(state, "numRowsTotal"), 2);   /* a, b */
    cr_assert_eq(json_object_get_int_member(state, "numRowsUpdated"), 1); /* b */
    JsonObject *source =
        json_array_get_object_element(json_object_get_array_member(p, "sources"), 0);
    cr_assert_str_eq(json_object_get_string_member(source, "description"), "queueStream");
    cr_assert_eq(json_object_get_int_member(source, "numInputRows"), 1);
    JsonObject *sink = json_object_get_object_member(p, "sink");
    cr_assert_str_eq(json_object_get_string_member(sink, "description"), "MemorySink");
    cr_assert_eq(json_object_get_int_member(sink, "numOutputRows"), 1);
    JsonObject *first = parse_json(parser, ev.progress->pdata[0]);
    /* The first batch has no previous trigger: Spark leaves the input rate out. */
    cr_assert_not(json_object_has_member(first, "inputRowsPerSecond"));
    em_query_stop(q);
    cr_assert_not(em_query_is_active(q));
    cr_assert(em_query_await_termination(q, &err));
    cr_assert_eq(ev.terminated, 1);
    g_ptr_array_free(ev.progress, TRUE);
    query_fixture_fini(&fx);
}

Test(query, trigger_once_runs_one_batch_then_stops)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = EM_OUTPUT_UPDATE,
                                                            .trigger = EM_TRIGGER_ONCE,
                                                            .sink = EM_SINK_MEMORY},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 1);
    cr_assert(em_query_await_termination(q, &err), "%s", err ? err->message : "");
    cr_assert_not(em_query_is_active(q));
    cr_assert_eq(em_query_batches(q), 1);
    g_autofree char *rows = memory_rows(q);
    cr_assert_str_eq(rows, "[(a,2), (b,1), (c,1)]");
    query_fixture_fini(&fx);
}

Test(query, trigger_available_now_drains_then_stops_at_the_first_empty_batch)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = EM_OUTPUT_COMPLETE,
                                                            .trigger = EM_TRIGGER_AVAILABLE_NOW,
                                                            .sink = EM_SINK_MEMORY},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 4);
    cr_assert(em_query_await_termination(q, &err), "%s", err ? err->message : "");
    cr_assert_eq(em_query_batches(q), 3);
    g_autofree char *rows = memory_rows(q);
    cr_assert_str_eq(rows, "[(,2), (a,3), (b,2), (c,3)]");
    query_fixture_fini(&fx);
}

static bool collect_batches(em_df *batch, int64_t batch_id, void *ud, GError **err)
{
    g_autoptr(em_values) rows = em_df_collect(batch, err);
    if (!rows)
        return false;
    g_autofree char *text = em_values_to_string(em_values_sort(rows));
    g_string_append_printf(ud, "%lld:%s;", (long long)batch_id, text);
    return true;
}

Test(query, foreach_batch_gets_each_batch_as_a_static_dataframe)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GString *seen = g_string_new(NULL);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = EM_OUTPUT_UPDATE,
                                                            .sink = EM_SINK_FOREACH_BATCH,
                                                            .foreach_batch = collect_batches,
                                                            .ud = seen},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 3);
    cr_assert_str_eq(seen->str, "0:[(a,2), (b,1), (c,1)];1:[(,1), (a,3), (b,2)];2:[(,2), (c,3)];");
    g_string_free(seen, TRUE);
    query_fixture_fini(&fx);
}

static bool fail_second(em_df *batch, int64_t batch_id, void *ud, GError **err)
{
    (void)batch;
    (void)ud;
    if (batch_id == 1) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "sink refused");
        return false;
    }
    return true;
}

Test(query, a_failing_foreach_batch_stops_the_query_with_its_error)
{
    query_fixture fx;
    query_fixture_init(&fx, wc_batches, 3);
    g_autoptr(em_df) counts = word_counts(fx.lines);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(counts,
                                           &(em_query_opts){.mode = EM_OUTPUT_UPDATE,
                                                            .sink = EM_SINK_FOREACH_BATCH,
                                                            .foreach_batch = fail_second},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, 2);
    cr_assert_not(em_query_await_termination(q, &err));
    cr_assert(strstr(err->message, "foreachBatch failed in batch 1: sink refused"), "%s",
              err->message);
    g_error_free(err);
    cr_assert_not(em_query_is_active(q));
    cr_assert_eq(em_query_batches(q), 1);
    query_fixture_fini(&fx);
}
