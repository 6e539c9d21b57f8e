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
    f.input = em_queue_stream(f.ssc, f.queue, true, NULL);
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

#endif
