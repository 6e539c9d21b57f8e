/* sql_network_wordcount: Spark's SqlNetworkWordCount, ported line for line: each batch's words
 * become a table ("words"), an SQL query counts them, and the result is shown as Spark's
 * DataFrame.show() prints it, under Spark's "========= <time> =========" line. The SQL runs on
 * an embedded SQLite database (<ember/sql.h>), where Spark has its SparkSession. An
 * application of the public library (<ember.h> only). Usage: sql_network_wordcount HOST PORT
 * [BATCHES]; BATCHES, an Ember addition, stops it gracefully after that many batches. Run a
 * server first: `line_server 9999`. Rows come in SQLite's order (by word), where Spark's hash
 * aggregation has an order of its own.
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(2))
 *   val lines = ssc.socketTextStream(args(0), args(1).toInt, StorageLevel.MEMORY_AND_DISK_SER)
 *   val words = lines.flatMap(_.split(" "))
 *   words.foreachRDD { (rdd: RDD[String], time: Time) =>
 *     val spark = SparkSessionSingleton.getInstance(rdd.sparkContext.getConf)
 *     val wordsDataFrame = rdd.map(w => Record(w)).toDF()
 *     wordsDataFrame.createOrReplaceTempView("words")
 *     val wordCountsDataFrame =
 *       spark.sql("select word, count(*) as total from words group by word")
 *     println(s"========= $time =========")
 *     wordCountsDataFrame.show()
 *   }
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* case class Record(word: String) */
static em_schema *record_schema;

/* w => Record(w) */
static em_value record(em_value w, void *ud)
{
    (void)ud;
    return em_row_in(NULL, &w, 1);
}

static bool count_words_with_sql(em_rdd *rdd, em_time time, void *spark, GError **err)
{
    // Convert RDD[String] to RDD[case class] to DataFrame
    em_rdd *records = em_rdd_map(rdd, record);
    g_autoptr(em_df) words_data_frame = em_df_from_rdd(records, record_schema);
    em_rdd_unref(records);

    // Register as table
    if (!em_sql_create_or_replace_temp_view(spark, words_data_frame, "words", err))
        return false;

    // Do word count on table using SQL and print it
    g_autoptr(em_df) word_counts_data_frame =
        em_sql_query(spark, "select word, count(*) as total from words group by word", err);
    if (!word_counts_data_frame)
        return false;
    printf("========= %" G_GINT64_FORMAT " ms =========\n", (gint64)time);
    return em_df_show(word_counts_data_frame, err);
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: NetworkWordCount <hostname> <port> [<batches>]\n");
        return 1;
    }

    // Create the context with a 2 second batch size
    em_ssc *ssc = em_ssc_new("local[2]", "SqlNetworkWordCount", EM_SECONDS(2));
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    em_sql *spark = em_sql_new(em_ssc_context(ssc), &err);
    record_schema = spark ? em_schema_parse("word string", &err) : NULL;
    if (!record_schema) {
        fprintf(stderr, "sql_network_wordcount: %s\n", err->message);
        g_error_free(err);
        em_sql_free(spark);
        em_ssc_free(ssc);
        return EXIT_FAILURE;
    }

    em_dstream *lines = em_socket_text_stream(ssc, argv[1], (int)port);
    em_dstream *words = em_flat_map_full(lines, em_split_on, " ", NULL, "split");

    // Convert RDDs of the words DStream to DataFrame and run SQL query
    em_foreach_rdd_full(words, count_words_with_sql, spark, NULL, "count_words_with_sql");

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "sql_network_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    em_sql_free(spark);
    em_schema_unref(record_schema);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
