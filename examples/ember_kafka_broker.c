/* ember-kafka-broker: a Kafka cluster for demos, in a process of its own: librdkafka's mock
 * cluster on 127.0.0.1. Usage: ember-kafka-broker [--brokers N] [--topic NAME:PARTITIONS]...
 * It creates the topics, prints the bootstrap servers as its first line of stdout, and runs
 * until SIGTERM or SIGINT, or until its stdin closes. While it runs, lines on stdin drive it:
 * "down ID" and "up ID" take broker ID (1..N) down and up again, "topic NAME:PARTITIONS"
 * creates a topic; each answers "ok" or "error: ..." on stdout.
 * Not a test broker: the mock keeps about 5 MB per partition and its transactions are calls
 * only (no fencing, no read_committed filtering). */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int usage(void)
{
    fprintf(stderr, "Usage: ember-kafka-broker [--brokers N] [--topic NAME:PARTITIONS]...\n");
    return 2;
}

/* Creates NAME:PARTITIONS; an error message (static) or NULL. */
static const char *create_topic(rd_kafka_mock_cluster_t *mc, const char *spec)
{
    const char *colon = strrchr(spec, ':');
    char *end = NULL;
    long parts = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == spec || !end || *end || parts < 1 || parts > 100000)
        return "a topic is NAME:PARTITIONS, with PARTITIONS >= 1";
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(colon - spec), spec);
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)parts, 1);
    return err ? rd_kafka_err2str(err) : NULL;
}

/* One command line from stdin; answers on stdout. */
static void command(rd_kafka_mock_cluster_t *mc, char *line, int brokers)
{
    line[strcspn(line, "\r\n")] = '\0';
    const char *error = NULL;
    int id = 0;
    if (sscanf(line, "down %d", &id) == 1 || sscanf(line, "up %d", &id) == 1) {
        if (id < 1 || id > brokers)
            error = "no such broker";
        else if (line[0] == 'd')
            error = rd_kafka_mock_broker_set_down(mc, id) ? "cannot take it down" : NULL;
        else
            error = rd_kafka_mock_broker_set_up(mc, id) ? "cannot bring it up" : NULL;
    } else if (!strncmp(line, "topic ", 6)) {
        error = create_topic(mc, line + 6);
    } else if (line[0]) {
        error = "commands: down ID, up ID, topic NAME:PARTITIONS";
    } else {
        return;
    }
    if (error)
        printf("error: %s\n", error);
    else
        printf("ok\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int brokers = 1;
    const char *topics[256];
    int n_topics = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            brokers = atoi(argv[++i]);
            if (brokers < 1 || brokers > 64)
                return usage();
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc && n_topics < 256) {
            topics[n_topics++] = argv[++i];
        } else {
            return usage();
        }
    }

    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "ember-kafka-broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "ember-kafka-broker: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < n_topics; i++) {
        const char *error = create_topic(mc, topics[i]);
        if (error) {
            fprintf(stderr, "ember-kafka-broker: topic %s: %s\n", topics[i], error);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[1024];
    size_t used = 0;
    while (!stopping) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&p, 1, 200);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        ssize_t n = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break; /* stdin closed: the parent went away */
        used += n > 0 ? (size_t)n : 0;
        line[used] = '\0';
        char *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            command(mc, line, brokers);
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used + 1);
        }
        if (used == sizeof line - 1)
            used = 0; /* a line too long to be a command */
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
