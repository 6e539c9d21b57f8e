/* socketTextStream and socketStream (connectors): Spark's SocketReceiver on Ember's receiver
 * API. Plain non-blocking sockets and poll() on a wake pipe, so that a stop interrupts a
 * connect, a read or a reconnect wait at once; lines are split in one buffer per receiver. */
#include "streaming-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_LINE ((size_t)1 << 20)
#define MAX_LINE ((size_t)G_MAXUINT32 - 1) /* an em_value string holds at most 2^32 - 1 bytes */
#define READ_CHUNK ((size_t)64 << 10)
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct socket_receiver {
    char *host;
    char *port;                  /* decimal, for getaddrinfo */
    char *where;                 /* "host:port" for messages */
    em_line_converter converter; /* NULL: UTF-8 text lines */
    void *ud;
    GDestroyNotify destroy;
    size_t max_line;
    int wake[2];  /* on_stop writes wake[1]; every poll watches wake[0] */
    gint dropped; /* overlong lines, atomic */
    /* The receiver thread's line buffer: buf[0..len) is the start of a line without '\n'. */
    char *buf;
    size_t len, cap;
    bool skipping; /* inside an overlong line: bytes are dropped up to its '\n' */
} socket_receiver;

/* Waits up to timeout_ms (-1: no limit) for events on fd (-1: none). Returns the events seen on
 * fd, 0 on timeout, or -1 when woken by a stop. */
static int wait_for(socket_receiver *s, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN}, {.fd = fd, .events = events}};
    int n;
    while ((n = poll(p, fd >= 0 ? 2 : 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (n > 0 && p[0].revents)
        return -1;
    return n > 0 ? p[1].revents : 0;
}

/* A socket connected to address a, or -1 with *error set (0 when stopped). */
static int connect_one(socket_receiver *s, const struct addrinfo *a, int *error)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
        *error = errno;
        return -1;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
        return fd;
    *error = errno;
    if (*error == EINPROGRESS) {
        socklen_t len = sizeof *error;
        if (wait_for(s, fd, POLLOUT, -1) < 0)
            *error = 0;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, error, &len) < 0)
            *error = errno;
        else if (*error == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* A socket connected to host:port (its addresses tried in order), or -1 with *err set (no
 * error when stopped). */
static int connect_peer(socket_receiver *s, GError **err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *addrs = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &addrs);
    if (rc != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", s->where,
                    gai_strerror(rc));
        return -1;
    }
    int fd = -1, error = 0;
    for (const struct addrinfo *a = addrs; a && fd < 0; a = a->ai_next)
        if ((fd = connect_one(s, a, &error)) < 0 && error == 0)
            break;
    freeaddrinfo(addrs);
    if (fd < 0 && error != 0)
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", s->where,
                    g_strerror(error));
    return fd;
}

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
static void store_text(em_receiver *r, const char *p, size_t n)
{
    const char *end;
    if (is_ascii(p, n) || g_utf8_validate_len(p, n, &end)) {
        em_receiver_store(r, em_strn(p, n));
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
    em_receiver_store(r, em_strn(fixed->str, fixed->len));
    g_string_free(fixed, TRUE);
}

static void drop_line(em_receiver *r, socket_receiver *s)
{
    int dropped = g_atomic_int_add(&s->dropped, 1) + 1;
    char *msg = g_strdup_printf("Dropped a line longer than %zu bytes from %s (%d dropped so far)",
                                s->max_line, s->where, dropped);
    em_receiver_report_error(r, msg);
    g_free(msg);
}

/* One complete line, without its '\n'. */
static void deliver(em_receiver *r, socket_receiver *s, const char *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n > s->max_line) {
        drop_line(r, s);
    } else if (!s->converter) {
        store_text(r, line, n);
    } else {
        em_value v = s->converter(line, n, s->ud);
        if (v.type != EM_T_NONE)
            em_receiver_store(r, v);
        em_scratch_reset();
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
    char *msg = g_strdup_printf("Lines from %s are not in the write-ahead log: %s", s->where,
                                err->message);
    em_receiver_report_error(r, msg);
    g_free(msg);
    g_error_free(err);
}

/* Reads lines from fd until the peer closes, a read fails (*err set) or a stop. */
static void receive_lines(em_receiver *r, socket_receiver *s, int fd, GError **err)
{
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
            commit(r, s);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error receiving from %s: %s", s->where,
                        g_strerror(errno));
            return;
        }
        if (wait_for(s, fd, POLLIN, -1) < 0)
            return;
    }
}

static void socket_on_start(em_receiver *r, void *ud)
{
    socket_receiver *s = ud;
    int backoff = BACKOFF_FIRST_MS;
    while (!em_receiver_is_stopped(r)) {
        GError *err = NULL;
        int fd = connect_peer(s, &err);
        if (fd >= 0) {
            backoff = BACKOFF_FIRST_MS;
            receive_lines(r, s, fd, &err);
            close(fd);
        }
        if (em_receiver_is_stopped(r)) {
            g_clear_error(&err);
            break;
        }
        char *msg = err ? g_strdup_printf("%s; retrying in %d ms", err->message, backoff)
                        : g_strdup_printf("Socket data stream from %s had no more data; "
                                          "reconnecting in %d ms",
                                          s->where, backoff);
        /* Spark's receiver restart logs a warning whether or not anyone listens. */
        g_warning("%s", msg);
        em_receiver_report_error(r, msg);
        g_free(msg);
        g_clear_error(&err);
        if (wait_for(s, -1, 0, backoff) < 0)
            break;
        backoff = MIN(backoff * 2, BACKOFF_MAX_MS);
    }
}

/* The stopping thread: wakes every poll of on_start. The byte stays, as the stop is final. */
static void socket_on_stop(em_receiver *r, void *ud)
{
    (void)r;
    socket_receiver *s = ud;
    while (write(s->wake[1], "", 1) < 0 && errno == EINTR)
        ;
}

static void socket_receiver_free(void *ud)
{
    socket_receiver *s = ud;
    if (s->destroy)
        s->destroy(s->ud);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    g_free(s->buf);
    g_free(s->host);
    g_free(s->port);
    g_free(s->where);
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
    s->host = g_strdup(host);
    s->port = g_strdup_printf("%d", port);
    s->where = g_strdup_printf(strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    s->converter = converter;
    s->ud = ud;
    s->destroy = destroy;
    s->max_line = opts && opts->max_line ? MIN(opts->max_line, MAX_LINE) : DEFAULT_MAX_LINE;
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        g_critical("%s: cannot make a pipe for %s: %s", op, s->where, g_strerror(errno));
        s->wake[0] = s->wake[1] = -1;
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
