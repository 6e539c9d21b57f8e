/* The web page's server: libsoup 3 on a thread of its own with its own GMainContext. A request
 * takes a snapshot of the monitor's figures (references copied under its short lock) and
 * renders from it, so the batch thread never waits on a page. Only GET and HEAD are served;
 * everything else gets a 4xx naming what was wrong. */
#include "ui-private.h"

#include <libsoup/soup.h>
#include <string.h>

struct em__ui_server {
    em_ssc *ssc;
    GMainContext *ctx;
    GMainLoop *loop;
    SoupServer *server;
    GThread *thread;
    int port;
};

static void respond(SoupServerMessage *msg, guint status, const char *type, char *body)
{
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, body, strlen(body));
}

static void respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *body = g_strdup_printf("%s\n", text);
    g_free(text);
    respond(msg, status, "text/plain; charset=utf-8", body);
}

/* A batch time in a path or query: decimal digits only. */
static bool parse_time(const char *text, em_time *t)
{
    guint64 v;
    if (!text || !*text || strlen(text) > 18 ||
        !g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, &v, NULL))
        return false;
    *t = (em_time)v;
    return true;
}

static int count_receivers(em_ssc *ssc)
{
    if (!em__ui_graph_fixed(ssc))
        return 0;
    int n = 0;
    GPtrArray *inputs = em__ui_inputs(ssc);
    for (guint i = 0; i < inputs->len; i++)
        n += em__ui_input_is_receiver(inputs->pdata[i]);
    return n;
}

/* /api/v1/streaming/...: rest is what follows "streaming/". */
static void serve_api(em__ui_server *s, SoupServerMessage *msg, const char *rest,
                      GHashTable *query, const em__snapshot *snap)
{
    const char *json_type = "application/json";
    if (strcmp(rest, "statistics") == 0) {
        respond(msg, 200, json_type, em__ui_rest_statistics(snap, count_receivers(s->ssc)));
        return;
    }
    if (strcmp(rest, "receivers") == 0) {
        respond(msg, 200, json_type, em__ui_rest_receivers(snap));
        return;
    }
    if (strcmp(rest, "batches") == 0) {
        const char *status = query ? g_hash_table_lookup(query, "status") : NULL;
        if (status && strcmp(status, "COMPLETED") != 0 && strcmp(status, "PROCESSING") != 0) {
            respond_error(msg, 400, "status must be COMPLETED or PROCESSING, not \"%s\"", status);
            return;
        }
        respond(msg, 200, json_type, em__ui_rest_batches(snap, status));
        return;
    }
    if (g_str_has_prefix(rest, "batches/")) {
        char **parts = g_strsplit(rest + strlen("batches/"), "/", 3);
        em_time t;
        bool ops = parts[0] && parts[1] && strcmp(parts[1], "operations") == 0 && !parts[2];
        if (!parse_time(parts[0], &t) || (parts[1] && !ops)) {
            respond_error(msg, 400,
                          "expected /api/v1/streaming/batches/<batch time in ms>"
                          "[/operations]");
        } else {
            char *body = ops ? em__ui_rest_operations(snap, t) : em__ui_rest_batch(snap, t);
            if (body)
                respond(msg, 200, json_type, body);
            else
                respond_error(msg, 404, "no batch at %" G_GINT64_FORMAT " ms among the %u kept",
                              (gint64)t, snap->completed->len + (snap->active ? 1 : 0));
        }
        g_strfreev(parts);
        return;
    }
    if (strcmp(rest, "queries") == 0) {
        respond(msg, 200, json_type, em__ui_rest_queries(s->ssc));
        return;
    }
    if (g_str_has_prefix(rest, "queries/")) {
        const char *run_id = rest + strlen("queries/");
        char *body = *run_id ? em__ui_rest_query(s->ssc, run_id) : NULL;
        if (body)
            respond(msg, 200, json_type, body);
        else
            respond_error(msg, 404, "no query run with runId \"%s\"", run_id);
        return;
    }
    respond_error(msg, 404,
                  "unknown endpoint /api/v1/streaming/%s (statistics, batches, "
                  "batches/<time>, batches/<time>/operations, receivers, queries, "
                  "queries/<runId>)",
                  rest);
}

static void serve_batch_page(em__ui_server *s, SoupServerMessage *msg, GHashTable *query,
                             const em__snapshot *snap)
{
    const char *id = query ? g_hash_table_lookup(query, "id") : NULL;
    em_time t;
    if (!parse_time(id, &t)) {
        respond_error(msg, 400, "expected /streaming/batch?id=<batch time in ms>");
        return;
    }
    char *page = em__ui_page_batch(s->ssc, snap, t);
    if (page)
        respond(msg, 200, "text/html; charset=utf-8", page);
    else
        respond_error(msg, 404, "no batch at %" G_GINT64_FORMAT " ms among those kept", (gint64)t);
}

static void serve_query_page(em__ui_server *s, SoupServerMessage *msg, GHashTable *query,
                             const em__snapshot *snap)
{
    const char *run_id = query ? g_hash_table_lookup(query, "id") : NULL;
    if (!run_id || !*run_id) {
        respond_error(msg, 400, "expected /StreamingQuery/statistics?id=<runId>");
        return;
    }
    char *page = em__ui_page_query(s->ssc, snap, run_id);
    if (page)
        respond(msg, 200, "text/html; charset=utf-8", page);
    else
        respond_error(msg, 404, "no query run with runId \"%s\"", run_id);
}

