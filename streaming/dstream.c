/* em_dstream: the base every stream shares — creation and checks at definition time,
 * getOrCompute (one RDD per valid batch time, remembered), and forgetting old RDDs once no
 * window or remember() needs them (streaming, above core). */
#include "streaming-private.h"

static em_dstream *dstream_alloc(em_ssc *ssc, const em_dstream_class *klass, const char *op)
{
    g_assert(klass->instance_size == 0 || klass->instance_size >= sizeof(em_dstream));
    em_dstream *ds = g_malloc0(klass->instance_size ? klass->instance_size : sizeof(em_dstream));
    ds->ssc = ssc;
    ds->id = ssc->next_stream_id++;
    ds->klass = klass;
    ds->op = op;
    ds->input_id = -1;
    ds->forgotten_until = G_MININT64;
    g_mutex_init(&ds->lock);
    ds->generated = g_array_new(FALSE, FALSE, sizeof(em_generated));
    g_ptr_array_add(ssc->streams, ds);
    return ds;
}

bool em__dstream_check(const em_dstream *ds, const char *what)
{
    if (!ds) {
        g_critical("%s: the stream is NULL", what);
        return false;
    }
    if (em_ssc_get_state(ds->ssc) != EM_SSC_INITIALIZED) {
        g_critical("%s: the StreamingContext was started already; define every stream and "
                   "output operation before em_ssc_start",
                   what);
        return false;
    }
    return true;
}

em_dstream *em__dstream_new(em_ssc *ssc, const em_dstream_class *klass, const char *op,
                            em_dstream *const *parents, int n_parents)
{
    for (int i = 0; i < n_parents; i++) {
        if (!em__dstream_check(parents[i], op))
            return NULL;
        if (parents[i]->ssc != ssc) {
            g_critical("%s: the streams belong to different StreamingContexts", op);
            return NULL;
        }
        if (parents[i]->slide != parents[0]->slide) {
            g_critical("%s: the streams have different slide durations (%" G_GINT64_FORMAT
                       " ms and %" G_GINT64_FORMAT " ms); they must be equal",
                       op, (gint64)parents[0]->slide, (gint64)parents[i]->slide);
            return NULL;
        }
    }
    em_dstream *ds = dstream_alloc(ssc, klass, op);
    ds->slide = n_parents ? parents[0]->slide : ssc->batch;
    if (n_parents > 0) {
        ds->parents = g_new(em_dstream *, (gsize)n_parents);
        for (int i = 0; i < n_parents; i++)
            ds->parents[i] = parents[i];
        ds->n_parents = n_parents;
    }
    return ds;
}

em_dstream *em__input_new(em_ssc *ssc, const em_dstream_class *klass, const char *op)
{
    if (em_ssc_get_state(ssc) != EM_SSC_INITIALIZED) {
        g_critical("%s: the StreamingContext was started already; define every input before "
                   "em_ssc_start",
                   op);
        return NULL;
    }
    em_dstream *ds = dstream_alloc(ssc, klass, op);
    ds->slide = ssc->batch;
    ds->input_id = (int)ssc->inputs->len;
    g_ptr_array_add(ssc->inputs, ds);
    return ds;
}

void em__dstream_own(em_dstream *ds, void *ud, GDestroyNotify destroy, const char *name)
{
    ds->ud = ud;
    ds->destroy = destroy;
    ds->fn_name = name ? g_strdup(name) : NULL;
}

static void generated_clear(em_generated *g)
{
    if (g->rdd)
        em_rdd_unref(g->rdd);
    if (g->error)
        g_error_free(g->error);
}

void em__dstream_free(em_dstream *ds)
{
    if (ds->klass->finalize)
        ds->klass->finalize(ds);
    if (ds->destroy)
        ds->destroy(ds->ud);
    for (guint i = 0; i < ds->generated->len; i++)
        generated_clear(&g_array_index(ds->generated, em_generated, i));
    g_array_unref(ds->generated);
    g_mutex_clear(&ds->lock);
    g_free(ds->parents);
    g_free(ds->fn_name);
    g_free(ds);
}

em_duration em_dstream_slide(const em_dstream *ds) { return ds->slide; }
em_ssc *em_dstream_ssc(const em_dstream *ds) { return ds->ssc; }

em_dstream *em_cache(em_dstream *ds)
{
    if (em__dstream_check(ds, "em_cache"))
        ds->cached = true;
    return ds;
}

em_dstream *em_persist(em_dstream *ds) { return em_cache(ds); }

/* The entry for t, or NULL. Under ds->lock. */
static em_generated *find_generated(em_dstream *ds, em_time t)
{
    for (guint i = ds->generated->len; i-- > 0;) {
        em_generated *g = &g_array_index(ds->generated, em_generated, i);
        if (g->time == t)
            return g;
        if (g->time < t)
            break;
    }
    return NULL;
}

