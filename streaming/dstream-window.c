/* Windows over a stream (Spark's WindowedDStream): the RDD at t is the union of the parent's
 * RDDs in (t - W, t]. A window exists only at multiples of its slide from zero; W and S must be
 * multiples of the parent's slide, checked when the window is defined. */
#include "checkpoint-file.h"
#include "recovery.h"

typedef struct {
    em_dstream base;
    em_duration window;
} window_dstream;

/* Checks a window's durations against its parent (critical message naming them when wrong). */
static bool check_window(const em_dstream *parent, em_duration window, em_duration slide,
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
    em_duration window = ((const window_dstream *)ds)->window;
    em_dstream *parent = ds->parents[0];
    GPtrArray *in = g_ptr_array_new();
    for (em_time u = t - window + parent->slide; u <= t; u += parent->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(parent, u, err);
        if (rdd)
            g_ptr_array_add(in, rdd);
        else if (err && *err) {
            g_ptr_array_unref(in);
            return NULL;
        }
    }
    em_rdd *out =
        in->len ? em_rdd_union_n((em_rdd *const *)in->pdata, in->len) : em_empty_rdd(ds->ssc->sc);
    g_ptr_array_unref(in);
    return out;
}

static em_duration window_parent_extra(const em_dstream *ds)
{
    return ((const window_dstream *)ds)->window;
}

static const em_dstream_class window_class = {.type_name = "WindowedDStream",
                                              .instance_size = sizeof(window_dstream),
                                              .compute = window_compute,
                                              .parent_remember_extra = window_parent_extra};

em_dstream *em_window(em_dstream *ds, em_duration window, em_duration slide)
{
    if (!em__dstream_check(ds, "window") || !check_window(ds, window, slide, "window"))
        return NULL;
    em_dstream *out = em__dstream_new(ds->ssc, &window_class, "window", &ds, 1);
    out->slide = slide;
    ((window_dstream *)out)->window = window;
    /* As Spark: the parent's batches are read by several windows, compute each once. */
    ds->cached = true;
    return out;
}

/* ---- reduceByKeyAndWindow with an inverse function (Spark's ReducedWindowedDStream) ----
 * The window at t is the window at t - S, minus the batches that left (inverse), plus those
 * that entered, so its cost does not grow with W/S. As in Spark, the previous window and the
 * reduced batches share one hash partitioner, so they are cogrouped without a shuffle: window
 * partition i reads partition i of each, and Spark's mergeValues runs in the same pass.
 *
 * Unlike Spark, the filter does not touch the state: the stream keeps the unfiltered window
 * ((k, (v, the newest batch time holding k)) records) and filters only what it emits. Spark
 * filters the state itself, so a key filtered out at 0 that later leaves the window is
 * subtracted from nothing (a wrong value, or an abort here). With a filter, a key no batch of
 * the window holds any more is dropped from the state: recomputing the window would not have
 * it. Without one, such keys stay at the identity, as in Spark. */

typedef struct {
    em_dstream base;
    em_reduce_fn fn, inv;
    em_filter_fn filter;
    em_duration window;
    int partitions;      /* of every reduced batch and every window: one hash partitioner */
    em_dstream *reduced; /* the parent reduced per batch (cached) */
    em_rdd *last;        /* the newest window's state (referenced), NULL for none */
    em_time last_time;   /* its time */
} reduced_window;

enum { PREV = 1, LEFT = 2, ENTERED = 4 };

/* One key of the window being merged: its value (and newest batch) in the previous window and
 * the reduced values of the batches that left and entered, each there when its bit is in mask. */
typedef struct {
    em_table_entry base; /* the key (value unused) */
    em_value prev, left, entered;
    em_time seen;
    int mask;
} window_key;

/* A window state RDD's parents: the previous window (when there is one), then the reduced
 * batches that left from first_left, then those that entered from first_entered, at times[]. */
typedef struct {
    em_rdd base;
    const reduced_window *rw;
    em_time t;
    int first_left, first_entered;
    em_time *times; /* [n_parents]: each reduced batch's time */
} window_cogroup;

