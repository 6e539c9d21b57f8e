/* Kafka restart into a backlog (issue 9, rate control), on a real broker: N messages (default
 * 1,000,000) wait in a 12-partition topic when a direct stream starts from the earliest offset
 * with maxRatePerPartition and backpressure on; each batch's records and processing time are
 * printed. What issue 9 asks: no batch takes the backlog whole, and once converged (the last
 * five batches) processing time stays under the batch interval. Prints figures, never
 * pass/fail. Usage: bench-kafka-backlog BROKERS [N] (EMBER_KAFKA_BENCH=bench-kafka-backlog
 * bench/run-kafka [N] starts Apache Kafka and runs it). */
#include <ember.h>
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTS 12
#define BATCH_MS 1000
#define RATE_PER_PARTITION 10000 /* messages/s: 120,000 per batch over 12 partitions */
#define MAX_BATCHES 120

typedef struct figures {
    GMutex lock;
    int n;
    int64_t records[MAX_BATCHES], processing[MAX_BATCHES], scheduling[MAX_BATCHES];
    int64_t total;
} figures;

static void on_completed(const em_batch_info *info, void *ud)
{
    figures *f = ud;
    g_mutex_lock(&f->lock);
    if (f->n < MAX_BATCHES) {
        f->records[f->n] = info->num_records;
        f->processing[f->n] = info->processing_delay;
        f->scheduling[f->n] = info->scheduling_delay;
        f->n++;
    }
    f->total += info->num_records;
    g_mutex_unlock(&f->lock);
}

static void produce_backlog(const char *brokers, int64_t n)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr)) {
        fprintf(stderr, "bench-kafka-backlog: %s\n", errstr);
        exit(1);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "bench-kafka-backlog: %s\n", errstr);
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) {
        char value[32];
        int len = snprintf(value, sizeof value, "m%" G_GINT64_FORMAT, i);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("backlog"),
                                 RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(value, (size_t)len),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 5);
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000))
        fprintf(stderr, "bench-kafka-backlog: flush timed out\n");
    rd_kafka_destroy(rk);
}

/* Some work per record, so that processing time means something: a sum over the value. */
static em_value weigh(em_value rec, void *ud)
{
    (void)ud;
    em_value v = em_val(rec);
    int64_t sum = 0;
    for (size_t i = 0; v.type == EM_T_STR && i < v.len; i++)
        sum += (unsigned char)v.as.s[i];
    return em_int(sum);
}

static bool collect(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    em_values *vals = em_rdd_collect(rdd, err);
    em_values_free(vals);
    return vals != NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-kafka-backlog BROKERS [N]\n");
        return 2;
    }
    const char *brokers = argv[1];
    int64_t n = argc > 2 ? atoll(argv[2]) : 1000000;
    double t0 = (double)g_get_monotonic_time() / 1e6;
    produce_backlog(brokers, n);
    printf("backlog: %" G_GINT64_FORMAT " messages produced in %.1f s\n", n,
           (double)g_get_monotonic_time() / 1e6 - t0);

    figures f = {0};
    g_mutex_init(&f.lock);
    em_ssc *ssc = em_ssc_new("local[2]", "kafka-backlog", (em_duration)BATCH_MS);
    em_dstream *ds =
        em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = brokers,
                                                     .group_id = "backlog",
                                                     .topics = "backlog",
                                                     .start = EM_KAFKA_EARLIEST,
                                                     .max_rate_per_partition = RATE_PER_PARTITION,
                                                     .backpressure = true,
                                                     .commit = EM_KAFKA_COMMIT_NONE});
    em_foreach_rdd(em_count(em_map(ds, weigh)), collect);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = on_completed}, &f);
    GError *err = NULL;
    if (!em_ssc_start(ssc, &err)) {
        fprintf(stderr, "bench-kafka-backlog: %s\n", err->message);
        return 1;
    }
    gint64 deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;
    for (;;) {
        g_mutex_lock(&f.lock);
        bool done = f.total >= n || f.n >= MAX_BATCHES;
        g_mutex_unlock(&f.lock);
        if (done || g_get_monotonic_time() > deadline)
            break;
        em_ssc_await_termination_or_timeout(ssc, 200, NULL);
    }
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    em_ssc_free(ssc);

    int64_t largest = 0, converged_max = 0;
    printf("batch  records  processing_ms  scheduling_ms\n");
    for (int i = 0; i < f.n; i++) {
        printf("%5d %8" G_GINT64_FORMAT " %14" G_GINT64_FORMAT " %14" G_GINT64_FORMAT "\n", i + 1,
               f.records[i], f.processing[i], f.scheduling[i]);
        largest = MAX(largest, f.records[i]);
        if (i >= f.n - 5)
            converged_max = MAX(converged_max, f.processing[i]);
    }
    printf("read %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " in %d batches\n", f.total, n, f.n);
    printf("largest batch: %" G_GINT64_FORMAT " records (%.1f%% of the backlog; target < 100%%)\n",
           largest, 100.0 * (double)largest / (double)n);
    printf("last 5 batches: processing <= %" G_GINT64_FORMAT " ms (target < the %d ms interval)\n",
           converged_max, BATCH_MS);
    return 0;
}
