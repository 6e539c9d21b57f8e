/* The page as a person sees it: network_wordcount runs against line_server with EMBER_UI set,
 * headless Chromium loads the Streaming page and a batch's page (--dump-dom) and takes a
 * screenshot; the DOM must hold the completed batches, charts with points and the batch's
 * output operations, and agree with the REST figures of the same batches. Without chromium the
 * test is skipped, saying why, except under CI=true where it fails. */
#include <criterion/criterion.h>

#include "../examples/example-fixture.h"
#include "http-client.h"

#include <gio/gio.h>
#include <stdio.h>

#define DEADLINE_US (60 * G_USEC_PER_SEC)

/* A port nobody listens on now (the kernel's pick for 127.0.0.1:0). */
static int free_port(void)
{
    GSocket *s =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *any = g_inet_socket_address_new(lo, 0);
    cr_assert(g_socket_bind(s, any, FALSE, NULL));
    GSocketAddress *bound = g_socket_get_local_address(s, NULL);
    int port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    g_object_unref(bound);
    g_object_unref(any);
    g_object_unref(lo);
    g_socket_close(s, NULL);
    g_object_unref(s);
    return port;
}

static proc spawn_env(const char *const *argv, char **envp)
{
    proc p;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, envp,
                                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                       NULL, NULL, &p.pid, NULL, &p.out, NULL, &err),
              "%s", err ? err->message : "");
    return p;
}

static void stop(proc *p)
{
    kill(p->pid, SIGTERM);
    wait_exit(p, g_get_monotonic_time() + 10 * G_USEC_PER_SEC);
}

/* chromium --headless with a profile of its own; extra is --dump-dom or --screenshot=PATH.
 * Returns its stdout (the DOM for --dump-dom). */
static char *chromium(const char *profile, const char *extra, const char *url)
{
    g_autofree char *user_dir = g_strdup_printf("--user-data-dir=%s", profile);
    const char *argv[] = {"chromium",
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--disable-dev-shm-usage",
                          "--hide-scrollbars",
                          "--window-size=1280,1800",
                          user_dir,
                          extra,
                          url,
                          NULL};
    char *out = NULL;
    int status = 0;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                           NULL, &status, &err),
              "chromium: %s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "chromium %s %s failed", extra, url);
    return out;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The value after "key": in json (the first occurrence after from), or -1. */