static void window_cogroup_finalize(em_rdd *rdd) { g_free(((window_cogroup *)rdd)->times); }

typedef struct {
    em_sink base;
    const em_rdd *rdd;
    const reduced_window *rw;
    int tag;
    em_time time;  /* of the batch being read (LEFT, ENTERED) */
    em_table keys; /* key -> window_key; stable ids: in order of first appearance */
} cogroup_sink;

/* The parents are cached (the reduced batches) or checkpointed (the previous window): the keys
 * and values they push stay valid for the whole task and are kept by reference. */
static void cogroup_push(em_sink *s, em_value kv)
{
    cogroup_sink *c = (cogroup_sink *)s;
    em_value key = em_key(kv);
    bool is_new;
    window_key *wk = (window_key *)em__table_upsert(&c->keys, key, em_value_hash(key), &is_new);
    if (is_new)
        wk->seen = G_MININT64;
    if (c->tag == PREV) {
        em_value v = em_val(kv); /* (value, seen) */
        wk->prev = em_key(v);
        wk->seen = MAX(wk->seen, em_as_int(em_val(v)));
        wk->mask |= PREV;
        return;
    }
    if (c->tag == ENTERED)
        wk->seen = MAX(wk->seen, c->time);
    em_value *acc = c->tag == LEFT ? &wk->left : &wk->entered;
    if (wk->mask & c->tag) {
        /* Several batches left or entered: reduce them first, as Spark does. */
        s->task->cur_rdd = c->rdd;
        *acc = em__value_copy(c->rw->fn(*acc, em_val(kv), c->rw->base.ud), s->task->arena);
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
        v = rw->inv(v, wk->left, rw->base.ud);
    if (wk->mask & ENTERED)
        v = rw->fn(v, wk->entered, rw->base.ud);
    return v;
}

static void cogroup_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const window_cogroup *wc = (const window_cogroup *)rdd;
    const reduced_window *rw = wc->rw;
    cogroup_sink c = {.base = {cogroup_push, task}, .rdd = rdd, .rw = rw};
    /* Keys are kept as the parents give them (valid for the whole task). */
    em__table_init(&c.keys, sizeof(window_key), NULL, EM_TABLE_STABLE_IDS);
    for (int p = 0; p < rdd->n_parents && !task->stop; p++) {
        c.tag = p < wc->first_left ? PREV : p < wc->first_entered ? LEFT : ENTERED;
        c.time = wc->times[p];
        em__compute(rdd->parents[p], task, index, &c.base);
    }
    uint32_t pos = 0;
    for (const window_key *wk;
         !task->stop && (wk = (const window_key *)em__table_next(&c.keys, &pos));) {
        if (!(wk->mask & (PREV | ENTERED))) {
            em__task_fail(task, rdd,
                          "reduceByKeyAndWindow: a key left the window that was not "
                          "in the previous window; does the key hash consistently?");
            break;
        }
        /* With a filter, a key that no batch of (t - W, t] holds leaves the state. */
        if (rw->filter && wk->seen <= wc->t - rw->window)
            continue;
        task->cur_rdd = rdd;
        em_value v = merge_values(rw, wk);
        if (!task->stop)
            out->push(out, em_pair(em__table_key(&wk->base), em_pair(v, em_int(wk->seen))));
        em_arena_reset(task->scratch);
    }
    em__table_clear(&c.keys);
}

static const em_rdd_class cogroup_class = {.type_name = "CoGroupedRDD",
                                           .compute = cogroup_compute,
                                           .finalize = window_cogroup_finalize};

/* Appends the reduced batches at times from..to (step: the parent's slide), borrowed. */
static bool add_batches(em_dstream *reduced, em_time from, em_time to, GPtrArray *parents,
                        GArray *times, GError **err)
{
    for (em_time u = from; u <= to; u += reduced->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(reduced, u, err);
        if (rdd) {
            g_ptr_array_add(parents, rdd);
            g_array_append_val(times, u);
        } else if (err && *err) {
            return false;
        }
    }
    return true;
}

