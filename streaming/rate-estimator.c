/* Spark's PIDRateEstimator (streaming): the backpressure controller behind
 * spark.streaming.backpressure.enabled. Each completed batch's processing rate is compared with
 * the rate last proposed; the scheduling delay stands for the error accumulated so far. */
#include "rate-estimator.h"

#include <glib.h>
#include <math.h>

struct em__rate_estimator {
    GMutex lock;
    double batch_interval; /* ms */
    double proportional, integral, derivative, min_rate;
    bool first_run;
    em_time latest_time; /* -1: none yet */
    double latest_rate;  /* records/s */
    double latest_error; /* records/s */
};

em__rate_estimator *em__pid_rate_estimator_new(em_duration batch_interval, double proportional,
                                               double integral, double derivative, double min_rate)
{
    const char *problem = batch_interval <= 0    ? "the batch interval must be > 0"
                          : !(proportional >= 0) ? "the proportional gain must be >= 0"
                          : !(integral >= 0)     ? "the integral gain must be >= 0"
                          : !(derivative >= 0)   ? "the derivative gain must be >= 0"
                          : !(min_rate > 0)      ? "the minimum rate must be > 0"
                                                 : NULL;
    if (problem) {
        g_critical("PIDRateEstimator: %s (batch interval %" G_GINT64_FORMAT
                   " ms, proportional %g, integral %g, derivative %g, min rate %g)",
                   problem, (gint64)batch_interval, proportional, integral, derivative, min_rate);
        return NULL;
    }
    em__rate_estimator *e = g_new0(em__rate_estimator, 1);
    g_mutex_init(&e->lock);
    e->batch_interval = (double)batch_interval;
    e->proportional = proportional;
    e->integral = integral;
    e->derivative = derivative;
    e->min_rate = min_rate;
    e->first_run = true;
    e->latest_time = -1;
    e->latest_rate = -1;
    e->latest_error = -1;
    return e;
}

double em__rate_estimator_compute(em__rate_estimator *e, em_time time, int64_t elements,
                                  int64_t processing_delay_ms, int64_t scheduling_delay_ms)
{
    double result = -1;
    g_mutex_lock(&e->lock);
    if (time > e->latest_time && elements > 0 && processing_delay_ms > 0) {
        /* s, close to the batch interval */
        double since_update = (double)(time - e->latest_time) / 1000;
        /* records/s */
        double processing_rate = (double)elements / (double)processing_delay_ms * 1000;
        /* The desired rate is the one proposed last time. */
        double error = e->latest_rate - processing_rate;
        /* A scheduling delay s means s * processing_rate records overflowed earlier batches;
         * spread over a batch interval, the rate that would have avoided them. */
        double historical_error =
            (double)scheduling_delay_ms * processing_rate / e->batch_interval;
        double d_error = (error - e->latest_error) / since_update; /* records/s² */
        double new_rate = fmax(e->latest_rate - e->proportional * error -
                                   e->integral * historical_error - e->derivative * d_error,
                               e->min_rate);
        e->latest_time = time;
        if (e->first_run) {
            e->latest_rate = processing_rate;
            e->latest_error = 0;
            e->first_run = false;
        } else {
            e->latest_rate = new_rate;
            e->latest_error = error;
            result = new_rate;
        }
    }
    g_mutex_unlock(&e->lock);
    return result;
}

void em__rate_estimator_free(em__rate_estimator *e)
{
    if (!e)
        return;
    g_mutex_clear(&e->lock);
    g_free(e);
}
