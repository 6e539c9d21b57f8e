/* kafka_word_producer: writes text to a Kafka topic, one message per line, for
 * direct_kafka_wordcount to count (Spark's KafkaWordCountProducer, which sends random digits,
 * reads a text here so that the counts can be checked). Usage: kafka_word_producer BROKERS
 * TOPIC [FILE]: FILE's lines, or a built-in text, written with the idempotent producer; it
 * exits once every message is acknowledged (status 1, naming the error, when one is not).
 * Messages are spread over the topic's partitions; keys are null. It needs no Ember API. */
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char builtin[] = "it was the best of times\n"
                              "it was the worst of times\n"
                              "it was the age of wisdom\n"
                              "it was the age of foolishness\n";

static int failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err && !failed++)
        fprintf(stderr, "kafka_word_producer: topic %s: %s\n", rd_kafka_topic_name(m->rkt),
                rd_kafka_err2str(m->err));
}

/* Sends one line (without its newline); false when librdkafka refuses it. */
static int send_line(rd_kafka_t *rk, const char *topic, const char *line, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE((void *)line, len), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (err)
                fprintf(stderr, "kafka_word_producer: topic %s: %s\n", topic,
                        rd_kafka_err2str(err));
            return !err;
        }
        rd_kafka_poll(rk, 100); /* the queue is full: let deliveries drain it */
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "Usage: kafka_word_producer <brokers> <topic> [<file>]\n");
        return 2;
    }
    FILE *in = argc == 4 ? fopen(argv[3], "r") : fmemopen((void *)builtin, strlen(builtin), "r");
    if (!in) {
        perror(argv[3]);
        return 1;
    }
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr)) {
        fprintf(stderr, "kafka_word_producer: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_word_producer: %s\n", errstr);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ok = 1;
    while (ok && (n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        ok = send_line(rk, argv[2], line, (size_t)n);
        rd_kafka_poll(rk, 0);
    }
    free(line);
    fclose(in);
    if (rd_kafka_flush(rk, 30000)) {
        fprintf(stderr, "kafka_word_producer: %s: messages not delivered within 30 s\n", argv[1]);
        ok = 0;
    }
    rd_kafka_destroy(rk);
    return ok && !failed ? 0 : 1;
}
