/* The job generator (Spark's JobGenerator and RecurringTimer): a thread that only watches the
 * clock, system or manual. At each batch time it has the inputs seal what they received (no
 * user code) and queues the batch for the job scheduler (streaming). */
#include "streaming-private.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

/* A thread asleep across a whole batch interval wakes well after its deadline: the kernel's
 * default timer slack (50 us) and an idle CPU's (or a virtual CPU's) wake-up, 100 us and more
 * here. So the generator wakes this long before the batch time, and sleeps the rest, a short
 * sleep that lands within tens of microseconds: one more wake-up per batch, no spinning. */
#define EARLY_WAKE_US 100

static void queue(em_ssc *ssc, em_time t, bool stop)
{
    em_queued_batch *b = g_new(em_queued_batch, 1);
    *b = (em_queued_batch){t, em__now_ms(), stop};
    g_async_queue_push(ssc->batches, b);
}

void em__job_generator_generate(em_ssc *ssc, em_time t)
{
    em__graph_seal_inputs(ssc, t);
    queue(ssc, t, false);
}

static gpointer generator_main(gpointer data)
{
    em_ssc *ssc = data;
#ifdef PR_SET_TIMERSLACK
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* this thread's timers: 1 ns of slack */
#endif
    g_mutex_lock(&ssc->lock);
    for (;;) {
        em_time t = ssc->next_batch;
        /* Wait for the clock to reach t, or for a stop. */
        while (!ssc->stopping) {
            if (ssc->manual) {
                if (ssc->manual_now >= t)
                    break;
                g_cond_wait(&ssc->cond, &ssc->lock);
                continue;
            }
            /* In microseconds: a deadline rounded to whole milliseconds starts batches up to a
             * millisecond late. */
            gint64 left_us = t * 1000 - g_get_real_time();
            if (left_us <= 0)
                break;
            if (left_us > EARLY_WAKE_US)
                left_us -= EARLY_WAKE_US;
            g_cond_wait_until(&ssc->cond, &ssc->lock, g_get_monotonic_time() + left_us);
        }
        if (ssc->stopping)
            break;
        ssc->next_batch = t + ssc->batch;
        g_mutex_unlock(&ssc->lock);
        em__job_generator_generate(ssc, t);
        g_mutex_lock(&ssc->lock);
    }
    bool graceful = ssc->graceful;
    g_mutex_unlock(&ssc->lock);
    /* A graceful stop: receivers are stopped already; give every block still waiting a batch,
     * at the next batch times, without waiting for the clock. */
    while (graceful && em__graph_inputs_pending(ssc)) {
        em_time t = ssc->next_batch;
        ssc->next_batch = t + ssc->batch;
        em__job_generator_generate(ssc, t);
    }
    queue(ssc, 0, true);
    return NULL;
}

void em__job_generator_start(em_ssc *ssc, em_time first)
{
    g_mutex_lock(&ssc->lock);
    ssc->next_batch = first;
    g_mutex_unlock(&ssc->lock);
    GThread *generator = g_thread_new("em-generator", generator_main, ssc);
    g_mutex_lock(&ssc->lock);
    ssc->generator = generator;
    g_cond_broadcast(&ssc->cond); /* receivers wait for the threads to call on_start */
    g_mutex_unlock(&ssc->lock);
}

void em__job_generator_stop(em_ssc *ssc)
{
    g_thread_join(ssc->generator);
    g_mutex_lock(&ssc->lock);
    ssc->generator = NULL; /* joined */
    g_mutex_unlock(&ssc->lock);
}

/* ---- The clock ---- */

int64_t em__now_ms(void) { return g_get_real_time() / 1000; }

em_time em_ssc_clock_time(const em_ssc *ssc)
{
    if (ssc->manual) {
        g_mutex_lock((GMutex *)&ssc->lock);
        em_time t = ssc->manual_now;
        g_mutex_unlock((GMutex *)&ssc->lock);
        return t;
    }
    return em__now_ms();
}

void em_ssc_advance_clock(em_ssc *ssc, em_duration d)
{
    if (!ssc->manual) {
        g_critical("em_ssc_advance_clock: this StreamingContext runs on the system clock");
        return;
    }
    g_mutex_lock(&ssc->lock);
    ssc->manual_now += d;
    g_cond_broadcast(&ssc->cond);
    g_mutex_unlock(&ssc->lock);
}

em_time em__job_generator_first_batch(em_time now, em_duration batch)
{
    /* Spark's RecurringTimer: the next multiple of the interval strictly after now, rounding
     * down (not toward zero) so that negative clocks work. */
    em_time floor = now / batch;
    if (now % batch != 0 && now < 0)
        floor--;
    return (floor + 1) * batch;
}
