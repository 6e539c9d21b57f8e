/* Checkpointed queries restarted in the same process, each run on a new StreamingContext over
 * the same checkpoint directory: the id is kept, batch ids and offsets go on, a batch logged
 * but not committed runs again with its own offsets, and an aggregation's groups come back so
 * that complete and update output go on exactly. (test-table-kill.c kills real processes.) */
#include "file-fixture.h"

typedef struct {
    char *root, *in, *ck;
} dirs;

static dirs make_dirs(void)
{
    dirs d = {tmp_dir(), NULL, NULL};
    d.in = g_build_filename(d.root, "in", NULL);
    d.ck = g_build_filename(d.root, "ck", NULL);
    cr_assert_eq(g_mkdir(d.in, 0755), 0);
    return d;
}

static void free_dirs(dirs *d)
{
    g_free(d->in);
    g_free(d->ck);
    tmp_dir_free(d->root);
}

static em_df *lines_of(em_ssc *ssc, const char *in)
{
    GError *err = NULL;
    return ok(em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, &err),
              err);
}

/* One run: a new ssc, the lines of in to memory, n batches; returns the rows it wrote and
 * the batch ids its progress reports ("1,2"). */
static void run_lines(const dirs *d, int n, char **rows, char **ids, char **query_id)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = lines_of(ssc, d->in);
    g_autoptr(em_query) q =
        started(lines, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = d->ck});
    run_batches(ssc, n);
    *rows = memory_text(q);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    GString *text = g_string_new(NULL);
    for (size_t i = 0; progress[i]; i++) {
        g_autoptr(JsonParser) parser = json_parser_new();
        cr_assert(json_parser_load_from_data(parser, progress[i], -1, NULL));
        JsonObject *p = json_node_get_object(json_parser_get_root(parser));
        g_string_append_printf(text, "%s%" G_GINT64_FORMAT, i ? "," : "",
                               json_object_get_int_member(p, "batchId"));
    }
    *ids = g_string_free(text, FALSE);
    *query_id = g_strdup(em_query_id(q));
    em_ssc_free(ssc);
}

Test(query_restart, resumes_after_the_last_commit_with_the_same_id_reading_no_file_twice)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "one\n", 100);
    put_file(d.in, "2.txt", "two\n", 200);
    g_autofree char *rows1 = NULL, *ids1 = NULL, *id1 = NULL;
    run_lines(&d, 3, &rows1, &ids1, &id1);
    cr_assert_str_eq(rows1, "[(one), (two)]");
    cr_assert_str_eq(ids1, "0,1");
    put_file(d.in, "3.txt", "three\n", 50);
    g_autofree char *rows2 = NULL, *ids2 = NULL, *id2 = NULL;
    run_lines(&d, 2, &rows2, &ids2, &id2);
    cr_assert_str_eq(rows2, "[(three)]");
    cr_assert_str_eq(ids2, "2");
    cr_assert_str_eq(id2, id1);
    free_dirs(&d);
}

Test(query_restart, a_batch_logged_but_not_committed_runs_again_with_its_offsets)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "one\n", 100);
    put_file(d.in, "2.txt", "two\n", 200);
    g_autofree char *rows1 = NULL, *ids1 = NULL, *id1 = NULL;
    run_lines(&d, 2, &rows1, &ids1, &id1);
    cr_assert_str_eq(ids1, "0,1");
    /* As if the process died after batch 1 ran but before its commit was written. */
    g_autofree char *commit = g_build_filename(d.ck, "commits", "1", NULL);
    cr_assert_eq(g_unlink(commit), 0);
    put_file(d.in, "3.txt", "three\n", 300);
    g_autofree char *rows2 = NULL, *ids2 = NULL, *id2 = NULL;
    run_lines(&d, 3, &rows2, &ids2, &id2);
    /* Batch 1 again with file 2 only (its logged offsets), then batch 2 with file 3. */
    cr_assert_str_eq(rows2, "[(two), (three)]");
    cr_assert_str_eq(ids2, "1,2");
    free_dirs(&d);
}

/* The word count of in, complete mode, sorted, printed to the console; returns what it
 * printed in n batches. */
