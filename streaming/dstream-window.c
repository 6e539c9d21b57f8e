/* Windows over a stream (Spark's WindowedDStream): the RDD at t is the union of the parent's
 * RDDs in (t - W, t]. A window exists only at multiples of its slide from zero; W and S must be
 * multiples of the parent's slide, checked when the window is defined. */
#include "streaming-private.h"

typedef struct {
    em_duration window;
} window_state;

bool em__check_window(const em_dstream *parent, em_duration window, em_duration slide,
                      const char *op)
{
    if (window <= 0 || slide <= 0) {
        g_critical("%s: the window (%" G_GINT64_FORMAT " ms) and slide (%" G_GINT64_FORMAT
                   " ms) durations must be > 0",
                   op, (gint64)window, (gint64)slide);
        return false;
    }
    if (window % parent->slide != 0) {
        g_critical("%s: the window duration (%" G_GINT64_FORMAT " ms) must be a multiple of "
                   "the slide duration of the parent stream (%" G_GINT64_FORMAT " ms)",
                   op, (gint64)window, (gint64)parent->slide);
        return false;
    }
    if (slide % parent->slide != 0) {
        g_critical("%s: the slide duration (%" G_GINT64_FORMAT " ms) must be a multiple of "
                   "the slide duration of the parent stream (%" G_GINT64_FORMAT " ms)",
                   op, (gint64)slide, (gint64)parent->slide);
        return false;
    }
    return true;
}

static em_rdd *window_compute(em_dstream *ds, em_time t, GError **err)
{
    const window_state *st = ds->state;
    em_dstream *parent = ds->parents[0];
    GPtrArray *in = g_ptr_array_new();
    for (em_time u = t - st->window + parent->slide; u <= t; u += parent->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(parent, u, err);
        if (rdd)
            g_ptr_array_add(in, rdd);
        else if (err && *err) {
            g_ptr_array_unref(in);
            return NULL;
        }
    }
    em_rdd *out = in->len ? em_rdd_union_n((em_rdd *const *)in->pdata, in->len)
                          : em_empty_rdd(ds->ssc->sc);
    g_ptr_array_unref(in);
    return out;
}

static em_duration window_parent_extra(const em_dstream *ds)
{
    return ((const window_state *)ds->state)->window;
}

static void window_finalize(em_dstream *ds) { g_free(ds->state); }

static const em_dstream_class window_class = {.type_name = "WindowedDStream",
                                              .compute = window_compute,
                                              .parent_remember_extra = window_parent_extra,
                                              .finalize = window_finalize};

em_dstream *em_window(em_dstream *ds, em_duration window, em_duration slide)
{
    if (!em__dstream_check(ds, "window") || !em__check_window(ds, window, slide, "window"))
        return NULL;
    em_dstream *out = em__dstream_new(ds->ssc, &window_class, "window", &ds, 1);
    out->slide = slide;
    window_state *st = g_new(window_state, 1);
    st->window = window;
    out->state = st;
    /* As Spark: the parent's batches are read by several windows, compute each once. */
    ds->cached = true;
    return out;
}

/* ---- reduceByKeyAndWindow with an inverse function (Spark's ReducedWindowedDStream) ----
 * The window at t is the window at t - S, minus the batches that left (inverse), plus those
 * that entered, so its cost does not grow with W/S. As in Spark, the previous window and the
 * reduced batches share one hash partitioner, so they are cogrouped without a shuffle: window
 * partition i reads partition i of each, and Spark's mergeValues (and the filter) run in the
 * same pass. */

typedef struct {
    em_reduce_fn fn, inv;
    em_filter_fn filter;
    void *ud;
    GDestroyNotify destroy;
    em_duration window;
    int partitions;      /* of every reduced batch and every window: one hash partitioner */
    em_dstream *reduced; /* the parent reduced per batch (cached) */
    em_time failed;      /* the newest window that could not be computed */
} reduced_window;

