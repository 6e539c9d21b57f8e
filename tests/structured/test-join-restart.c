/* A checkpointed stream-stream join of two file sources (Spark's guide's impressions and
 * clicks, one file a trigger each) restarted in the same process on a new StreamingContext:
 * stopped at every batch boundary, or with a batch logged but not committed, it prints exactly
 * what an uninterrupted run prints; offsets/<id> logs both sources, one line each, and the
 * global watermark, as Spark's OffsetSeqLog does. (test-table-kill.c kills real processes.) */
#include "file-fixture.h"

#define D "2026-01-01 "
#define HOUR_MS (3600 * 1000)

/* The guide's batches (test-stream-join.c explains what each exercises); the clicks come in
 * three files, so the fourth trigger reads only the impressions. */
static const char *const impressions[] = {
    "1," D "10:00:00\n2," D "10:05:00\n3," D "10:10:00",
    "4," D "11:00:00\n9," D "11:05:00\n12," D "10:30:00",
    "5," D "14:00:00\n10," D "10:15:00\n," D "11:00:00",
    "6," D "15:00:00\n7," D "07:00:00\n11," D "10:20:00",
};
static const char *const clicks[] = {
    "1," D "10:20:00",
    "2," D "10:50:00\n3," D "11:30:00\n4," D "11:30:00\n10," D "10:30:00",
    NULL,
    "5," D "14:30:00\n6," D "15:10:00\n8," D "08:00:00\n11," D "10:25:00",
};
#define N_FILES 4
#define TRIGGERS 6

typedef struct {
    char *root, *in[2], *ck;
} dirs;

static dirs make_dirs(void)
{
    dirs d = {tmp_dir(), {NULL, NULL}, NULL};
    d.ck = g_build_filename(d.root, "ck", NULL);
    for (int s = 0; s < 2; s++) {
        d.in[s] = g_build_filename(d.root, s == 0 ? "impressions" : "clicks", NULL);
        cr_assert_eq(g_mkdir(d.in[s], 0755), 0);
        const char *const *batches = s == 0 ? impressions : clicks;
        for (size_t i = 0; i < N_FILES; i++) {
            if (!batches[i])
                continue;
            g_autofree char *name = g_strdup_printf("%02zu.csv", i);
            g_autofree char *text = g_strdup_printf("%s\n", batches[i]);
            put_file(d.in[s], name, text, 100 * (long)(i + 1));
        }
    }
    return d;
}

static void free_dirs(dirs *d)
{
    g_free(d->in[0]);
    g_free(d->in[1]);
    g_free(d->ck);
    tmp_dir_free(d->root);
}

static em_df *side(em_ssc *ssc, const char *in, const char *ddl, const char *col, int64_t delay)
{
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, &err),
           err);
    g_autoptr(em_schema) schema = schema_of(ddl);
    g_autoptr(em_df) rows = ok(em_df_from_csv(lines, "value", schema, NULL, &err), err);
    return ok(em_df_with_watermark(rows, col, delay, &err), err);
}

/* n triggers of the guide's left outer join on a new ssc over d's checkpoint: the console. */
static char *run(const dirs *d, int n)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) left =
        side(ssc, d->in[0], "adId long, impressionTime timestamp", "impressionTime", 2 * HOUR_MS);
    g_autoptr(em_df) right =
        side(ssc, d->in[1], "clickAdId long, clickTime timestamp", "clickTime", 3 * HOUR_MS);
    GError *err = NULL;
    g_autoptr(em_df) joined = ok(em_df_join(left, right,
                                            "clickAdId = adId AND clickTime >= impressionTime AND "
                                            "clickTime <= impressionTime + interval 1 hour",
                                            EM_JOIN_LEFT_OUTER, &err),
                                 err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    g_autoptr(em_query) q = started(joined, &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                             .sink = EM_SINK_CONSOLE,
                                                             .console_out = out,
                                                             .no_truncate = true,
                                                             .checkpoint_location = d->ck});
    run_batches(ssc, n);
    em_ssc_free(ssc);
    fclose(out);
    return text;
}

#define BANNER_PREFIX "-------------------------------------------\nBatch: "

static GPtrArray *batches_of(const char *console)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    const char *p = strstr(console, BANNER_PREFIX);
    cr_assert(p == console, "the console does not start with a banner: %s", console);
    while (p) {
        const char *next = strstr(p + 1, BANNER_PREFIX);
        g_ptr_array_add(parts, next ? g_strndup(p, (gsize)(next - p)) : g_strdup(p));
        p = next;
    }
    return parts;
}

