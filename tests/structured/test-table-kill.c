/* kill -9 of real processes running checkpointed structured queries (table-child.c): each
 * child kills itself with SIGKILL when a chosen batch reaches a chosen point -- after its
 * offsets are logged, after the file sink wrote its part file but not its log entry, after
 * the sink, after the aggregation's state was saved, after the commit -- and is started again
 * on the same directories. At the end the file sink's committed output holds every input row
 * exactly once, the word count's console goes on exactly from the last committed batch, and an
 * event-time count in append mode writes each window once, with the count an uninterrupted run
 * writes, and a stream-stream join of two file sources writes each joined or unmatched row
 * once, the rows an uninterrupted run writes. */
#include "file-fixture.h"

#include <signal.h>
#include <sys/wait.h>

#define CHILD EMBER_BUILD_ROOT "/tests/table-child"

typedef struct {
    char *root, *in, *ck, *out;
} dirs;

static dirs make_dirs(void)
{
    dirs d = {tmp_dir(), NULL, NULL, NULL};
    d.in = g_build_filename(d.root, "in", NULL);
    d.ck = g_build_filename(d.root, "ck", NULL);
    d.out = g_build_filename(d.root, "out", NULL);
    cr_assert_eq(g_mkdir(d.in, 0755), 0);
    return d;
}

static void free_dirs(dirs *d)
{
    g_free(d->in), g_free(d->ck), g_free(d->out);
    tmp_dir_free(d->root);
}

/* Runs the child to its end; kill_point NULL: no kill. Returns its wait status. */
static int run_child(const char *mode, const dirs *d, const char *kill_point, int kill_batch)
{
    g_autofree char *batch = g_strdup_printf("%d", kill_batch);
    const char *argv[] = {CHILD, mode, d->in, d->ck, d->out, kill_point, batch, NULL};
    if (!kill_point)
        argv[5] = NULL;
    g_autofree char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    if (!kill_point)
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the restarted child failed (status %d): %s", status, errors);
    return status;
}

static const char *const points[] = {"offsets", "parts", "sink", "state", "commit"};

static char *committed_rows(const dirs *d)
{
    em_context *sc = em_context_new("local[2]", "read-back", NULL);
    g_autoptr(em_schema) schema = schema_of("word string, n long");
    GError *err = NULL;
    em_df *df =
        ok(em_df_read_path(sc, d->out,
                           &(em_file_source_opts){.format = EM_FILE_JSON, .schema = schema}, &err),
           err);
    char *rows = sorted_rows(df);
    em_df_free(df);
    em_context_free(sc);
    return rows;
}

static void put_json_inputs(const dirs *d)
{
    put_file(d->in, "1.json", "{\"word\":\"a\",\"n\":1}\n{\"word\":\"b\",\"n\":2}\n", 100);
    put_file(d->in, "2.json", "{\"word\":\"c\",\"n\":3}\n", 200);
    put_file(d->in, "3.json", "{\"word\":\"d\",\"n\":4}\n", 300);
}

Test(table_kill, the_file_sink_holds_each_row_once_whatever_point_a_kill_hits)
{
    for (size_t p = 0; p < G_N_ELEMENTS(points); p++) {
        for (int batch = 0; batch < 3; batch++) {
            dirs d = make_dirs();
            put_json_inputs(&d);
            int status = run_child("sink", &d, points[p], batch);
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "%s of batch %d: the child was not killed (status %d)", points[p], batch,
                      status);
            run_child("sink", &d, NULL, 0);
            g_autofree char *rows = committed_rows(&d);
            cr_assert_str_eq(rows, "[(a,1), (b,2), (c,3), (d,4)]", "killed at %s of batch %d",
                             points[p], batch);
            g_autofree char *log_dir = g_build_filename(d.out, "_spark_metadata", NULL);
            g_autofree char *commits = g_build_filename(d.ck, "commits", NULL);
            g_auto(GStrv) logged = names_with(log_dir, "");
            g_auto(GStrv) committed = names_with(commits, "");
            g_autofree char *logged_text = g_strjoinv(",", logged);
            g_autofree char *committed_text = g_strjoinv(",", committed);
            cr_assert_str_eq(logged_text, "0,1,2");
            cr_assert_str_eq(committed_text, "0,1,2");
            /* A kill between a part file and its log entry leaves that file orphaned: the
             * batch run again writes a new one, and readers never see the first. */
            g_auto(GStrv) parts = names_with(d.out, "part-");
            cr_assert_eq(g_strv_length(parts), strcmp(points[p], "parts") == 0 ? 4u : 3u,
                         "killed at %s of batch %d", points[p], batch);
            free_dirs(&d);
        }
    }
}

#define BANNER(n)                                                                                 \
    "-------------------------------------------\nBatch: " #n "\n"                                \
    "-------------------------------------------\n"
#define HEAD "+----+-----+\n|word|count|\n+----+-----+\n"
#define FOOT "+----+-----+\n\n"
#define BATCH0 BANNER(0) HEAD "|   a|    1|\n|   b|    1|\n" FOOT
#define BATCH1 BANNER(1) HEAD "|   a|    2|\n|   b|    1|\n" FOOT
#define BATCH2 BANNER(2) HEAD "|   a|    2|\n|   b|    2|\n|   c|    1|\n" FOOT

