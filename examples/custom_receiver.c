/* custom_receiver: Spark's CustomReceiver example, ported: a receiver of its own that connects
 * to a TCP server and stores its lines, feeding a word count. An application of the public
 * library (<ember.h> only). Usage: custom_receiver HOST PORT [BATCHES]; BATCHES, an Ember
 * addition, stops it gracefully after that many batches. Run a server first: line_server 9999.
 *
 *   class CustomReceiver(host: String, port: Int) extends Receiver[String](...) {
 *     def onStart() { new Thread("Socket Receiver") { override def run() { receive() } }.start() }
 *     def onStop() { }
 *     private def receive() {
 *       try {
 *         val socket = new Socket(host, port)
 *         val reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), UTF_8))
 *         var userInput = reader.readLine()
 *         while (!isStopped && userInput != null) {
 *           store(userInput)
 *           userInput = reader.readLine()
 *         }
 *         reader.close(); socket.close()
 *         restart("Trying to connect again")
 *       } catch {
 *         case e: ConnectException => restart("Error connecting to " + host + ":" + port, e)
 *         case t: Throwable => restart("Error receiving data", t)
 *       }
 *     }
 *   }
 *   val lines = ssc.receiverStream(new CustomReceiver(args(0), args(1).toInt))
 *   val words = lines.flatMap(_.split(" "))
 *   val wordCounts = words.map(x => (x, 1)).reduceByKey(_ + _)
 *   wordCounts.print()
 *
 * Ember runs on_start on a thread of its own, so it receives right there instead of starting a
 * thread; on_stop shuts the socket down so that a blocked read returns. */
#include <ember.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Spark's spark.streaming.receiverRestartDelay. */
#define RESTART_DELAY_MS 2000

typedef struct {
    const char *host, *port;
    GMutex lock; /* guards fd between on_start and on_stop */
    int fd;      /* the connection, -1 when none */
} custom_receiver;

/* A socket connected to host:port and published in c->fd for on_stop, or -1 with *why set
 * (NULL when stopped meanwhile). */
static int connect_to(custom_receiver *c, em_receiver *r, const char **why)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addrs;
    int rc = getaddrinfo(c->host, c->port, &hints, &addrs);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    int fd = socket(addrs->ai_family, addrs->ai_socktype | SOCK_CLOEXEC, addrs->ai_protocol);
    *why = fd < 0 ? g_strerror(errno) : NULL;
    g_mutex_lock(&c->lock);
    /* A stop that came before the socket was published could not shut it down. */
    if (fd >= 0 && em_receiver_is_stopped(r)) {
        close(fd);
        fd = -1;
    }
    c->fd = fd;
    g_mutex_unlock(&c->lock);
    if (fd >= 0 && connect(fd, addrs->ai_addr, addrs->ai_addrlen) < 0) {
        *why = g_strerror(errno);
        fd = -1; /* c->fd keeps it for close_connection */
    }
    freeaddrinfo(addrs);
    return fd;
}

static void close_connection(custom_receiver *c)
{
    g_mutex_lock(&c->lock);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    g_mutex_unlock(&c->lock);
}

/* Spark's receive(): connect, store every line until stopped, then ask for a restart. */
static void on_start(em_receiver *r, void *ud)
{
    custom_receiver *c = ud;
    const char *why;
    int fd = connect_to(c, r, &why);
    if (fd < 0) {
        close_connection(c);
        if (why) {
            char *msg = g_strdup_printf("Error connecting to %s:%s: %s", c->host, c->port, why);
            em_receiver_restart(r, msg, RESTART_DELAY_MS);
            g_free(msg);
        }
        return;
    }
    FILE *in = fdopen(dup(fd), "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (in && !em_receiver_is_stopped(r) && (len = getline(&line, &cap, in)) >= 0) {
        /* readLine drops the line's "\n" or "\r\n". */
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        em_receiver_store(r, em_strn(line, (size_t)len));
    }
    free(line);
    if (in)
        fclose(in);
    close_connection(c);
    em_receiver_restart(r, "Trying to connect again", RESTART_DELAY_MS);
}

/* On the stopping thread: a read blocked in on_start returns at once. */
static void on_stop(em_receiver *r, void *ud)
{
    (void)r;
    custom_receiver *c = ud;
    g_mutex_lock(&c->lock);
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    g_mutex_unlock(&c->lock);
}

/* Spark logs a receiver's restarts as warnings: so does this. */
static void receiver_stopped(const em_receiver_info *info, void *ud)
{
    (void)ud;
    if (info->last_error)
        fprintf(stderr, "custom_receiver: %s\n", info->last_error);
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 3 || argc > 4 || !g_ascii_string_to_signed(argv[2], 10, 1, 65535, &port, NULL) ||
        (argc == 4 && !g_ascii_string_to_signed(argv[3], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: custom_receiver <hostname> <port> [<batches>]\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "CustomReceiver", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    custom_receiver c = {.host = argv[1], .port = argv[2], .fd = -1};
    g_mutex_init(&c.lock);
    em_receiver_funcs funcs = {.name = "CustomReceiver", .on_start = on_start, .on_stop = on_stop};
    em_dstream *lines = em_receiver_stream(ssc, &funcs, &c, NULL);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_print(word_counts);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    em_ssc_add_listener(ssc, &(em_listener){.receiver_stopped = receiver_stopped}, NULL);
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "custom_receiver: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    g_mutex_clear(&c.lock);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
