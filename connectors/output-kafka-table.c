/* The Kafka sink of tables (Spark's KafkaSink), beside the DStream sink (output-kafka.c) whose
 * producer it shares: each row of a batch becomes a record of its
 * "value" column, keyed by its "key" column (if any), to its "topic" column's topic or the
 * query's. The idempotent producer; a batch succeeds once every record was acknowledged, and
 * fails naming the topic and Kafka's error otherwise. At least once, as Spark's: a batch run
 * again after a restart writes its records again -- unless exactly once was asked: then each
 * batch is one Kafka transaction (transactional.id from the query's id) that also commits, as
 * the offset of a consumer group of the sink's own on the topic's partition 0, the batch id
 * + 1; a restarted query reads that mark back and skips the batches Kafka has already, and a
 * batch killed mid-way is aborted when the next producer with that id starts. */
#include "input-kafka-private.h"
#include "table-private.h"

#include <string.h>

#define FLUSH_TIMEOUT_MS 30000

struct em__kafka_sink {
    rd_kafka_t *rk;
    char *brokers, *topic;
    int value, key, topic_col; /* columns; -1 when absent */
    GMutex lock;
    char *failure; /* the first delivery error of the batch */
    /* Exactly once: the marks' group, the batches Kafka holds (-1 none), transactions ready. */
    char *group;
    int64_t last_committed;
    bool txn_ready;
};

#define TXN_TIMEOUT_MS 30000

static bool produce_all(em__kafka_sink *sink, int64_t batch_id, const em_value *rows, size_t n,
                        GError **err);

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    em__kafka_sink *sink = opaque;
    if (!m->err)
        return;
    g_mutex_lock(&sink->lock);
    if (!sink->failure)
        sink->failure =
            g_strdup_printf("topic %s: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    g_mutex_unlock(&sink->lock);
}

/* KafkaWriter.validateQuery's checks (Spark's messages). */
static bool check_columns(em__kafka_sink *sink, const em_schema *schema, GError **err)
{
    sink->value = em_schema_index(schema, "value");
    sink->key = em_schema_index(schema, "key");
    sink->topic_col = em_schema_index(schema, "topic");
    const char *problem = NULL;
    if (sink->value < 0)
        problem = "Required attribute 'value' not found";
    else if (schema->types[sink->value] != EM_COL_STRING)
        problem = "value attribute type must be a string or binary";
    else if (sink->key >= 0 && schema->types[sink->key] != EM_COL_STRING)
        problem = "key attribute type must be a string or binary";
    else if (sink->topic_col >= 0 && schema->types[sink->topic_col] != EM_COL_STRING)
        problem = "topic type must be a string";
    else if (sink->topic_col < 0 && !sink->topic)
        problem = "topic option required when no 'topic' attribute is present. Use the topic "
                  "option for setting a topic.";
    if (problem)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s", problem);
    return problem == NULL;
}

static bool init_transactions(em__kafka_sink *sink, GError **err)
{
    rd_kafka_error_t *error = rd_kafka_init_transactions(sink->rk, TXN_TIMEOUT_MS);
    if (error) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Kafka sink %s: initializing transactions: %s",
                    sink->brokers, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return false;
    }
    sink->txn_ready = true;
    return true;
}

/* The batch id + 1 the sink's group committed on the topic's partition 0, -1 none. */
static bool read_mark(em__kafka_sink *sink, GError **err)
{
    char errstr[512];
    g_autofree char *what = g_strdup_printf("Kafka sink %s", sink->brokers);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const kv[] = {"bootstrap.servers", sink->brokers, "group.id", sink->group, NULL};
    if (!em__kafka_conf_set_all(conf, kv, what, err)) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    em__kafka_conf_set_log(conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", what, errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, sink->topic, 0);
    rd_kafka_resp_err_t code = em__kafka_committed(rk, l, TXN_TIMEOUT_MS);
    int64_t mark = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    if (code) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO,
                    "Kafka sink %s: reading the committed batches of group %s: %s", sink->brokers,
                    sink->group, rd_kafka_err2str(code));
        return false;
    }
    sink->last_committed = mark > 0 ? mark - 1 : -1;
    return true;
}

em__kafka_sink *em__kafka_sink_new(const char *brokers, const char *topic, const em_schema *schema,
                                   const char *exactly_once_id, GError **err)
{
    em__kafka_sink *sink = g_new0(em__kafka_sink, 1);
    g_mutex_init(&sink->lock);
    sink->brokers = g_strdup(brokers);
    sink->topic = g_strdup(topic);
    if (!brokers) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Option 'kafka.bootstrap.servers' must be specified for configuring Kafka "
                    "producer");
        em__kafka_sink_free(sink);
        return NULL;
    }
    if (!check_columns(sink, schema, err)) {
        em__kafka_sink_free(sink);
        return NULL;
    }
    sink->last_committed = -1;
    if (exactly_once_id && !topic) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "the exactly-once Kafka sink needs the topic option (its batch marks go "
                    "to that topic's partition 0)");
        em__kafka_sink_free(sink);
        return NULL;
    }
    if (exactly_once_id) {
        sink->group = g_strdup_printf("ember-query-%s-sink", exactly_once_id);
    }
    g_autofree char *what = g_strdup_printf("Kafka sink %s", brokers);
    sink->rk = em__kafka_producer_new(brokers, NULL, sink->group, on_delivery, sink, what, err);
    if (!sink->rk) {
        em__kafka_sink_free(sink);
        return NULL;
    }
    /* The producer of a killed run is fenced and its open transaction aborted first: until
     * then Kafka holds the group's marks as unstable and will not tell them. */
    if (sink->group && !(init_transactions(sink, err) && read_mark(sink, err))) {
        em__kafka_sink_free(sink);
        return NULL;
    }
    return sink;
}

