/* Checkpointed event-time queries restarted in the same process, each run on a new
 * StreamingContext over the same checkpoint directory: the programming guide's late-data
 * walk-through, a session window and dropDuplicates, stopped at every batch boundary (and with
 * the last batch logged but not committed), print exactly what an uninterrupted run prints; the
 * watermark is logged as Spark logs it; a corrupt state file or another query's state is
 * refused naming the file. (test-table-kill.c kills real processes running one.) */
#include "file-fixture.h"

#define MIN_MS (60 * 1000)

typedef struct {
    char *root, *in, *ck;
} dirs;

/* A new input directory holding batches[i] as the file read by trigger i + 1 (one file per
 * trigger, in order of modification time), and a checkpoint path. */
static dirs make_dirs(const char *const *batches, size_t n)
{
    dirs d = {tmp_dir(), NULL, NULL};
    d.in = g_build_filename(d.root, "in", NULL);
    d.ck = g_build_filename(d.root, "ck", NULL);
    cr_assert_eq(g_mkdir(d.in, 0755), 0);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *name = g_strdup_printf("%02zu.csv", i);
        g_autofree char *text = g_strdup_printf("%s\n", batches[i]);
        put_file(d.in, name, text, 100 * (long)(i + 1));
    }
    return d;
}

static void free_dirs(dirs *d)
{
    g_free(d->in);
    g_free(d->ck);
    tmp_dir_free(d->root);
}

/* "ts,word" lines of in's files -> (timestamp, word) rows, watermarked by delay when >= 0. */
static em_df *events_of(em_ssc *ssc, const char *in, em_duration delay)
{
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, &err),
           err);
    g_autoptr(em_schema) schema = schema_of("timestamp timestamp, word string");
    g_autoptr(em_df) events = ok(em_df_from_csv(lines, "value", schema, NULL, &err), err);
    if (delay < 0)
        return g_steal_pointer(&events);
    return ok(em_df_with_watermark(events, "timestamp", delay, &err), err);
}

typedef enum { GUIDE, SESSIONS, SESSIONS_NO_WATERMARK, DEDUP } query_kind;

/* The query of kind over in's files. */
static em_df *build(em_ssc *ssc, const char *in, query_kind kind)
{
    GError *err = NULL;
    /* the guide's 10 minutes; 10 seconds for the sessions (of a 10 second gap) */
    em_duration delay = kind == SESSIONS_NO_WATERMARK ? -1
                        : kind == SESSIONS            ? 10 * 1000
                                                      : 10 * MIN_MS;
    g_autoptr(em_df) events = events_of(ssc, in, delay);
    if (kind == DEDUP) {
        const char *cols[] = {"word", "timestamp"};
        return ok(em_df_drop_duplicates(events, cols, 2, &err), err);
    }
    g_autoptr(em_df) windowed =
        kind == GUIDE
            ? ok(em_df_window(events, "timestamp", 10 * MIN_MS, 5 * MIN_MS, &err), err)
            : ok(em_df_session_window(events, "timestamp", 10 * 1000, "window", &err), err);
    const char *keys[] = {"window", "word"};
    return ok(em_df_group_by_count(windowed, keys, 2, &err), err);
}

