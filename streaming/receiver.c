/* Receivers (streaming): Spark's ReceiverSupervisor, BlockGenerator, RateLimiter and
 * ReceiverRateController. Each receiver input stream runs its on_start on a thread of its own;
 * stored records go into blocks cut every block interval of the context's clock, and at batch
 * time the generator thread hands every block received up to then to the batch, which reads them
 * as a BlockRDD: one partition per block. Stores wait for the rate limit and, past a bound on
 * the bytes not yet handed to a computed batch, for the scheduler to catch up. */
#include "receiver-private.h"

#include <inttypes.h>
#include <math.h>

#define DEFAULT_BLOCK_INTERVAL EM_MILLIS(200)
/* A batch's received bytes stay pending until the batch is computed, so the default must hold
 * one interval at full speed: 64 MiB capped NetworkWordCount at 6.5M words/s (1 s batches, ~80
 * bytes a 10-word line and its 16-byte value). Spark's storage memory under its default 1 GiB
 * driver is about 217-434 MiB. */
#define DEFAULT_MAX_PENDING_BYTES ((int64_t)256 << 20)
/* Spark's ReceiverTracker.stop waits 10 s for the receivers to deregister. */
#define DEFAULT_STOP_TIMEOUT EM_SECONDS(10)
/* Spark's spark.streaming.backpressure.pid.* defaults. */
#define PID_PROPORTIONAL 1.0
#define PID_INTEGRAL 0.2
#define PID_DERIVATIVE 0.0
#define PID_MIN_RATE 100.0

static void receiver_unref(em_receiver *r);

void em__received_batch_free(received_batch *b)
{
    g_ptr_array_unref(b->blocks);
    if (b->seqs)
        g_array_unref(b->seqs);
    g_free(b);
}

int64_t em__receiver_values_bytes(const em_values *block)
{
    return (int64_t)(em_arena_bytes(block->arena) + block->n * sizeof(em_value));
}

GPtrArray *em__receiver_blocks_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)em_values_free);
}

/* ---- BlockRDD: the partitions are the batch's blocks ---- */

typedef struct {
    em_rdd base;
    GPtrArray *blocks; /* em_values *, one per partition (owned reference) */
} block_rdd;

static void block_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const GPtrArray *blocks = ((const block_rdd *)rdd)->blocks;
    const em_values *block = blocks->pdata[index];
    em__push_all(task, block->items, block->n, out);
}

static void block_finalize(em_rdd *rdd) { g_ptr_array_unref(((block_rdd *)rdd)->blocks); }

static size_t block_bytes(const em_rdd *rdd)
{
    const GPtrArray *blocks = ((const block_rdd *)rdd)->blocks;
    size_t bytes = 0;
    for (guint i = 0; i < blocks->len; i++)
        bytes += (size_t)em__receiver_values_bytes(blocks->pdata[i]);
    return bytes;
}

static const em_rdd_class block_rdd_class = {
    .type_name = "BlockRDD",
    .compute = block_compute,
    .finalize = block_finalize,
    .data_bytes = block_bytes,
};

/* ---- The block generator and the rate limiter; r->lock held ---- */

/* With the write-ahead log, what the block holds that is not logged yet is logged first. A
 * block that cannot be logged still goes to its batch (this run loses nothing), with a
 * warning that a crash would lose it. */
static void seal_block(em_receiver *r)
{
    if (!r->block)
        return;
    if (r->wal) {
        GError *err = NULL;
        if (!em__receiver_wal_log_tail(r, &err)) {
            g_warning("receiver %s of stream %d: a block of %zu records is not in the "
                      "write-ahead log, a crash before its batch completes loses it: %s",
                      r->name, r->stream_id, r->block->n - r->block_logged, err->message);
            g_error_free(err);
        }
        g_array_append_vals(r->sealed_seqs, r->block_seqs->data, r->block_seqs->len);
        g_array_set_size(r->block_seqs, 0);
        r->block_logged = 0;
    }
    r->pending_bytes += em__receiver_values_bytes(r->block);
    g_ptr_array_add(r->sealed, g_steal_pointer(&r->block));
}