enum { PREV = 1, LEFT = 2, ENTERED = 4 };

/* One key of the window being merged: its value in the previous window and the reduced values
 * of the batches that left and entered, each there when its bit is in mask. */
typedef struct {
    em_value key, prev, left, entered;
    int mask;
} window_key;

/* A window RDD's parents: the previous window (when there is one), then the reduced batches
 * that left from first_left, then those that entered from first_entered. */
typedef struct {
    const reduced_window *rw;
    int first_left, first_entered;
} window_cogroup;

typedef struct {
    em_sink base;
    const em_rdd *rdd;
    const reduced_window *rw;
    int tag;
    em_combiner index; /* key -> its position in keys */
    GArray *keys;      /* window_key, in order of first appearance */
} cogroup_sink;

/* The parents are cached (the reduced batches) or checkpointed (the previous window): the keys
 * and values they push stay valid for the whole task and are kept by reference. */
static void cogroup_push(em_sink *s, em_value kv)
{
    cogroup_sink *c = (cogroup_sink *)s;
    em_value key = em_key(kv);
    bool is_new;
    em_value *slot = em__combiner_upsert(&c->index, key, em_value_hash(key), NULL, &is_new);
    if (is_new) {
        slot[1] = em_int(c->keys->len);
        window_key fresh = {.key = key};
        g_array_append_val(c->keys, fresh);
    }
    window_key *wk = &g_array_index(c->keys, window_key, em_as_int(slot[1]));
    em_value *acc = c->tag == PREV ? &wk->prev : c->tag == LEFT ? &wk->left : &wk->entered;
    if (wk->mask & c->tag) {
        /* Several batches left or entered: reduce them first, as Spark does. */
        s->task->cur_rdd = c->rdd;
        *acc = em__value_copy(c->rw->fn(*acc, em_val(kv), c->rw->ud), s->task->arena);
    } else {
        *acc = em_val(kv);
    }
    wk->mask |= c->tag;
}

/* Spark's mergeValues: previous - left + entered. */
static em_value merge_values(const reduced_window *rw, const window_key *wk)
{
    if (!(wk->mask & PREV))
        return wk->entered;
    em_value v = wk->prev;
    if (wk->mask & LEFT)
        v = rw->inv(v, wk->left, rw->ud);
    if (wk->mask & ENTERED)
        v = rw->fn(v, wk->entered, rw->ud);
    return v;
}

static void cogroup_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const window_cogroup *wc = rdd->state;
    cogroup_sink c = {.base = {cogroup_push, task}, .rdd = rdd, .rw = wc->rw,
                      .keys = g_array_new(FALSE, FALSE, sizeof(window_key))};
    em__combiner_init(&c.index);
    for (int p = 0; p < rdd->n_parents && !task->stop; p++) {
        c.tag = p < wc->first_left ? PREV : p < wc->first_entered ? LEFT : ENTERED;
        em__compute(rdd->parents[p], task, index, &c.base);
    }
    em__combiner_clear(&c.index);
    for (guint i = 0; i < c.keys->len && !task->stop; i++) {
        const window_key *wk = &g_array_index(c.keys, window_key, i);
        if (!(wk->mask & (PREV | ENTERED))) {
            em__task_fail(task, rdd, "reduceByKeyAndWindow: a key left the window that was not "
                                     "in the previous window; does the key hash consistently?");
            break;
        }
        task->cur_rdd = rdd;
        em_value kv = em_pair(wk->key, merge_values(wc->rw, wk));
        bool keep = !task->stop && (!wc->rw->filter || wc->rw->filter(kv, wc->rw->ud));
        if (keep && !task->stop)
            out->push(out, kv);
        em_arena_reset(task->scratch);
    }
    g_array_unref(c.keys);
}

static const em_rdd_class cogroup_class = {.type_name = "CoGroupedRDD",
                                           .compute = cogroup_compute};

