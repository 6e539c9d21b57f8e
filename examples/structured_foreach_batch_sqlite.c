/* structured_foreach_batch_sqlite: Structured Streaming's foreachBatch writing to a database: a
 * running word count of the lines a TCP server sends (update mode), each batch's changed counts
 * upserted into a SQLite table keyed by word, in one transaction that also records the batch id,
 * so that a batch delivered again (Spark's foreachBatch guarantees the same rows for the same
 * batch id, not a single delivery) is skipped instead of applied twice. An application of the
 * public library (<ember.h>) and SQLite's C API.
 *
 * Usage: structured_foreach_batch_sqlite HOST PORT DB_FILE [BATCHES]
 *        structured_foreach_batch_sqlite --replay DB_FILE QUERY_ID BATCH_ID ROWS_FILE
 * The first reads lines from a TCP server (`line_server 9999`); BATCHES, an Ember addition,
 * stops it after that many triggers. The second (an Ember addition too) delivers one batch
 * again as the engine would after a failure: the rows of ROWS_FILE ("word,count" lines) as
 * batch BATCH_ID of query QUERY_ID, through the same function. The tables are made when missing:
 *   word_counts(word text primary key, count integer)
 *   foreach_batch_commits(query_id text primary key, batch_id integer): the last batch applied
 * Each batch prints "Batch N: K row(s) upserted" or "Batch N: already applied, skipped".
 *
 *   val wordCounts = spark.readStream.format("socket").option("host", host)
 *     .option("port", port).load().as[String].flatMap(_.split(" ")).groupBy("value").count()
 *   wordCounts.writeStream.outputMode("update").foreachBatch {
 *     (batch: DataFrame, batchId: Long) =>
 *       withTransaction(db) { tx =>
 *         if (tx.lastBatch(queryId) < batchId) {
 *           batch.collect().foreach(r => tx.upsert(r.getString(0), r.getLong(1)))
 *           tx.setLastBatch(queryId, batchId)
 *         }
 *       }
 *   }.start()
 *
 * Batch ids count per query: without a checkpoint each run is a new query (a new id) whose
 * batches start at 0 again, which is why the last batch is kept per query id.
 */
#include <ember.h>

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREATE_TABLES                                                                             \
    "CREATE TABLE IF NOT EXISTS word_counts (word TEXT PRIMARY KEY, count INTEGER NOT NULL);"     \
    "CREATE TABLE IF NOT EXISTS foreach_batch_commits (query_id TEXT PRIMARY KEY, "               \
    "batch_id INTEGER NOT NULL);"
#define LAST_BATCH "SELECT batch_id FROM foreach_batch_commits WHERE query_id = ?1"
#define UPSERT                                                                                    \
    "INSERT INTO word_counts (word, count) VALUES (?1, ?2) "                                      \
    "ON CONFLICT (word) DO UPDATE SET count = excluded.count"
#define SET_LAST_BATCH                                                                            \
    "INSERT INTO foreach_batch_commits (query_id, batch_id) VALUES (?1, ?2) "                     \
    "ON CONFLICT (query_id) DO UPDATE SET batch_id = excluded.batch_id"

typedef struct sink {
    sqlite3 *db;
    const char *path;
    const char *query_id; /* set before the first batch can run */
} sink;

/* Fails with SQLite's message, naming the file and the batch. */
static bool db_error(sink *s, int64_t batch_id, GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s: batch %" G_GINT64_FORMAT ": %s", s->path,
                batch_id, sqlite3_errmsg(s->db));
    return false;
}

