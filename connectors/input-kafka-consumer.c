/* The Kafka direct stream's consumer: a librdkafka consumer polled by a thread of its own, so
 * that a slow batch never makes it miss max.poll.interval.ms, buffering fetched messages per
 * partition until a batch takes them. It resolves starting offsets on assignment, applies the
 * out-of-range policy, pauses partitions whose buffer is full and commits offsets. */
#include "input-kafka-private.h"

#include <inttypes.h>
#include <string.h>

#define POLL_MS 100
#define POLL_BURST 1024
#define QUERY_TIMEOUT_MS 10000

/* One topic-partition the consumer has been assigned (kept, unassigned, after a revocation). */
typedef struct kpart {
    char *topic;
    int32_t partition;
    GPtrArray *msgs;   /* rd_kafka_message_t *, fetched and not taken, ascending offsets */
    int64_t next_from; /* where the next range starts; -1 until known */
    /* After a recovery: offsets below this belong to batches replayed from the checkpoint,
     * which take them (em__kafka_consumer_fill); new batches start at next_from. -1: none. */
    int64_t reserved_until;
    /* Commits: the newest offset asked to be committed (processed: its batch completed), of
     * which batch, and the newest the group confirmed; -1 for none. */
    int64_t processed, committed;
    em_time processed_batch;
    bool assigned;
    bool paused;
    /* The partition's fetch queue, held from its assignment until the consumer closes, which
     * empties it (see drain_fetch_queues); NULL before the first assignment. */
    rd_kafka_queue_t *fetchq;
} kpart;

/* Where a partition restarts after a recovery: fetching at fetch_from (the oldest replayed
 * range's start), new batches at resume (after the replayed ranges). */
typedef struct restored_pos {
    int64_t fetch_from, resume;
} restored_pos;

static char *tp_key(const char *topic, int32_t partition)
{
    return g_strdup_printf("%s\x01%" PRId32, topic, partition);
}

/* A commit in flight: librdkafka reports commits in the order they were made. */
typedef struct pending_commit {
    em_time batch_time;
    em_kafka_offset_range *ranges;
    size_t n;
} pending_commit;

struct em_kafka_consumer {
    gint refcount; /* the stream's, and one per batch holding its messages */
    bool closed;
    char *what;         /* "Kafka direct stream (group g, brokers b)": names errors */
    em_kafka_opts opts; /* strings and arrays below are copies */
    GPtrArray *owned;   /* every string copied for opts */
    em_kafka_tp *assign, *offsets;
    rd_kafka_t *rk;
    GThread *thread;
    gint running;
    GMutex lock;
    GCond cond;
    GHashTable *topics; /* topic name -> GPtrArray of kpart * indexed by partition */
    GPtrArray *parts;   /* every kpart, in (topic, partition) order */
    int64_t buffered;
    int64_t max_buffered;
    GError *failure; /* for the next batch */
    bool stopping;
    GQueue commits;     /* pending_commit *, oldest first */
    GHashTable *gone;   /* topics reported as no longer existing */
    GPtrArray *retired; /* rd_kafka_queue_t *: fetch queues of deleted topics' old partitions */
    void (*report)(const em_kafka_commit_info *info, void *ud); /* the glue's */
    void *report_ud;
    GHashTable *restored; /* "topic\x01partition" -> restored_pos *: checkpointed positions */
    int64_t n_commits, n_commit_failures, skipped, paused, pauses;
    int64_t assigned, assignments, revocations;
};

static void message_free(gpointer m) { rd_kafka_message_destroy(m); }

static void batch_msgs_free(rd_kafka_message_t **msgs, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    g_free(msgs);
}

void em__kafka_batch_free(em_kafka_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        batch_msgs_free(b->msgs[i], b->ranges[i].count);
        g_free(b->topics[i]);
    }
    g_free(b->msgs);
    g_free(b->topics);
    g_free(b->ranges);
    g_clear_error(&b->error);
    em__kafka_consumer_unref(b->consumer);
    g_free(b);
}

/* ---- Configuration ---- */

bool em__kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                        const char *what, GError **err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
        return true;
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: librdkafka property %s=%s: %s", what, name,
                value, errstr);
    return false;
}

