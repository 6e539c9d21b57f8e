/* rawSocketStream over real TCP on 127.0.0.1: length-prefixed blocks of records into batches,
 * a block stored only once whole, and bad input (an oversized block, a block or a length cut
 * short) reported naming the peer, without losing the blocks accepted before it. */
#include "receiver-fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_on_free_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", g_strerror(errno));
    cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int accept_peer(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, IO_TIMEOUT_MS), 1, "the receiver did not connect");
    int fd = accept(lfd, NULL, NULL);
    cr_assert_geq(fd, 0);
    return fd;
}

static void send_bytes(int fd, const void *bytes, size_t n)
{
    const char *p = bytes;
    while (n > 0) {
        ssize_t sent = send(fd, p, n, MSG_NOSIGNAL);
        cr_assert_gt(sent, 0, "send: %s", g_strerror(errno));
        p += sent;
        n -= (size_t)sent;
    }
}

/* The 4-byte big-endian length n. */
static void send_length(int fd, uint32_t n)
{
    uint32_t be = htonl(n);
    send_bytes(fd, &be, sizeof be);
}

/* A whole block: its length, then its bytes. */
static void send_block(int fd, const char *records)
{
    send_length(fd, (uint32_t)strlen(records));
    send_bytes(fd, records, strlen(records));
}

typedef struct fixture {
    em_ssc *ssc;
    em_dstream *ds;
    collected out;
    int lfd, port;
} fixture;

static void setup(fixture *f, const em_raw_socket_opts *opts)
{
    f->lfd = listen_on_free_port(&f->port);
    collected_init(&f->out);
    f->ssc = manual_ssc("local[2]");
    f->ds = em_raw_socket_stream(f->ssc, "127.0.0.1", f->port, opts);
    cr_assert_not_null(f->ds);
    collect(f->ds, &f->out);
    cr_assert(em_ssc_start(f->ssc, NULL));
}

static void teardown(fixture *f)
{
    em_ssc_free(f->ssc);
    collected_clear(&f->out);
    close(f->lfd);
}

static void assert_batches(fixture *f, const char *expected)
{
    char *got = batches_text(&f->out);
    cr_assert_str_eq(got, expected);
    g_free(got);
}

/* The receiver events with the port replaced by PORT, so that expectations are exact. */
static char *events_with_port(fixture *f)
{
    char *events = events_text(&f->out), *port = g_strdup_printf(":%d", f->port);
    char **parts = g_strsplit(events, port, -1);
    char *text = g_strjoinv(":PORT", parts);
    g_strfreev(parts);
    g_free(port);
    g_free(events);
    return text;
}

static void assert_events(fixture *f, const char *expected)
{
    char *events = events_with_port(f);
    cr_assert_str_eq(events, expected);
    g_free(events);
}

TestSuite(raw_socket);

Test(raw_socket, each_blocks_records_arrive_in_the_batch_it_completed_in)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_block(peer, "a\nb\n");
    wait_records(f.ds, 2);
    step(f.ssc);
    send_block(peer, ""); /* an empty block holds no record */
    send_block(peer, "c\n\nd without newline");
    wait_records(f.ds, 5);
    step(f.ssc);
    assert_batches(&f, "[a, b]\n[c, , d without newline]\n");
    cr_assert_eq(em_raw_socket_stream_blocks(f.ds), 3);
    cr_assert_eq(em_raw_socket_stream_bad_blocks(f.ds), 0);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started RawNetworkReceiver#0\nstopped\n");
    close(peer);
    teardown(&f);
}

Test(raw_socket, a_block_is_stored_only_once_all_of_it_has_arrived)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_length(peer, 8);
    send_bytes(peer, "one\ntw", 6);
    step(f.ssc); /* the part received is not a record yet */
    send_bytes(peer, "o\n", 2);
    wait_records(f.ds, 2);
    step(f.ssc);
    assert_batches(&f, "[]\n[one, two]\n");
    close(peer);
    teardown(&f);
}

Test(raw_socket, a_block_larger_than_max_block_is_reported_naming_the_peer)
{
    fixture f;
    setup(&f, &(em_raw_socket_opts){.max_block = 8});
    int peer = accept_peer(f.lfd);
    send_block(peer, "12345678"); /* exactly the limit: kept */
    send_block(peer, "kept\n");
    send_block(peer, "123456789");
    wait_errors(&f.out, 1);
    /* The receiver connects again and goes on with the next peer's blocks. */
    int again = accept_peer(f.lfd);
    send_block(again, "after\n");
    wait_records(f.ds, 3);
    step(f.ssc);
    assert_batches(&f, "[12345678, kept, after]\n");
    cr_assert_eq(em_raw_socket_stream_bad_blocks(f.ds), 1);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started RawNetworkReceiver#0\n"
                      "error Block of 9 bytes from 127.0.0.1:PORT is larger than the limit of "
                      "8 bytes; reconnecting in 100 ms\n"
                      "stopped\n");
    close(again);
    close(peer);
    teardown(&f);
}

Test(raw_socket, a_block_cut_short_is_dropped_and_the_blocks_before_it_are_kept)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_block(peer, "first\nsecond\n");
    send_length(peer, 10);
    send_bytes(peer, "los", 3);
    close(peer);
    wait_errors(&f.out, 1);
    step(f.ssc);
    assert_batches(&f, "[first, second]\n");
    cr_assert_eq(em_raw_socket_stream_blocks(f.ds), 1);
    cr_assert_eq(em_raw_socket_stream_bad_blocks(f.ds), 1);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started RawNetworkReceiver#0\n"
                      "error Truncated block from 127.0.0.1:PORT: 3 of 10 bytes, dropped; "
                      "reconnecting in 100 ms\n"
                      "stopped\n");
    teardown(&f);
}

Test(raw_socket, a_length_cut_short_is_reported)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_block(peer, "whole\n");
    send_bytes(peer, "\0\0", 2);
    close(peer);
    wait_errors(&f.out, 1);
    step(f.ssc);
    assert_batches(&f, "[whole]\n");
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started RawNetworkReceiver#0\n"
                      "error Truncated block length from 127.0.0.1:PORT: 2 of 4 bytes; "
                      "reconnecting in 100 ms\n"
                      "stopped\n");
    teardown(&f);
}

Test(raw_socket, a_peer_that_closes_between_blocks_loses_nothing)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_block(peer, "x\ny\n");
    close(peer);
    wait_errors(&f.out, 1);
    step(f.ssc);
    assert_batches(&f, "[x, y]\n");
    cr_assert_eq(em_raw_socket_stream_bad_blocks(f.ds), 0);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    assert_events(&f, "started RawNetworkReceiver#0\n"
                      "error Raw socket stream from 127.0.0.1:PORT had no more data; "
                      "reconnecting in 100 ms\n"
                      "stopped\n");
    teardown(&f);
}

Test(raw_socket, invalid_utf8_becomes_the_replacement_character)
{
    fixture f;
    setup(&f, NULL);
    int peer = accept_peer(f.lfd);
    send_block(peer, "caf\xc3\xa9\nbad \xff!\n");
    wait_records(f.ds, 2);
    step(f.ssc);
    assert_batches(&f, "[caf\xc3\xa9, bad \xef\xbf\xbd!]\n");
    close(peer);
    teardown(&f);
}
