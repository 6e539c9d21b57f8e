/* PageViewStream and PageViewGenerator as the built programs they are. Each metric runs on a
 * fixed file of eight page views that line_server sends at once; batch boundaries depend on
 * timing, so per-batch metrics are checked on their totals over all batches and windowed ones
 * on their last window (which holds every view), each line exact. The generator is checked for
 * Spark's line format, its value ranges and reproducibility under a seed, and pageCounts read
 * from it counts exactly the views it sent. */
#include "example-fixture.h"

#include <gio/gio.h>

#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------"

/* url, status, zipCode, userID. Zip 94709 sees 2 errors in 5 views, 94117 none in 3; users 1,
 * 2, 3, 7 and 9; users 1, 2 and 3 (in Spark's userList) twice each. */
static const char views[] = "http://foo.com/\t200\t94709\t1\n"
                            "http://foo.com/\t200\t94709\t2\n"
                            "http://foo.com/news\t404\t94709\t3\n"
                            "http://foo.com/\t200\t94117\t1\n"
                            "http://foo.com/contact\t200\t94709\t7\n"
                            "http://foo.com/news\t200\t94117\t2\n"
                            "http://foo.com/\t404\t94709\t9\n"
                            "http://foo.com/\t200\t94117\t3\n";

static char *views_path;

static void write_views(void)
{
    int fd = g_file_open_tmp("ember-views-XXXXXX", &views_path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, views, sizeof views - 1), (ssize_t)(sizeof views - 1));
    close(fd);
}

static void remove_views(void)
{
    unlink(views_path);
    g_free(views_path);
}

/* Runs pageview_stream METRIC for `batches` batches against the server on port, then waits
 * for the server to exit; returns what the stream printed. */
static char *run_stream(const char *metric, int port, const char *batches, proc *server)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    char port_text[16];
    g_snprintf(port_text, sizeof port_text, "%d", port);
    const char *argv[] =
        {EXAMPLES "pageview_stream", metric, "127.0.0.1", port_text, batches, NULL};
    proc stream = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(stream.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&stream, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d:\n%s", status,
              printed->str);
    cr_assert(WIFEXITED(wait_exit(server, deadline)));
    return g_string_free(printed, FALSE);
}

/* Runs pageview_stream METRIC for `batches` batches against line_server --once --pace 0
 * serving the views; returns what it printed. */
