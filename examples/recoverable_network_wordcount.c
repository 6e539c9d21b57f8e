/* recoverable_network_wordcount: Spark's RecoverableNetworkWordCount, ported line for line: a
 * word count per batch of the lines a TCP server sends, where words of a blacklist (a
 * broadcast variable) are dropped and counted (an accumulator), each batch's counts appended to
 * a file, and the program recovers from its checkpoint directory after a crash: kill it and
 * start it again with the same arguments, and the batches go on from the checkpoint's. An
 * application of the public library (<ember.h> only). Usage:
 * recoverable_network_wordcount HOST PORT CHECKPOINT-DIRECTORY OUTPUT-FILE [BATCHES]; BATCHES,
 * an Ember addition, stops it gracefully after that many batches.
 *
 *   object WordBlacklist {                          // a lazily made singleton: after a restart
 *     @volatile private var instance: Broadcast[Seq[String]] = null    // it is made again
 *     def getInstance(sc: SparkContext): Broadcast[Seq[String]] = { ... sc.broadcast(Seq("a",
 *       "b", "c")) ... }
 *   }
 *   object DroppedWordsCounter { ... sc.longAccumulator("DroppedWordsCounter") ... }
 *
 *   def createContext(ip: String, port: Int, outputPath: String, checkpointDirectory: String)
 *     : StreamingContext = {
 *     println("Creating new context")
 *     val outputFile = new File(outputPath)
 *     if (outputFile.exists()) outputFile.delete()
 *     val sparkConf = new SparkConf().setAppName("RecoverableNetworkWordCount")
 *     val ssc = new StreamingContext(sparkConf, Seconds(1))
 *     ssc.checkpoint(checkpointDirectory)
 *     val lines = ssc.socketTextStream(ip, port)
 *     val words = lines.flatMap(_.split(" "))
 *     val wordCounts = words.map((_, 1)).reduceByKey(_ + _)
 *     wordCounts.foreachRDD { (rdd: RDD[(String, Int)], time: Time) =>
 *       val blacklist = WordBlacklist.getInstance(rdd.sparkContext)
 *       val droppedWordsCounter = DroppedWordsCounter.getInstance(rdd.sparkContext)
 *       val counts = rdd.filter { case (word, count) =>
 *         if (blacklist.value.contains(word)) { droppedWordsCounter.add(count); false }
 *         else true
 *       }.collect().mkString("[", ", ", "]")
 *       val output = s"Counts at time $time $counts"
 *       println(output)
 *       println(s"Dropped ${droppedWordsCounter.value} word(s) totally")
 *       println(s"Appending to ${outputFile.getAbsolutePath}")
 *       Files.append(output + "\n", outputFile, Charset.defaultCharset())
 *     }
 *     ssc
 *   }
 *   val ssc = StreamingContext.getOrCreate(checkpointDirectory,
 *     () => createContext(ip, port, outputPath, checkpointDirectory))
 *   ssc.start()
 *   ssc.awaitTermination()
 *
 * Where it differs: C cannot restore code, so the create function always runs and is told
 * whether a checkpoint will be attached; it prints "Creating new context" and deletes the
 * output file only when there is none, as Spark's is only called then. */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* WordBlacklist: made the first time a batch needs it, in this process. */
static em_broadcast *blacklist_instance;
static em_accumulator *dropped_instance;
static GMutex instances_lock;

static em_broadcast *word_blacklist_get_instance(em_context *sc)
{
    g_mutex_lock(&instances_lock);
    if (!blacklist_instance) {
        em_value word_blacklist[] = {em_str("a"), em_str("b"), em_str("c")};
        blacklist_instance = em_broadcast_new(sc, em_list(word_blacklist, 3, EM_LIST));
    }
    g_mutex_unlock(&instances_lock);
    return blacklist_instance;
}

/* DroppedWordsCounter. */
static em_accumulator *dropped_words_counter_get_instance(em_context *sc)
{
    g_mutex_lock(&instances_lock);
    if (!dropped_instance)
        dropped_instance = em_long_accumulator(sc, "DroppedWordsCounter");
    g_mutex_unlock(&instances_lock);
    return dropped_instance;
}

typedef struct {
    const char *ip;
    int port;
    const char *output_path;
    const char *checkpoint_directory;
} args;

typedef struct {
    em_broadcast *blacklist;
    em_accumulator *dropped_words_counter;
} filter_args;

/* case (word, count) => if (blacklist.value.contains(word)) { add(count); false } else true */
static bool not_blacklisted(em_value word_count, void *ud)
{
    const filter_args *f = ud;
    if (em_broadcast_contains(f->blacklist, em_key(word_count))) {
        em_accumulator_add(f->dropped_words_counter, em_val(word_count));
        return false;
    }
    return true;
}

static bool output_counts(em_rdd *rdd, em_time time, void *ud, GError **err)
{
    const args *a = ud;
    filter_args f = {word_blacklist_get_instance(em_rdd_context(rdd)),
                     dropped_words_counter_get_instance(em_rdd_context(rdd))};
    g_autoptr(em_rdd) kept = em_rdd_filter_full(rdd, not_blacklisted, &f, NULL, "filter");
    g_autoptr(em_values) collected = em_rdd_collect(kept, err);
    if (!collected)
        return false;
    g_autofree char *counts = em_values_to_string(collected);
    g_autofree char *output =
        g_strdup_printf("Counts at time %" G_GINT64_FORMAT " ms %s", (gint64)time, counts);
    g_autofree char *absolute = g_canonicalize_filename(a->output_path, NULL);
    printf("%s\n", output);
    printf("Dropped %" G_GINT64_FORMAT " word(s) totally\n",
           (gint64)em_accumulator_long(f.dropped_words_counter));
    printf("Appending to %s\n", absolute);
    fflush(stdout);
    FILE *file = fopen(a->output_path, "a");
    if (!file || fprintf(file, "%s\n", output) < 0 || fclose(file) != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot append to %s", absolute);
        return false;
    }
    return true;
}

static em_ssc *create_context(bool recovering, void *ud)
{
    const args *a = ud;
    if (!recovering) {
        printf("Creating new context\n");
        remove(a->output_path);
    }
    em_ssc *ssc = em_ssc_new("local[2]", "RecoverableNetworkWordCount", EM_SECONDS(1));
    if (!ssc)
        return NULL;
    em_ssc_checkpoint(ssc, a->checkpoint_directory);
    em_dstream *lines = em_socket_text_stream(ssc, a->ip, a->port);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_foreach_rdd_full(word_counts, output_counts, (void *)a, NULL, "output_counts");
    return ssc;
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if ((argc != 5 && argc != 6) ||
        !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 6 && !g_ascii_string_to_signed(argv[5], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: recoverable_network_wordcount <hostname> <port> "
                        "<checkpoint-directory> <output-file> [<batches>]\n");
        return 1;
    }
    args a = {argv[1], (int)port, argv[4], argv[3]};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(a.checkpoint_directory, create_context, &a, NULL, &err);
    if (!ssc) {
        fprintf(stderr, "recoverable_network_wordcount: %s\n", err->message);
        return 1;
    }
    if (batches)
        em_ssc_stop_after_batches(ssc, batches);
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "recoverable_network_wordcount: %s\n", err->message);
    em_ssc_free(ssc);
    em_broadcast_unref(blacklist_instance);
    em_accumulator_unref(dropped_instance);
    return ok ? 0 : 1;
}