/* librdkafka's syslog levels on Spark's: emergencies to notices of errors (0-3) and warnings
 * (4) are WARN (its errors also reach error_cb, and a broker going away is no failure of
 * Ember's), notices and informational lines (5-6) INFO, debugging (7) DEBUG. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    em_log_level l = level <= 4 ? EM_LOG_WARN : level <= 6 ? EM_LOG_INFO : EM_LOG_DEBUG;
    if (l < em_get_log_level())
        return;
    GLogLevelFlags glib = l == EM_LOG_WARN   ? G_LOG_LEVEL_WARNING
                          : l == EM_LOG_INFO ? G_LOG_LEVEL_INFO
                                             : G_LOG_LEVEL_DEBUG;
    char *message = g_strdup_printf("librdkafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
    const GLogField fields[] = {
        {"GLIB_DOMAIN", G_LOG_DOMAIN, -1},
        {"EMBER_LEVEL",
         l == EM_LOG_WARN   ? "WARN"
         : l == EM_LOG_INFO ? "INFO"
                            : "DEBUG",
         -1},
        {"KAFKA_FACILITY", fac, -1},
        {"MESSAGE", message, -1},
    };
    g_log_structured_array(glib, fields, G_N_ELEMENTS(fields));
    g_free(message);
}

void em__kafka_conf_set_log(rd_kafka_conf_t *conf) { rd_kafka_conf_set_log_cb(conf, log_cb); }

rd_kafka_resp_err_t em__kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                        int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    rd_kafka_resp_err_t code;
    while ((code = rd_kafka_committed(rk, parts, timeout_ms)) &&
           (code == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
            code == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
            code == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE) &&
           g_get_monotonic_time() < deadline)
        g_usleep(100 * 1000);
    return code;
}

bool em__kafka_conf_set_all(rd_kafka_conf_t *conf, const char *const *params, const char *what,
                            GError **err)
{
    for (size_t i = 0; params && params[i]; i += 2) {
        if (!params[i + 1]) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "%s: librdkafka property %s has no value (params are name, value "
                        "pairs ending in NULL)",
                        what, params[i]);
            return false;
        }
        if (!em__kafka_conf_set(conf, params[i], params[i + 1], what, err))
            return false;
    }
    return true;
}

static const char *keep(em_kafka_consumer *c, const char *s)
{
    if (!s)
        return NULL;
    char *copy = g_strdup(s);
    g_ptr_array_add(c->owned, copy);
    return copy;
}

static em_kafka_tp *keep_tps(em_kafka_consumer *c, const em_kafka_tp *tps, size_t n)
{
    if (!n)
        return NULL;
    em_kafka_tp *copy = g_new(em_kafka_tp, n);
    for (size_t i = 0; i < n; i++)
        copy[i] = (em_kafka_tp){keep(c, tps[i].topic), tps[i].partition, tps[i].offset};
    return copy;
}

static bool check_opts(const em_kafka_opts *o, const char *what, GError **err)
{
    const char *bad = NULL;
    int strategies = (o->topics != NULL) + (o->pattern != NULL) + (o->assign != NULL);
    if (!o->brokers || !*o->brokers)
        bad = "brokers (bootstrap.servers) is required";
    else if (!o->group_id || !*o->group_id)
        bad = "group_id is required";
    else if (strategies != 1)
        bad = "give exactly one of topics (subscribe), pattern (subscribe by pattern) and "
              "assign (assign)";
    else if (o->assign && !o->n_assign)
        bad = "assign needs n_assign > 0";
    else if (o->offsets && o->assign)
        bad = "offsets is for subscribe; with assign, give each partition's offset there";
    else if (o->max_rate_per_partition < 0 || o->initial_rate < 0 ||
             o->max_buffered_per_partition < 0 || o->commit_wait_ms < 0)
        bad = "rates, buffer sizes and waits cannot be negative";
    for (size_t i = 0; !bad && o->params && o->params[i]; i += 2)
        if (!strcmp(o->params[i], "enable.auto.commit") ||
            !strcmp(o->params[i], "enable.auto.offset.store") ||
            !strcmp(o->params[i], "auto.offset.reset"))
            bad = "enable.auto.commit, enable.auto.offset.store and auto.offset.reset are "
                  "Ember's (use commit, start and out_of_range)";
    if (bad)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", what, bad);
    return !bad;
}

/* ---- Partitions ---- */

static kpart *part_find(em_kafka_consumer *c, const char *topic, int32_t partition)
{
    GPtrArray *by_p = g_hash_table_lookup(c->topics, topic);
    return by_p && partition >= 0 && (guint)partition < by_p->len ? by_p->pdata[partition] : NULL;
}

static gint part_cmp(gconstpointer a, gconstpointer b)
{
    const kpart *x = *(kpart *const *)a, *y = *(kpart *const *)b;
    int t = strcmp(x->topic, y->topic);
    return t ? t : (x->partition > y->partition) - (x->partition < y->partition);
}

static kpart *part_get(em_kafka_consumer *c, const char *topic, int32_t partition)
{
    kpart *p = part_find(c, topic, partition);
    if (p)
        return p;
    p = g_new0(kpart, 1);
    p->topic = g_strdup(topic);
    p->partition = partition;
    p->msgs = g_ptr_array_new_with_free_func(message_free);
    p->next_from = -1;
    p->reserved_until = -1;
    p->processed = p->committed = -1;
    GPtrArray *by_p = g_hash_table_lookup(c->topics, topic);
    if (!by_p) {
        by_p = g_ptr_array_new();
        g_hash_table_insert(c->topics, p->topic, by_p);
    }
    if ((guint)partition >= by_p->len)
        g_ptr_array_set_size(by_p, partition + 1);
    by_p->pdata[partition] = p;
    g_ptr_array_add(c->parts, p);
    g_ptr_array_sort(c->parts, part_cmp);
    return p;
}

static void part_drop(em_kafka_consumer *c, kpart *p)
{
    c->buffered -= p->msgs->len;
    g_ptr_array_set_size(p->msgs, 0);
}

static void part_free(gpointer data)
{
    kpart *p = data;
    g_assert(!p->fetchq); /* released by em__kafka_consumer_close, before rd_kafka_destroy */
    g_ptr_array_unref(p->msgs);
    g_free(p->topic);
    g_free(p);
}

/* ---- Assignment: starting offsets, rebalances ---- */

static int64_t given_offset(em_kafka_consumer *c, const char *topic, int32_t partition)
{
    const em_kafka_tp *tps = c->assign ? c->assign : c->offsets;
    size_t n = c->assign ? c->opts.n_assign : c->opts.n_offsets;
    for (size_t i = 0; i < n; i++)
        if (tps[i].partition == partition && !strcmp(tps[i].topic, topic))
            return tps[i].offset;
    return -1;
}

/* Sets each partition's offset to where it starts: the given offset, else the group's
 * committed one, else the log start or end by the start policy. Runs on the polling thread. */
static void resolve_offsets(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t cerr = em__kafka_committed(c->rk, committed, QUERY_TIMEOUT_MS);
    if (cerr)
        g_warning("%s: cannot read the group's committed offsets: %s", c->what,
                  rd_kafka_err2str(cerr));
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t off = given_offset(c, tp->topic, tp->partition);
        if (off < 0 && !cerr && committed->elems[i].offset >= 0)
            off = committed->elems[i].offset;
        if (off < 0) {
            int64_t lo, hi;
            rd_kafka_resp_err_t werr =
                rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi,
                                                 QUERY_TIMEOUT_MS);
            if (werr) {
                g_warning("%s: topic %s [%" PRId32 "]: cannot read its offsets: %s", c->what,
                          tp->topic, tp->partition, rd_kafka_err2str(werr));
                off = c->opts.start == EM_KAFKA_EARLIEST ? RD_KAFKA_OFFSET_BEGINNING
                                                         : RD_KAFKA_OFFSET_END;
            } else {
                off = c->opts.start == EM_KAFKA_EARLIEST ? lo : hi;
            }
        }
        tp->offset = off;
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