/* The unfiltered window at t, computed (cached) but with its lineage kept, or NULL with err. */
static em_rdd *window_state_at(reduced_window *rw, em_time t, GError **err)
{
    em_dstream *ds = &rw->base;
    em_duration ps = rw->reduced->slide, W = rw->window, S = ds->slide;
    /* current window: (t - W, t]; previous one: (t - S - W, t - S]. The batches that left are
     * in the previous window only, those that entered in the current one only: with a slide
     * longer than the window (Spark takes the gap between them as both, and miscounts) the
     * batches in the gap are in neither. Without the previous window (the first one, or after
     * a window that failed) this one is computed from its own batches. */
    em_rdd *prev = rw->last && rw->last_time == t - S ? rw->last : NULL;
    GPtrArray *parents = g_ptr_array_new();
    GArray *times = g_array_new(FALSE, FALSE, sizeof(em_time));
    if (prev) {
        g_ptr_array_add(parents, prev);
        g_array_append_val(times, rw->last_time);
    }
    int first_left = (int)parents->len;
    bool ok =
        !prev || add_batches(rw->reduced, t - S - W + ps, MIN(t - W, t - S), parents, times, err);
    int first_entered = (int)parents->len;
    em_time entered = prev ? MAX(t - S, t - W) : t - W;
    ok = ok && add_batches(rw->reduced, entered + ps, t, parents, times, err);
    em_rdd *state = NULL;
    if (ok) {
        window_cogroup *wc =
            EM__RDD_NEW(window_cogroup, ds->ssc->sc, &cogroup_class, "reduceByKeyAndWindow",
                        rw->partitions, (em_rdd *const *)parents->pdata, (int)parents->len);
        wc->rw = rw;
        wc->t = t;
        wc->first_left = first_left;
        wc->first_entered = first_entered;
        wc->times = (em_time *)(void *)g_array_free(times, FALSE);
        times = NULL;
        em__rdd_own(&wc->base, NULL, NULL, ds->fn_name); /* the user data is the stream's */
        state = &wc->base;
        /* The next window starts from this one: compute it now. */
        em_rdd_cache(state);
        if (em_rdd_count(state, err) < 0)
            g_clear_pointer(&state, em_rdd_unref);
    }
    if (times)
        g_array_unref(times);
    g_ptr_array_unref(parents);
    return state;
}

/* (k, (v, seen)) -> (k, v) when the filter keeps it. */
static em_value emit_window(em_value kv, void *ud)
{
    const reduced_window *rw = ud;
    em_value out = em_pair(em_key(kv), em_key(em_val(kv)));
    if (rw->filter && !rw->filter(out, rw->base.ud))
        return em_none();
    return em_some(out);
}

static em_rdd *reduced_window_compute(em_dstream *ds, em_time t, GError **err)
{
    reduced_window *rw = (reduced_window *)ds;
    em_rdd *state = window_state_at(rw, t, err);
    if (!state)
        return NULL;
    /* The previous window is read for the last time: cut its lineage, so the chain of windows
     * does not keep every earlier window and batch alive. The new one keeps its parents (the
     * lineage dump shows them) until the next window is made. */
    if (rw->last && !em__rdd_checkpoint(rw->last, err)) {
        em_rdd_unref(state);
        return NULL;
    }
    em_rdd_unref(rw->last);
    rw->last = state;
    rw->last_time = t;
    return em_rdd_flat_map_full(state, emit_window, rw, NULL,
                                rw->filter ? "reduceByKeyAndWindow filter"
                                           : "reduceByKeyAndWindow");
}

static em_duration reduced_window_parent_extra(const em_dstream *ds)
{
    return ((const reduced_window *)ds)->window;
}

static void reduced_window_finalize(em_dstream *ds) { em_rdd_unref(((reduced_window *)ds)->last); }

/* ---- Checkpoints: the newest window's partial results, under "window/<name>" ----
 * With the reduced batches it still needs (saved by recovery as remembered batches), the next
 * window after a restart is computed incrementally from it, as without the restart. */

