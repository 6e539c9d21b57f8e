/* Spark's PIDRateEstimatorSuite, ported: range checks, the first-batch and invalid-input rules,
 * the minimum rate, and following the processing speed. */
#include "criticals.h"
#include "rate-estimator.h"

#include <criterion/criterion.h>

/* Spark's createDefaultEstimator: 20 ms batches, proportional 1, no integral or derivative. */
static em__rate_estimator *default_estimator(void)
{
    return em__pid_rate_estimator_new(20, 1, 0, 0, 10);
}

Test(rate_estimator, rejects_out_of_range_arguments)
{
    capture_criticals();
    cr_assert_null(em__pid_rate_estimator_new(0, 1, 2, 3, 10));
    assert_critical("batch interval must be > 0");
    cr_assert_null(em__pid_rate_estimator_new(100, -1, 2, 3, 10));
    assert_critical("proportional gain must be >= 0");
    cr_assert_null(em__pid_rate_estimator_new(100, 0, -1, 3, 10));
    assert_critical("integral gain must be >= 0");
    cr_assert_null(em__pid_rate_estimator_new(100, 0, 0, -1, 10));
    assert_critical("derivative gain must be >= 0");
    cr_assert_null(em__pid_rate_estimator_new(100, 0, 0, 0, 0));
    assert_critical("minimum rate must be > 0");
    cr_assert_null(em__pid_rate_estimator_new(100, 0, 0, 0, -10));
    assert_critical("minimum rate must be > 0");
}

Test(rate_estimator, first_estimate_is_none)
{
    em__rate_estimator *p = default_estimator();
    cr_assert_lt(em__rate_estimator_compute(p, 0, 10, 10, 0), 0);
    em__rate_estimator_free(p);
}

Test(rate_estimator, second_estimate_is_the_processing_rate)
{
    em__rate_estimator *p = default_estimator();
    em__rate_estimator_compute(p, 0, 10, 10, 0);
    cr_assert_eq(em__rate_estimator_compute(p, 10, 10, 10, 0), 1000.0); /* 1000 records/s */
    em__rate_estimator_free(p);
}

Test(rate_estimator, no_estimate_without_time_difference)
{
    em__rate_estimator *p = default_estimator();
    em__rate_estimator_compute(p, 0, 10, 10, 0);
    cr_assert_geq(em__rate_estimator_compute(p, 10, 10, 10, 0), 0);
    cr_assert_lt(em__rate_estimator_compute(p, 10, 10, 10, 0), 0);
    cr_assert_lt(em__rate_estimator_compute(p, 5, 10, 10, 0), 0);
    em__rate_estimator_free(p);
}

Test(rate_estimator, no_estimate_without_records)
{
    em__rate_estimator *p = default_estimator();
    em__rate_estimator_compute(p, 0, 10, 10, 0);
    cr_assert_lt(em__rate_estimator_compute(p, 10, 0, 10, 0), 0);
    cr_assert_lt(em__rate_estimator_compute(p, 20, -10, 10, 0), 0);
    em__rate_estimator_free(p);
}

Test(rate_estimator, no_estimate_without_processing_delay)
{
    em__rate_estimator *p = default_estimator();
    em__rate_estimator_compute(p, 0, 10, 10, 0);
    cr_assert_lt(em__rate_estimator_compute(p, 10, 10, 0, 0), 0);
    cr_assert_lt(em__rate_estimator_compute(p, 20, 10, -10, 0), 0);
    em__rate_estimator_free(p);
}

/* Skipped batches do not count as the first run: the first valid one does. */
Test(rate_estimator, first_valid_batch_is_the_first_run)
{
    em__rate_estimator *p = default_estimator();
    cr_assert_lt(em__rate_estimator_compute(p, 0, 0, 10, 0), 0);
    cr_assert_lt(em__rate_estimator_compute(p, 20, 10, 10, 0), 0);
    cr_assert_eq(em__rate_estimator_compute(p, 40, 20, 10, 0), 2000.0);
    em__rate_estimator_free(p);
}

Test(rate_estimator, never_below_the_min_rate)
{
    /* One batch every 20 ms, 1 record in 20 ms each, a growing backlog. */
    em__rate_estimator *p = em__pid_rate_estimator_new(20, 1, 1, 0, 5);
    for (int i = 0; i < 50; i++) {
        double rate = em__rate_estimator_compute(p, i * 20, 1, 20, 100);
        if (i == 0)
            cr_assert_lt(rate, 0);
        else
            cr_assert_eq(rate, 5.0, "batch %d: %g", i, rate);
    }
    em__rate_estimator_free(p);
}

Test(rate_estimator, follows_increasing_processing_speed_without_accumulated_error)
{
    em__rate_estimator *p = em__pid_rate_estimator_new(20, 1, 1, 0, 10);
    for (int i = 0; i < 50; i++) {
        double rate = em__rate_estimator_compute(p, i * 20, (i + 1) * 20, 20, 0);
        if (i == 0)
            cr_assert_lt(rate, 0);
        else
            cr_assert_eq(rate, (i + 1) * 1000.0, "batch %d: %g", i, rate);
    }
    em__rate_estimator_free(p);
}

Test(rate_estimator, follows_decreasing_processing_speed_without_accumulated_error)
{
    em__rate_estimator *p = em__pid_rate_estimator_new(20, 1, 1, 0, 10);
    for (int i = 0; i < 50; i++) {
        double rate = em__rate_estimator_compute(p, i * 20, (50 - i) * 20, 20, 0);
        if (i == 0)
            cr_assert_lt(rate, 0);
        else
            cr_assert_eq(rate, (50 - i) * 1000.0, "batch %d: %g", i, rate);
    }
    em__rate_estimator_free(p);
}

/* Spark draws the counts and delays at random; a fixed seed keeps the run reproducible. */
Test(rate_estimator, stays_below_processing_speed_with_accumulated_error)
{
    em__rate_estimator *p = em__pid_rate_estimator_new(20, 1, 0.01, 0, 10);
    GRand *rng = g_rand_new_with_seed(20150723);
    for (int i = 0; i < 50; i++) {
        int64_t elements = g_rand_int_range(rng, 1000, 2000);
        int64_t sched = g_rand_int_range(rng, 1, 20);
        double speed = (double)elements / 20 * 1000;
        double rate = em__rate_estimator_compute(p, i * 20, elements, 20, sched);
        if (i == 0) {
            cr_assert_lt(rate, 0);
            continue;
        }
        cr_assert_geq(rate, 10.0, "batch %d: %g", i, rate);
        cr_assert_lt(rate, speed, "batch %d: %g not below %g", i, rate, speed);
    }
    g_rand_free(rng);
    em__rate_estimator_free(p);
}

Test(rate_estimator, free_accepts_null) { em__rate_estimator_free(NULL); }
