/* structured_network_wordcount_windowed: Spark's StructuredNetworkWordCountWindowed, ported
 * line for line: word counts over sliding event-time windows of the lines a TCP server sends,
 * each line stamped with the time it was read, the whole result table ordered by window and
 * printed to the console each trigger (complete mode, untruncated). An application of the
 * public library (<ember.h> only). Usage: structured_network_wordcount_windowed HOST PORT
 * WINDOW_SECONDS [SLIDE_SECONDS [BATCHES]]; BATCHES, an Ember addition, stops it after that many
 * triggers. Run a server first: `line_server 9999` (or nc -lk 9999).
 *
 *   val lines = spark.readStream.format("socket").option("host", host).option("port", port)
 *     .option("includeTimestamp", true).load()
 *   val words = lines.as[(String, Timestamp)].flatMap(line =>
 *     line._1.split(" ").map(word => (word, line._2))).toDF("word", "timestamp")
 *   val windowedCounts = words.groupBy(window($"timestamp", windowDuration, slideDuration),
 *     $"word").count().orderBy("window")
 *   val query = windowedCounts.writeStream.outputMode("complete").format("console")
 *     .option("truncate", "false").start()
 *
 * Ember stamps a line with the time of the batch that reads it (em_df_with_batch_time), where
 * Spark's includeTimestamp takes the time the socket source read it.
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "structured_network_wordcount_windowed: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t port = 0, window = 0, slide = 0, batches = 0;
    if (argc < 4 || argc > 6 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT32, &window, NULL) ||
        (argc >= 5 && !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT32, &slide, NULL)) ||
        (argc == 6 && !g_ascii_string_to_signed(argv[5], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: structured_network_wordcount_windowed <hostname> <port> "
                        "<window duration in seconds> [<slide duration in seconds> "
                        "[<batches>]]\n");
        return 2;
    }
    if (argc < 5)
        slide = window; /* Spark: the slide defaults to the window */
    if (slide > window) {
        fprintf(stderr, "<slide duration> must be less than or equal to <window duration>\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "StructuredNetworkWordCountWindowed", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_df) raw = em_df_read_socket(ssc, argv[1], (int)port);
    g_autoptr(em_df) lines = em_df_with_batch_time(raw, "timestamp", &err);
    g_autoptr(em_df) split = lines ? em_df_explode_split(lines, "value", " ", "word", &err) : NULL;
    const char *cols[] = {"word", "timestamp"};
    g_autoptr(em_df) words = split ? em_df_select(split, cols, 2, &err) : NULL;
    g_autoptr(em_df) windowed =
        words ? em_df_window(words, "timestamp", EM_SECONDS(window), EM_SECONDS(slide), &err)
              : NULL;
    const char *by[] = {"window", "word"};
    g_autoptr(em_df) counts = windowed ? em_df_group_by_count(windowed, by, 2, &err) : NULL;
    g_autoptr(em_df) windowed_counts = counts ? em_df_order_by(counts, by, 1, &err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    g_autoptr(em_query) query = windowed_counts
                                    ? em_query_start(windowed_counts,
                                                     &(em_query_opts){.mode = EM_OUTPUT_COMPLETE,
                                                                      .sink = EM_SINK_CONSOLE,
                                                                      .no_truncate = true},
                                                     &err)
                                    : NULL;
    bool ok = query && em_query_await_termination(query, &err);
    if (!ok)
        fprintf(stderr, "structured_network_wordcount_windowed: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
