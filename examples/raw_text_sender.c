/* raw_text_sender: Spark's RawTextSender, the peer RawNetworkGrep reads from. It fills a block
 * of at least BLOCK_SIZE bytes with FILE's lines (repeated, in order), then sends every client
 * that connects that block over and over, each time as a 4-byte big-endian length and the
 * block (the encoding em_raw_socket_stream reads: '\n'-ended UTF-8 records), at most
 * BYTES_PER_SEC bytes a second (Spark's RateLimitedOutputStream), until the client goes away.
 * Where Spark serialises the lines with Kryo, this sends them as text lines.
 *
 * Usage: raw_text_sender [--blocks N] [--clients M] <port> <file> <blockSize> <bytesPerSec>
 * It listens on 127.0.0.1:PORT (0: a free port) and says where on its first line of output.
 * Ember additions for tests and demos: --blocks N sends N blocks to each client and closes the
 * connection; --clients M serves M clients (at the same time, if they come together) and then
 * exits. SIGTERM or SIGINT ends it. Part of the examples; it needs no Ember API. */
#include <ember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

typedef struct sender {
    GByteArray *frame; /* the length and the block */
    int64_t bytes_per_sec;
    int64_t blocks; /* per client, 0: until it goes away */
} sender;

typedef struct client {
    const sender *s;
    int fd;
} client;

/* Sends p[0..n) at most bytes_per_sec bytes a second since start (sent so far in *total);
 * false when the client went away or a signal came. */
static bool send_limited(client *c, const guint8 *p, size_t n, gint64 start, int64_t *total)
{
    while (n > 0 && !stopping) {
        /* Wait until the bytes sent so far are within the rate, then send up to 8 KiB. */
        gint64 due = start + *total * G_USEC_PER_SEC / c->s->bytes_per_sec;
        gint64 now = g_get_monotonic_time();
        if (due > now) {
            g_usleep((gulong)MIN(due - now, 100 * 1000));
            continue;
        }
        ssize_t sent = send(c->fd, p, MIN(n, (size_t)8192), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (sent > 0)
            p += sent, n -= (size_t)sent, *total += sent;
    }
    return n == 0;
}

static gpointer serve(gpointer data)
{
    client *c = data;
    /* A client that does not read makes send() time out, so a signal is seen in time. */
    struct timeval timeout = {.tv_usec = 200 * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    gint64 start = g_get_monotonic_time();
    int64_t total = 0;
    for (int64_t i = 0; c->s->blocks == 0 || i < c->s->blocks; i++)
        if (!send_limited(c, c->s->frame->data, c->s->frame->len, start, &total))
            break;
    close(c->fd);
    g_free(c);
    return NULL;
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        fprintf(stderr, "raw_text_sender: cannot listen on 127.0.0.1:%d: %s\n", port,
                g_strerror(errno));
        exit(EXIT_FAILURE);
    }
    printf("Listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

/* The frame: FILE's lines, each with '\n', repeated until the block holds blockSize bytes,
 * after its 4-byte big-endian length (as RawTextSender fills its buffer). NULL when the file
 * cannot be read or has no line. */
static GByteArray *make_frame(const char *file, int64_t block_size)
{
    char *text;
    GError *err = NULL;
    if (!g_file_get_contents(file, &text, NULL, &err)) {
        fprintf(stderr, "raw_text_sender: %s\n", err->message);
        g_error_free(err);
        return NULL;
    }
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    guint n = g_strv_length(lines);
    if (n > 0 && lines[n - 1][0] == '\0')
        n--; /* the end of the last line, not a line */
    if (n == 0) {
        fprintf(stderr, "raw_text_sender: %s has no lines\n", file);
        g_strfreev(lines);
        return NULL;
    }
    GByteArray *frame = g_byte_array_new();
    g_byte_array_append(frame, (const guint8 *)"\0\0\0\0", 4);
    for (guint i = 0; frame->len - 4 < (guint64)block_size; i = (i + 1) % n) {
        g_byte_array_append(frame, (const guint8 *)lines[i], (guint)strlen(lines[i]));
        g_byte_array_append(frame, (const guint8 *)"\n", 1);
    }
    g_strfreev(lines);
    guint32 len = frame->len - 4;
    guint8 head[4] = {len >> 24, len >> 16 & 0xff, len >> 8 & 0xff, len & 0xff};
    memcpy(frame->data, head, sizeof head);
    return frame;
}

int main(int argc, char **argv)
{
    int64_t blocks = 0, clients = 0, port = 0, block_size = 0, bytes_per_sec = 0;
    int i = 1;
    for (; i + 1 < argc && g_str_has_prefix(argv[i], "--"); i += 2) {
        int64_t *opt = strcmp(argv[i], "--blocks") == 0    ? &blocks
                       : strcmp(argv[i], "--clients") == 0 ? &clients
                                                           : NULL;
        if (!opt || !g_ascii_string_to_signed(argv[i + 1], 10, 1, G_MAXINT32, opt, NULL))
            i = argc; /* a usage error */
    }
    if (argc - i != 4 || !g_ascii_string_to_signed(argv[i], 10, 0, 65535, &port, NULL) ||
        !g_ascii_string_to_signed(argv[i + 2], 10, 1, G_MAXINT32 - 65536, &block_size, NULL) ||
        !g_ascii_string_to_signed(argv[i + 3], 10, 1, G_MAXINT64 / G_USEC_PER_SEC, &bytes_per_sec,
                                  NULL)) {
        fprintf(stderr, "Usage: raw_text_sender [--blocks N] [--clients M] <port> <file> "
                        "<blockSize> <bytesPerSec>\n");
        return 2;
    }
    sender s = {make_frame(argv[i + 1], block_size), bytes_per_sec, blocks};
    if (!s.frame)
        return EXIT_FAILURE;

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int lfd = listen_on((int)port);
    GPtrArray *threads = g_ptr_array_new();
    while (!stopping && (clients == 0 || threads->len < clients)) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        client *c = g_new(client, 1);
        *c = (client){&s, fd};
        g_ptr_array_add(threads, g_thread_new("client", serve, c));
    }
    close(lfd);
    for (guint t = 0; t < threads->len; t++)
        g_thread_join(threads->pdata[t]);
    g_ptr_array_unref(threads);
    g_byte_array_unref(s.frame);
    return EXIT_SUCCESS;
}
