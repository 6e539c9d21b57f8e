/* Sources read by offsets (Spark's MicroBatchStream): the stream every such source (rate,
 * files) builds on. At each trigger it plans the range of offsets the batch reads -- from where
 * the last batch ended to the newest offset there is, or the logged end of a batch a restart
 * runs again -- and reads it; the query (table-query.c) logs and commits the range. */
#include "table-private.h"

em__offset_stream *em__offset_stream_new(em_ssc *ssc, const em__offset_source_class *klass,
                                         const char *op, const char *description)
{
    g_return_val_if_fail(klass->base.compute == em__offset_stream_compute, NULL);
    em__offset_stream *os = (em__offset_stream *)em__input_new(ssc, &klass->base, op);
    if (!os)
        return NULL;
    os->description = g_strdup(description);
    os->next_start = -1;
    os->planned_t = G_MININT64;
    return os;
}

em__offset_stream *em__offset_stream_of(em_dstream *ds)
{
    return ds && ds->klass->compute == em__offset_stream_compute ? (em__offset_stream *)ds : NULL;
}

em_rdd *em__offset_stream_compute(em_dstream *ds, em_time t, GError **err)
{
    em__offset_stream *os = (em__offset_stream *)ds;
    const em__offset_source_class *klass = em__offset_class(os);
    int64_t start = os->next_start, end = start, available = start;
    if (os->replay) {
        end = available = os->replay_end;
        os->replay = false;
    } else if (!klass->latest(os, t, start, &end, &available, err)) {
        return NULL;
    }
    os->planned_t = t;
    os->planned_start = start;
    os->planned_end = end > start ? end : start;
    os->planned_available = available;
    os->next_start = os->planned_end;
    if (end <= start)
        return em_empty_rdd(ds->ssc->sc);
    em_rdd *rdd = klass->read(os, start, end, err);
    if (rdd)
        ds->last_records = em_rdd_count(rdd, NULL);
    return rdd;
}