static char *run_metric(const char *metric, const char *batches)
{
    const char *server_argv[] =
        {EXAMPLES "line_server", "--once", "--pace", "0", "0", views_path, NULL};
    proc server = spawn(server_argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    return run_stream(metric, port, batches, &server);
}

/* The printed batches, each checked for em_print's frame (times a batch apart, from first_ms
 * on in steps of step_ms): their record lines, one string per batch. */
static GPtrArray *batches_of(const char *printed, long long step_ms)
{
    GPtrArray *batches = g_ptr_array_new_with_free_func(g_free);
    char **lines = g_strsplit(printed, "\n", -1);
    long long last = 0;
    size_t i = 0;
    while (lines[i] && lines[i][0]) {
        long long t;
        cr_assert_str_eq(lines[i], DASHES, "%s", printed);
        cr_assert_eq(sscanf(lines[i + 1], "Time: %lld ms", &t), 1, "%s", lines[i + 1]);
        cr_assert(last == 0 || t == last + step_ms, "batch %lld after %lld", t, last);
        cr_assert_str_eq(lines[i + 2], DASHES);
        last = t;
        GString *records = g_string_new(NULL);
        for (i += 3; lines[i] && lines[i][0]; i++)
            g_string_append_printf(records, "%s\n", lines[i]);
        cr_assert_not_null(lines[i], "a batch without its closing blank line");
        i++;
        g_ptr_array_add(batches, g_string_free(records, FALSE));
    }
    cr_assert(!lines[i] || (lines[i][0] == '\0' && !lines[i + 1]), "trailing output");
    g_strfreev(lines);
    return batches;
}

static gint compare_strs(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines sorted, each ended by '\n'. */
static char *sorted_lines(const char *text)
{
    char **lines = g_strsplit(text, "\n", -1);
    guint n = g_strv_length(lines);
    if (n > 0 && !lines[n - 1][0])
        n--;
    qsort(lines, n, sizeof *lines, (int (*)(const void *, const void *))compare_strs);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < n; i++)
        g_string_append_printf(out, "%s\n", lines[i]);
    g_strfreev(lines);
    return g_string_free(out, FALSE);
}

/* The last window of a windowed metric, its lines sorted. */
static void assert_last_window(const char *metric, const char *expected)
{
    char *printed = run_metric(metric, "4");
    GPtrArray *batches = batches_of(printed, 2000); /* a 2 s slide */
    cr_assert_geq(batches->len, 1, "%s", printed);
    char *last = sorted_lines(batches->pdata[batches->len - 1]);
    cr_assert_str_eq(last, expected, "%s", printed);
    g_free(last);
    g_ptr_array_unref(batches);
    g_free(printed);
}

TestSuite(pageview, .init = write_views, .fini = remove_views);

/* The (url,count) records of every printed batch (1 s apart), summed per url. */
static void sum_page_counts(const char *printed, int *home, int *news, int *contact)
{
    GPtrArray *batches = batches_of(printed, 1000);
    cr_assert_eq(batches->len, 2, "%s", printed);
    *home = *news = *contact = 0;
    for (guint b = 0; b < batches->len; b++) {
        char **lines = g_strsplit(batches->pdata[b], "\n", -1);
        for (char **l = lines; *l && **l; l++) {
            char url[64];
            int n, used = 0;
            cr_assert(sscanf(*l, "(%63[^,],%d)%n", url, &n, &used) == 2 && !(*l)[used], "%s", *l);
            int *count = strcmp(url, "http://foo.com/") == 0          ? home
                         : strcmp(url, "http://foo.com/news") == 0    ? news
                         : strcmp(url, "http://foo.com/contact") == 0 ? contact
                                                                      : NULL;
            cr_assert_not_null(count, "%s", *l);
            *count += n;
        }
        g_strfreev(lines);
    }
    g_ptr_array_unref(batches);
}

Test(pageview, page_counts_count_each_url_once_over_the_batches)
{
    char *printed = run_metric("pageCounts", "2");
    int home, news, contact;
    sum_page_counts(printed, &home, &news, &contact);
    cr_assert(home == 5 && news == 2 && contact == 1, "%s", printed);
    g_free(printed);
}

Test(pageview, sliding_page_counts_count_the_urls_of_the_last_ten_seconds)
{
    assert_last_window("slidingPageCounts", "(http://foo.com/,5)\n"
                                            "(http://foo.com/contact,1)\n"
                                            "(http://foo.com/news,2)\n");
}

Test(pageview, error_rate_per_zip_code_marks_rates_over_five_percent)
{
    assert_last_window("errorRatePerZipCode", "94117: 0.0\n"
                                              "94709: **0.4**\n");
}

Test(pageview, active_user_count_counts_distinct_users_of_the_window)
{
    assert_last_window("activeUserCount", "Unique active users: 5\n");
}

Test(pageview, popular_users_seen_names_each_view_of_a_known_user)
{
    char *printed = run_metric("popularUsersSeen", "2");
    char **lines = g_strsplit(printed, "\n", -1);
    GString *users = g_string_new(NULL);
    for (char **l = lines; *l && **l; l++) {
        const char *at = strstr(*l, " at time ");
        long long t;
        int used = 0;
        cr_assert(g_str_has_prefix(*l, "Saw user ") && at &&
                      sscanf(at, " at time %lld ms%n", &t, &used) == 1 && !at[used] &&
                      t % 1000 == 0,
                  "%s", *l);
        g_string_append_printf(users, "%.*s\n", (int)(at - *l - 9), *l + 9);
    }
    char *sorted = sorted_lines(users->str);
    cr_assert_str_eq(sorted,
                     "Matei Zaharia\nMatei Zaharia\nPatrick Wendell\nPatrick Wendell\n"
                     "Reynold Xin\nReynold Xin\n",
                     "%s", printed);
    g_free(sorted);
    g_string_free(users, TRUE);
    g_strfreev(lines);
    g_free(printed);
}

Test(pageview, an_unknown_metric_is_reported_as_spark_does)
{
    const char *argv[] = {EXAMPLES "pageview_stream", "pageViews", "127.0.0.1", "9", "1", NULL};
    proc stream = spawn(argv);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(stream.out, printed, NULL, deadline));
    int status = wait_exit(&stream, deadline);
    cr_assert_str_eq(printed->str, "Invalid metric entered: pageViews\n");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "no output operation: a failure");
    g_string_free(printed, TRUE);
}

