/* structured_iot_alerts: a Structured Streaming query over a directory of JSON IoT events (one
 * object a line: device, level, temp, ts) that keeps the HIGH ones and appends them to the
 * console every 10 seconds. An application of the public library (<ember.h> only). Usage:
 * structured_iot_alerts DIRECTORY [BATCHES]; BATCHES, an Ember addition, stops it after that
 * many triggers. Drop files into DIRECTORY (write them under a name starting with '.' and rename
 * them, so a half-written file is never read). In Scala it would read:
 *
 *   val schema = "device string, level string, temp double, ts timestamp"
 *   val events = spark.readStream.text(directory)
 *     .select(from_json($"value", schema).as("e")).select("e.*")
 *   val alerts = events.filter($"level" === "HIGH")
 *   val query = alerts.writeStream.outputMode("append").format("console")
 *     .trigger(Trigger.ProcessingTime("10 seconds")).start()
 *   query.awaitTermination()
 *
 * (spark.readStream.schema(schema).json(directory) reads the same rows.) As Spark's PERMISSIVE
 * mode, a line that is not a JSON object becomes a row of nulls, whose null level the filter
 * drops, and a field of the wrong type ("temp":"hot") is null while the row keeps its other
 * fields. The example counts those lines and says how many there were on stderr when it stops.
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int64_t batches = 0;
    if (argc < 2 || argc > 3 ||
        (argc == 3 && !g_ascii_string_to_signed(argv[2], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: structured_iot_alerts <directory> [<batches>]\n");
        return 2;
    }

    /* The trigger's interval is the batch interval: the ssc runs one batch per trigger. */
    em_ssc *ssc = em_ssc_new("local[2]", "StructuredIoTAlerts", EM_SECONDS(10));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_schema) schema =
        em_schema_parse("device string, level string, temp double, ts timestamp", &err);
    g_autoptr(em_df) lines =
        em_df_read_files(ssc, argv[1], &(em_file_source_opts){.format = EM_FILE_TEXT}, &err);
    gsize *malformed = NULL;
    g_autoptr(em_df) events =
        lines ? em_df_from_json(lines, "value", schema, &malformed, &err) : NULL;
    g_autoptr(em_df) alerts =
        events ? em_df_filter_cmp(events, "level", EM_CMP_EQ, em_str("HIGH"), &err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    g_autoptr(em_query) query =
        alerts ? em_query_start(alerts,
                                &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                 .trigger = EM_TRIGGER_PROCESSING_TIME,
                                                 .interval = EM_SECONDS(10),
                                                 .sink = EM_SINK_CONSOLE},
                                &err)
               : NULL;
    bool ok = query && em_query_await_termination(query, &err);
    if (!ok)
        fprintf(stderr, "structured_iot_alerts: %s\n", err->message);
    else
        fprintf(stderr,
                "structured_iot_alerts: %" G_GSIZE_FORMAT
                " malformed line(s): what did not fit the schema read as null\n",
                (gsize)g_atomic_pointer_get(malformed));
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
