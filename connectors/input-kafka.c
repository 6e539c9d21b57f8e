/* The Kafka direct stream in the DStream graph (Spark's DirectKafkaInputDStream): the glue
 * between the consumer (input-kafka-consumer.c) and the graph. seal fixes each batch's offset
 * ranges from what the consumer buffered, under the rate limits; compute makes the KafkaRDD;
 * a listener commits a batch's offsets once its outputs succeeded, in batch order. */
#include "input-kafka-private.h"
#include "rate-estimator.h"
#include "streaming-private.h"

#include <inttypes.h>

/* A generated batch's ranges, waiting for the batch to complete before they are committed. */
typedef struct batch_commit {
    em_time time;
    em_kafka_offset_range *ranges; /* topics point at topics[] */
    char **topics;
    size_t n;
    bool computed, done, ok;
} batch_commit;

/* The kind: em_dstream first (streaming-private.h). */
typedef struct kafka_dstream {
    em_dstream base;
    em_kafka_consumer *consumer;
    GMutex lock;
    GQueue sealed;  /* em_kafka_batch *: sealed, not computed yet, ascending time */
    GQueue pending; /* batch_commit *: generated, not committed yet, ascending time */
    bool blocked;   /* a batch failed: commits stop there (its data is read again on restart) */
    bool stopping;
    em__rate_estimator *estimator;
    double rate; /* backpressure's latest rate, messages/s; < 0 for none */
} kafka_dstream;

static void batch_commit_free(batch_commit *bc)
{
    for (size_t i = 0; i < bc->n; i++)
        g_free(bc->topics[i]);
    g_free(bc->topics);
    g_free(bc->ranges);
    g_free(bc);
}

static batch_commit *batch_commit_new(const em_kafka_batch *b)
{
    batch_commit *bc = g_new0(batch_commit, 1);
    bc->time = b->time;
    bc->n = b->n;
    bc->ranges = g_memdup2(b->ranges, sizeof *b->ranges * (b->n ? b->n : 1));
    bc->topics = g_new0(char *, b->n + 1);
    for (size_t i = 0; i < b->n; i++)
        bc->ranges[i].topic = bc->topics[i] = g_strdup(b->topics[i]);
    return bc;
}

/* Messages a batch may take: per partition from max_rate_per_partition, in total from
 * backpressure (its estimate, or the initial rate before the first one). */
static void batch_caps(const em_dstream *ds, kafka_dstream *st, int64_t *per, int64_t *total)
{
    const em_kafka_opts *o = em__kafka_consumer_opts(st->consumer);
    double secs = (double)ds->slide / 1000.0;
    *per = o->max_rate_per_partition > 0
               ? MAX(1, (int64_t)((double)o->max_rate_per_partition * secs))
               : -1;
    double rate = st->rate >= 0 ? st->rate : (double)o->initial_rate;
    *total = o->backpressure && rate > 0 ? MAX(1, (int64_t)(rate * secs)) : -1;
}

static void kafka_seal(em_dstream *ds, em_time t)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    int64_t per, total;
    g_mutex_lock(&st->lock);
    batch_caps(ds, st, &per, &total);
    g_mutex_unlock(&st->lock);
    em_kafka_batch *b = em__kafka_consumer_take(st->consumer, t, per, total);
    batch_commit *bc = batch_commit_new(b);
    g_mutex_lock(&st->lock);
    g_queue_push_tail(&st->sealed, b);
    g_queue_push_tail(&st->pending, bc);
    g_mutex_unlock(&st->lock);
}

static em_rdd *kafka_compute(em_dstream *ds, em_time t, GError **err)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    em_kafka_batch *b = NULL;
    g_mutex_lock(&st->lock);
    while (st->sealed.length && ((em_kafka_batch *)g_queue_peek_head(&st->sealed))->time <= t) {
        em__kafka_batch_free(b);
        b = g_queue_pop_head(&st->sealed);
    }
    for (GList *l = st->pending.head; l; l = l->next)
        if (((batch_commit *)l->data)->time == t)
            ((batch_commit *)l->data)->computed = true;
    g_mutex_unlock(&st->lock);
    if (!b || b->time != t) {
        em__kafka_batch_free(b);
        return em_empty_rdd(ds->ssc->sc);
    }
    if (b->error) {
        g_propagate_error(err, g_steal_pointer(&b->error));
        em__kafka_batch_free(b);
        return NULL;
    }
    ds->last_records = b->records;
    return em__kafka_rdd_new(ds->ssc->sc, b);
}