/* Appends the reduced batches at times from..to (step: the parent's slide), borrowed. */
static bool add_batches(em_dstream *reduced, em_time from, em_time to, GPtrArray *parents,
                        GError **err)
{
    for (em_time u = from; u <= to; u += reduced->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(reduced, u, err);
        if (rdd)
            g_ptr_array_add(parents, rdd);
        else if (err && *err)
            return false;
    }
    return true;
}

static em_rdd *reduced_window_compute(em_dstream *ds, em_time t, GError **err)
{
    reduced_window *rw = ds->state;
    em_duration ps = rw->reduced->slide, W = rw->window, S = ds->slide;
    GPtrArray *parents = g_ptr_array_new();
    window_cogroup *wc = g_new(window_cogroup, 1);
    wc->rw = rw;
    /* current window: (t - W, t]; previous one: (t - S - W, t - S]. The batches that left are
     * in the previous window only, those that entered in the current one only: with a slide
     * longer than the window (Spark takes the gap between them as both, and miscounts) the
     * batches in the gap are in neither. After a failed window this one is computed from its
     * own batches (forgetting the keys kept at the identity), not from every window before. */
    bool after_failure = rw->failed == t - S;
    em_rdd *prev = after_failure ? NULL : em__dstream_get_or_compute(ds, t - S, err);
    bool ok = !(err && *err);
    if (ok && prev)
        g_ptr_array_add(parents, prev);
    wc->first_left = (int)parents->len;
    if (!after_failure)
        ok = ok && add_batches(rw->reduced, t - S - W + ps, MIN(t - W, t - S), parents, err);
    wc->first_entered = (int)parents->len;
    em_time entered = after_failure ? t - W : MAX(t - S, t - W);
    ok = ok && add_batches(rw->reduced, entered + ps, t, parents, err);
    em_rdd *out = NULL;
    if (ok) {
        out = em__rdd_new(ds->ssc->sc, &cogroup_class, "reduceByKeyAndWindow", rw->partitions,
                          (em_rdd *const *)parents->pdata, (int)parents->len);
        em__rdd_set_fn(out, EM_ANY_FN(rw->fn), wc, g_free, ds->fn_name);
        out->state = wc;
        wc = NULL;
        /* The next window starts from this one: compute it now and cut its lineage, so the
         * chain of windows does not keep every earlier window and batch alive. */
        if (!em__rdd_checkpoint(out, err))
            g_clear_pointer(&out, em_rdd_unref);
    }
    if (!out)
        rw->failed = t;
    g_free(wc);
    g_ptr_array_unref(parents);
    return out;
}

static em_duration reduced_window_parent_extra(const em_dstream *ds)
{
    return ((const reduced_window *)ds->state)->window;
}

static void reduced_window_finalize(em_dstream *ds)
{
    reduced_window *rw = ds->state;
    if (rw->destroy)
        rw->destroy(rw->ud);
    g_free(rw);
}

static const em_dstream_class reduced_window_class = {
    .type_name = "ReducedWindowedDStream",
    .compute = reduced_window_compute,
    .parent_remember_extra = reduced_window_parent_extra,
    .finalize = reduced_window_finalize,
};

