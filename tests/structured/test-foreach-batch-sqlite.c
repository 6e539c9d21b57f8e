/* structured_foreach_batch_sqlite runs as the built program it is: the socket word count reads
 * from the example line_server on 127.0.0.1 (--once) and its foreachBatch upserts into a real
 * SQLite file, read back here with SQLite's C API. Which lines fall in which trigger depends on
 * timing, so the checks are exact on what does not: the table after the last batch, the batch
 * ids printed in order, and the last one recorded. Its --replay form delivers a batch again as
 * the engine would after a failure: a batch id already applied changes nothing. */
#include "../examples/example-fixture.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (60 * G_USEC_PER_SEC)

static const char text[] = "to be or not to be\nthat is the question\n";

/* Runs the program with argv; returns its stdout, *errors gets stderr, *code its exit code. */
static char *run(const char *const *argv, char **errors, int *code)
{
    char *out = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(WIFEXITED(status), "status %d", status);
    *code = WEXITSTATUS(status);
    return out;
}

/* The rows of sql's result as "a=1 b=2 " (columns joined by '='). */
static char *query_text(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s",
                 db_path);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    GString *out = g_string_new(NULL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        for (int c = 0; c < sqlite3_column_count(st); c++)
            g_string_append_printf(out, "%s%c", (const char *)sqlite3_column_text(st, c),
                                   c + 1 < sqlite3_column_count(st) ? '=' : ' ');
    cr_assert_eq(rc, SQLITE_DONE, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return g_string_free(out, FALSE);
}

#define COUNTS "SELECT word, count FROM word_counts ORDER BY word"
#define COMMITS "SELECT query_id, batch_id FROM foreach_batch_commits ORDER BY query_id"

static char *replay(const char *db, const char *query_id, const char *batch_id, const char *rows,
                    const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "rows.txt", NULL);
    cr_assert(g_file_set_contents(path, rows, -1, NULL));
    const char *argv[] = {EXAMPLES "structured_foreach_batch_sqlite",
                          "--replay",
                          db,
                          query_id,
                          batch_id,
                          path,
                          NULL};
    g_autofree char *errors = NULL;
    int code = -1;
    char *out = run(argv, &errors, &code);
    cr_assert_eq(code, 0, "%s", errors);
    g_unlink(path);
    return out;
}

Test(foreach_batch_sqlite, the_table_holds_the_running_counts_after_the_last_batch)
{
    g_autofree char *dir = g_dir_make_tmp("ember-sqlite-XXXXXX", NULL);
    cr_assert_not_null(dir);
    g_autofree char *path = g_build_filename(dir, "text.txt", NULL);
    g_autofree char *db = g_build_filename(dir, "counts.db", NULL);
    cr_assert(g_file_set_contents(path, text, -1, NULL));
    const char *server_argv[] = {EXAMPLES "line_server", "--once", "0", path, NULL};
    proc server = spawn(server_argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    g_autofree char *port_text = g_strdup_printf("%d", port);
    const char *argv[] =
        {EXAMPLES "structured_foreach_batch_sqlite", "127.0.0.1", port_text, db, "3", NULL};
    g_autofree char *errors = NULL;
    int code = -1;
    g_autofree char *out = run(argv, &errors, &code);
    cr_assert_eq(code, 0, "%s", errors);
    wait_exit(&server, g_get_monotonic_time() + TIMEOUT_US);

    /* Batch ids 0, 1, ... one line each; their rows sum to at least the 8 distinct words. */
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    size_t n = g_strv_length(lines);
    cr_assert_geq(n, 2, "no batch:\n%s", out);
    cr_assert_str_eq(lines[n - 1], "", "output not ending a line:\n%s", out);
    int rows = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        long long id = -1;
        int k = 0;
        char tail[32] = "";
        cr_assert_eq(sscanf(lines[i], "Batch %lld: %d row(s) %31s", &id, &k, tail), 3, "%s",
                     lines[i]);
        cr_assert_eq(id, (long long)i, "%s", lines[i]);
        cr_assert_str_eq(tail, "upserted");
        rows += k;
    }
    cr_assert_geq(rows, 8);
    g_autofree char *counts = query_text(db, COUNTS);
    cr_assert_str_eq(counts, "be=2 is=1 not=1 or=1 question=1 that=1 the=1 to=2 ");
    g_autofree char *commits = query_text(db, "SELECT batch_id FROM foreach_batch_commits");
    g_autofree char *last = g_strdup_printf("%zu ", n - 2);
    cr_assert_str_eq(commits, last);

    /* The last batch delivered again, with other rows: skipped, the table unchanged. */
    g_autofree char *qid = query_text(db, "SELECT query_id FROM foreach_batch_commits");
    g_strchomp(qid);
    g_autofree char *last_id = g_strdup_printf("%zu", n - 2);
    g_autofree char *again = replay(db, qid, last_id, "to,99\nnew,5\n", dir);
    g_autofree char *skipped = g_strdup_printf("Batch %s: already applied, skipped\n", last_id);
    cr_assert_str_eq(again, skipped);
    g_autofree char *after = query_text(db, COUNTS);
    cr_assert_str_eq(after, counts);
    g_unlink(db);
    g_unlink(path);
    g_rmdir(dir);
}

