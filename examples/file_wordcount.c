/* file_wordcount: Spark's HdfsWordCount, ported line for line: counts the words of the files
 * that appear in a directory, batch by batch. An application of the public library (<ember.h>
 * only). Usage: file_wordcount DIR [BATCHES]; BATCHES, an Ember addition, stops it after that
 * many batches. Move finished files into DIR (files already there are not read):
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(2))
 *   val lines = ssc.textFileStream(args(0))
 *   val words = lines.flatMap(_.split(" "))
 *   val wordCounts = words.map(x => (x, 1)).reduceByKey(_ + _)
 *   wordCounts.print()
 *   ssc.start()
 *   ssc.awaitTermination()
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    em_ssc *ssc;
    int64_t batches_left;
} stopper;

/* A StreamingListener's onBatchCompleted: stops after the last batch asked for. It runs on the
 * scheduler thread, so no later batch starts. */
static void batch_completed(const em_batch_info *info, void *ud)
{
    (void)info;
    stopper *s = ud;
    if (--s->batches_left == 0)
        em_ssc_stop(s->ssc, true, false);
}

int main(int argc, char **argv)
{
    int64_t batches = 0;
    if (argc == 3 && !g_ascii_string_to_signed(argv[2], 10, 1, G_MAXINT64, &batches, NULL))
        argc = 0;
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "Usage: file_wordcount <directory> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "HdfsWordCount", EM_SECONDS(2));
    if (!ssc)
        return EXIT_FAILURE;
    stopper s = {ssc, batches};
    GError *err = NULL;
    em_dstream *lines = em_text_file_stream_full(ssc, argv[1], NULL, &err);
    bool ok = lines != NULL;
    if (ok) {
        em_dstream *words = em_flat_map(lines, em_split_space);
        em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
        em_print(word_counts);

        if (batches > 0)
            em_ssc_add_listener(ssc, &(em_listener){.batch_completed = batch_completed}, &s);
        ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    }
    if (!ok)
        fprintf(stderr, "file_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