static void set_paused(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts, bool pause)
{
    if (!parts->cnt)
        return;
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(c->rk, parts) : rd_kafka_resume_partitions(c->rk, parts);
    if (err)
        g_warning("%s: cannot %s partitions: %s", c->what, pause ? "pause" : "resume",
                  rd_kafka_err2str(err));
}

/* A topic deleted while its partitions are assigned leaves librdkafka (2.0.x, its issue 4362)
 * with a partition object it no longer lists: the metadata update drops it from the topic,
 * and when the revocation removes it from the assignment librdkafka stops its fetcher (which
 * unhooks its fetch queue from the consumer's) and then resumes it, and that resume puts a
 * version barrier holding a reference to the partition into the unhooked queue. Nothing
 * serves that queue again and the purge at rd_kafka_destroy only walks the partitions the
 * topic still lists, so the partition is never freed, nor the reference it holds on its
 * leader broker, whose thread rd_kafka_destroy then waits for forever. The cure is to empty
 * those queues once the consumer is closed: so each assigned partition's fetch queue is held
 * from its assignment (it is found by name only while librdkafka lists the partition, and it
 * does while it is assigned). Runs on the polling thread, right after the partitions are
 * assigned, so the lookup finds them and creates nothing. */
static void hold_fetch_queues(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        g_mutex_lock(&c->lock);
        kpart *p = part_find(c, parts->elems[i].topic, parts->elems[i].partition);
        rd_kafka_queue_t *old = p ? g_steal_pointer(&p->fetchq) : NULL;
        g_mutex_unlock(&c->lock);
        if (!p)
            continue;
        /* Assigned again: the same partition object fetches into the consumer's queue again,
         * and the barrier left in its queue goes there and is served; but a topic deleted and
         * created again since has a new object, and the old one's queue is kept to be
         * emptied at close too. The topic exists again: a new deletion is warned about. */
        g_mutex_lock(&c->lock);
        bool recreated = c->gone && g_hash_table_remove(c->gone, parts->elems[i].topic);
        g_mutex_unlock(&c->lock);
        if (old && recreated)
            g_ptr_array_add(c->retired, old);
        else if (old)
            rd_kafka_queue_destroy(old);
        rd_kafka_queue_t *q =
            rd_kafka_queue_get_partition(c->rk, parts->elems[i].topic, parts->elems[i].partition);
        g_mutex_lock(&c->lock);
        p->fetchq = q;
        g_mutex_unlock(&c->lock);
    }
}

/* After rd_kafka_consumer_close (no partition is assigned, no fetcher runs): forwards every
 * held fetch queue to a queue that is then destroyed, which destroys what the fetch queues
 * hold (the barriers above) and anything librdkafka puts in them later, so that every
 * partition object can be freed and rd_kafka_destroy returns. Never done on a queue whose
 * partition may be assigned again: librdkafka would no longer hook a queue the application
 * forwarded to the consumer's. */
static void drain_fetch_queues(em_kafka_consumer *c)
{
    for (guint i = 0; i < c->parts->len; i++) {
        kpart *p = c->parts->pdata[i];
        if (p->fetchq)
            g_ptr_array_add(c->retired, g_steal_pointer(&p->fetchq));
    }
    rd_kafka_queue_t *sink = c->retired->len ? rd_kafka_queue_new(c->rk) : NULL;
    for (guint i = 0; i < c->retired->len; i++) {
        rd_kafka_queue_forward(c->retired->pdata[i], sink);
        rd_kafka_queue_destroy(c->retired->pdata[i]);
    }
    g_ptr_array_set_size(c->retired, 0);
    if (sink)
        rd_kafka_queue_destroy(sink); /* disabled: what comes later is destroyed on arrival */
}

