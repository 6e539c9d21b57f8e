/* A consumer-group member for the scale-out test: subscribes to IN with GROUP, copies every
 * message's value to OUT with em_kafka_save and commits after each batch's output. Usage:
 * kafka_copy_pipeline BROKERS IN OUT GROUP. It runs until killed. */
#include <ember.h>

#include <stdio.h>

static em_value value_of(em_value record, void *ud)
{
    (void)ud;
    return em_val(record);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "Usage: kafka_copy_pipeline BROKERS IN OUT GROUP\n");
        return 2;
    }
    em_ssc *ssc = em_ssc_new("local[2]", "KafkaCopy", EM_MILLIS(500));
    em_dstream *in =
        em_kafka_direct_stream(ssc,
                               &(em_kafka_opts){.brokers = argv[1],
                                                .group_id = argv[4],
                                                .topics = argv[2],
                                                .start = EM_KAFKA_EARLIEST,
                                                .params =
                                                    (const char *[]){"session.timeout.ms", "3000",
                                                                     "heartbeat.interval.ms",
                                                                     "500", NULL}});
    GError *err = NULL;
    bool ok = in &&
              em_kafka_save(em_map(in, value_of), argv[3],
                            &(em_kafka_save_opts){.brokers = argv[1]}, &err) &&
              em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "kafka_copy_pipeline: %s\n", err ? err->message : "bad options");
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? 0 : 1;
}
