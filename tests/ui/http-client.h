/* A raw HTTP/1.1 client over TCP on 127.0.0.1 for the page's tests: the request line is sent
 * as given (malformed ones included), and the status, headers and body come back as received. */
#ifndef EMBER_TESTS_HTTP_CLIENT_H
#define EMBER_TESTS_HTTP_CLIENT_H

#include <criterion/criterion.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int status;    /* 0 when no status line came back */
    char *headers; /* the header block, lower-cased */
    char *body;
} http_reply;

/* Sends raw (a complete request) to 127.0.0.1:port and reads until the server closes. */
static inline http_reply http_raw(int port, const char *raw)
{
    http_reply r = {0};
    GSocketClient *client = g_socket_client_new();
    GError *err = NULL;
    GSocketConnection *conn =
        g_socket_client_connect_to_host(client, "127.0.0.1", (guint16)port, NULL, &err);
    cr_assert_not_null(conn, "connect to 127.0.0.1:%d: %s", port, err ? err->message : "");
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    cr_assert(g_output_stream_write_all(out, raw, strlen(raw), NULL, NULL, &err));
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    GString *all = g_string_new(NULL);
    char buf[4096];
    gssize n;
    while ((n = g_input_stream_read(in, buf, sizeof buf, NULL, NULL)) > 0)
        g_string_append_len(all, buf, n);
    g_object_unref(conn);
    g_object_unref(client);
    sscanf(all->str, "HTTP/1.%*d %d", &r.status);
    char *split = strstr(all->str, "\r\n\r\n");
    r.headers = g_ascii_strdown(all->str, split ? split - all->str : -1);
    r.body = g_strdup(split ? split + 4 : "");
    g_string_free(all, TRUE);
    return r;
}

/* method path with Connection: close. */
static inline http_reply http_request(int port, const char *method, const char *path)
{
    char *raw = g_strdup_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                "Content-Length: 0\r\n\r\n",
                                method, path);
    http_reply r = http_raw(port, raw);
    g_free(raw);
    return r;
}

static inline http_reply http_get(int port, const char *path)
{
    return http_request(port, "GET", path);
}

static inline void http_reply_clear(http_reply *r)
{
    g_free(r->headers);
    g_free(r->body);
}

#endif
