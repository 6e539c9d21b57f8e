/* line_server: a stand-in for `nc -lk 9999`, the server Spark's network examples read from.
 * Usage: line_server [--once] [--pace MS] PORT [FILE]. It listens on 127.0.0.1:PORT (0: a free
 * port) and says where on its first line of output; every client that connects gets FILE's
 * lines (or a built-in text) at a modest pace, one every 50 ms (--pace: every MS ms, 0 all at
 * once), the text repeated until the client goes away. SIGTERM or SIGINT ends it. With --once it
 * serves one client: the text once, then it closes the connection and exits. Part of the examples;
 * it needs no Ember API. */
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

#define DEFAULT_PACE_MS 50

static const char builtin[] = "it was the best of times\n"
                              "it was the worst of times\n"
                              "it was the age of wisdom\n"
                              "it was the age of foolishness\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

typedef struct {
    int fd;
    const char *const *lines; /* each with its '\n' */
    bool once;
    int64_t pace_ms;
} client;

/* Sends a line whole; false when the client went away or a signal came. */
static bool send_line(int fd, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && !stopping) {
        ssize_t sent = send(fd, line, n, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (sent > 0)
            line += sent, n -= (size_t)sent;
    }
    return n == 0;
}

/* Sends the lines to one client, once or over and over, until it goes away or a signal. */
static gpointer serve(gpointer data)
{
    client *c = data;
    /* A client that does not read makes send() time out, so a signal is seen in time. */
    struct timeval timeout = {.tv_usec = 200 * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    bool ok = true;
    do {
        for (size_t i = 0; ok && c->lines[i]; i++) {
            ok = send_line(c->fd, c->lines[i]);
            if (c->pace_ms > 0)
                g_usleep((gulong)c->pace_ms * 1000);
        }
    } while (ok && !c->once);
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
        fprintf(stderr, "line_server: cannot listen on 127.0.0.1:%d: %s\n", port,
                g_strerror(errno));
        exit(EXIT_FAILURE);
    }
    printf("Listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    bool once = false, usage_error = false;
    int64_t pace_ms = DEFAULT_PACE_MS, port = 0;
    while (argc > 1 && g_str_has_prefix(argv[1], "--")) {
        if (strcmp(argv[1], "--once") == 0) {
            once = true;
        } else if (strcmp(argv[1], "--pace") == 0 && argc > 2 &&
                   g_ascii_string_to_signed(argv[2], 10, 0, 60000, &pace_ms, NULL)) {
            argv++, argc--;
        } else {
            usage_error = true;
            break;
        }
        argv++, argc--;
    }
    if (usage_error || (argc != 2 && argc != 3) ||
        !g_ascii_string_to_signed(argv[1], 10, 0, 65535, &port, NULL)) {
        fprintf(stderr, "Usage: line_server [--once] [--pace <ms>] <port> [<file>]\n");
        return 2;
    }
    char *text = NULL;
    GError *err = NULL;
    if (argc == 3 && !g_file_get_contents(argv[2], &text, NULL, &err)) {
        fprintf(stderr, "line_server: %s\n", err->message);
        g_error_free(err);
        return EXIT_FAILURE;
    }
    /* The lines, each with its '\n' (a last line without one gets it). */
    char **lines = g_strsplit(text ? text : builtin, "\n", -1);
    size_t n = g_strv_length(lines);
    if (n > 0 && lines[n - 1][0] == '\0') {
        n--;
        g_free(lines[n]);
        lines[n] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char *line = g_strconcat(lines[i], "\n", NULL);
        g_free(lines[i]);
        lines[i] = line;
    }
    g_free(text);

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int lfd = listen_on((int)port);
    GPtrArray *threads = g_ptr_array_new();
    while (!stopping) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        client *c = g_new(client, 1);
        *c = (client){fd, (const char *const *)lines, once, pace_ms};
        if (once) {
            serve(c);
            break;
        }
        g_ptr_array_add(threads, g_thread_new("client", serve, c));
    }
    close(lfd);
    for (guint i = 0; i < threads->len; i++)
        g_thread_join(threads->pdata[i]);
    g_ptr_array_unref(threads);
    g_strfreev(lines);
    return EXIT_SUCCESS;
}
