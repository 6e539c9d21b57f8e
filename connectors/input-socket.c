/* socketTextStream and socketStream (connectors): Spark's SocketReceiver on Ember's receiver
 * API. The connection, its stop and the reconnect loop are tcp-peer.c's; lines are split in one
 * buffer per receiver, and each read's lines are stored with one em__receiver_store_lines(). */
#include "tcp-peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_LINE ((size_t)1 << 20)
#define MAX_LINE ((size_t)G_MAXUINT32 - 1) /* an em_value string holds at most 2^32 - 1 bytes */
#define READ_CHUNK ((size_t)64 << 10)

typedef struct socket_receiver {
    em__tcp_peer peer;           /* host:port and the wake pipe */
    em_line_converter converter; /* NULL: UTF-8 text lines */
    void *ud;
    GDestroyNotify destroy;
    size_t max_line;
    gint dropped; /* overlong lines, atomic */
    /* The receiver thread's line buffer: buf[0..len) is the start of a line without '\n'. */
    char *buf;
    size_t len, cap;
    bool skipping; /* inside an overlong line: bytes are dropped up to its '\n' */
    /* em_value: the lines of the current read, pointing into buf (or into the thread's scratch
     * for converted and repaired lines) until flush() stores them. */
    GArray *lines;
} socket_receiver;

/* Whether p[0..n) is ASCII (NUL included), eight bytes at a time: glib's validator goes byte by
 * byte, and was the receiver's largest cost on ASCII text. */
static bool is_ascii(const char *p, size_t n)
{
    uint64_t bits = 0, word;
    size_t i = 0;
    for (; i + sizeof word <= n; i += sizeof word) {
        memcpy(&word, p + i, sizeof word);
        bits |= word;
    }
    for (; i < n; i++)
        bits |= (unsigned char)p[i];
    return (bits & UINT64_C(0x8080808080808080)) == 0;
}

/* Spark decodes lines with a UTF-8 reader: invalid bytes become U+FFFD. Valid lines (nearly
 * all) are stored straight from the buffer. */
static void store_text(socket_receiver *s, const char *p, size_t n)
{
    const char *end;
    if (is_ascii(p, n) || g_utf8_validate_len(p, n, &end)) {
        em_value v = em_strn(p, n);
        g_array_append_val(s->lines, v);
        return;
    }
    GString *fixed = g_string_sized_new(n + 8);
    for (;;) {
        g_string_append_len(fixed, p, end - p);
        n -= (size_t)(end - p);
        p = end;
        if (n == 0)
            break;
        /* NUL is valid UTF-8, though glib's validator stops at it. */
        if (*p == '\0')
            g_string_append_c(fixed, '\0');
        else
            g_string_append(fixed, "\xEF\xBF\xBD");
        p++, n--;
        g_utf8_validate_len(p, n, &end);
    }
    em_value v = em_strn(em_arena_memdup(em_scratch(), fixed->str, fixed->len), fixed->len);
    g_array_append_val(s->lines, v);
    g_string_free(fixed, TRUE);
}

static void drop_line(em_receiver *r, socket_receiver *s)
{
    int dropped = g_atomic_int_add(&s->dropped, 1) + 1;
    char *msg = g_strdup_printf("Dropped a line longer than %zu bytes from %s (%d dropped so far)",
                                s->max_line, s->peer.where, dropped);
    em_receiver_report_error(r, msg);
    g_free(msg);
}

/* Stores the lines gathered so far in one call, then frees the scratch they may use. */
static void flush(em_receiver *r, socket_receiver *s)
{
    if (s->lines->len == 0)
        return;
    em__receiver_store_lines(r, (const em_value *)(void *)s->lines->data, s->lines->len, s->buf,
                             s->cap);
    g_array_set_size(s->lines, 0);
    em_scratch_reset();
}

/* One complete line, without its '\n': gathered for flush(). */
static void deliver(em_receiver *r, socket_receiver *s, const char *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n > s->max_line) {
        drop_line(r, s);
    } else if (!s->converter) {
        store_text(s, line, n);
    } else {
        em_value v = s->converter(line, n, s->ud);
        if (v.type != EM_T_NONE)
            g_array_append_val(s->lines, v);
    }
}

/* Splits the n bytes just read at buf + len into lines; keeps the unfinished one. */
static void split_lines(em_receiver *r, socket_receiver *s, size_t n)
{
    char *line = s->buf, *scan = s->buf + s->len, *end = scan + n, *nl;
    while ((nl = memchr(scan, '\n', (size_t)(end - scan)))) {
        if (s->skipping)
            s->skipping = false; /* the end of an overlong line */
        else
            deliver(r, s, line, (size_t)(nl - line));
        line = scan = nl + 1;
    }
    size_t rest = s->skipping ? 0 : (size_t)(end - line);
    if (rest > s->max_line + 1) { /* too long already, even if a '\r' ends it */
        drop_line(r, s);
        s->skipping = true;
        rest = 0;
    }
    flush(r, s); /* before the unfinished line moves */
    memmove(s->buf, line, rest);
    s->len = rest;
}

