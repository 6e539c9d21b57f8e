/* recoverable_network_wordcount as the built program it is: run against line_server, killed
 * with SIGKILL after three batches, started again with the same arguments: it recovers from
 * its checkpoint directory (no "Creating new context", the output file kept), its batch times
 * go on from the checkpoint's, and the blacklist (a broadcast) and the dropped-word count (an
 * accumulator) are made again lazily, as Spark's example does. */
#include "example-fixture.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-recoverable-XXXXXX", NULL);
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

TestSuite(recoverable_example, .init = setup, .fini = teardown);

/* Checks every batch printed in out ("Counts at time T ms [...]", "Dropped N word(s)
 * totally", "Appending to PATH") and returns the batch times in times. */
static void check_batches(const char *out, const char *abs_output, GArray *times)
{
    char **lines = g_strsplit(out, "\n", -1);
    int64_t dropped = 0;
    for (size_t i = 0; lines[i] && lines[i][0]; i += 3) {
        long long t = 0;
        int used = 0;
        cr_assert_eq(sscanf(lines[i], "Counts at time %lld ms %n", &t, &used), 1, "%s", lines[i]);
        const char *counts = lines[i] + used;
        /* Only x and y are counted: a, b and c are on the blacklist. */
        cr_assert(g_regex_match_simple("^\\[((\\((x|y),[0-9]+\\)(, )?)*)\\]$", counts, 0, 0), "%s",
                  counts);
        long long n = -1;
        cr_assert(lines[i + 1] && sscanf(lines[i + 1], "Dropped %lld word(s) totally", &n) == 1,
                  "%s", lines[i + 1]);
        cr_assert_geq(n, dropped, "the accumulator only grows");
        dropped = n;
        g_autofree char *appending = g_strdup_printf("Appending to %s", abs_output);
        cr_assert(lines[i + 2]);
        cr_assert_str_eq(lines[i + 2], appending);
        int64_t t64 = t;
        g_array_append_val(times, t64);
    }
    g_strfreev(lines);
}

Test(recoverable_example, goes_on_from_its_checkpoint_after_kill_9)
{
    g_autofree char *text = g_build_filename(tmp, "lines.txt", NULL);
    cr_assert(g_file_set_contents(text, "a b x\nc x y\n", -1, NULL));
    const char *server_argv[] = {EXAMPLES "line_server", "0", text, NULL};
    proc server = spawn(server_argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1);
    g_autofree char *port_text = g_strdup_printf("%d", port);
    g_autofree char *ckdir = g_build_filename(tmp, "checkpoint", NULL);
    g_autofree char *output = g_build_filename(tmp, "counts.txt", NULL);
    cr_assert(g_file_set_contents(output, "left over\n", -1, NULL));

    /* The first run: a new context; three batches, then SIGKILL. */
    const char *argv1[] =
        {EXAMPLES "recoverable_network_wordcount", "127.0.0.1", port_text, ckdir, output, NULL};
    proc run1 = spawn(argv1);
    GString *out1 = g_string_new(NULL);
    cr_assert(
        read_until(run1.out, out1, "Creating new context\n", g_get_monotonic_time() + TIMEOUT_US));
    g_string_truncate(out1, 0);
    GString *batch = g_string_new(NULL);
    for (int b = 0; b < 3; b++) {
        g_string_truncate(batch, 0);
        cr_assert(read_until(run1.out, batch, "counts.txt\n", g_get_monotonic_time() + TIMEOUT_US),
                  "batch %d: %s", b, batch->str);
        g_string_append(out1, batch->str);
    }
    g_string_free(batch, TRUE);
    kill(run1.pid, SIGKILL);
    int status = wait_exit(&run1, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    GArray *times1 = g_array_new(FALSE, FALSE, sizeof(int64_t));
    check_batches(out1->str, output, times1);
    cr_assert_eq(times1->len, 3);
    int64_t last1 = g_array_index(times1, int64_t, 2);

    /* The second run, same arguments (and 3 batches, then a graceful stop): it recovers. */
    const char *argv2[] = {EXAMPLES "recoverable_network_wordcount",
                           "127.0.0.1",
                           port_text,
                           ckdir,
                           output,
                           "3",
                           NULL};
    proc run2 = spawn(argv2);
    GString *out2 = g_string_new(NULL);
    cr_assert(read_until(run2.out, out2, NULL, g_get_monotonic_time() + TIMEOUT_US));
    status = wait_exit(&run2, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out2->str);
    cr_assert_null(strstr(out2->str, "Creating new context"), "%s", out2->str);
    GArray *times2 = g_array_new(FALSE, FALSE, sizeof(int64_t));
    check_batches(out2->str, output, times2);
    /* At least the 3 asked for: the batch times missed while the program was down are
     * generated on restart too (Spark's JobGenerator.restart), so a slow restart shows more. */
    cr_assert_geq(times2->len, 3, "%s", out2->str);
    /* Checkpoints are written after every batch (nothing stateful: Spark's metadata
     * checkpoint), off the batch thread: the newest one a kill leaves is of the last batch
     * printed or the one before it, and the restart goes on with the batch after it. */
    int64_t first2 = g_array_index(times2, int64_t, 0);
    cr_assert(first2 == last1 || first2 == last1 + 1000,
              "first after restart %lld, last before "
              "%lld",
              (long long)first2, (long long)last1);
    for (guint i = 1; i < times2->len; i++)
        cr_assert_eq(g_array_index(times2, int64_t, i), first2 + 1000 * (int64_t)i);

    /* The output file was kept and appended to ("left over" goes with a new context only):
     * run 1's batches, the third unless the kill came between its print and its append,
     * then all of run 2's. */
    g_autofree char *file = NULL;
    cr_assert(g_file_get_contents(output, &file, NULL, NULL));
    char **lines = g_strsplit(file, "\n", -1);
    guint n = g_strv_length(lines) - 1; /* the text ends with a newline */
    guint before = n - times2->len;     /* run 1's lines */
    cr_assert(n >= times2->len && (before == 2 || before == 3), "%s", file);
    for (guint i = 0; i < n; i++) {
        int64_t want = i < before ? g_array_index(times1, int64_t, i)
                                  : g_array_index(times2, int64_t, i - before);
        g_autofree char *prefix = g_strdup_printf("Counts at time %lld ms ", (long long)want);
        cr_assert(g_str_has_prefix(lines[i], prefix), "line %u: %s", i, lines[i]);
    }
    g_strfreev(lines);
    kill(server.pid, SIGTERM);
    wait_exit(&server, g_get_monotonic_time() + TIMEOUT_US);
    g_string_free(first, TRUE);
    g_string_free(out1, TRUE);
    g_string_free(out2, TRUE);
    g_array_unref(times1);
    g_array_unref(times2);
}