em_rdd *em__dstream_get_or_compute(em_dstream *ds, em_time t, GError **err)
{
    g_mutex_lock(&ds->lock);
    em_generated *found = find_generated(ds, t);
    em_rdd *rdd = found ? found->rdd : NULL;
    GError *failed = found && found->error ? g_error_copy(found->error) : NULL;
    g_mutex_unlock(&ds->lock);
    if (found) {
        /* Computed once: the RDD, or the failure again (never a second compute, which would
         * take an input's data twice or read parents that forgot t). */
        if (failed)
            g_propagate_error(err, failed);
        return rdd;
    }
    /* Spark's isTimeValid: a multiple of the slide from zero, after zero. */
    if (t <= ds->zero_time || (t - ds->zero_time) % ds->slide != 0)
        return NULL;
    GError *compute_err = NULL;
    rdd = ds->klass->compute(ds, t, &compute_err);
    if (!rdd && !compute_err)
        return NULL;
    if (rdd && ds->cached)
        em_rdd_cache(rdd);
    em_generated g = {t, rdd, compute_err ? g_error_copy(compute_err) : NULL};
    if (compute_err)
        g_propagate_error(err, compute_err);
    g_mutex_lock(&ds->lock);
    /* Batches are computed in time order, but a window may ask for an older time first. */
    guint at = ds->generated->len;
    while (at > 0 && g_array_index(ds->generated, em_generated, at - 1).time > t)
        at--;
    g_array_insert_val(ds->generated, at, g);
    g_mutex_unlock(&ds->lock);
    return rdd;
}

void em__dstream_clear(em_dstream *ds, em_time t)
{
    g_mutex_lock(&ds->lock);
    guint drop = 0;
    while (drop < ds->generated->len &&
           g_array_index(ds->generated, em_generated, drop).time <= t - ds->remember)
        drop++;
    em_generated *old = g_new(em_generated, drop ? drop : 1);
    for (guint i = 0; i < drop; i++)
        old[i] = g_array_index(ds->generated, em_generated, i);
    g_array_remove_range(ds->generated, 0, drop);
    if (t - ds->remember > ds->forgotten_until)
        ds->forgotten_until = t - ds->remember;
    g_mutex_unlock(&ds->lock);
    for (guint i = 0; i < drop; i++)
        generated_clear(&old[i]);
    g_free(old);
    for (int i = 0; i < ds->n_parents; i++)
        em__dstream_clear(ds->parents[i], t);
}

void em__dstream_retained(em_dstream *ds, GHashTable *seen, int64_t *batches, int64_t *bytes)
{
    if (!g_hash_table_add(seen, ds))
        return;
    g_mutex_lock(&ds->lock);
    *batches += ds->generated->len;
    for (guint i = 0; i < ds->generated->len; i++) {
        em_rdd *rdd = g_array_index(ds->generated, em_generated, i).rdd;
        if (rdd)
            *bytes += em__rdd_retained_bytes(rdd);
        else
            (*batches)--; /* a failed time keeps no RDD */
    }
    g_mutex_unlock(&ds->lock);
    for (int i = 0; i < ds->n_parents; i++)
        em__dstream_retained(ds->parents[i], seen, batches, bytes);
}

/* a / b rounded down (b > 0), for times before zero. */
static em_time floor_div(em_time a, em_duration b)
{
    em_time q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

GPtrArray *em_slice(em_dstream *ds, em_time from, em_time to)
{
    if (!ds) {
        g_critical("em_slice: the stream is NULL");
        return NULL;
    }
    if (!ds->initialized) {
        /* Spark: "<class> has not been initialized" — not started, or under no output. */
        g_critical("em_slice: %s has not been initialized (start the StreamingContext first; "
                   "the stream must lead to an output operation)",
                   ds->klass->type_name);
        return NULL;
    }
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
    em_ssc *ssc = ds->ssc;
    em_time zero = ds->zero_time;
    /* Align both ends down to the slide, as Spark's slice does. */
    em_time first = zero + floor_div(from - zero, ds->slide) * ds->slide;
    em_time last = zero + floor_div(to - zero, ds->slide) * ds->slide;
    g_mutex_lock(&ssc->lock);
    em_time current = ssc->current_batch;
    g_mutex_unlock(&ssc->lock);
    /* Times up to the batch under way, computed when not yet generated (Spark's getOrCompute);
     * times already forgotten are not recomputed (that would take input data again). */
    if (current < zero + ds->slide)
        return out;
    last = MIN(last, zero + floor_div(current - zero, ds->slide) * ds->slide);
    g_mutex_lock(&ds->lock);
    em_time forgotten = ds->forgotten_until;
    g_mutex_unlock(&ds->lock);
    em_time lo = MAX(first, zero + ds->slide);
    if (forgotten >= lo)
        lo = zero + (floor_div(forgotten - zero, ds->slide) + 1) * ds->slide;
    g_rec_mutex_lock(&ssc->generate_lock);
    for (em_time t = lo; t <= last; t += ds->slide) {
        GError *err = NULL;
        em_rdd *rdd = em__dstream_get_or_compute(ds, t, &err);
        if (rdd)
            g_ptr_array_add(out, em_rdd_ref(rdd));
        g_clear_error(&err); /* a failed time has no RDD; its batch reported the failure */
    }
    g_rec_mutex_unlock(&ssc->generate_lock);
    return out;
}