/* With the write-ahead log, the lines of each read are logged before the next read (a no-op
 * without it); a failure is reported, and the receiver goes on. */
static void commit(em_receiver *r, socket_receiver *s)
{
    GError *err = NULL;
    if (em_receiver_commit(r, &err))
        return;
    char *msg = g_strdup_printf("Lines from %s are not in the write-ahead log: %s", s->peer.where,
                                err->message);
    em_receiver_report_error(r, msg);
    g_free(msg);
    g_error_free(err);
}

/* Reads lines from fd until the peer closes, a read fails (*err set) or a stop. */
static void receive_lines(em_receiver *r, void *ud, int fd, GError **err)
{
    socket_receiver *s = ud;
    s->len = 0;
    s->skipping = false;
    for (;;) {
        if (s->cap - s->len < READ_CHUNK) {
            s->cap = MAX(s->cap * 2, s->len + READ_CHUNK);
            s->buf = g_realloc(s->buf, s->cap);
        }
        ssize_t n = read(fd, s->buf + s->len, s->cap - s->len);
        if (n > 0) {
            split_lines(r, s, (size_t)n);
            commit(r, s);
            if (em_receiver_is_stopped(r)) /* a peer that never pauses cannot hold a stop */
                return;
            continue;
        }
        if (n == 0) {
            if (s->len > 0 && !s->skipping)
                deliver(r, s, s->buf, s->len); /* a last line without '\n' */
            flush(r, s);
            commit(r, s);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error receiving from %s: %s", s->peer.where,
                        g_strerror(errno));
            return;
        }
        if (em__tcp_peer_wait(&s->peer, fd, POLLIN, -1) < 0)
            return;
    }
}

static void socket_on_start(em_receiver *r, void *ud)
{
    socket_receiver *s = ud;
    em__tcp_peer_run(&s->peer, r, receive_lines, s, "Socket data stream", "retrying");
}

/* The stopping thread: wakes every poll of on_start. The byte stays, as the stop is final. */
static void socket_on_stop(em_receiver *r, void *ud)
{
    (void)r;
    em__tcp_peer_wake(&((socket_receiver *)ud)->peer);
}

static void socket_receiver_free(void *ud)
{
    socket_receiver *s = ud;
    if (s->destroy)
        s->destroy(s->ud);
    em__tcp_peer_clear(&s->peer);
    g_free(s->buf);
    g_array_unref(s->lines);
    g_free(s);
}

static const em_receiver_funcs socket_funcs = {
    .name = "SocketReceiver",
    .on_start = socket_on_start,
    .on_stop = socket_on_stop,
    .destroy = socket_receiver_free,
};

em_dstream *em_socket_stream_full(em_ssc *ssc, const char *host, int port,
                                  em_line_converter converter, void *ud, GDestroyNotify destroy,
                                  const em_socket_opts *opts)
{
    const char *op = converter ? "socketStream" : "socketTextStream";
    if (!host || port < 1 || port > 65535) {
        g_critical("%s: %s", op, !host ? "the host is NULL" : "the port must be in 1..65535");
        if (destroy)
            destroy(ud);
        return NULL;
    }
    socket_receiver *s = g_new0(socket_receiver, 1);
    s->lines = g_array_new(FALSE, FALSE, sizeof(em_value));
    s->converter = converter;
    s->ud = ud;
    s->destroy = destroy;
    s->max_line = opts && opts->max_line ? MIN(opts->max_line, MAX_LINE) : DEFAULT_MAX_LINE;
    if (!em__tcp_peer_init(&s->peer, host, port)) {
        g_critical("%s: cannot make a pipe for %s: %s", op, s->peer.where, g_strerror(errno));
        socket_receiver_free(s);
        return NULL;
    }
    return em__receiver_stream_new(ssc, op, &socket_funcs, s, opts ? &opts->receiver : NULL);
}

em_dstream *em_socket_stream(em_ssc *ssc, const char *host, int port, em_line_converter converter,
                             void *ud)
{
    return em_socket_stream_full(ssc, host, port, converter, ud, NULL, NULL);
}

em_dstream *em_socket_text_stream(em_ssc *ssc, const char *host, int port)
{
    return em_socket_stream_full(ssc, host, port, NULL, NULL, NULL, NULL);
}

int64_t em_socket_stream_dropped_lines(const em_dstream *ds)
{
    socket_receiver *s = em__receiver_stream_ud(ds, &socket_funcs);
    if (!s) {
        g_critical("em_socket_stream_dropped_lines: not a socket stream");
        return -1;
    }
    return g_atomic_int_get(&s->dropped);
}
