/* bench-eventtime: the soak of the watermarked aggregation. A rate source (ROWS rows a second)
 * with a 1 minute watermark, counted per 10 s window, written in append mode to a foreachBatch
 * sink that only counts, runs BATCHES one-second batches on the manual clock as fast as they
 * process. Every REPORT batches it prints the state rows (the progress's numRowsTotal), the
 * state bytes, the rows written so far and the process RSS: with the watermark evicting the
 * windows it passes, the first two stay flat and so must the RSS.
 *
 *   bench-eventtime [BATCHES [ROWS [REPORT]]]   (defaults 10000, 100, 1000)
 */
#include <ember.h>

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char row[256];
    int64_t kb = -1;
    size_t len = strlen(key);
    while (f && fgets(row, sizeof row, f))
        if (strncmp(row, key, len) == 0 && row[len] == ':')
            kb = strtoll(row + len + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static bool count_rows(em_df *batch, int64_t batch_id, void *ud, GError **err)
{
    (void)batch_id;
    int64_t n = em_rdd_count(em_df_rdd(batch), err);
    if (n < 0)
        return false;
    *(int64_t *)ud += n;
    return true;
}

/* numRowsTotal and memoryUsedBytes of the last progress's first state operator. */
static void state_figures(em_query *q, int64_t *rows, int64_t *bytes)
{
    g_autofree char *json = em_query_last_progress(q);
    *rows = *bytes = -1;
    if (!json)
        return;
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, json, -1, NULL))
        return;
    JsonObject *p = json_node_get_object(json_parser_get_root(parser));
    JsonArray *ops = json_object_get_array_member(p, "stateOperators");
    if (!ops || json_array_get_length(ops) == 0)
        return;
    JsonObject *op = json_array_get_object_element(ops, 0);
    *rows = json_object_get_int_member(op, "numRowsTotal");
    *bytes = json_object_get_int_member(op, "memoryUsedBytes");
}

int main(int argc, char **argv)
{
    int64_t batches = argc > 1 ? strtoll(argv[1], NULL, 10) : 10000;
    int64_t rows = argc > 2 ? strtoll(argv[2], NULL, 10) : 100;
    int64_t report = argc > 3 ? strtoll(argv[3], NULL, 10) : 1000;
    if (batches <= 0 || rows <= 0 || report <= 0) {
        fprintf(stderr, "Usage: bench-eventtime [BATCHES [ROWS [REPORT]]]\n");
        return 2;
    }
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
                                  NULL);
    if (!ssc)
        return EXIT_FAILURE;
    GError *err = NULL;
    g_autoptr(em_df) rate = em_df_read_rate(ssc, rows, 2);
    g_autoptr(em_df) marked = em_df_with_watermark(rate, "timestamp", 60 * 1000, &err);
    g_autoptr(em_df) windowed =
        marked ? em_df_window(marked, "timestamp", 10 * 1000, 10 * 1000, &err) : NULL;
    const char *by[] = {"window"};
    g_autoptr(em_df) counts = windowed ? em_df_group_by_count(windowed, by, 1, &err) : NULL;
    int64_t written = 0;
    g_autoptr(em_query) q = counts ? em_query_start(counts,
                                                    &(em_query_opts){
                                                        .mode = EM_OUTPUT_APPEND,
                                                        .sink = EM_SINK_FOREACH_BATCH,
                                                        .foreach_batch = count_rows,
                                                        .ud = &written,
                                                    },
                                                    &err)
                                   : NULL;
    if (!q) {
        fprintf(stderr, "bench-eventtime: %s\n", err->message);
        return EXIT_FAILURE;
    }
    printf("%8s %10s %12s %12s %10s\n", "batch", "stateRows", "stateBytes", "written", "rssKB");
    gint64 start = g_get_monotonic_time();
    for (int64_t b = 1; b <= batches; b++) {
        em_time t = em_ssc_clock_time(ssc) + 1000;
        em_ssc_advance_clock(ssc, 1000);
        if (!em_ssc_wait_for_batch(ssc, t, 60000)) {
            fprintf(stderr, "bench-eventtime: batch at %lld ms did not end\n", (long long)t);
            return EXIT_FAILURE;
        }
        if (b % report == 0) {
            int64_t state_rows, state_bytes;
            state_figures(q, &state_rows, &state_bytes);
            printf("%8lld %10lld %12lld %12lld %10lld\n", (long long)b, (long long)state_rows,
                   (long long)state_bytes, (long long)written, (long long)status_kb("VmRSS"));
            fflush(stdout);
        }
    }
    double secs = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
    printf("%lld batches in %.1f s (%.2f ms a batch)\n", (long long)batches, secs,
           secs * 1000 / (double)batches);
    em_query_stop(q);
    em_ssc_free(ssc);
    return EXIT_SUCCESS;
}