/* pageview_generator --seed SEED --views 50 --clients 1 on a free port; returns the port. */
static int start_generator(const char *seed, proc *gen)
{
    const char *argv[] = {EXAMPLES "pageview_generator",
                          "--seed",
                          seed,
                          "--views",
                          "50",
                          "--clients",
                          "1",
                          "0",
                          "1000000",
                          NULL};
    *gen = spawn(argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(gen->out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on port: %d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    return port;
}

/* The views pageview_generator --seed SEED --views 50 sends to one client. */
static char *generated(const char *seed)
{
    proc gen;
    int port = start_generator(seed, &gen);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    char *port_text = g_strdup_printf("127.0.0.1:%d", port);
    GSocketClient *client = g_socket_client_new();
    GSocketConnection *conn = g_socket_client_connect_to_host(client, port_text, 0, NULL, NULL);
    cr_assert_not_null(conn);
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    GString *got = g_string_new(NULL);
    char buf[4096];
    gssize n;
    while ((n = g_input_stream_read(in, buf, sizeof buf, NULL, NULL)) > 0)
        g_string_append_len(got, buf, n);
    g_object_unref(conn);
    g_object_unref(client);
    g_free(port_text);
    GString *rest = g_string_new(NULL);
    cr_assert(read_until(gen.out, rest, NULL, deadline));
    cr_assert_str_eq(rest->str, "Got client connected from: /127.0.0.1\n");
    g_string_free(rest, TRUE);
    int status = wait_exit(&gen, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    return g_string_free(got, FALSE);
}

Test(pageview, generator_sends_views_in_sparks_format_reproducibly_under_a_seed)
{
    char *a = generated("7"), *b = generated("7"), *c = generated("8");
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    char **lines = g_strsplit(a, "\n", -1);
    cr_assert_eq(g_strv_length(lines), 51);
    for (int i = 0; i < 50; i++) {
        char **f = g_strsplit(lines[i], "\t", -1);
        cr_assert_eq(g_strv_length(f), 4, "%s", lines[i]);
        cr_assert(g_strv_contains((const char *const[]){"http://foo.com/", "http://foo.com/news",
                                                        "http://foo.com/contact", NULL},
                                  f[0]),
                  "%s", lines[i]);
        cr_assert(!strcmp(f[1], "200") || !strcmp(f[1], "404"), "%s", lines[i]);
        cr_assert(!strcmp(f[2], "94709") || !strcmp(f[2], "94117"), "%s", lines[i]);
        guint64 user;
        cr_assert(g_ascii_string_to_unsigned(f[3], 10, 1, 100, &user, NULL), "%s", lines[i]);
        g_strfreev(f);
    }
    g_strfreev(lines);
    g_free(a);
    g_free(b);
    g_free(c);
}

Test(pageview, page_counts_of_the_generators_views_are_the_views_it_sent)
{
    /* What seed 11 sends, counted here, then pageview_stream reading the same views. */
    char *views_sent = generated("11");
    int home = 0, news = 0, contact = 0;
    char **lines = g_strsplit(views_sent, "\n", -1);
    for (char **l = lines; *l && **l; l++) {
        home += g_str_has_prefix(*l, "http://foo.com/\t");
        news += g_str_has_prefix(*l, "http://foo.com/news\t");
        contact += g_str_has_prefix(*l, "http://foo.com/contact\t");
    }
    g_strfreev(lines);
    cr_assert_eq(home + news + contact, 50);
    proc gen;
    int port = start_generator("11", &gen);
    char *printed = run_stream("pageCounts", port, "2", &gen);
    int got_home, got_news, got_contact;
    sum_page_counts(printed, &got_home, &got_news, &got_contact);
    cr_assert(got_home == home && got_news == news && got_contact == contact, "sent %d/%d/%d:\n%s",
              home, news, contact, printed);
    g_free(printed);
    g_free(views_sent);
}
