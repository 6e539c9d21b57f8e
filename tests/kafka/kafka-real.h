/* The real test broker: Apache Kafka itself, one KRaft node (broker and controller) on two
 * free ports of 127.0.0.1, formatted and started by the test with the machine's Java from the
 * jars set-up cached (EMBER_KAFKA_LIBS, else ~/.cache/ember/kafka/4.1.0/libs). Without Java or
 * the jars the test reports itself skipped with the reason, except under CI=true, where it
 * fails. */
#ifndef EMBER_TESTS_KAFKA_REAL_H
#define EMBER_TESTS_KAFKA_REAL_H

#include "kafka-fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

typedef struct real_kafka {
    GPid pid;
    char *dir;
    char bootstrap[64];
} real_kafka;

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline char *kafka_libs(void)
{
    const char *env = g_getenv("EMBER_KAFKA_LIBS");
    return env ? g_strdup(env)
               : g_build_filename(g_get_user_cache_dir(), "ember", "kafka", "4.1.0", "libs", NULL);
}

/* Skips the test (or fails it under CI=true) with reason. */
#define REAL_KAFKA_UNAVAILABLE(reason)                                                            \
    do {                                                                                          \
        if (g_strcmp0(g_getenv("CI"), "true") == 0)                                               \
            cr_assert_fail("the real Kafka broker is required under CI=true: %s", reason);        \
        cr_skip_test("no real Kafka broker: %s", reason);                                         \
    } while (0)

static inline bool real_kafka_ready(const char *bootstrap)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    const struct rd_kafka_metadata *md = NULL;
    bool ok = rd_kafka_metadata(rk, 1, NULL, &md, 2000) == 0 && md->broker_cnt == 1;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return ok;
}

/* In the broker's child before exec: it is killed when the test's process dies, so a test that
 * fails (exits) before its cleanup leaves no JVM behind. */
static inline void real_kafka_die_with_parent(gpointer unused)
{
    (void)unused;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Formats a log directory and starts the broker; returns when it answers metadata requests. */
static inline void real_kafka_start(real_kafka *k)
{
    g_autofree char *libs = kafka_libs();
    g_autofree char *java = g_find_program_in_path("java");
    g_autofree char *jar = g_strdup_printf("%s/kafka_2.13-4.1.0.jar", libs);
    if (!java)
        REAL_KAFKA_UNAVAILABLE("no java in PATH (scripts/dev installs openjdk-17-jre-headless)");
    if (!g_file_test(jar, G_FILE_TEST_EXISTS))
        REAL_KAFKA_UNAVAILABLE("Apache Kafka's jars are not in EMBER_KAFKA_LIBS or the cache "
                               "(scripts/dev test fetches them from Maven Central)");
    k->dir = g_dir_make_tmp("ember-kafka-XXXXXX", NULL);
    cr_assert_not_null(k->dir);
    int port = free_port(), cport = free_port();
    snprintf(k->bootstrap, sizeof k->bootstrap, "127.0.0.1:%d", port);
    g_autofree char *props = g_build_filename(k->dir, "server.properties", NULL);
    g_autofree char *text = g_strdup_printf(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:%d\n"
        "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
        "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
        "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        "log.dirs=%s/data\noffsets.topic.replication.factor=1\noffsets.topic.num.partitions=1\n"
        "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
        "transaction.state.log.num.partitions=1\ngroup.initial.rebalance.delay.ms=0\n"
        "num.partitions=1\nauto.create.topics.enable=true\ngroup.min.session.timeout.ms=500\n",
        cport, port, cport, port, k->dir);
    cr_assert(g_file_set_contents(props, text, -1, NULL));
    g_autofree char *cp = g_strdup_printf("%s/*", libs);
    g_autofree char *log = g_build_filename(k->dir, "kafka.log", NULL);
    const char *format[] =
        {java, "-cp", cp,  "kafka.tools.StorageTool", "format", "-t", "ZW1iZXItdGVzdC1rYWZrYQ",
         "-c", props, NULL};
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)format, NULL,
                           G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                           NULL, NULL, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "kafka-storage format failed");
    g_autofree char *cmd = g_strdup_printf("exec '%s' -Xmx512m -Xss1m -XX:+UseSerialGC -cp '%s' "
                                           "kafka.Kafka '%s' >'%s' 2>&1",
                                           java, cp, props, log);
    const char *start[] = {"/bin/sh", "-c", cmd, NULL};
    cr_assert(g_spawn_async(NULL, (char **)start, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                            real_kafka_die_with_parent, NULL, &k->pid, &err),
              "%s", err ? err->message : "");
    gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
    while (!real_kafka_ready(k->bootstrap)) {
        cr_assert(waitpid(k->pid, &status, WNOHANG) == 0, "Kafka exited; see %s", log);
        cr_assert_lt(g_get_monotonic_time(), deadline, "Kafka did not start; see %s", log);
        g_usleep(200 * 1000);
    }
}

/* Creates a topic with the admin API and waits for it. */
static inline void real_kafka_create_topic(real_kafka *k, const char *topic, int partitions)
{
    rd_kafka_t *rk = raw_producer(k->bootstrap, NULL);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_TIMEOUT_MS);
    cr_assert_not_null(ev);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), 0, "create %s: %s", topic,
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

static inline void real_kafka_stop(real_kafka *k)
{
    int status;
    kill(k->pid, SIGTERM);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (waitpid(k->pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(k->pid, SIGKILL);
            waitpid(k->pid, &status, 0);
            break;
        }
        g_usleep(50 * 1000);
    }
    g_spawn_close_pid(k->pid);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", k->dir);
    cr_assert_eq(system(cmd), 0);
    g_free(k->dir);
}

#endif
