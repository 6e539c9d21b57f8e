/* Graceful shutdown with real signals sent to a real child process (shutdown-child.c): SIGTERM
 * and SIGINT stop it gracefully, every record received is processed, and it exits 0. */
#include <criterion/criterion.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD EMBER_BUILD_ROOT "/tests/shutdown-child"

/* Starts the child with n records to receive, waits for its "ready", sends signum, and returns its
 * remaining stdout; *status gets its wait status. */
static char *signal_child_full(int n, const char *checkpoint_dir, int signum, int *status)
{
    char count[16];
    g_snprintf(count, sizeof count, "%d", n);
    char *argv[] = {CHILD, count, (char *)checkpoint_dir, NULL};
    GPid pid;
    int out_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, NULL, &out_fd, NULL, &err),
              "%s", err ? err->message : "");
    FILE *out = fdopen(out_fd, "r");
    char line[256];
    cr_assert(fgets(line, sizeof line, out), "the child said nothing");
    cr_assert_str_eq(line, "ready\n");
    cr_assert_eq(kill(pid, signum), 0);
    GString *rest = g_string_new(NULL);
    while (fgets(line, sizeof line, out))
        g_string_append(rest, line);
    fclose(out);
    cr_assert_eq(waitpid(pid, status, 0), pid);
    return g_string_free(rest, FALSE);
}

static char *signal_child(int n, int signum, int *status)
{
    return signal_child_full(n, NULL, signum, status);
}

Test(shutdown, sigterm_stops_gracefully_processing_every_received_record_and_exits_0)
{
    int status;
    g_autofree char *rest = signal_child(50, SIGTERM, &status);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
    cr_assert_str_eq(rest, "processed 50 records\n");
}

Test(shutdown, sigint_does_the_same)
{
    int status;
    g_autofree char *rest = signal_child(30, SIGINT, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_str_eq(rest, "processed 30 records\n");
}

Test(shutdown, the_graceful_stop_writes_a_final_checkpoint)
{
    g_autofree char *dir = g_dir_make_tmp("ember-shutdown-XXXXXX", NULL);
    int status;
    g_autofree char *rest = signal_child_full(20, dir, SIGTERM, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_str_eq(rest, "processed 20 records\n");
    /* One batch ran (the drained one, a minute after the start): its checkpoint is there. */
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    int checkpoints = 0;
    while ((name = g_dir_read_name(d))) {
        cr_assert(g_str_has_prefix(name, "checkpoint-"), "%s", name);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_remove(path);
        checkpoints++;
    }
    cr_assert_eq(checkpoints, 1);
    g_rmdir(dir);
}
