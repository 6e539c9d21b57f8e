/* stateful_network_wordcount: Spark's StatefulNetworkWordCount, ported line for line: a running
 * count per word over every line a TCP server has sent, kept with mapWithState and started from
 * an initial state. An application of the public library (<ember.h> only). Usage:
 * stateful_network_wordcount HOST PORT [BATCHES]; BATCHES, an Ember addition, stops it
 * gracefully after that many batches. Run a server first: `line_server 9999` (or nc -lk 9999).
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(1))
 *   val initialRDD = ssc.sparkContext.parallelize(List(("hello", 1), ("world", 1)))
 *   val lines = ssc.socketTextStream(args(0), args(1).toInt)
 *   val words = lines.flatMap(_.split(" "))
 *   val wordDstream = words.map(x => (x, 1))
 *   val mappingFunc = (word: String, one: Option[Int], state: State[Int]) => {
 *     val sum = one.getOrElse(0) + state.getOption.getOrElse(0)
 *     val output = (word, sum)
 *     state.update(sum)
 *     output
 *   }
 *   val stateDstream = wordDstream.mapWithState(
 *     StateSpec.function(mappingFunc).initialState(initialRDD))
 *   stateDstream.print()
 *   ssc.start()
 *   ssc.awaitTermination()
 *
 * Spark's ssc.checkpoint(".") has no counterpart here: the state lives in memory. */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* The running count of a word: its new occurrence (one, or None when it times out, which
 * cannot happen without a timeout) plus the count so far, emitted as (word, sum). */
static em_value mapping_func(em_time time, em_value word, em_value one, em_state *state, void *ud)
{
    (void)time, (void)ud;
    int64_t sum = (em_type_of(one) == EM_T_NONE ? 0 : em_as_int(one)) +
                  (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_value output = em_pair(word, em_int(sum));
    em_state_update(state, em_int(sum));
    return output;
}

/* Spark logs receiver errors (no server yet, server gone) as warnings: so does this. */
static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "stateful_network_wordcount: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: stateful_network_wordcount <hostname> <port> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "StatefulNetworkWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    em_rdd *initial_rdd =
        em_parallelize_text(em_ssc_context(ssc), "(hello,1), (world,1)", 0, NULL);
    em_dstream *lines = em_socket_text_stream(ssc, argv[1], (int)port);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_dstream = em_map(words, em_pair_one);
    em_dstream *state_dstream =
        em_map_with_state(word_dstream, &(em_state_spec){.fn = mapping_func,
                                                         .name = "mappingFunc",
                                                         .initial_state = initial_rdd});
    em_rdd_unref(initial_rdd); /* the StateSpec holds its own reference */
    em_print(state_dstream);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "stateful_network_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
