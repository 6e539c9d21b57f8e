/* The file source on real directories and the manual clock: which files a trigger takes
 * (oldest first, maxFilesPerTrigger, latestFirst, files added later), its offsets in the
 * progress as Spark prints them, JSON files by a schema, and the files log in the checkpoint. */
#include "file-fixture.h"

static em_df *text_source(em_ssc *ssc, const char *dir, int max_files, bool latest_first)
{
    GError *err = NULL;
    return ok(em_df_read_files(ssc, dir,
                               &(em_file_source_opts){.format = EM_FILE_TEXT,
                                                      .max_files_per_trigger = max_files,
                                                      .latest_first = latest_first},
                               &err),
              err);
}

Test(file_source, takes_new_files_oldest_first_at_most_max_files_per_trigger)
{
    char *dir = tmp_dir();
    put_file(dir, "f-b.txt", "b1\nb2\n", 100);
    put_file(dir, "f-a.txt", "a1\n", 200);
    put_file(dir, "f-c.txt", "c1", 100); /* no final newline: still one line */
    put_file(dir, ".hidden", "h\n", 50);
    put_file(dir, "_SUCCESS", "", 50);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, dir, 2, false);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    /* Batch 0: f-b and f-c (time 100, then by name); batch 1: f-a (200). */
    run_batches(ssc, 2);
    g_autofree char *two = memory_text(q);
    cr_assert_str_eq(two, "[(b1), (b2), (c1), (a1)]");
    /* A file that appears later is new even when it is older than those taken. */
    put_file(dir, "f-d.txt", "d1\n", 50);
    run_batches(ssc, 2); /* the second brings nothing: no batch */
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(b1), (b2), (c1), (a1), (d1)]");
    cr_assert_eq(em_query_batches(q), 3);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 3);
    g_autofree char *desc = source_member(progress[0], "description");
    g_autofree char *want = g_strdup_printf("\"FileStreamSource[file:%s]\"", dir);
    cr_assert_str_eq(desc, want);
    /* Spark's FileStreamSource: a null start before the first commit, log offsets as
     * objects, and no latestOffset. */
    const char *expect[3][3] = {{"null", "{\"logOffset\":0}", "null"},
                                {"{\"logOffset\":0}", "{\"logOffset\":1}", "null"},
                                {"{\"logOffset\":1}", "{\"logOffset\":2}", "null"}};
    const char *members[3] = {"startOffset", "endOffset", "latestOffset"};
    for (int b = 0; b < 3; b++)
        for (int m = 0; m < 3; m++) {
            g_autofree char *got = source_member(progress[b], members[m]);
            cr_assert_str_eq(got, expect[b][m], "batch %d %s", b, members[m]);
        }
    g_autofree char *rows = source_member(progress[0], "numInputRows");
    cr_assert_str_eq(rows, "3");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, latest_first_takes_the_newest_files_first)
{
    char *dir = tmp_dir();
    put_file(dir, "old.txt", "old\n", 100);
    put_file(dir, "mid.txt", "mid\n", 200);
    put_file(dir, "new.txt", "new\n", 300);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, dir, 1, true);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 3);
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(new), (mid), (old)]");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, json_files_by_schema_with_bad_lines_as_nulls)
{
    char *dir = tmp_dir();
    put_file(dir, "events.json",
             "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":31.5}\n"
             "not json\n"
             "{\"device\":\"d2\",\"temp\":7}\n",
             100);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_schema) schema = schema_of("device string, level string, temp double");
    GError *err = NULL;
    g_autoptr(em_df) events =
        ok(em_df_read_files(ssc, dir,
                            &(em_file_source_opts){.format = EM_FILE_JSON, .schema = schema},
                            &err),
           err);
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(events));
    cr_assert_str_eq(ddl, "device string, level string, temp double");
    g_autoptr(em_query) q = started(events, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(d1,HIGH,31.5), (null,null,null), (d2,null,7.0)]");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, json_and_csv_without_a_schema_are_refused)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    cr_assert_null(
        em_df_read_files(ssc, "/tmp", &(em_file_source_opts){.format = EM_FILE_CSV}, &err));
    cr_assert_str_eq(err->message, "file source: the json and csv formats need a schema "
                                   "(Spark's readStream.schema(...)); only text has one of its "
                                   "own");
    g_error_free(err);
    em_ssc_free(ssc);
}