em_dstream *em_reduce_by_key_and_window_full(em_dstream *ds, em_reduce_fn fn, em_reduce_fn inv,
                                             em_duration window, em_duration slide,
                                             int num_partitions, em_filter_fn filter, void *ud,
                                             GDestroyNotify destroy, const char *name)
{
    const char *op = "reduceByKeyAndWindow";
    if (!em__dstream_check(ds, op) || !em__check_window(ds, window, slide, op)) {
        if (destroy)
            destroy(ud);
        return NULL;
    }
    if (!inv) {
        /* reduceByKey(f).window(W, S).reduceByKey(f), as Spark: the user data is shared, so
         * the last stream owns it. */
        em_dstream *per_batch =
            em_reduce_by_key_full(ds, fn, ud, NULL, name, num_partitions);
        em_dstream *windowed = em_window(per_batch, window, slide);
        em_dstream *out = em_reduce_by_key_full(windowed, fn, ud, destroy, name, num_partitions);
        return filter ? em_filter_full(out, (em_filter_fn)filter, ud, NULL, "filter") : out;
    }
    /* Spark's defaultPartitioner: the per-batch reduce and every window share it. */
    int n = num_partitions > 0 ? num_partitions : ds->ssc->sc->parallelism;
    em_dstream *reduced = em_reduce_by_key_full(ds, fn, ud, NULL, name, n);
    em_cache(reduced);
    em_dstream *out = em__dstream_new(ds->ssc, &reduced_window_class, op, &reduced, 1);
    out->slide = slide;
    out->num_partitions = num_partitions;
    out->fn_name = g_strdup(name);
    reduced_window *rw = g_new0(reduced_window, 1);
    *rw = (reduced_window){fn, inv, filter, ud, destroy, window, n, reduced, G_MININT64};
    out->state = rw;
    return out;
}

/* ---- The rest of the window family, built as Spark builds it ---- */

static em_value key_one(em_value v, void *ud) { return (void)ud, em_pair(em_int(1), v); }
static em_value value_of(em_value kv, void *ud) { return (void)ud, em_val(kv); }
static em_value one(em_value v, void *ud) { return (void)v, (void)ud, em_int(1); }

em_dstream *em_reduce_by_window_full(em_dstream *ds, em_reduce_fn fn, em_reduce_fn inv,
                                     em_duration window, em_duration slide, void *ud,
                                     GDestroyNotify destroy, const char *name)
{
    if (!em__dstream_check(ds, "reduceByWindow") ||
        !em__check_window(ds, window, slide, "reduceByWindow")) {
        if (destroy)
            destroy(ud);
        return NULL;
    }
    if (!inv) {
        /* reduce(f).window(W, S).reduce(f) */
        em_dstream *per_batch = em_reduce_full(ds, fn, ud, NULL, name);
        return em_reduce_full(em_window(per_batch, window, slide), fn, ud, destroy, name);
    }
    /* map((1, _)).reduceByKeyAndWindow(f, inv, W, S, 1).map(_._2) */
    em_dstream *keyed = em_map(ds, key_one);
    em_dstream *win = em_reduce_by_key_and_window_full(keyed, fn, inv, window, slide, 1, NULL,
                                                       ud, destroy, name);
    return win ? em_map(win, value_of) : NULL;
}

em_dstream *em_count_by_window(em_dstream *ds, em_duration window, em_duration slide)
{
    /* map(_ => 1L).reduceByWindow(_ + _, _ - _, W, S) */
    em_dstream *ones = ds ? em_map(ds, one) : NULL;
    return em_reduce_by_window_full(ones, em_sum, em_subtract, window, slide, NULL, NULL,
                                    "countByWindow");
}

em_dstream *em_group_by_key_and_window_n(em_dstream *ds, em_duration window, em_duration slide,
                                         int num_partitions)
{
    /* window(W, S).groupByKey(partitioner) */
    em_dstream *win = em_window(ds, window, slide);
    return win ? em_group_by_key_n(win, num_partitions) : NULL;
}

em_dstream *em_count_by_value_and_window_n(em_dstream *ds, em_duration window,
                                           em_duration slide, int num_partitions)
{
    /* map((_, 1L)).reduceByKeyAndWindow(_ + _, _ - _, W, S, n, _._2 != 0L) */
    em_dstream *ones = ds ? em_map(ds, em_pair_one) : NULL;
    return em_reduce_by_key_and_window_full(ones, em_sum, em_subtract, window, slide,
                                            num_partitions, em_filter_nonzero, NULL, NULL,
                                            "countByValueAndWindow");
}
