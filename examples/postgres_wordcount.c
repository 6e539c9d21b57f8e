/* postgres_wordcount: Spark's foreachRDD design pattern (the Streaming Programming Guide's
 * "Design Patterns for using foreachRDD") writing NetworkWordCount's counts to PostgreSQL
 * through libpq: one connection per partition, never one per record, opened on the executor
 * thread that writes the partition, and each partition's rows upserted in one transaction
 * keyed by (batch time, word), so that a batch run again (a recovery, a replay) rewrites its
 * rows instead of adding to them. An application of the public library (<ember.h>) and libpq.
 *
 * Usage: postgres_wordcount HOST PORT CONNINFO [BATCHES]
 *        postgres_wordcount --replay FILE TIME_MS CONNINFO
 * The first reads lines from a TCP server (`line_server 9999`) as NetworkWordCount does;
 * BATCHES stops it gracefully after that many batches. The second (an Ember addition) runs the
 * one batch at TIME_MS over FILE's lines, on a manual clock, as a batch run again after a
 * failure would: its rows replace those the batch wrote before. CONNINFO is libpq's
 * ("host=127.0.0.1 port=5432 dbname=postgres user=me"). The table is made when missing:
 *   word_counts(batch_time bigint, word text, count bigint, primary key (batch_time, word))
 * Each batch prints "Batch <time> ms: <n> word counts upserted".
 *
 *   wordCounts.foreachRDD { rdd =>
 *     rdd.foreachPartition { partitionOfRecords =>
 *       val connection = createNewConnection()
 *       partitionOfRecords.foreach(record => connection.send(record))
 *       connection.close()
 *     }
 *   }
 */
#include <ember.h>

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREATE_TABLE                                                                              \
    "CREATE TABLE IF NOT EXISTS word_counts (batch_time bigint NOT NULL, word text NOT NULL, "    \
    "count bigint NOT NULL, PRIMARY KEY (batch_time, word))"
#define UPSERT                                                                                    \
    "INSERT INTO word_counts (batch_time, word, count) VALUES ($1, $2, $3) "                      \
    "ON CONFLICT (batch_time, word) DO UPDATE SET count = EXCLUDED.count"

static const char *conninfo;

static void ignore_notice(void *ud, const char *message) { (void)ud, (void)message; }

/* A connection, or NULL with *message set (the caller g_free()s it) saying what to check. */
static PGconn *connect_db(char **message)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(conn, ignore_notice, NULL); /* "already exists, skipping" */
        return conn;
    }
    /* libpq's message runs over lines: one line here. */
    GString *why = g_string_new(NULL);
    for (const char *p = PQerrorMessage(conn); *p; p++)
        if (!g_ascii_isspace(*p))
            g_string_append_c(why, *p);
        else if (why->len > 0 && why->str[why->len - 1] != ' ')
            g_string_append_c(why, ' ');
    g_strchomp(why->str);
    *message = g_strdup_printf("cannot connect to PostgreSQL (%s): %s -- is a PostgreSQL "
                               "server running there? (Debian: apt-get install postgresql)",
                               conninfo, why->str);
    g_string_free(why, TRUE);
    PQfinish(conn);
    return NULL;
}

/* Runs a statement without parameters; false with *message set on failure. */
static bool run(PGconn *conn, const char *statement, char **message)
{
    PGresult *res = PQexec(conn, statement);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        *message = g_strdup_printf("PostgreSQL: %s", PQerrorMessage(conn));
    PQclear(res);
    return ok;
}

typedef struct batch {
    em_time time;
    gint upserted; /* atomic: partitions write concurrently */
} batch;

/* rdd.foreachPartition: one connection and one transaction for the partition's (word, count)
 * records; a failure fails the task (and the batch), its transaction rolled back. */
