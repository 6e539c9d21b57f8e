/* Sources read by offsets (Spark's MicroBatchStream): the stream every such source (rate,
 * files, Kafka) builds on. At each trigger it plans the range of offsets the batch reads --
 * from where the last batch ended to the newest offset there is, or the logged end of a batch
 * a restart runs again -- and reads it; the query (table-query.c) logs and commits the range. */
#include "table-private.h"

#include <string.h>

em__offset_stream *em__offset_stream_new(em_ssc *ssc, const em__offset_source_class *klass,
                                         const char *op, const char *description)
{
    g_return_val_if_fail(klass->base.compute == em__offset_stream_compute, NULL);
    em__offset_stream *os = (em__offset_stream *)em__input_new(ssc, &klass->base, op);
    if (!os)
        return NULL;
    os->description = g_strdup(description);
    os->planned_t = G_MININT64;
    return os;
}

void em__offset_stream_finalize(em__offset_stream *os)
{
    g_free(os->description);
    g_free(os->next_start);
    g_free(os->replay_end);
    g_free(os->planned_start);
    g_free(os->planned_end);
    g_free(os->planned_available);
}

em__offset_stream *em__offset_stream_of(em_dstream *ds)
{
    return ds && ds->klass->compute == em__offset_stream_compute ? (em__offset_stream *)ds : NULL;
}

bool em__offset_parse_int(const char *text, const char *prefix, const char *suffix, int64_t *out,
                          GError **err)
{
    size_t np = strlen(prefix), ns = strlen(suffix), n = strlen(text);
    char *end = NULL;
    if (n > np + ns && strncmp(text, prefix, np) == 0 && strcmp(text + n - ns, suffix) == 0) {
        *out = g_ascii_strtoll(text + np, &end, 10);
        if (end == text + n - ns && end != text + np)
            return true;
    }
    g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "offset %s is not %s<number>%s", text, prefix,
                suffix);
    return false;
}

em_rdd *em__offset_stream_compute(em_dstream *ds, em_time t, GError **err)
{
    em__offset_stream *os = (em__offset_stream *)ds;
    const em__offset_source_class *klass = em__offset_class(os);
    char *end = NULL, *available = NULL;
    if (os->replay) {
        end = g_strdup(os->replay_end);
        available = g_strdup(os->replay_end);
        os->replay = false;
    } else if (!klass->latest(os, t, os->next_start, &end, &available, err)) {
        return NULL;
    }
    bool fresh = end && g_strcmp0(end, os->next_start) != 0;
    os->planned_t = t;
    g_free(os->planned_start);
    g_free(os->planned_end);
    g_free(os->planned_available);
    os->planned_start = g_strdup(os->next_start);
    os->planned_end = fresh ? end : g_strdup(os->next_start);
    os->planned_available = available;
    os->planned_fresh = fresh;
    if (fresh) {
        g_free(os->next_start);
        os->next_start = g_strdup(end);
    } else {
        g_free(end);
    }
    if (!fresh)
        return em_empty_rdd(ds->ssc->sc);
    em_rdd *rdd = klass->read(os, os->planned_start, os->planned_end, err);
    if (rdd)
        ds->last_records = em_rdd_count(rdd, NULL);
    return rdd;
}
