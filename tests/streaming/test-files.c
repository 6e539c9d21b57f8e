/* textFileStream over real temporary directories on the manual clock: which files count and in
 * which batch, what a missing directory or a vanished file does; and the directories
 * saveAsTextFiles writes, in Spark's layout. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#define TIMEOUT_MS 10000

static char *tmp;           /* this test's directory, removed after it */
static GString *out;        /* "<ms>: [records]\n" per batch collected, "<ms>: failed\n" */
static GPtrArray *failures; /* the failed batches' messages, in order */

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-files-XXXXXX", NULL);
    cr_assert(tmp);
    out = g_string_new(NULL);
    failures = g_ptr_array_new_with_free_func(g_free);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
    g_string_free(out, TRUE);
    g_ptr_array_unref(failures);
}

TestSuite(files, .init = setup, .fini = teardown);

/* ---- Helpers ---- */

static char *in_tmp(const char *name) { return g_build_filename(tmp, name, NULL); }

static void write_file(const char *name, const char *text)
{
    g_autofree char *path = in_tmp(name);
    GError *err = NULL;
    cr_assert(g_file_set_contents(path, text, -1, &err), "%s", err ? err->message : "");
}

static void rename_file(const char *from, const char *to)
{
    g_autofree char *a = in_tmp(from), *b = in_tmp(to);
    cr_assert_eq(rename(a, b), 0, "rename %s: %s", a, g_strerror(errno));
}

static void remove_file(const char *name)
{
    g_autofree char *path = in_tmp(name);
    cr_assert_eq(unlink(path), 0, "unlink %s: %s", path, g_strerror(errno));
}

static bool collect(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)ud;
    g_autoptr(em_values) vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    g_autofree char *text = em_values_to_string(vals);
    g_string_append_printf(out, "%" G_GINT64_FORMAT ": %s\n", (gint64)t, text);
    return true;
}

static void batch_completed(const em_batch_info *info, void *ud)
{
    (void)ud;
    if (!info->failed)
        return;
    g_string_append_printf(out, "%" G_GINT64_FORMAT ": failed\n", (gint64)info->batch_time);
    g_ptr_array_add(failures, g_strdup(info->failure));
}

/* A StreamingContext on the manual clock at 0 with 1 s batches, failures logged to out. */
static em_ssc *new_ssc(void)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    cr_assert(ssc);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = batch_completed}, NULL);
    return ssc;
}

/* textFileStream over the test's directory (or a subdirectory), with the given option. */
static em_dstream *watch(em_ssc *ssc, const char *sub, bool new_files_only)
{
    g_autofree char *dir = sub ? in_tmp(sub) : g_strdup(tmp);
    GError *err = NULL;
    em_dstream *ds =
        em_text_file_stream_full(ssc, dir,
                                 &(em_file_stream_opts){.new_files_only = new_files_only}, &err);
    cr_assert(ds, "%s", err ? err->message : "");
    return ds;
}

/* Moves the clock one batch on and waits for that batch to complete. */
static void next_batch(em_ssc *ssc)
{
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    em_time t = em_ssc_clock_time(ssc);
    cr_assert(em_ssc_wait_for_batch(ssc, t, TIMEOUT_MS), "batch %" G_GINT64_FORMAT " timed out",
              (gint64)t);
}

static void start(em_ssc *ssc)
{
    GError *err = NULL;
    cr_assert(em_ssc_start(ssc, &err), "%s", err ? err->message : "");
}

/* A watched directory's stream collected into out. */
static em_ssc *collecting(const char *sub, bool new_files_only)
{
    em_ssc *ssc = new_ssc();
    em_foreach_rdd(watch(ssc, sub, new_files_only), collect);
    return ssc;
}

/* ---- Which files count, and when ---- */

Test(files, new_files_appear_in_the_next_batch)
{
    em_ssc *ssc = collecting(NULL, true);
    start(ssc);
    write_file("a.txt", "a1\na2\n");
    next_batch(ssc);
    next_batch(ssc);
    write_file("b.txt", "b1\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: [a1, a2]\n"
                               "2000: []\n"
                               "3000: [b1]\n");
}

