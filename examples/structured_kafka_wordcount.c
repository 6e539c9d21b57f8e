/* structured_kafka_wordcount: Spark's StructuredKafkaWordCount, ported line for line: a running
 * word count of the values of Kafka records, the whole result table printed to the console each
 * trigger (complete mode). An application of the public library (<ember.h> only). Usage:
 * structured_kafka_wordcount BOOTSTRAP_SERVERS SUBSCRIBE_TYPE TOPICS [BATCHES [STARTING]];
 * SUBSCRIBE_TYPE is Spark's: assign, subscribe or subscribePattern. BATCHES, an Ember addition,
 * stops it after that many triggers (0: run until killed); STARTING, another, is the source's
 * startingOffsets, earliest or latest (Spark's default, and this one's). Produce words with
 * `kafka_word_producer` or any Kafka producer.
 *
 *   val lines = spark.readStream.format("kafka")
 *     .option("kafka.bootstrap.servers", bootstrapServers)
 *     .option(subscribeType, topics)
 *     .load()
 *     .selectExpr("CAST(value AS STRING)")
 *     .as[String]
 *   val wordCounts = lines.flatMap(_.split(" ")).groupBy("value").count()
 *   val query = wordCounts.writeStream.outputMode("complete").format("console")
 *     .option("checkpointLocation", checkpointLocation).start()
 *   query.awaitTermination()
 *
 * Ember's source reads `subscribe` only so far: assign and subscribePattern are refused with a
 * message saying so. Spark's example takes a checkpoint location where this one takes BATCHES;
 * without one Spark checkpoints to a temporary directory, as this runs without any.
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "Usage: structured_kafka_wordcount <bootstrap-servers> "
                    "<subscribe-type> <topics> [<batches> [earliest|latest]]\n"
                    "  <subscribe-type> is one of assign, subscribe, subscribePattern\n");
}

int main(int argc, char **argv)
{
    int64_t batches = 0;
    if (argc < 4 || argc > 6 ||
        (argc >= 5 && !g_ascii_string_to_signed(argv[4], 10, 0, G_MAXINT64, &batches, NULL)) ||
        (argc == 6 && strcmp(argv[5], "earliest") != 0 && strcmp(argv[5], "latest") != 0)) {
        usage();
        return 2;
    }
    const char *subscribe_type = argv[2], *topics = argv[3];
    if (strcmp(subscribe_type, "subscribe") != 0) {
        if (strcmp(subscribe_type, "assign") == 0 ||
            strcmp(subscribe_type, "subscribePattern") == 0)
            fprintf(stderr,
                    "structured_kafka_wordcount: Ember's Kafka source does not support %s yet; "
                    "use subscribe with a comma-separated list of topics\n",
                    subscribe_type);
        else
            usage();
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "StructuredKafkaWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_df) records =
        em_df_read_kafka(ssc,
                         &(em_kafka_source_opts){.brokers = argv[1],
                                                 .subscribe = topics,
                                                 .earliest = argc == 6 &&
                                                             strcmp(argv[5], "earliest") == 0},
                         &err);
    const char *value[] = {"value"};
    g_autoptr(em_df) lines = records ? em_df_select(records, value, 1, &err) : NULL;
    /* flatMap(_.split(" ")) on a Dataset[String] names its column "value", as it was */
    g_autoptr(em_df) words =
        lines ? em_df_explode_split(lines, "value", " ", "value", &err) : NULL;
    g_autoptr(em_df) word_counts = words ? em_df_group_by_count(words, value, 1, &err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    g_autoptr(em_query) query =
        word_counts
            ? em_query_start(word_counts,
                             &(em_query_opts){.mode = EM_OUTPUT_COMPLETE, .sink = EM_SINK_CONSOLE},
                             &err)
            : NULL;
    bool ok = query && em_query_await_termination(query, &err);
    if (!ok)
        fprintf(stderr, "structured_kafka_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
