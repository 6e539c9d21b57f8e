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
 * that entered, so its cost does not grow with W/S. The previous window, the reduced batches
 * that left and those that entered are tagged 0, 1, 2 and meet in one combineByKey shuffle;
 * each key's combiner holds (mask, previous, left, entered). */

typedef struct {
    em_reduce_fn fn, inv;
    em_filter_fn filter;
    void *ud;
    GDestroyNotify destroy;
    em_duration window;
    em_dstream *reduced; /* the parent reduced per batch (cached) */
} reduced_window;

enum { PREV = 0, LEFT = 1, ENTERED = 2 };

static em_value tag_with(em_value kv, int tag)
{
    return em_pair(em_key(kv), em_pair(em_int(tag), em_val(kv)));
}

static em_value tag_prev(em_value kv, void *ud) { return (void)ud, tag_with(kv, PREV); }
static em_value tag_left(em_value kv, void *ud) { return (void)ud, tag_with(kv, LEFT); }
static em_value tag_entered(em_value kv, void *ud) { return (void)ud, tag_with(kv, ENTERED); }

static em_value slots_new(int64_t mask, const em_value *slot)
{
    em_value f[4] = {em_int(mask), slot[0], slot[1], slot[2]};
    return em_tuple_in(em_scratch(), f, 4);
}

/* Adds value v at tag into the slots, reducing with fn where the slot is taken. */
static em_value slots_add(const reduced_window *rw, em_value state, int tag, em_value v)
{
    int64_t mask = em_as_int(em_field(state, 0));
    em_value slot[3] = {em_field(state, 1), em_field(state, 2), em_field(state, 3)};
    if (mask & (1 << tag)) {
        if (tag == PREV)
            return em_fail("reduceByKeyAndWindow: two previous-window values for one key");
        slot[tag] = rw->fn(slot[tag], v, rw->ud);
    } else {
        slot[tag] = v;
    }
    return slots_new(mask | (1 << tag), slot);
}

static em_value slots_create(em_value tv, void *ud)
{
    em_value none[3] = {em_null(), em_null(), em_null()};
    return slots_add(ud, slots_new(0, none), (int)em_as_int(em_key(tv)), em_val(tv));
}

static em_value slots_merge_value(em_value state, em_value tv, void *ud)
{
    return slots_add(ud, state, (int)em_as_int(em_key(tv)), em_val(tv));
}

static em_value slots_merge(em_value a, em_value b, void *ud)
{
    int64_t mask = em_as_int(em_field(b, 0));
    for (int tag = PREV; tag <= ENTERED && !em_is_null(a); tag++)
        if (mask & (1 << tag))
            a = slots_add(ud, a, tag, em_field(b, 1 + tag));
    return a;
}

/* Spark's mergeValues: previous - left + entered. */
static em_value slots_finish(em_value state, void *ud)
{
    const reduced_window *rw = ud;
    int64_t mask = em_as_int(em_field(state, 0));
    if (!(mask & (1 << PREV))) {
        if (mask & (1 << LEFT))
            return em_fail("reduceByKeyAndWindow: a key left the window that was not in the "
                           "previous window; does the key hash consistently?");
        return em_field(state, 1 + ENTERED);
    }
    em_value v = em_field(state, 1 + PREV);
    if (mask & (1 << LEFT))
        v = rw->inv(v, em_field(state, 1 + LEFT), rw->ud);
    if (mask & (1 << ENTERED))
        v = rw->fn(v, em_field(state, 1 + ENTERED), rw->ud);
    return v;
}

static bool keep_entry(em_value kv, void *ud)
{
    const reduced_window *rw = ud;
    return !rw->filter || rw->filter(kv, rw->ud);
}

/* Appends the tagged reduced batches at times from..to (step: the parent's slide). */
static bool add_batches(em_dstream *reduced, em_time from, em_time to, em_map_fn tag,
                        GPtrArray *parts, GError **err)
{
    for (em_time u = from; u <= to; u += reduced->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(reduced, u, err);
        if (!rdd) {
            if (err && *err)
                return false;
            continue;
        }
        g_ptr_array_add(parts, em_rdd_map_full(rdd, tag, NULL, NULL, "window"));
    }
    return true;
}

static em_rdd *reduced_window_compute(em_dstream *ds, em_time t, GError **err)
{
    reduced_window *rw = ds->state;
    em_duration ps = rw->reduced->slide, W = rw->window, S = ds->slide;
    GPtrArray *parts = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
    /* current window: (t - W, t]; previous one: (t - S - W, t - S]. */
    em_rdd *prev = em__dstream_get_or_compute(ds, t - S, err);
    bool ok = !(err && *err);
    if (ok && prev)
        g_ptr_array_add(parts, em_rdd_map_full(prev, tag_prev, NULL, NULL, "window"));
    ok = ok && add_batches(rw->reduced, t - S - W + ps, t - W, tag_left, parts, err) &&
         add_batches(rw->reduced, t - S + ps, t, tag_entered, parts, err);
    em_rdd *out = NULL;
    if (ok) {
        int n = ds->num_partitions > 0 ? ds->num_partitions : ds->ssc->sc->parallelism;
        g_autoptr(em_rdd) all = parts->len ? em_rdd_union_n((em_rdd *const *)parts->pdata,
                                                            parts->len)
                                           : em_empty_rdd(ds->ssc->sc);
        g_autoptr(em_rdd) combined = em_rdd_combine_by_key_full(
            all, slots_create, slots_merge_value, slots_merge, rw, NULL, ds->fn_name, n);
        g_autoptr(em_rdd) merged =
            em_rdd_map_values_full(combined, slots_finish, rw, NULL, ds->fn_name);
        out = rw->filter ? em_rdd_filter_full(merged, keep_entry, rw, NULL, "filter")
                         : em_rdd_ref(merged);
        /* The next window starts from this one: compute it now and cut its lineage, so the
         * chain of windows does not keep every earlier window and batch alive. */
        if (!em__rdd_checkpoint(out, err))
            g_clear_pointer(&out, em_rdd_unref);
    }
    g_ptr_array_unref(parts);
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
    em_dstream *reduced = em_reduce_by_key_full(ds, fn, ud, NULL, name, num_partitions);
    em_cache(reduced);
    em_dstream *out = em__dstream_new(ds->ssc, &reduced_window_class, op, &reduced, 1);
    out->slide = slide;
    out->num_partitions = num_partitions;
    out->fn_name = g_strdup(name);
    reduced_window *rw = g_new0(reduced_window, 1);
    *rw = (reduced_window){fn, inv, filter, ud, destroy, window, reduced};
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