Test(file_source, an_unreadable_directory_fails_the_query_naming_it)
{
    char *dir = tmp_dir();
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, missing, 0, false);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    GError *err = NULL;
    cr_assert_not(em_query_await_termination(q, &err));
    g_autofree char *want = g_strdup_printf("file source: cannot list %s", missing);
    cr_assert(strstr(err->message, want), "%s", err->message);
    g_error_free(err);
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, the_checkpoint_logs_each_batch_files_offsets_and_commits_as_spark)
{
    char *dir = tmp_dir(), *in = g_build_filename(dir, "in", NULL),
         *ck = g_build_filename(dir, "ck", NULL);
    cr_assert_eq(g_mkdir(in, 0755), 0);
    put_file(in, "one.txt", "x\n", 1000000000);
    put_file(in, "two.txt", "y\n", 1000000001);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, in, 1, false);
    g_autoptr(em_query) q =
        started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = ck});
    run_batches(ssc, 2);
    g_autofree char *metadata = file_text(ck, "metadata");
    g_autofree char *want_meta = g_strdup_printf("{\"id\":\"%s\"}", em_query_id(q));
    cr_assert_str_eq(metadata, want_meta);
    g_autofree char *log1 = file_text(ck, "sources/0/1");
    g_autofree char *want_log1 = g_strdup_printf(
        "v1\n{\"path\":\"file://%s/two.txt\",\"timestamp\":1000000001000,\"batchId\":1}", in);
    cr_assert_str_eq(log1, want_log1);
    g_autofree char *offsets = file_text(ck, "offsets/1");
    /* v1, the batch's metadata (its time: 2 s on the manual clock), the source's offset. */
    cr_assert(g_str_has_prefix(offsets, "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":2000,"
                                        "\"conf\":{"),
              "%s", offsets);
    cr_assert(g_str_has_suffix(offsets, "}}\n{\"logOffset\":1}"), "%s", offsets);
    g_autofree char *commit = file_text(ck, "commits/1");
    cr_assert_str_eq(commit, "v1\n{\"nextBatchWatermarkMs\":0}");
    cr_assert_not(file_exists(ck, "offsets/2"));
    em_ssc_free(ssc);
    g_free(in);
    g_free(ck);
    tmp_dir_free(dir);
}

#define DAY_S (24 * 3600)

Test(file_source, max_file_age_ignores_files_older_than_a_week_before_the_newest_taken)
{
    char *dir = tmp_dir();
    /* The first trigger takes every file, however old (Spark: nothing purged yet). */
    put_file(dir, "a.txt", "a\n", 1000);
    put_file(dir, "b.txt", "b\n", 1000 + 10 * DAY_S);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, dir, 0, false);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    /* Then the limit is b's time less 7 days: c is a second older, d just on it. */
    put_file(dir, "c.txt", "c\n", 1000 + 3 * DAY_S - 1);
    put_file(dir, "d.txt", "d\n", 1000 + 3 * DAY_S);
    put_file(dir, "e.txt", "e\n", 1000 + 10 * DAY_S + 1);
    run_batches(ssc, 2);
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(a), (b), (d), (e)]");
    cr_assert_eq(em_query_batches(q), 2);
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, max_file_age_is_an_option_relative_to_the_newest_file)
{
    char *dir = tmp_dir();
    put_file(dir, "x.txt", "x\n", 100);
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, dir, &(em_file_source_opts){.max_file_age_ms = 2000}, &err), err);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    put_file(dir, "y.txt", "y\n", 98); /* 100 s - 2 s: kept */
    put_file(dir, "z.txt", "z\n", 97);
    run_batches(ssc, 1);
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(x), (y)]");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(file_source, latest_first_with_max_files_per_trigger_reads_old_files_too)
{
    /* Spark (SPARK-19813): with both, maxFileAge is ignored, or the old files a trigger left
     * behind would be lost. */
    char *dir = tmp_dir();
    put_file(dir, "old.txt", "old\n", 1000);
    put_file(dir, "new.txt", "new\n", 1000 + 10 * DAY_S);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = text_source(ssc, dir, 1, true);
    g_autoptr(em_query) q = started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 2);
    g_autofree char *all = memory_text(q);
    cr_assert_str_eq(all, "[(new), (old)]");
    em_ssc_free(ssc);
    /* latestFirst alone keeps the age. */
    char *dir2 = tmp_dir();
    put_file(dir2, "new.txt", "new\n", 1000 + 10 * DAY_S);
    ssc = table_ssc();
    g_autoptr(em_df) lines2 = text_source(ssc, dir2, 0, true);
    g_autoptr(em_query) q2 = started(lines2, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    put_file(dir2, "old.txt", "old\n", 1000);
    run_batches(ssc, 1);
    g_autofree char *only_new = memory_text(q2);
    cr_assert_str_eq(only_new, "[(new)]");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
    tmp_dir_free(dir2);
}

Test(file_source, a_negative_max_file_age_is_refused)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    cr_assert_null(
        em_df_read_files(ssc, "/tmp/in", &(em_file_source_opts){.max_file_age_ms = -1}, &err));
    cr_assert_str_eq(err->message, "file source /tmp/in: maxFileAge must not be negative (-1 ms)");
    g_error_free(err);
    em_ssc_free(ssc);
}
