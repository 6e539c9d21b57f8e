/* direct_kafka_wordcount: Spark's DirectKafkaWordCount, ported line for line: counts the words
 * of the messages of Kafka topics, batch by batch. An application of the public library
 * (<ember.h> only). Usage: direct_kafka_wordcount BROKERS GROUP_ID TOPICS [BATCHES]; TOPICS is
 * comma-separated; BATCHES, an Ember addition, stops it gracefully after that many batches.
 * One deliberate difference: a group with no committed offsets starts at the topics' beginning
 * (Spark's example starts at their end), so that a text produced before it starts is counted.
 * Try it with no Kafka installed: `scripts/dev run kafka`.
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(2))
 *   val topicsSet = topics.split(",").toSet
 *   val kafkaParams = Map[String, Object](
 *     ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG -> brokers,
 *     ConsumerConfig.GROUP_ID_CONFIG -> groupId, ...)
 *   val messages = KafkaUtils.createDirectStream[String, String](
 *     ssc, LocationStrategies.PreferConsistent,
 *     ConsumerStrategies.Subscribe[String, String](topicsSet, kafkaParams))
 *   val lines = messages.map(_.value)
 *   val words = lines.flatMap(_.split(" "))
 *   val wordCounts = words.map(x => (x, 1L)).reduceByKey(_ + _)
 *   wordCounts.print()
 *   ssc.start()
 *   ssc.awaitTermination()
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

/* _.value: the message's value (None, for a null value, splits into no words). */
static em_value value_of(em_value record, void *ud)
{
    (void)ud;
    em_value v = em_val(record);
    return em_is_str(v) ? v : em_str("");
}

int main(int argc, char **argv)
{
    int64_t batches = 0;
    if (argc < 4 || argc > 5 ||
        (argc == 5 && !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: direct_kafka_wordcount <brokers> <groupId> <topics> "
                        "[<batches>]\n"
                        "  <brokers> is a list of one or more Kafka brokers\n"
                        "  <groupId> is a consumer group name to consume from topics\n"
                        "  <topics> is a list of one or more kafka topics to consume from\n");
        return 2;
    }

    em_ssc *ssc = em_ssc_new("local[2]", "DirectKafkaWordCount", EM_SECONDS(2));
    if (!ssc)
        return EXIT_FAILURE;
    em_dstream *messages =
        em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = argv[1],
                                                     .group_id = argv[2],
                                                     .topics = argv[3],
                                                     .start = EM_KAFKA_EARLIEST});
    if (!messages) {
        em_ssc_free(ssc);
        return EXIT_FAILURE;
    }
    em_dstream *lines = em_map(messages, value_of);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_print(word_counts);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "direct_kafka_wordcount: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