Test(table_kill, the_word_count_goes_on_from_its_last_committed_state)
{
    struct {
        const char *point;
        const char *console; /* both runs' console */
    } cases[] = {
        /* Killed before batch 1 ran: the restart runs it. */
        {"offsets", BATCH0 BATCH1 BATCH2},
        /* Killed after batch 1 printed, before its commit: the console (at-least-once, as
         * Spark's) prints it again, from the state after batch 0, the same. */
        {"sink", BATCH0 BATCH1 BATCH1 BATCH2},
        {"state", BATCH0 BATCH1 BATCH1 BATCH2},
        /* Killed after the commit: the restart goes on with batch 2. */
        {"commit", BATCH0 BATCH1 BATCH2},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        dirs d = make_dirs();
        put_file(d.in, "1.txt", "a b\n", 100);
        put_file(d.in, "2.txt", "a\n", 200);
        put_file(d.in, "3.txt", "b c\n", 300);
        int status = run_child("counts", &d, cases[i].point, 1);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "%s: not killed",
                  cases[i].point);
        run_child("counts", &d, NULL, 0);
        g_autofree char *console = file_text(d.root, "out");
        cr_assert_str_eq(console, cases[i].console, "killed at %s of batch 1", cases[i].point);
        free_dirs(&d);
    }
}

/* ---- An event-time query: the guide's windowed count with a 10 minute watermark ---- */

static void put_guide_inputs(const dirs *d)
{
    static const char *const guide[] = {
        "{\"word\":\"dog\",\"ts\":\"2026-01-01 12:07:00\"}\n"
        "{\"word\":\"owl\",\"ts\":\"2026-01-01 12:08:00\"}\n",
        "{\"word\":\"dog\",\"ts\":\"2026-01-01 12:14:00\"}\n"
        "{\"word\":\"cat\",\"ts\":\"2026-01-01 12:09:00\"}\n",
        "{\"word\":\"cat\",\"ts\":\"2026-01-01 12:15:00\"}\n"
        "{\"word\":\"dog\",\"ts\":\"2026-01-01 12:08:00\"}\n"
        "{\"word\":\"owl\",\"ts\":\"2026-01-01 12:13:00\"}\n"
        "{\"word\":\"owl\",\"ts\":\"2026-01-01 12:21:00\"}\n",
        "{\"word\":\"owl\",\"ts\":\"2026-01-01 12:17:00\"}\n"
        "{\"word\":\"donkey\",\"ts\":\"2026-01-01 12:04:00\"}\n",
        /* moves the watermark to 12:30: a batch without data writes what ends by then */
        "{\"word\":\"late-comer\",\"ts\":\"2026-01-01 12:40:00\"}\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(guide); i++) {
        g_autofree char *name = g_strdup_printf("%zu.json", i);
        put_file(d->in, name, guide[i], 100 * (long)(i + 1));
    }
}

static char *committed_windows(const dirs *d)
{
    em_context *sc = em_context_new("local[2]", "read-back", NULL);
    g_autoptr(em_schema) schema = schema_of("start timestamp, word string, count long");
    GError *err = NULL;
    em_df *df =
        ok(em_df_read_path(sc, d->out,
                           &(em_file_source_opts){.format = EM_FILE_JSON, .schema = schema}, &err),
           err);
    char *rows = sorted_rows(df);
    em_df_free(df);
    em_context_free(sc);
    return rows;
}

/* The windows ending by 12:30 (the late-comer's stay open), each once, as "[(start us,word,
 * count), ...]" in the order em_values_sort gives. */
static char *guide_windows(void)
{
    static const struct {
        const char *start, *word;
        int count;
    } want[] = {{"11:55", "donkey", 1}, {"12:00", "cat", 1}, {"12:00", "dog", 2},
                {"12:00", "donkey", 1}, {"12:00", "owl", 1}, {"12:05", "cat", 1},
                {"12:05", "dog", 3},    {"12:05", "owl", 2}, {"12:10", "cat", 1},
                {"12:10", "dog", 1},    {"12:10", "owl", 2}, {"12:15", "cat", 1},
                {"12:15", "owl", 2},    {"12:20", "owl", 1}};
    GString *text = g_string_new("[");
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_autofree char *iso = g_strdup_printf("2026-01-01T%s:00Z", want[i].start);
        g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);
        g_string_append_printf(text, "%s(%" G_GINT64_FORMAT ",%s,%d)", i ? ", " : "",
                               (gint64)g_date_time_to_unix(dt) * 1000000, want[i].word,
                               want[i].count);
    }
    g_string_append_c(text, ']');
    return g_string_free(text, FALSE);
}