Test(files, a_file_counts_once_even_if_rewritten_or_recreated)
{
    em_ssc *ssc = collecting(NULL, true);
    start(ssc);
    write_file("a.txt", "first\n");
    next_batch(ssc);
    write_file("a.txt", "rewritten\n");
    next_batch(ssc);
    remove_file("a.txt");
    next_batch(ssc);
    write_file("a.txt", "recreated\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: [first]\n"
                               "2000: []\n"
                               "3000: []\n"
                               "4000: []\n");
}

Test(files, hidden_and_in_progress_names_and_subdirectories_never_count)
{
    em_ssc *ssc = collecting(NULL, true);
    start(ssc);
    write_file(".hidden", "hidden\n");
    write_file("_meta", "meta\n");
    write_file("x._COPYING_", "copying\n");
    write_file("y.tmp", "tmp\n");
    g_autofree char *sub = in_tmp("sub");
    cr_assert_eq(mkdir(sub, 0777), 0);
    write_file("sub/inner.txt", "inner\n");
    next_batch(ssc);
    /* Renamed in under a name that counts, a finished file appears in the next batch. */
    rename_file("y.tmp", "y");
    next_batch(ssc);
    rename_file("x._COPYING_", "x");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: []\n"
                               "2000: [tmp]\n"
                               "3000: [copying]\n");
}

Test(files, new_files_of_one_batch_are_read_in_name_order)
{
    em_ssc *ssc = collecting(NULL, true);
    start(ssc);
    write_file("b.txt", "b1\nb2\n");
    write_file("c.txt", "c1\n");
    write_file("a.txt", "a1\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: [a1, b1, b2, c1]\n");
}

Test(files, files_present_at_start_are_ignored_by_default)
{
    em_ssc *ssc = new_ssc();
    em_dstream *ds = em_text_file_stream(ssc, tmp);
    cr_assert(ds);
    em_foreach_rdd(ds, collect);
    write_file("old.txt", "old\n");
    start(ssc);
    next_batch(ssc);
    write_file("new.txt", "new\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: []\n"
                               "2000: [new]\n");
}

Test(files, files_present_at_start_count_in_the_first_batch_unless_new_files_only)
{
    write_file("old.txt", "old\n");
    em_ssc *ssc = collecting(NULL, false);
    start(ssc);
    next_batch(ssc);
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: [old]\n"
                               "2000: []\n");
}

Test(files, a_batch_without_new_files_prints_only_its_header)
{
    em_ssc *ssc = new_ssc();
    char *buf = NULL;
    size_t len = 0;
    FILE *printed = open_memstream(&buf, &len);
    em_dstream *ds = watch(ssc, NULL, true);
    em_print_to(ds, 10, printed);
    em_foreach_rdd(ds, collect);
    start(ssc);
    next_batch(ssc);
    em_ssc_free(ssc);
    fclose(printed);
    cr_assert_str_eq(buf, "-------------------------------------------\n"
                          "Time: 1000 ms\n"
                          "-------------------------------------------\n"
                          "\n");
    cr_assert_str_eq(out->str, "1000: []\n");
    free(buf);
}

/* ---- Failures: the batch fails naming what is missing, later batches work ---- */

static bool remove_a_at_1000(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud, (void)err;
    if (t == 1000)
        remove_file("a.txt");
    return true;
}

Test(files, a_file_gone_before_it_is_read_fails_its_batch_and_the_stream_goes_on)
{
    em_ssc *ssc = new_ssc();
    em_dstream *ds = watch(ssc, NULL, true);
    /* The first output operation removes the file listed for batch 1000 before the second
     * reads it. */
    em_foreach_rdd(ds, remove_a_at_1000);
    em_foreach_rdd(ds, collect);
    start(ssc);
    write_file("a.txt", "a1\n");
    next_batch(ssc);
    write_file("b.txt", "b1\n");
    next_batch(ssc);
    GError *err = NULL;
    cr_assert_eq(em_ssc_await_termination_or_timeout(ssc, 0, &err), -1);
    em_ssc_free(ssc);
    g_autofree char *path = in_tmp("a.txt");
    g_autofree char *reason = g_strdup_printf("cannot read %s: No such file or directory", path);
    cr_assert_str_eq(out->str, "1000: failed\n"
                               "2000: [b1]\n");
    cr_assert(g_str_has_prefix(failures->pdata[0], "batch 1000 ms: "), "%s",
              (char *)failures->pdata[0]);
    cr_assert(strstr(failures->pdata[0], reason), "%s", (char *)failures->pdata[0]);
    cr_assert_str_eq(err->message, failures->pdata[0]);
    g_error_free(err);
}