static void reduced_window_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name,
                                           em_time t)
{
    (void)t;
    reduced_window *rw = (reduced_window *)ds;
    g_autofree char *record = g_strconcat("window/", name, NULL);
    em_values *vals = rw->last ? em_rdd_collect(rw->last, NULL) : NULL;
    if (!vals) {
        em__ckpt_put_partials(ck, record, NULL, 0);
        return;
    }
    em_values *stored = em__values_new();
    em__values_append(stored, em_int(rw->partitions));
    for (size_t i = 0; i < vals->n; i++)
        em__values_append_copy(stored, vals->items[i]);
    em_ckpt_partial part = {rw->last_time, stored->items, stored->n};
    em__ckpt_put_partials(ck, record, &part, 1);
    em_values_free(stored);
    em_values_free(vals);
}

static bool reduced_window_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                              em_time t, GError **err)
{
    (void)t;
    reduced_window *rw = (reduced_window *)ds;
    g_autofree char *record = g_strconcat("window/", name, NULL);
    if (!em__ckpt_get(ck, record))
        return true; /* new in this program: its first window is computed from its batches */
    em_arena *arena = em_arena_new();
    GArray *parts = NULL;
    bool ok = em__ckpt_get_partials(ck, record, arena, &parts, err);
    if (ok && parts->len == 1) {
        em_ckpt_partial *p = &g_array_index(parts, em_ckpt_partial, 0);
        em_rdd *last = em__recovery_rebuild(ds->ssc->sc, p->records, p->n, err);
        ok = last != NULL;
        if (ok) {
            em_rdd_unref(rw->last);
            rw->last = last;
            rw->last_time = p->time;
        }
    }
    if (parts)
        g_array_unref(parts);
    em_arena_free(arena);
    return ok;
}

static const em_dstream_class reduced_window_class = {
    .type_name = "ReducedWindowedDStream",
    .instance_size = sizeof(reduced_window),
    .compute = reduced_window_compute,
    .parent_remember_extra = reduced_window_parent_extra,
    .finalize = reduced_window_finalize,
    .checkpoint_save = reduced_window_checkpoint_save,
    .checkpoint_restore = reduced_window_checkpoint_restore,
};

/* Checks a window spec (critical message naming what is wrong); destroys its ud when bad. */
static bool check_spec(em_dstream *ds, const em_reduce_window_spec *spec, const char *op,
                       em_duration *slide)
{
    bool ok = em__dstream_check(ds, op);
    if (ok && (!spec || !spec->fn)) {
        g_critical("%s: the spec has no reduce function", op);
        ok = false;
    }
    if (ok) {
        *slide = spec->slide ? spec->slide : ds->slide;
        ok = check_window(ds, spec->window, *slide, op);
    }
    if (!ok && spec && spec->destroy)
        spec->destroy(spec->ud);
    return ok;
}

em_dstream *em_reduce_by_key_and_window_full(em_dstream *ds, const em_reduce_window_spec *spec)
{
    const char *op = "reduceByKeyAndWindow";
    em_duration slide;
    if (!check_spec(ds, spec, op, &slide))
        return NULL;
    const char *name = spec->name ? spec->name : op;
    if (!spec->inv) {
        /* reduceByKey(f).window(W, S).reduceByKey(f)[.filter], as Spark: the user data is
         * shared, so the last stream owns it. */
        em_dstream *per_batch =
            em_reduce_by_key_full(ds, spec->fn, spec->ud, NULL, name, spec->num_partitions);
        em_dstream *windowed = em_window(per_batch, spec->window, slide);
        em_dstream *out =
            em_reduce_by_key_full(windowed, spec->fn, spec->ud,
                                  spec->filter ? NULL : spec->destroy, name, spec->num_partitions);
        return spec->filter ? em_filter_full(out, spec->filter, spec->ud, spec->destroy, "filter")
                            : out;
    }
    /* Spark's defaultPartitioner: the per-batch reduce and every window share it. */
    int n = spec->num_partitions > 0 ? spec->num_partitions : ds->ssc->sc->parallelism;
    em_dstream *reduced = em_reduce_by_key_full(ds, spec->fn, spec->ud, NULL, name, n);
    em_cache(reduced);
    em_dstream *out = em__dstream_new(ds->ssc, &reduced_window_class, op, &reduced, 1);
    out->slide = slide;
    em__dstream_own(out, spec->ud, spec->destroy, name);
    reduced_window *rw = (reduced_window *)out;
    rw->fn = spec->fn;
    rw->inv = spec->inv;
    rw->filter = spec->filter;
    rw->window = spec->window;
    rw->partitions = n;
    rw->reduced = reduced;
    return out;
}

