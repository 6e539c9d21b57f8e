/* rawSocketStream (connectors): Spark's RawInputDStream on Ember's receiver API. The peer sends
 * length-prefixed blocks (a 4-byte big-endian length, then that many bytes of '\n'-separated
 * UTF-8 records); a block's records are stored only once the whole block has arrived. */
#include "tcp-peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BLOCK ((size_t)64 << 20)

typedef struct raw_receiver {
    em__tcp_peer peer; /* host:port and the wake pipe */
    size_t max_block;
    gint blocks;     /* whole blocks received, atomic */
    gint bad_blocks; /* oversized or truncated blocks, atomic */
    char *buf;       /* the receiver thread's block buffer */
    size_t cap;
} raw_receiver;

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
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error receiving from %s: %s", s->peer.where,
                        g_strerror(errno));
            return READ_FAILED;
        }
        if (em__tcp_peer_wait(&s->peer, fd, POLLIN, -1) < 0)
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
static void receive_blocks(em_receiver *r, void *ud, int fd, GError **err)
{
    raw_receiver *s = ud;
    for (;;) {
        unsigned char head[4];
        size_t got;
        read_result rr = read_fully(s, fd, (char *)head, sizeof head, &got, err);
        if (rr == READ_EOF && got > 0)
            bad_block(s, err, "Truncated block length from %s: %zu of 4 bytes", s->peer.where,
                      got);
        if (rr != READ_OK)
            return;
        size_t n = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
        if (n > s->max_block) {
            bad_block(s, err, "Block of %zu bytes from %s is larger than the limit of %zu bytes",
                      n, s->peer.where, s->max_block);
            return; /* the rest of the stream cannot be trusted */
        }
        if (n > s->cap) {
            s->cap = MAX(n, s->cap * 2);
            s->buf = g_realloc(s->buf, s->cap);
        }
        rr = read_fully(s, fd, s->buf, n, &got, err);
        if (rr == READ_EOF)
            bad_block(s, err, "Truncated block from %s: %zu of %zu bytes, dropped", s->peer.where,
                      got, n);
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
    em__tcp_peer_run(&s->peer, r, receive_blocks, s, "Raw socket stream", "reconnecting");
}

/* The stopping thread: wakes every poll of on_start. The byte stays, as the stop is final. */
static void raw_on_stop(em_receiver *r, void *ud)
{
    (void)r;
    em__tcp_peer_wake(&((raw_receiver *)ud)->peer);
}

static void raw_receiver_free(void *ud)
{
    raw_receiver *s = ud;
    em__tcp_peer_clear(&s->peer);
    g_free(s->buf);
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
    s->max_block =
        opts && opts->max_block ? MIN(opts->max_block, (size_t)G_MAXUINT32) : DEFAULT_MAX_BLOCK;
    if (!em__tcp_peer_init(&s->peer, host, port)) {
        g_critical("rawSocketStream: cannot make a pipe for %s: %s", s->peer.where,
                   g_strerror(errno));
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
