/* The Kafka direct stream in the DStream graph (Spark's DirectKafkaInputDStream): the glue
 * between the consumer (input-kafka-consumer.c) and the graph. seal fixes each batch's offset
 * ranges from what the consumer buffered, under the rate limits; compute makes the KafkaRDD;
 * a listener commits a batch's offsets once its outputs succeeded, in batch order. */
#include "checkpoint-file.h"
#include "input-kafka-private.h"
#include "rate-estimator.h"
#include "recovery.h"
#include "streaming-private.h"
#include "wal.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>

/* How long a batch replayed after a recovery waits for its messages to be fetched. */
#define REPLAY_TIMEOUT_MS 60000
/* Completed batches whose ranges stay known (progress records ask after completion). */
#define RANGES_KEPT 64
/* The checkpointed position's format. */
#define POSITION_FORMAT "kafka-offsets/1"

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
    GQueue done;    /* batch_commit *: the last RANGES_KEPT completed, ascending time */
    /* Recovery: the checkpoint's positions ("topic\x01partition" -> int64_t *) and the batches
     * to seal again with exactly their ranges (em_time * -> batch_commit *), from the
     * checkpoint's pending batches and the journal. */
    GHashTable *positions;
    GHashTable *replay;
    /* With checkpoints, each batch's ranges are logged (fsynced) when sealed: after a crash
     * the batches sealed since the newest checkpoint get exactly the same ranges again. */
    em_wal *journal;
    GArray *logged; /* journal_mark, ascending time */
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

static batch_commit *ranges_copy(em_time t, const em_kafka_offset_range *ranges, size_t n)
{
    batch_commit *bc = g_new0(batch_commit, 1);
    bc->time = t;
    bc->n = n;
    bc->ranges = g_memdup2(ranges, sizeof *ranges * (n ? n : 1));
    bc->topics = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++)
        bc->ranges[i].topic = bc->topics[i] = g_strdup(ranges[i].topic);
    return bc;
}

static batch_commit *batch_commit_new(const em_kafka_batch *b)
{
    return ranges_copy(b->time, b->ranges, b->n);
}

typedef struct journal_mark {
    em_time time;
    uint64_t seq;
} journal_mark;

/* ---- Encoding ranges: (topic, partition, from, until) as four values each ---- */

static void put_ranges(GArray *vals, const em_kafka_offset_range *r, size_t n)
{
    em_value v = em_int((int64_t)n);
    g_array_append_val(vals, v);
    for (size_t i = 0; i < n; i++) {
        em_value four[4] = {em_str(r[i].topic), em_int(r[i].partition), em_int(r[i].from),
                            em_int(r[i].until)};
        g_array_append_vals(vals, four, 4);
    }
}

/* Reads n ranges at vals[*at..]; NULL when the values are not ranges. */
static batch_commit *get_ranges(em_time t, const em_value *vals, size_t count, size_t *at)
{
    if (*at >= count || vals[*at].type != EM_T_INT)
        return NULL;
    int64_t n = vals[(*at)++].as.i;
    if (n < 0 || (size_t)n > (count - *at) / 4)
        return NULL;
    batch_commit *bc = g_new0(batch_commit, 1);
    bc->time = t;
    bc->n = (size_t)n;
    bc->ranges = g_new0(em_kafka_offset_range, bc->n + 1);
    bc->topics = g_new0(char *, bc->n + 1);
    for (size_t i = 0; i < bc->n; i++, *at += 4) {
        const em_value *v = vals + *at;
        if (v[0].type != EM_T_STR || v[1].type != EM_T_INT || v[2].type != EM_T_INT ||
            v[3].type != EM_T_INT) {
            batch_commit_free(bc);
            return NULL;
        }
        bc->topics[i] = g_strndup(v[0].as.s, v[0].len);
        bc->ranges[i] = (em_kafka_offset_range){bc->topics[i], (int32_t)v[1].as.i, v[2].as.i,
                                                v[3].as.i, v[3].as.i - v[2].as.i};
    }
    return bc;
}