static void handle(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer ud)
{
    (void)server;
    em__ui_server *s = ud;
    const char *method = soup_server_message_get_method(msg);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                     "GET, HEAD");
        respond_error(msg, 405, "%s is not allowed: this page only serves GET and HEAD", method);
        return;
    }
    em__snapshot *snap = em__monitor_snapshot(em__monitor_of(s->ssc));
    const char *html = "text/html; charset=utf-8";
    if (strcmp(path, "/") == 0 || strcmp(path, "/streaming") == 0 ||
        strcmp(path, "/streaming/") == 0)
        respond(msg, 200, html, em__ui_page_streaming(s->ssc, snap));
    else if (strcmp(path, "/streaming/batch") == 0 || strcmp(path, "/streaming/batch/") == 0)
        serve_batch_page(s, msg, query, snap);
    else if (strcmp(path, "/StreamingQuery") == 0 || strcmp(path, "/StreamingQuery/") == 0)
        respond(msg, 200, html, em__ui_page_queries(s->ssc, snap));
    else if (strcmp(path, "/StreamingQuery/statistics") == 0 ||
             strcmp(path, "/StreamingQuery/statistics/") == 0)
        serve_query_page(s, msg, query, snap);
    else if (strcmp(path, "/streaming/graph") == 0)
        respond(msg, 200, html, em__ui_page_graph(s->ssc));
    else if (strcmp(path, "/metrics") == 0)
        respond(msg, 200, "text/plain; version=0.0.4; charset=utf-8", em__metrics_render(snap));
    else if (g_str_has_prefix(path, "/api/v1/streaming/"))
        serve_api(s, msg, path + strlen("/api/v1/streaming/"), query, snap);
    else
        respond_error(msg, 404,
                      "no page at %s: try /streaming, /StreamingQuery/, "
                      "/api/v1/streaming/statistics or /metrics",
                      path);
    em__snapshot_free(snap);
}

/* "HOST:PORT", ":PORT" or "PORT"; the host is an IP address or localhost (127.0.0.1). */
static GSocketAddress *parse_address(const char *address, GError **err)
{
    const char *colon = strrchr(address, ':');
    const char *port_text = colon ? colon + 1 : address;
    char *host = colon ? g_strndup(address, (gsize)(colon - address)) : g_strdup("");
    guint64 port;
    GInetAddress *ip = NULL;
    if (!*host || strcmp(host, "localhost") == 0)
        ip = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    else
        ip = g_inet_address_new_from_string(host);
    bool ok = ip && g_ascii_string_to_unsigned(port_text, 10, 0, 65535, &port, NULL);
    g_free(host);
    if (!ok) {
        g_clear_object(&ip);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "the page's address \"%s\" is not HOST:PORT (an IP address or localhost, "
                    "and a port 0-65535)",
                    address);
        return NULL;
    }
    GSocketAddress *sa = g_inet_socket_address_new(ip, (guint16)port);
    g_object_unref(ip);
    return sa;
}

static gpointer server_main(gpointer data)
{
    em__ui_server *s = data;
    g_main_context_push_thread_default(s->ctx);
    g_main_loop_run(s->loop);
    g_main_context_pop_thread_default(s->ctx);
    return NULL;
}

static int bound_port(SoupServer *server)
{
    GSList *uris = soup_server_get_uris(server);
    int port = uris ? g_uri_get_port(uris->data) : 0;
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    return port;
}

em__ui_server *em__ui_server_start(em_ssc *ssc, const char *address, GError **err)
{
    GSocketAddress *sa = parse_address(address, err);
    if (!sa)
        return NULL;
    em__ui_server *s = g_new0(em__ui_server, 1);
    s->ssc = ssc;
    s->ctx = g_main_context_new();
    s->loop = g_main_loop_new(s->ctx, FALSE);
    /* Listening sources attach to the thread-default context: the server's, not the caller's. */
    g_main_context_push_thread_default(s->ctx);
    s->server = soup_server_new("server-header", "ember/" EM_VERSION_STRING, NULL);
    soup_server_add_handler(s->server, NULL, handle, s, NULL);
    GError *listen_err = NULL;
    bool ok = soup_server_listen(s->server, sa, 0, &listen_err);
    g_main_context_pop_thread_default(s->ctx);
    if (!ok) {
        char *where = g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(sa));
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "the page cannot listen on %s: %s", where,
                    listen_err->message);
        g_free(where);
        g_error_free(listen_err);
        g_object_unref(sa);
        g_object_unref(s->server);
        g_main_loop_unref(s->loop);
        g_main_context_unref(s->ctx);
        g_free(s);
        return NULL;
    }
    g_object_unref(sa);
    s->port = bound_port(s->server);
    s->thread = g_thread_new("em-ui", server_main, s);
    em__log(EM_LOG_INFO, "Ember UI at http://%s/streaming (port %d)", address, s->port);
    return s;
}

int em__ui_server_port(const em__ui_server *server) { return server ? server->port : 0; }

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void em__ui_server_stop(em__ui_server *s)
{
    g_main_context_invoke(s->ctx, quit_loop, s->loop);
    g_thread_join(s->thread);
    g_main_context_push_thread_default(s->ctx);
    soup_server_disconnect(s->server);
    g_object_unref(s->server);
    /* Let the closed connections' sources finish on this context before it goes. */
    while (g_main_context_iteration(s->ctx, FALSE))
        ;
    g_main_context_pop_thread_default(s->ctx);
    g_main_loop_unref(s->loop);
    g_main_context_unref(s->ctx);
    g_free(s);
}

bool em_ssc_ui_start(em_ssc *ssc, const char *address, GError **err)
{
    em__monitor *m = em__monitor_of(ssc);
    if (m->server) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_ui_start: the page is on already (port %d)",
                    em__ui_server_port(m->server));
        return false;
    }
    m->server = em__ui_server_start(ssc, address, err);
    return m->server != NULL;
}

int em_ssc_ui_port(em_ssc *ssc) { return em__ui_server_port(em__monitor_of(ssc)->server); }