static int64_t json_int(const char *json, const char *key)
{
    g_autofree char *pattern = g_strdup_printf("\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at ? g_ascii_strtoll(at + strlen(pattern), NULL, 10) : -1;
}

Test(ui_browser, chromium_shows_completed_batches_charts_and_a_batch_with_its_output_ops)
{
    g_autofree char *browser = g_find_program_in_path("chromium");
    if (!browser) {
        cr_assert(g_strcmp0(g_getenv("CI"), "true") != 0,
                  "CI=true: chromium must be installed (scripts/dev installs it)");
        cr_skip_test("chromium is not installed (apt-get install chromium): the page was not "
                     "opened in a browser");
    }
    g_autofree char *dir = g_dir_make_tmp("ember-ui-XXXXXX", NULL);
    proc server = spawn((const char *[]){EXAMPLES "line_server", "0", NULL});
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + DEADLINE_US));
    int line_port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d", &line_port), 1);
    g_string_free(first, TRUE);

    int ui_port = free_port();
    g_autofree char *ui = g_strdup_printf("127.0.0.1:%d", ui_port);
    g_autofree char *line_port_text = g_strdup_printf("%d", line_port);
    char **env = g_environ_setenv(g_get_environ(), "EMBER_UI", ui, TRUE);
    proc counter = spawn_env((const char *[]){EXAMPLES "network_wordcount", "127.0.0.1",
                                              line_port_text, NULL},
                             env);
    g_strfreev(env);

    /* Wait for three completed batches (a batch a second), asking the REST API. */
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;
    int64_t completed = -1;
    while (completed < 3) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "no 3 batches on the page in time");
        g_usleep(200 * 1000);
        GSocketClient *probe = g_socket_client_new();
        GSocketConnection *c =
            g_socket_client_connect_to_host(probe, "127.0.0.1", (guint16)ui_port, NULL, NULL);
        g_object_unref(probe);
        if (!c)
            continue; /* not listening yet */
        g_object_unref(c);
        http_reply stats = http_get(ui_port, "/api/v1/streaming/statistics");
        completed = json_int(stats.body, "numTotalCompletedBatches");
        http_reply_clear(&stats);
    }

    g_autofree char *page_url = g_strdup_printf("http://%s/streaming", ui);
    g_autofree char *dom = chromium(dir, "--dump-dom", page_url);
    cr_assert(strstr(dom, "<table id=\"completed-batches\">"), "%s", dom);
    const char *done = strstr(dom, "<table id=\"completed-batches\">");
    int rows = count(done, "<tr class=\"batch");
    cr_assert_geq(rows, 3, "completed batches in the table: %d", rows);
    const char *timeline = strstr(dom, "<svg id=\"timeline-input-rate\"");
    cr_assert_not_null(timeline);
    const char *timeline_end = strstr(timeline, "</svg>");
    g_autofree char *chart = g_strndup(timeline, (gsize)(timeline_end - timeline));
    cr_assert_geq(count(chart, "<circle class=\"point\""), 3, "points: %s", chart);
    cr_assert(strstr(chart, "<polyline class=\"line\""));

    /* The oldest batch the page listed, on its own page and in the REST API. */
    const char *last_row = done;
    for (const char *p = strstr(done, "data-batch-time=\""); p;
         p = strstr(p + 1, "data-batch-time=\""))
        last_row = p;
    int64_t batch = g_ascii_strtoll(last_row + strlen("data-batch-time=\""), NULL, 10);
    cr_assert_gt(batch, 0);
    g_autofree char *batch_url =
        g_strdup_printf("http://%s/streaming/batch?id=%" G_GINT64_FORMAT, ui, (gint64)batch);
    g_autofree char *batch_dom = chromium(dir, "--dump-dom", batch_url);
    cr_assert(strstr(batch_dom, "<table id=\"output-ops\">"), "%s", batch_dom);
    cr_assert(strstr(batch_dom, "print of reduceByKey [3]"), "%s", batch_dom);
    cr_assert(strstr(batch_dom, "<pre class=\"lineage\">"));
    g_autofree char *rest_path =
        g_strdup_printf("/api/v1/streaming/batches/%" G_GINT64_FORMAT, (gint64)batch);
    http_reply rest = http_get(ui_port, rest_path);
    cr_assert_eq(rest.status, 200, "%s", rest.body);
    g_autofree char *size =
        g_strdup_printf("<li>Input data size: %" G_GINT64_FORMAT " records</li>",
                        (gint64)json_int(rest.body, "inputSize"));
    cr_assert(strstr(batch_dom, size), "the page and the REST API agree: %s\n%s", size, rest.body);
    cr_assert_eq(json_int(rest.body, "numTotalOutputOps"), 1);
    http_reply_clear(&rest);
    http_reply receivers = http_get(ui_port, "/api/v1/streaming/receivers");
    cr_assert(strstr(receivers.body, "\"streamId\":0"), "%s", receivers.body);
    cr_assert(strstr(receivers.body, "\"isActive\":true"), "%s", receivers.body);
    http_reply_clear(&receivers);

    g_autofree char *png = g_build_filename(dir, "streaming.png", NULL);
    g_autofree char *shot = g_strdup_printf("--screenshot=%s", png);
    g_free(chromium(dir, shot, page_url));
    g_autofree char *image = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(png, &image, &len, NULL), "no screenshot at %s", png);
    cr_assert_gt(len, 10000, "a screenshot of %zu bytes", len);
    cr_assert(memcmp(image, "\x89PNG", 4) == 0);

    stop(&counter);
    stop(&server);
    g_autofree char *rm = g_strdup_printf("rm -rf %s", dir);
    cr_assert(system(rm) == 0);
}

