/* Ember's files against PySpark 3.5 itself: Spark reads the output of Ember's file sink after a
 * kill -9 between a part file and its _spark_metadata entry (the orphan part file must stay
 * invisible to it too) and twelve batches (the log compacted at batch 9); Spark's file source
 * reports the same offsets per batch as Ember's over the same directory; Spark resumes a file
 * source query from an Ember checkpoint whose sources/0 log is compacted, and Ember one from a
 * Spark checkpoint, each reading just the new files (a file older than maxFileAge ignored), and
 * the two compacted logs are the same text. PySpark runs
 * tests/structured/spark_files.py; the test is skipped, saying so, when python3 cannot import
 * pyspark. */
#include "file-fixture.h"
#include "spark-fixture.h"

#include <signal.h>
#include <sys/wait.h>

#define CHILD EMBER_BUILD_ROOT "/tests/table-child"

static int spawn(const char *const *argv, char **out)
{
    g_autofree char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    if (!g_spawn_check_wait_status(status, NULL) && errors) /* what went wrong, for the log */
        fprintf(stderr, "%s: %s\n", argv[0],
                strlen(errors) > 4000 ? errors + strlen(errors) - 4000 : errors);
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

/* Twelve text files f00..f11 in dir ("s00".. one line each), a minute apart. */
static void put_twelve(const char *dir)
{
    cr_assert_eq(g_mkdir(dir, 0755), 0);
    for (int i = 0; i < 12; i++) {
        g_autofree char *name = g_strdup_printf("f%02d.txt", i);
        g_autofree char *line = g_strdup_printf("s%02d\n", i);
        put_file(dir, name, line, 1700000000 + 60 * i);
    }
}

/* Two newer files, and one modified 8 days before the newest taken (older than maxFileAge). */
static void put_more(const char *dir)
{
    put_file(dir, "f12.txt", "s12\n", 1700000000 + 60 * 12);
    put_file(dir, "f13.txt", "s13\n", 1700000000 + 60 * 13);
    put_file(dir, "old.txt", "old\n", 1700000000 + 60 * 11 - 8 * 24 * 3600);
}

/* Ember's file source query over in (text, maxFilesPerTrigger 1, memory sink) with checkpoint
 * ck, n triggers: each batch's "start\tend" offsets, then its rows, as Spark's side prints. */
static char *ember_drain(const char *in, const char *ck, int n)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, &err),
           err);
    g_autoptr(em_query) q =
        started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = ck});
    run_batches(ssc, n);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    GString *out = g_string_new(NULL);
    for (size_t b = 0; progress[b]; b++) {
        g_autofree char *start = source_member(progress[b], "startOffset");
        g_autofree char *end = source_member(progress[b], "endOffset");
        g_string_append_printf(out, "%s\t%s\n", start, end);
    }
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    g_autofree char *text = em_values_to_string(rows);
    g_string_append_printf(out, "%s\n", text);
    em_ssc_free(ssc);
    return g_string_free(out, FALSE);
}

/* Ember's file sink over in (JSON of word string, n long, three files a trigger) into out:
 * a part file per non-empty file of a batch. */
static void ember_parts_sink(const char *in, const char *ck, const char *out, int n)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of("word string, n long");
    g_autoptr(em_df) rows = ok(em_df_read_files(ssc, in,
                                                &(em_file_source_opts){.format = EM_FILE_JSON,
                                                                       .schema = schema,
                                                                       .max_files_per_trigger = 3},
                                                &err),
                               err);
    g_autoptr(em_query) q = started(rows, &(em_query_opts){.sink = EM_SINK_FILE,
                                                           .path = out,
                                                           .file_format = EM_FILE_JSON,
                                                           .checkpoint_location = ck});
    run_batches(ssc, n);
    em_ssc_free(ssc);
}

