/* Ember's files against PySpark 3.5 itself: Spark reads the output of Ember's file sink after * a
 * kill -9 between a part file and its _spark_metadata entry (the orphan part file must stay
 * invisible to it too) and twelve batches (the log compacted at batch 9), and Spark's file source
 * reports the same offsets per batch as Ember's over the same directory. PySpark runs
 * tests/structured/spark_files.py; the test is skipped, saying so, when python3 cannot import
 * pyspark. */
#include "file-fixture.h"

#include <signal.h>
#include <sys/wait.h>

#define CHILD EMBER_BUILD_ROOT "/tests/table-child"

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

static int spawn(const char *const *argv, char **out)
{
    g_autofree char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    return status;
}

/* Ember's side of the offsets: the same query on the manual clock. */
static char *ember_offsets(const char *in)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, &err),
           err);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 3);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    GString *out = g_string_new(NULL);
    const char *members[] = {"description", "startOffset", "endOffset", "latestOffset"};
    for (size_t b = 0; progress[b]; b++) {
        for (size_t m = 0; m < G_N_ELEMENTS(members); m++) {
            g_autofree char *v = source_member(progress[b], members[m]);
            if (m == 0) /* the description as text, not JSON */
                g_string_append_len(out, v + 1, (gssize)strlen(v) - 2);
            else
                g_string_append(out, v);
            g_string_append_c(out, m + 1 < G_N_ELEMENTS(members) ? '\t' : '\n');
        }
    }
    em_ssc_free(ssc);
    return g_string_free(out, FALSE);
}

Test(differential_files, spark_reads_the_committed_sink_and_reports_the_same_offsets)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    char *root = tmp_dir();
    g_autofree char *in = g_build_filename(root, "in", NULL);
    g_autofree char *ck = g_build_filename(root, "ck", NULL);
    g_autofree char *out = g_build_filename(root, "out", NULL);
    g_autofree char *text_in = g_build_filename(root, "text", NULL);
    g_autofree char *spark_ck = g_build_filename(root, "spark-ck", NULL);
    cr_assert_eq(g_mkdir(in, 0755), 0);
    cr_assert_eq(g_mkdir(text_in, 0755), 0); /* Twelve batches: the sink's log is compacted at
                                                batch 9, as Spark's readers expect. */
    GString *expected = g_string_new(NULL);
    for (int i = 0; i < 12; i++) {
        g_autofree char *name = g_strdup_printf("%02d.json", i);
        g_autofree char *row = g_strdup_printf("{\"word\":\"w%02d\",\"n\":%d}\n", i, i);
        put_file(in, name, row, 100 + i);
        g_string_append_printf(expected, "w%02d,%d\n", i, i);
    }
    const char *kill[] = {CHILD, "sink", in, ck, out, "parts", "1", NULL};
    int status = spawn(kill, NULL);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "not killed: %d", status);
    const char *again[] = {CHILD, "sink", in, ck, out, NULL};
    cr_assert_eq(spawn(again, NULL), 0);
    g_auto(GStrv) parts = names_with(out, "part-");
    cr_assert_eq(g_strv_length(parts), 13); /* one orphan */
    g_autofree char *log_dir = g_build_filename(out, "_spark_metadata", NULL);
    cr_assert(file_exists(log_dir, "9.compact"));
    cr_assert_not(file_exists(log_dir, "9"));

    put_file(text_in, "x.txt", "x\n", 1000000000);
    put_file(text_in, "y.txt", "y1\ny2\n", 1000000001);
    g_autofree char *ember = ember_offsets(text_in);
    g_autofree char *spark = NULL;
    const char *argv[] = {"python3", EMBER_SOURCE_ROOT "/tests/structured/spark_files.py",
                          out,       text_in,
                          spark_ck,  NULL};
    cr_assert_eq(spawn(argv, &spark), 0, "pyspark failed");
    g_autofree char *want = g_strconcat(expected->str, "--\n", ember, NULL);
    g_string_free(expected, TRUE);
    cr_assert_str_eq(spark, want);
    tmp_dir_free(root);
}
