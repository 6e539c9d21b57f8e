/* Kafka benchmark, on a real broker: consuming N 100-byte messages from a 12-partition topic
 * and counting them per batch with the direct stream, against a raw librdkafka consumer
 * reading the same topic in the same run; and writing N records with em_kafka_save against a
 * raw idempotent producer. Prints figures, never pass/fail. Usage: bench-kafka BROKERS [N]
 * (bench/run-kafka starts Apache Kafka and runs it). */
#include <ember.h>
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTS 12

static double now_s(void) { return (double)g_get_monotonic_time() / 1e6; }

static rd_kafka_t *client(rd_kafka_type_t type, const char *brokers, const char *const *params)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    for (size_t i = 0; params && params[i]; i += 2)
        if (rd_kafka_conf_set(conf, params[i], params[i + 1], errstr, sizeof errstr)) {
            fprintf(stderr, "bench-kafka: %s\n", errstr);
            exit(1);
        }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "bench-kafka: %s\n", errstr);
        exit(1);
    }
    return rk;
}

/* The raw idempotent producer: n 100-byte messages round-robin over the partitions; msgs/s. */
static double raw_produce(const char *brokers, const char *topic, int64_t n)
{
    rd_kafka_t *rk =
        client(RD_KAFKA_PRODUCER, brokers,
               (const char *[]){"enable.idempotence", "true", "linger.ms", "5", NULL});
    char value[100];
    memset(value, 'v', sizeof value);
    double t0 = now_s();
    for (int64_t i = 0; i < n; i++) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(value, sizeof value),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 5);
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000))
        fprintf(stderr, "bench-kafka: raw producer: flush timed out\n");
    double rate = (double)n / (now_s() - t0);
    rd_kafka_destroy(rk);
    return rate;
}

/* The raw consumer: assigns the partitions from the beginning and reads n messages; msgs/s. */
static double raw_consume(const char *brokers, const char *topic, int64_t n)
{
    rd_kafka_t *rk =
        client(RD_KAFKA_CONSUMER, brokers, (const char *[]){"group.id", "bench-raw", NULL});
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    double t0 = now_s();
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t got = 0, bytes = 0;
    while (got < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (m && !m->err)
            got++, bytes += (int64_t)m->len;
        if (m)
            rd_kafka_message_destroy(m);
    }
    double rate = (double)n / (now_s() - t0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rate;
}

typedef struct {
    GMutex lock;
    int64_t total, n;
    double done_at;
} counter;

/* Counts each batch (Spark's messages.count per batch) and stops once all n came. */
static bool count_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t;
    counter *c = ud;
    int64_t k = em_rdd_count(rdd, err);
    if (k < 0)
        return false;
    g_mutex_lock(&c->lock);
    c->total += k;
    if (c->total >= c->n && c->done_at == 0)
        c->done_at = now_s();
    g_mutex_unlock(&c->lock);
    return true;
}

static double ember_consume(const char *brokers, const char *topic, int64_t n)
{
    em_ssc *ssc = em_ssc_new("local[2]", "BenchKafka", EM_MILLIS(200));
    em_kafka_tp assign[PARTS];
    for (int p = 0; p < PARTS; p++)
        assign[p] = (em_kafka_tp){topic, p, 0};
    em_dstream *ds = em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = brokers,
                                                                  .group_id = "bench-ember",
                                                                  .assign = assign,
                                                                  .n_assign = PARTS,
                                                                  .commit = EM_KAFKA_COMMIT_NONE});
    counter c = {.n = n};
    g_mutex_init(&c.lock);
    em_foreach_rdd_full(ds, count_batch, &c, NULL, "count");
    double t0 = now_s();
    em_ssc_start(ssc, NULL);
    for (;;) {
        g_mutex_lock(&c.lock);
        bool done = c.done_at != 0;
        g_mutex_unlock(&c.lock);
        if (done)
            break;
        g_usleep(10000);
    }
    double rate = (double)n / (c.done_at - t0);
    em_ssc_free(ssc);
    return rate;
}

/* em_kafka_save of one batch of n (key, 100-byte value) records; msgs/s over that batch. */
typedef struct {
    GMutex lock;
    double start, end;
} batch_times;

static void on_completed(const em_batch_info *info, void *ud)
{
    batch_times *bt = ud;
    if (info->num_records == 0 && info->processing_delay < 0)
        return;
    g_mutex_lock(&bt->lock);
    if (bt->end == 0) {
        bt->start = (double)info->processing_start / 1000.0;
        bt->end = (double)info->processing_end / 1000.0;
    }
    g_mutex_unlock(&bt->lock);
}

static double ember_produce(const char *brokers, const char *topic, int64_t n)
{
    em_ssc *ssc = em_ssc_new("local[2]", "BenchKafkaSink", EM_SECONDS(1));
    char value[101];
    memset(value, 'v', 100);
    value[100] = '\0';
    em_value *recs = g_new(em_value, n);
    em_value v = em_strn(value, 100);
    for (int64_t i = 0; i < n; i++)
        recs[i] = v;
    em_rdd *rdd = em_parallelize(em_ssc_context(ssc), recs, (size_t)n, PARTS);
    g_free(recs);
    em_rdd_queue *q = em_rdd_queue_new();
    em_rdd_queue_push(q, rdd);
    em_rdd_unref(rdd);
    em_dstream *in = em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
    GError *err = NULL;
    if (!em_kafka_save(in, topic,
                       &(em_kafka_save_opts){.brokers = brokers,
                                             .params = (const char *[]){"linger.ms", "5", NULL}},
                       &err)) {
        fprintf(stderr, "bench-kafka: %s\n", err->message);
        exit(1);
    }
    batch_times bt = {0};
    g_mutex_init(&bt.lock);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = on_completed}, &bt);
    em_ssc_start(ssc, NULL);
    for (;;) {
        g_mutex_lock(&bt.lock);
        bool done = bt.end != 0;
        g_mutex_unlock(&bt.lock);
        if (done)
            break;
        g_usleep(10000);
    }
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    return (double)n / (bt.end - bt.start);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "Usage: bench-kafka BROKERS [MESSAGES]\n");
        return 2;
    }
    int64_t n = argc > 2 ? atoll(argv[2]) : 1000000;
    double raw_p = raw_produce(argv[1], "bench-in", n);
    printf("raw_producer msgs_per_s=%.0f\n", raw_p);
    double raw_c = raw_consume(argv[1], "bench-in", n);
    printf("raw_consumer msgs_per_s=%.0f\n", raw_c);
    double em_c = ember_consume(argv[1], "bench-in", n);
    printf("ember_direct_stream msgs_per_s=%.0f ratio=%.2f\n", em_c, em_c / raw_c);
    double em_p = ember_produce(argv[1], "bench-out", n);
    printf("ember_sink msgs_per_s=%.0f ratio=%.2f\n", em_p, em_p / raw_p);
    return 0;
}