static char *tp_key(const char *topic, int32_t partition)
{
    return g_strdup_printf("%s\x01%" PRId32, topic, partition);
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

static void journal_append(em_dstream *ds, kafka_dstream *st, const batch_commit *bc)
{
    GArray *vals = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_value head[2] = {em_int(ds->ssc->zero_time), em_int(bc->time)};
    g_array_append_vals(vals, head, 2);
    put_ranges(vals, bc->ranges, bc->n);
    GByteArray *rec = g_byte_array_new();
    em_values_encode((const em_value *)vals->data, vals->len, rec);
    g_array_unref(vals);
    GError *err = NULL;
    journal_mark mark = {.time = bc->time};
    if (em__wal_append(st->journal, rec->data, rec->len, &mark.seq, &err)) {
        g_array_append_val(st->logged, mark);
    } else {
        g_warning("Kafka direct stream: the offset ranges of batch %" PRId64 " ms are not "
                  "logged, a crash now may give other ranges to that batch on recovery: %s",
                  (int64_t)bc->time, err->message);
        g_error_free(err);
    }
    g_byte_array_unref(rec);
    /* What the newest written checkpoint covers is not needed any more. */
    em_time covered = em__recovery_last_written(ds->ssc);
    uint64_t upto = 0;
    guint drop = 0;
    while (drop < st->logged->len && g_array_index(st->logged, journal_mark, drop).time <= covered)
        upto = g_array_index(st->logged, journal_mark, drop++).seq;
    if (drop && em__wal_clean(st->journal, upto, NULL) >= 0)
        g_array_remove_range(st->logged, 0, drop);
}

/* A batch's ranges are fixed here: a batch replayed after a recovery gets exactly the ranges it
 * had; any other takes what was fetched, under the rate limits. The lock is held throughout so
 * that a checkpoint sees every taken range among the pending batches. */
static void kafka_seal(em_dstream *ds, em_time t)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    int64_t per, total;
    g_mutex_lock(&st->lock);
    batch_commit *again = st->replay ? g_hash_table_lookup(st->replay, &t) : NULL;
    em_kafka_batch *b;
    if (again) {
        b = em__kafka_batch_fixed(st->consumer, t, again->ranges, again->n);
        g_hash_table_remove(st->replay, &t);
    } else {
        batch_caps(ds, st, &per, &total);
        b = em__kafka_consumer_take(st->consumer, t, per, total);
    }
    batch_commit *bc = batch_commit_new(b);
    if (st->journal)
        journal_append(ds, st, bc);
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
    /* Spark's KafkaRDD reads its ranges when computed: a replayed batch waits for them. */
    if (b->unfilled && !em__kafka_consumer_fill(st->consumer, b, REPLAY_TIMEOUT_MS, err)) {
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
    for (guint i = 0; i < ready->len; i++)
        g_queue_push_tail(&st->done, ranges_copy(((batch_commit *)ready->pdata[i])->time,
                                                 ((batch_commit *)ready->pdata[i])->ranges,
                                                 ((batch_commit *)ready->pdata[i])->n));
    while (st->done.length > RANGES_KEPT)
        batch_commit_free(g_queue_pop_head(&st->done));
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

/* ---- Checkpoints (Spark's DirectKafkaInputDStreamCheckpointData) ----
 * A checkpoint after batch t holds, per partition, where the batch after t starts, and the
 * ranges of every batch after t already sealed (generated, not completed) or still to replay.
 * On recovery those batches run again with exactly those ranges, and new batches start after
 * them: the group's committed offsets are not read for these partitions. */

static void add_batch(GArray *vals, GHashTable *starts, const batch_commit *bc)
{
    em_value v = em_int(bc->time);
    g_array_append_val(vals, v);
    put_ranges(vals, bc->ranges, bc->n);
    for (size_t i = 0; i < bc->n; i++) {
        char *key = tp_key(bc->ranges[i].topic, bc->ranges[i].partition);
        int64_t *from = g_hash_table_lookup(starts, key);
        if (!from || *from > bc->ranges[i].from)
            g_hash_table_insert(starts, key, g_memdup2(&bc->ranges[i].from, sizeof(int64_t)));
        else
            g_free(key);
    }
}

static void kafka_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    GArray *vals = g_array_new(FALSE, FALSE, sizeof(em_value));
    GArray *batches = g_array_new(FALSE, FALSE, sizeof(em_value));
    GHashTable *starts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    int64_t n_batches = 0;
    g_mutex_lock(&st->lock);
    for (GList *l = st->pending.head; l; l = l->next)
        if (((batch_commit *)l->data)->time > t) {
            add_batch(batches, starts, l->data);
            n_batches++;
        }
    if (st->replay) {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, st->replay);
        while (g_hash_table_iter_next(&it, &key, &value))
            if (*(em_time *)key > t) {
                add_batch(batches, starts, value);
                n_batches++;
            }
    }
    GArray *now = em__kafka_consumer_positions(st->consumer);
    em_value v = em_str(POSITION_FORMAT);
    g_array_append_val(vals, v);
    GArray *pos = g_array_new(FALSE, FALSE, sizeof(em_value));
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < now->len; i++) {
        const em_kafka_tp *tp = &g_array_index(now, em_kafka_tp, i);
        char *key = tp_key(tp->topic, tp->partition);
        g_ptr_array_add(keys, key);
        const int64_t *from = g_hash_table_lookup(starts, key);
        em_value three[3] = {em_str(tp->topic), em_int(tp->partition),
                             em_int(from ? *from : tp->offset)};
        g_array_append_vals(pos, three, 3);
    }
    v = em_int((int64_t)pos->len / 3);
    g_array_append_val(vals, v);
    g_array_append_vals(vals, pos->data, pos->len);
    v = em_int(n_batches);
    g_array_append_val(vals, v);
    g_array_append_vals(vals, batches->data, batches->len);
    GByteArray *blob = g_byte_array_new();
    em_values_encode((const em_value *)vals->data, vals->len, blob);
    g_mutex_unlock(&st->lock);
    em__ckpt_put_position(ck, name, blob->data, blob->len);
    g_byte_array_unref(blob);
    g_ptr_array_unref(keys);
    g_array_unref(pos);
    g_array_unref(now);
    g_hash_table_unref(starts);
    g_array_unref(batches);
    g_array_unref(vals);
}