/* One run of n triggers on a new ssc over d's checkpoint; returns what the console printed. */
static char *run(const dirs *d, query_kind kind, em_output_mode mode, int n)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = build(ssc, d->in, kind);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    g_autoptr(em_query) q = started(df, &(em_query_opts){.mode = mode,
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

/* The console text cut into its batches (each from its banner on). */
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

/* The guide's late-data walk-through, then a row at 12:40 that moves the watermark to 12:30,
 * and a trigger without a file: append and update run a batch without data (batch 5) that
 * writes or evicts the windows ending by 12:30. */
static const char *const guide[] = {
    "2026-01-01 12:07:00,dog\n2026-01-01 12:08:00,owl",
    "2026-01-01 12:14:00,dog\n2026-01-01 12:09:00,cat",
    "2026-01-01 12:15:00,cat\n2026-01-01 12:08:00,dog\n2026-01-01 12:13:00,owl\n"
    "2026-01-01 12:21:00,owl",
    "2026-01-01 12:17:00,owl\n2026-01-01 12:04:00,donkey",
    "2026-01-01 12:40:00,late-comer",
};
#define GUIDE_TRIGGERS 6

static const char *const sessions_in[] = {
    "2026-01-01 10:00:00,a\n2026-01-01 10:00:05,a\n2026-01-01 10:00:03,b",
    "2026-01-01 10:00:14,a\n2026-01-01 10:00:30,b\n2026-01-01 10:00:20,a",
    "2026-01-01 10:00:26,a\n2026-01-01 10:00:50,c",
};
#define SESSION_TRIGGERS 4

static const char *const dedup_in[] = {
    "2026-01-01 12:00:00,a\n2026-01-01 12:00:00,a\n2026-01-01 12:01:00,a",
    "2026-01-01 12:00:00,a\n2026-01-01 12:20:00,b",
    "2026-01-01 12:30:00,c",
    "2026-01-01 12:05:00,a\n2026-01-01 12:20:00,b\n2026-01-01 12:31:00,c",
};
#define DEDUP_TRIGGERS 4

/* Stopped after k triggers for every k, then started again for the rest: the two runs print
 * what one uninterrupted run prints, byte for byte. Returns the uninterrupted run's text. */
static char *check_restarts(const char *const *in, size_t n_in, query_kind kind,
                            em_output_mode mode, int triggers, unsigned want_batches)
{
    dirs d = make_dirs(in, n_in);
    char *whole = run(&d, kind, mode, triggers);
    free_dirs(&d);
    g_autoptr(GPtrArray) parts = batches_of(whole);
    cr_assert_eq(parts->len, want_batches, "%s", whole);
    for (int k = 1; k < triggers; k++) {
        d = make_dirs(in, n_in);
        g_autofree char *first = run(&d, kind, mode, k);
        g_autofree char *second = run(&d, kind, mode, triggers - k);
        g_autofree char *both = g_strconcat(first, second, NULL);
        cr_assert_str_eq(both, whole, "stopped after %d triggers", k);
        free_dirs(&d);
    }
    return whole;
}

/* After batch k - 1 ran, its commit is lost (as when the process dies just before writing
 * it): the restart runs batch k - 1 again from the state before it, with its logged offsets
 * and watermark, so it prints that batch again, the same, then goes on as the uninterrupted
 * run. */
static void check_replays(const char *const *in, size_t n_in, query_kind kind, em_output_mode mode,
                          int triggers, const char *whole)
{
    g_autoptr(GPtrArray) parts = batches_of(whole);
    for (guint k = 1; k <= parts->len; k++) {
        dirs d = make_dirs(in, n_in);
        g_autofree char *first = run(&d, kind, mode, (int)k);
        g_autofree char *commit = g_strdup_printf("%s/commits/%u", d.ck, k - 1);
        cr_assert_eq(g_unlink(commit), 0, "%s", commit);
        g_autofree char *second = run(&d, kind, mode, triggers - (int)k + 1);
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

Test(eventtime_restart, guide_append_mode_restarted_at_every_batch_writes_each_window_once)
{
    g_autofree char *whole =
        check_restarts(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_APPEND, GUIDE_TRIGGERS, 6);
    /* the guide's batch 3 (the watermark at 12:11) and the batch without data (12:30) */
    cr_assert(strstr(whole, "|{2026-01-01 12:00:00, 2026-01-01 12:10:00}|dog   |2    |\n"), "%s",
              whole);
    cr_assert(strstr(whole, "Batch: 5\n"), "%s", whole);
    check_replays(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_APPEND, GUIDE_TRIGGERS, whole);
}

Test(eventtime_restart, guide_update_mode_restarted_at_every_batch_goes_on_exactly)
{
    g_autofree char *whole =
        check_restarts(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_UPDATE, GUIDE_TRIGGERS, 6);
    check_replays(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_UPDATE, GUIDE_TRIGGERS, whole);
}

/* Complete mode keeps every window and runs no batch without data. */
Test(eventtime_restart, guide_complete_mode_restarted_at_every_batch_goes_on_exactly)
{
    g_autofree char *whole =
        check_restarts(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_COMPLETE, GUIDE_TRIGGERS, 5);
    check_replays(guide, G_N_ELEMENTS(guide), GUIDE, EM_OUTPUT_COMPLETE, GUIDE_TRIGGERS, whole);
}

Test(eventtime_restart, session_windows_restarted_at_every_batch_merge_and_close_as_uninterrupted)
{
    g_autofree char *append = check_restarts(sessions_in, G_N_ELEMENTS(sessions_in), SESSIONS,
                                             EM_OUTPUT_APPEND, SESSION_TRIGGERS, 4);
    /* a's five events make one session across the three batches, written once */
    cr_assert(strstr(append, "|{2026-01-01 10:00:00, 2026-01-01 10:00:36}|a   |5    |\n"), "%s",
              append);
    check_replays(sessions_in, G_N_ELEMENTS(sessions_in), SESSIONS, EM_OUTPUT_APPEND,
                  SESSION_TRIGGERS, append);
    g_autofree char *complete = check_restarts(sessions_in, G_N_ELEMENTS(sessions_in),
                                               SESSIONS_NO_WATERMARK, EM_OUTPUT_COMPLETE, 3, 3);
    check_replays(sessions_in, G_N_ELEMENTS(sessions_in), SESSIONS_NO_WATERMARK,
                  EM_OUTPUT_COMPLETE, 3, complete);
}

Test(eventtime_restart, drop_duplicates_restarted_at_every_batch_writes_each_row_once)
{
    g_autofree char *whole = check_restarts(dedup_in, G_N_ELEMENTS(dedup_in), DEDUP,
                                            EM_OUTPUT_APPEND, DEDUP_TRIGGERS, 4);
    /* (12:00, a) is written in batch 0 only, though batch 1 repeats it */
    const char *row = "|2026-01-01 12:00:00|a   |\n";
    const char *at = strstr(whole, row);
    cr_assert(at && !strstr(at + 1, row), "%s", whole);
    check_replays(dedup_in, G_N_ELEMENTS(dedup_in), DEDUP, EM_OUTPUT_APPEND, DEDUP_TRIGGERS,
                  whole);
}

static int64_t ms_of(const char *iso)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);
    cr_assert_not_null(dt, "%s", iso);
    return g_date_time_to_unix(dt) * 1000;
}

/* offsets/<id>'s metadata carries the watermark the batch ran with, commits/<id> the one the
 * next batch starts from, as Spark writes them. */
Test(eventtime_restart, the_watermark_is_logged_with_offsets_and_commits_as_spark)
{
    dirs d = make_dirs(guide, G_N_ELEMENTS(guide));
    g_autofree char *console = run(&d, GUIDE, EM_OUTPUT_APPEND, 4);
    g_autofree char *offsets_dir = g_build_filename(d.ck, "offsets", NULL);
    g_autofree char *commits_dir = g_build_filename(d.ck, "commits", NULL);
    /* batch 2 ran with 12:04 (12:14 - 10 min) and left 12:11 (12:21 - 10 min) */
    g_autofree char *offsets = file_text(offsets_dir, "2");
    g_autofree char *want = g_strdup_printf("v1\n{\"batchWatermarkMs\":%" G_GINT64_FORMAT
                                            ",\"batchTimestampMs\":3000,\"conf\":",
                                            (gint64)ms_of("2026-01-01T12:04:00Z"));
    cr_assert(g_str_has_prefix(offsets, want), "%s", offsets);
    g_autofree char *commit = file_text(commits_dir, "2");
    g_autofree char *want_commit =
        g_strdup_printf("v1\n{\"nextBatchWatermarkMs\":%" G_GINT64_FORMAT "}",
                        (gint64)ms_of("2026-01-01T12:11:00Z"));
    cr_assert_str_eq(commit, want_commit);
    g_autofree char *first = file_text(offsets_dir, "0");
    cr_assert(g_str_has_prefix(first, "v1\n{\"batchWatermarkMs\":0,"), "%s", first);
    cr_assert(file_exists(d.ck, "state/0/0/checkpoint-4"));
    free_dirs(&d);
}

/* A start that must fail on d's checkpoint; returns the error message. */
static char *refused(const dirs *d, query_kind kind)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = build(ssc, d->in, kind);
    GError *err = NULL;
    em_query *q = em_query_start(df,
                                 &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                  .sink = EM_SINK_MEMORY,
                                                  .checkpoint_location = d->ck},
                                 &err);
    cr_assert_null(q);
    cr_assert_not_null(err);
    char *message = g_strdup(err->message);
    g_error_free(err);
    em_ssc_free(ssc);
    return message;
}

