/* Ember's event time against PySpark 3.5 itself: the guide's windowed word count with a
 * watermark over the same timestamped lines, one file (Ember: one batch) per trigger, in update,
 * append and complete modes, and the word's session windows (5 minutes) in complete mode and,
 * watermarked, append mode. PySpark runs tests/structured/spark_eventtime.py (local[2], UTC);
 * complete mode is ordered by (window, word) and compared byte for byte, update and append per
 * batch as sets of rows (Spark writes groups in its hash order). Skipped, saying so, when
 * python3 cannot import pyspark. */
#include "query-fixture.h"
#include "spark-fixture.h"

#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#define MIN_MS (60 * 1000)

/* Out of order within the delay, late rows dropped (10:01 d in batch 3, 10:18 z's first window
 * in batch 4), windows evicted by a watermark moved within a batch. */
static const char *const files[] = {
    "2026-01-01 10:02:00,a\n2026-01-01 10:03:00,b\n2026-01-01 10:11:00,a\n",
    "2026-01-01 10:25:00,c\n2026-01-01 10:04:00,a\n2026-01-01 10:26:00,b\n",
    "2026-01-01 10:09:00,a\n2026-01-01 10:30:00,c\n",
    "2026-01-01 10:01:00,d\n2026-01-01 10:22:00,a\n2026-01-01 10:40:00,e\n",
    "2026-01-01 10:31:00,b\n2026-01-01 10:18:00,z\n",
};

static char *spark_console(const char *dir)
{
    const char *argv[] = {"python3", EMBER_SOURCE_ROOT "/tests/structured/spark_eventtime.py", dir,
                          NULL};
    char *out = NULL, *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "pyspark failed:\n%s", errors);
    g_free(errors);
    return out;
}

static char *ember_console(em_output_mode mode, bool sessions)
{
    const char *batches[G_N_ELEMENTS(files)];
    char *trimmed[G_N_ELEMENTS(files)];
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        trimmed[i] = g_strndup(files[i], strlen(files[i]) - 1);
        batches[i] = trimmed[i];
    }
    query_fixture fx;
    query_fixture_init(&fx, batches, G_N_ELEMENTS(files));
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of("timestamp timestamp, word string");
    g_autoptr(em_df) events = ok(em_df_from_csv(fx.lines, "value", schema, NULL, &err), err);
    /* Spark's session queries: complete without a watermark, append with one */
    bool watermark = !sessions || mode == EM_OUTPUT_APPEND;
    g_autoptr(em_df) marked =
        watermark ? ok(em_df_with_watermark(events, "timestamp", 10 * MIN_MS, &err), err) : NULL;
    em_df *in = marked ? marked : events;
    g_autoptr(em_df) windowed =
        sessions ? ok(em_df_session_window(in, "timestamp", 5 * MIN_MS, "session", &err), err)
                 : ok(em_df_window(in, "timestamp", 10 * MIN_MS, 5 * MIN_MS, &err), err);
    const char *keys[] = {sessions ? "session" : "window", "word"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(windowed, keys, 2, &err), err);
    g_autoptr(em_df) sorted = ok(em_df_order_by(counts, keys, 2, &err), err);
    g_autoptr(em_query) q = em_query_start(mode == EM_OUTPUT_COMPLETE ? sorted : counts,
                                           &(em_query_opts){.mode = mode,
                                                            .trigger = EM_TRIGGER_AVAILABLE_NOW,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, (int)G_N_ELEMENTS(files) + 1);
    cr_assert(em_query_await_termination(q, &err), "%s", err ? err->message : "");
    char *out = g_strdup(fx.console);
    query_fixture_fini(&fx);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
        g_free(trimmed[i]);
    return out;
}

Test(eventtime_differential, windows_and_sessions_in_every_mode_match_pyspark)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_autofree char *dir = g_dir_make_tmp("ember-eventtime-XXXXXX", NULL);
    cr_assert_not_null(dir);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        cr_assert(g_file_set_contents(path, files[i], -1, NULL));
        struct utimbuf times = {.actime = 1000000000 + (time_t)i,
                                .modtime = 1000000000 + (time_t)i};
        cr_assert_eq(utime(path, &times), 0);
    }
    g_autofree char *spark = spark_console(dir);
    g_autofree char *update = ember_console(EM_OUTPUT_UPDATE, false);
    g_autofree char *append = ember_console(EM_OUTPUT_APPEND, false);
    g_autofree char *complete = ember_console(EM_OUTPUT_COMPLETE, false);
    g_autofree char *s_complete = ember_console(EM_OUTPUT_COMPLETE, true);
    g_autofree char *s_append = ember_console(EM_OUTPUT_APPEND, true);
    g_autofree char *ember = g_strconcat(update, append, complete, s_complete, s_append, NULL);
    g_autofree char *ember_sorted = rows_sorted(ember);
    g_autofree char *spark_sorted = rows_sorted(spark);
    cr_assert_str_eq(ember_sorted, spark_sorted);
    /* complete mode is ordered: byte for byte */
    cr_assert_not_null(strstr(spark, complete), "Ember's complete mode:\n%s", complete);
    cr_assert_not_null(strstr(spark, s_complete), "Ember's sessions, complete:\n%s", s_complete);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        g_unlink(path);
    }
    g_rmdir(dir);
}
