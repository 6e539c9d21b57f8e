/* Helpers for the tests that run the built examples as subprocesses: spawn one, read what it
 * prints up to a marker or the end, wait for it to exit. Everything has a deadline. */
#ifndef EMBER_TESTS_EXAMPLE_FIXTURE_H
#define EMBER_TESTS_EXAMPLE_FIXTURE_H

#include <criterion/criterion.h>
#include <glib.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXAMPLES EMBER_BUILD_ROOT "/examples/"

typedef struct proc {
    GPid pid;
    int out; /* its stdout */
} proc;

/* In the child before exec: it is killed when the test's process dies, so a test that fails
 * before its cleanup leaves no server behind. */
static inline void die_with_parent(gpointer unused)
{
    (void)unused;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static inline proc spawn(const char *const *argv)
{
    proc p;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                       die_with_parent, NULL, &p.pid, NULL, &p.out, NULL, &err),
              "%s", err ? err->message : "");
    return p;
}

/* Reads fd into out until out ends with marker (NULL: until the end of file); false when the
 * deadline passes first. */
static inline bool read_until(int fd, GString *out, const char *marker, gint64 deadline)
{
    char buf[4096];
    while (!marker || !g_str_has_suffix(out->str, marker)) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = left > 0 ? poll(&p, 1, left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return false;
        ssize_t n = read(fd, buf, marker ? 1 : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && !marker;
        g_string_append_len(out, buf, n);
    }
    return true;
}

/* Waits for the process to exit (killing it past the deadline) and returns its status. */
static inline int wait_exit(proc *p, gint64 deadline)
{
    int status;
    while (waitpid(p->pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            cr_assert_fail("the process did not exit in time");
        }
        g_usleep(10 * 1000);
    }
    close(p->out);
    g_spawn_close_pid(p->pid);
    return status;
}

#endif