typedef struct {
    GMutex lock;
    GCond cond;
    bool entered, released;
} gate;

/* Holds the scheduler in batch 1000 until the test opens the gate. */
static bool wait_at_gate(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)err;
    gate *g = ud;
    if (t != 1000)
        return true;
    g_mutex_lock(&g->lock);
    g->entered = true;
    g_cond_broadcast(&g->cond);
    while (!g->released)
        g_cond_wait(&g->cond, &g->lock);
    g_mutex_unlock(&g->lock);
    return true;
}

Test(files, a_file_gone_between_listing_and_its_batch_fails_that_batch_naming_it)
{
    gate g = {0};
    g_mutex_init(&g.lock);
    g_cond_init(&g.cond);
    em_ssc *ssc = new_ssc();
    em_dstream *ds = watch(ssc, NULL, true);
    em_foreach_rdd_full(ds, wait_at_gate, &g, NULL, "wait_at_gate");
    em_foreach_rdd(ds, collect);
    start(ssc);
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;
    g_mutex_lock(&g.lock);
    while (!g.entered)
        cr_assert(g_cond_wait_until(&g.cond, &g.lock, deadline), "batch 1000 never ran");
    g_mutex_unlock(&g.lock);

    /* The scheduler is held in batch 1000: the generator lists a.txt for batch 2000 and queues
     * the batch, which waits. Then a.txt goes. */
    write_file("a.txt", "a1\n");
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    while (g_async_queue_length(ssc->batches) < 1) {
        cr_assert(g_get_monotonic_time() < deadline, "batch 2000 was never queued");
        g_usleep(1000);
    }
    remove_file("a.txt");
    g_mutex_lock(&g.lock);
    g.released = true;
    g_cond_broadcast(&g.cond);
    g_mutex_unlock(&g.lock);
    cr_assert(em_ssc_wait_for_batch(ssc, 2000, TIMEOUT_MS));
    write_file("b.txt", "b1\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    g_mutex_clear(&g.lock);
    g_cond_clear(&g.cond);

    g_autofree char *path = in_tmp("a.txt");
    g_autofree char *expected =
        g_strdup_printf("batch 2000 ms: textFile: cannot read %s: No such file or directory",
                        path);
    cr_assert_str_eq(out->str, "1000: []\n"
                               "2000: failed\n"
                               "3000: [b1]\n");
    cr_assert_str_eq(failures->pdata[0], expected);
}

Test(files, a_directory_that_cannot_be_read_is_an_error_naming_it)
{
    em_ssc *ssc = new_ssc();
    g_autofree char *missing = in_tmp("missing");
    GError *err = NULL;
    cr_assert_null(em_text_file_stream_full(ssc, missing, NULL, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_IO));
    g_autofree char *expected =
        g_strdup_printf("textFileStream: cannot read directory %s: No such file or directory",
                        missing);
    cr_assert_str_eq(err->message, expected);
    g_clear_error(&err);

    write_file("plain", "x\n");
    g_autofree char *plain = in_tmp("plain");
    cr_assert_null(em_text_file_stream_full(ssc, plain, NULL, &err));
    g_autofree char *not_dir =
        g_strdup_printf("textFileStream: cannot read directory %s: Not a directory", plain);
    cr_assert_str_eq(err->message, not_dir);
    g_clear_error(&err);
    cr_assert_eq(ssc->inputs->len, 0, "a failed definition registered an input");
    em_ssc_free(ssc);
}

Test(files, a_directory_removed_while_running_fails_its_batches_until_it_returns)
{
    g_autofree char *dir = in_tmp("in");
    cr_assert_eq(mkdir(dir, 0777), 0);
    em_ssc *ssc = collecting("in", true);
    start(ssc);
    cr_assert_eq(rmdir(dir), 0);
    next_batch(ssc);
    cr_assert_eq(mkdir(dir, 0777), 0);
    write_file("in/a.txt", "a1\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    g_autofree char *expected = g_strdup_printf(
        "batch 1000 ms: textFileStream: cannot list directory %s: No such file or directory", dir);
    cr_assert_str_eq(out->str, "1000: failed\n"
                               "2000: [a1]\n");
    cr_assert_str_eq(failures->pdata[0], expected);
}

/* ---- saveAsTextFiles ---- */

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory path, sorted, joined by spaces. */
static char *list_dir(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    cr_assert(dir, "cannot open %s", path);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *name;
    while ((name = g_dir_read_name(dir)))
        g_ptr_array_add(names, (char *)name);
    g_ptr_array_sort(names, by_name);
    g_ptr_array_add(names, NULL);
    char *joined = g_strjoinv(" ", (char **)names->pdata);
    g_dir_close(dir);
    return joined;
}

static char *read_text(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    GError *err = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, &err), "%s", err ? err->message : "");
    return text;
}