/* The value of "key":"..." in json (the first occurrence), or NULL; g_free() it. */
static char *json_text(const char *json, const char *key)
{
    g_autofree char *pattern = g_strdup_printf("\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    if (!at)
        return NULL;
    at += strlen(pattern);
    return g_strndup(at, strcspn(at, "\""));
}

Test(ui_browser, chromium_shows_a_structured_query_and_its_recent_progress)
{
    g_autofree char *browser = g_find_program_in_path("chromium");
    if (!browser) {
        cr_assert(g_strcmp0(g_getenv("CI"), "true") != 0,
                  "CI=true: chromium must be installed (scripts/dev installs it)");
        cr_skip_test("chromium is not installed (apt-get install chromium): the page was not "
                     "opened in a browser");
    }
    g_autofree char *dir = g_dir_make_tmp("ember-ui-XXXXXX", NULL);
    proc server = spawn((const char *[]){EXAMPLES "line_server", "0", NULL});
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + DEADLINE_US));
    int line_port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d", &line_port), 1);
    g_string_free(first, TRUE);
    int ui_port = free_port();
    g_autofree char *ui = g_strdup_printf("127.0.0.1:%d", ui_port);
    g_autofree char *line_port_text = g_strdup_printf("%d", line_port);
    char **env = g_environ_setenv(g_get_environ(), "EMBER_UI", ui, TRUE);
    proc counter = spawn_env((const char *[]){EXAMPLES "structured_network_wordcount", "127.0.0.1",
                                              line_port_text, NULL},
                             env);
    g_strfreev(env);

    /* Wait for two batches of the query, asking the REST API. */
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;
    int64_t batches = -1;
    g_autofree char *run_id = NULL, *id = NULL;
    while (batches < 2) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "no 2 query batches on the page in time");
        g_usleep(200 * 1000);
        GSocketClient *probe = g_socket_client_new();
        GSocketConnection *c =
            g_socket_client_connect_to_host(probe, "127.0.0.1", (guint16)ui_port, NULL, NULL);
        g_object_unref(probe);
        if (!c)
            continue; /* not listening yet */
        g_object_unref(c);
        http_reply queries = http_get(ui_port, "/api/v1/streaming/queries");
        g_autofree char *compact = g_strdelimit(g_strdup(queries.body), "\n", ' ');
        /* json-glib's pretty printing: "key" : value; made compact for the lookups. */
        g_auto(GStrv) pieces = g_strsplit(compact, "\" : ", -1);
        g_autofree char *joined = g_strjoinv("\":", pieces);
        batches = json_int(joined, "numBatches");
        g_free(run_id);
        g_free(id);
        run_id = json_text(joined, "runId");
        id = json_text(joined, "id");
        http_reply_clear(&queries);
    }
    cr_assert_not_null(run_id);

    g_autofree char *tab_url = g_strdup_printf("http://%s/StreamingQuery/", ui);
    g_autofree char *dom = chromium(dir, "--dump-dom", tab_url);
    const char *active = strstr(dom, "<table id=\"active-queries\">");
    cr_assert_not_null(active, "%s", dom);
    g_autofree char *link =
        g_strdup_printf("<a href=\"/StreamingQuery/statistics?id=%s\">&lt;no name&gt;</a>",
                        run_id);
    cr_assert(strstr(active, link), "%s", dom);
    g_autofree char *cells = g_strdup_printf(
        "<td class=\"l\">RUNNING</td><td class=\"l\">%s</td><td class=\"l\">%s</td>", id, run_id);
    cr_assert(strstr(active, cells), "%s", dom);

    g_autofree char *run_url =
        g_strdup_printf("http://%s/StreamingQuery/statistics?id=%s", ui, run_id);
    g_autofree char *run_dom = chromium(dir, "--dump-dom", run_url);
    const char *progress = strstr(run_dom, "<table id=\"progress\">");
    cr_assert_not_null(progress, "%s", run_dom);
    cr_assert_geq(count(progress, "<tr><td>"), 2, "%s", run_dom);
    /* Batch 0's socket offsets start at null, as Spark's progress has them. */
    cr_assert(strstr(progress, "<td>0</td><td class=\"l\">"), "no batch 0: %s", run_dom);
    cr_assert(strstr(progress, "<td class=\"l\">null</td>"), "batch 0 starts at null: %s",
              run_dom);
    g_autofree char *pre = g_strdup_printf("\"runId\" : \"%s\"", run_id);
    cr_assert(strstr(run_dom, pre), "%s", run_dom);

    stop(&counter);
    stop(&server);
    g_autofree char *rm = g_strdup_printf("rm -rf %s", dir);
    cr_assert(system(rm) == 0);
}