static GHashTable *replay_table(void)
{
    return g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                 (GDestroyNotify)batch_commit_free);
}

static void replay_put(kafka_dstream *st, batch_commit *bc)
{
    if (!st->replay)
        st->replay = replay_table();
    g_hash_table_replace(st->replay, g_memdup2(&bc->time, sizeof(em_time)), bc);
}

static bool kafka_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                     em_time t, GError **err)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    GBytes *blob = em__ckpt_get_position(ck, name);
    if (!blob)
        return true; /* an input the checkpoint did not know: it starts as a new one */
    em_arena *arena = em_arena_new();
    em_value *vals = NULL;
    size_t count = 0, len = 0, at = 2;
    const uint8_t *bytes = g_bytes_get_data(blob, &len);
    bool ok = em_values_decode(bytes, len, arena, &vals, &count, NULL) && count >= 2 &&
              vals[0].type == EM_T_STR && vals[0].len == strlen(POSITION_FORMAT) &&
              !memcmp(vals[0].as.s, POSITION_FORMAT, vals[0].len) && vals[1].type == EM_T_INT &&
              vals[1].as.i >= 0 && (size_t)vals[1].as.i <= (count - 2) / 3;
    g_mutex_lock(&st->lock);
    if (ok && !st->positions)
        st->positions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int64_t i = 0; ok && i < vals[1].as.i; i++, at += 3) {
        ok = vals[at].type == EM_T_STR && vals[at + 1].type == EM_T_INT &&
             vals[at + 2].type == EM_T_INT;
        if (!ok)
            break;
        g_autofree char *topic = g_strndup(vals[at].as.s, vals[at].len);
        g_hash_table_replace(st->positions, tp_key(topic, (int32_t)vals[at + 1].as.i),
                             g_memdup2(&vals[at + 2].as.i, sizeof(int64_t)));
    }
    int64_t n_batches = ok && at < count && vals[at].type == EM_T_INT ? vals[at++].as.i : -1;
    ok = ok && n_batches >= 0;
    for (int64_t i = 0; ok && i < n_batches; i++) {
        ok = at < count && vals[at].type == EM_T_INT;
        em_time bt = ok ? vals[at++].as.i : 0;
        batch_commit *bc = ok ? get_ranges(bt, vals, count, &at) : NULL;
        ok = bc != NULL;
        if (ok && bt > t)
            replay_put(st, bc);
        else if (bc)
            batch_commit_free(bc);
    }
    g_mutex_unlock(&st->lock);
    if (!ok)
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "Kafka direct stream: the checkpoint's position is not a list of Kafka "
                    "offsets (%s)",
                    POSITION_FORMAT);
    g_free(vals);
    em_arena_free(arena);
    return ok;
}

