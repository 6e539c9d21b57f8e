/* A stateful word count fed from Kafka, for test-kafka-kill.c: a direct stream on TOPIC[0]
 * (assigned, starting at the log start, committing nothing, at most PER-BATCH messages a batch)
 * -> the messages' values -> words -> updateStateByKey (checkpointed every batch) ->
 * saveAsTextFiles(PREFIX), recovered from CHECKPOINT-DIR through em_ssc_get_or_create(): where
 * it reads after a restart comes from the checkpoint alone. Its clock is manual and driven by
 * the test on stdin: "advance" waits until PER-BATCH messages are fetched (so that each batch
 * takes the same messages in every run), runs the next batch and answers "done <ms>". It
 * prints "start <recovered batch ms, or -1>" first; at the end of its input it stops
 * gracefully. */
#include "input-kafka-private.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *brokers, *topic, *prefix;
    int64_t per_batch;
    em_dstream *messages;
} child_args;

static em_value value_of(em_value record, void *ud)
{
    (void)ud;
    em_value v = em_val(record);
    return em_is_str(v) ? v : em_str("");
}

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_ssc *create(bool recovering, void *ud)
{
    (void)recovering;
    child_args *a = ud;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "KafkaKillWordCount",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    GError *err = NULL;
    a->messages =
        em_kafka_direct_stream_full(ssc,
                                    &(em_kafka_opts){.brokers = a->brokers,
                                                     .group_id = "kill",
                                                     .assign = (em_kafka_tp[]){{a->topic, 0, -1}},
                                                     .n_assign = 1,
                                                     .start = EM_KAFKA_EARLIEST,
                                                     .commit = EM_KAFKA_COMMIT_NONE,
                                                     .max_rate_per_partition = a->per_batch},
                                    &err);
    if (!a->messages) {
        fprintf(stderr, "kafka-kill-child: %s\n", err->message);
        exit(1);
    }
    em_dstream *words = em_flat_map(em_map(a->messages, value_of), em_split_space);
    em_dstream *counts =
        em_update_state_by_key_full(em_map(words, em_pair_one),
                                    &(em_update_state_spec){.fn = running_sum,
                                                            .name = "word_counts"});
    em_dstream_checkpoint(counts, EM_SECONDS(1));
    em_save_as_text_files(counts, a->prefix, NULL);
    return ssc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: kafka-kill-child BROKERS TOPIC PER-BATCH CHECKPOINT-DIR PREFIX\n");
        return 2;
    }
    child_args a = {.brokers = argv[1],
                    .topic = argv[2],
                    .per_batch = g_ascii_strtoll(argv[3], NULL, 10),
                    .prefix = argv[5]};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(argv[4], create, &a, NULL, &err);
    if (!ssc || !em_ssc_start(ssc, &err)) {
        fprintf(stderr, "kafka-kill-child: %s\n", err->message);
        return 1;
    }
    printf("start %" G_GINT64_FORMAT "\n", (gint64)em_ssc_recovered_time(ssc));
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        em_time t = em_ssc_clock_time(ssc) + EM_SECONDS(1);
        /* The batch's messages (a replayed batch's, or the next ones) are all fetched. */
        if (!em__kafka_stream_wait_buffered(a.messages, a.per_batch, 60000)) {
            fprintf(stderr,
                    "kafka-kill-child: batch %" G_GINT64_FORMAT " ms: %" G_GINT64_FORMAT
                    " messages were not fetched\n",
                    (gint64)t, a.per_batch);
            return 1;
        }
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        if (!em_ssc_wait_for_batch(ssc, t, 60000)) {
            fprintf(stderr, "kafka-kill-child: batch %" G_GINT64_FORMAT " ms did not end\n",
                    (gint64)t);
            return 1;
        }
        if (em_ssc_await_termination_or_timeout(ssc, 0, &err) < 0) {
            fprintf(stderr, "kafka-kill-child: %s\n", err->message);
            return 1;
        }
        printf("done %" G_GINT64_FORMAT "\n", (gint64)t);
        fflush(stdout);
    }
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    bool ok = em_ssc_await_termination(ssc, &err);
    em_ssc_free(ssc);
    return ok ? 0 : 1;
}
