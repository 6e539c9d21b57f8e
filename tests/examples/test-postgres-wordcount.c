/* postgres_wordcount (foreachRDD to PostgreSQL through libpq) against a real PostgreSQL server
 * the test starts: initdb in a temporary directory (as the postgres user, or nobody, when the
 * suite runs as root), listening on 127.0.0.1 on a free port, its unix socket in that
 * directory. The live run's table is checked exactly against what it printed; batches run
 * again (--replay) leave one row per (batch time, word) with the batch's count. Without
 * PostgreSQL installed the test is skipped, saying so, except under CI=true where it fails. */
#include "example-fixture.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define TIMEOUT_US (60 * G_USEC_PER_SEC)

static const char text[] = "to be or not to be\nthat is the question\n";
static const char counts_of_text[] = "be|2\nis|1\nnot|1\nor|1\nquestion|1\nthat|1\nthe|1\nto|2\n";

static char *tmp, *text_path, *bin, *conninfo;
static const char *run_as; /* the user PostgreSQL runs as; NULL: this one */
static bool started;

/* The newest installed PostgreSQL's bin directory, or NULL. */
static char *find_postgres(void)
{
    glob_t g;
    char *found = NULL;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0)
        found = g_path_get_dirname(g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return found;
}

/* Runs argv (as run_as when set) to its end; its exit status, its output in *out if asked
 * (else dropped). */
