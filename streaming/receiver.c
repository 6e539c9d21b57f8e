/* Receivers (streaming): Spark's ReceiverSupervisor, BlockGenerator and RateLimiter. Each
 * receiver input stream runs its on_start on a thread of its own; stored records go into blocks
 * cut every block interval, and at batch time the generator thread hands every block received up
 * to then to the batch, which reads them as a BlockRDD: one partition per block. */
#include "streaming-private.h"

#include <inttypes.h>
#include <math.h>

#define DEFAULT_BLOCK_INTERVAL EM_MILLIS(200)

/* The blocks the generator gave to batch `time`, until the scheduler computes it. */
typedef struct received_batch {
    em_time time;
    GPtrArray *blocks; /* em_values *, owned */
} received_batch;

struct em_receiver {
    em_dstream *ds;
    em_receiver_funcs funcs;
    char *name;
    void *ud;
    em_duration block_interval;
    int64_t max_rate;
    GThread *thread;
    GMutex lock;     /* guards everything below */
    GCond cond;      /* stop and restart requests (the supervisor, the rate limiter wait) */
    bool stopped;    /* stop requested: for good */
    bool restarting; /* restart requested: on_stop, wait, on_start */
    char *restart_message;
    int64_t restart_delay;
    bool stop_owed; /* on_start was called and its on_stop not yet */
    bool finished;  /* the receiver thread has ended: stores are dropped */
    /* Block generator. */
    em_values *block;   /* the current block, or NULL */
    gint64 block_start; /* monotonic µs of the current block's first record */
    GPtrArray *sealed;  /* em_values *: blocks not given to a batch yet */
    GQueue batches;     /* received_batch *: blocks given to batches not computed yet */
    int64_t stored;
    /* Rate limiter: a token bucket holding up to one second of records. */
    double tokens;
    gint64 refilled; /* monotonic µs of the last refill; 0 before the first store */
};

static void received_batch_free(received_batch *b)
{
    g_ptr_array_unref(b->blocks);
    g_free(b);
}

static GPtrArray *blocks_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)em_values_free);
}

/* ---- BlockRDD: the partitions are the batch's blocks ---- */

static void block_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const GPtrArray *blocks = rdd->state;
    const em_values *block = blocks->pdata[index];
    em__push_all(task, block->items, block->n, out);
}

static void block_finalize(em_rdd *rdd) { g_ptr_array_unref(rdd->state); }

static size_t block_bytes(const em_rdd *rdd)
{
    const GPtrArray *blocks = rdd->state;
    size_t bytes = 0;
    for (guint i = 0; i < blocks->len; i++) {
        const em_values *block = blocks->pdata[i];
        bytes += em_arena_bytes(block->arena) + block->n * sizeof(em_value);
    }
    return bytes;
}

static const em_rdd_class block_rdd_class = {
    .type_name = "BlockRDD",
    .compute = block_compute,
    .finalize = block_finalize,
    .data_bytes = block_bytes,
};

/* ---- The block generator and the rate limiter; r->lock held ---- */

static void seal_block(em_receiver *r)
{
    if (r->block)
        g_ptr_array_add(r->sealed, g_steal_pointer(&r->block));
}

/* Spark's RateLimiter.waitToPush: waits until the bucket holds a token and takes it. The first
 * record passes at once; idle time saves up to one second of records. A stop ends the wait. */
static void rate_limit(em_receiver *r)
{
    for (;;) {
        gint64 now = g_get_monotonic_time();
        double rate = (double)r->max_rate;
        if (r->refilled == 0)
            r->tokens = 1;
        else
            r->tokens = fmin(fmax(rate, 1), r->tokens + (double)(now - r->refilled) * rate / 1e6);
        r->refilled = now;
        if (r->tokens >= 1) {
            r->tokens -= 1;
            return;
        }
        if (r->stopped)
            return;
        gint64 wait = (gint64)ceil((1 - r->tokens) * 1e6 / rate);
        g_cond_wait_until(&r->cond, &r->lock, now + wait);
    }
}

void em_receiver_store(em_receiver *r, em_value v)
{
    g_mutex_lock(&r->lock);
    if (r->max_rate > 0 && !r->finished)
        rate_limit(r);
    if (!r->finished) {
        gint64 now = g_get_monotonic_time();
        if (r->block && now - r->block_start >= r->block_interval * 1000)
            seal_block(r);
        if (!r->block) {
            r->block = em__values_new();
            r->block_start = now;
        }
        em__values_append_copy(r->block, v);
        r->stored++;
    }
    g_mutex_unlock(&r->lock);
}

/* ---- The supervisor: the receiver's thread ---- */