/* A queue stream whose first batch is "(a,1), b, 3" in two partitions, then empty batches. */
static em_dstream *abc_stream(em_ssc *ssc, em_rdd_queue *q)
{
    g_autoptr(em_rdd) rdd = em_parallelize_text(ssc->sc, "(a,1), b, 3", 2, NULL);
    em_rdd_queue_push(q, rdd);
    return em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
}

Test(files, save_as_text_files_writes_a_directory_per_batch_in_sparks_layout)
{
    em_ssc *ssc = new_ssc();
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *ds = abc_stream(ssc, q);
    g_autofree char *prefix = in_tmp("out");
    em_save_as_text_files(ds, prefix, "txt");
    em_save_as_text_files(ds, prefix, NULL);
    start(ssc);
    next_batch(ssc);
    next_batch(ssc);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);

    cr_assert_str_eq(out->str, "");
    g_autofree char *top = list_dir(tmp);
    cr_assert_str_eq(top, "out-1000 out-1000.txt out-2000 out-2000.txt");
    const char *first[] = {"out-1000", "out-1000.txt"};
    for (size_t i = 0; i < G_N_ELEMENTS(first); i++) {
        g_autofree char *dir = in_tmp(first[i]);
        g_autofree char *names = list_dir(dir);
        cr_assert_str_eq(names, "_SUCCESS part-00000 part-00001", "%s", dir);
        g_autofree char *p0 = read_text(dir, "part-00000");
        g_autofree char *p1 = read_text(dir, "part-00001");
        g_autofree char *success = read_text(dir, "_SUCCESS");
        cr_assert_str_eq(p0, "(a,1)\n");
        cr_assert_str_eq(p1, "b\n3\n");
        cr_assert_str_eq(success, "");
    }
    /* An empty batch has no partitions: only _SUCCESS, as Spark writes for an empty RDD. */
    const char *second[] = {"out-2000", "out-2000.txt"};
    for (size_t i = 0; i < G_N_ELEMENTS(second); i++) {
        g_autofree char *dir = in_tmp(second[i]);
        g_autofree char *names = list_dir(dir);
        cr_assert_str_eq(names, "_SUCCESS", "%s", dir);
    }
}

/* A batch run again after a restart from a checkpoint finds its own earlier output: it replaces
 * it (Spark disables Hadoop's output check in streaming jobs), leaving nothing of the old. */
