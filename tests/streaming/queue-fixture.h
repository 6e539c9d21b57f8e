/* A manual-clock StreamingContext (1 s batches) over a queue stream serving batches[i] (text for
 * em_parallelize_text, 2 slices) at (i + 1) s: the input most streaming tests start from. */
#ifndef EMBER_TESTS_QUEUE_FIXTURE_H
#define EMBER_TESTS_QUEUE_FIXTURE_H

#include <criterion/criterion.h>

#include "streaming-private.h"

typedef struct {
    em_ssc *ssc;
    em_rdd_queue *queue;
    em_dstream *input;
} queue_fixture;

static inline queue_fixture queue_fixture_new(const char *const *batches, size_t n)
{
    queue_fixture f;
    f.ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                           .batch_interval = EM_SECONDS(1),
                                           .manual_clock = true},
                            NULL);
    cr_assert_not_null(f.ssc);
    f.queue = em_rdd_queue_new();
    for (size_t i = 0; i < n; i++) {
        g_autoptr(em_rdd) rdd = em_parallelize_text(em_ssc_context(f.ssc), batches[i], 2, NULL);
        em_rdd_queue_push(f.queue, rdd);
    }
    f.input = em_queue_stream(f.ssc, f.queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    return f;
}

static inline void queue_fixture_free(queue_fixture *f)
{
    em_ssc_free(f->ssc);
    em_rdd_queue_free(f->queue);
}

/* Advances the clock one batch and waits for the batch at t. */
static inline void run_batch(em_ssc *ssc, em_time t)
{
    em_ssc_advance_clock(ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(ssc, t, 10000), "batch %" G_GINT64_FORMAT, (gint64)t);
}

/* Runs the batches at 1 s .. n s. */
static inline void run_batches(em_ssc *ssc, int n)
{
    for (int i = 1; i <= n; i++)
        run_batch(ssc, EM_SECONDS(i));
}

/* An output operation that does nothing: a stream needs one to be computed. */
static inline bool ignore_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)t, (void)ud, (void)err;
    return true;
}

/* What an output stream gave each batch (its records sorted, "[...]") and which batches failed,
 * batch i at (i + 1) s. Add it with batch_log_attach(). */
typedef struct {
    GMutex lock;
    char *text[16];
    bool failed[16];
} batch_log;

static inline bool log_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    batch_log *l = ud;
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    g_mutex_lock(&l->lock);
    l->text[t / 1000 - 1] = em_values_to_string(em_values_sort(vals));
    g_mutex_unlock(&l->lock);
    em_values_free(vals);
    return true;
}

static inline void log_batch_failure(const em_batch_info *info, void *ud)
{
    batch_log *l = ud;
    g_mutex_lock(&l->lock);
    l->failed[info->batch_time / 1000 - 1] = info->failed;
    g_mutex_unlock(&l->lock);
}

static inline void batch_log_attach(batch_log *l, em_dstream *ds)
{
    g_mutex_init(&l->lock);
    em_foreach_rdd_full(ds, log_batch, l, NULL, "log");
    em_ssc_add_listener(em_dstream_ssc(ds), &(em_listener){.batch_completed = log_batch_failure},
                        l);
}

/* Checks batches 1..n: failed exactly where want[i] is NULL, else the records want[i]. */
static inline void batch_log_check(batch_log *l, const char *const *want, int n)
{
    for (int i = 0; i < n; i++) {
        cr_assert_eq(l->failed[i], want[i] == NULL, "batch %d failed: %d", i + 1, l->failed[i]);
        if (want[i])
            cr_assert_str_eq(l->text[i], want[i], "batch %d: %s", i + 1, l->text[i]);
        else
            cr_assert_null(l->text[i]);
    }
}

static inline void batch_log_clear(batch_log *l)
{
    for (size_t i = 0; i < G_N_ELEMENTS(l->text); i++)
        g_free(l->text[i]);
    g_mutex_clear(&l->lock);
}

#endif