/* The text of ck's sources/0/name with every dir replaced by "DIR". */
static char *source_log(const char *ck, const char *name, const char *dir)
{
    g_autofree char *log = g_build_filename(ck, "sources", "0", NULL);
    g_autofree char *text = file_text(log, name);
    g_auto(GStrv) pieces = g_strsplit(text, dir, -1);
    return g_strjoinv("DIR", pieces);
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
    g_autofree char *ember_src = g_build_filename(root, "ember-src", NULL);
    g_autofree char *ember_src_ck = g_build_filename(root, "ember-src-ck", NULL);
    g_autofree char *spark_src = g_build_filename(root, "spark-src", NULL);
    g_autofree char *spark_src_ck = g_build_filename(root, "spark-src-ck", NULL);
    g_autofree char *parts_in = g_build_filename(root, "parts-in", NULL);
    g_autofree char *parts_ck = g_build_filename(root, "parts-ck", NULL);
    g_autofree char *parts_out = g_build_filename(root, "parts-out", NULL);
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

    /* Ember's twelve batches: sources/0 holds 0..8, 9.compact (batches 0..9), 10 and 11. */
    put_twelve(ember_src);
    g_autofree char *first = ember_drain(ember_src, ember_src_ck, 12);
    cr_assert(g_str_has_suffix(first, "{\"logOffset\":10}\t{\"logOffset\":11}\n[(s00), (s01), "
                                      "(s02), (s03), (s04), (s05), (s06), (s07), (s08), (s09), "
                                      "(s10), (s11)]\n"),
              "%s", first);
    g_autofree char *ember_log_dir = g_build_filename(ember_src_ck, "sources", "0", NULL);
    g_auto(GStrv) ember_log = names_with(ember_log_dir, "");
    g_autofree char *ember_names = g_strjoinv(" ", ember_log);
    cr_assert_str_eq(ember_names, "0 1 10 11 2 3 4 5 6 7 8 9.compact");
    put_more(ember_src);
    put_twelve(spark_src);

    /* Two batches of three and two files (one empty): four part files, two per batch entry. */
    cr_assert_eq(g_mkdir(parts_in, 0755), 0);
    GString *parts_rows = g_string_new(NULL);
    for (int i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("%d.json", i);
        g_autofree char *rows = i == 1 ? g_strdup("")
                                       : g_strdup_printf("{\"word\":\"p%d\",\"n\":%d}\n"
                                                         "{\"word\":\"q%d\",\"n\":%d}\n",
                                                         i, i, i, -i);
        put_file(parts_in, name, rows, 100 + i);
    }
    for (int i = 0; i < 5; i++)
        if (i != 1)
            g_string_append_printf(parts_rows, "p%d,%d\n", i, i);
    for (int i = 0; i < 5; i++)
        if (i != 1)
            g_string_append_printf(parts_rows, "q%d,%d\n", i, -i);
    ember_parts_sink(parts_in, parts_ck, parts_out, 2);
    g_auto(GStrv) many = names_with(parts_out, "part-");
    cr_assert_eq(g_strv_length(many), 4);

    g_autofree char *spark = NULL;
    const char *argv[] = {"python3",    EMBER_SOURCE_ROOT "/tests/structured/spark_files.py",
                          out,          text_in,
                          spark_ck,     ember_src,
                          ember_src_ck, spark_src,
                          spark_src_ck, parts_out,
                          NULL};
    cr_assert_eq(spawn(argv, &spark), 0, "pyspark failed");
    g_autofree char *want = g_strconcat(expected->str, "--\n", ember, "--\n",
                                        "{\"logOffset\":11}\t{\"logOffset\":12}\n"
                                        "{\"logOffset\":12}\t{\"logOffset\":13}\n"
                                        "s12\ns13\n--\n",
                                        parts_rows->str, NULL);
    g_string_free(parts_rows, TRUE);
    g_string_free(expected, TRUE);
    cr_assert_str_eq(spark, want);

    /* Spark's compacted log is Ember's, file for file. */
    const char *logged[] = {"0", "8", "9.compact", "10", "11"};
    for (size_t i = 0; i < G_N_ELEMENTS(logged); i++) {
        g_autofree char *by_spark = source_log(spark_src_ck, logged[i], spark_src);
        g_autofree char *by_ember = source_log(ember_src_ck, logged[i], ember_src);
        cr_assert_str_eq(by_ember, by_spark, "sources/0/%s", logged[i]);
    }
    /* Ember resumes Spark's checkpoint: the new files only. */
    put_more(spark_src);
    g_autofree char *resumed = ember_drain(spark_src, spark_src_ck, 3);
    cr_assert_str_eq(resumed, "{\"logOffset\":11}\t{\"logOffset\":12}\n"
                              "{\"logOffset\":12}\t{\"logOffset\":13}\n"
                              "[(s12), (s13)]\n");
    tmp_dir_free(root);
}
