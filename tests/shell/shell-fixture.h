/* Runs ember-shell as the real process it is: a script on its stdin, its stdout and stderr
 * collected, bounded by a deadline. Also the reference side of the "same bytes" checks: the
 * same pipeline built in C on a manual clock, its print() output captured. */
#ifndef EMBER_TESTS_SHELL_FIXTURE_H
#define EMBER_TESTS_SHELL_FIXTURE_H

#include <criterion/criterion.h>
#include <ember.h>
#include <gio/gio.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define SHELL_BIN EMBER_BUILD_ROOT "/shell/ember-shell"
#define SHELL_DEADLINE_S 60

typedef struct shell_run {
    int status; /* wait status */
    char *out;
    char *err;
} shell_run;

static gboolean cancel_after_deadline(gpointer cancellable)
{
    g_cancellable_cancel(cancellable);
    return G_SOURCE_REMOVE;
}

/* Runs ember-shell ARGS with script on stdin; fails the test if it does not end in time. */
static inline shell_run run_shell(const char *const *args, const char *script)
{
    signal(SIGPIPE, SIG_IGN); /* a shell that dies early is a failed assertion, not a crash */
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)SHELL_BIN);
    for (; args && *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);
    GError *err = NULL;
    GSubprocess *p =
        g_subprocess_newv((const char *const *)argv->pdata,
                          G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &err);
    g_ptr_array_free(argv, TRUE);
    cr_assert_not_null(p, "%s", err ? err->message : "");
    GCancellable *cancel = g_cancellable_new();
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    GSource *timer = g_timeout_source_new_seconds(SHELL_DEADLINE_S);
    g_source_set_callback(timer, cancel_after_deadline, cancel, NULL);
    g_source_attach(timer, ctx);
    shell_run r = {0};
    gboolean ok = g_subprocess_communicate_utf8(p, script, cancel, &r.out, &r.err, &err);
    g_source_destroy(timer);
    g_source_unref(timer);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    if (!ok) {
        g_subprocess_force_exit(p);
        g_subprocess_wait(p, NULL, NULL);
        cr_assert_fail("ember-shell did not finish: %s", err->message);
    }
    g_subprocess_wait(p, NULL, NULL);
    r.status = g_subprocess_get_status(p);
    g_object_unref(p);
    g_object_unref(cancel);
    return r;
}

static inline void shell_run_free(shell_run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* Asserts a clean run: exit 0 and nothing on stderr. */
static inline void assert_clean(const shell_run *r)
{
    cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "status %d, stderr:\n%s",
              r->status, r->err);
    cr_assert_str_eq(r->err, "");
}

/* ---- The C side: the same pipeline on a manual clock, print() into a string ---- */

typedef struct c_run {
    em_ssc *ssc;
    em_rdd_queue *queue;
    em_dstream *lines;
    FILE *out;
    char *text;
    size_t len;
} c_run;

/* A 1 s manual-clock ssc on a queue of string batches, each one parallelized into slices. */
static inline void c_run_init(c_run *cp, const char *const *batches, size_t n, int slices)
{
    c_run c = {0};
    c.ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                           .batch_interval = EM_SECONDS(1),
                                           .manual_clock = true},
                            NULL);
    cr_assert_not_null(c.ssc);
    c.queue = em_rdd_queue_new();
    for (size_t i = 0; i < n; i++) {
        char **lines = g_strsplit(batches[i], "|", -1);
        guint k = g_strv_length(lines);
        em_value *vals = g_new(em_value, k);
        for (guint j = 0; j < k; j++)
            vals[j] = em_str(lines[j]);
        em_rdd *rdd = em_parallelize(em_ssc_context(c.ssc), vals, k, slices);
        em_rdd_queue_push(c.queue, rdd);
        em_rdd_unref(rdd);
        g_free(vals);
        g_strfreev(lines);
    }
    c.lines = em_queue_stream(c.ssc, c.queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    *cp = c;
    cp->out = open_memstream(&cp->text, &cp->len); /* it writes through these pointers */
}

/* Starts, runs batches 1 s .. n s, stops; returns what print() wrote (owned by c). */
static inline const char *c_run_batches(c_run *c, int n)
{
    cr_assert(em_ssc_start(c->ssc, NULL));
    for (int i = 1; i <= n; i++) {
        em_ssc_advance_clock(c->ssc, EM_SECONDS(1));
        cr_assert(em_ssc_wait_for_batch(c->ssc, EM_SECONDS(i), 10000));
    }
    em_ssc_free(c->ssc);
    c->ssc = NULL;
    fclose(c->out);
    c->out = NULL;
    return c->text;
}

static inline void c_run_free(c_run *c)
{
    em_ssc_free(c->ssc);
    if (c->out)
        fclose(c->out);
    em_rdd_queue_free(c->queue);
    free(c->text);
}

static inline int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The records of batch `time` in printed output, sorted and joined with spaces: for checks
 * by hand that do not depend on the order within a batch. */
static inline char *batch_records(const char *printed, long long time)
{
    char *marker = g_strdup_printf("Time: %lld ms\n", time);
    const char *p = strstr(printed, marker);
    g_free(marker);
    if (!p)
        return g_strdup("(no batch)");
    p = strchr(p, '\n') + 1;
    p = strchr(p, '\n') + 1; /* the dashes */
    if (*p == '\n')          /* an empty batch: the frame, then the blank line */
        return g_strdup("");
    const char *end = strstr(p, "\n\n");
    char *body = g_strndup(p, end ? (size_t)(end - p) : strlen(p));
    char **lines = g_strsplit(body, "\n", -1);
    g_free(body);
    guint n = g_strv_length(lines);
    if (n == 1 && lines[0][0] == '\0')
        n = 0;
    qsort(lines, n, sizeof(char *), compare_lines);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", lines[i]);
    g_strfreev(lines);
    return g_string_free(s, FALSE);
}

#endif
