/* kill -9 at 24 points of a stateful word count fed from files (recovery-child.c): right after
 * a batch starts, a random few milliseconds into it, and between batches while its checkpoint
 * is being written. After each kill the program is started again on the same directories; at
 * the end every batch's saveAsTextFiles output, and so the final state, is exactly that of a
 * run never killed: no word lost, none counted twice, no batch's output duplicated. */
#include <criterion/criterion.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD EMBER_BUILD_ROOT "/tests/recovery-child"

enum { BATCHES = 12, KILLS = 24 };

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-kill-XXXXXX", NULL);
    cr_assert(tmp);
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
}

TestSuite(kill_recovery, .init = setup, .fini = teardown);

typedef struct {
    char *input, *checkpoint, *prefix;
} dirs;

static dirs make_dirs(const char *name)
{
    dirs d = {g_build_filename(tmp, name, "in", NULL), g_build_filename(tmp, name, "ck", NULL),
              g_build_filename(tmp, name, "out", NULL)};
    cr_assert_eq(g_mkdir_with_parents(d.input, 0755), 0);
    return d;
}

static void free_dirs(dirs *d) { g_free(d->input), g_free(d->checkpoint), g_free(d->prefix); }

/* Batch k's file: a few lines over a small vocabulary, different every batch. Written under a
 * hidden name and renamed in, as textFileStream wants. */
static void write_input(const dirs *d, int k)
{
    GString *text = g_string_new(NULL);
    for (int line = 0; line < 1 + k % 3; line++)
        g_string_append_printf(text, "w%d w%d common\n", (k + line) % 5, (k * 7 + line) % 4);
    g_autofree char *hidden_name = g_strdup_printf(".f-%02d", k);
    g_autofree char *name = g_strdup_printf("f-%02d", k);
    g_autofree char *hidden = g_build_filename(d->input, hidden_name, NULL);
    g_autofree char *path = g_build_filename(d->input, name, NULL);
    cr_assert(g_file_set_contents(hidden, text->str, -1, NULL));
    cr_assert_eq(g_rename(hidden, path), 0);
    g_string_free(text, TRUE);
}

typedef struct {
    GPid pid;
    FILE *in, *out;
    long long recovered;
} child;

static child start(const dirs *d)
{
    char *argv[] = {CHILD, d->input, d->checkpoint, d->prefix, NULL};
    child c;
    int in_fd, out_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &c.pid, &in_fd, &out_fd, NULL, &err),
              "%s", err ? err->message : "");
    c.in = fdopen(in_fd, "w");
    c.out = fdopen(out_fd, "r");
    long long t;
    char line[64];
    cr_assert(fgets(line, sizeof line, c.out), "the child did not start");
    cr_assert_eq(sscanf(line, "start %lld", &t), 1, "%s", line);
    c.recovered = t;
    return c;
}

static void advance(child *c)
{
    fputs("advance\n", c->in);
    fflush(c->in);
}

static void expect_done(child *c, int k)
{
    long long t = 0;
    char line[64];
    cr_assert(fgets(line, sizeof line, c->out), "no answer for batch %d", k);
    cr_assert_eq(sscanf(line, "done %lld", &t), 1, "%s", line);
    cr_assert_eq(t, (long long)k * 1000);
}

