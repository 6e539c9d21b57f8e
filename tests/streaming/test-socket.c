/* socketTextStream and socketStream over real TCP on 127.0.0.1: lines into batches, \r\n and
 * last lines, overlong lines, UTF-8, reconnects with backoff, stops that interrupt blocked
 * connects, reads and waits, graceful stop, and batches on the system clock with local[1]. */
#include "receiver-fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening socket on 127.0.0.1:port (0: an ephemeral port). */
static int listen_on(int port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", g_strerror(errno));
    cr_assert_eq(listen(fd, backlog), 0);
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* The receiver's connection (bounded wait). */
static int accept_peer(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, IO_TIMEOUT_MS), 1, "the receiver did not connect");
    int fd = accept(lfd, NULL, NULL);
    cr_assert_geq(fd, 0);
    return fd;
}

static void send_text(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t sent = send(fd, text, n, MSG_NOSIGNAL);
        cr_assert_gt(sent, 0, "send: %s", g_strerror(errno));
        text += sent;
        n -= (size_t)sent;
    }
}

static void send_str(int fd, const char *text) { send_text(fd, text, strlen(text)); }

typedef struct fixture {
    em_ssc *ssc;
    em_dstream *ds;
    collected out;
    int lfd, port;
} fixture;

/* A peer listening on an ephemeral port (lfd), and a started ssc whose socket stream connects
 * to it; opts may be NULL. The collector sees the stream, or its records mapped with map. */
static void setup_with(fixture *f, const em_socket_opts *opts, em_line_converter converter,
                       void *ud, GDestroyNotify destroy, em_map_fn map)
{
    f->lfd = listen_on(0, 16);
    f->port = port_of(f->lfd);
    collected_init(&f->out);
    f->ssc = manual_ssc("local[2]");
    f->ds = em_socket_stream_full(f->ssc, "127.0.0.1", f->port, converter, ud, destroy, opts);
    cr_assert_not_null(f->ds);
    collect(map ? em_map(f->ds, map) : f->ds, &f->out);
    cr_assert(em_ssc_start(f->ssc, NULL));
}

static void setup(fixture *f) { setup_with(f, NULL, NULL, NULL, NULL, NULL); }

/* As setup, but nobody listens on the port (lfd is -1) until the test does. */
static void setup_without_peer(fixture *f)
{
    int lfd = listen_on(0, 16);
    f->port = port_of(lfd);
    close(lfd);
    f->lfd = -1;
    collected_init(&f->out);
    f->ssc = manual_ssc("local[2]");
    f->ds = em_socket_text_stream(f->ssc, "127.0.0.1", f->port);
    collect(f->ds, &f->out);
    cr_assert(em_ssc_start(f->ssc, NULL));
}

static void teardown(fixture *f)
{
    em_ssc_free(f->ssc);
    collected_clear(&f->out);
    if (f->lfd >= 0)
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

/* Stops the ssc and checks the receiver's on_start returned by itself: a receiver that does
 * not is abandoned after the stop timeout (10 s) with a receiver_error event saying so. */
static void assert_stops_cleanly(em_ssc *ssc, collected *out)
{
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    char *events = events_text(out);
    cr_assert_null(strstr(events, "did not stop within"), "%s", events);
    cr_assert(g_str_has_suffix(events, "stopped\n"), "%s", events);
    g_free(events);
}

/* A stop that hangs fails its test instead of the run. */
TestSuite(socket);

Test(socket, lines_arrive_in_the_batch_they_were_received_in)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "a\nb\n");
    wait_records(f.ds, 2);
    step(f.ssc);
    send_str(peer, "c\n");
    wait_records(f.ds, 3);
    step(f.ssc);
    step(f.ssc);
    assert_batches(&f, "[a, b]\n[c]\n[]\n");
    cr_assert_eq(g_array_index(f.out.records, int64_t, 0), 2);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT);
    char *events = events_with_port(&f);
    cr_assert_str_eq(events, "started SocketReceiver#0\nstopped\n");
    g_free(events);
    close(peer);
    teardown(&f);
}

Test(socket, crlf_loses_its_cr_and_a_last_line_without_newline_arrives_on_close)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "one\r\ntwo\r\n\r\nx\ry\nthree");
    close(peer);
    wait_records(f.ds, 5);
    step(f.ssc);
    assert_batches(&f, "[one, two, , x\ry, three]\n");
    teardown(&f);
}

