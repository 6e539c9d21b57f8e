/* structured_kafka_wordcount as the built program it is, against Apache Kafka itself (the real
 * broker fixture): the records already in the topic make batch 0, one record produced once
 * batch 0 has printed makes batch 1, each printed whole (complete mode) in Spark's console
 * format. The frames are checked byte for byte and each table's rows as a sorted set (complete
 * mode prints groups in the aggregation's hash order, Spark's as well as Ember's). Then the same
 * against PySpark 3.5 running Spark's StructuredKafkaWordCount over a topic holding the same
 * records (tests/structured/spark_kafka_wordcount.py, with spark-sql-kafka-0-10 from
 * ~/.cache/ember/spark-kafka; skipped, saying why, without pyspark or those jars). */
#include "../examples/example-fixture.h"
#include "kafka-real.h"

#include <string.h>

#define TIMEOUT_US (120 * G_USEC_PER_SEC)
#define SPARK_KAFKA_VERSION "3.5.7" /* the newest 3.5.x of spark-sql-kafka on Maven Central */

static const char more[] = "to be continued";

/* Batch 0: the two records already there; batch 1: all counts after `more`. Rows sorted. */
static const char expected[] = "-------------------------------------------\n"
                               "Batch: 0\n"
                               "-------------------------------------------\n"
                               "+--------+-----+\n"
                               "|   value|count|\n"
                               "+--------+-----+\n"
                               "|      be|    2|\n"
                               "|      is|    1|\n"
                               "|      or|    1|\n"
                               "|      to|    2|\n"
                               "|     not|    1|\n"
                               "|     the|    1|\n"
                               "|    that|    1|\n"
                               "|question|    1|\n"
                               "+--------+-----+\n"
                               "\n"
                               "-------------------------------------------\n"
                               "Batch: 1\n"
                               "-------------------------------------------\n"
                               "+---------+-----+\n"
                               "|    value|count|\n"
                               "+---------+-----+\n"
                               "|       be|    3|\n"
                               "|       is|    1|\n"
                               "|       or|    1|\n"
                               "|       to|    3|\n"
                               "|      not|    1|\n"
                               "|      the|    1|\n"
                               "|     that|    1|\n"
                               "| question|    1|\n"
                               "|continued|    1|\n"
                               "+---------+-----+\n"
                               "\n";

static gint compare_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The console text with each table's rows (between its second and last border) sorted. */
static char *rows_sorted(const char *console)
{
    g_auto(GStrv) lines = g_strsplit(console, "\n", -1);
    size_t n = g_strv_length(lines);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < n;) {
        if (g_str_has_prefix(lines[i], "+") && i + 2 < n && g_str_has_prefix(lines[i + 2], "+")) {
            for (size_t k = i; k <= i + 2; k++)
                g_string_append_printf(out, "%s\n", lines[k]);
            size_t end = i + 3;
            while (end < n && !g_str_has_prefix(lines[end], "+"))
                end++;
            GPtrArray *rows = g_ptr_array_new();
            for (size_t k = i + 3; k < end; k++)
                g_ptr_array_add(rows, lines[k]);
            g_ptr_array_sort(rows, compare_lines);
            for (size_t k = 0; k < rows->len; k++)
                g_string_append_printf(out, "%s\n", (char *)rows->pdata[k]);
            g_ptr_array_free(rows, TRUE);
            i = end;
            continue;
        }
        g_string_append(out, lines[i]);
        if (++i < n)
            g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

/* A topic of two partitions holding one line each. */
static void lines_topic(real_kafka *k, const char *topic)
{
    real_kafka_create_topic(k, topic, 2);
    rd_kafka_t *rk = raw_producer(k->bootstrap, NULL);
    produce(rk, topic, 0, NULL, "to be or not to be");
    produce(rk, topic, 1, NULL, "that is the question");
    produce_flush(rk);
    rd_kafka_destroy(rk);
}

/* Runs the example over topic for up to 10 triggers from the earliest offsets, producing
 * `more` once batch 0 has printed; returns its stdout. */
static char *run_example(real_kafka *k, const char *topic)
{
    const char *argv[] = {EXAMPLES "structured_kafka_wordcount",
                          k->bootstrap,
                          "subscribe",
                          topic,
                          "10",
                          "earliest",
                          NULL};
    proc p = spawn(argv);
    GString *out = g_string_new(NULL);
    cr_assert(read_until(p.out, out, "+\n\n", g_get_monotonic_time() + TIMEOUT_US),
              "no first batch: %s", out->str);
    rd_kafka_t *rk = raw_producer(k->bootstrap, NULL);
    produce(rk, topic, 0, NULL, more);
    produce_flush(rk);
    rd_kafka_destroy(rk);
    cr_assert(read_until(p.out, out, NULL, g_get_monotonic_time() + TIMEOUT_US));
    int status = wait_exit(&p, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out->str);
    return g_string_free(out, FALSE);
}

Test(structured_kafka_wordcount, counts_the_topic_in_complete_mode_on_apache_kafka)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    lines_topic(&k, "lines");
    g_autofree char *out = run_example(&k, "lines");
    g_autofree char *sorted = rows_sorted(out);
    cr_assert_str_eq(sorted, expected);
    real_kafka_stop(&k);
}

