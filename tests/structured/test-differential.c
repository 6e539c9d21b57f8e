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

/* What PySpark prints running script over dir (the further arguments after it). */
static char *spark_run(const char *script, const char *dir, const char *arg)
{
    g_autofree char *path = g_strdup_printf("%s/tests/structured/%s", EMBER_SOURCE_ROOT, script);
    const char *argv[] = {"python3", path, dir, arg, NULL};
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

/* Runs query over the texts (one batch each, num_rows shown, 0: Spark's 20) and returns its
 * console output. */
typedef em_df *(*build_fn)(const em_df *lines, em_output_mode *mode);

static char *ember_console_of(const char *const *texts, size_t n, build_fn build, size_t num_rows)
{
    const char **batches = g_new(const char *, n);
    char **trimmed = g_new(char *, n);
    for (size_t i = 0; i < n; i++) {
        /* The text source's lines: the final newline ends the last line. */
        trimmed[i] = g_strndup(texts[i], strlen(texts[i]) - 1);
        batches[i] = trimmed[i];
    }
    query_fixture fx;
    query_fixture_init(&fx, batches, n);
    em_output_mode mode;
    g_autoptr(em_df) df = build(fx.lines, &mode);
    GError *err = NULL;
    g_autoptr(em_query) q = em_query_start(df,
                                           &(em_query_opts){.mode = mode,
                                                            .trigger = EM_TRIGGER_AVAILABLE_NOW,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .num_rows = num_rows},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    query_fixture_run(&fx, (int)n + 1);
    cr_assert(em_query_await_termination(q, &err), "%s", err ? err->message : "");
    char *out = g_strdup(fx.console);
    query_fixture_fini(&fx);
    for (size_t i = 0; i < n; i++)
        g_free(trimmed[i]);
    g_free(trimmed);
    g_free(batches);
    return out;
}

static char *ember_console(build_fn build)
{
    return ember_console_of(files, G_N_ELEMENTS(files), build, 0);
}

/* Writes texts[0..n) into dir as part-I.txt, modified in that order (Spark's file source
 * takes files oldest first). */
static void write_files(const char *dir, const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        cr_assert(g_file_set_contents(path, texts[i], -1, NULL));
        struct utimbuf times = {.actime = 1000000000 + (time_t)i,
                                .modtime = 1000000000 + (time_t)i};
        cr_assert_eq(utime(path, &times), 0);
    }
}

static void remove_files(const char *dir, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        g_unlink(path);
    }
    g_rmdir(dir);
}

static em_df *words_of(const em_df *lines)
{
    GError *err = NULL;
    g_autoptr(em_df) exploded = ok(em_df_explode_split(lines, "value", " ", "word", &err), err);
    const char *cols[] = {"word"};
    return ok(em_df_select(exploded, cols, 1, &err), err);
}

static em_df *word_counts(const em_df *lines, em_output_mode *mode)
{
    GError *err = NULL;
    g_autoptr(em_df) words = words_of(lines);
    const char *by[] = {"word"};
    *mode = EM_OUTPUT_COMPLETE;
    return ok(em_df_group_by_count(words, by, 1, &err), err);
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
    write_files(dir, files, G_N_ELEMENTS(files));
    g_autofree char *spark = spark_run("spark_console.py", dir, NULL);
    g_autofree char *counts = ember_console(word_counts);
    g_autofree char *late = ember_console(words_from_b);
    g_autofree char *ember = g_strconcat(counts, late, NULL);
    cr_assert_str_eq(ember, spark);
    remove_files(dir, G_N_ELEMENTS(files));
}

/* Word i of the order test: 1 to 9 characters (every tail length of Murmur3's 4-byte words). */
static char *order_word(int i) { return g_strdup_printf("%.*s%d", i % 6, "abcdefghij", i); }

/* Four batches of 120 to 140 distinct words, overlapping, each line's first two words again at
 * its end: 360 words over Spark's 200 partitions, so that partitions hold several keys, their
 * maps grow and resize, and later batches add words to partitions that have some. */
static char **order_texts(void)
{
    static const int ranges[4][2] = {{0, 120}, {80, 220}, {200, 330}, {300, 360}};
    char **texts = g_new0(char *, 5);
    for (size_t b = 0; b < 4; b++) {
        GString *text = g_string_new(NULL);
        for (int k = ranges[b][0]; k < ranges[b][1]; k += 7) {
            int end = MIN(k + 7, ranges[b][1]);
            for (int i = k; i < end; i++) {
                g_autofree char *w = order_word(i);
                g_string_append_printf(text, "%s%s", i > k ? " " : "", w);
            }
            for (int i = k; i < MIN(k + 2, end); i++) {
                g_autofree char *w = order_word(i);
                g_string_append_printf(text, " %s", w);
            }
            g_string_append_c(text, '\n');
        }
        texts[b] = g_string_free(text, FALSE);
    }
    return texts;
}

Test(differential, complete_mode_prints_rows_in_sparks_state_store_order)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_auto(GStrv) texts = order_texts();
    size_t n = g_strv_length(texts);
    g_autofree char *dir = g_dir_make_tmp("ember-differential-XXXXXX", NULL);
    cr_assert_not_null(dir);
    write_files(dir, (const char *const *)texts, n);
    g_autofree char *spark = spark_run("spark_wordcount_order.py", dir, "1000");
    g_autofree char *ember = ember_console_of((const char *const *)texts, n, word_counts, 1000);
    cr_assert_str_eq(ember, spark);
    remove_files(dir, n);
}
