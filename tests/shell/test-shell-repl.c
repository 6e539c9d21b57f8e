/* ember-shell at a terminal: readline on a pseudo-terminal, as a person types. Tab completes
 * a method after "ssc.", the echo says what a val is, history is written to $HOME. */
#include "shell-fixture.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pty_child {
    GPid pid;
    int master;
} pty_child;

static void attach_terminal(gpointer slave_name)
{
    setsid();
    int fd = open(slave_name, O_RDWR);
    dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

static pty_child spawn_on_pty(const char *home)
{
    pty_child c;
    c.master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert_geq(c.master, 0);
    cr_assert_eq(grantpt(c.master), 0);
    cr_assert_eq(unlockpt(c.master), 0);
    char *slave = g_strdup(ptsname(c.master));
    char **env = g_environ_setenv(g_get_environ(), "HOME", home, TRUE);
    env = g_environ_setenv(env, "TERM", "dumb", TRUE);
    env = g_environ_unsetenv(env, "INPUTRC");
    const char *argv[] = {SHELL_BIN, NULL};
    cr_assert(g_spawn_async(NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD, attach_terminal,
                            slave, &c.pid, NULL));
    g_strfreev(env);
    g_free(slave);
    return c;
}

/* Reads what the terminal shows until it contains want (or the deadline). */
static bool read_screen(int fd, GString *screen, const char *want, gint64 deadline)
{
    char buf[1024];
    while (!strstr(screen->str, want)) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return false;
        g_string_append_len(screen, buf, n);
    }
    return true;
}

static void type(int fd, const char *keys)
{
    size_t n = strlen(keys);
    cr_assert_eq(write(fd, keys, n), (ssize_t)n);
}

Test(shell_repl, tab_completes_methods_echoes_vals_and_keeps_history)
{
    char *home = g_dir_make_tmp("ember-shell-home-XXXXXX", NULL);
    pty_child c = spawn_on_pty(home);
    gint64 deadline = g_get_monotonic_time() + SHELL_DEADLINE_S * G_USEC_PER_SEC;
    GString *screen = g_string_new(NULL);
    cr_assert(read_screen(c.master, screen, "ember> ", deadline), "%s", screen->str);

    type(c.master, "val ssc = new StreamingContext(sc, Seconds(1))\r");
    cr_assert(read_screen(c.master, screen,
                          "ssc: StreamingContext(batch interval 1000 ms, INITIALIZED)", deadline),
              "%s", screen->str);
    /* "ssc.queueS" + Tab completes to queueStream. */
    type(c.master, "val q = new mutable.Queue[RDD[String]]()\r");
    cr_assert(read_screen(c.master, screen, "q: Queue of 0 RDDs", deadline), "%s", screen->str);
    type(c.master, "val lines = ssc.queueS\t(q)\r");
    cr_assert(read_screen(c.master, screen, "lines: DStream[0] = queueStream(q)", deadline), "%s",
              screen->str);
    /* A statement over two lines: the second prompt continues it. */
    type(c.master, "val n = lines.map(w =>\r");
    cr_assert(read_screen(c.master, screen, "     | ", deadline), "%s", screen->str);
    type(c.master, "  w.length)\r");
    cr_assert(read_screen(c.master, screen, "n: DStream[1] = map(w => w.length)", deadline), "%s",
              screen->str);
    type(c.master, ":quit\r");
    int status;
    while (waitpid(c.pid, &status, WNOHANG) == 0) {
        cr_assert(g_get_monotonic_time() < deadline, "the shell did not quit");
        char buf[256];
        struct pollfd p = {.fd = c.master, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && read(c.master, buf, sizeof buf) <= 0)
            g_usleep(10000);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);

    char *history_path = g_build_filename(home, ".ember_shell_history", NULL), *history;
    cr_assert(g_file_get_contents(history_path, &history, NULL, NULL));
    cr_assert_not_null(strstr(history, "val lines = ssc.queueStream(q)\n"), "%s", history);
    cr_assert_not_null(strstr(history, "val n = lines.map(w =>\n  w.length)\n"), "%s", history);
    g_free(history);
    g_unlink(history_path);
    g_free(history_path);
    g_rmdir(home);
    g_free(home);
    close(c.master);
    g_spawn_close_pid(c.pid);
    g_string_free(screen, TRUE);
}