/* Runs the example with subscribe type `type`; returns stderr, sets *code to the exit code. */
static char *refused(const char *type, int *code)
{
    const char *argv[] = {EXAMPLES "structured_kafka_wordcount", "127.0.0.1:9", type, "lines",
                          NULL};
    char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(WIFEXITED(status), "status %d", status);
    *code = WEXITSTATUS(status);
    return errors;
}

Test(structured_kafka_wordcount, assign_and_subscribe_pattern_are_refused_until_supported)
{
    const char *types[] = {"assign", "subscribePattern"};
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        int code = -1;
        g_autofree char *errors = refused(types[i], &code);
        cr_assert_eq(code, 2);
        g_autofree char *want =
            g_strdup_printf("structured_kafka_wordcount: Ember's Kafka source does not support %s "
                            "yet; use "
                            "subscribe with a comma-separated list of topics\n",
                            types[i]);
        cr_assert_str_eq(errors, want);
    }
    int code = -1;
    g_autofree char *errors = refused("topics", &code);
    cr_assert_eq(code, 2);
    cr_assert(g_str_has_prefix(errors, "Usage: structured_kafka_wordcount <bootstrap-servers> "
                                       "<subscribe-type> <topics>"),
              "%s", errors);
}

static bool have_pyspark(void)
{
    const char *argv[] = {"python3", "-c", "import pyspark", NULL};
    int status = -1;
    return g_spawn_sync(NULL, (char **)argv, NULL,
                        G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                            G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL) &&
           g_spawn_check_wait_status(status, NULL);
}

Test(structured_kafka_wordcount, console_output_matches_pysparks_structured_kafka_wordcount)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_autofree char *jars = g_build_filename(g_get_user_cache_dir(), "ember", "spark-kafka",
                                             SPARK_KAFKA_VERSION, NULL);
    g_autofree char *jar =
        g_strdup_printf("%s/spark-sql-kafka-0-10_2.12-%s.jar", jars, SPARK_KAFKA_VERSION);
    if (!g_file_test(jar, G_FILE_TEST_EXISTS))
        cr_skip_test("no %s (scripts/dev test fetches it from Maven Central): the differential "
                     "test did not run",
                     jar);
    real_kafka k = {0};
    real_kafka_start(&k);
    lines_topic(&k, "ember-lines");
    lines_topic(&k, "spark-lines");
    g_autofree char *ember = run_example(&k, "ember-lines");
    const char *argv[] = {"python3",
                          EMBER_SOURCE_ROOT "/tests/structured/spark_kafka_wordcount.py",
                          jars,
                          k.bootstrap,
                          "spark-lines",
                          more,
                          NULL};
    g_autofree char *spark = NULL, *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &spark,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    real_kafka_stop(&k);
    cr_assert(g_spawn_check_wait_status(status, NULL), "pyspark failed:\n%s", errors);
    g_autofree char *ember_sorted = rows_sorted(ember);
    g_autofree char *spark_sorted = rows_sorted(spark);
    cr_assert_str_eq(ember_sorted, spark_sorted);
    cr_assert_str_eq(spark_sorted, expected);
}
