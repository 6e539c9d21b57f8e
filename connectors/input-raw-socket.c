/* rawSocketStream (connectors): Spark's RawInputDStream on Ember's receiver API. The peer sends
 * length-prefixed blocks (a 4-byte big-endian length, then that many bytes of '\n'-separated
 * UTF-8 records); a block's records are stored only once the whole block has arrived. */
#include "streaming-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BLOCK ((size_t)64 << 20)
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct raw_receiver {
    char *host;
    char *port;  /* decimal, for getaddrinfo */
    char *where; /* "host:port" for messages */
    size_t max_block;
    int wake[2];     /* on_stop writes wake[1]; every poll watches wake[0] */
    gint blocks;     /* whole blocks received, atomic */
    gint bad_blocks; /* oversized or truncated blocks, atomic */
    char *buf;       /* the receiver thread's block buffer */
    size_t cap;
} raw_receiver;

/* Waits up to timeout_ms (-1: no limit) for events on fd (-1: none). Returns the events seen on
 * fd, 0 on timeout, or -1 when woken by a stop. */
static int wait_for(raw_receiver *s, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN}, {.fd = fd, .events = events}};
    int n;
    while ((n = poll(p, fd >= 0 ? 2 : 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (n > 0 && p[0].revents)
        return -1;
    return n > 0 ? p[1].revents : 0;
}

/* A socket connected to host:port (its addresses tried in order), or -1 with *err set (no
 * error when stopped). */
static int connect_peer(raw_receiver *s, GError **err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *addrs = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &addrs);
    if (rc != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", s->where,
                    gai_strerror(rc));
        return -1;
    }
    int fd = -1, error = 0;
    bool stopped = false;
    for (const struct addrinfo *a = addrs; a && fd < 0 && !stopped; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        error = errno;
        if (error == EINPROGRESS) {
            socklen_t len = sizeof error;
            if (wait_for(s, fd, POLLOUT, -1) < 0)
                stopped = true, error = 0;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
            else if (error == 0)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(addrs);
    if (fd < 0 && error != 0)
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", s->where,
                    g_strerror(error));
    return fd;
}

typedef enum { READ_OK, READ_EOF, READ_STOPPED, READ_FAILED } read_result;

/* Reads exactly n bytes into p; *got says how many arrived before an end or failure. */
static read_result read_fully(raw_receiver *s, int fd, char *p, size_t n, size_t *got,
                              GError **err)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got);
        if (r > 0) {
            *got += (size_t)r;
            continue;
        }
        if (r == 0)
            return READ_EOF;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error receiving from %s: %s", s->where,
                        g_strerror(errno));
            return READ_FAILED;
        }
        if (wait_for(s, fd, POLLIN, -1) < 0)
            return READ_STOPPED;
    }
    return READ_OK;
}

/* Stores the records of a whole block: '\n'-separated, a last one without '\n' included. */
static void store_block(em_receiver *r, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (g_utf8_validate_len(p, len, NULL)) {
            em_receiver_store(r, em_strn(p, len));
        } else { /* invalid bytes become U+FFFD, as for socketTextStream */
            char *fixed = g_utf8_make_valid(p, (gssize)len);
            em_receiver_store(r, em_str(fixed));
            g_free(fixed);
        }
        p = nl ? nl + 1 : end;
    }
}

static void bad_block(raw_receiver *s, GError **err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void bad_block(raw_receiver *s, GError **err, const char *fmt, ...)
{
    g_atomic_int_inc(&s->bad_blocks);
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, EM_ERROR, EM_ERROR_IO, msg);
    g_free(msg);
}

/* Reads blocks from fd until the peer closes, a read fails, a block is bad (*err set for
 * both) or a stop. */
