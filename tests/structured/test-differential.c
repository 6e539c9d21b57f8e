/* Ember against PySpark 3.5 itself: the same queries over the same text files, one file per
 * trigger, and their console output compared byte for byte. PySpark runs
 * tests/structured/spark_console.py (local[2], UTC) in a subprocess; Ember runs the same
 * queries on the manual clock, each file's lines one batch. The test is skipped, saying so,
 * when python3 cannot import pyspark. */
#include "query-fixture.h"
#include "spark-fixture.h"

#include <glib/gstdio.h>
#include <utime.h>
#include <string.h>

/* Words long enough to be cut at 20 characters, wide characters, empty words (two spaces,
 * empty lines), repeats across files. */
static const char *const files[] = {
    "a b a\nc\n",
    "b  a\nan extraordinarily-long-word-indeed here\n",
    "\n日本語 c c\nb\n",
};

/* What PySpark prints for the files in dir. */
static char *spark_console(const char *dir)
{
    const char *argv[] = {"python3", EMBER_SOURCE_ROOT "/tests/structured/spark_console.py", dir,
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

/* Runs query over the files (one batch each) and returns its console output. */
typedef em_df *(*build_fn)(const em_df *lines, em_output_mode *mode);

static char *ember_console(build_fn build)
{
    const char *batches[G_N_ELEMENTS(files)];
    char *trimmed[G_N_ELEMENTS(files)];
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        /* The text source's lines: the final newline ends the last line. */
        trimmed[i] = g_strndup(files[i], strlen(files[i]) - 1);
        batches[i] = trimmed[i];
    }
    query_fixture fx;
    query_fixture_init(&fx, batches, G_N_ELEMENTS(files));
    em_output_mode mode;
    g_autoptr(em_df) df = build(fx.lines, &mode);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(df,
                                           &(em_query_opts){.mode = mode,
                                                            .trigger = EM_TRIGGER_AVAILABLE_NOW,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out},
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

static em_df *words_of(const em_df *lines)
{
    GError *err = NULL;
    g_autoptr(em_df) exploded = ok(em_df_explode_split(lines, "value", " ", "word", &err), err);
    const char *cols[] = {"word"};
    return ok(em_df_select(exploded, cols, 1, &err), err);
}

static em_df *sorted_counts(const em_df *lines, em_output_mode *mode)
{
    GError *err = NULL;
    g_autoptr(em_df) words = words_of(lines);
    const char *by[] = {"word"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(words, by, 1, &err), err);
    *mode = EM_OUTPUT_COMPLETE;
    return ok(em_df_order_by(counts, by, 1, &err), err);
}

static em_df *words_from_b(const em_df *lines, em_output_mode *mode)
{
    GError *err = NULL;
    g_autoptr(em_df) words = words_of(lines);
    *mode = EM_OUTPUT_APPEND;
    return ok(em_df_filter_cmp(words, "word", EM_CMP_GE, em_str("b"), &err), err);
}

Test(differential, console_output_matches_pyspark_byte_for_byte)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_autofree char *dir = g_dir_make_tmp("ember-differential-XXXXXX", NULL);
    cr_assert_not_null(dir);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        cr_assert(g_file_set_contents(path, files[i], -1, NULL));
        /* Spark's file source takes files oldest first: make the order the files'. */
        struct utimbuf times = {.actime = 1000000000 + (time_t)i,
                                .modtime = 1000000000 + (time_t)i};
        cr_assert_eq(utime(path, &times), 0);
    }
    g_autofree char *spark = spark_console(dir);
    g_autofree char *counts = ember_console(sorted_counts);
    g_autofree char *late = ember_console(words_from_b);
    g_autofree char *ember = g_strconcat(counts, late, NULL);
    cr_assert_str_eq(ember, spark);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        g_unlink(path);
    }
    g_rmdir(dir);
}
