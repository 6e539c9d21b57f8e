/* The TCP side shared by the socket receivers (socketTextStream, rawSocketStream): the peer's
 * address, a wake pipe so that a stop interrupts a connect, a read or a reconnect wait at once,
 * and Spark's receive-reconnect loop with its backoff and messages. Internal to connectors/. */
#ifndef EMBER_TCP_PEER_H
#define EMBER_TCP_PEER_H

#include "streaming-private.h"

typedef struct em__tcp_peer {
    char *host;
    char *port;  /* decimal, for getaddrinfo */
    char *where; /* "host:port" ("[host]:port" for IPv6) for messages */
    int wake[2]; /* em__tcp_peer_wake writes wake[1]; every wait watches wake[0] */
} em__tcp_peer;

/* Fills p for host:port; false (errno set; p still to be cleared) when the wake pipe cannot be
 * made. */
bool em__tcp_peer_init(em__tcp_peer *p, const char *host, int port);
/* Frees what p holds, after em__tcp_peer_init (whether or not it succeeded). */
void em__tcp_peer_clear(em__tcp_peer *p);
/* Waits up to timeout_ms (-1: no limit) for events on fd (-1: none). Returns the events seen on
 * fd, 0 on timeout, or -1 when woken by a stop. */
int em__tcp_peer_wait(em__tcp_peer *p, int fd, short events, int timeout_ms);
/* Wakes every wait, for good (a receiver's on_stop). */
void em__tcp_peer_wake(em__tcp_peer *p);

/* Reads one connection until it ends: sets err on a failure, returns with none at the peer's
 * end or a stop. */
typedef void (*em__tcp_receive_fn)(em_receiver *r, void *ud, int fd, GError **err);

/* A receiver's on_start: connects (addresses in order), receives, and after an error or the
 * peer's end warns and reports "<error>; <retry> in N ms" or "<stream> from <where> had no more
 * data; reconnecting in N ms", then reconnects after 100 ms doubling up to 2 s (a connection
 * resets it), until the receiver stops. */
void em__tcp_peer_run(em__tcp_peer *p, em_receiver *r, em__tcp_receive_fn receive, void *ud,
                      const char *stream, const char *retry);

#endif