static void emit(em_receiver *r, em_receiver_event event, bool active, const char *error)
{
    em_receiver_info info = {.stream_id = r->ds->input_id, .name = r->name, .active = active,
                             .last_error = error};
    em__ssc_emit_receiver(r->ds->ssc, event, &info);
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

static gpointer receiver_main(gpointer data)
{
    em_receiver *r = data;
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
    g_debug("receiver %s of stream %d: %s", r->name, r->ds->input_id, message);
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
    em_receiver *r = ds->state;
    GError *local = NULL;
    r->thread = g_thread_try_new("em-receiver", receiver_main, r, &local);
    if (!r->thread) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: cannot start the receiver thread: %s",
                    ds->op, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

/* Spark's ReceiverSupervisor.stop: on_stop interrupts on_start, the thread is joined, and the
 * current block is sealed for the batches that drain a graceful stop. */
static void receiver_stop(em_dstream *ds, bool graceful)
{
    (void)graceful;
    em_receiver *r = ds->state;
    if (!r->thread)
        return;
    g_mutex_lock(&r->lock);
    r->stopped = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
    call_on_stop(r);
    g_thread_join(r->thread);
    g_mutex_lock(&r->lock);
    r->thread = NULL;
    r->finished = true;
    seal_block(r);
    g_mutex_unlock(&r->lock);
}

/* Generator thread, at batch time t: every block received so far goes to batch t. */
static void receiver_seal(em_dstream *ds, em_time t)
{
    em_receiver *r = ds->state;
    received_batch *b = g_new(received_batch, 1);
    b->time = t;
    g_mutex_lock(&r->lock);
    seal_block(r);
    b->blocks = r->sealed;
    r->sealed = blocks_new();
    g_queue_push_tail(&r->batches, b);
    g_mutex_unlock(&r->lock);
}

static bool receiver_has_pending(em_dstream *ds)
{
    em_receiver *r = ds->state;
    g_mutex_lock(&r->lock);
    bool pending = r->block || r->sealed->len > 0;
    g_mutex_unlock(&r->lock);
    return pending;
}

/* Scheduler thread: batch t's blocks as a BlockRDD (no partitions for a batch with none). */
static em_rdd *receiver_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    em_receiver *r = ds->state;
    GPtrArray *blocks = NULL;
    g_mutex_lock(&r->lock);
    received_batch *b;
    /* Batches are computed in time order; older ones left here were dropped by a stop. */
    while ((b = g_queue_peek_head(&r->batches)) && b->time <= t) {
        g_queue_pop_head(&r->batches);
        if (b->time == t)
            blocks = g_ptr_array_ref(b->blocks);
        received_batch_free(b);
    }
    g_mutex_unlock(&r->lock);
    if (!blocks)
        blocks = blocks_new();
    int64_t records = 0;
    for (guint i = 0; i < blocks->len; i++)
        records += (int64_t)((em_values *)blocks->pdata[i])->n;
    ds->last_records = records;
    em_rdd *rdd = em__rdd_new(ds->ssc->sc, &block_rdd_class, ds->op, (int)blocks->len, NULL, 0);
    rdd->state = blocks;
    return rdd;
}

static void receiver_finalize(em_dstream *ds)
{
    em_receiver *r = ds->state;
    em_values_free(r->block);
    g_ptr_array_unref(r->sealed);
    g_queue_clear_full(&r->batches, (GDestroyNotify)received_batch_free);
    if (r->funcs.destroy)
        r->funcs.destroy(r->ud);
    g_free(r->restart_message);
    g_free(r->name);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
    g_free(r);
}

static const em_dstream_class receiver_class = {
    .type_name = "ReceiverInputDStream",
    .compute = receiver_compute,
    .seal = receiver_seal,
    .start = receiver_start,
    .stop = receiver_stop,
    .has_pending = receiver_has_pending,
    .finalize = receiver_finalize,
};

em_dstream *em__receiver_stream_new(em_ssc *ssc, const char *op, const em_receiver_funcs *funcs,
                                    void *ud, const em_receiver_opts *opts)
{
    em_receiver_opts o = opts ? *opts : (em_receiver_opts){0};
    const char *problem = !ssc                                      ? "the ssc is NULL"
                          : !funcs || !funcs->on_start              ? "on_start is NULL"
                          : o.block_interval < 0 || o.max_rate < 0 ? "options must be >= 0"
                                                                    : NULL;
    em_dstream *ds = NULL;
    if (problem)
        g_critical("%s: %s", op, problem);
    else
        ds = em__input_new(ssc, &receiver_class, op);
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
    r->block_interval = o.block_interval ? o.block_interval : DEFAULT_BLOCK_INTERVAL;
    r->max_rate = o.max_rate;
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->sealed = blocks_new();
    g_queue_init(&r->batches);
    ds->state = r;
    return ds;
}

em_dstream *em_receiver_stream(em_ssc *ssc, const em_receiver_funcs *funcs, void *ud,
                               const em_receiver_opts *opts)
{
    return em__receiver_stream_new(ssc, "receiverStream", funcs, ud, opts);
}

void *em__receiver_stream_ud(const em_dstream *ds, const em_receiver_funcs *funcs)
{
    if (!ds || ds->klass != &receiver_class)
        return NULL;
    const em_receiver *r = ds->state;
    return r->funcs.on_start == funcs->on_start ? r->ud : NULL;
}

int64_t em_receiver_stream_records(const em_dstream *ds)
{
    if (!ds || ds->klass != &receiver_class) {
        g_critical("em_receiver_stream_records: not a receiver stream");
        return -1;
    }
    em_receiver *r = ds->state;
    g_mutex_lock(&r->lock);
    int64_t n = r->stored;
    g_mutex_unlock(&r->lock);
    return n;
}
