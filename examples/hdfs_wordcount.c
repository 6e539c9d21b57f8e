/* hdfs_wordcount: Spark's HdfsWordCount, ported line for line: counts the words of the files
 * that appear in a directory, batch by batch. An application of the public library (<ember.h>
 * only). Usage: hdfs_wordcount DIR [BATCHES]; BATCHES, an Ember addition, stops it after that
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

int main(int argc, char **argv)
{
    int64_t batches = 0;
    if (argc == 3 && !g_ascii_string_to_signed(argv[2], 10, 1, G_MAXINT64, &batches, NULL))
        argc = 0;
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "Usage: hdfs_wordcount <directory> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "HdfsWordCount", EM_SECONDS(2));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    em_dstream *lines = em_text_file_stream_full(ssc, argv[1], NULL, &err);
    bool ok = lines != NULL;
    if (ok) {
        em_dstream *words = em_flat_map(lines, em_split_space);
        em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
        em_print(word_counts);

        em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
        ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    }
    if (!ok)
        fprintf(stderr, "hdfs_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