/* A string with its bytes outside printable ASCII written as \xNN. */
static em_value escape(em_value v, void *ud)
{
    (void)ud;
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < em_str_len(v); i++) {
        unsigned char c = (unsigned char)em_str_ptr(v)[i];
        if (c >= 0x20 && c < 0x7f)
            g_string_append_c(s, (char)c);
        else
            g_string_append_printf(s, "\\x%02x", c);
    }
    em_value out = em_str_dup(s->str, s->len);
    g_string_free(s, TRUE);
    return out;
}

Test(socket, invalid_utf8_becomes_the_replacement_character)
{
    fixture f;
    setup_with(&f, NULL, NULL, NULL, NULL, escape);
    int peer = accept_peer(f.lfd);
    static const char text[] = "caf\xc3\xa9 \xff!\nnul\0ok\n";
    send_text(peer, text, sizeof text - 1);
    wait_records(f.ds, 2);
    step(f.ssc);
    assert_batches(&f, "[caf\\xc3\\xa9 \\xef\\xbf\\xbd!, nul\\x00ok]\n");
    close(peer);
    teardown(&f);
}

Test(socket, an_overlong_line_is_dropped_counted_and_reported)
{
    fixture f;
    setup_with(&f, &(em_socket_opts){.max_line = 8}, NULL, NULL, NULL, NULL);
    int peer = accept_peer(f.lfd);
    /* 8 bytes (and 8 before \r\n) pass; 9 do not; a line far longer than a read is skipped up
     * to its newline. */
    send_str(peer, "short\n12345678\nabcdefgh\r\n123456789\nok\n");
    GString *big = g_string_new(NULL);
    for (int i = 0; i < 200000; i++)
        g_string_append_c(big, 'x');
    g_string_append(big, "\nend\n");
    send_text(peer, big->str, big->len);
    g_string_free(big, TRUE);
    wait_records(f.ds, 5);
    wait_errors(&f.out, 2);
    step(f.ssc);
    assert_batches(&f, "[short, 12345678, abcdefgh, ok, end]\n");
    cr_assert_eq(em_socket_stream_dropped_lines(f.ds), 2);
    char *events = events_with_port(&f);
    cr_assert_str_eq(events, "started SocketReceiver#0\n"
                             "error Dropped a line longer than 8 bytes from 127.0.0.1:PORT "
                             "(1 dropped so far)\n"
                             "error Dropped a line longer than 8 bytes from 127.0.0.1:PORT "
                             "(2 dropped so far)\n");
    g_free(events);
    close(peer);
    teardown(&f);
}

Test(socket, many_lines_split_across_reads_arrive_whole_and_in_order)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    GString *text = g_string_new(NULL), *expected = g_string_new("[");
    for (int i = 0; i < 100000; i++) {
        g_string_append_printf(text, "line %d\n", i);
        g_string_append_printf(expected, i ? ", line %d" : "line %d", i);
    }
    g_string_append(expected, "]\n");
    send_text(peer, text->str, text->len);
    wait_records(f.ds, 100000);
    step(f.ssc);
    assert_batches(&f, expected->str);
    g_string_free(text, TRUE);
    g_string_free(expected, TRUE);
    close(peer);
    teardown(&f);
}

Test(socket, lines_split_across_reads_are_stored_whole_with_the_lines_around_them)
{
    /* Each send ends inside a line: the receiver keeps the start and stores it with the next
     * read's lines. */
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "a\nhe");
    wait_records(f.ds, 1);
    send_str(peer, "llo\nb");
    wait_records(f.ds, 2);
    send_str(peer, "\nc\r");
    wait_records(f.ds, 3);
    send_str(peer, "\n\r\nd\n");
    wait_records(f.ds, 6);
    step(f.ssc);
    assert_batches(&f, "[a, hello, b, c, , d]\n");
    cr_assert_eq(g_array_index(f.out.records, int64_t, 0), 6);
    close(peer);
    teardown(&f);
}

/* Moves the manual clock to batch time t (a multiple of the 1 s batch) and waits for it. */
static void advance_to_batch(em_ssc *ssc, em_time t)
{
    em_ssc_advance_clock(ssc, t - em_ssc_clock_time(ssc));
    cr_assert(em_ssc_wait_for_batch(ssc, t, IO_TIMEOUT_MS));
}