Test(files, save_as_text_files_replaces_the_output_of_an_earlier_run_of_the_batch)
{
    g_autofree char *taken = in_tmp("out-1000");
    cr_assert_eq(mkdir(taken, 0777), 0);
    g_autofree char *stale = g_build_filename(taken, "part-00007", NULL);
    cr_assert(g_file_set_contents(stale, "stale\n", -1, NULL));
    em_ssc *ssc = new_ssc();
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *ds = abc_stream(ssc, q);
    g_autofree char *prefix = in_tmp("out");
    em_save_as_text_files(ds, prefix, "");
    start(ssc);
    next_batch(ssc);
    em_ssc_free(ssc);
    em_rdd_queue_free(q);

    cr_assert_str_eq(out->str, "");
    g_autofree char *names = list_dir(taken);
    cr_assert_str_eq(names, "_SUCCESS part-00000 part-00001");
    g_autofree char *part = read_text(taken, "part-00000");
    cr_assert_str_eq(part, "(a,1)\n");
    g_autofree char *top = list_dir(tmp);
    cr_assert_str_eq(top, "out-1000", "no hidden directory is left behind");
}

/* ---- The remember window, partitions, and files that lie about being gzip ---- */

/* Sets name's modification time to ms on the epoch (the manual clock's scale). */
static void set_mtime(const char *name, gint64 ms)
{
    g_autofree char *path = in_tmp(name);
    struct timespec times[2] = {{ms / 1000, (ms % 1000) * 1000000},
                                {ms / 1000, (ms % 1000) * 1000000}};
    cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0, "utimensat %s: %s", path,
                 g_strerror(errno));
}

static em_ssc *ssc_at(em_time start)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .manual_start = start},
                                  NULL);
    cr_assert(ssc);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = batch_completed}, NULL);
    return ssc;
}

Test(files, files_older_than_the_remember_window_are_ignored)
{
    /* The first batch is 101000; the window is 60 s: files older than 41000 do not count. */
    em_ssc *ssc = ssc_at(100000);
    em_foreach_rdd(watch(ssc, NULL, true), collect);
    start(ssc);
    write_file("old.txt", "old\n");
    set_mtime("old.txt", 40999);
    write_file("edge.txt", "edge\n");
    set_mtime("edge.txt", 41000);
    write_file("recent.txt", "recent\n");
    set_mtime("recent.txt", 100500);
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "101000: [edge, recent]\n");
}

Test(files, a_name_is_forgotten_once_its_time_leaves_the_window_and_may_count_again)
{
    /* A 2 s window: a.txt (time 500) is remembered through batch 2000 and forgotten at 3000. */
    em_ssc *ssc = new_ssc();
    em_dstream *ds = em_text_file_stream_full(ssc, tmp,
                                              &(em_file_stream_opts){.new_files_only = true,
                                                                     .min_remember = 1500},
                                              NULL);
    em_foreach_rdd(ds, collect);
    start(ssc);
    write_file("a.txt", "first\n");
    set_mtime("a.txt", 500);
    next_batch(ssc);
    cr_assert_eq(em__file_stream_remembered(ds), 1);
    next_batch(ssc);
    cr_assert_eq(em__file_stream_remembered(ds), 1);
    next_batch(ssc);
    cr_assert_eq(em__file_stream_remembered(ds), 0);
    /* Rewritten with a time inside the window, it is a new file (as in Spark). */
    write_file("a.txt", "again\n");
    set_mtime("a.txt", 3500);
    next_batch(ssc);
    cr_assert_eq(em__file_stream_remembered(ds), 1);
    em_ssc_free(ssc);
    cr_assert_str_eq(out->str, "1000: [first]\n"
                               "2000: []\n"
                               "3000: []\n"
                               "4000: [again]\n");
}

typedef struct {
    int64_t records;
    int partitions;
} batch_count;

static bool count_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t;
    batch_count *c = ud;
    int64_t n = em_rdd_count(rdd, err);
    if (n < 0)
        return false;
    c->records += n;
    c->partitions = em_rdd_num_partitions(rdd);
    return true;
}

/* Writes name holding "line\n" with its time set to ms, without a temporary file. */
static void write_small(const char *name, gint64 ms)
{
    g_autofree char *path = in_tmp(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, g_strerror(errno));
    cr_assert_eq(write(fd, "line\n", 5), 5);
    struct timespec times[2] = {{ms / 1000, (ms % 1000) * 1000000},
                                {ms / 1000, (ms % 1000) * 1000000}};
    cr_assert_eq(futimens(fd, times), 0);
    close(fd);
}