/* Ends a wait of clock_wait on the manual clock or of wait_for_active (they watch the ssc's
 * condition). */
static void wake_clock_wait(em_receiver *r)
{
    g_atomic_int_inc(&r->wake_seq);
    g_mutex_lock(&r->ssc->lock);
    g_cond_broadcast(&r->ssc->cond);
    g_mutex_unlock(&r->ssc->lock);
}

/* Waits until the ssc's clock reads `until` or later (now is its time at the call), a stop or a
 * rate change; may return early. r->lock is held on entry and on return. */
static void clock_wait(em_receiver *r, em_time now, em_time until)
{
    em_ssc *ssc = r->ssc;
    if (!ssc->manual) {
        g_cond_wait_until(&r->cond, &r->lock, g_get_monotonic_time() + (until - now) * 1000);
        return;
    }
    /* The manual clock moves under ssc->lock and broadcasts ssc->cond (lock order: r, ssc). */
    int seq = g_atomic_int_get(&r->wake_seq);
    g_mutex_unlock(&r->lock);
    g_mutex_lock(&ssc->lock);
    while (ssc->manual_now < until && g_atomic_int_get(&r->wake_seq) == seq)
        g_cond_wait(&ssc->cond, &ssc->lock);
    g_mutex_unlock(&ssc->lock);
    g_mutex_lock(&r->lock);
}

static void set_waiting(em_receiver *r, em__receiver_wait what)
{
    if (r->waiting != what) {
        r->waiting = what;
        g_cond_broadcast(&r->cond); /* em__receiver_await_waiting */
    }
}

/* Spark's RateLimiter.waitToPush, for up to `want` records at once: waits until the bucket
 * holds a token and takes as many whole tokens as there are, at most want; returns how many
 * records may go now (want without a rate or once stopped: a stop ends the wait). The first
 * record passes at once; idle time saves up to one second of records. *now is the clock read
 * last, the time the records are stored at. */
static size_t rate_take(em_receiver *r, size_t want, em_time *now)
{
    size_t k = want;
    for (;;) {
        *now = em_ssc_clock_time(r->ssc);
        if (r->rate <= 0 || r->stopped)
            break;
        double rate = r->rate;
        if (!r->bucket_started) {
            r->tokens = 1;
            r->bucket_started = true;
        } else if (*now > r->refilled) {
            r->tokens = fmin(fmax(rate, 1), r->tokens + (double)(*now - r->refilled) * rate / 1e3);
        }
        r->refilled = *now;
        if (r->tokens >= 1) {
            double whole = floor(r->tokens);
            k = whole < (double)want ? (size_t)whole : want;
            r->tokens -= (double)k;
            break;
        }
        set_waiting(r, EM__RECEIVER_WAITS_FOR_RATE);
        clock_wait(r, *now, *now + MAX(1, (em_time)ceil((1 - r->tokens) * 1e3 / rate)));
    }
    set_waiting(r, EM__RECEIVER_RUNNING);
    return k;
}

/* The memory bound: past max_pending_bytes not yet taken by a computed batch, the store waits
 * for the scheduler (a socket receiver stops reading, and TCP holds the sender back). */
static void wait_for_pending(em_receiver *r)
{
    while (!r->stopped && !r->finished &&
           r->pending_bytes + (r->block ? em__receiver_values_bytes(r->block) : 0) >=
               r->max_pending_bytes) {
        if (r->waiting != EM__RECEIVER_WAITS_FOR_BATCHES) {
            r->blocked = true;
            r->blocked_total++;
        }
        set_waiting(r, EM__RECEIVER_WAITS_FOR_BATCHES);
        g_cond_wait(&r->cond, &r->lock);
    }
    set_waiting(r, EM__RECEIVER_RUNNING);
}

/* The current block for records stored at `now`: Spark's BlockGenerator cuts blocks on a timer
 * every block interval, so a record in a later interval than its block's starts a new one. */
static em_values *block_at(em_receiver *r, em_time now)
{
    int64_t tick = now / r->block_interval;
    if (r->block && tick != r->block_tick)
        seal_block(r);
    if (!r->block) {
        r->block = em__values_new();
        r->block_tick = tick;
    }
    return r->block;
}

