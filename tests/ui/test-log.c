/* Ember's log: Spark's levels (em_set_log_level), the warning for a failed batch, and the
 * falling-behind warning with its rule (EM_FALLING_BEHIND_BATCHES growing delays above the
 * interval, once per episode), read from the structured-log writer. */
#include <criterion/criterion.h>

#include "log-capture.h"
#include "monitor-feed.h"

Test(log, levels_are_spark_names_in_any_case)
{
    cr_assert_eq(em_get_log_level(), EM_LOG_WARN, "WARN by default");
    const char *names[] = {"ALL", "trace", "Debug", "INFO", "warn", "ERROR", "fatal", "OFF"};
    for (int i = 0; i < 8; i++) {
        cr_assert(em_set_log_level(names[i]), "%s", names[i]);
        cr_assert_eq(em_get_log_level(), (em_log_level)i, "%s", names[i]);
    }
}

Test(log, an_unknown_level_is_refused_with_the_valid_names)
{
    capture_log();
    em_set_log_level("ERROR");
    cr_assert(!em_set_log_level("VERBOSE"));
    cr_assert_eq(em_get_log_level(), EM_LOG_ERROR, "unchanged");
    g_autofree char *log = take_log();
    cr_assert_str_eq(log, "CRITICAL em_set_log_level: unknown level \"VERBOSE\"; use one of ALL, "
                          "TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF\n");
}

Test(log, a_failed_batch_is_a_warning_unless_the_level_is_above_warn)
{
    capture_log();
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("Log", &queue);
    feed_batch(ssc, &(fed_batch){.time = 1000, .records = 1, .failure = "boom"});
    feed_batch(ssc, &(fed_batch){.time = 2000, .records = 1});
    g_autofree char *warned = take_log();
    cr_assert_str_eq(warned, "WARN Batch 1000 ms failed: boom\n");
    em_set_log_level("ERROR");
    feed_batch(ssc, &(fed_batch){.time = 3000, .records = 1, .failure = "boom"});
    g_autofree char *silent = take_log();
    cr_assert_str_eq(silent, "");
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

static void feed_delays(em_ssc *ssc, const int64_t *delays, int n, em_time *t)
{
    for (int i = 0; i < n; i++) {
        *t += 1000;
        feed_batch(ssc, &(fed_batch){.time = *t, .sched = delays[i], .proc = 10});
    }
}

Test(log, falling_behind_warns_once_per_episode_after_three_growing_delays)
{
    capture_log();
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("Behind", &queue);
    em_time t = 0;
    /* Above the 1000 ms interval and growing at 2, 3 and 4 s: the warning comes at 4 s. The
     * delay at 1 s is within the interval and does not count. */
    const int64_t first[] = {900, 1500, 2000, 2500};
    feed_delays(ssc, first, 4, &t);
    g_autofree char *once = take_log();
    cr_assert_str_eq(once, "WARN Falling behind: the scheduling delay grew for 3 batches in a "
                           "row, to 2500 ms at batch 4000 ms (batch interval 1000 ms): batches "
                           "take longer to process than the interval\n");
    /* Still growing, and then a dip above the interval: same episode, no new warning. */
    const int64_t more[] = {3000, 3500, 2000, 2600, 2700, 2800};
    feed_delays(ssc, more, 6, &t);
    g_autofree char *quiet = take_log();
    cr_assert_str_eq(quiet, "");
    /* Back within the interval ends the episode; three growing batches warn again. */
    const int64_t again[] = {1000, 1100, 1200, 1300};
    feed_delays(ssc, again, 4, &t);
    g_autofree char *twice = take_log();
    cr_assert_str_eq(twice, "WARN Falling behind: the scheduling delay grew for 3 batches in a "
                            "row, to 1300 ms at batch 14000 ms (batch interval 1000 ms): "
                            "batches take longer to process than the interval\n");
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

Test(log, growth_interrupted_above_the_interval_starts_counting_again)
{
    em__behind b = {0};
    cr_assert(!em__behind_update(&b, 1500, 1000));
    cr_assert(!em__behind_update(&b, 1600, 1000));
    cr_assert(!em__behind_update(&b, 1550, 1000), "not growing: the count restarts");
    cr_assert(!em__behind_update(&b, 1560, 1000));
    cr_assert(!em__behind_update(&b, 1570, 1000));
    cr_assert(em__behind_update(&b, 1580, 1000), "third growing batch in a row");
}
