/* raw_network_grep: Spark's RawNetworkGrep, ported line for line: NUM_STREAMS raw socket streams
 * (length-prefixed blocks of records, as raw_text_sender sends them) unioned, and each batch's
 * count of records containing "the" printed. An application of the public library (<ember.h>
 * only). Usage: raw_network_grep NUM_STREAMS HOST PORT BATCH_MILLIS [BATCHES]; BATCHES, an
 * Ember addition, stops it gracefully after that many batches. Run a sender first:
 * `raw_text_sender 9999 examples/data/hamlet.txt 100000 1000000`.
 *
 *   val ssc = new StreamingContext(sparkConf, Duration(batchMillis))
 *   val rawStreams = (1 to numStreams).map(_ =>
 *     ssc.rawSocketStream[String](host, port, StorageLevel.MEMORY_ONLY_SER_2)).toArray
 *   val union = ssc.union(rawStreams)
 *   union.filter(_.contains("the")).count().foreachRDD(r =>
 *     println(s"Grep count: ${r.collect().mkString}"))
 *   ssc.start()
 *   ssc.awaitTermination()
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* r => println(s"Grep count: ${r.collect().mkString}") */
static bool print_grep_count(em_rdd *r, em_time time, void *ud, GError **err)
{
    (void)time, (void)ud;
    g_autoptr(em_values) counts = em_rdd_collect(r, err);
    if (!counts)
        return false;
    GString *line = g_string_new("Grep count: ");
    for (size_t i = 0; i < counts->n; i++)
        em_value_format(counts->items[i], line);
    printf("%s\n", line->str);
    fflush(stdout);
    g_string_free(line, TRUE);
    return true;
}

/* Spark logs receiver errors (no sender yet, a bad block) as warnings: so does this. */
static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "raw_network_grep: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t num_streams = 0, port = 0, batch_millis = 0, batches = 0;
    if (argc < 5 || argc > 6 ||
        !g_ascii_string_to_signed(argv[1], 10, 1, 1000, &num_streams, NULL) ||
        !g_ascii_string_to_signed(argv[3], 10, 1, 65535, &port, NULL) ||
        !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT32, &batch_millis, NULL) ||
        (argc == 6 && !g_ascii_string_to_signed(argv[5], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: RawNetworkGrep <numStreams> <host> <port> <batchMillis> "
                        "[<batches>]\n");
        return 1;
    }
    const char *host = argv[2];

    /* local[n + 1]: a core per receiver and one for the batches, as Spark needs. */
    char master[32];
    g_snprintf(master, sizeof master, "local[%d]", (int)num_streams + 1);
    em_ssc *ssc = em_ssc_new(master, "RawNetworkGrep", EM_MILLIS(batch_millis));
    if (!ssc)
        return EXIT_FAILURE;
    em_dstream **raw_streams = g_new(em_dstream *, num_streams);
    for (int64_t i = 0; i < num_streams; i++)
        raw_streams[i] = em_raw_socket_stream(ssc, host, (int)port, NULL);
    em_dstream *union_ = em_ssc_union(ssc, raw_streams, (size_t)num_streams);
    g_free(raw_streams);
    em_dstream *grep = em_filter_full(union_, em_contains, "the", NULL, "contains");
    em_foreach_rdd(em_count(grep), print_grep_count);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "raw_network_grep: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