/* Whether v is a string inside [lo, hi) (addresses compared as integers: v may be elsewhere). */
static bool string_within(em_value v, uintptr_t lo, uintptr_t hi)
{
    return v.type == EM_T_STR && (uintptr_t)v.as.s >= lo && (uintptr_t)v.as.s + v.len <= hi;
}

/* Appends copies of vs[0..n) to block. Strings inside buf[0..len) laid out one after the other,
 * at most two bytes apart (the lines of a read buffer and their "\n" or "\r\n"), are copied into
 * the block's arena in one piece and point into it; buf may be NULL (each value copied). */
static void append_copies(em_values *block, const em_value *vs, size_t n, const char *buf,
                          size_t len)
{
    uintptr_t lo = (uintptr_t)buf, hi = buf ? lo + len : 0;
    size_t j = 0;
    while (j < n) {
        size_t m = j + 1;
        if (string_within(vs[j], lo, hi)) {
            uintptr_t end = (uintptr_t)vs[j].as.s + vs[j].len;
            while (m < n && string_within(vs[m], lo, hi) && (uintptr_t)vs[m].as.s >= end &&
                   (uintptr_t)vs[m].as.s <= end + 2) {
                end = (uintptr_t)vs[m].as.s + vs[m].len;
                m++;
            }
        }
        if (m == j + 1) {
            em__values_append_copy(block, vs[j++]);
            continue;
        }
        const char *start = vs[j].as.s;
        const char *copy =
            em_arena_memdup(block->arena, start, (size_t)(vs[m - 1].as.s - start) + vs[m - 1].len);
        for (; j < m; j++)
            em__values_append(block, em_strn(copy + (vs[j].as.s - start), vs[j].len));
    }
}

/* Stores vs[0..n) taking r->lock once per run of records the rate and the memory bound let
 * through together; the clock is read once per run (all of it lands in one block). */
void em__receiver_store_lines(em_receiver *r, const em_value *vs, size_t n, const char *buf,
                              size_t len)
{
    g_mutex_lock(&r->lock);
    size_t i = 0;
    while (i < n && !r->finished) {
        wait_for_pending(r);
        if (r->finished)
            break;
        em_time now;
        size_t k = rate_take(r, n - i, &now);
        if (r->finished)
            break;
        em_values *block = block_at(r, now);
        append_copies(block, vs + i, k, buf, len);
        if (!r->wal_on)
            r->stored += (int64_t)k; /* with the log, once logged */
        i += k;
    }
    g_mutex_unlock(&r->lock);
}

void em_receiver_store_many(em_receiver *r, const em_value *vs, size_t n)
{
    em__receiver_store_lines(r, vs, n, NULL, 0);
}

void em_receiver_store(em_receiver *r, em_value v) { em__receiver_store_lines(r, &v, 1, NULL, 0); }

bool em_receiver_commit(em_receiver *r, GError **err)
{
    g_return_val_if_fail(r, false);
    g_mutex_lock(&r->lock);
    bool ok = !r->wal || r->finished || em__receiver_wal_log_tail(r, err);
    g_mutex_unlock(&r->lock);
    return ok;
}

/* ---- Backpressure: Spark's ReceiverRateController ---- */

/* Spark's BlockGenerator.updateRate: a new estimate, capped by max_rate. */
static void set_rate(em_receiver *r, double rate)
{
    g_mutex_lock(&r->lock);
    r->rate = r->max_rate > 0 ? fmin(rate, (double)r->max_rate) : rate;
    g_cond_broadcast(&r->cond);
    wake_clock_wait(r);
    g_mutex_unlock(&r->lock);
}

/* A listener on the scheduler thread: each completed batch's figures feed the estimator. */
static void rate_controller_batch_completed(const em_batch_info *info, void *ud)
{
    em_receiver *r = ud;
    if (info->processing_end < 0 || info->processing_delay < 0 || info->scheduling_delay < 0 ||
        r->stream_id >= info->n_inputs)
        return;
    double rate = em__rate_estimator_compute(r->estimator, info->processing_end,
                                             info->input_records[r->stream_id],
                                             info->processing_delay, info->scheduling_delay);
    /* Spark publishes newRate.toLong and ignores anything below 1. */
    if (rate >= 1)
        set_rate(r, floor(rate));
}