static void kill_child(child *c)
{
    kill(c->pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fclose(c->in), fclose(c->out);
}

static void finish(child *c)
{
    fclose(c->in); /* the end of its input: a graceful stop */
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fclose(c->out);
}

typedef enum { AT_START, A_FEW_MS_IN, AFTER_DONE } kill_point;

/* Runs the word count over BATCHES batches, killing it at plan[0..n) (the i-th kill at batch
 * the first batch >= kill_batch[i] of whatever run is going then). Returns how many kills
 * happened. */
static int run(const dirs *d, const int *kill_batch, int n_kills, GRand *rand)
{
    int written = 0, kills = 0;
    for (;;) {
        child c = start(d);
        int next = c.recovered < 0 ? 1 : (int)(c.recovered / 1000) + 1;
        cr_assert_leq(next, written + 1, "the checkpoint is never ahead of the input");
        bool killed = false;
        for (int k = next; k <= BATCHES && !killed; k++) {
            if (k > written)
                write_input(d, written = k);
            advance(&c);
            if (kills < n_kills && kill_batch[kills] <= k) {
                kill_point p = (kill_point)(kills % 3);
                if (p == A_FEW_MS_IN) /* a random point inside the batch: a pause, on purpose */
                    g_usleep((gulong)g_rand_int_range(rand, 0, 4000));
                if (p == AFTER_DONE)
                    expect_done(&c, k);
                kill_child(&c);
                kills++;
                killed = true;
            } else {
                expect_done(&c, k);
            }
        }
        if (!killed) {
            finish(&c);
            return kills;
        }
    }
}

static int by_text(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "<ms>: sorted records" per batch, from the saveAsTextFiles directories. */
static char *outputs(const dirs *d)
{
    GString *all = g_string_new(NULL);
    for (int k = 1; k <= BATCHES; k++) {
        g_autofree char *path = g_strdup_printf("%s-%d", d->prefix, k * 1000);
        GDir *dir = g_dir_open(path, 0, NULL);
        cr_assert(dir, "no output for batch %d", k);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        bool success = false;
        while ((name = g_dir_read_name(dir))) {
            success = success || strcmp(name, "_SUCCESS") == 0;
            if (!g_str_has_prefix(name, "part-"))
                continue;
            g_autofree char *file = g_build_filename(path, name, NULL);
            g_autofree char *text = NULL;
            cr_assert(g_file_get_contents(file, &text, NULL, NULL));
            char **parts = g_strsplit(text, "\n", -1);
            for (char **p = parts; *p; p++)
                if (**p)
                    g_ptr_array_add(lines, g_strdup(*p));
            g_strfreev(parts);
        }
        g_dir_close(dir);
        cr_assert(success, "batch %d has no _SUCCESS", k);
        g_ptr_array_sort(lines, by_text);
        g_string_append_printf(all, "%d:", k * 1000);
        for (guint i = 0; i < lines->len; i++)
            g_string_append_printf(all, " %s", (char *)lines->pdata[i]);
        g_string_append_c(all, '\n');
    }
    return g_string_free(all, FALSE);
}

Test(kill_recovery, kill_9_anywhere_loses_nothing_and_outputs_nothing_twice)
{
    GRand *rand = g_rand_new_with_seed(20261203);
    dirs whole = make_dirs("whole");
    cr_assert_eq(run(&whole, NULL, 0, rand), 0);
    g_autofree char *want = outputs(&whole);

    /* Two kills in each batch: every batch is interrupted at least twice, once in each of the
     * three kinds of point over the run. */
    int plan[KILLS];
    for (int i = 0; i < KILLS; i++)
        plan[i] = 1 + i / 2;
    dirs killed = make_dirs("killed");
    cr_assert_eq(run(&killed, plan, KILLS, rand), KILLS);
    g_autofree char *got = outputs(&killed);
    cr_assert_str_eq(got, want);
    free_dirs(&whole);
    free_dirs(&killed);
    g_rand_free(rand);
}

/* Removes the checkpoint files of d (not the inputs' journals under ck/inputs/): what a kill
 * leaves when it comes before the first checkpoint is written (checkpoints are written off the
 * batch thread, after the batch's output). */
static void remove_checkpoints(const dirs *d)
{
    GDir *dir = g_dir_open(d->checkpoint, 0, NULL);
    cr_assert(dir);
    const char *name;
    while ((name = g_dir_read_name(dir)))
        if (g_str_has_prefix(name, "checkpoint-")) {
            g_autofree char *path = g_build_filename(d->checkpoint, name, NULL);
            cr_assert_eq(remove(path), 0, "%s", path);
        }
    g_dir_close(dir);
}

Test(kill_recovery, a_kill_before_the_first_checkpoint_gives_each_batch_its_own_files_again)
{
    GRand *rand = g_rand_new_with_seed(20261203);
    dirs whole = make_dirs("whole");
    cr_assert_eq(run(&whole, NULL, 0, rand), 0);
    g_autofree char *want = outputs(&whole);

    /* Batches 1 and 2 run and output; the program dies before any checkpoint is durable. The
     * restart runs from batch 1 again with both files in the directory: batch 1 must read f-01
     * alone and batch 2 f-02 alone, as their journal says, not f-01 and f-02 together. */
    dirs d = make_dirs("early");
    child c = start(&d);
    cr_assert_eq(c.recovered, -1);
    for (int k = 1; k <= 2; k++) {
        write_input(&d, k);
        advance(&c);
        expect_done(&c, k);
    }
    kill_child(&c);
    remove_checkpoints(&d);
    c = start(&d);
    cr_assert_eq(c.recovered, -1);
    for (int k = 1; k <= BATCHES; k++) {
        if (k > 2)
            write_input(&d, k);
        advance(&c);
        expect_done(&c, k);
    }
    finish(&c);
    g_autofree char *got = outputs(&d);
    cr_assert_str_eq(got, want);
    free_dirs(&whole);
    free_dirs(&d);
    g_rand_free(rand);
}
