/* A Kafka-to-Kafka word count for the exactly-once test: reads lines from IN's partitions
 * (assigned, read_committed, from the group's transactional commits), counts each batch's
 * words and writes (word, count) to OUT in one transaction per batch holding the input
 * offsets. Usage: kafka_eos_pipeline BROKERS IN PARTITIONS OUT GROUP TXN_ID. It runs until
 * killed. An application of the public library (<ember.h> only). */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

static em_value value_of(em_value record, void *ud)
{
    (void)ud;
    em_value v = em_val(record);
    return em_is_str(v) ? v : em_str("");
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "Usage: kafka_eos_pipeline BROKERS IN PARTITIONS OUT GROUP TXN_ID\n");
        return 2;
    }
    int parts = atoi(argv[3]);
    em_kafka_tp *assign = g_new(em_kafka_tp, parts);
    for (int i = 0; i < parts; i++)
        assign[i] = (em_kafka_tp){argv[2], i, -1};
    em_ssc *ssc = em_ssc_new("local[2]", "KafkaExactlyOnce", EM_MILLIS(500));
    em_dstream *in =
        em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = argv[1],
                                                     .group_id = argv[5],
                                                     .assign = assign,
                                                     .n_assign = (size_t)parts,
                                                     .start = EM_KAFKA_EARLIEST,
                                                     .commit = EM_KAFKA_COMMIT_NONE,
                                                     .params = (const char *[]){"isolation.level",
                                                                                "read_committed",
                                                                                NULL}});
    em_dstream *words = em_flat_map(em_map(in, value_of), em_split_space);
    em_dstream *counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    GError *err = NULL;
    bool ok = in &&
              em_kafka_save(counts, argv[4],
                            &(em_kafka_save_opts){.brokers = argv[1],
                                                  .transactional_id = argv[6],
                                                  .offsets_of = in},
                            &err) &&
              em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "kafka_eos_pipeline: %s\n", err ? err->message : "bad options");
    g_clear_error(&err);
    em_ssc_free(ssc);
    g_free(assign);
    return ok ? 0 : 1;
}