/* The last batch applied for the query, or -1. */
static bool last_batch(sink *s, int64_t *last)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, LAST_BATCH, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, s->query_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* Upserts the rows (word, count) and records the batch; inside the caller's transaction. */
static bool upsert_rows(sink *s, const em_values *rows, int64_t batch_id)
{
    sqlite3_stmt *up = NULL, *mark = NULL;
    bool ok = sqlite3_prepare_v2(s->db, UPSERT, -1, &up, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(s->db, SET_LAST_BATCH, -1, &mark, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < rows->n; i++) {
        em_value word = em_row_get(rows->items[i], 0), count = em_row_get(rows->items[i], 1);
        sqlite3_bind_text(up, 1, word.len ? word.as.s : "", (int)word.len, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, count.as.i);
        ok = sqlite3_step(up) == SQLITE_DONE && sqlite3_reset(up) == SQLITE_OK;
    }
    if (ok) {
        sqlite3_bind_text(mark, 1, s->query_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(mark, 2, batch_id);
        ok = sqlite3_step(mark) == SQLITE_DONE;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(mark);
    return ok;
}

/* foreachBatch: one transaction per batch; a batch id at or below the last one applied for the
 * query changes nothing. A failure rolls the transaction back and fails the batch (the query
 * then stops with the error, as Spark's). */
static bool write_batch(em_df *batch, int64_t batch_id, void *ud, GError **err)
{
    sink *s = ud;
    g_autoptr(em_values) rows = em_df_collect(batch, err);
    if (!rows)
        return false;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(s, batch_id, err);
    int64_t last = -1;
    if (!last_batch(s, &last) || (last < batch_id && !upsert_rows(s, rows, batch_id))) {
        db_error(s, batch_id, err);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_error(s, batch_id, err);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    if (last >= batch_id)
        printf("Batch %" G_GINT64_FORMAT ": already applied, skipped\n", batch_id);
    else
        printf("Batch %" G_GINT64_FORMAT ": %zu row(s) upserted\n", batch_id, rows->n);
    fflush(stdout);
    return true;
}

static bool open_db(sink *s, const char *path, GError **err)
{
    s->path = path;
    if (sqlite3_open(path, &s->db) != SQLITE_OK ||
        sqlite3_exec(s->db, CREATE_TABLES, NULL, NULL, NULL) != SQLITE_OK) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s: %s", path,
                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return false;
    }
    sqlite3_busy_timeout(s->db, 5000); /* another writer holds the file: wait for it */
    return true;
}

static void receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "structured_foreach_batch_sqlite: %s\n", info->last_error);
}

/* The streaming query: socket lines, word counts in update mode, foreachBatch to s. */
static bool run_query(const char *host, int port, int64_t batches, sink *s, GError **err)
{
    em_ssc *ssc = em_ssc_new("local[2]", "StructuredForeachBatchSqlite", EM_SECONDS(1));
    if (!ssc) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "cannot make the StreamingContext");
        return false;
    }
    g_autoptr(em_df) lines = em_df_read_socket(ssc, host, port);
    g_autoptr(em_df) words = em_df_explode_split(lines, "value", " ", "value", err);
    const char *by[] = {"value"};
    g_autoptr(em_df) word_counts = words ? em_df_group_by_count(words, by, 1, err) : NULL;
    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_error = receiver_error}, NULL);
    /* The ssc starts once the query id is known to the sink. */
    g_autoptr(em_query) query = word_counts ? em_query_start(word_counts,
                                                             &(em_query_opts){
                                                                 .mode = EM_OUTPUT_UPDATE,
                                                                 .sink = EM_SINK_FOREACH_BATCH,
                                                                 .foreach_batch = write_batch,
                                                                 .ud = s,
                                                                 .defer_ssc_start = true,
                                                             },
                                                             err)
                                            : NULL;
    if (query)
        s->query_id = em_query_id(query);
    bool ok = query && em_ssc_start(ssc, err) && em_query_await_termination(query, err);
    em_ssc_free(ssc);
    return ok;
}

/* --replay: the rows of rows_file as batch batch_id of query_id, through write_batch. */
static bool replay(sink *s, const char *query_id, int64_t batch_id, const char *rows_file,
                   GError **err)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(rows_file, &text, NULL, err))
        return false;
    em_context *sc = em_context_new("local[1]", "StructuredForeachBatchSqlite", err);
    if (!sc)
        return false;
    g_autoptr(em_schema) schema = em_schema_parse("value string, count long", err);
    g_strchomp(text);
    g_autoptr(em_df) batch = schema ? em_df_from_text(sc, schema, text, err) : NULL;
    s->query_id = query_id;
    bool ok = batch && write_batch(batch, batch_id, s, err);
    g_clear_pointer(&batch, em_df_free);
    em_context_free(sc);
    return ok;
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0, batch_id = 0;
    bool is_replay = argc == 6 && strcmp(argv[1], "--replay") == 0;
    if (is_replay ? !g_ascii_string_to_signed(argv[4], 10, 0, G_MAXINT64, &batch_id, NULL)
                  : (argc < 4 || argc > 5 ||
                     !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
                     (argc == 5 &&
                      !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT64, &batches, NULL)))) {
        fprintf(stderr, "Usage: structured_foreach_batch_sqlite <hostname> <port> <db-file> "
                        "[<batches>]\n"
                        "       structured_foreach_batch_sqlite --replay <db-file> <query-id> "
                        "<batch-id> <rows-file>\n");
        return 2;
    }
    GError *err = NULL;
    sink s = {0};
    bool ok = open_db(&s, is_replay ? argv[2] : argv[3], &err) &&
              (is_replay ? replay(&s, argv[3], batch_id, argv[5], &err)
                         : run_query(argv[1], (int)port, batches, &s, &err));
    if (!ok)
        fprintf(stderr, "structured_foreach_batch_sqlite: %s\n", err->message);
    g_clear_error(&err);
    sqlite3_close(s.db);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
