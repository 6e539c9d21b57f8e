/* The KafkaRDD (Spark's KafkaRDD): one partition per offset range of a batch. Its messages were
 * fetched by the stream's polling thread before the batch was generated, so computing a
 * partition reads memory only; records point into the messages, which live as long as the
 * RDD. */
#include "input-kafka-private.h"

/* The record being pushed on this thread, for em_kafka_record_current(). */
static _Thread_local const rd_kafka_message_t *current_msg;
static _Thread_local const char *current_topic;

/* The RDD owns its batch (the fetched messages and their ranges). */
typedef struct {
    em_rdd base;
    em_kafka_batch *batch;
} kafka_rdd;

static inline const em_kafka_batch *batch_of(const em_rdd *rdd)
{
    return ((const kafka_rdd *)rdd)->batch;
}

static em_value bytes_or_none(const void *bytes, size_t len)
{
    return bytes ? em_strn(bytes, len) : em_none();
}

static void kafka_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const em_kafka_batch *b = batch_of(rdd);
    rd_kafka_message_t *const *msgs = b->msgs[index];
    int64_t n = b->ranges[index].count;
    em_value kv[2];
    /* The pair lives on the stack: a sink that keeps a record copies it (core's contract). */
    em_value pair = {.type = EM_T_TUPLE, .len = 2, .as.items = kv};
    current_topic = b->topics[index];
    for (int64_t i = 0; i < n && !task->stop; i++) {
        const rd_kafka_message_t *m = msgs[i];
        current_msg = m;
        kv[0] = bytes_or_none(m->key, m->key_len);
        kv[1] = bytes_or_none(m->payload, m->len);
        out->push(out, pair);
        em_arena_reset(task->scratch);
    }
    current_msg = NULL;
    current_topic = NULL;
}

static void kafka_finalize(em_rdd *rdd) { em__kafka_batch_free(((kafka_rdd *)rdd)->batch); }

static size_t kafka_bytes(const em_rdd *rdd)
{
    const em_kafka_batch *b = batch_of(rdd);
    size_t bytes = 0;
    for (size_t i = 0; i < b->n; i++)
        for (int64_t j = 0; j < b->ranges[i].count; j++)
            bytes += b->msgs[i][j]->len + b->msgs[i][j]->key_len;
    return bytes;
}

static const em_rdd_class kafka_rdd_class = {
    .type_name = "KafkaRDD",
    .compute = kafka_compute,
    .finalize = kafka_finalize,
    .data_bytes = kafka_bytes,
};

em_rdd *em__kafka_rdd_new(em_context *sc, em_kafka_batch *b)
{
    kafka_rdd *rdd =
        EM__RDD_NEW(kafka_rdd, sc, &kafka_rdd_class, "createDirectStream", (int)b->n, NULL, 0);
    rdd->batch = b;
    return &rdd->base;
}

const em_kafka_offset_range *em_kafka_offset_ranges(em_rdd *rdd, size_t *n)
{
    if (!rdd || rdd->klass != &kafka_rdd_class) {
        g_critical("em_kafka_offset_ranges: the RDD is not a Kafka direct stream's batch (%s): "
                   "take the ranges from the RDD foreachRDD or transform gets straight from "
                   "the stream",
                   rdd ? rdd->klass->type_name : "NULL");
        *n = 0;
        return NULL;
    }
    const em_kafka_batch *b = batch_of(rdd);
    *n = b->n;
    return b->ranges;
}

bool em_kafka_record_current(em_kafka_record *out)
{
    const rd_kafka_message_t *m = current_msg;
    if (!m)
        return false;
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    *out = (em_kafka_record){current_topic, m->partition, m->offset,
                             type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts};
    return true;
}
