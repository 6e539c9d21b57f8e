/* The Kafka sink against ember-kafka-broker: what em_kafka_save writes (keys, values, None,
 * formatted values), and a batch failing when its records cannot be delivered. */
#include "kafka-fixture.h"

static em_dstream *queue_input(em_ssc *ssc, em_rdd_queue *q, const char *text)
{
    GError *err = NULL;
    em_rdd *rdd = em_parallelize_text(em_ssc_context(ssc), text, 2, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    em_rdd_queue_push(q, rdd);
    em_rdd_unref(rdd);
    return em_queue_stream(ssc, q, EM_QUEUE_ONE_AT_A_TIME, NULL);
}

Test(kafka_sink, writes_pairs_as_key_and_value_and_other_records_as_values)
{
    mock_broker b = mock_broker_start((const char *[]){"out:1", NULL});
    em_ssc *ssc = manual_ssc();
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = queue_input(ssc, q, "(apple,4), (None,x), (k,None), plain, 42, (1,2.5)");
    GError *err = NULL;
    cr_assert(em_kafka_save(in, "out", &(em_kafka_save_opts){.brokers = b.bootstrap}, &err), "%s",
              err ? err->message : "");
    kafka_log l = {.no_ranges = true};
    kafka_log_attach(&l, in);
    ssc_start(ssc);
    kafka_run_batch(ssc, NULL, 0, EM_SECONDS(1));
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    cr_assert_not(l.failed[0], "%s", l.failure[0]);
    g_autofree char *got = consume_sorted(b.bootstrap, "out", 1, 6, "read_uncommitted");
    cr_assert_str_eq(got, "-=42 -=plain -=x 1=2.5 apple=4 k=-");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_sink, a_record_not_delivered_fails_the_batch_naming_the_topic)
{
    mock_broker b = mock_broker_start((const char *[]){"out:1", NULL});
    em_ssc *ssc = manual_ssc();
    em_rdd_queue *q = em_rdd_queue_new();
    em_dstream *in = queue_input(ssc, q, "a, b");
    GError *err = NULL;
    cr_assert(em_kafka_save(in, "out",
                            &(em_kafka_save_opts){.brokers = b.bootstrap,
                                                  .params = (const char *[]){"message.timeout.ms",
                                                                             "1500", NULL}},
                            &err),
              "%s", err ? err->message : "");
    kafka_log l = {.no_ranges = true};
    kafka_log_attach(&l, in);
    capture_warnings();
    mock_broker_command(&b, "down 1");
    ssc_start(ssc);
    kafka_run_batch(ssc, NULL, 0, EM_SECONDS(1));
    em_ssc_free(ssc);
    em_rdd_queue_free(q);
    cr_assert(l.failed[0]);
    cr_assert(strstr(l.failure[0], "Kafka sink (topic out, brokers 127.0.0.1:"), "%s",
              l.failure[0]);
    cr_assert(strstr(l.failure[0], "2 records not delivered (first: partition "), "%s",
              l.failure[0]);
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_sink, refuses_offsets_without_a_transaction_or_from_a_committing_stream)
{
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = "127.0.0.1:9",
                                                                  .group_id = "g",
                                                                  .topics = "t"});
    GError *err = NULL;
    cr_assert_not(em_kafka_save(ds, "out",
                                &(em_kafka_save_opts){.brokers = "127.0.0.1:9", .offsets_of = ds},
                                &err));
    cr_assert(strstr(err->message, "offsets_of needs transactional_id"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_not(em_kafka_save(ds, "out",
                                &(em_kafka_save_opts){.brokers = "127.0.0.1:9",
                                                      .transactional_id = "tx",
                                                      .offsets_of = ds},
                                &err));
    cr_assert(strstr(err->message, "must have commit = EM_KAFKA_COMMIT_NONE"), "%s", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
}