/* The batch at info's time completed: commit, in order, every batch whose RDD was computed by
 * now and whose outputs succeeded; a failed batch stops commits for good (restarting reads
 * its data again: at least once, nothing lost). Runs on the scheduler thread. */
static void on_batch_completed(const em_batch_info *info, void *ud)
{
    em_dstream *ds = ud;
    kafka_dstream *st = (kafka_dstream *)ds;
    const em_kafka_opts *o = em__kafka_consumer_opts(st->consumer);
    GPtrArray *ready = g_ptr_array_new_with_free_func((GDestroyNotify)batch_commit_free);
    g_mutex_lock(&st->lock);
    for (GList *l = st->pending.head; l; l = l->next) {
        batch_commit *bc = l->data;
        if (bc->time <= info->batch_time && !bc->done) {
            bc->done = true;
            bc->ok = !info->failed && bc->computed;
        }
    }
    while (st->pending.length && ((batch_commit *)g_queue_peek_head(&st->pending))->done) {
        batch_commit *bc = g_queue_pop_head(&st->pending);
        if (!bc->ok && !st->blocked) {
            st->blocked = true;
            g_warning("Kafka direct stream: batch %" PRId64 " ms failed: its offsets and all "
                      "later ones stay uncommitted (a restart reads them again)",
                      (int64_t)bc->time);
        }
        g_ptr_array_add(ready, bc);
    }
    bool stopping = st->stopping;
    if (o->backpressure && ds->input_id >= 0 && ds->input_id < info->n_inputs) {
        double rate = em__rate_estimator_compute(st->estimator, info->batch_time,
                                                 info->input_records[ds->input_id],
                                                 info->processing_delay, info->scheduling_delay);
        if (rate >= 0)
            st->rate = rate;
    }
    bool commit = !st->blocked && o->commit == EM_KAFKA_COMMIT_AFTER_OUTPUT;
    g_mutex_unlock(&st->lock);
    for (guint i = 0; commit && i < ready->len; i++) {
        batch_commit *bc = ready->pdata[i];
        em__kafka_consumer_commit(st->consumer, bc->time, bc->ranges, bc->n);
    }
    g_ptr_array_unref(ready);
    /* A stop waits (bounded) for the commits, so that what the batches did is on record. */
    if (stopping)
        em__kafka_consumer_wait_commits(st->consumer,
                                        o->commit_wait_ms ? o->commit_wait_ms : 10000);
}

static bool kafka_start(em_dstream *ds, GError **err)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    return em__kafka_consumer_start(st->consumer, err);
}

static void kafka_stop(em_dstream *ds, bool graceful)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    g_mutex_lock(&st->lock);
    st->stopping = true;
    g_mutex_unlock(&st->lock);
    em__kafka_consumer_pause(st->consumer);
    if (!graceful)
        em__kafka_consumer_drop(st->consumer);
}

static bool kafka_has_pending(em_dstream *ds)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    return em__kafka_consumer_buffered(st->consumer) > 0;
}

static void kafka_finalize(em_dstream *ds)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    if (st->consumer) {
        const em_kafka_opts *o = em__kafka_consumer_opts(st->consumer);
        em__kafka_consumer_wait_commits(st->consumer,
                                        o->commit_wait_ms ? o->commit_wait_ms : 10000);
    }
    if (st->consumer)
        em__kafka_consumer_close(st->consumer);
    g_queue_clear_full(&st->sealed, (GDestroyNotify)em__kafka_batch_free);
    em__kafka_consumer_unref(st->consumer);
    g_queue_clear_full(&st->pending, (GDestroyNotify)batch_commit_free);
    em__rate_estimator_free(st->estimator);
    g_mutex_clear(&st->lock);
}

