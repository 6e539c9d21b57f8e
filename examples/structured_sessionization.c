/* structured_sessionization: Spark's structured_sessionization.py, ported line for line: each
 * word of the lines a TCP server sends is an event of the session it names; events of one
 * session id less than 10 seconds apart form one session window; each trigger prints every
 * session (id, start and end as epoch seconds, its duration and its number of events). An
 * application of the public library (<ember.h> only). Usage: structured_sessionization HOST
 * PORT [BATCHES]; BATCHES, an Ember addition, stops it after that many triggers.
 *
 *   lines = spark.readStream.format("socket").option("host", host).option("port", port)
 *       .option("includeTimestamp", "true").load()
 *   events = lines.select(explode(split(lines.value, " ")).alias("sessionId"),
 *                         lines.timestamp.alias("eventTime"))
 *   windowedCounts = events.groupBy(session_window(events.eventTime, "10 seconds")
 *           .alias("session"), events.sessionId).agg(count("*").alias("numEvents"))
 *       .selectExpr("sessionId", "CAST(session.start AS LONG)", "CAST(session.end AS LONG)",
 *           "CAST(session.end AS LONG) - CAST(session.start AS LONG) AS durationMs",
 *           "numEvents")
 *   query = windowedCounts.writeStream.outputMode("update").format("console").start()
 *
 * One change: Spark 3.5 refuses its own example's update mode ("Update output mode not
 * supported for session window on streaming DataFrames/DataSets"), so this writes in complete
 * mode, which Spark accepts for the same query. durationMs is in seconds, as in Spark's
 * example (its casts give seconds). Lines are stamped with their batch's time
 * (em_df_with_batch_time), Spark's with the time they were read.
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "structured_sessionization: %s\n", info->last_error);
}

/* CAST(timestamp AS LONG): seconds since the epoch, rounded down. */
static int64_t seconds(em_value micros)
{
    int64_t us = micros.as.i;
    return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
}

static em_value session_start(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    em_value w = em_row_get_by_name(row, schema, "session");
    return em_int(seconds(em_row_get(w, 0)));
}

static em_value session_end(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    em_value w = em_row_get_by_name(row, schema, "session");
    return em_int(seconds(em_row_get(w, 1)));
}

static em_value duration(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    em_value w = em_row_get_by_name(row, schema, "session");
    return em_int(seconds(em_row_get(w, 1)) - seconds(em_row_get(w, 0)));
}

static em_value num_events(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    return em_row_get_by_name(row, schema, "count");
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: structured_sessionization <hostname> <port> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "StructuredSessionization", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_df) raw = em_df_read_socket(ssc, argv[1], (int)port);
    g_autoptr(em_df) lines = em_df_with_batch_time(raw, "eventTime", &err);
    g_autoptr(em_df) split =
        lines ? em_df_explode_split(lines, "value", " ", "sessionId", &err) : NULL;
    const char *cols[] = {"sessionId", "eventTime"};
    g_autoptr(em_df) events = split ? em_df_select(split, cols, 2, &err) : NULL;
    g_autoptr(em_df) sessions =
        events ? em_df_session_window(events, "eventTime", EM_SECONDS(10), "session", &err) : NULL;
    const char *by[] = {"session", "sessionId"};
    g_autoptr(em_df) counts = sessions ? em_df_group_by_count(sessions, by, 2, &err) : NULL;
    /* the selectExpr: one withColumn per expression, then the columns in Spark's order */
    g_autoptr(em_df) c1 =
        counts ? em_df_with_column_full(counts, "CAST(session.start AS BIGINT)", EM_COL_LONG,
                                        session_start, NULL, NULL, &err)
               : NULL;
    g_autoptr(em_df) c2 = c1 ? em_df_with_column_full(c1, "CAST(session.end AS BIGINT)",
                                                      EM_COL_LONG, session_end, NULL, NULL, &err)
                             : NULL;
    g_autoptr(em_df) c3 =
        c2 ? em_df_with_column_full(c2, "durationMs", EM_COL_LONG, duration, NULL, NULL, &err)
           : NULL;
    g_autoptr(em_df) c4 =
        c3 ? em_df_with_column_full(c3, "numEvents", EM_COL_LONG, num_events, NULL, NULL, &err)
           : NULL;
    const char *out[] = {"sessionId", "CAST(session.start AS BIGINT)",
                         "CAST(session.end AS BIGINT)", "durationMs", "numEvents"};
    g_autoptr(em_df) windowed_counts = c4 ? em_df_select(c4, out, 5, &err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    g_autoptr(em_query) query =
        windowed_counts
            ? em_query_start(windowed_counts,
                             &(em_query_opts){.mode = EM_OUTPUT_COMPLETE, .sink = EM_SINK_CONSOLE},
                             &err)
            : NULL;
    bool ok = query && em_query_await_termination(query, &err);
    if (!ok)
        fprintf(stderr, "structured_sessionization: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