static void on_assign(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    resolve_offsets(c, parts);
    g_mutex_lock(&c->lock);
    for (int i = 0; i < parts->cnt; i++) {
        kpart *p = part_get(c, parts->elems[i].topic, parts->elems[i].partition);
        part_drop(c, p);
        c->assigned += !p->assigned;
        p->assigned = true;
        p->paused = false;
        p->next_from = parts->elems[i].offset >= 0 ? parts->elems[i].offset : -1;
        p->reserved_until = -1;
        /* What this process processed before an earlier revocation is not its to commit. */
        p->processed = p->committed = -1;
        g_autofree char *key = tp_key(p->topic, p->partition);
        const restored_pos *r = c->restored ? g_hash_table_lookup(c->restored, key) : NULL;
        if (r) { /* the checkpoint's position wins over given and committed offsets, once:
                    after a later rebalance the group's commit is newer */
            parts->elems[i].offset = r->fetch_from;
            p->next_from = r->resume;
            p->reserved_until = r->resume > r->fetch_from ? r->resume : -1;
            g_hash_table_remove(c->restored, key);
        }
    }
    c->assignments++;
    bool stopping = c->stopping;
    g_mutex_unlock(&c->lock);
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;
    if (!strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE"))
        error = rd_kafka_incremental_assign(c->rk, parts);
    else
        err = rd_kafka_assign(c->rk, parts);
    if (error || err) {
        g_warning("%s: cannot take the partitions assigned: %s", c->what,
                  error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        if (error)
            rd_kafka_error_destroy(error);
    } else {
        hold_fetch_queues(c, parts);
    }
    if (stopping)
        set_paused(c, parts, true);
}

/* Revoked partitions: what was fetched and not taken is dropped (the new owner reads it from
 * the committed offsets); batches already generated still run, but their commits skip these
 * partitions. */
typedef struct revoke_commit {
    rd_kafka_resp_err_t err;
    bool done;
} revoke_commit;

static void revoke_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk, (void)offsets;
    revoke_commit *rc = opaque;
    rc->err = err;
    rc->done = true;
}

static void report_commit(em_kafka_consumer *c, const em_kafka_commit_info *info)
{
    if (c->opts.on_commit)
        c->opts.on_commit(info, c->opts.ud);
    if (c->report)
        c->report(info, c->report_ud);
}

/* Commits, synchronously, what the completed batches processed of the partitions being
 * revoked and the group has not confirmed yet (an asynchronous commit still in flight, or one
 * that failed), so that their next owner starts right after it. Not for lost partitions: their
 * generation is gone and a commit is refused. Runs on the polling thread, in the
 * rebalance. */
static void commit_revoked(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    em_kafka_offset_range *ranges = g_new0(em_kafka_offset_range, parts->cnt + 1);
    size_t n = 0;
    em_time batch = -1;
    g_mutex_lock(&c->lock);
    for (int i = 0; i < parts->cnt; i++) {
        kpart *p = part_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (!p || !p->assigned || p->processed < 0 || p->processed <= p->committed)
            continue; /* nothing processed, or its commit is confirmed already */
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->processed;
        ranges[n++] =
            (em_kafka_offset_range){p->topic, p->partition, p->processed, p->processed, 0};
        batch = MAX(batch, p->processed_batch);
    }
    g_mutex_unlock(&c->lock);
    if (n) {
        revoke_commit rc = {0};
        rd_kafka_resp_err_t err = rd_kafka_commit_queue(c->rk, l, NULL, revoke_commit_cb, &rc);
        if (!err && rc.done)
            err = rc.err;
        g_mutex_lock(&c->lock);
        if (err) {
            c->n_commit_failures++;
        } else {
            c->n_commits++;
            for (size_t i = 0; i < n; i++) {
                kpart *p = part_find(c, ranges[i].topic, ranges[i].partition);
                p->committed = MAX(p->committed, ranges[i].until);
            }
        }
        g_mutex_unlock(&c->lock);
        if (err)
            g_warning("%s: committing the processed offsets of %zu revoked partition(s) "
                      "failed: %s (their next owner reads again from the previous commit)",
                      c->what, n, rd_kafka_err2str(err));
        report_commit(c, &(em_kafka_commit_info){.batch_time = batch,
                                                 .ranges = ranges,
                                                 .n_ranges = n,
                                                 .error = err ? rd_kafka_err2str(err) : NULL,
                                                 .on_revocation = true});
    }
    g_free(ranges);
    rd_kafka_topic_partition_list_destroy(l);
}

static void on_revoke(em_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts, bool lost)
{
    if (!lost)
        commit_revoked(c, parts);
    g_mutex_lock(&c->lock);
    for (int i = 0; i < parts->cnt; i++) {
        kpart *p = part_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (!p)
            continue;
        part_drop(c, p);
        c->assigned -= p->assigned;
        p->assigned = false;
        p->next_from = -1;
        p->reserved_until = -1;
    }
    c->revocations++;
    g_mutex_unlock(&c->lock);
    if (lost)
        g_warning("%s: %d partitions lost (the group moved on without this consumer)", c->what,
                  parts->cnt);
    rd_kafka_error_t *error = NULL;
    if (!strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE"))
        error = rd_kafka_incremental_unassign(c->rk, parts);
    else
        rd_kafka_assign(c->rk, NULL);
    if (error)
        rd_kafka_error_destroy(error);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)rk;
    em_kafka_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(c, parts);
    else
        on_revoke(c, parts, rd_kafka_assignment_lost(c->rk));
}

/* ---- Errors ---- */

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    em_kafka_consumer *c = opaque;
    g_warning("%s: %s: %s", c->what, rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        rd_kafka_fatal_error(c->rk, fatal, sizeof fatal);
        g_mutex_lock(&c->lock);
        if (!c->failure)
            c->failure = g_error_new(EM_ERROR, EM_ERROR_IO, "%s: fatal: %s", c->what, fatal);
        g_mutex_unlock(&c->lock);
    }
}

/* Where fetching of p resumes: after what is buffered, else where the next range starts. */
static int64_t fetch_position(const kpart *p)
{
    if (p->msgs->len)
        return ((rd_kafka_message_t *)p->msgs->pdata[p->msgs->len - 1])->offset + 1;
    return p->reserved_until >= 0 ? -1 : p->next_from; /* replays: where it fetches now */
}

/* Restarts fetching topic[partition] at offset `to`. librdkafka stops fetching a partition
 * after an out-of-range error and a seek does not wake it: the partition is assigned again
 * (the others at their positions, so nothing is read twice). */