static const em_dstream_class kafka_class = {
    .type_name = "DirectKafkaInputDStream",
    .instance_size = sizeof(kafka_dstream),
    .compute = kafka_compute,
    .seal = kafka_seal,
    .start = kafka_start,
    .stop = kafka_stop,
    .has_pending = kafka_has_pending,
    .finalize = kafka_finalize,
};

em_dstream *em_kafka_direct_stream_full(em_ssc *ssc, const em_kafka_opts *opts, GError **err)
{
    if (!ssc || !opts) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_kafka_direct_stream: the ssc and the options are required");
        return NULL;
    }
    em_kafka_consumer *consumer = em__kafka_consumer_new(opts, "Kafka direct stream", err);
    if (!consumer)
        return NULL;
    em_dstream *ds = em__input_new(ssc, &kafka_class, "createDirectStream");
    if (!ds) {
        em__kafka_consumer_unref(consumer);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_kafka_direct_stream: the StreamingContext is not in its "
                    "INITIALIZED state");
        return NULL;
    }
    kafka_dstream *st = (kafka_dstream *)ds;
    st->consumer = consumer;
    st->rate = -1;
    g_mutex_init(&st->lock);
    g_queue_init(&st->sealed);
    g_queue_init(&st->pending);
    if (opts->backpressure)
        st->estimator = em__pid_rate_estimator_new(ssc->batch, 1.0, 0.2, 0.0, 100.0);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = on_batch_completed}, ds);
    return ds;
}

em_dstream *em_kafka_direct_stream(em_ssc *ssc, const em_kafka_opts *opts)
{
    GError *err = NULL;
    em_dstream *ds = em_kafka_direct_stream_full(ssc, opts, &err);
    if (!ds) {
        g_critical("%s", err->message);
        g_error_free(err);
    }
    return ds;
}

em_kafka_consumer *em__kafka_stream_consumer(const em_dstream *ds)
{
    return ds && ds->klass == &kafka_class ? ((const kafka_dstream *)ds)->consumer : NULL;
}

bool em__kafka_stream_batch_ranges(const em_dstream *ds, em_time t, em_kafka_offset_range **out,
                                   size_t *n)
{
    if (!em__kafka_stream_consumer(ds))
        return false;
    kafka_dstream *st = (kafka_dstream *)ds;
    bool found = false;
    g_mutex_lock(&st->lock);
    for (GList *l = st->pending.head; l && !found; l = l->next) {
        batch_commit *bc = l->data;
        if (bc->time == t) {
            *out = g_memdup2(bc->ranges, sizeof *bc->ranges * (bc->n ? bc->n : 1));
            *n = bc->n;
            found = true;
        }
    }
    g_mutex_unlock(&st->lock);
    return found;
}

bool em__kafka_stream_wait_buffered(em_dstream *ds, int64_t n, int64_t timeout_ms)
{
    return em__kafka_consumer_wait_buffered(em__kafka_stream_consumer(ds), n, timeout_ms);
}

static em_kafka_consumer *consumer_of(const em_dstream *ds, const char *fn)
{
    em_kafka_consumer *c = em__kafka_stream_consumer(ds);
    if (!c)
        g_critical("%s: the stream is not a Kafka direct stream (em_kafka_direct_stream)", fn);
    return c;
}

bool em_kafka_commit_async(em_dstream *ds, const em_kafka_offset_range *ranges, size_t n)
{
    em_kafka_consumer *c = consumer_of(ds, "em_kafka_commit_async");
    if (c)
        em__kafka_consumer_commit(c, -1, ranges, n);
    return c != NULL;
}

bool em_kafka_stream_stats_get(em_dstream *ds, em_kafka_stream_stats *out)
{
    em_kafka_consumer *c = consumer_of(ds, "em_kafka_stream_stats_get");
    if (!c)
        return false;
    em__kafka_consumer_stats(c, out);
    kafka_dstream *st = (kafka_dstream *)ds;
    g_mutex_lock(&st->lock);
    out->rate = st->rate >= 0 ? (int64_t)st->rate : -1;
    g_mutex_unlock(&st->lock);
    return true;
}