static void receive_blocks(em_receiver *r, raw_receiver *s, int fd, GError **err)
{
    for (;;) {
        unsigned char head[4];
        size_t got;
        read_result rr = read_fully(s, fd, (char *)head, sizeof head, &got, err);
        if (rr == READ_EOF && got > 0)
            bad_block(s, err, "Truncated block length from %s: %zu of 4 bytes", s->where, got);
        if (rr != READ_OK)
            return;
        size_t n = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
        if (n > s->max_block) {
            bad_block(s, err, "Block of %zu bytes from %s is larger than the limit of %zu bytes",
                      n, s->where, s->max_block);
            return; /* the rest of the stream cannot be trusted */
        }
        if (n > s->cap) {
            s->cap = MAX(n, s->cap * 2);
            s->buf = g_realloc(s->buf, s->cap);
        }
        rr = read_fully(s, fd, s->buf, n, &got, err);
        if (rr == READ_EOF)
            bad_block(s, err, "Truncated block from %s: %zu of %zu bytes, dropped", s->where, got,
                      n);
        if (rr != READ_OK)
            return;
        store_block(r, s->buf, n);
        g_atomic_int_inc(&s->blocks);
        if (s->cap > ((size_t)1 << 20) && n < s->cap / 4) { /* a huge block's buffer goes */
            g_free(s->buf);
            s->buf = NULL;
            s->cap = 0;
        }
        if (em_receiver_is_stopped(r))
            return;
    }
}

static void raw_on_start(em_receiver *r, void *ud)
{
    raw_receiver *s = ud;
    int backoff = BACKOFF_FIRST_MS;
    while (!em_receiver_is_stopped(r)) {
        GError *err = NULL;
        int fd = connect_peer(s, &err);
        if (fd >= 0) {
            backoff = BACKOFF_FIRST_MS;
            receive_blocks(r, s, fd, &err);
            close(fd);
        }
        if (em_receiver_is_stopped(r)) {
            g_clear_error(&err);
            break;
        }
        char *msg = err ? g_strdup_printf("%s; reconnecting in %d ms", err->message, backoff)
                        : g_strdup_printf("Raw socket stream from %s had no more data; "
                                          "reconnecting in %d ms",
                                          s->where, backoff);
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
static void raw_on_stop(em_receiver *r, void *ud)
{
    (void)r;
    raw_receiver *s = ud;
    while (write(s->wake[1], "", 1) < 0 && errno == EINTR)
        ;
}

static void raw_receiver_free(void *ud)
{
    raw_receiver *s = ud;
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    g_free(s->buf);
    g_free(s->host);
    g_free(s->port);
    g_free(s->where);
    g_free(s);
}

static const em_receiver_funcs raw_funcs = {
    .name = "RawNetworkReceiver",
    .on_start = raw_on_start,
    .on_stop = raw_on_stop,
    .destroy = raw_receiver_free,
};

em_dstream *em_raw_socket_stream(em_ssc *ssc, const char *host, int port,
                                 const em_raw_socket_opts *opts)
{
    if (!host || port < 1 || port > 65535) {
        g_critical("rawSocketStream: %s",
                   !host ? "the host is NULL" : "the port must be in 1..65535");
        return NULL;
    }
    raw_receiver *s = g_new0(raw_receiver, 1);
    s->host = g_strdup(host);
    s->port = g_strdup_printf("%d", port);
    s->where = g_strdup_printf(strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    s->max_block =
        opts && opts->max_block ? MIN(opts->max_block, (size_t)G_MAXUINT32) : DEFAULT_MAX_BLOCK;
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        g_critical("rawSocketStream: cannot make a pipe for %s: %s", s->where, g_strerror(errno));
        s->wake[0] = s->wake[1] = -1;
        raw_receiver_free(s);
        return NULL;
    }
    return em__receiver_stream_new(ssc, "rawSocketStream", &raw_funcs, s,
                                   opts ? &opts->receiver : NULL);
}

static raw_receiver *raw_of(const em_dstream *ds, const char *fn)
{
    raw_receiver *s = em__receiver_stream_ud(ds, &raw_funcs);
    if (!s)
        g_critical("%s: not a raw socket stream", fn);
    return s;
}

int64_t em_raw_socket_stream_blocks(const em_dstream *ds)
{
    raw_receiver *s = raw_of(ds, "em_raw_socket_stream_blocks");
    return s ? g_atomic_int_get(&s->blocks) : -1;
}

int64_t em_raw_socket_stream_bad_blocks(const em_dstream *ds)
{
    raw_receiver *s = raw_of(ds, "em_raw_socket_stream_bad_blocks");
    return s ? g_atomic_int_get(&s->bad_blocks) : -1;
}