/* ---- The supervisor: the receiver's thread ---- */

/* Listeners hear nothing more from an abandoned receiver: the ssc may be gone. */
static void emit(em_receiver *r, em_receiver_event event, bool active, const char *error)
{
    g_mutex_lock(&r->lock);
    bool abandoned = r->abandoned;
    g_mutex_unlock(&r->lock);
    if (abandoned)
        return;
    em_receiver_info info = {.stream_id = r->stream_id,
                             .name = r->name,
                             .active = active,
                             .last_error = error};
    em__ssc_emit_receiver(r->ssc, event, &info);
}

/* Calls on_stop if the last on_start still owes one: the stopping thread and a restart on the
 * receiver thread may both get here, and on_stop runs once. */
static void call_on_stop(em_receiver *r)
{
    g_mutex_lock(&r->lock);
    bool owed = r->stop_owed;
    r->stop_owed = false;
    g_mutex_unlock(&r->lock);
    if (owed && r->funcs.on_stop)
        r->funcs.on_stop(r, r->ud);
}

/* Waits until em_ssc_start() has made the ssc's threads, so that an em_ssc_stop() from on_start
 * finds it started (the inputs start before the state and the threads), or until a stop. */
static void wait_for_active(em_receiver *r)
{
    em_ssc *ssc = r->ssc;
    g_mutex_lock(&ssc->lock);
    while (!ssc->generator && ssc->state != EM_SSC_STOPPED &&
           g_atomic_int_get(&r->wake_seq) == r->start_seq)
        g_cond_wait(&ssc->cond, &ssc->lock);
    g_mutex_unlock(&ssc->lock);
}

static gpointer receiver_main(gpointer data)
{
    em_receiver *r = data;
    wait_for_active(r);
    g_mutex_lock(&r->lock);
    while (!r->stopped) {
        r->stop_owed = true;
        g_mutex_unlock(&r->lock);
        emit(r, EM_RECEIVER_STARTED, true, NULL);
        r->funcs.on_start(r, r->ud);
        g_mutex_lock(&r->lock);
        /* on_start is done, or left threads of its own receiving: wait for a stop or restart. */
        while (!r->stopped && !r->restarting)
            g_cond_wait(&r->cond, &r->lock);
        if (r->stopped)
            break;
        char *message = g_steal_pointer(&r->restart_message);
        gint64 until = g_get_monotonic_time() + r->restart_delay * 1000;
        g_mutex_unlock(&r->lock);
        call_on_stop(r);
        emit(r, EM_RECEIVER_STOPPED, false, message);
        g_free(message);
        g_mutex_lock(&r->lock);
        while (!r->stopped && g_cond_wait_until(&r->cond, &r->lock, until))
            ;
        r->restarting = false;
    }
    g_mutex_unlock(&r->lock);
    emit(r, EM_RECEIVER_STOPPED, false, NULL);
    g_mutex_lock(&r->lock);
    r->thread_done = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
    receiver_unref(r);
    return NULL;
}

void em_receiver_restart(em_receiver *r, const char *message, int64_t delay_ms)
{
    g_mutex_lock(&r->lock);
    /* A stop, or a restart under way, wins. */
    if (!r->stopped && !r->restarting) {
        r->restarting = true;
        r->restart_delay = MAX(delay_ms, 0);
        r->restart_message = g_strdup_printf("Restarting receiver with delay %" PRId64 " ms: %s",
                                             r->restart_delay, message ? message : "");
        g_cond_broadcast(&r->cond);
    }
    g_mutex_unlock(&r->lock);
}

void em_receiver_report_error(em_receiver *r, const char *message)
{
    g_debug("receiver %s of stream %d: %s", r->name, r->stream_id, message);
    emit(r, EM_RECEIVER_ERROR, !em_receiver_is_stopped(r), message);
}

bool em_receiver_is_stopped(em_receiver *r)
{
    g_mutex_lock(&r->lock);
    bool stopped = r->stopped || r->restarting;
    g_mutex_unlock(&r->lock);
    return stopped;
}