/* Reads back one journaled batch: [zero time, time, ranges]. */
static bool journal_record(uint64_t seq, const void *data, size_t n, void *ud)
{
    (void)seq;
    em_dstream *ds = ud;
    kafka_dstream *st = ud;
    em_arena *arena = em_arena_new();
    em_value *vals = NULL;
    size_t count = 0, at = 2;
    em_time recovered = em_ssc_recovered_time(ds->ssc);
    if (em_values_decode(data, n, arena, &vals, &count, NULL) && count >= 3 &&
        vals[0].type == EM_T_INT && vals[1].type == EM_T_INT &&
        vals[0].as.i == ds->ssc->zero_time && vals[1].as.i > recovered) {
        batch_commit *bc = get_ranges(vals[1].as.i, vals, count, &at);
        if (bc)
            replay_put(st, bc);
    }
    g_free(vals);
    em_arena_free(arena);
    return true;
}

/* Opens the journal under the checkpoint directory. After a recovery the batches it logged
 * after the checkpoint are replayed; without one, what an earlier run logged is dropped (its
 * batch times are not this run's). */
static void journal_open(em_dstream *ds, kafka_dstream *st)
{
    g_autofree char *dir = em__recovery_input_log(ds);
    if (!dir || st->journal)
        return;
    GError *err = NULL;
    bool recovered = em_ssc_recovered_time(ds->ssc) >= 0;
    if (!recovered && g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        em_wal *old = em__wal_open(dir, NULL, NULL);
        GPtrArray *segs = old ? em__wal_segments(old) : NULL;
        em__wal_close(old);
        for (guint i = 0; segs && i < segs->len; i++)
            g_unlink(segs->pdata[i]);
        if (segs)
            g_ptr_array_unref(segs);
    }
    st->journal = em__wal_open(dir, NULL, &err);
    if (!st->journal) {
        g_warning("Kafka direct stream: no journal of its batches' offset ranges, a crash may "
                  "give other ranges to batches run again on recovery: %s",
                  err->message);
        g_error_free(err);
        return;
    }
    st->logged = g_array_new(FALSE, FALSE, sizeof(journal_mark));
    if (recovered)
        em__wal_replay(st->journal, 0, journal_record, ds, NULL);
}

/* Hands the consumer where each partition restarts: fetching at the oldest replayed range's
 * start (else the checkpoint's position), new batches after the newest replayed range. */
static void restore_positions(kafka_dstream *st)
{
    GHashTable *fetch = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTable *resume = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (st->positions) {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, st->positions);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            g_hash_table_replace(fetch, g_strdup(key), g_memdup2(value, sizeof(int64_t)));
            g_hash_table_replace(resume, g_strdup(key), g_memdup2(value, sizeof(int64_t)));
        }
    }
    if (st->replay) {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, st->replay);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            const batch_commit *bc = value;
            for (size_t i = 0; i < bc->n; i++) {
                const em_kafka_offset_range *r = &bc->ranges[i];
                char *k = tp_key(r->topic, r->partition);
                int64_t *f = g_hash_table_lookup(fetch, k), *u = g_hash_table_lookup(resume, k);
                if (!f || *f > r->from)
                    g_hash_table_replace(fetch, g_strdup(k), g_memdup2(&r->from, sizeof r->from));
                if (!u || *u < r->until)
                    g_hash_table_replace(resume, g_strdup(k),
                                         g_memdup2(&r->until, sizeof r->until));
                g_free(k);
            }
        }
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, fetch);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const char *sep = strrchr(key, '\x01');
        g_autofree char *topic = g_strndup(key, (gsize)(sep - (const char *)key));
        int64_t *u = g_hash_table_lookup(resume, key);
        em__kafka_consumer_restore(st->consumer, topic,
                                   (int32_t)g_ascii_strtoll(sep + 1, NULL, 10), *(int64_t *)value,
                                   *u);
    }
    g_hash_table_unref(resume);
    g_hash_table_unref(fetch);
}

