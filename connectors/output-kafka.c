/* The Kafka sink: an output operation writing each batch's records with librdkafka's
 * idempotent producer, one task per partition producing straight from the record pipeline, the
 * batch failing unless every record was acknowledged. In transactional mode a batch is one
 * Kafka transaction holding its records and its input stream's offsets. */
#include "input-kafka-private.h"
#include "streaming-private.h"

#include <inttypes.h>

#define TXN_TIMEOUT_MS 30000

typedef struct kafka_sink {
    char *topic;
    char *what; /* "Kafka sink (topic t, brokers b)" */
    rd_kafka_t *rk;
    bool transactional;
    bool txn_ready; /* init_transactions done */
    em_dstream *offsets_of;
    int64_t flush_timeout_ms;
} kafka_sink;

/* One batch's delivery outcome: delivery reports come on whichever thread polls. */
typedef struct batch_delivery {
    gint failures;
    GMutex lock;
    char *first_error;
} batch_delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    batch_delivery *d = m->_private;
    if (!m->err || !d)
        return;
    g_atomic_int_inc(&d->failures);
    g_mutex_lock(&d->lock);
    if (!d->first_error)
        d->first_error =
            g_strdup_printf("partition %" PRId32 ": %s", m->partition, rd_kafka_err2str(m->err));
    g_mutex_unlock(&d->lock);
}

/* ---- The producer both sinks use ---- */

rd_kafka_t *em__kafka_producer_new(const char *brokers, const char *const *params,
                                   const char *transactional_id,
                                   void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *m,
                                              void *opaque),
                                   void *opaque, const char *what, GError **err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = em__kafka_conf_set(conf, "bootstrap.servers", brokers, what, err) &&
              em__kafka_conf_set(conf, "client.id", "ember-sink", what, err) &&
              em__kafka_conf_set_all(conf, params, what, err) &&
              em__kafka_conf_set(conf, "enable.idempotence", "true", what, err) &&
              (!transactional_id ||
               em__kafka_conf_set(conf, "transactional.id", transactional_id, what, err));
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (dr)
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    rd_kafka_conf_set_opaque(conf, opaque);
    em__kafka_conf_set_log(conf);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", what, errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

void em__kafka_txn_abort(rd_kafka_t *rk, int timeout_ms)
{
    rd_kafka_error_t *error = rd_kafka_abort_transaction(rk, timeout_ms);
    if (error)
        rd_kafka_error_destroy(error);
}

/* ---- Producing from the task's record pipeline ---- */

typedef struct produce_sink {
    em_sink base;
    kafka_sink *ks;
    batch_delivery *d;
    GString *key, *value; /* formatted non-string fields */
} produce_sink;

/* The bytes of a field: a string's own, a formatted value's, or NULL for None/null. */
static const char *field_bytes(em_value v, GString *buf, size_t *len)
{
    if (v.type == EM_T_STR) {
        *len = v.len;
        return v.as.s;
    }
    if (v.type == EM_T_NONE || v.type == EM_T_NULL) {
        *len = 0;
        return NULL;
    }
    g_string_truncate(buf, 0);
    em_value_format(v, buf);
    *len = buf->len;
    return buf->str;
}

static void produce_push(em_sink *s, em_value v)
{
    produce_sink *ps = (produce_sink *)s;
    size_t klen = 0, vlen = 0;
    const char *k = NULL, *val;
    if (em_is_pair(v)) {
        k = field_bytes(em_key(v), ps->key, &klen);
        val = field_bytes(em_val(v), ps->value, &vlen);
    } else {
        val = field_bytes(v, ps->value, &vlen);
    }
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(ps->ks->rk, RD_KAFKA_V_TOPIC(ps->ks->topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(k, klen),
                              RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_OPAQUE(ps->d),
                              RD_KAFKA_V_END);
        if (!err)
            return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            em__task_fail(s->task, NULL, "%s: cannot produce: %s", ps->ks->what,
                          rd_kafka_err2str(err));
            return;
        }
        rd_kafka_poll(ps->ks->rk, 10); /* the queue is full: serve deliveries, then retry */
    }
}

typedef struct produce_job {
    kafka_sink *ks;
    em_rdd *rdd;
    batch_delivery *d;
} produce_job;

static void produce_task(em_task *task, void *ud)
{
    produce_job *job = ud;
    produce_sink sink = {{produce_push, task, NULL},
                         job->ks,
                         job->d,
                         g_string_new(NULL),
                         g_string_new(NULL)};
    em__compute(job->rdd, task, task->partition, &sink.base);
    rd_kafka_poll(job->ks->rk, 0);
    g_string_free(sink.key, TRUE);
    g_string_free(sink.value, TRUE);
}

/* ---- Transactions ---- */

/* Fails with a transactional error, aborting the transaction when it can be. */
static bool txn_failed(kafka_sink *ks, rd_kafka_error_t *error, const char *step, em_time t,
                       GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s: batch %" PRId64 " ms: %s: %s", ks->what,
                (int64_t)t, step, rd_kafka_error_string(error));
    if (rd_kafka_error_txn_requires_abort(error))
        em__kafka_txn_abort(ks->rk, TXN_TIMEOUT_MS);
    rd_kafka_error_destroy(error);
    return false;
}

