/* windowed_network_wordcount: the windowed word count of Spark's streaming guide, with an
 * inverse function: word counts over the last 3 seconds of lines from a TCP server, every
 * second, each window computed from the one before (add the second that entered, subtract the
 * one that left). Words whose count falls back to 0 stay, printed as (word,0), as in Spark
 * without a filter function. An application of the public library (<ember.h> only). Usage:
 * windowed_network_wordcount HOST PORT [BATCHES]; BATCHES, an Ember addition, stops it
 * gracefully after that many batches. Run a server first: `line_server 9999` (or nc -lk 9999).
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(1))
 *   val lines = ssc.socketTextStream(args(0), args(1).toInt)
 *   val words = lines.flatMap(_.split(" "))
 *   val pairs = words.map(word => (word, 1))
 *   // Reduce the last 3 seconds of data, every second
 *   val windowedWordCounts = pairs.reduceByKeyAndWindow(_ + _, _ - _, Seconds(3), Seconds(1))
 *   windowedWordCounts.print()
 *   ssc.start()
 *   ssc.awaitTermination()
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* Spark logs receiver errors (no server yet, server gone) as warnings: so does this. */
static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "windowed_network_wordcount: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: windowed_network_wordcount <hostname> <port> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "WindowedNetworkWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    em_dstream *lines = em_socket_text_stream(ssc, argv[1], (int)port);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *pairs = em_map(words, em_pair_one);
    /* Reduce the last 3 seconds of data, every second. */
    em_dstream *windowed_word_counts =
        em_reduce_by_key_and_window_inv(pairs, em_sum, em_subtract, EM_SECONDS(3), EM_SECONDS(1));
    em_print(windowed_word_counts);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "windowed_network_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