static void restart_at(em_kafka_consumer *c, const char *topic, int32_t partition, int64_t to)
{
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;
    if (!strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE")) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = to;
        error = rd_kafka_incremental_unassign(c->rk, l);
        if (!error)
            error = rd_kafka_incremental_assign(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    } else {
        rd_kafka_topic_partition_list_t *l = NULL;
        err = rd_kafka_assignment(c->rk, &l);
        if (!err) {
            g_mutex_lock(&c->lock);
            for (int i = 0; i < l->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &l->elems[i];
                kpart *p = part_find(c, tp->topic, tp->partition);
                if (tp->partition == partition && !strcmp(tp->topic, topic))
                    tp->offset = to;
                else if (p && fetch_position(p) >= 0)
                    tp->offset = fetch_position(p);
            }
            g_mutex_unlock(&c->lock);
            err = rd_kafka_assign(c->rk, l);
        }
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
    }
    if (error || err)
        g_warning("%s: topic %s [%" PRId32 "]: cannot restart at offset %" PRId64 ": %s", c->what,
                  topic, partition, to,
                  error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
    if (error)
        rd_kafka_error_destroy(error);
}

/* An offset outside the partition's log, under the out-of-range policy. */
static void out_of_range(em_kafka_consumer *c, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int64_t lo = -1, hi = -1;
    rd_kafka_query_watermark_offsets(c->rk, topic, m->partition, &lo, &hi, QUERY_TIMEOUT_MS);
    if (c->opts.out_of_range == EM_KAFKA_OOR_FAIL) {
        g_mutex_lock(&c->lock);
        if (!c->failure) {
            c->failure = g_error_new(EM_ERROR, EM_ERROR_IO,
                                     "%s: topic %s [%" PRId32 "]: offset %" PRId64
                                     " is out of range (the log "
                                     "holds [%" PRId64 ", %" PRId64
                                     ")); set out_of_range to EARLIEST or LATEST "
                                     "to go on",
                                     c->what, topic, m->partition, (int64_t)m->offset, lo, hi);
            g_warning("%s", c->failure->message);
        }
        g_mutex_unlock(&c->lock);
        return;
    }
    int64_t to = c->opts.out_of_range == EM_KAFKA_OOR_EARLIEST ? lo : hi;
    int64_t skipped = m->offset >= 0 && to > m->offset ? to - m->offset : 0;
    g_warning("%s: topic %s [%" PRId32 "]: offset %" PRId64 " is out of range (the log holds "
              "[%" PRId64 ", %" PRId64 ")): going on from %" PRId64 ", %" PRId64
              " messages skipped",
              c->what, topic, m->partition, (int64_t)m->offset, lo, hi, to, skipped);
    g_mutex_lock(&c->lock);
    c->skipped += skipped;
    kpart *p = part_find(c, topic, m->partition);
    if (p && !p->msgs->len)
        p->next_from = to;
    g_mutex_unlock(&c->lock);
    restart_at(c, topic, m->partition, to);
}

/* A topic gone from the cluster (deleted while the stream runs): one warning naming it; its
 * partitions leave the assignment (subscribe: the group revokes them, after their processed
 * offsets are committed) and the batches go on with the other topics. */
static void topic_gone(em_kafka_consumer *c, rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
    g_mutex_lock(&c->lock);
    if (!c->gone)
        c->gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    bool first = !g_hash_table_contains(c->gone, topic ? topic : "");
    g_hash_table_add(c->gone, g_strdup(topic ? topic : ""));
    g_mutex_unlock(&c->lock);
    if (first && topic)
        g_warning("%s: topic %s no longer exists (deleted?): %s; the stream goes on without it",
                  c->what, topic, rd_kafka_message_errstr(m));
    else if (first)
        g_warning("%s: %s; the stream goes on with the topics that exist", c->what,
                  rd_kafka_message_errstr(m));
}

static void message_error(em_kafka_consumer *c, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        out_of_range(c, m);
    } else if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
               m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        topic_gone(c, m);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->rkt)
            g_warning("%s: topic %s [%" PRId32 "]: %s", c->what, rd_kafka_topic_name(m->rkt),
                      m->partition, rd_kafka_message_errstr(m));
        else
            g_warning("%s: %s", c->what, rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
}

/* ---- Commits ---- */

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    em_kafka_consumer *c = opaque;
    g_mutex_lock(&c->lock);
    pending_commit *pc = g_queue_pop_head(&c->commits);
    if (err)
        c->n_commit_failures++;
    else
        c->n_commits++;
    for (int i = 0; !err && offsets && i < offsets->cnt; i++) {
        kpart *p = part_find(c, offsets->elems[i].topic, offsets->elems[i].partition);
        if (p && !offsets->elems[i].err)
            p->committed = MAX(p->committed, offsets->elems[i].offset);
    }
    g_mutex_unlock(&c->lock);
    if (!pc)
        return;
    if (err)
        g_warning("%s: committing the offsets of batch %" PRId64 " ms failed: %s", c->what,
                  (int64_t)pc->batch_time, rd_kafka_err2str(err));
    report_commit(c, &(em_kafka_commit_info){.batch_time = pc->batch_time,
                                             .ranges = pc->ranges,
                                             .n_ranges = pc->n,
                                             .error = err ? rd_kafka_err2str(err) : NULL});
    g_free(pc->ranges);
    g_free(pc);
    g_mutex_lock(&c->lock);
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

void em__kafka_consumer_commit(em_kafka_consumer *c, em_time batch_time,
                               const em_kafka_offset_range *ranges, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    pending_commit *pc = g_new0(pending_commit, 1);
    pc->batch_time = batch_time;
    pc->ranges = g_new(em_kafka_offset_range, n ? n : 1);
    g_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        kpart *p = part_find(c, ranges[i].topic, ranges[i].partition);
        if (!p || !p->assigned || ranges[i].until < 0)
            continue;
        pc->ranges[pc->n] = ranges[i];
        pc->ranges[pc->n++].topic = p->topic; /* lives as long as the consumer */
        if (ranges[i].until > p->processed) {
            p->processed = ranges[i].until;
            p->processed_batch = batch_time;
        }
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = ranges[i].until;
    }
    if (pc->n)
        g_queue_push_tail(&c->commits, pc);
    g_mutex_unlock(&c->lock);
    if (pc->n) {
        rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, l, 1);
        if (err) /* refused before it was sent: report it as its callback would */
            commit_cb(c->rk, err, l, c);
    } else {
        g_free(pc->ranges);
        g_free(pc);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void em__kafka_consumer_on_commit(em_kafka_consumer *c,
                                  void (*report)(const em_kafka_commit_info *info, void *ud),
                                  void *ud)
{
    c->report = report;
    c->report_ud = ud;
}

bool em__kafka_consumer_wait_commits(em_kafka_consumer *c, int64_t timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    g_mutex_lock(&c->lock);
    while (c->commits.length && g_cond_wait_until(&c->cond, &c->lock, deadline))
        ;
    bool done = c->commits.length == 0;
    g_mutex_unlock(&c->lock);
    return done;
}

/* ---- The polling thread ---- */

/* Appends fetched messages to their partitions' buffers (the caller holds the lock); fills
 * pause with the partitions whose buffer is now full. */
static void buffer_messages(em_kafka_consumer *c, rd_kafka_message_t **ms, int n,
                            rd_kafka_topic_partition_list_t *pause)
{
    kpart *p = NULL;
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = ms[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        if (!p || p->partition != m->partition || strcmp(p->topic, topic))
            p = part_find(c, topic, m->partition);
        if (!p || !p->assigned) { /* fetched before a revocation */
            rd_kafka_message_destroy(m);
            continue;
        }
        if (p->next_from < 0)
            p->next_from = m->offset;
        g_ptr_array_add(p->msgs, m);
        c->buffered++;
        if (!p->paused && (int64_t)p->msgs->len >= c->max_buffered) {
            p->paused = true;
            c->paused++;
            c->pauses++;
            rd_kafka_topic_partition_list_add(pause, p->topic, p->partition);
        }
    }
    g_cond_broadcast(&c->cond);
}

static void assign_given(em_kafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->opts.n_assign);
    for (size_t i = 0; i < c->opts.n_assign; i++)
        rd_kafka_topic_partition_list_add(l, c->assign[i].topic, c->assign[i].partition);
    on_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static gpointer poll_main(gpointer data)
{
    em_kafka_consumer *c = data;
    if (c->assign)
        assign_given(c);
    rd_kafka_message_t *data_msgs[POLL_BURST];
    rd_kafka_message_t *errors[64];
    while (g_atomic_int_get(&c->running)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, POLL_MS);
        int n = 0, n_err = 0;
        while (m) {
            if (m->err && n_err < (int)G_N_ELEMENTS(errors))
                errors[n_err++] = m;
            else if (m->err)
                message_error(c, m);
            else
                data_msgs[n++] = m;
            if (n == POLL_BURST || n_err == (int)G_N_ELEMENTS(errors))
                break;
            m = rd_kafka_consumer_poll(c->rk, 0);
        }
        if (n) {
            rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(0);
            g_mutex_lock(&c->lock);
            buffer_messages(c, data_msgs, n, pause);
            g_mutex_unlock(&c->lock);
            set_paused(c, pause, true);
            rd_kafka_topic_partition_list_destroy(pause);
        }
        for (int i = 0; i < n_err; i++)
            message_error(c, errors[i]);
    }
    return NULL;
}