/* Adds the input batch's offsets (until of each range) to the transaction. */
static bool send_offsets(kafka_sink *ks, em_time t, GError **err)
{
    em_kafka_offset_range *ranges = NULL;
    size_t n = 0;
    if (!em__kafka_stream_batch_ranges(ks->offsets_of, t, &ranges, &n)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s: batch %" PRId64 " ms: the input stream has no offsets for it", ks->what,
                    (int64_t)t);
        return false;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        if (ranges[i].until >= 0)
            rd_kafka_topic_partition_list_add(l, ranges[i].topic, ranges[i].partition)->offset =
                ranges[i].until;
    g_free(ranges);
    rd_kafka_t *consumer = em__kafka_consumer_handle(em__kafka_stream_consumer(ks->offsets_of));
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(consumer);
    rd_kafka_error_t *error =
        l->cnt ? rd_kafka_send_offsets_to_transaction(ks->rk, l, cgmd, TXN_TIMEOUT_MS) : NULL;
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(l);
    return error ? txn_failed(ks, error, "sending the input offsets", t, err) : true;
}

static bool begin(kafka_sink *ks, em_time t, GError **err)
{
    rd_kafka_error_t *error = NULL;
    if (!ks->txn_ready) {
        /* Fences any earlier producer with this transactional.id and aborts what it left
         * open: a restarted pipeline starts clean. */
        error = rd_kafka_init_transactions(ks->rk, TXN_TIMEOUT_MS);
        if (error)
            return txn_failed(ks, error, "initializing transactions", t, err);
        ks->txn_ready = true;
    }
    error = rd_kafka_begin_transaction(ks->rk);
    return error ? txn_failed(ks, error, "beginning the transaction", t, err) : true;
}

/* ---- The output operation ---- */

static bool run_save(em_output_op *op, em_rdd *rdd, em_time t, GError **err)
{
    kafka_sink *ks = op->ud;
    if (ks->transactional && !begin(ks, t, err))
        return false;
    batch_delivery d = {0};
    g_mutex_init(&d.lock);
    produce_job job = {ks, rdd, &d};
    bool ok = em__run_job(rdd, NULL, 0, produce_task, &job, err);
    /* Every record of the batch must be acknowledged (or have failed) before it ends. */
    if (rd_kafka_flush(ks->rk, (int)ks->flush_timeout_ms) && ok) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO,
                    "%s: batch %" PRId64 " ms: records not delivered within %" PRId64 " ms",
                    ks->what, (int64_t)t, ks->flush_timeout_ms);
        ok = false;
    }
    if (ok && g_atomic_int_get(&d.failures)) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO,
                    "%s: batch %" PRId64 " ms: %d records not delivered (first: %s)", ks->what,
                    (int64_t)t, g_atomic_int_get(&d.failures), d.first_error);
        ok = false;
    }
    g_free(d.first_error);
    g_mutex_clear(&d.lock);
    if (!ks->transactional)
        return ok;
    if (!ok) {
        em__kafka_txn_abort(ks->rk, TXN_TIMEOUT_MS);
        return false;
    }
    if (ks->offsets_of && !send_offsets(ks, t, err))
        return false;
    rd_kafka_error_t *error = rd_kafka_commit_transaction(ks->rk, TXN_TIMEOUT_MS);
    return error ? txn_failed(ks, error, "committing the transaction", t, err) : true;
}

static void kafka_sink_free(void *p)
{
    kafka_sink *ks = p;
    if (ks->rk) {
        rd_kafka_flush(ks->rk, (int)ks->flush_timeout_ms);
        rd_kafka_destroy(ks->rk);
    }
    g_free(ks->topic);
    g_free(ks->what);
    g_free(ks);
}

static bool check_save(em_dstream *ds, const char *topic, const em_kafka_save_opts *opts,
                       GError **err)
{
    const char *bad = NULL;
    if (!ds || !topic || !*topic || !opts || !opts->brokers || !*opts->brokers)
        bad = "the stream, the topic and opts->brokers are required";
    else if (opts->offsets_of && !opts->transactional_id)
        bad = "offsets_of needs transactional_id (offsets go into the batch's transaction)";
    else if (opts->offsets_of && !em__kafka_stream_consumer(opts->offsets_of))
        bad = "offsets_of is not a Kafka direct stream";
    else if (opts->offsets_of &&
             em__kafka_consumer_opts(em__kafka_stream_consumer(opts->offsets_of))->commit !=
                 EM_KAFKA_COMMIT_NONE)
        bad = "the offsets_of stream must have commit = EM_KAFKA_COMMIT_NONE: its offsets are "
              "committed in the sink's transactions";
    else if (opts->flush_timeout_ms < 0)
        bad = "flush_timeout_ms cannot be negative";
    if (bad)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "em_kafka_save(%s): %s",
                    topic ? topic : "NULL", bad);
    return !bad;
}

bool em_kafka_save(em_dstream *ds, const char *topic, const em_kafka_save_opts *opts, GError **err)
{
    if (!check_save(ds, topic, opts, err))
        return false;
    kafka_sink *ks = g_new0(kafka_sink, 1);
    ks->topic = g_strdup(topic);
    ks->what = g_strdup_printf("Kafka sink (topic %s, brokers %s)", topic, opts->brokers);
    ks->transactional = opts->transactional_id != NULL;
    ks->offsets_of = opts->offsets_of;
    ks->flush_timeout_ms = opts->flush_timeout_ms ? opts->flush_timeout_ms : 30000;
    ks->rk = em__kafka_producer_new(opts->brokers, opts->params, opts->transactional_id,
                                    on_delivery, NULL, ks->what, err);
    if (!ks->rk) {
        kafka_sink_free(ks);
        return false;
    }
    em__output_add(ds, "kafkaSave", run_save, ks, kafka_sink_free, NULL);
    return true;
}
