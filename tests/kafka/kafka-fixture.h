/* Kafka test peers: ember-kafka-broker (librdkafka's mock cluster) as a real process on
 * 127.0.0.1, driven through its stdin; a raw librdkafka producer and consumer to write the
 * input and read the output; a manual-clock StreamingContext that logs each batch of a
 * direct stream; and a capture of the warnings the connector logs. */
#ifndef EMBER_TESTS_KAFKA_FIXTURE_H
#define EMBER_TESTS_KAFKA_FIXTURE_H

#include <criterion/criterion.h>
#include <glib.h>

#include "input-kafka-private.h"
#include "streaming-private.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KAFKA_TIMEOUT_MS 20000

/* ---- Warnings ---- */

static GString *kafka_warnings;
static GMutex kafka_warnings_lock;

static inline GLogWriterOutput kafka_warning_writer(GLogLevelFlags level, const GLogField *fields,
                                                    gsize n, gpointer ud)
{
    if (!(level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)))
        return g_log_writer_default(level, fields, n, ud);
    g_mutex_lock(&kafka_warnings_lock);
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_string_append_printf(kafka_warnings, "%s\n", (const char *)fields[i].value);
    g_mutex_unlock(&kafka_warnings_lock);
    return G_LOG_WRITER_HANDLED;
}

static inline void capture_warnings(void)
{
    kafka_warnings = g_string_new(NULL);
    g_log_set_writer_func(kafka_warning_writer, NULL, NULL);
}

/* Waits up to the timeout for a warning containing needle; false if none came. */
static inline bool wait_warning(const char *needle)
{
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    for (;;) {
        g_mutex_lock(&kafka_warnings_lock);
        bool found = strstr(kafka_warnings->str, needle) != NULL;
        g_mutex_unlock(&kafka_warnings_lock);
        if (found || g_get_monotonic_time() > deadline)
            return found;
        g_usleep(10000);
    }
}

static inline int fixture_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- The mock broker process ---- */

typedef struct mock_broker {
    GPid pid;
    int in, out;
    char bootstrap[256];
} mock_broker;

static inline bool fixture_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    while (n + 1 < size) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&p, 1, left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || read(fd, buf + n, 1) != 1)
            return false;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return true;
}

/* Starts ember-kafka-broker with the topics ("name:partitions", NULL-terminated). */
static inline mock_broker mock_broker_start(const char *const *topics)
{
    mock_broker b = {0};
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, EMBER_BUILD_ROOT "/examples/ember-kafka-broker");
    for (size_t i = 0; topics && topics[i]; i++) {
        g_ptr_array_add(argv, "--topic");
        g_ptr_array_add(argv, (char *)topics[i]);
    }
    g_ptr_array_add(argv, NULL);
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                       NULL, NULL, &b.pid, &b.in, &b.out, NULL, &err),
              "%s", err ? err->message : "");
    g_ptr_array_unref(argv);
    cr_assert(fixture_read_line(b.out, b.bootstrap, sizeof b.bootstrap, KAFKA_TIMEOUT_MS),
              "ember-kafka-broker printed no bootstrap servers");
    cr_assert(g_str_has_prefix(b.bootstrap, "127.0.0.1:"), "%s", b.bootstrap);
    return b;
}

/* Sends a command ("down 1", "up 1", "topic t:3") and asserts its "ok". */
static inline void mock_broker_command(mock_broker *b, const char *cmd)
{
    char line[256];
    g_autofree char *text = g_strdup_printf("%s\n", cmd);
    cr_assert_eq(write(b->in, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert(fixture_read_line(b->out, line, sizeof line, KAFKA_TIMEOUT_MS));
    cr_assert_str_eq(line, "ok", "%s: %s", cmd, line);
}

/* Closes its stdin (it exits then) and asserts that it exits with status 0. */
static inline void mock_broker_stop(mock_broker *b)
{
    close(b->in);
    int status = -1;
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    while (waitpid(b->pid, &status, WNOHANG) == 0 && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker status %d", status);
    close(b->out);
    g_spawn_close_pid(b->pid);
}

/* ---- A raw producer and consumer ---- */

static inline rd_kafka_t *raw_producer(const char *brokers, const char *const *params)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert(em__kafka_conf_set(conf, "bootstrap.servers", brokers, "test", NULL));
    cr_assert(em__kafka_conf_set_all(conf, params, "test", NULL));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    return rk;
}

/* Produces one message (key or value NULL for a null one) to topic's partition. */
static inline void produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                           const char *value)
{
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                          RD_KAFKA_V_END);
    cr_assert_eq(err, 0, "produce to %s: %s", topic, rd_kafka_err2str(err));
}

static inline void produce_flush(rd_kafka_t *rk)
{
    cr_assert_eq(rd_kafka_flush(rk, KAFKA_TIMEOUT_MS), 0, "flush timed out");
}

/* Produces values "<prefix><i>" for i in [from, to) to one partition, keys "k<i>", and flushes. */
static inline void produce_range(const char *brokers, const char *topic, int32_t partition,
                                 const char *prefix, int from, int to)
{
    rd_kafka_t *rk = raw_producer(brokers, NULL);
    for (int i = from; i < to; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "%s%d", prefix, i);
        produce(rk, topic, partition, k, v);
    }
    produce_flush(rk);
    rd_kafka_destroy(rk);
}