/* ---- Public to the glue ---- */

em_kafka_consumer *em__kafka_consumer_new(const em_kafka_opts *opts, const char *what,
                                          GError **err)
{
    if (!check_opts(opts, what, err))
        return NULL;
    em_kafka_consumer *c = g_new0(em_kafka_consumer, 1);
    c->refcount = 1;
    c->what = g_strdup_printf("%s (group %s, brokers %s)", what, opts->group_id, opts->brokers);
    c->owned = g_ptr_array_new_with_free_func(g_free);
    c->opts = *opts;
    c->opts.brokers = keep(c, opts->brokers);
    c->opts.group_id = keep(c, opts->group_id);
    c->opts.topics = keep(c, opts->topics);
    c->opts.pattern = keep(c, opts->pattern);
    c->opts.params = NULL;
    c->assign = keep_tps(c, opts->assign, opts->n_assign);
    c->offsets = keep_tps(c, opts->offsets, opts->n_offsets);
    c->opts.assign = c->assign;
    c->opts.offsets = c->offsets;
    c->max_buffered = opts->max_buffered_per_partition ? opts->max_buffered_per_partition : 100000;
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    g_queue_init(&c->commits);
    c->topics =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
    c->parts = g_ptr_array_new_with_free_func(part_free);
    c->retired = g_ptr_array_new();

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = em__kafka_conf_set(conf, "bootstrap.servers", opts->brokers, c->what, err) &&
              em__kafka_conf_set(conf, "group.id", opts->group_id, c->what, err) &&
              em__kafka_conf_set(conf, "client.id", "ember", c->what, err) &&
              em__kafka_conf_set_all(conf, opts->params, c->what, err) &&
              em__kafka_conf_set(conf, "enable.auto.commit", "false", c->what, err) &&
              em__kafka_conf_set(conf, "enable.auto.offset.store", "false", c->what, err) &&
              em__kafka_conf_set(conf, "auto.offset.reset", "error", c->what, err) &&
              em__kafka_conf_set(conf, "enable.partition.eof", "false", c->what, err);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        em__kafka_consumer_unref(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    em__kafka_conf_set_log(conf);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", c->what, errstr);
        em__kafka_consumer_unref(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c->rk);
    return c;
}

bool em__kafka_consumer_start(em_kafka_consumer *c, GError **err)
{
    if (!c->assign) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        if (c->opts.pattern) {
            /* librdkafka reads a subscription starting with ^ as a regex. */
            char *re = c->opts.pattern[0] == '^' ? g_strdup(c->opts.pattern)
                                                 : g_strconcat("^", c->opts.pattern, NULL);
            rd_kafka_topic_partition_list_add(l, re, RD_KAFKA_PARTITION_UA);
            g_free(re);
        } else {
            char **names = g_strsplit(c->opts.topics, ",", -1);
            for (char **t = names; *t; t++)
                if (*g_strstrip(*t))
                    rd_kafka_topic_partition_list_add(l, *t, RD_KAFKA_PARTITION_UA);
            g_strfreev(names);
        }
        rd_kafka_resp_err_t e =
            l->cnt ? rd_kafka_subscribe(c->rk, l) : RD_KAFKA_RESP_ERR__INVALID_ARG;
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: cannot subscribe to %s: %s", c->what,
                        c->opts.pattern ? c->opts.pattern : c->opts.topics, rd_kafka_err2str(e));
            return false;
        }
    }
    g_atomic_int_set(&c->running, 1);
    c->thread = g_thread_new("em-kafka-poll", poll_main, c);
    return true;
}