/* A commit's outcome to every listener (em_listener.input_committed), on the polling
 * thread. The consumer stops reporting before the stream, and the listeners, are freed. */
static void post_commit(const em_kafka_commit_info *info, void *ud)
{
    em_dstream *ds = ud;
    em_input_offset_range *ranges = g_new0(em_input_offset_range, info->n_ranges + 1);
    for (size_t i = 0; i < info->n_ranges; i++)
        ranges[i] = (em_input_offset_range){info->ranges[i].topic, info->ranges[i].partition,
                                            info->ranges[i].from, info->ranges[i].until};
    em_input_commit_info ci = {.stream_id = ds->input_id,
                               .batch_time = info->batch_time,
                               .on_revocation = info->on_revocation,
                               .ranges = ranges,
                               .n_ranges = info->n_ranges,
                               .error = info->error};
    GArray *listeners = em__listener_bus_snapshot(ds->ssc);
    for (guint i = 0; i < listeners->len; i++) {
        const em_listener_entry *e = &g_array_index(listeners, em_listener_entry, i);
        if (e->l.input_committed)
            e->l.input_committed(&ci, e->ud);
    }
    g_array_unref(listeners);
    g_free(ranges);
}

static bool kafka_start(em_dstream *ds, GError **err)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    g_mutex_lock(&st->lock);
    journal_open(ds, st);
    restore_positions(st);
    g_mutex_unlock(&st->lock);
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
    g_queue_clear_full(&st->done, (GDestroyNotify)batch_commit_free);
    if (st->replay)
        g_hash_table_unref(st->replay);
    if (st->positions)
        g_hash_table_unref(st->positions);
    em__wal_close(st->journal);
    if (st->logged)
        g_array_unref(st->logged);
    em__rate_estimator_free(st->estimator);
    g_mutex_clear(&st->lock);
}

/* Batch t's ranges among the pending and recently completed batches; the caller holds the
 * lock. */
static const batch_commit *find_ranges(kafka_dstream *st, em_time t)
{
    for (GList *l = st->pending.head; l; l = l->next)
        if (((batch_commit *)l->data)->time == t)
            return l->data;
    for (GList *l = st->done.head; l; l = l->next)
        if (((batch_commit *)l->data)->time == t)
            return l->data;
    return NULL;
}

static em_input_offset_range *kafka_offset_ranges(em_dstream *ds, em_time t, size_t *n)
{
    kafka_dstream *st = (kafka_dstream *)ds;
    em_input_offset_range *out = NULL;
    g_mutex_lock(&st->lock);
    const batch_commit *bc = find_ranges(st, t);
    if (bc) {
        *n = bc->n;
        out = g_new0(em_input_offset_range, bc->n ? bc->n : 1);
        for (size_t i = 0; i < bc->n; i++)
            out[i] =
                (em_input_offset_range){g_strdup(bc->ranges[i].topic), bc->ranges[i].partition,
                                        bc->ranges[i].from, bc->ranges[i].until};
    }
    g_mutex_unlock(&st->lock);
    return out;
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
    .checkpoint_save = kafka_checkpoint_save,
    .checkpoint_restore = kafka_checkpoint_restore,
    .offset_ranges = kafka_offset_ranges,
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
    em__kafka_consumer_on_commit(consumer, post_commit, ds);
    st->rate = -1;
    g_mutex_init(&st->lock);
    g_queue_init(&st->sealed);
    g_queue_init(&st->pending);
    g_queue_init(&st->done);
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
    const batch_commit *bc = find_ranges(st, t);
    if (bc) {
        *out = g_memdup2(bc->ranges, sizeof *bc->ranges * (bc->n ? bc->n : 1));
        *n = bc->n;
        found = true;
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