static void save_partition(int index, em_iter *partition_of_records, void *ud)
{
    (void)index;
    batch *b = ud;
    em_value record;
    if (!em_iter_next(partition_of_records, &record))
        return; /* an empty partition needs no connection */
    char *message = NULL;
    PGconn *connection = connect_db(&message);
    if (!connection || !run(connection, "BEGIN", &message)) {
        em_fail("%s", message);
        g_free(message);
        PQfinish(connection);
        return;
    }
    char time_text[24], count_text[24];
    g_snprintf(time_text, sizeof time_text, "%" G_GINT64_FORMAT, (gint64)b->time);
    int n = 0;
    do {
        em_value word = em_key(record);
        g_snprintf(count_text, sizeof count_text, "%" G_GINT64_FORMAT,
                   (gint64)em_as_int(em_val(record)));
        const char *values[] = {time_text, em_cstr(word), count_text};
        PGresult *res = PQexecParams(connection, UPSERT, 3, NULL, values, NULL, NULL, 0);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            em_fail("PostgreSQL: upserting (%s, %s) into word_counts: %s", time_text,
                    em_cstr(word), PQerrorMessage(connection));
            PQfinish(connection); /* the transaction is rolled back */
            return;
        }
        n++;
    } while (em_iter_next(partition_of_records, &record));
    if (!run(connection, "COMMIT", &message)) {
        em_fail("%s", message);
        g_free(message);
    } else {
        g_atomic_int_add(&b->upserted, n);
    }
    PQfinish(connection);
}

/* wordCounts.foreachRDD { (rdd, time) => rdd.foreachPartition(...) } */
static bool save_batch(em_rdd *rdd, em_time time, void *ud, GError **err)
{
    (void)ud;
    batch b = {time, 0};
    if (!em_rdd_foreach_partition(rdd, save_partition, &b, err))
        return false;
    printf("Batch %" G_GINT64_FORMAT " ms: %d word counts upserted\n", (gint64)time,
           g_atomic_int_get(&b.upserted));
    fflush(stdout);
    return true;
}

/* lines.flatMap(_.split(" ")).map((_, 1)).reduceByKey(_ + _).foreachRDD(save_batch) */
static void count_words(em_dstream *lines)
{
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_foreach_rdd(word_counts, save_batch);
}

/* Makes the table when missing, on the driver; false (the reason printed) when it cannot. */
static bool create_table(void)
{
    char *message = NULL;
    PGconn *conn = connect_db(&message);
    bool ok = conn && run(conn, CREATE_TABLE, &message);
    if (!ok)
        fprintf(stderr, "postgres_wordcount: %s\n", message);
    g_free(message);
    PQfinish(conn);
    return ok;
}

static int usage(void)
{
    fprintf(stderr, "Usage: postgres_wordcount <hostname> <port> <conninfo> [<batches>]\n"
                    "       postgres_wordcount --replay <file> <time-ms> <conninfo>\n");
    return 1;
}

/* Runs the ssc to its end; 0 or EXIT_FAILURE with the reason printed. */
static int run_ssc(em_ssc *ssc, em_duration advance)
{
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err);
    if (ok && advance > 0)
        em_ssc_advance_clock(ssc, advance);
    ok = ok && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "postgres_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The batch at time over file's lines, on a manual clock. */
static int replay(const char *file, em_time time)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "PostgresWordCount",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .manual_start = time - EM_SECONDS(1)},
                                  NULL);
    GError *err = NULL;
    em_rdd *lines = ssc ? em_text_file(em_ssc_context(ssc), file, 0, &err) : NULL;
    if (!lines) {
        fprintf(stderr, "postgres_wordcount: %s\n", err ? err->message : "no context");
        g_clear_error(&err);
        em_ssc_free(ssc);
        return EXIT_FAILURE;
    }
    em_rdd_queue *queue = em_rdd_queue_new();
    em_rdd_queue_push(queue, lines);
    em_rdd_unref(lines);
    count_words(em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL));
    em_ssc_stop_after_batches(ssc, 1);
    int status = run_ssc(ssc, EM_SECONDS(1));
    em_rdd_queue_free(queue);
    return status;
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0, time = 0;
    if (argc == 5 && strcmp(argv[1], "--replay") == 0) {
        if (!g_ascii_string_to_signed(argv[3], 10, 1000, G_MAXINT64, &time, NULL))
            return usage();
        conninfo = argv[4];
        return create_table() ? replay(argv[2], time) : EXIT_FAILURE;
    }
    if (argc < 4 || argc > 5 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 5 && !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT64, &batches, NULL)))
        return usage();
    conninfo = argv[3];
    if (!create_table())
        return EXIT_FAILURE;

    em_ssc *ssc = em_ssc_new("local[2]", "PostgresWordCount", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    count_words(em_socket_text_stream(ssc, argv[1], (int)port));
    em_ssc_stop_after_batches(ssc, batches); /* 0 runs until killed */
    return run_ssc(ssc, 0);
}