static char *run_counts(const dirs *d, int n, em_output_mode mode)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines = lines_of(ssc, d->in);
    g_autoptr(em_df) words = ok(em_df_explode_split(lines, "value", " ", "word", &err), err);
    const char *by[] = {"word"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(words, by, 1, &err), err);
    g_autoptr(em_df) sorted = ok(em_df_order_by(counts, by, 1, &err), err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    g_autoptr(em_query) q = started(mode == EM_OUTPUT_COMPLETE ? sorted : counts,
                                    &(em_query_opts){.mode = mode,
                                                     .sink = EM_SINK_CONSOLE,
                                                     .console_out = out,
                                                     .checkpoint_location = d->ck});
    run_batches(ssc, n);
    em_ssc_free(ssc);
    fclose(out);
    return text;
}

#define BANNER(n)                                                                                 \
    "-------------------------------------------\nBatch: " #n "\n"                                \
    "-------------------------------------------\n"

Test(query_restart, the_aggregation_state_comes_back_so_complete_output_goes_on)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "a b\n", 100);
    put_file(d.in, "2.txt", "a\n", 200);
    g_autofree char *first = run_counts(&d, 2, EM_OUTPUT_COMPLETE);
    /* Batch 1 did not commit: the restart runs it again from the groups after batch 0. */
    g_autofree char *commit = g_build_filename(d.ck, "commits", "1", NULL);
    cr_assert_eq(g_unlink(commit), 0);
    put_file(d.in, "3.txt", "b c\n", 300);
    g_autofree char *second = run_counts(&d, 2, EM_OUTPUT_COMPLETE);
    cr_assert_str_eq(second, BANNER(1) "+----+-----+\n"
                                       "|word|count|\n"
                                       "+----+-----+\n"
                                       "|   a|    2|\n"
                                       "|   b|    1|\n"
                                       "+----+-----+\n\n" BANNER(2) "+----+-----+\n"
                                                                    "|word|count|\n"
                                                                    "+----+-----+\n"
                                                                    "|   a|    2|\n"
                                                                    "|   b|    2|\n"
                                                                    "|   c|    1|\n"
                                                                    "+----+-----+\n\n");
    free_dirs(&d);
}

Test(query_restart, update_output_goes_on_from_the_restored_groups)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "a b a\n", 100);
    g_autofree char *first = run_counts(&d, 1, EM_OUTPUT_UPDATE);
    put_file(d.in, "2.txt", "a\n", 200);
    g_autofree char *second = run_counts(&d, 1, EM_OUTPUT_UPDATE);
    cr_assert_str_eq(second, BANNER(1) "+----+-----+\n"
                                       "|word|count|\n"
                                       "+----+-----+\n"
                                       "|   a|    3|\n"
                                       "+----+-----+\n\n");
    free_dirs(&d);
}

Test(query_restart, a_commit_without_logged_offsets_is_a_corrupt_checkpoint)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "one\n", 100);
    g_autofree char *rows = NULL, *ids = NULL, *id = NULL;
    run_lines(&d, 1, &rows, &ids, &id);
    g_autofree char *offsets = g_build_filename(d.ck, "offsets", "0", NULL);
    cr_assert_eq(g_unlink(offsets), 0);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) lines = lines_of(ssc, d.in);
    GError *err = NULL;
    cr_assert_null(
        em_query_start(lines,
                       &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = d.ck},
                       &err));
    g_autofree char *want =
        g_strdup_printf("checkpoint %s: batch 0 is committed but its offsets are not logged",
                        d.ck);
    cr_assert_str_eq(err->message, want);
    g_error_free(err);
    em_ssc_free(ssc);
    free_dirs(&d);
}

/* Batch 1 changes one group of five: its state is saved as the changes since batch 0's (an
 * incremental mapWithState checkpoint naming its base by state version); the restart walks
 * that chain back. */
Test(query_restart, groups_saved_as_changes_since_the_last_version_come_back)
{
    dirs d = make_dirs();
    put_file(d.in, "1.txt", "a b c d e\n", 100);
    put_file(d.in, "2.txt", "a\n", 200);
    g_autofree char *first = run_counts(&d, 2, EM_OUTPUT_UPDATE);
    put_file(d.in, "3.txt", "c\n", 300);
    g_autofree char *second = run_counts(&d, 1, EM_OUTPUT_UPDATE);
    cr_assert_str_eq(second, BANNER(2) "+----+-----+\n"
                                       "|word|count|\n"
                                       "+----+-----+\n"
                                       "|   c|    2|\n"
                                       "+----+-----+\n\n");
    free_dirs(&d);
}
