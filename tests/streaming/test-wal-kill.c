/* kill -9 at 24 points of a stateful word count fed from a real TCP socket on 127.0.0.1 with
 * the receivers' write-ahead log on (wal-child.c): after its lines are logged and before their
 * batch, right after a batch starts, a random few milliseconds into it, and between batches
 * while its checkpoint is being written. The test is the line server; after each kill it starts
 * the program again on the same directories and it connects again. The server never sends a
 * line twice: every line the program had logged when it died must still count once. At the end
 * every batch's saveAsTextFiles output, running totals included, is exactly that of a run never
 * killed. */
#include <criterion/criterion.h>

#include <glib.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD EMBER_BUILD_ROOT "/tests/wal-child"

enum { BATCHES = 12, KILLS = 24 };

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-walkill-XXXXXX", NULL);
    cr_assert(tmp);
    signal(SIGPIPE, SIG_IGN); /* a write to a killed program's socket fails instead */
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

TestSuite(wal_kill, .init = setup, .fini = teardown);

typedef struct {
    char *checkpoint, *prefix;
    int listener, port;
} server;

static server make_server(const char *name)
{
    server s = {.checkpoint = g_build_filename(tmp, name, "ck", NULL),
                .prefix = g_build_filename(tmp, name, "out", NULL)};
    cr_assert_eq(g_mkdir_with_parents(s.checkpoint, 0755), 0);
    s.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s.listener, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s.listener, 4), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(s.listener, (struct sockaddr *)&a, &len), 0);
    s.port = ntohs(a.sin_port);
    return s;
}

static void free_server(server *s)
{
    close(s->listener);
    g_free(s->checkpoint), g_free(s->prefix);
}

/* Batch k's lines: a few over a small vocabulary, different every batch. */
static int lines_of(int k) { return 1 + k % 3; }

static void send_lines(int fd, int k)
{
    GString *text = g_string_new(NULL);
    for (int line = 0; line < lines_of(k); line++)
        g_string_append_printf(text, "w%d w%d common\n", (k + line) % 5, (k * 7 + line) % 4);
    cr_assert_eq(write(fd, text->str, text->len), (ssize_t)text->len);
    g_string_free(text, TRUE);
}

typedef struct {
    GPid pid;
    FILE *in, *out;
    int conn; /* the program's connection to the server */
    long long recovered;
    int sent; /* lines sent on conn */
} child;

static child start(const server *s)
{
    g_autofree char *port = g_strdup_printf("%d", s->port);
    char *argv[] = {CHILD, port, s->checkpoint, s->prefix, NULL};
    child c = {0};
    int in_fd, out_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &c.pid, &in_fd, &out_fd, NULL, &err),
              "%s", err ? err->message : "");
    c.in = fdopen(in_fd, "w");
    c.out = fdopen(out_fd, "r");
    char line[64];
    cr_assert(fgets(line, sizeof line, c.out), "the child did not start");
    cr_assert_eq(sscanf(line, "start %lld", &c.recovered), 1, "%s", line);
    struct pollfd p = {.fd = s->listener, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 30000), 1, "the program did not connect");
    c.conn = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(c.conn, 0);
    return c;
}

static void command(child *c, const char *what)
{
    fprintf(c->in, "%s %d\n", what, c->sent);
    fflush(c->in);
}

static void expect(child *c, const char *fmt, long long want)
{
    long long got = -1;
    char line[64];
    cr_assert(fgets(line, sizeof line, c->out), "no answer (want %s %lld)", fmt, want);
    cr_assert_eq(sscanf(line, fmt, &got), 1, "%s", line);
    cr_assert_eq(got, want);
}

static void kill_child(child *c)
{
    kill(c->pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fclose(c->in), fclose(c->out), close(c->conn);
}

static void finish(child *c)
{
    fclose(c->in); /* the end of its input: a graceful stop */
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fclose(c->out), close(c->conn);
}

typedef enum { LOGGED_NOT_BATCHED, AT_START, A_FEW_MS_IN, AFTER_DONE } kill_point;

/* Runs the word count over BATCHES batches, the i-th kill at the first batch >= plan[i] of
 * whatever run is going then, at kill point i % 4. Returns how many kills happened. */
static int run(const server *s, const int *plan, int n_kills, GRand *rand)
{
    int written = 0, kills = 0;
    for (;;) {
        child c = start(s);
        int next = c.recovered < 0 ? 1 : (int)(c.recovered / 1000) + 1;
        cr_assert_leq(next, written + 1, "the checkpoint is never ahead of the input");
        bool killed = false;
        for (int k = next; k <= BATCHES && !killed; k++) {
            if (k > written) {
                send_lines(c.conn, written = k);
                c.sent += lines_of(k);
            }
            kill_point p = (kill_point)(kills % 4);
            bool kill_now = kills < n_kills && plan[kills] <= k;
            /* A kill comes once the lines sent are logged: lines the program had not read
             * yet are lost with it, as TCP cannot say which. */
            if (kill_now) {
                command(&c, "stored");
                expect(&c, "stored %lld", c.sent);
            }
            if (!kill_now || p != LOGGED_NOT_BATCHED) {
                command(&c, "advance");
                if (kill_now && p == A_FEW_MS_IN) /* a random point inside the batch */
                    g_usleep((gulong)g_rand_int_range(rand, 0, 4000));
                if (!kill_now || p == AFTER_DONE)
                    expect(&c, "done %lld", (long long)k * 1000);
            }
            if (kill_now) {
                kill_child(&c);
                kills++;
                killed = true;
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
static char *outputs(const server *s)
{
    GString *all = g_string_new(NULL);
    for (int k = 1; k <= BATCHES; k++) {
        g_autofree char *path = g_strdup_printf("%s-%d", s->prefix, k * 1000);
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

Test(wal_kill, kill_9_anywhere_loses_no_logged_line_and_counts_none_twice)
{
    GRand *rand = g_rand_new_with_seed(20261203);
    server whole = make_server("whole");
    cr_assert_eq(run(&whole, NULL, 0, rand), 0);
    g_autofree char *want = outputs(&whole);
    /* The arithmetic: "common" is on every line, 1 + k % 3 lines in batch k. */
    int common = 0;
    for (int k = 1; k <= BATCHES; k++)
        common += lines_of(k);
    g_autofree char *last = g_strdup_printf("%d: ", BATCHES * 1000);
    g_autofree char *total = g_strdup_printf("(common,%d)", common);
    cr_assert(strstr(strstr(want, last), total), "%s", want);

    /* Two kills in each batch, so every batch meets each of the four kinds of point. */
    int plan[KILLS];
    for (int i = 0; i < KILLS; i++)
        plan[i] = 1 + i / 2;
    server killed = make_server("killed");
    cr_assert_eq(run(&killed, plan, KILLS, rand), KILLS);
    g_autofree char *got = outputs(&killed);
    cr_assert_str_eq(got, want);
    free_server(&whole);
    free_server(&killed);
    g_rand_free(rand);
}