Test(socket, the_lines_of_a_read_go_as_the_rate_allows_into_the_blocks_of_their_clock_time)
{
    /* 100 lines in one send, max_rate 200 a second, 50 ms blocks: the first line passes at once
     * (block 0), 100 ms of clock let 20 more through (block 2), 395 ms the other 79 (block 9). */
    fixture f;
    setup_with(&f, &(em_socket_opts){.receiver = {.max_rate = 200, .block_interval = 50}}, NULL,
               NULL, NULL, NULL);
    int peer = accept_peer(f.lfd);
    GString *text = g_string_new(NULL), *expected = g_string_new("[");
    for (int i = 0; i < 100; i++) {
        g_string_append_printf(text, "%d\n", i);
        g_string_append_printf(expected, i ? ", %d" : "%d", i);
    }
    g_string_append(expected, "]\n");
    send_text(peer, text->str, text->len);
    cr_assert_eq(em__receiver_await_waiting(f.ds, EM__RECEIVER_WAITS_FOR_RATE), 1);
    em_ssc_advance_clock(f.ssc, 100);
    wait_records(f.ds, 21);
    cr_assert_eq(em__receiver_await_waiting(f.ds, EM__RECEIVER_WAITS_FOR_RATE), 21);
    em_ssc_advance_clock(f.ssc, 395);
    wait_records(f.ds, 100);
    advance_to_batch(f.ssc, 1000);
    assert_batches(&f, expected->str);
    cr_assert_eq(g_array_index(f.out.partitions, int, 0), 3);
    g_string_free(text, TRUE);
    g_string_free(expected, TRUE);
    close(peer);
    teardown(&f);
}

/* socketStream's converter: numbers become ints, anything else is skipped. */
static em_value to_int(const char *line, size_t len, void *ud)
{
    (void)ud;
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return em_none();
    memcpy(buf, line, len);
    buf[len] = '\0';
    char *end;
    gint64 i = g_ascii_strtoll(buf, &end, 10);
    return *end ? em_none() : em_int(i);
}

static void count_destroy(void *ud) { g_atomic_int_inc((gint *)ud); }

Test(socket, socket_stream_converts_each_line_and_skips_none)
{
    fixture f;
    gint destroyed = 0;
    setup_with(&f, NULL, to_int, &destroyed, count_destroy, NULL);
    int peer = accept_peer(f.lfd);
    send_str(peer, "1\nnot a number\n22\r\n-3\n");
    wait_records(f.ds, 3);
    step(f.ssc);
    assert_batches(&f, "[1, 22, -3]\n");
    close(peer);
    teardown(&f);
    cr_assert_eq(destroyed, 1);
}

Test(socket, the_receiver_connects_once_the_peer_comes_up)
{
    fixture f;
    setup_without_peer(&f);
    /* Nobody listens at first: the receiver reports refused connections and retries. */
    wait_errors(&f.out, 1);
    f.lfd = listen_on(f.port, 16);
    int peer = accept_peer(f.lfd);
    send_str(peer, "hello\n");
    wait_records(f.ds, 1);
    step(f.ssc);
    assert_batches(&f, "[hello]\n");
    char *events = events_with_port(&f);
    cr_assert(g_str_has_prefix(events, "started SocketReceiver#0\n"
                                       "error Error connecting to 127.0.0.1:PORT: Connection "
                                       "refused; retrying in 100 ms\n"),
              "%s", events);
    g_free(events);
    close(peer);
    teardown(&f);
}

Test(socket, the_receiver_reconnects_after_the_peer_closes)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "a\n");
    wait_records(f.ds, 1);
    close(peer);
    peer = accept_peer(f.lfd);
    send_str(peer, "b\n");
    wait_records(f.ds, 2);
    step(f.ssc);
    assert_batches(&f, "[a, b]\n");
    char *events = events_with_port(&f);
    cr_assert_str_eq(events, "started SocketReceiver#0\n"
                             "error Socket data stream from 127.0.0.1:PORT had no more data; "
                             "reconnecting in 100 ms\n");
    g_free(events);
    close(peer);
    teardown(&f);
}

