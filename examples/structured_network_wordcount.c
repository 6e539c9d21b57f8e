/* structured_network_wordcount: Spark's StructuredNetworkWordCount, ported line for line: a
 * running word count of the lines a TCP server sends, the whole result table printed to the
 * console each trigger (complete mode). An application of the public library (<ember.h>
 * only). Usage: structured_network_wordcount HOST PORT [BATCHES]; BATCHES, an Ember addition,
 * stops it after that many triggers. Run a server first: `line_server 9999` (or nc -lk 9999).
 *
 *   val lines = spark.readStream.format("socket")
 *     .option("host", host).option("port", port).load()
 *   val words = lines.as[String].flatMap(_.split(" "))
 *   val wordCounts = words.groupBy("value").count()
 *   val query = wordCounts.writeStream.outputMode("complete").format("console").start()
 *   query.awaitTermination()
 *
 * Ember's DataFrames name the exploded column as withColumn does ("word" here, as the Python
 * version's explode(split(lines.value, " ")).alias("word")).
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* Spark logs receiver errors (no server yet, server gone) as warnings: so does this. */
static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "structured_network_wordcount: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: structured_network_wordcount <hostname> <port> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "StructuredNetworkWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_df) lines = em_df_read_socket(ssc, argv[1], (int)port);
    g_autoptr(em_df) words = em_df_explode_split(lines, "value", " ", "word", &err);
    const char *by[] = {"word"};
    g_autoptr(em_df) word_counts = words ? em_df_group_by_count(words, by, 1, &err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    g_autoptr(em_query) query =
        word_counts
            ? em_query_start(word_counts,
                             &(em_query_opts){.mode = EM_OUTPUT_COMPLETE, .sink = EM_SINK_CONSOLE},
                             &err)
            : NULL;
    bool ok = query && em_query_await_termination(query, &err);
    if (!ok)
        fprintf(stderr, "structured_network_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
