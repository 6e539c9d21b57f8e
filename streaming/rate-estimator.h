/* Private to libember (streaming, connectors and their tests): Spark's PIDRateEstimator, the
 * backpressure controller. Fed each completed batch's figures, it proposes the rate (records/s)
 * the inputs should be held to next; receivers and the Kafka direct stream share it. */
#ifndef EMBER_RATE_ESTIMATOR_H
#define EMBER_RATE_ESTIMATOR_H

#include <ember.h>
#include <stdint.h>

typedef struct em__rate_estimator em__rate_estimator;

/* A PID estimator for batches every batch_interval ms (Spark's defaults: proportional 1.0,
 * integral 0.2, derivative 0.0, min_rate 100). The caller owns it (em__rate_estimator_free).
 * Invalid arguments (interval <= 0, a negative gain, min_rate <= 0) log a critical naming the
 * argument and return NULL, where Spark throws IllegalArgumentException. */
em__rate_estimator *em__pid_rate_estimator_new(em_duration batch_interval, double proportional,
                                               double integral, double derivative,
                                               double min_rate);

/* Feeds batch `time`'s figures (its record count, processing and scheduling delays in ms) and
 * returns the new rate in records/s, never below min_rate, or a negative value for "no new
 * rate" (Spark's None): the first valid batch only records its processing rate, and a batch not
 * later than the last one used, or with no records or no processing delay, is skipped. Thread
 * safe. */
double em__rate_estimator_compute(em__rate_estimator *e, em_time time, int64_t elements,
                                  int64_t processing_delay_ms, int64_t scheduling_delay_ms);

/* Frees e; NULL is a no-op. */
void em__rate_estimator_free(em__rate_estimator *e);

#endif