Test(socket, reconnect_waits_double_from_100_ms)
{
    fixture f;
    setup_without_peer(&f);
    wait_errors(&f.out, 3);
    /* The third wait (400 ms) is under way: the stop cuts it short, no fourth attempt. */
    assert_stops_cleanly(f.ssc, &f.out);
    char *events = events_with_port(&f);
    cr_assert_str_eq(events, "started SocketReceiver#0\n"
                             "error Error connecting to 127.0.0.1:PORT: Connection refused; "
                             "retrying in 100 ms\n"
                             "error Error connecting to 127.0.0.1:PORT: Connection refused; "
                             "retrying in 200 ms\n"
                             "error Error connecting to 127.0.0.1:PORT: Connection refused; "
                             "retrying in 400 ms\n"
                             "stopped\n");
    g_free(events);
    teardown(&f);
}

Test(socket, stop_interrupts_a_blocked_read)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "partial line without end");
    g_usleep(50 * 1000); /* let the receiver block in its read */
    assert_stops_cleanly(f.ssc, &f.out);
    cr_assert_eq(em_receiver_stream_records(f.ds), 0);
    close(peer);
    teardown(&f);
}

typedef struct flood {
    int fd;
    gint stop;
} flood;

/* Sends lines as fast as the socket takes them, until told to stop or the receiver is gone. */
static gpointer flood_main(gpointer data)
{
    flood *f = data;
    char lines[4096];
    for (size_t i = 0; i < sizeof lines; i += 8)
        memcpy(lines + i, "flooded\n", 8);
    while (!g_atomic_int_get(&f->stop) && send(f->fd, lines, sizeof lines, MSG_NOSIGNAL) > 0)
        ;
    return NULL;
}

Test(socket, stop_interrupts_a_peer_that_never_pauses)
{
    fixture f;
    setup(&f);
    flood fl = {.fd = accept_peer(f.lfd)};
    GThread *sender = g_thread_new("flood", flood_main, &fl);
    wait_records(f.ds, 10000);
    assert_stops_cleanly(f.ssc, &f.out);
    g_atomic_int_set(&fl.stop, 1);
    shutdown(fl.fd, SHUT_RDWR);
    g_thread_join(sender);
    close(fl.fd);
    teardown(&f);
}

/* Whether a connect to lfd hangs: its accept queue is full, so the SYN goes unanswered. */
static bool connect_hangs(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool hangs = false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        hangs = poll(&p, 1, 200) == 0;
    }
    close(fd);
    return hangs;
}

Test(socket, stop_interrupts_a_blocked_connect)
{
    /* A listener with a full accept queue: connects to it hang in SYN_SENT. */
    int lfd = listen_on(0, 0), port = port_of(lfd);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    g_usleep(50 * 1000);
    cr_assert(connect_hangs(port), "could not make a connect hang");

    collected out;
    collected_init(&out);
    em_ssc *ssc = manual_ssc("local[1]");
    em_dstream *ds = em_socket_text_stream(ssc, "127.0.0.1", port);
    collect(ds, &out);
    cr_assert(em_ssc_start(ssc, NULL));
    g_usleep(300 * 1000);
    cr_assert_eq(errors_seen(&out), 0, "the receiver is still connecting");
    assert_stops_cleanly(ssc, &out);
    em_ssc_free(ssc);
    collected_clear(&out);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

Test(socket, graceful_stop_processes_lines_already_received)
{
    fixture f;
    setup(&f);
    int peer = accept_peer(f.lfd);
    send_str(peer, "x\ny\n");
    wait_records(f.ds, 2);
    step(f.ssc);
    send_str(peer, "z\n");
    wait_records(f.ds, 3);
    em_ssc_stop(f.ssc, EM_STOP_GRACEFUL);
    assert_batches(&f, "[x, y]\n[z]\n");
    close(peer);
    teardown(&f);
}

Test(socket, local_1_with_a_socket_stream_produces_batches_on_the_system_clock)
{
    /* The receiver has a thread of its own, so one executor thread is enough (in Spark,
     * local[1] would starve the batches). */
    int lfd = listen_on(0, 16);
    collected out;
    collected_init(&out);
    em_ssc *ssc = em_ssc_new("local[1]", "t", EM_MILLIS(100));
    em_dstream *ds = em_socket_text_stream(ssc, "127.0.0.1", port_of(lfd));
    collect(ds, &out);
    cr_assert(em_ssc_start(ssc, NULL));
    int peer = accept_peer(lfd);
    for (int i = 0; i < 10; i++)
        send_str(peer, "tick\n");
    wait_records(ds, 10);
    em_time first = ssc->zero_time + 100;
    cr_assert(em_ssc_wait_for_batch(ssc, first + 300, IO_TIMEOUT_MS));
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    int64_t total = 0;
    for (guint i = 0; i < out.records->len; i++)
        total += g_array_index(out.records, int64_t, i);
    cr_assert_geq(out.records->len, 4);
    cr_assert_eq(total, 10);
    em_ssc_free(ssc);
    collected_clear(&out);
    close(peer);
    close(lfd);
}

Test(socket, bad_arguments_fail_fast_and_destroy_user_data)
{
    g_log_set_writer_func(quiet_criticals, NULL, NULL);
    gint destroyed = 0;
    em_ssc *ssc = manual_ssc("local[1]");
    cr_assert_null(
        em_socket_stream_full(ssc, "127.0.0.1", 0, to_int, &destroyed, count_destroy, NULL));
    cr_assert_null(em_socket_stream_full(ssc, NULL, 80, to_int, &destroyed, count_destroy, NULL));
    cr_assert_eq(destroyed, 2);
    cr_assert_eq(em_socket_stream_dropped_lines(NULL), -1);
    em_ssc_free(ssc);
}

static GString *warnings;
static GMutex warnings_lock;

static GLogWriterOutput capture_warnings(GLogLevelFlags level, const GLogField *fields, gsize n,
                                         gpointer ud)
{
    if (!(level & G_LOG_LEVEL_WARNING))
        return g_log_writer_default(level, fields, n, ud);
    const char *domain = "", *message = "";
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            message = fields[i].value;
        else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
            domain = fields[i].value;
    }
    g_mutex_lock(&warnings_lock);
    g_string_append_printf(warnings, "%s: %s\n", domain, message);
    g_mutex_unlock(&warnings_lock);
    return G_LOG_WRITER_HANDLED;
}

