/* structured_kafka_wordcount as the built program it is, against Apache Kafka itself (the real
 * broker fixture): the records already in the topic make batch 0, one record produced once
 * batch 0 has printed makes batch 1, each printed whole (complete mode) in Spark's console
 * format. The frames are checked byte for byte and each table's rows as a sorted set. Then the
 * same against PySpark 3.5 running Spark's StructuredKafkaWordCount over a topic holding the same
 * records, byte for byte (Ember prints complete mode in Spark's state store order)
 * (tests/structured/spark_kafka_wordcount.py, with spark-sql-kafka-0-10 from
 * ~/.cache/ember/spark-kafka; skipped, saying why, without pyspark or those jars). */
#include "../examples/example-fixture.h"
#include "kafka-real.h"
#include "../structured/spark-fixture.h"

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

/* Runs the example with subscribe type `type` over `topics` (holding topic) for up to 10
 * triggers from the earliest offsets, producing `more` to topic once batch 0 has printed;
 * returns its stdout. */
static char *run_example(real_kafka *k, const char *type, const char *topics, const char *topic)
{
    const char *argv[] = {EXAMPLES "structured_kafka_wordcount",
                          k->bootstrap,
                          type,
                          topics,
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
    g_autofree char *out = run_example(&k, "subscribe", "lines", "lines");
    g_autofree char *sorted = rows_sorted(out);
    cr_assert_str_eq(sorted, expected);
    real_kafka_stop(&k);
}

/* Spark's other two subscribe types read the same: a pattern matching the whole topic name, and
 * the topic's partitions named in JSON. */
Test(structured_kafka_wordcount, subscribe_pattern_and_assign_count_as_subscribe_does)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    lines_topic(&k, "words-a");
    lines_topic(&k, "words-b");
    g_autofree char *by_pattern = run_example(&k, "subscribePattern", "w.rds-a", "words-a");
    g_autofree char *sorted = rows_sorted(by_pattern);
    cr_assert_str_eq(sorted, expected);
    g_autofree char *assigned = run_example(&k, "assign", "{\"words-b\":[0,1]}", "words-b");
    g_autofree char *sorted_assigned = rows_sorted(assigned);
    cr_assert_str_eq(sorted_assigned, expected);
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

Test(structured_kafka_wordcount, an_unknown_subscribe_type_is_refused_with_the_usage)
{
    int code = -1;
    g_autofree char *errors = refused("topics", &code);
    cr_assert_eq(code, 2);
    cr_assert(g_str_has_prefix(errors, "Usage: structured_kafka_wordcount <bootstrap-servers> "
                                       "<subscribe-type> <topics>"),
              "%s", errors);
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
    g_autofree char *ember = run_example(&k, "subscribe", "ember-lines", "ember-lines");
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
    /* byte for byte: Ember prints complete mode in Spark's state store order */
    cr_assert_str_eq(ember, spark);
    g_autofree char *spark_sorted = rows_sorted(spark);
    cr_assert_str_eq(spark_sorted, expected);
}