static int run(const char *const *argv, char **out)
{
    GPtrArray *args = g_ptr_array_new();
    if (run_as) {
        g_ptr_array_add(args, "runuser");
        g_ptr_array_add(args, "-u");
        g_ptr_array_add(args, (char *)run_as);
        g_ptr_array_add(args, "--");
    }
    for (const char *const *a = argv; *a; a++)
        g_ptr_array_add(args, (char *)*a);
    g_ptr_array_add(args, NULL);
    int status = -1;
    GError *err = NULL;
    char *err_text = NULL, *dropped = NULL;
    bool ok = g_spawn_sync(tmp, (char **)args->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                           out ? out : &dropped, &err_text, &status, &err);
    g_free(dropped);
    cr_assert(ok, "%s: %s", argv[0], err ? err->message : "");
    if (!g_spawn_check_wait_status(status, NULL))
        cr_log_warn("%s failed: %s", argv[0], err_text);
    g_free(err_text);
    g_ptr_array_unref(args);
    return status;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void start_postgres(void)
{
    tmp = g_dir_make_tmp("ember-postgres-XXXXXX", NULL);
    cr_assert(tmp);
    text_path = g_build_filename(tmp, "text.txt", NULL);
    cr_assert(g_file_set_contents(text_path, text, -1, NULL));
    bin = find_postgres();
    if (!bin) {
        if (g_strcmp0(g_getenv("CI"), "true") == 0)
            cr_assert_fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                           "scripts/dev installs Debian's postgresql");
        cr_skip_test("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                     "install Debian's postgresql (scripts/dev does) to run this test");
    }
    if (geteuid() == 0) { /* PostgreSQL refuses to run as root */
        run_as = getpwnam("postgres") ? "postgres" : "nobody";
        struct passwd *pw = getpwnam(run_as);
        cr_assert_not_null(pw);
        cr_assert_eq(chown(tmp, pw->pw_uid, pw->pw_gid), 0);
        cr_assert_eq(chmod(text_path, 0644), 0);
    }
    char *data = g_build_filename(tmp, "data", NULL);
    char *initdb = g_build_filename(bin, "initdb", NULL);
    char *pg_ctl = g_build_filename(bin, "pg_ctl", NULL);
    char *log = g_build_filename(tmp, "log", NULL);
    int port = free_port();
    char *options = g_strdup_printf("-h 127.0.0.1 -p %d -k %s -F", port, tmp);
    const char *init_argv[] = {initdb,         "-D", data,   "-U",        "ember",
                               "--auth=trust", "-E", "UTF8", "--no-sync", NULL};
    cr_assert_eq(run(init_argv, NULL), 0, "initdb failed");
    const char *start_argv[] = {pg_ctl, "-D", data, "-w", "-l", log, "-o", options, "start", NULL};
    cr_assert_eq(run(start_argv, NULL), 0, "pg_ctl start failed");
    started = true;
    conninfo = g_strdup_printf("host=127.0.0.1 port=%d dbname=postgres user=ember", port);
    g_free(options);
    g_free(log);
    g_free(pg_ctl);
    g_free(initdb);
    g_free(data);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void stop_postgres(void)
{
    if (started) {
        char *data = g_build_filename(tmp, "data", NULL);
        char *pg_ctl = g_build_filename(bin, "pg_ctl", NULL);
        const char *stop_argv[] = {pg_ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL};
        run(stop_argv, NULL);
        g_free(pg_ctl);
        g_free(data);
    }
    if (tmp)
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
    g_free(text_path);
    g_free(bin);
    g_free(conninfo);
}

/* psql's unaligned, tuples-only output of query. */
static char *psql(const char *query)
{
    char *psql_bin = g_build_filename(bin, "psql", NULL);
    const char *argv[] = {psql_bin, conninfo, "-X", "-At", "-c", query, NULL};
    const char *saved = run_as;
    run_as = NULL; /* a client over TCP may run as anyone */
    char *out = NULL;
    cr_assert_eq(run(argv, &out), 0, "psql %s failed", query);
    run_as = saved;
    g_free(psql_bin);
    return out;
}

/* Runs the example with argv to its end; what it printed. */
static char *run_example(const char *const *argv)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    proc p = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(p.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&p, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status,
              printed->str);
    return g_string_free(printed, FALSE);
}

static char *replay(const char *time_ms)
{
    const char *argv[] =
        {EXAMPLES "postgres_wordcount", "--replay", text_path, time_ms, conninfo, NULL};
    return run_example(argv);
}

static char *rows_at(const char *time_ms)
{
    char *query =
        g_strdup_printf("select word, count from word_counts where batch_time = %s order by word",
                        time_ms);
    char *rows = psql(query);
    g_free(query);
    return rows;
}

TestSuite(postgres_wordcount, .init = start_postgres, .fini = stop_postgres);

Test(postgres_wordcount, upserts_each_batch_once_and_a_batch_run_again_adds_nothing)
{
    /* The live run: line_server sends the text at once; two batches. */
    const char *server_argv[] =
        {EXAMPLES "line_server", "--once", "--pace", "0", "0", text_path, NULL};
    proc server = spawn(server_argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    char port[16];
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%15[0-9]\n", port), 1);
    g_string_free(first, TRUE);
    const char *argv[] = {EXAMPLES "postgres_wordcount", "127.0.0.1", port, conninfo, "2", NULL};
    char *printed = run_example(argv);
    cr_assert(WIFEXITED(wait_exit(&server, g_get_monotonic_time() + TIMEOUT_US)));

    /* The table holds exactly what each batch said it upserted, and every word of the text
     * once over all batches. */
    char **lines = g_strsplit(printed, "\n", -1);
    cr_assert_eq(g_strv_length(lines), 3, "%s", printed);
    GString *expected_times = g_string_new(NULL);
    char first_time[32] = "";
    int later_rows = 0; /* rows of the live batches after the first that upserted any */
    for (int i = 0; i < 2; i++) {
        long long t;
        int n, used = 0;
        cr_assert(sscanf(lines[i], "Batch %lld ms: %d word counts upserted%n", &t, &n, &used) ==
                          2 &&
                      !lines[i][used],
                  "%s", lines[i]);
        char *count_query =
            g_strdup_printf("select count(*) from word_counts where batch_time = %lld", t);
        char *rows = psql(count_query);
        char *want = g_strdup_printf("%d\n", n);
        cr_assert_str_eq(rows, want, "batch %lld", t);
        if (n > 0) {
            g_string_append_printf(expected_times, "%lld\n", t);
            if (!first_time[0])
                g_snprintf(first_time, sizeof first_time, "%lld", t);
            else
                later_rows += n;
        }
        g_free(want);
        g_free(rows);
        g_free(count_query);
    }
    g_strfreev(lines);
    char *times = psql("select distinct batch_time from word_counts order by 1");
    cr_assert_str_eq(times, expected_times->str);
    char *totals = psql("select word, sum(count) from word_counts group by word order by word");
    cr_assert_str_eq(totals, counts_of_text, "%s", printed);
    cr_assert(first_time[0], "no batch upserted anything: %s", printed);

    /* The first batch run again over the whole text: its rows become the text's counts, once
     * each, not added to. */
    char *again = replay(first_time);
    char *want = g_strdup_printf("Batch %s ms: 8 word counts upserted\n", first_time);
    cr_assert_str_eq(again, want);
    char *rows = rows_at(first_time);
    cr_assert_str_eq(rows, counts_of_text);

    /* A batch of its own, run twice: the second run changes nothing. */
    char *once = replay("5000"), *twice = replay("5000");
    cr_assert_str_eq(once, "Batch 5000 ms: 8 word counts upserted\n");
    cr_assert_str_eq(twice, once);
    char *rows_5000 = rows_at("5000");
    cr_assert_str_eq(rows_5000, counts_of_text);
    /* Nothing else changed: the live batches after the first keep their rows. */
    char *all = psql("select count(*) from word_counts");
    char *all_want = g_strdup_printf("%d\n", 8 + 8 + later_rows);
    cr_assert_str_eq(all, all_want);
    g_free(all_want);
    g_free(all);
    g_free(rows_5000);
    g_free(once);
    g_free(twice);
    g_free(rows);
    g_free(want);
    g_free(again);
    g_free(totals);
    g_free(times);
    g_string_free(expected_times, TRUE);
    g_free(printed);
}

/* No server at the address: the example says what it could not reach and what to install. */
Test(postgres_wordcount_without_server, says_clearly_that_no_postgresql_is_there)
{
    char *where =
        g_strdup_printf("host=127.0.0.1 port=%d dbname=postgres user=ember", free_port());
    const char *argv[] = {EXAMPLES "postgres_wordcount", "127.0.0.1", "9", where, "1", NULL};
    proc p;
    int err_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                       NULL, &p.pid, NULL, &p.out, &err_fd, &err));
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *said = g_string_new(NULL);
    cr_assert(read_until(err_fd, said, NULL, deadline));
    close(err_fd);
    int status = wait_exit(&p, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char *start =
        g_strdup_printf("postgres_wordcount: cannot connect to PostgreSQL (%s): ", where);
    cr_assert(g_str_has_prefix(said->str, start), "%s", said->str);
    /* libpq's own words in between, on one line. */
    cr_assert(strstr(said->str, "Connection refused"), "%s", said->str);
    cr_assert(g_str_has_suffix(said->str, " -- is a PostgreSQL server running there? (Debian: "
                                          "apt-get install postgresql)\n"),
              "%s", said->str);
    cr_assert_eq(strchr(said->str, '\n') - said->str, (long)said->len - 1, "%s", said->str);
    g_free(start);
    g_free(where);
    g_string_free(said, TRUE);
}