Test(table_kill, an_event_time_append_query_writes_each_window_once_whatever_point_a_kill_hits)
{
    g_autofree char *want = guide_windows();
    /* batches 0-4 read a file each, batch 5 has no data: the watermark moved to 12:30 */
    for (size_t p = 0; p < G_N_ELEMENTS(points); p++) {
        for (int batch = 0; batch < 6; batch++) {
            dirs d = make_dirs();
            put_guide_inputs(&d);
            int status = run_child("evt", &d, points[p], batch);
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "%s of batch %d: the child was not killed (status %d)", points[p], batch,
                      status);
            run_child("evt", &d, NULL, 0);
            g_autofree char *rows = committed_windows(&d);
            cr_assert_str_eq(rows, want, "killed at %s of batch %d", points[p], batch);
            g_autofree char *commits = g_build_filename(d.ck, "commits", NULL);
            g_auto(GStrv) committed = names_with(commits, "");
            g_autofree char *committed_text = g_strjoinv(",", committed);
            cr_assert_str_eq(committed_text, "0,1,2,3,4,5", "killed at %s of batch %d", points[p],
                             batch);
            free_dirs(&d);
        }
    }
}

/* ---- A stream-stream join of two file sources: the guide's impressions and clicks ---- */

#define IMP(ad, t) "{\"adId\":" ad ",\"impressionTime\":\"2026-01-01 " t "\"}\n"
#define CLICK(ad, t) "{\"clickAdId\":" ad ",\"clickTime\":\"2026-01-01 " t "\"}\n"

/* Four files of impressions, three of clicks (the fourth trigger reads only impressions). */
static void put_join_inputs(const dirs *d)
{
    static const char *const sides[2][4] = {
        {IMP("1", "10:00:00") IMP("2", "10:05:00") IMP("3", "10:10:00"),
         IMP("4", "11:00:00") IMP("9", "11:05:00") IMP("12", "10:30:00"),
         IMP("5", "14:00:00") IMP("10", "10:15:00"),
         IMP("6", "15:00:00") IMP("7", "07:00:00") IMP("11", "10:20:00")},
        {CLICK("1", "10:20:00"),
         CLICK("2", "10:50:00") CLICK("3", "11:30:00") CLICK("4", "11:30:00")
             CLICK("10", "10:30:00"),
         CLICK("5", "14:30:00") CLICK("6", "15:10:00") CLICK("8", "08:00:00")
             CLICK("11", "10:25:00"),
         NULL},
    };
    for (int s = 0; s < 2; s++) {
        g_autofree char *dir = g_build_filename(d->in, s == 0 ? "impressions" : "clicks", NULL);
        cr_assert_eq(g_mkdir(dir, 0755), 0);
        for (size_t i = 0; i < 4 && sides[s][i]; i++) {
            g_autofree char *name = g_strdup_printf("%zu.json", i);
            put_file(dir, name, sides[s][i], 100 * (long)(i + 1));
        }
    }
}

static char *committed_joins(const dirs *d)
{
    em_context *sc = em_context_new("local[2]", "read-back", NULL);
    g_autoptr(em_schema) schema =
        schema_of("adId long, impressionTime timestamp, clickAdId long, clickTime timestamp");
    GError *err = NULL;
    em_df *df =
        ok(em_df_read_path(sc, d->out,
                           &(em_file_source_opts){.format = EM_FILE_JSON, .schema = schema}, &err),
           err);
    char *rows = sorted_rows(df);
    em_df_free(df);
    em_context_free(sc);
    return rows;
}

static char *commits_of(const dirs *d)
{
    g_autofree char *commits = g_build_filename(d->ck, "commits", NULL);
    g_auto(GStrv) committed = names_with(commits, "");
    return g_strjoinv(",", committed);
}

Test(table_kill, a_join_of_two_file_sources_writes_each_row_once_whatever_point_a_kill_hits)
{
    dirs whole = make_dirs();
    put_join_inputs(&whole);
    run_child("join", &whole, NULL, 0);
    g_autofree char *want = committed_joins(&whole);
    g_autofree char *want_commits = commits_of(&whole);
    free_dirs(&whole);
    /* the matches (ad 10's click meets its impression of the batch before) and the unmatched
     * impressions the watermark passed, each once */
    cr_assert(strstr(want, "(10,"), "%s", want);
    cr_assert(strstr(want, "(3,"), "%s", want);
    g_auto(GStrv) batches = g_strsplit(want_commits, ",", -1);
    int n_batches = (int)g_strv_length(batches);
    cr_assert_geq(n_batches, 4, "%s", want_commits);
    for (size_t p = 0; p < G_N_ELEMENTS(points); p++) {
        for (int batch = 0; batch < n_batches; batch++) {
            dirs d = make_dirs();
            put_join_inputs(&d);
            int status = run_child("join", &d, points[p], batch);
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "%s of batch %d: the child was not killed (status %d)", points[p], batch,
                      status);
            run_child("join", &d, NULL, 0);
            g_autofree char *rows = committed_joins(&d);
            cr_assert_str_eq(rows, want, "killed at %s of batch %d", points[p], batch);
            g_autofree char *commits = commits_of(&d);
            cr_assert_str_eq(commits, want_commits, "killed at %s of batch %d", points[p], batch);
            free_dirs(&d);
        }
    }
}
