/* Two streaming tables on one manual-clock ssc for the stream-stream join tests: Spark's
 * guide's impressions (adId, impressionTime) and clicks (clickAdId, clickTime), each read as
 * CSV lines from a queue stream, one RDD (a batch's lines, NULL for none) per batch. */
#ifndef EMBER_TESTS_JOIN_FIXTURE_H
#define EMBER_TESTS_JOIN_FIXTURE_H

#include "df-fixture.h"

typedef struct {
    em_ssc *ssc;
    em_rdd_queue *queue[2];
    em_df *impressions, *clicks; /* parsed, without watermarks */
    char *console;
    size_t console_len;
    FILE *out;
} join_fixture;

static inline void join_fixture_push(join_fixture *fx, int side, const char *batch)
{
    em_context *sc = em_ssc_context(fx->ssc);
    g_auto(GStrv) lines = batch ? g_strsplit(batch, "\n", -1) : g_new0(char *, 1);
    size_t k = g_strv_length(lines);
    em_value *values = g_new(em_value, k ? k : 1);
    for (size_t j = 0; j < k; j++)
        values[j] = em_str(lines[j]);
    em_rdd *rdd = em_parallelize(sc, values, k, 2);
    em_rdd_queue_push(fx->queue[side], rdd);
    em_rdd_unref(rdd);
    g_free(values);
}

/* left[i] and right[i] are what batch i + 1 reads of each side. */
static inline void join_fixture_init(join_fixture *fx, const char *const *left,
                                     const char *const *right, size_t n)
{
    fx->ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                             .batch_interval = 1000,
                                             .manual_clock = true},
                              NULL);
    cr_assert_not_null(fx->ssc);
    const char *ddl[2] = {"adId long, impressionTime timestamp",
                          "clickAdId long, clickTime timestamp"};
    em_df *tables[2];
    for (int s = 0; s < 2; s++) {
        fx->queue[s] = em_rdd_queue_new();
        for (size_t i = 0; i < n; i++)
            join_fixture_push(fx, s, s == 0 ? left[i] : right[i]);
        em_dstream *ds = em_queue_stream(fx->ssc, fx->queue[s], EM_QUEUE_ONE_AT_A_TIME, NULL);
        g_autoptr(em_df) lines = em_df_from_lines(ds);
        g_autoptr(em_schema) schema = schema_of(ddl[s]);
        GError *err = NULL;
        tables[s] = ok(em_df_from_csv(lines, "value", schema, NULL, &err), err);
    }
    fx->impressions = tables[0];
    fx->clicks = tables[1];
    fx->out = open_memstream(&fx->console, &fx->console_len);
}

/* The guide's watermarks: impressions 2 hours, clicks 3 hours. */
static inline em_df *join_fixture_marked(join_fixture *fx, int side)
{
    GError *err = NULL;
    return side == 0
               ? ok(em_df_with_watermark(fx->impressions, "impressionTime", 2 * 3600 * 1000, &err),
                    err)
               : ok(em_df_with_watermark(fx->clicks, "clickTime", 3 * 3600 * 1000, &err), err);
}

/* Runs batches 1..n (clock at n seconds), waiting for each. */
static inline void join_fixture_run(join_fixture *fx, int n)
{
    for (int i = 0; i < n; i++) {
        em_time t = em_ssc_clock_time(fx->ssc) + 1000;
        em_ssc_advance_clock(fx->ssc, 1000);
        cr_assert(em_ssc_wait_for_batch(fx->ssc, t, 60000), "batch at %lld ms did not end",
                  (long long)t);
    }
    fflush(fx->out);
}

static inline void join_fixture_fini(join_fixture *fx)
{
    em_ssc_free(fx->ssc);
    em_df_free(fx->impressions);
    em_df_free(fx->clicks);
    for (int s = 0; s < 2; s++)
        em_rdd_queue_free(fx->queue[s]);
    fclose(fx->out);
    free(fx->console);
}

#endif