/* How many of the n buffered messages a partition gives when total is shared by lag. */
static int64_t share(int64_t total, int64_t n, int64_t all)
{
    if (total < 0 || all <= 0)
        return n;
    int64_t s = (int64_t)((double)n / (double)all * (double)total + 0.5);
    return MAX(s, 1); /* Spark's minRatePerPartition, 1 */
}

em_kafka_batch *em__kafka_consumer_take(em_kafka_consumer *c, em_time t, int64_t per_partition,
                                        int64_t total)
{
    em_kafka_batch *b = g_new0(em_kafka_batch, 1);
    b->time = t;
    b->consumer = c;
    g_atomic_int_inc(&c->refcount);
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(0);
    g_mutex_lock(&c->lock);
    b->ranges = g_new0(em_kafka_offset_range, c->parts->len + 1);
    b->topics = g_new0(char *, c->parts->len + 1);
    b->msgs = g_new0(rd_kafka_message_t **, c->parts->len + 1);
    int64_t all = c->buffered;
    for (guint i = 0; i < c->parts->len; i++) {
        kpart *p = c->parts->pdata[i];
        /* Messages a replayed batch still has to take stay where they are. */
        guint skip = 0;
        while (skip < p->msgs->len &&
               ((rd_kafka_message_t *)p->msgs->pdata[skip])->offset < p->reserved_until)
            skip++;
        int64_t n = p->msgs->len - skip;
        if (!p->assigned || (p->next_from < 0 && !n))
            continue;
        n = MIN(n, share(total, n, all));
        if (per_partition >= 0)
            n = MIN(n, per_partition);
        size_t k = b->n++;
        b->topics[k] = g_strdup(p->topic);
        b->msgs[k] = g_new(rd_kafka_message_t *, n ? n : 1);
        if (n)
            memcpy(b->msgs[k], p->msgs->pdata + skip, n * sizeof(void *));
        /* The batch owns them now: take them out of the array without destroying them. */
        g_ptr_array_set_free_func(p->msgs, NULL);
        g_ptr_array_remove_range(p->msgs, skip, (guint)n);
        g_ptr_array_set_free_func(p->msgs, message_free);
        int64_t until = n ? b->msgs[k][n - 1]->offset + 1 : p->next_from;
        b->ranges[k] = (em_kafka_offset_range){b->topics[k], p->partition, p->next_from, until, n};
        p->next_from = until;
        b->records += n;
        c->buffered -= n;
        if (p->paused && (int64_t)p->msgs->len < c->max_buffered / 2 && !c->stopping) {
            p->paused = false;
            c->paused--;
            rd_kafka_topic_partition_list_add(resume, p->topic, p->partition);
        }
    }
    b->error = g_steal_pointer(&c->failure);
    g_mutex_unlock(&c->lock);
    set_paused(c, resume, false);
    rd_kafka_topic_partition_list_destroy(resume);
    return b;
}

/* ---- Recovery: positions and replayed batches ---- */

void em__kafka_consumer_restore(em_kafka_consumer *c, const char *topic, int32_t partition,
                                int64_t fetch_from, int64_t resume)
{
    g_mutex_lock(&c->lock);
    if (!c->restored)
        c->restored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    restored_pos *r = g_new(restored_pos, 1);
    *r = (restored_pos){fetch_from, MAX(resume, fetch_from)};
    g_hash_table_replace(c->restored, tp_key(topic, partition), r);
    g_mutex_unlock(&c->lock);
}

GArray *em__kafka_consumer_positions(em_kafka_consumer *c)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(em_kafka_tp));
    g_mutex_lock(&c->lock);
    for (guint i = 0; i < c->parts->len; i++) {
        const kpart *p = c->parts->pdata[i];
        if (!p->assigned || p->next_from < 0)
            continue;
        em_kafka_tp tp = {p->topic, p->partition, p->next_from};
        g_array_append_val(out, tp);
    }
    g_mutex_unlock(&c->lock);
    return out;
}

em_kafka_batch *em__kafka_batch_fixed(em_kafka_consumer *c, em_time t,
                                      const em_kafka_offset_range *ranges, size_t n)
{
    em_kafka_batch *b = g_new0(em_kafka_batch, 1);
    b->time = t;
    b->consumer = c;
    g_atomic_int_inc(&c->refcount);
    b->unfilled = true;
    b->n = n;
    b->ranges = g_new0(em_kafka_offset_range, n + 1);
    b->topics = g_new0(char *, n + 1);
    b->msgs = g_new0(rd_kafka_message_t **, n + 1);
    for (size_t i = 0; i < n; i++) {
        b->topics[i] = g_strdup(ranges[i].topic);
        b->ranges[i] = ranges[i];
        b->ranges[i].topic = b->topics[i];
        b->ranges[i].count = 0; /* what is taken, once filled */
    }
    return b;
}

/* Whether p holds every message of [.., until): the last one buffered is at until - 1 or
 * later, or the consumer's position passed until (a transaction's marker ends the range). */
static bool covered(em_kafka_consumer *c, const kpart *p, int64_t until)
{
    if (p->msgs->len &&
        ((rd_kafka_message_t *)p->msgs->pdata[p->msgs->len - 1])->offset >= until - 1)
        return true;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    bool past = !rd_kafka_position(c->rk, l) && l->elems[0].offset >= until;
    rd_kafka_topic_partition_list_destroy(l);
    return past;
}

