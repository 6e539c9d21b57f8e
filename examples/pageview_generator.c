/* pageview_generator: Spark's clickstream PageViewGenerator, ported: a TCP server that sends
 * every client random page views, one line "url\tstatus\tzipCode\tuserID\n" every
 * 1000 / viewsPerSecond ms, drawn from the same distributions as Spark's (pages 70/20/10 %,
 * status 200 95 % and 404 5 %, two zip codes, users 1..100). For pageview_stream.
 *
 * Usage: pageview_generator [--seed S] [--views N] [--clients M] <port> <viewsPerSecond>
 * It listens on 127.0.0.1:PORT (0: a free port) and prints "Listening on port: PORT" first, as
 * Spark's does. Ember additions for tests and demos: --seed S makes the views reproducible
 * (each client's views are drawn from a generator seeded with S); --views N sends N views to
 * each client and closes the connection; --clients M serves M clients and exits. SIGTERM or
 * SIGINT ends it. Part of the examples; it needs no Ember API.
 *
 *   val pages = Map("http://foo.com/" -> .7, "http://foo.com/news" -> 0.2,
 *                   "http://foo.com/contact" -> .1)
 *   val httpStatus = Map(200 -> .95, 404 -> .05)
 *   val userZipCode = Map(94709 -> .5, 94117 -> .5)
 *   val userID = Map((1 to 100).map(_ -> .01): _*)
 */
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

/* One entry of a Scala Map[T, Double]: the item (a string or an int) and its probability. */
typedef struct choice {
    const char *item;
    int number;
    double prob;
} choice;

static const choice pages[] = {{"http://foo.com/", 0, .7},
                               {"http://foo.com/news", 0, 0.2},
                               {"http://foo.com/contact", 0, .1}};
static const choice http_status[] = {{NULL, 200, .95}, {NULL, 404, .05}};
static const choice user_zip_code[] = {{NULL, 94709, .5}, {NULL, 94117, .5}};
static choice user_id[100]; /* (1 to 100).map(_ -> .01) */

/* def pickFromDistribution[T](inputMap: Map[T, Double]): T */
static const choice *pick_from_distribution(GRand *rand, const choice *input_map, size_t n)
{
    double r = g_rand_double(rand);
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        total = total + input_map[i].prob;
        if (total > r)
            return &input_map[i];
    }
    return &input_map[0]; /* Shouldn't get here if probabilities add up to 1.0 */
}

/* def getNextClickEvent(): String -- PageView's toString, "%s\t%s\t%s\t%s\n". */
static void get_next_click_event(GRand *rand, GString *out)
{
    int id = pick_from_distribution(rand, user_id, G_N_ELEMENTS(user_id))->number;
    const char *page = pick_from_distribution(rand, pages, G_N_ELEMENTS(pages))->item;
    int status = pick_from_distribution(rand, http_status, G_N_ELEMENTS(http_status))->number;
    int zip_code =
        pick_from_distribution(rand, user_zip_code, G_N_ELEMENTS(user_zip_code))->number;
    g_string_printf(out, "%s\t%d\t%d\t%d\n", page, status, zip_code, id);
}

typedef struct generator {
    int64_t sleep_delay_ms;
    int64_t views; /* per client, 0: until it goes away */
    bool seeded;
    guint32 seed;
} generator;

typedef struct client {
    const generator *g;
    int fd;
} client;

static gpointer serve(gpointer data)
{
    client *c = data;
    struct timeval timeout = {.tv_usec = 200 * 1000}; /* a stuck client cannot hold a signal */
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    GRand *rand = c->g->seeded ? g_rand_new_with_seed(c->g->seed) : g_rand_new();
    GString *view = g_string_new(NULL);
    bool ok = true;
    for (int64_t i = 0; ok && !stopping && (c->g->views == 0 || i < c->g->views); i++) {
        if (c->g->sleep_delay_ms > 0)
            g_usleep((gulong)c->g->sleep_delay_ms * 1000);
        get_next_click_event(rand, view);
        const char *p = view->str;
        size_t n = view->len;
        while (n > 0 && !stopping) {
            ssize_t sent = send(c->fd, p, n, MSG_NOSIGNAL);
            if (sent < 0 && errno != EAGAIN && errno != EINTR) {
                ok = false;
                break;
            }
            if (sent > 0)
                p += sent, n -= (size_t)sent;
        }
    }
    g_string_free(view, TRUE);
    g_rand_free(rand);
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
        fprintf(stderr, "pageview_generator: cannot listen on 127.0.0.1:%d: %s\n", port,
                g_strerror(errno));
        exit(EXIT_FAILURE);
    }
    printf("Listening on port: %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    int64_t seed = -1, views = 0, clients = 0, port = 0;
    int i = 1;
    for (; i + 1 < argc && g_str_has_prefix(argv[i], "--"); i += 2) {
        int64_t *opt = strcmp(argv[i], "--seed") == 0      ? &seed
                       : strcmp(argv[i], "--views") == 0   ? &views
                       : strcmp(argv[i], "--clients") == 0 ? &clients
                                                           : NULL;
        if (!opt || !g_ascii_string_to_signed(argv[i + 1], 10, opt == &seed ? 0 : 1,
                                              opt == &seed ? G_MAXUINT32 : G_MAXINT32, opt, NULL))
            i = argc; /* a usage error */
    }
    char *end = NULL;
    double views_per_second = argc - i == 2 ? g_ascii_strtod(argv[i + 1], &end) : 0;
    if (argc - i != 2 || !g_ascii_string_to_signed(argv[i], 10, 0, 65535, &port, NULL) ||
        end == argv[i + 1] || *end || !(views_per_second > 0)) {
        fprintf(stderr, "Usage: PageViewGenerator <port> <viewsPerSecond>\n"
                        "  (Ember's options before them: --seed S, --views N, --clients M)\n");
        return 1;
    }
    for (int u = 0; u < 100; u++)
        user_id[u] = (choice){NULL, u + 1, .01};
    /* val sleepDelayMs = (1000.0 / viewsPerSecond).toInt */
    generator g = {(int64_t)(1000.0 / views_per_second), views, seed >= 0, (guint32)seed};

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int listener = listen_on((int)port);
    GPtrArray *threads = g_ptr_array_new();
    while (!stopping && (clients == 0 || threads->len < clients)) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        int fd = accept4(listener, (struct sockaddr *)&from, &from_len, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        char from_text[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &from.sin_addr, from_text, sizeof from_text);
        printf("Got client connected from: /%s\n", from_text);
        fflush(stdout);
        client *c = g_new(client, 1);
        *c = (client){&g, fd};
        g_ptr_array_add(threads, g_thread_new("client", serve, c));
    }
    close(listener);
    for (guint t = 0; t < threads->len; t++)
        g_thread_join(threads->pdata[t]);
    g_ptr_array_unref(threads);
    return EXIT_SUCCESS;
}