static char *uninterrupted(void)
{
    dirs d = make_dirs();
    char *whole = run(&d, TRIGGERS);
    free_dirs(&d);
    return whole;
}

Test(join_restart, two_file_sources_restarted_at_every_batch_print_the_uninterrupted_run)
{
    g_autofree char *whole = uninterrupted();
    /* the matches of every batch, ad 10's click meeting its impression buffered a batch before,
     * and the unmatched impressions written once the watermark passes them */
    cr_assert(strstr(whole, "|10  |" D "10:15:00|10       |" D "10:30:00|\n"), "%s", whole);
    cr_assert(strstr(whole, "|11  |" D "10:20:00|11       |" D "10:25:00|\n"), "%s", whole);
    cr_assert(strstr(whole, "|3   |" D "10:10:00|NULL     |NULL               |\n"), "%s", whole);
    g_autoptr(GPtrArray) parts = batches_of(whole);
    cr_assert_geq(parts->len, 5, "%s", whole);
    for (int k = 1; k < TRIGGERS; k++) {
        dirs d = make_dirs();
        g_autofree char *first = run(&d, k);
        g_autofree char *second = run(&d, TRIGGERS - k);
        g_autofree char *both = g_strconcat(first, second, NULL);
        cr_assert_str_eq(both, whole, "stopped after %d triggers", k);
        free_dirs(&d);
    }
}

/* A batch whose offsets were logged but whose commit was lost runs again on the restart with
 * both sources' logged ranges and the state before it: it prints the same rows again. */
Test(join_restart, a_batch_not_committed_runs_again_with_both_sources_logged_ranges)
{
    g_autofree char *whole = uninterrupted();
    g_autoptr(GPtrArray) parts = batches_of(whole);
    for (guint k = 1; k <= parts->len; k++) {
        dirs d = make_dirs();
        g_autofree char *first = run(&d, (int)k);
        g_autofree char *commit = g_strdup_printf("%s/commits/%u", d.ck, k - 1);
        cr_assert_eq(g_unlink(commit), 0, "%s", commit);
        g_autofree char *second = run(&d, TRIGGERS - (int)k + 1);
        GString *want = g_string_new(NULL);
        for (guint i = 0; i < parts->len; i++) {
            g_string_append(want, parts->pdata[i]);
            if (i == k - 1)
                g_string_append(want, parts->pdata[i]);
        }
        g_autofree char *both = g_strconcat(first, second, NULL);
        cr_assert_str_eq(both, want->str, "batch %u not committed", k - 1);
        g_string_free(want, TRUE);
        free_dirs(&d);
    }
}

static int64_t ms_of(const char *iso)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);
    cr_assert_not_null(dt, "%s", iso);
    return g_date_time_to_unix(dt) * 1000;
}

/* The rest of an offsets file after its conf object: one line per source. */
static const char *source_lines(const char *offsets)
{
    const char *conf = strstr(offsets, "\"spark.sql.shuffle.partitions\":\"2\"}}\n");
    cr_assert_not_null(conf, "%s", offsets);
    return strchr(conf, '\n') + 1;
}

Test(join_restart, offsets_log_one_line_per_source_and_the_global_watermark_as_spark)
{
    dirs d = make_dirs();
    g_autofree char *console = run(&d, 4);
    g_autofree char *offsets_dir = g_build_filename(d.ck, "offsets", NULL);
    g_autofree char *commits_dir = g_build_filename(d.ck, "commits", NULL);
    /* batch 0: no watermark yet; each file source at its log batch 0 */
    g_autofree char *o0 = file_text(offsets_dir, "0");
    cr_assert(g_str_has_prefix(o0, "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1000,"
                                   "\"conf\":{"),
              "%s", o0);
    cr_assert_str_eq(source_lines(o0), "{\"logOffset\":0}\n{\"logOffset\":0}");
    /* batch 2 runs with the min of the sides' watermarks after batch 1: impressions 11:05 - 2h
     * = 09:05, clicks 11:30 - 3h = 08:30 */
    g_autofree char *o2 = file_text(offsets_dir, "2");
    g_autofree char *want = g_strdup_printf("v1\n{\"batchWatermarkMs\":%" G_GINT64_FORMAT
                                            ",\"batchTimestampMs\":3000,\"conf\":{",
                                            (gint64)ms_of("2026-01-01T08:30:00Z"));
    cr_assert(g_str_has_prefix(o2, want), "%s", o2);
    cr_assert_str_eq(source_lines(o2), "{\"logOffset\":2}\n{\"logOffset\":2}");
    /* batch 3 reads only the impressions: the clicks' offset stays; it runs with the min of
     * what batch 2 left, impressions 14:00 - 2h = 12:00 and clicks 15:10 - 3h = 12:10 */
    g_autofree char *o3 = file_text(offsets_dir, "3");
    g_autofree char *want3 = g_strdup_printf("v1\n{\"batchWatermarkMs\":%" G_GINT64_FORMAT
                                             ",\"batchTimestampMs\":4000,\"conf\":{",
                                             (gint64)ms_of("2026-01-01T12:00:00Z"));
    cr_assert(g_str_has_prefix(o3, want3), "%s", o3);
    cr_assert_str_eq(source_lines(o3), "{\"logOffset\":3}\n{\"logOffset\":2}");
    /* commit 1 holds the same global watermark, the one batch 2 starts from */
    g_autofree char *c1 = file_text(commits_dir, "1");
    g_autofree char *want_commit =
        g_strdup_printf("v1\n{\"nextBatchWatermarkMs\":%" G_GINT64_FORMAT "}",
                        (gint64)ms_of("2026-01-01T08:30:00Z"));
    cr_assert_str_eq(c1, want_commit);
    free_dirs(&d);
}