Test(socket, a_receiver_that_cannot_connect_logs_a_warning_naming_host_and_port)
{
    warnings = g_string_new(NULL);
    g_log_set_writer_func(capture_warnings, NULL, NULL);
    /* No listener added: the warning is all there is. */
    int lfd = listen_on(0, 16), port = port_of(lfd);
    close(lfd);
    em_ssc *ssc = manual_ssc("local[1]");
    em_dstream *ds = em_socket_text_stream(ssc, "127.0.0.1", port);
    em_print(ds);
    cr_assert(em_ssc_start(ssc, NULL));
    char *expected = g_strdup_printf("ember: Error connecting to 127.0.0.1:%d: Connection "
                                     "refused; retrying in 100 ms\n",
                                     port);
    for (;;) {
        g_mutex_lock(&warnings_lock);
        bool seen = warnings->len > 0;
        g_mutex_unlock(&warnings_lock);
        if (seen)
            break;
        g_usleep(1000);
    }
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    cr_assert(g_str_has_prefix(warnings->str, expected), "warnings: %s", warnings->str);
    g_free(expected);
    em_ssc_free(ssc);
    g_string_free(warnings, TRUE);
}

Test(socket, a_peer_faster_than_the_batches_is_held_back_past_max_pending_bytes)
{
    fixture f;
    setup_with(&f, &(em_socket_opts){.receiver.max_pending_bytes = 256 << 10}, NULL, NULL, NULL,
               NULL);
    flood fl = {.fd = accept_peer(f.lfd)};
    GThread *sender = g_thread_new("flood", flood_main, &fl);
    /* No batch comes: the receiver stops reading at the bound and stays there. */
    int64_t stored = em__receiver_await_waiting(f.ds, EM__RECEIVER_WAITS_FOR_BATCHES);
    int64_t pending = em__receiver_pending_bytes(f.ds);
    cr_assert_geq(pending, 256 << 10);
    /* The last store may take one more arena chunk (each no larger than what the block held). */
    cr_assert_lt(pending, 2 * (256 << 10), "%" G_GINT64_FORMAT " bytes pending", (gint64)pending);
    cr_assert_eq(em_receiver_stream_records(f.ds), stored);
    /* A batch takes the blocks, says the input was held back, and reading resumes. */
    step(f.ssc);
    cr_assert_eq(g_array_index(f.out.records, int64_t, 0), stored);
    cr_assert_eq(g_array_index(f.out.blocked, int, 0), 1);
    wait_records(f.ds, stored + 1);
    assert_stops_cleanly(f.ssc, &f.out);
    g_atomic_int_set(&fl.stop, 1);
    shutdown(fl.fd, SHUT_RDWR);
    g_thread_join(sender);
    close(fl.fd);
    teardown(&f);
}