Test(eventtime_restart, a_corrupt_state_file_is_refused_naming_it)
{
    dirs d = make_dirs(guide, G_N_ELEMENTS(guide));
    g_autofree char *console = run(&d, GUIDE, EM_OUTPUT_APPEND, 3);
    g_autofree char *path = g_build_filename(d.ck, "state", "0", "0", "checkpoint-3", NULL);
    g_autofree char *bytes = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(path, &bytes, &len, NULL));
    cr_assert_gt(len, 40);
    bytes[len - 5] ^= 0x5a; /* a bit flip in the records: the CRC no longer matches */
    cr_assert(g_file_set_contents(path, bytes, (gssize)len, NULL));
    g_autofree char *message = refused(&d, GUIDE);
    g_autofree char *prefix =
        g_strdup_printf("checkpoint %s: the state of operator 0 (stateStoreSave) after batch 2: ",
                        d.ck);
    cr_assert(g_str_has_prefix(message, prefix), "%s", message);
    cr_assert(strstr(message, path), "%s", message);
    /* a missing one too */
    cr_assert_eq(g_unlink(path), 0);
    g_autofree char *missing = refused(&d, GUIDE);
    cr_assert(strstr(missing, path), "%s", missing);
    free_dirs(&d);
}

/* The checkpoint of a windowed count restarted as dropDuplicates: its operator 0 is another
 * kind, so its state is refused rather than misread. */
Test(eventtime_restart, another_operators_state_is_refused)
{
    dirs d = make_dirs(guide, G_N_ELEMENTS(guide));
    g_autofree char *console = run(&d, GUIDE, EM_OUTPUT_APPEND, 2);
    g_autofree char *message = refused(&d, DEDUP);
    g_autofree char *path = g_build_filename(d.ck, "state", "0", "0", "checkpoint-2", NULL);
    g_autofree char *want = g_strdup_printf(
        "checkpoint %s: the state of operator 0 (dedupe) after batch 1: %s holds the state of a "
        "stateStoreSave operator, but operator 0 of this query is dedupe: the query changed "
        "since the checkpoint was written (start it on a new checkpoint_location)",
        d.ck, path);
    cr_assert_str_eq(message, want);
    free_dirs(&d);
}
