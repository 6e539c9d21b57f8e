/* em_ssc_metrics_text: Prometheus' text format of the same figures as the progress records,
 * checked byte for byte on hand-fed batches. */
#include <criterion/criterion.h>

#include "monitor-feed.h"

Test(metrics, exposition_of_two_batches_is_exact)
{
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("Word \"count\"", &queue);
    g_autofree char *before = em_ssc_metrics_text(ssc);
    cr_assert_str_eq(before,
                     "# HELP ember_streaming_batches_completed_total Batches completed since "
                     "start, failed ones included.\n"
                     "# TYPE ember_streaming_batches_completed_total counter\n"
                     "ember_streaming_batches_completed_total{app=\"Word \\\"count\\\"\"} 0\n"
                     "# HELP ember_streaming_batches_failed_total Batches that failed.\n"
                     "# TYPE ember_streaming_batches_failed_total counter\n"
                     "ember_streaming_batches_failed_total{app=\"Word \\\"count\\\"\"} 0\n"
                     "# HELP ember_streaming_input_records_total Records each input stream gave "
                     "completed batches.\n"
                     "# TYPE ember_streaming_input_records_total counter\n"
                     "# HELP ember_streaming_batch_interval_seconds The batch interval.\n"
                     "# TYPE ember_streaming_batch_interval_seconds gauge\n"
                     "ember_streaming_batch_interval_seconds{app=\"Word \\\"count\\\"\"} 1.000\n"
                     "# HELP ember_streaming_active_batches Batches being processed.\n"
                     "# TYPE ember_streaming_active_batches gauge\n"
                     "ember_streaming_active_batches{app=\"Word \\\"count\\\"\"} 0\n"
                     "# HELP ember_streaming_queued_batches Batches generated and waiting for the "
                     "one before to finish.\n"
                     "# TYPE ember_streaming_queued_batches gauge\n"
                     "ember_streaming_queued_batches{app=\"Word \\\"count\\\"\"} 0\n"
                     "# HELP ember_streaming_receivers Receivers by state.\n"
                     "# TYPE ember_streaming_receivers gauge\n"
                     "ember_streaming_receivers{app=\"Word \\\"count\\\"\",state=\"active\"} 0\n"
                     "ember_streaming_receivers{app=\"Word \\\"count\\\"\",state=\"inactive\"} "
                     "0\n");
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

Test(metrics, counters_over_the_run_and_gauges_of_the_newest_batch)
{
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("wc", &queue);
    em_set_log_level("OFF"); /* the failed batch's warning */
    feed_batch(ssc, &(fed_batch){.time = 1000,
                                 .records = 4,
                                 .submitted = 1000,
                                 .sched = 5,
                                 .proc = 20,
                                 .failure = "boom"});
    /* 6 records: 6/s in, 6 per 250 ms processed: 24/s. */
    feed_batch(ssc, &(fed_batch){.time = 2000,
                                 .records = 6,
                                 .submitted = 2000,
                                 .sched = 1250,
                                 .proc = 250,
                                 .retained_batches = 3,
                                 .retained_bytes = 4096});
    g_autofree char *text = em_ssc_metrics_text(ssc);
    cr_assert_str_eq(
        text,
        "# HELP ember_streaming_batches_completed_total Batches completed since start, failed "
        "ones included.\n"
        "# TYPE ember_streaming_batches_completed_total counter\n"
        "ember_streaming_batches_completed_total{app=\"wc\"} 2\n"
        "# HELP ember_streaming_batches_failed_total Batches that failed.\n"
        "# TYPE ember_streaming_batches_failed_total counter\n"
        "ember_streaming_batches_failed_total{app=\"wc\"} 1\n"
        "# HELP ember_streaming_input_records_total Records each input stream gave completed "
        "batches.\n"
        "# TYPE ember_streaming_input_records_total counter\n"
        "ember_streaming_input_records_total{app=\"wc\",input=\"Queue stream [0]\"} 10\n"
        "# HELP ember_streaming_batch_interval_seconds The batch interval.\n"
        "# TYPE ember_streaming_batch_interval_seconds gauge\n"
        "ember_streaming_batch_interval_seconds{app=\"wc\"} 1.000\n"
        "# HELP ember_streaming_active_batches Batches being processed.\n"
        "# TYPE ember_streaming_active_batches gauge\n"
        "ember_streaming_active_batches{app=\"wc\"} 0\n"
        "# HELP ember_streaming_queued_batches Batches generated and waiting for the one before "
        "to finish.\n"
        "# TYPE ember_streaming_queued_batches gauge\n"
        "ember_streaming_queued_batches{app=\"wc\"} 0\n"
        "# HELP ember_streaming_receivers Receivers by state.\n"
        "# TYPE ember_streaming_receivers gauge\n"
        "ember_streaming_receivers{app=\"wc\",state=\"active\"} 0\n"
        "ember_streaming_receivers{app=\"wc\",state=\"inactive\"} 0\n"
        "# HELP ember_streaming_last_batch_time_seconds Batch time of the newest completed batch "
        "(the context's clock).\n"
        "# TYPE ember_streaming_last_batch_time_seconds gauge\n"
        "ember_streaming_last_batch_time_seconds{app=\"wc\"} 2.000\n"
        "# HELP ember_streaming_last_batch_records Its input records.\n"
        "# TYPE ember_streaming_last_batch_records gauge\n"
        "ember_streaming_last_batch_records{app=\"wc\"} 6\n"
        "# HELP ember_streaming_last_batch_input_rate Its records per second of batch interval.\n"
        "# TYPE ember_streaming_last_batch_input_rate gauge\n"
        "ember_streaming_last_batch_input_rate{app=\"wc\"} 6.000\n"
        "# HELP ember_streaming_last_batch_processing_rate Its records per second of processing "
        "time.\n"
        "# TYPE ember_streaming_last_batch_processing_rate gauge\n"
        "ember_streaming_last_batch_processing_rate{app=\"wc\"} 24.000\n"
        "# HELP ember_streaming_last_batch_scheduling_delay_seconds Its scheduling delay.\n"
        "# TYPE ember_streaming_last_batch_scheduling_delay_seconds gauge\n"
        "ember_streaming_last_batch_scheduling_delay_seconds{app=\"wc\"} 1.250\n"
        "# HELP ember_streaming_last_batch_processing_delay_seconds Its processing time.\n"
        "# TYPE ember_streaming_last_batch_processing_delay_seconds gauge\n"
        "ember_streaming_last_batch_processing_delay_seconds{app=\"wc\"} 0.250\n"
        "# HELP ember_streaming_last_batch_total_delay_seconds Its total delay.\n"
        "# TYPE ember_streaming_last_batch_total_delay_seconds gauge\n"
        "ember_streaming_last_batch_total_delay_seconds{app=\"wc\"} 1.500\n"
        "# HELP ember_streaming_output_op_duration_seconds Each output operation's time in the "
        "newest completed batch.\n"
        "# TYPE ember_streaming_output_op_duration_seconds gauge\n"
        "ember_streaming_output_op_duration_seconds{app=\"wc\",op=\"0\",name=\"print\"} 0.250\n"
        "# HELP ember_streaming_state_keys Keys each stateful stream holds.\n"
        "# TYPE ember_streaming_state_keys gauge\n"
        "# HELP ember_streaming_state_bytes Bytes each stateful stream holds.\n"
        "# TYPE ember_streaming_state_bytes gauge\n"
        "# HELP ember_streaming_retained_batches RDDs all streams keep.\n"
        "# TYPE ember_streaming_retained_batches gauge\n"
        "ember_streaming_retained_batches{app=\"wc\"} 3\n"
        "# HELP ember_streaming_retained_bytes Bytes of the RDDs streams keep.\n"
        "# TYPE ember_streaming_retained_bytes gauge\n"
        "ember_streaming_retained_bytes{app=\"wc\"} 4096\n");
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}
