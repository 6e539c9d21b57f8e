/* bench-vs-spark: Ember's side of bench/run-vs-spark. Spark's NetworkWordCount (as
 * examples/network_wordcount.c, local[2], 1 s batches) with a listener printing one line per
 * completed batch on stderr, the same lines vs-spark/NetworkWordCountBench.java prints:
 *   batch time_ms=T records=N sched_ms=S proc_ms=P done_epoch_ms=E
 * It exits after BATCHES completed batches. Backpressure is on from INITIAL_RATE lines/s, as on
 * Spark's side. Usage: bench-vs-spark HOST PORT BATCHES INITIAL_RATE */
#include <ember.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t batches_left;

/* Prints the batch's line; after the last one, exits at once, as Spark's side does (a graceful
 * stop would drain the backlog into the figures). */
static void batch_completed(const em_batch_info *b, void *ud)
{
    (void)ud;
    fprintf(stderr,
            "batch time_ms=%" PRId64 " records=%" PRId64 " sched_ms=%" PRId64 " proc_ms=%" PRId64
            " done_epoch_ms=%" PRId64 "\n",
            (int64_t)b->batch_time, b->num_records, b->scheduling_delay, b->processing_delay,
            g_get_real_time() / 1000);
    if (--batches_left == 0) {
        fflush(NULL);
        _exit(EXIT_SUCCESS);
    }
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0, initial_rate = 0;
    if (argc != 5 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL) ||
        !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT64, &initial_rate, NULL)) {
        fprintf(stderr, "Usage: bench-vs-spark <hostname> <port> <batches> <initial rate>\n");
        return 2;
    }
    em_ssc *ssc = em_ssc_new("local[2]", "NetworkWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    em_socket_opts opts = {.receiver = {.backpressure = true, .initial_rate = initial_rate}};
    em_dstream *lines = em_socket_stream_full(ssc, argv[1], (int)port, NULL, NULL, NULL, &opts);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_print(word_counts);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = batch_completed}, NULL);
    batches_left = batches;
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "bench-vs-spark: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