void em__kafka_sink_free(em__kafka_sink *sink)
{
    if (!sink)
        return;
    if (sink->rk) {
        rd_kafka_flush(sink->rk, FLUSH_TIMEOUT_MS);
        rd_kafka_destroy(sink->rk);
    }
    g_free(sink->brokers);
    g_free(sink->topic);
    g_free(sink->failure);
    g_free(sink->group);
    g_mutex_clear(&sink->lock);
    g_free(sink);
}

static const char *topic_of(const em__kafka_sink *sink, em_value row, char *buf, size_t size)
{
    if (sink->topic_col >= 0) {
        em_value t = row.as.items[sink->topic_col];
        if (!em_is_null(t)) {
            g_strlcpy(buf, t.as.s, MIN(size, (size_t)t.len + 1));
            return buf;
        }
    }
    return sink->topic;
}

static bool txn_failed(em__kafka_sink *sink, rd_kafka_error_t *error, const char *step,
                       int64_t batch_id, GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "Kafka sink %s: batch %" G_GINT64_FORMAT ": %s: %s",
                sink->brokers, (gint64)batch_id, step, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    em__kafka_txn_abort(sink->rk, TXN_TIMEOUT_MS);
    return false;
}

static bool begin(em__kafka_sink *sink, int64_t batch_id, GError **err)
{
    if (!sink->txn_ready && !init_transactions(sink, err))
        return false;
    rd_kafka_error_t *error = rd_kafka_begin_transaction(sink->rk);
    return error ? txn_failed(sink, error, "beginning the transaction", batch_id, err) : true;
}

/* The batch's mark and the commit of its transaction. */
static bool commit(em__kafka_sink *sink, int64_t batch_id, GError **err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, sink->topic, 0)->offset = batch_id + 1;
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata_new(sink->group);
    rd_kafka_error_t *error =
        rd_kafka_send_offsets_to_transaction(sink->rk, l, cgmd, TXN_TIMEOUT_MS);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(l);
    if (error)
        return txn_failed(sink, error, "marking the batch", batch_id, err);
    em__table_fault("parts", batch_id);
    error = rd_kafka_commit_transaction(sink->rk, TXN_TIMEOUT_MS);
    if (error)
        return txn_failed(sink, error, "committing the transaction", batch_id, err);
    sink->last_committed = batch_id;
    return true;
}

bool em__kafka_sink_add_batch(em__kafka_sink *sink, int64_t batch_id, const em_value *rows,
                              size_t n, GError **err)
{
    if (sink->group && batch_id <= sink->last_committed)
        return true; /* Kafka has this batch already */
    if (sink->group && !begin(sink, batch_id, err))
        return false;
    bool ok = produce_all(sink, batch_id, rows, n, err);
    if (!sink->group)
        return ok;
    if (!ok) {
        em__kafka_txn_abort(sink->rk, TXN_TIMEOUT_MS);
        return false;
    }
    return commit(sink, batch_id, err);
}

static bool produce_all(em__kafka_sink *sink, int64_t batch_id, const em_value *rows, size_t n,
                        GError **err)
{
    char topic_buf[256];
    for (size_t i = 0; i < n; i++) {
        const char *topic = topic_of(sink, rows[i], topic_buf, sizeof topic_buf);
        if (!topic) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "Kafka sink: batch %" G_GINT64_FORMAT ": a row has a null topic and no "
                        "topic option is set",
                        (gint64)batch_id);
            return false;
        }
        em_value v = rows[i].as.items[sink->value];
        em_value k = sink->key >= 0 ? rows[i].as.items[sink->key] : em_null();
        rd_kafka_resp_err_t code;
        while ((code = rd_kafka_producev(sink->rk, RD_KAFKA_V_TOPIC(topic),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_KEY(em_is_null(k) ? NULL : k.as.s,
                                                        em_is_null(k) ? 0 : k.len),
                                         RD_KAFKA_V_VALUE(em_is_null(v) ? NULL : (void *)v.as.s,
                                                          em_is_null(v) ? 0 : v.len),
                                         RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(sink->rk, 100);
        if (code) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "Kafka sink %s: topic %s: %s", sink->brokers,
                        topic, rd_kafka_err2str(code));
            return false;
        }
    }
    rd_kafka_resp_err_t code = rd_kafka_flush(sink->rk, FLUSH_TIMEOUT_MS);
    g_mutex_lock(&sink->lock);
    char *failure = g_steal_pointer(&sink->failure);
    g_mutex_unlock(&sink->lock);
    if (failure || code) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "Kafka sink %s: batch %" G_GINT64_FORMAT ": %s",
                    sink->brokers, (gint64)batch_id,
                    failure ? failure : "records not acknowledged in time");
        g_free(failure);
        return false;
    }
    return true;
}