Test(foreach_batch_sqlite, a_batch_id_already_applied_changes_nothing)
{
    g_autofree char *dir = g_dir_make_tmp("ember-sqlite-XXXXXX", NULL);
    cr_assert_not_null(dir);
    g_autofree char *db = g_build_filename(dir, "counts.db", NULL);
    g_autofree char *b0 = replay(db, "q1", "0", "a,1\nb,2\n", dir);
    cr_assert_str_eq(b0, "Batch 0: 2 row(s) upserted\n");
    g_autofree char *b1 = replay(db, "q1", "1", "b,3\nc,1\n", dir);
    cr_assert_str_eq(b1, "Batch 1: 2 row(s) upserted\n");
    g_autofree char *counts = query_text(db, COUNTS);
    cr_assert_str_eq(counts, "a=1 b=3 c=1 ");
    /* Batch 1 again, and a stale batch 0 (its counts would roll b back to 2): both skipped. */
    g_autofree char *again = replay(db, "q1", "1", "b,3\nc,1\n", dir);
    cr_assert_str_eq(again, "Batch 1: already applied, skipped\n");
    g_autofree char *stale = replay(db, "q1", "0", "a,1\nb,2\n", dir);
    cr_assert_str_eq(stale, "Batch 0: already applied, skipped\n");
    g_autofree char *unchanged = query_text(db, COUNTS);
    cr_assert_str_eq(unchanged, "a=1 b=3 c=1 ");
    /* Another query (a new run without a checkpoint) numbers its batches from 0 again. */
    g_autofree char *other = replay(db, "q2", "0", "a,4\n", dir);
    cr_assert_str_eq(other, "Batch 0: 1 row(s) upserted\n");
    g_autofree char *counts2 = query_text(db, COUNTS);
    cr_assert_str_eq(counts2, "a=4 b=3 c=1 ");
    g_autofree char *commits = query_text(db, COMMITS);
    cr_assert_str_eq(commits, "q1=1 q2=0 ");
    g_unlink(db);
    g_rmdir(dir);
}

Test(foreach_batch_sqlite, a_database_that_cannot_be_opened_fails_naming_it)
{
    g_autofree char *dir = g_dir_make_tmp("ember-sqlite-XXXXXX", NULL);
    cr_assert_not_null(dir);
    g_autofree char *db = g_build_filename(dir, "missing", "counts.db", NULL);
    const char *argv[] =
        {EXAMPLES "structured_foreach_batch_sqlite", "127.0.0.1", "9", db, "1", NULL};
    g_autofree char *errors = NULL;
    int code = -1;
    g_autofree char *out = run(argv, &errors, &code);
    cr_assert_eq(code, 1);
    cr_assert_str_eq(out, "");
    g_autofree char *want =
        g_strdup_printf("structured_foreach_batch_sqlite: %s: unable to open database file\n", db);
    cr_assert_str_eq(errors, want);
    g_rmdir(dir);
}