bool em__kafka_consumer_fill(em_kafka_consumer *c, em_kafka_batch *b, int64_t timeout_ms,
                             GError **err)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(0);
    bool ok = true;
    g_mutex_lock(&c->lock);
    for (size_t i = 0; ok && i < b->n; i++) {
        em_kafka_offset_range *r = &b->ranges[i];
        kpart *p = part_find(c, r->topic, r->partition);
        while (r->until > r->from && !(p && p->assigned && covered(c, p, r->until))) {
            gint64 now = g_get_monotonic_time();
            if (now >= deadline) {
                g_set_error(err, EM_ERROR, EM_ERROR_IO,
                            "%s: topic %s [%" PRId32 "]: batch %" PRId64
                            " ms replays offsets [%" PRId64 ", %" PRId64
                            ") from the checkpoint but they were not fetched within %" PRId64
                            " ms (%s)",
                            c->what, r->topic, r->partition, (int64_t)b->time, r->from, r->until,
                            timeout_ms,
                            p && p->assigned ? "the log may no longer hold them"
                                             : "the partition is not assigned to this consumer");
                ok = false;
                break;
            }
            g_cond_wait_until(&c->cond, &c->lock, MIN(deadline, now + 100 * 1000));
            p = part_find(c, r->topic, r->partition);
        }
        if (!ok || r->until <= r->from) {
            b->msgs[i] = g_new(rd_kafka_message_t *, 1);
            continue;
        }
        guint drop = 0, n = 0;
        while (drop < p->msgs->len &&
               ((rd_kafka_message_t *)p->msgs->pdata[drop])->offset < r->from)
            drop++;
        while (drop + n < p->msgs->len &&
               ((rd_kafka_message_t *)p->msgs->pdata[drop + n])->offset < r->until)
            n++;
        b->msgs[i] = g_new(rd_kafka_message_t *, n ? n : 1);
        if (n)
            memcpy(b->msgs[i], p->msgs->pdata + drop, n * sizeof(void *));
        g_ptr_array_set_free_func(p->msgs, NULL);
        g_ptr_array_remove_range(p->msgs, drop, n);
        g_ptr_array_set_free_func(p->msgs, message_free);
        g_ptr_array_remove_range(p->msgs, 0, drop); /* older than any range: destroyed */
        c->buffered -= drop + n;
        r->count = n;
        b->records += n;
        if (p->reserved_until >= 0 && p->reserved_until <= r->until)
            p->reserved_until = -1;
        if (p->paused && (int64_t)p->msgs->len < c->max_buffered / 2 && !c->stopping) {
            p->paused = false;
            c->paused--;
            rd_kafka_topic_partition_list_add(resume, p->topic, p->partition);
        }
    }
    g_mutex_unlock(&c->lock);
    b->unfilled = false;
    set_paused(c, resume, false);
    rd_kafka_topic_partition_list_destroy(resume);
    return ok;
}

int64_t em__kafka_consumer_buffered(em_kafka_consumer *c)
{
    g_mutex_lock(&c->lock);
    int64_t n = c->buffered;
    g_mutex_unlock(&c->lock);
    return n;
}

bool em__kafka_consumer_wait_buffered(em_kafka_consumer *c, int64_t n, int64_t timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    g_mutex_lock(&c->lock);
    while (c->buffered < n && g_cond_wait_until(&c->cond, &c->lock, deadline))
        ;
    bool ok = c->buffered >= n;
    g_mutex_unlock(&c->lock);
    return ok;
}

void em__kafka_consumer_pause(em_kafka_consumer *c)
{
    g_mutex_lock(&c->lock);
    c->stopping = true;
    g_mutex_unlock(&c->lock);
    rd_kafka_topic_partition_list_t *l = NULL;
    if (!rd_kafka_assignment(c->rk, &l) && l)
        set_paused(c, l, true);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
}

void em__kafka_consumer_drop(em_kafka_consumer *c)
{
    g_mutex_lock(&c->lock);
    for (guint i = 0; i < c->parts->len; i++)
        part_drop(c, c->parts->pdata[i]);
    g_mutex_unlock(&c->lock);
}

void em__kafka_consumer_stats(em_kafka_consumer *c, em_kafka_stream_stats *out)
{
    g_mutex_lock(&c->lock);
    out->assigned = c->assigned;
    out->assignments = c->assignments;
    out->revocations = c->revocations;
    out->buffered = c->buffered;
    out->paused = c->paused;
    out->pauses = c->pauses;
    out->skipped = c->skipped;
    out->commits = c->n_commits;
    out->commit_failures = c->n_commit_failures;
    g_mutex_unlock(&c->lock);
}

rd_kafka_t *em__kafka_consumer_handle(em_kafka_consumer *c) { return c->rk; }

const em_kafka_opts *em__kafka_consumer_opts(em_kafka_consumer *c) { return &c->opts; }

void em__kafka_consumer_close(em_kafka_consumer *c)
{
    if (c->thread) {
        g_atomic_int_set(&c->running, 0);
        g_thread_join(c->thread);
        c->thread = NULL;
    }
    if (c->rk && !c->closed) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
        if (err)
            g_warning("%s: closing the consumer: %s", c->what, rd_kafka_err2str(err));
        drain_fetch_queues(c);
    }
    c->closed = true;
    em__kafka_consumer_drop(c);
}

void em__kafka_consumer_unref(em_kafka_consumer *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->refcount))
        return;
    em__kafka_consumer_close(c);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    pending_commit *pc;
    while ((pc = g_queue_pop_head(&c->commits))) {
        g_free(pc->ranges);
        g_free(pc);
    }
    if (c->topics)
        g_hash_table_unref(c->topics);
    if (c->restored)
        g_hash_table_unref(c->restored);
    if (c->gone)
        g_hash_table_unref(c->gone);
    if (c->parts)
        g_ptr_array_unref(c->parts);
    if (c->retired)
        g_ptr_array_unref(c->retired); /* emptied by em__kafka_consumer_close */
    g_clear_error(&c->failure);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->cond);
    g_free(c->assign);
    g_free(c->offsets);
    g_ptr_array_unref(c->owned);
    g_free(c->what);
    g_free(c);
}
