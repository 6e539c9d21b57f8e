/* The queue_stream and hdfs_wordcount examples, run as the built programs they are (subprocesses
 * of the test) on the system clock, their output checked byte for byte; batch times are read
 * from the first "Time:" line and must follow batch after batch. */
#include "example-fixture.h"

#include <glib.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_US (20 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------\n"

static char *tmp; /* the watched directory of hdfs_wordcount tests */

static void make_tmp(void)
{
    tmp = g_dir_make_tmp("ember-examples-XXXXXX", NULL);
    cr_assert(tmp);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tmp(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
}

/* The time of the first "Time: <ms> ms" line of printed output; it must be a whole multiple of
 * the batch interval, as Spark's batch times are. */
static int64_t first_batch_time(const char *printed, int64_t interval)
{
    const char *at = strstr(printed, "Time: ");
    cr_assert(at, "no batch printed:\n%s", printed);
    int64_t t = g_ascii_strtoll(at + 6, NULL, 10);
    cr_assert(t > 0 && t % interval == 0, "batch time %" G_GINT64_FORMAT, (gint64)t);
    return t;
}

TestSuite(file_examples);

static void append_header(GString *s, int64_t t)
{
    g_string_append_printf(s, DASHES "Time: %" G_GINT64_FORMAT " ms\n" DASHES, (gint64)t);
}

Test(file_examples, queue_stream_prints_the_ten_residues_100_times_each_for_each_queued_rdd)
{
    char *argv[] = {EXAMPLES "queue_stream", NULL};
    g_autofree char *printed = NULL, *errors = NULL;
    int status;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &printed, &errors,
                           &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, &err), "%s\n%s", err->message, errors);
    cr_assert_str_eq(errors, "");

    /* Spark's own output of QueueStream, order included: HashPartitioner over Integer hashCodes,
     * each partition in its AppendOnlyMap's order. */
    int64_t t = first_batch_time(printed, 1000);
    g_autoptr(GString) expected = g_string_new(NULL);
    for (int i = 0; i < 3; i++) {
        append_header(expected, t + 1000 * i);
        g_string_append(expected, "(4,100)\n(0,100)\n(6,100)\n(8,100)\n(2,100)\n"
                                  "(1,100)\n(3,100)\n(7,100)\n(9,100)\n(5,100)\n\n");
    }
    cr_assert_str_eq(printed, expected->str);
}

Test(file_examples, hdfs_wordcount_counts_a_file_moved_in_after_start_and_ignores_older_ones,
     .init = make_tmp, .fini = remove_tmp)
{
    g_autofree char *old = g_build_filename(tmp, "old.txt", NULL);
    cr_assert(g_file_set_contents(old, "never counted\n", -1, NULL));
    char *argv[] = {EXAMPLES "hdfs_wordcount", tmp, "3", NULL};
    GPid pid;
    int out_fd, err_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, NULL, &out_fd, &err_fd, &err),
              "%s", err ? err->message : "");
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    g_autoptr(GString) printed = g_string_new(NULL);

    /* The first batch has come (empty: old.txt was there at start), so the stream is listening:
     * the file written now under a hidden name and renamed in counts in the second batch, or in
     * the third if this machine is slow enough that the second one was already cut. */
    cr_assert(read_until(out_fd, printed, DASHES "\n", deadline), "no first batch: %s",
              printed->str);
    g_autofree char *hidden = g_build_filename(tmp, ".words.txt", NULL);
    g_autofree char *words = g_build_filename(tmp, "words.txt", NULL);
    cr_assert(g_file_set_contents(hidden, "to be or not to be\nthat is the question\n", -1, NULL));
    cr_assert_eq(rename(hidden, words), 0);
    cr_assert(read_until(out_fd, printed, NULL, deadline), "no end: %s", printed->str);

    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    g_autoptr(GString) errors = g_string_new(NULL);
    cr_assert(read_until(err_fd, errors, NULL, deadline));
    close(out_fd);
    close(err_fd);
    g_spawn_close_pid(pid);
    cr_assert(g_spawn_check_wait_status(status, &err), "%s\n%s", err->message, errors->str);
    cr_assert_str_eq(errors->str, "");

    int64_t t = first_batch_time(printed->str, 2000);
    /* Spark's order (HashPartitioner over String hashCodes, AppendOnlyMap order). */
    const char *counts = "(is,1)\n(question,1)\n(not,1)\n(that,1)\n(or,1)\n(be,2)\n(to,2)\n"
                         "(the,1)\n";
    g_autoptr(GString) in_second = g_string_new(NULL), in_third = g_string_new(NULL);
    for (int batch = 0; batch < 3; batch++) {
        append_header(in_second, t + 2000 * batch);
        append_header(in_third, t + 2000 * batch);
        g_string_append_printf(in_second, "%s\n", batch == 1 ? counts : "");
        g_string_append_printf(in_third, "%s\n", batch == 2 ? counts : "");
    }
    cr_assert(strcmp(printed->str, in_second->str) == 0 ||
                  strcmp(printed->str, in_third->str) == 0,
              "got:\n%s\nexpected:\n%s", printed->str, in_second->str);
}

/* Runs hdfs_wordcount with args; checks its exit status and what it wrote to stderr. */
static void check_failure(char **argv, int exit_status, const char *message)
{
    g_autofree char *printed = NULL, *errors = NULL;
    int status;
    cr_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &printed, &errors,
                           &status, NULL));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == exit_status, "status %d", status);
    cr_assert_str_eq(printed, "");
    cr_assert_str_eq(errors, message);
}

Test(file_examples, hdfs_wordcount_rejects_bad_arguments_and_a_missing_directory)
{
    const char *usage = "Usage: hdfs_wordcount <directory> [<batches>]\n";
    check_failure((char *[]){EXAMPLES "hdfs_wordcount", NULL}, 2, usage);
    check_failure((char *[]){EXAMPLES "hdfs_wordcount", "/tmp", "0", NULL}, 2, usage);
    check_failure((char *[]){EXAMPLES "hdfs_wordcount", "/tmp", "x", NULL}, 2, usage);
    check_failure((char *[]){EXAMPLES "hdfs_wordcount", "/nonexistent/ember", NULL}, 1,
                  "hdfs_wordcount: textFileStream: cannot read directory /nonexistent/ember: "
                  "No such file or directory\n");
}