/* ---- The rest of the window family, built as Spark builds it ---- */

static em_value key_one(em_value v, void *ud) { return (void)ud, em_pair(em_int(1), v); }
static em_value value_of(em_value kv, void *ud) { return (void)ud, em_val(kv); }
static em_value one(em_value v, void *ud) { return (void)v, (void)ud, em_int(1); }

em_dstream *em_reduce_by_window_full(em_dstream *ds, const em_reduce_window_spec *spec)
{
    const char *op = "reduceByWindow";
    em_duration slide;
    if (!check_spec(ds, spec, op, &slide))
        return NULL;
    if (spec->filter || spec->num_partitions) {
        g_critical("reduceByWindow: filter and num_partitions are reduceByKeyAndWindow's; "
                   "leave them 0");
        if (spec->destroy)
            spec->destroy(spec->ud);
        return NULL;
    }
    const char *name = spec->name ? spec->name : op;
    if (!spec->inv) {
        /* reduce(f).window(W, S).reduce(f) */
        em_dstream *per_batch = em_reduce_full(ds, spec->fn, spec->ud, NULL, name);
        return em_reduce_full(em_window(per_batch, spec->window, slide), spec->fn, spec->ud,
                              spec->destroy, name);
    }
    /* map((1, _)).reduceByKeyAndWindow(f, inv, W, S, 1).map(_._2) */
    em_dstream *keyed = em_map(ds, key_one);
    em_reduce_window_spec keyed_spec = *spec;
    keyed_spec.slide = slide;
    keyed_spec.num_partitions = 1;
    keyed_spec.name = name;
    em_dstream *win = em_reduce_by_key_and_window_full(keyed, &keyed_spec);
    return win ? em_map(win, value_of) : NULL;
}

em_dstream *em_count_by_window(em_dstream *ds, em_duration window, em_duration slide)
{
    /* map(_ => 1L).reduceByWindow(_ + _, _ - _, W, S) */
    em_dstream *ones = ds ? em_map(ds, one) : NULL;
    return em_reduce_by_window_full(ones, &(em_reduce_window_spec){.fn = em_sum,
                                                                   .inv = em_subtract,
                                                                   .window = window,
                                                                   .slide = slide,
                                                                   .name = "countByWindow"});
}

em_dstream *em_group_by_key_and_window_n(em_dstream *ds, em_duration window, em_duration slide,
                                         int num_partitions)
{
    /* window(W, S).groupByKey(partitioner) */
    em_dstream *win = em_window(ds, window, slide);
    return win ? em_group_by_key_n(win, num_partitions) : NULL;
}

em_dstream *em_count_by_value_and_window_n(em_dstream *ds, em_duration window, em_duration slide,
                                           int num_partitions)
{
    /* map((_, 1L)).reduceByKeyAndWindow(_ + _, _ - _, W, S, n, _._2 != 0L) */
    em_dstream *ones = ds ? em_map(ds, em_pair_one) : NULL;
    return em_reduce_by_key_and_window_full(ones,
                                            &(em_reduce_window_spec){.fn = em_sum,
                                                                     .inv = em_subtract,
                                                                     .window = window,
                                                                     .slide = slide,
                                                                     .num_partitions =
                                                                         num_partitions,
                                                                     .filter = em_filter_nonzero,
                                                                     .name =
                                                                         "countByValueAndWindow"});
}