/* A side that has read nothing yet is logged as Spark's "-"; a restart reads it back as no
 * offset and starts that source from its beginning. */
Test(join_restart, a_source_without_an_offset_is_logged_as_a_dash_and_restarts_from_nothing)
{
    dirs d = make_dirs();
    /* no clicks before the first trigger: move them away, put them back after batch 0 */
    g_autofree char *held = g_build_filename(d.root, "held", NULL);
    cr_assert_eq(g_rename(d.in[1], held), 0);
    cr_assert_eq(g_mkdir(d.in[1], 0755), 0);
    g_autofree char *first = run(&d, 1);
    g_autofree char *offsets_dir = g_build_filename(d.ck, "offsets", NULL);
    g_autofree char *o0 = file_text(offsets_dir, "0");
    cr_assert_str_eq(source_lines(o0), "{\"logOffset\":0}\n-");
    cr_assert_eq(g_rmdir(d.in[1]), 0);
    cr_assert_eq(g_rename(held, d.in[1]), 0);
    g_autofree char *second = run(&d, 1);
    /* batch 1 reads the clicks' first file: ad 1's click meets its impression of batch 0 */
    cr_assert(strstr(second, "Batch: 1\n"), "%s", second);
    cr_assert(strstr(second, "|1   |" D "10:00:00|1        |" D "10:20:00|\n"), "%s", second);
    g_autofree char *o1 = file_text(offsets_dir, "1");
    cr_assert_str_eq(source_lines(o1), "{\"logOffset\":1}\n{\"logOffset\":0}");
    free_dirs(&d);
}

/* A checkpoint whose offsets log another number of sources than the query reads is refused
 * naming the file; so is an offsets file with more source lines than a query can have. */
Test(join_restart, a_checkpoint_of_another_number_of_sources_is_refused_naming_the_file)
{
    dirs d = make_dirs();
    g_autofree char *console = run(&d, 1);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) one =
        side(ssc, d.in[0], "adId long, impressionTime timestamp", "impressionTime", 2 * HOUR_MS);
    GError *err = NULL;
    cr_assert_null(em_query_start(one,
                                  &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                   .sink = EM_SINK_MEMORY,
                                                   .checkpoint_location = d.ck},
                                  &err));
    g_autofree char *want =
        g_strdup_printf("checkpoint %s: offsets/0 logs 2 source(s) but this query reads 1: the "
                        "query changed "
                        "since the checkpoint was written (start it on a new checkpoint_location)",
                        d.ck);
    cr_assert_str_eq(err->message, want);
    g_clear_error(&err);
    em_ssc_free(ssc);
    g_autofree char *path = g_build_filename(d.ck, "offsets", "0", NULL);
    g_autofree char *text = file_text(d.ck, "offsets/0");
    g_autofree char *three = g_strconcat(text, "\n{\"logOffset\":0}", NULL);
    cr_assert(g_file_set_contents(path, three, -1, NULL));
    ssc = table_ssc();
    g_autoptr(em_df) again =
        side(ssc, d.in[0], "adId long, impressionTime timestamp", "impressionTime", 2 * HOUR_MS);
    cr_assert_null(em_query_start(again,
                                  &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                   .sink = EM_SINK_MEMORY,
                                                   .checkpoint_location = d.ck},
                                  &err));
    cr_assert_eq(err->code, EM_ERROR_CORRUPT);
    g_autofree char *prefix = g_strdup_printf("%s is not an offsets log entry", path);
    cr_assert(g_str_has_prefix(err->message, prefix), "%s", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    free_dirs(&d);
}
