/* The listener bus (Spark's StreamingListenerBus): listeners registered on the context, and
 * the batch, output operation and receiver events posted to them on the posting thread
 * (streaming). */
#include "streaming-private.h"

void em_ssc_add_listener(em_ssc *ssc, const em_listener *listener, void *ud)
{
    em_listener_entry e = {*listener, ud};
    g_mutex_lock(&ssc->lock);
    g_array_append_val(ssc->listeners, e);
    g_mutex_unlock(&ssc->lock);
}

GArray *em__listener_bus_snapshot(em_ssc *ssc)
{
    /* A listener added meanwhile (even by a callback) hears from the next snapshot on, and
     * the registry may grow under a running callback without harm. */
    g_mutex_lock(&ssc->lock);
    GArray *copy = g_array_copy(ssc->listeners);
    g_mutex_unlock(&ssc->lock);
    return copy;
}

void em__listener_bus_post_batch(GArray *listeners, em_batch_event event,
                                 const em_batch_info *info)
{
    for (guint i = 0; i < listeners->len; i++) {
        const em_listener_entry *e = &g_array_index(listeners, em_listener_entry, i);
        void (*cb)(const em_batch_info *, void *) = NULL;
        switch (event) {
        case EM_BATCH_SUBMITTED: cb = e->l.batch_submitted; break;
        case EM_BATCH_STARTED: cb = e->l.batch_started; break;
        case EM_BATCH_COMPLETED: cb = e->l.batch_completed; break;
        }
        if (cb)
            cb(info, e->ud);
    }
}

void em__listener_bus_post_output_op(GArray *listeners, bool started,
                                     const em_output_op_info *info)
{
    for (guint i = 0; i < listeners->len; i++) {
        const em_listener_entry *e = &g_array_index(listeners, em_listener_entry, i);
        void (*cb)(const em_output_op_info *, void *) =
            started ? e->l.output_op_started : e->l.output_op_completed;
        if (cb)
            cb(info, e->ud);
    }
}

void em__ssc_emit_receiver(em_ssc *ssc, em_receiver_event event, const em_receiver_info *info)
{
    GArray *listeners = em__listener_bus_snapshot(ssc);
    for (guint i = 0; i < listeners->len; i++) {
        const em_listener_entry *e = &g_array_index(listeners, em_listener_entry, i);
        void (*cb)(const em_receiver_info *, void *) = NULL;
        switch (event) {
        case EM_RECEIVER_STARTED: cb = e->l.receiver_started; break;
        case EM_RECEIVER_ERROR: cb = e->l.receiver_error; break;
        case EM_RECEIVER_STOPPED: cb = e->l.receiver_stopped; break;
        }
        if (cb)
            cb(info, e->ud);
    }
    g_array_unref(listeners);
}