/* 100,000 files over 100 one-second batches, 1000 a batch, each moved out once read (a spool
 * directory; moved, not deleted: ext4 makes creating files right after deleting as many slow):
 * the names remembered are those of the last 60 batches, never all of them. */
Test(files, a_soak_of_100000_files_remembers_only_the_window)
{
    enum { BATCHES = 100, PER_BATCH = 1000 };
    g_autofree char *in = in_tmp("in"), *done = in_tmp("done");
    cr_assert_eq(mkdir(in, 0755), 0);
    cr_assert_eq(mkdir(done, 0755), 0);
    em_ssc *ssc = new_ssc();
    em_dstream *ds = watch(ssc, "in", true);
    batch_count c = {0};
    em_foreach_rdd_full(ds, count_batch, &c, NULL, "count_batch");
    start(ssc);
    for (int b = 1; b <= BATCHES; b++) {
        gint64 t = (gint64)b * 1000;
        for (int i = 0; i < PER_BATCH; i++) {
            char name[32];
            snprintf(name, sizeof name, "in/f%03d-%04d", b, i);
            write_small(name, t - 500);
        }
        next_batch(ssc);
        cr_assert_eq(c.partitions, PER_BATCH, "batch %d: one partition per file", b);
        /* Files of batch t' (time t' - 500) stay remembered while t' - 500 >= t - 60000. */
        cr_assert_eq(em__file_stream_remembered(ds), (int64_t)MIN(b, 60) * PER_BATCH,
                     "after batch %d", b);
        /* A directory per batch: ext4 searches a large directory slowly without an index. */
        char sub[16];
        snprintf(sub, sizeof sub, "%03d", b);
        g_autofree char *batch_done = g_build_filename(done, sub, NULL);
        cr_assert_eq(mkdir(batch_done, 0755), 0);
        for (int i = 0; i < PER_BATCH; i++) {
            char name[32];
            snprintf(name, sizeof name, "f%03d-%04d", b, i);
            g_autofree char *from = g_build_filename(in, name, NULL);
            g_autofree char *to = g_build_filename(batch_done, name, NULL);
            cr_assert_eq(rename(from, to), 0, "rename %s: %s", from, g_strerror(errno));
        }
    }
    cr_assert_eq(c.records, (int64_t)BATCHES * PER_BATCH);
    cr_assert_eq(em_ssc_await_termination_or_timeout(ssc, 0, NULL), 0, "no batch failed");
    em_ssc_free(ssc);
}

Test(files, each_small_file_is_one_partition)
{
    em_ssc *ssc = new_ssc();
    batch_count c = {0};
    em_foreach_rdd_full(watch(ssc, NULL, true), count_batch, &c, NULL, "count_batch");
    start(ssc);
    write_file("a.txt", "a1\na2\na3\n");
    write_file("b.txt", "b1\n");
    write_file("c.txt", "c1\nc2\n");
    next_batch(ssc);
    em_ssc_free(ssc);
    cr_assert_eq(c.partitions, 3);
    cr_assert_eq(c.records, 6);
}

Test(files, a_plain_text_file_named_gz_fails_its_batch_naming_it_and_the_stream_goes_on)
{
    em_ssc *ssc = collecting(NULL, true);
    start(ssc);
    write_file("plain.gz", "not compressed\n");
    next_batch(ssc);
    g_autofree char *good = in_tmp("good.gz");
    gzFile gz = gzopen(good, "wb");
    cr_assert(gz);
    gzputs(gz, "g1\ng2\n");
    gzclose(gz);
    next_batch(ssc);
    em_ssc_free(ssc);
    g_autofree char *plain = in_tmp("plain.gz");
    g_autofree char *reason =
        g_strdup_printf("batch 1000 ms: textFileStream: %s is named .gz but does not hold "
                        "gzip data",
                        plain);
    cr_assert_str_eq(out->str, "1000: failed\n"
                               "2000: [g1, g2]\n");
    cr_assert_str_eq(failures->pdata[0], reason);
}
