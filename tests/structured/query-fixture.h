/* A streaming query on the manual clock: lines pushed onto a queue stream one RDD per batch, a
 * DataFrame built over them, and a helper advancing the clock batch by batch. */
#ifndef EMBER_TESTS_QUERY_FIXTURE_H
#define EMBER_TESTS_QUERY_FIXTURE_H

#include "df-fixture.h"

typedef struct {
    em_ssc *ssc;
    em_rdd_queue *queue;
    em_df *lines;  /* "value string" over the queue */
    char *console; /* what the console sink printed (open_memstream) */
    size_t console_len;
    FILE *out;
} query_fixture;

/* A manual-clock ssc with a 1 s batch interval; batches[i] (lines separated by \n; NULL for an
 * empty batch) is what batch i + 1 reads. */
static inline void query_fixture_init(query_fixture *fx, const char *const *batches, size_t n)
{
    fx->ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                             .batch_interval = 1000,
                                             .manual_clock = true},
                              NULL);
    cr_assert_not_null(fx->ssc);
    fx->queue = em_rdd_queue_new();
    em_context *sc = em_ssc_context(fx->ssc);
    for (size_t i = 0; i < n; i++) {
        g_auto(GStrv) lines = batches[i] ? g_strsplit(batches[i], "\n", -1) : g_new0(char *, 1);
        size_t k = g_strv_length(lines);
        em_value *values = g_new(em_value, k ? k : 1);
        for (size_t j = 0; j < k; j++)
            values[j] = em_str(lines[j]);
        em_rdd *rdd = em_parallelize(sc, values, k, 2);
        em_rdd_queue_push(fx->queue, rdd);
        em_rdd_unref(rdd);
        g_free(values);
    }
    em_dstream *ds = em_queue_stream(fx->ssc, fx->queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    fx->lines = em_df_from_lines(ds);
    fx->out = open_memstream(&fx->console, &fx->console_len);
}

/* Runs batches 1..n (clock at n seconds), waiting for each. */
static inline void query_fixture_run(query_fixture *fx, int n)
{
    for (int i = 0; i < n; i++) {
        em_time t = em_ssc_clock_time(fx->ssc) + 1000;
        em_ssc_advance_clock(fx->ssc, 1000);
        cr_assert(em_ssc_wait_for_batch(fx->ssc, t, 60000), "batch at %lld ms did not end",
                  (long long)t);
    }
    fflush(fx->out);
}

static inline void query_fixture_fini(query_fixture *fx)
{
    em_ssc_free(fx->ssc);
    em_df_free(fx->lines);
    em_rdd_queue_free(fx->queue);
    fclose(fx->out);
    free(fx->console);
}

#endif
