/* queueStream: RDDs pushed by the program become batches, one at a time or all queued at once
 * (Spark's QueueInputDStream) — for tests and teaching. */
#include "streaming-private.h"

struct em_rdd_queue {
    GMutex lock;
    GQueue rdds;
};

em_rdd_queue *em_rdd_queue_new(void)
{
    em_rdd_queue *q = g_new0(em_rdd_queue, 1);
    g_mutex_init(&q->lock);
    g_queue_init(&q->rdds);
    return q;
}

void em_rdd_queue_push(em_rdd_queue *q, em_rdd *rdd)
{
    g_mutex_lock(&q->lock);
    g_queue_push_tail(&q->rdds, em_rdd_ref(rdd));
    g_mutex_unlock(&q->lock);
}

size_t em_rdd_queue_length(em_rdd_queue *q)
{
    g_mutex_lock(&q->lock);
    size_t n = q->rdds.length;
    g_mutex_unlock(&q->lock);
    return n;
}

void em_rdd_queue_free(em_rdd_queue *q)
{
    if (!q)
        return;
    g_queue_clear_full(&q->rdds, (GDestroyNotify)em_rdd_unref);
    g_mutex_clear(&q->lock);
    g_free(q);
}

typedef struct {
    em_dstream base;
    em_rdd_queue *queue;
    bool one_at_a_time;
    em_rdd *default_rdd;
} queue_state;

static em_rdd *queue_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)t, (void)err;
    queue_state *st = (queue_state *)ds;
    GPtrArray *taken = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
    g_mutex_lock(&st->queue->lock);
    if (st->one_at_a_time && st->queue->rdds.length)
        g_ptr_array_add(taken, g_queue_pop_head(&st->queue->rdds));
    else
        while (st->queue->rdds.length)
            g_ptr_array_add(taken, g_queue_pop_head(&st->queue->rdds));
    g_mutex_unlock(&st->queue->lock);
    em_rdd *rdd;
    if (taken->len == 1)
        rdd = em_rdd_ref(taken->pdata[0]);
    else if (taken->len > 1)
        rdd = em_rdd_union_n((em_rdd *const *)taken->pdata, taken->len);
    else if (st->default_rdd)
        rdd = em_rdd_ref(st->default_rdd);
    else
        rdd = em_empty_rdd(ds->ssc->sc);
    g_ptr_array_unref(taken);
    return rdd;
}

static void queue_finalize(em_dstream *ds)
{
    queue_state *st = (queue_state *)ds;
    em_rdd_unref(st->default_rdd);
}

static const em_dstream_class queue_class = {.type_name = "QueueInputDStream",
                                             .instance_size = sizeof(queue_state),
                                             .compute = queue_compute,
                                             .finalize = queue_finalize};

em_dstream *em_queue_stream(em_ssc *ssc, em_rdd_queue *queue, em_queue_flags flags,
                            em_rdd *default_rdd)
{
    em_dstream *ds = em__input_new(ssc, &queue_class, "queueStream");
    if (!ds)
        return NULL;
    queue_state *st = (queue_state *)ds;
    st->queue = queue;
    st->one_at_a_time = !(flags & EM_QUEUE_ALL_AT_ONCE);
    st->default_rdd = default_rdd ? em_rdd_ref(default_rdd) : NULL;
    return ds;
}
