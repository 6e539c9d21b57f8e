/* bench-ui: does the page slow batches down? The same workload (1 s of numbers a batch, mapped
 * and reduced by key, on local[2]) runs with the page on and nobody polling it, and with a
 * poller thread asking every endpoint 10 times a second; runs alternate to spread the machine's
 * own noise. Prints the batches' median and mean processing times and the polled / unpolled
 * ratio. An application of the public library (<ember.h> only); figures, never pass/fail.
 *
 *   bench-ui [BATCHES_PER_RUN] [RUNS_EACH] [RECORDS_PER_BATCH]   (default 16 3 400000) */
#include <ember.h>

#include <gio/gio.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERVAL_MS 500

static em_value mod_pair(em_value x, void *ud)
{
    (void)ud;
    return em_pair(em_int(em_as_int(x) % 1000), em_int(1));
}

static bool count_it(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    return em_rdd_count(rdd, err) >= 0;
}

typedef struct {
    int port;
    gint stop;
    int64_t requests, failures;
} poller;

/* One GET over a fresh connection; false when it did not get a 200. */
static bool get(int port, const char *path)
{
    GSocketClient *client = g_socket_client_new();
    GSocketConnection *conn =
        g_socket_client_connect_to_host(client, "127.0.0.1", (guint16)port, NULL, NULL);
    g_object_unref(client);
    if (!conn)
        return false;
    char *req =
        g_strdup_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    bool ok = g_output_stream_write_all(out, req, strlen(req), NULL, NULL, NULL);
    g_free(req);
    char buf[16384], head[16] = {0};
    gssize n, total = 0;
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    while (ok && (n = g_input_stream_read(in, buf, sizeof buf, NULL, NULL)) > 0) {
        if (total == 0)
            memcpy(head, buf, MIN((gsize)n, sizeof head - 1));
        total += n;
    }
    g_object_unref(conn);
    return ok && strncmp(head + 9, "200", 3) == 0;
}

/* Every endpoint ten times a second: one round of all of them every 100 ms. */
static gpointer poll_main(gpointer data)
{
    poller *p = data;
    const char *paths[] = {"/streaming",
                           "/streaming/graph",
                           "/streaming/batch?id=%s",
                           "/api/v1/streaming/statistics",
                           "/api/v1/streaming/batches",
                           "/api/v1/streaming/batches/%s",
                           "/api/v1/streaming/receivers",
                           "/metrics"};
    while (!g_atomic_int_get(&p->stop)) {
        gint64 round = g_get_monotonic_time();
        /* A batch time that exists: the newest, or 0 (a 404 that still costs a lookup). */
        char time_text[32];
        g_snprintf(time_text, sizeof time_text, "%" G_GINT64_FORMAT,
                   (gint64)(round / 1000 / INTERVAL_MS * INTERVAL_MS));
        for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
            char *path = g_strdup_printf(paths[i], time_text);
            bool ok = get(p->port, path);
            p->requests++;
            p->failures += !ok && !strchr(paths[i], '%');
            g_free(path);
        }
        gint64 left = round + 100000 - g_get_monotonic_time();
        if (left > 0)
            g_usleep((gulong)left);
    }
    return NULL;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* One run: batches batches; appends their processing times (ms) to times. */
static void run(int batches, int records, bool polled, GArray *times, poller *stats)
{
    GError *err = NULL;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "bench-ui",
                                                 .batch_interval = INTERVAL_MS,
                                                 .ui_address = "127.0.0.1:0"},
                                  &err);
    if (!ssc) {
        fprintf(stderr, "bench-ui: %s\n", err->message);
        exit(1);
    }
    em_value *values = g_new(em_value, records);
    for (int i = 0; i < records; i++)
        values[i] = em_int(i);
    em_rdd *rdd = em_parallelize(em_ssc_context(ssc), values, records, 4);
    g_free(values);
    em_rdd_queue *queue = em_rdd_queue_new();
    for (int i = 0; i < batches + 2; i++)
        em_rdd_queue_push(queue, rdd);
    em_rdd_unref(rdd);
    em_dstream *counts =
        em_reduce_by_key(em_map(em_queue_stream(ssc, queue, true, NULL), mod_pair), em_sum);
    em_foreach_rdd(counts, count_it);
    em_ssc_stop_after_batches(ssc, batches);
    poller p = {.port = em_ssc_ui_port(ssc)};
    GThread *thread = polled ? g_thread_new("poller", poll_main, &p) : NULL;
    if (!em_ssc_start(ssc, &err) || !em_ssc_await_termination(ssc, &err)) {
        fprintf(stderr, "bench-ui: %s\n", err->message);
        exit(1);
    }
    if (thread) {
        g_atomic_int_set(&p.stop, 1);
        g_thread_join(thread);
        stats->requests += p.requests;
        stats->failures += p.failures;
    }
    GPtrArray *recent = em_ssc_recent_progress(ssc, batches);
    /* The first batch warms caches and the pool: left out of both. */
    for (guint i = 1; i < recent->len; i++) {
        int64_t ms = ((em_batch_progress *)recent->pdata[i])->processing_delay;
        g_array_append_val(times, ms);
    }
    g_ptr_array_unref(recent);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

static void summary(const char *name, GArray *times, double *median)
{
    g_array_sort(times, compare_i64);
    double sum = 0;
    for (guint i = 0; i < times->len; i++)
        sum += (double)g_array_index(times, int64_t, i);
    *median = (double)g_array_index(times, int64_t, times->len / 2);
    printf("%s batches=%u proc_ms_median=%.0f proc_ms_mean=%.1f proc_ms_max=%" PRId64 "\n", name,
           times->len, *median, sum / times->len, g_array_index(times, int64_t, times->len - 1));
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 16;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    int records = argc > 3 ? atoi(argv[3]) : 400000;
    em_set_log_level("ERROR");
    GArray *quiet = g_array_new(FALSE, FALSE, sizeof(int64_t));
    GArray *polled = g_array_new(FALSE, FALSE, sizeof(int64_t));
    poller stats = {0};
    for (int r = 0; r < runs; r++) {
        run(batches, records, false, quiet, &stats);
        run(batches, records, true, polled, &stats);
    }
    double m_quiet, m_polled;
    summary("unpolled", quiet, &m_quiet);
    summary("polled", polled, &m_polled);
    printf("requests=%" PRId64 " failed=%" PRId64 " ratio_polled_unpolled_median=%.3f\n",
           stats.requests, stats.failures, m_polled / m_quiet);
    g_array_unref(quiet);
    g_array_unref(polled);
    return 0;
}