/* The group's committed offset of topic[partition] (-1001 for none). */
static inline int64_t committed_offset(const char *brokers, const char *group, const char *topic,
                                       int32_t partition)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert(em__kafka_conf_set(conf, "bootstrap.servers", brokers, "test", NULL));
    cr_assert(em__kafka_conf_set(conf, "group.id", group, "test", NULL));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, KAFKA_TIMEOUT_MS);
    cr_assert_eq(err, 0, "committed: %s", rd_kafka_err2str(err));
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

/* Reads topic's partitions [0, parts) from the beginning until n messages came (or the
 * timeout), as "key=value" lines sorted ("-" for null), with isolation as given
 * ("read_committed" or "read_uncommitted"). */
static inline char *consume_sorted(const char *brokers, const char *topic, int parts, int n,
                                   const char *isolation)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert(em__kafka_conf_set(conf, "bootstrap.servers", brokers, "test", NULL));
    cr_assert(em__kafka_conf_set(conf, "group.id", "test-reader", "test", NULL));
    cr_assert(em__kafka_conf_set(conf, "isolation.level", isolation, "test", NULL));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    while ((int)lines->len < n && g_get_monotonic_time() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err)
            g_ptr_array_add(lines, g_strdup_printf("%.*s=%.*s", m->key ? (int)m->key_len : 1,
                                                   m->key ? (char *)m->key : "-",
                                                   m->payload ? (int)m->len : 1,
                                                   m->payload ? (char *)m->payload : "-"));
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    g_ptr_array_add(lines, NULL);
    char **strv = (char **)g_ptr_array_free(lines, FALSE);
    size_t count = g_strv_length(strv);
    qsort(strv, count, sizeof *strv, fixture_strcmp);
    char *text = g_strjoinv(" ", strv);
    g_strfreev(strv);
    return text;
}

/* ---- A manual-clock StreamingContext logging each batch of a stream ---- */

#define MAX_BATCHES 64

typedef struct kafka_log {
    GMutex lock;
    char *text[MAX_BATCHES];   /* the batch's records, sorted */
    char *ranges[MAX_BATCHES]; /* "t[p]:from-until/count ..." */
    int parts[MAX_BATCHES];    /* RDD partitions */
    bool failed[MAX_BATCHES];
    char *failure[MAX_BATCHES];
    bool no_ranges; /* the stream is not a Kafka direct stream */
} kafka_log;

static inline bool kafka_log_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    kafka_log *l = ud;
    size_t n = 0;
    const em_kafka_offset_range *r = l->no_ranges ? NULL : em_kafka_offset_ranges(rdd, &n);
    GString *rs = g_string_new(NULL);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(rs,
                               "%s%s[%d]:%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                               "/%" G_GINT64_FORMAT,
                               i ? " " : "", r[i].topic, r[i].partition, r[i].from, r[i].until,
                               r[i].count);
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    int i = (int)(t / 1000) - 1;
    g_mutex_lock(&l->lock);
    l->text[i] = em_values_to_string(em_values_sort(vals));
    l->ranges[i] = g_string_free(rs, FALSE);
    l->parts[i] = em_rdd_num_partitions(rdd);
    g_mutex_unlock(&l->lock);
    em_values_free(vals);
    return true;
}

static inline void kafka_log_completed(const em_batch_info *info, void *ud)
{
    kafka_log *l = ud;
    int i = (int)(info->batch_time / 1000) - 1;
    g_mutex_lock(&l->lock);
    l->failed[i] = info->failed;
    l->failure[i] = g_strdup(info->failure);
    g_mutex_unlock(&l->lock);
}

static inline em_ssc *manual_ssc(void)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    return ssc;
}

static inline void kafka_log_attach(kafka_log *l, em_dstream *ds)
{
    g_mutex_init(&l->lock);
    em_foreach_rdd_full(ds, kafka_log_batch, l, NULL, "log");
    em_ssc_add_listener(em_dstream_ssc(ds), &(em_listener){.batch_completed = kafka_log_completed},
                        l);
}

static inline void kafka_log_clear(kafka_log *l)
{
    for (int i = 0; i < MAX_BATCHES; i++) {
        g_free(l->text[i]);
        g_free(l->ranges[i]);
        g_free(l->failure[i]);
    }
    g_mutex_clear(&l->lock);
}

/* Waits until ds has `buffered` messages fetched, then runs the batch at t (manual clock). */
static inline void kafka_run_batch(em_ssc *ssc, em_dstream *ds, int64_t buffered, em_time t)
{
    if (ds && buffered > 0)
        cr_assert(em__kafka_stream_wait_buffered(ds, buffered, KAFKA_TIMEOUT_MS),
                  "the stream did not fetch %" G_GINT64_FORMAT " messages; warnings: %s", buffered,
                  kafka_warnings ? kafka_warnings->str : "(not captured)");
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(ssc, t, KAFKA_TIMEOUT_MS), "batch %" G_GINT64_FORMAT,
              (gint64)t);
}

/* Waits until ds holds n partitions (its group's rebalance is done). */
static inline void wait_assigned(em_dstream *ds, int64_t n)
{
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    em_kafka_stream_stats s;
    while (em_kafka_stream_stats_get(ds, &s) && s.assigned != n &&
           g_get_monotonic_time() < deadline)
        g_usleep(10000);
    cr_assert_eq(s.assigned, n, "assigned %" G_GINT64_FORMAT " partitions", s.assigned);
}

static inline void ssc_start(em_ssc *ssc)
{
    GError *err = NULL;
    cr_assert(em_ssc_start(ssc, &err), "%s", err ? err->message : "");
}

#endif