/* ---- The input stream ---- */

static bool receiver_start(em_dstream *ds, GError **err)
{
    em_receiver *r = receiver_of(ds);
    if (r->wal_on && !em__receiver_wal_start(r, ds, err))
        return false;
    GError *local = NULL;
    g_atomic_int_inc(&r->refs); /* the thread's */
    r->start_seq = g_atomic_int_get(&r->wake_seq);
    r->thread = g_thread_try_new("em-receiver", receiver_main, r, &local);
    if (!r->thread) {
        g_atomic_int_dec_and_test(&r->refs);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: cannot start the receiver thread: %s",
                    ds->op, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

/* Spark's ReceiverSupervisor.stop: on_stop interrupts on_start, the thread is joined, and the
 * current block is sealed for the batches that drain a graceful stop. From the receiver's own
 * thread (a listener of its events, or on_start) the thread cannot be joined: it ends once that
 * callback returns, and finalize joins it. A thread still in on_start after stop_timeout is
 * abandoned, with a warning and a receiver_error event (Spark's ReceiverTracker gives up on
 * receivers after 10 s the same way). */
static void receiver_stop(em_dstream *ds, bool graceful)
{
    (void)graceful;
    em_receiver *r = receiver_of(ds);
    if (!r->thread)
        return;
    g_mutex_lock(&r->lock);
    r->stopped = true;
    g_cond_broadcast(&r->cond);
    wake_clock_wait(r);
    g_mutex_unlock(&r->lock);
    call_on_stop(r);
    if (g_thread_self() != r->thread) {
        gint64 deadline = g_get_monotonic_time() + r->stop_timeout * 1000;
        g_mutex_lock(&r->lock);
        while (!r->thread_done && g_cond_wait_until(&r->cond, &r->lock, deadline))
            ;
        bool done = r->thread_done;
        g_mutex_unlock(&r->lock);
        if (done) {
            g_thread_join(r->thread);
        } else {
            char *msg = g_strdup_printf("Receiver %s of stream %d did not stop within %" PRId64
                                        " ms (its on_start has "
                                        "not returned): abandoning its thread",
                                        r->name, r->stream_id, (int64_t)r->stop_timeout);
            g_warning("%s", msg);
            em_receiver_info info = {.stream_id = r->stream_id,
                                     .name = r->name,
                                     .active = false,
                                     .last_error = msg};
            em__ssc_emit_receiver(r->ssc, EM_RECEIVER_ERROR, &info);
            g_free(msg);
            g_mutex_lock(&r->lock);
            r->abandoned = true;
            g_mutex_unlock(&r->lock);
            g_thread_unref(r->thread);
        }
        r->thread = NULL;
    }
    g_mutex_lock(&r->lock);
    r->finished = true;
    seal_block(r);
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

/* Generator thread, at batch time t: every block received so far goes to batch t. */
static void receiver_seal(em_dstream *ds, em_time t)
{
    em_receiver *r = receiver_of(ds);
    received_batch *b = g_new0(received_batch, 1);
    b->time = t;
    g_mutex_lock(&r->lock);
    /* With the log, a batch allocated before a restart gets its blocks again; any other takes
     * the sealed blocks, and its allocation is logged. */
    if (!r->wal || !em__receiver_wal_take_replayed(r, b, t)) {
        seal_block(r);
        b->blocks = r->sealed;
        r->sealed = em__receiver_blocks_new();
        if (r->wal) {
            b->seqs = r->sealed_seqs;
            r->sealed_seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
            em__receiver_wal_log_batch(r, b, t);
        }
    }
    if (r->wal)
        em__receiver_wal_clean(r);
    for (guint i = 0; i < b->blocks->len; i++)
        b->bytes += em__receiver_values_bytes(b->blocks->pdata[i]);
    g_queue_push_tail(&r->batches, b);
    g_mutex_unlock(&r->lock);
}

static bool receiver_has_pending(em_dstream *ds)
{
    em_receiver *r = receiver_of(ds);
    g_mutex_lock(&r->lock);
    bool pending = r->block || r->sealed->len > 0 || (r->replay && g_hash_table_size(r->replay));
    g_mutex_unlock(&r->lock);
    return pending;
}

/* Scheduler thread: batch t's blocks as a BlockRDD (no partitions for a batch with none). */
static em_rdd *receiver_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    em_receiver *r = receiver_of(ds);
    GPtrArray *blocks = NULL;
    g_mutex_lock(&r->lock);
    received_batch *b;
    /* Batches are computed in time order; older ones left here were dropped by a stop. */
    while ((b = g_queue_peek_head(&r->batches)) && b->time <= t) {
        g_queue_pop_head(&r->batches);
        r->pending_bytes -= b->bytes;
        if (b->time == t)
            blocks = g_ptr_array_ref(b->blocks);
        em__received_batch_free(b);
    }
    ds->last_blocked = r->blocked;
    r->blocked = false;
    g_cond_broadcast(&r->cond); /* a store waiting for pending blocks */
    g_mutex_unlock(&r->lock);
    if (!blocks)
        blocks = em__receiver_blocks_new();
    int64_t records = 0;
    for (guint i = 0; i < blocks->len; i++)
        records += (int64_t)((em_values *)blocks->pdata[i])->n;
    ds->last_records = records;
    block_rdd *rdd =
        EM__RDD_NEW(block_rdd, ds->ssc->sc, &block_rdd_class, ds->op, (int)blocks->len, NULL, 0);
    rdd->blocks = blocks;
    return &rdd->base;
}

static void receiver_free(em_receiver *r)
{
    em__receiver_wal_free(r);
    em__rate_estimator_free(r->estimator);
    em_values_free(r->block);
    g_ptr_array_unref(r->sealed);
    g_queue_clear_full(&r->batches, (GDestroyNotify)em__received_batch_free);
    if (r->funcs.destroy)
        r->funcs.destroy(r->ud);
    g_free(r->restart_message);
    g_free(r->name);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
    g_free(r);
}

/* The last reference frees r and destroys ud: the stream's, or an abandoned thread's. */
static void receiver_unref(em_receiver *r)
{
    if (g_atomic_int_dec_and_test(&r->refs))
        receiver_free(r);
}

/* The thread of a receiver stopped from its own thread ends once its callback returns. */
static void receiver_finalize(em_dstream *ds)
{
    em_receiver *r = receiver_of(ds);
    if (r->thread) {
        g_thread_join(r->thread);
        r->thread = NULL;
    }
    g_mutex_lock(&r->lock);
    r->ds = NULL;
    r->finished = true;
    g_mutex_unlock(&r->lock);
    receiver_unref(r);
}

#define RECEIVER_METHODS                                                                          \
    .type_name = "ReceiverInputDStream", .instance_size = sizeof(receiver_stream),                \
    .compute = receiver_compute, .seal = receiver_seal, .start = receiver_start,                  \
    .stop = receiver_stop, .has_pending = receiver_has_pending, .finalize = receiver_finalize

static const em_dstream_class receiver_class = {RECEIVER_METHODS};
/* With the write-ahead log, the stream is checkpointed: its log's position, and a stable name
 * that gives the log its directory. */
static const em_dstream_class receiver_wal_class = {RECEIVER_METHODS,
                                                    .checkpoint_save = em__receiver_wal_save,
                                                    .checkpoint_restore =
                                                        em__receiver_wal_restore};

static bool is_receiver(const em_dstream *ds)
{
    return ds && (ds->klass == &receiver_class || ds->klass == &receiver_wal_class);
}

em_dstream *em__receiver_stream_new(em_ssc *ssc, const char *op, const em_receiver_funcs *funcs,
                                    void *ud, const em_receiver_opts *opts)
{
    em_receiver_opts o = opts ? *opts : (em_receiver_opts){0};
    const char *problem = !ssc                         ? "the ssc is NULL"
                          : !funcs || !funcs->on_start ? "on_start is NULL"
                          : o.block_interval < 0 || o.max_rate < 0 || o.initial_rate < 0 ||
                                  o.max_pending_bytes < 0 || o.stop_timeout < 0
                              ? "options must be >= 0"
                              : NULL;
    em_dstream *ds = NULL;
    if (problem)
        g_critical("%s: %s", op, problem);
    else
        ds = em__input_new(ssc, ssc->receiver_wal ? &receiver_wal_class : &receiver_class, op);
    if (!ds) {
        if (funcs && funcs->destroy)
            funcs->destroy(ud);
        return NULL;
    }
    em_receiver *r = g_new0(em_receiver, 1);
    r->ds = ds;
    r->funcs = *funcs;
    r->name = g_strdup(funcs->name ? funcs->name : "Receiver");
    r->funcs.name = NULL; /* the caller's; r->name is the copy */
    r->ud = ud;
    r->ssc = ssc;
    r->wal_on = ssc->receiver_wal;
    r->stream_id = ds->input_id;
    r->refs = 1;
    r->block_interval = o.block_interval ? o.block_interval : DEFAULT_BLOCK_INTERVAL;
    r->max_rate = o.max_rate;
    r->max_pending_bytes = o.max_pending_bytes ? o.max_pending_bytes : DEFAULT_MAX_PENDING_BYTES;
    r->stop_timeout = o.stop_timeout ? o.stop_timeout : DEFAULT_STOP_TIMEOUT;
    /* Spark's BlockGenerator: the initial rate (backpressure only), capped by maxRate. */
    r->rate = (double)o.max_rate;
    if (o.backpressure && o.initial_rate > 0)
        r->rate =
            o.max_rate > 0 ? (double)MIN(o.initial_rate, o.max_rate) : (double)o.initial_rate;
    if (o.backpressure) {
        r->estimator = em__pid_rate_estimator_new(ssc->batch, PID_PROPORTIONAL, PID_INTEGRAL,
                                                  PID_DERIVATIVE, PID_MIN_RATE);
        em_ssc_add_listener(ssc,
                            &(em_listener){.batch_completed = rate_controller_batch_completed}, r);
    }
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->sealed = em__receiver_blocks_new();
    g_queue_init(&r->batches);
    ((receiver_stream *)ds)->r = r;
    return ds;
}

em_dstream *em_receiver_stream(em_ssc *ssc, const em_receiver_funcs *funcs, void *ud,
                               const em_receiver_opts *opts)
{
    return em__receiver_stream_new(ssc, "receiverStream", funcs, ud, opts);
}

void *em__receiver_stream_ud(const em_dstream *ds, const em_receiver_funcs *funcs)
{
    if (!is_receiver(ds))
        return NULL;
    const em_receiver *r = receiver_of(ds);
    return r->funcs.on_start == funcs->on_start ? r->ud : NULL;
}

int64_t em_receiver_stream_records(const em_dstream *ds)
{
    if (!is_receiver(ds)) {
        g_critical("em_receiver_stream_records: not a receiver stream");
        return -1;
    }
    em_receiver *r = receiver_of(ds);
    g_mutex_lock(&r->lock);
    int64_t n = r->stored;
    g_mutex_unlock(&r->lock);
    return n;
}

void em__receiver_on_batch_completed(em_dstream *ds, const em_batch_info *info)
{
    em_receiver *r = receiver_of(ds);
    if (r->estimator)
        rate_controller_batch_completed(info, r);
}

double em__receiver_rate(const em_dstream *ds)
{
    em_receiver *r = receiver_of(ds);
    g_mutex_lock(&r->lock);
    double rate = r->rate;
    g_mutex_unlock(&r->lock);
    return rate;
}

int64_t em__receiver_await_waiting(const em_dstream *ds, em__receiver_wait what)
{
    em_receiver *r = receiver_of(ds);
    g_mutex_lock(&r->lock);
    while (r->waiting != what)
        g_cond_wait(&r->cond, &r->lock);
    int64_t n = r->stored;
    g_mutex_unlock(&r->lock);
    return n;
}

int64_t em__receiver_pending_bytes(const em_dstream *ds)
{
    em_receiver *r = receiver_of(ds);
    g_mutex_lock(&r->lock);
    int64_t n = r->pending_bytes + (r->block ? em__receiver_values_bytes(r->block) : 0);
    g_mutex_unlock(&r->lock);
    return n;
}
