/* The TCP side of the socket receivers (see tcp-peer.h): plain non-blocking sockets and poll()
 * on a wake pipe. */
#include "tcp-peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

bool em__tcp_peer_init(em__tcp_peer *p, const char *host, int port)
{
    p->host = g_strdup(host);
    p->port = g_strdup_printf("%d", port);
    p->where = g_strdup_printf(strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) == 0)
        return true;
    p->wake[0] = p->wake[1] = -1;
    return false;
}

void em__tcp_peer_clear(em__tcp_peer *p)
{
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
    p->wake[0] = p->wake[1] = -1;
    g_clear_pointer(&p->host, g_free);
    g_clear_pointer(&p->port, g_free);
    g_clear_pointer(&p->where, g_free);
}

int em__tcp_peer_wait(em__tcp_peer *p, int fd, short events, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = p->wake[0], .events = POLLIN}, {.fd = fd, .events = events}};
    int n;
    while ((n = poll(fds, fd >= 0 ? 2 : 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (n > 0 && fds[0].revents)
        return -1;
    return n > 0 ? fds[1].revents : 0;
}

void em__tcp_peer_wake(em__tcp_peer *p)
{
    /* The byte stays, as the stop is final. */
    while (write(p->wake[1], "", 1) < 0 && errno == EINTR)
        ;
}

/* A socket connected to address a, or -1 with *error set (0 when stopped). */
static int connect_one(em__tcp_peer *p, const struct addrinfo *a, int *error)
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
        if (em__tcp_peer_wait(p, fd, POLLOUT, -1) < 0)
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
static int connect_peer(em__tcp_peer *p, GError **err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *addrs = NULL;
    int rc = getaddrinfo(p->host, p->port, &hints, &addrs);
    if (rc != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", p->where,
                    gai_strerror(rc));
        return -1;
    }
    int fd = -1, error = 0;
    for (const struct addrinfo *a = addrs; a && fd < 0; a = a->ai_next)
        if ((fd = connect_one(p, a, &error)) < 0 && error == 0)
            break;
    freeaddrinfo(addrs);
    if (fd < 0 && error != 0)
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Error connecting to %s: %s", p->where,
                    g_strerror(error));
    return fd;
}

void em__tcp_peer_run(em__tcp_peer *p, em_receiver *r, em__tcp_receive_fn receive, void *ud,
                      const char *stream, const char *retry)
{
    int backoff = BACKOFF_FIRST_MS;
    while (!em_receiver_is_stopped(r)) {
        GError *err = NULL;
        int fd = connect_peer(p, &err);
        if (fd >= 0) {
            backoff = BACKOFF_FIRST_MS;
            receive(r, ud, fd, &err);
            close(fd);
        }
        if (em_receiver_is_stopped(r)) {
            g_clear_error(&err);
            break;
        }
        char *msg = err ? g_strdup_printf("%s; %s in %d ms", err->message, retry, backoff)
                        : g_strdup_printf("%s from %s had no more data; reconnecting in %d ms",
                                          stream, p->where, backoff);
        /* Spark's receiver restart logs a warning whether or not anyone listens. */
        g_warning("%s", msg);
        em_receiver_report_error(r, msg);
        g_free(msg);
        g_clear_error(&err);
        if (em__tcp_peer_wait(p, -1, 0, backoff) < 0)
            break;
        backoff = MIN(backoff * 2, BACKOFF_MAX_MS);
    }
}
