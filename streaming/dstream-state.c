/* Per-key state across batches: updateStateByKey (Spark's StateDStream). The state at t is the
 * batch at t cogrouped with the state at t - slide, each key passed to the update function;
 * the new state RDD is computed at once and its lineage cut, so state lives in memory owned by
 * the stream (cached partitions), copied out of the batch arenas that made it. */
#include "checkpoint-file.h"
#include "streaming-private.h"

typedef struct {
    em_dstream base;
    em_update_fn fn;
    int partitions;  /* as given: 0 for the context's parallelism */
    em_rdd *initial; /* may be NULL */
    em_rdd *last;    /* the newest state computed (referenced), NULL before the first */
    em_time last_time;
    em_rdd *committed; /* the state after the newest batch that succeeded (referenced) */
    em_time failed;    /* the newest batch time whose state was not computed or kept */
} state_stream;

typedef struct {
    const state_stream *st;
    em_time time;
} update_batch;

/* (k, (CompactBuffer(new values), CompactBuffer(state?))) -> Some((k, state')) or None. */
static em_value apply_update(em_value kv, void *ud)
{
    const update_batch *b = ud;
    em_value groups = em_val(kv);
    em_value values = em_key(groups), states = em_val(groups);
    em_value state = states.len ? em_list_get(states, 0) : em_none();
    em_value next =
        b->st->fn(em_key(kv), values.as.items, values.len, state, b->time, b->st->base.ud);
    if (next.type == EM_T_NONE)
        return em_none();
    return em_some(em_pair(em_key(kv), next));
}

static em_rdd *state_compute(em_dstream *ds, em_time t, GError **err)
{
    state_stream *st = (state_stream *)ds;
    /* After a failed batch the state goes on from the state after the previous batch (the
     * failed batch's records never reach it: the failure was reported). Recomputing the lost
     * state instead would recompute every state before it, from inputs that no longer hold
     * those batches. */
    em_rdd *prev = st->failed == t - ds->slide
                       ? st->last
                       : em__dstream_get_or_compute(ds, t - ds->slide, err);
    em_rdd *batch = NULL;
    if (!(err && *err))
        batch = em__dstream_get_or_compute(ds->parents[0], t, err);
    if (err && *err) {
        st->failed = t;
        return NULL;
    }
    if (!prev && !st->last)
        prev = st->initial; /* the first batch starts from the initial state */
    g_autoptr(em_rdd) none = em_empty_rdd(ds->ssc->sc);
    int n = st->partitions > 0 ? st->partitions : ds->ssc->sc->parallelism;
    g_autoptr(em_rdd) grouped = em_rdd_cogroup_n(batch ? batch : none, prev ? prev : none, n);
    update_batch *b = g_new(update_batch, 1);
    *b = (update_batch){st, t};
    em_rdd *next = em_rdd_flat_map_full(grouped, apply_update, b, g_free, ds->fn_name);
    if (!em__rdd_checkpoint(next, err)) {
        g_clear_pointer(&next, em_rdd_unref);
        st->failed = t;
        return NULL;
    }
    em_rdd_unref(st->last);
    st->last = em_rdd_ref(next);
    st->last_time = t;
    return next;
}

/* The batch's state is kept when every job of the batch succeeded; otherwise the stream goes
 * back to the state after the previous batch, and the next batch starts from there. */
static void state_batch_done(em_dstream *ds, em_time t, bool succeeded)
{
    state_stream *st = (state_stream *)ds;
    if (!st->last || st->last_time != t || st->last == st->committed)
        return;
    if (succeeded) {
        em_rdd_unref(st->committed);
        st->committed = em_rdd_ref(st->last);
        return;
    }
    em_rdd_unref(st->last);
    st->last = st->committed ? em_rdd_ref(st->committed) : NULL;
    st->failed = t;
}

static void state_finalize(em_dstream *ds)
{
    state_stream *st = (state_stream *)ds;
    em_rdd_unref(st->initial);
    em_rdd_unref(st->last);
    em_rdd_unref(st->committed);
}

/* ---- Checkpoints: the committed state as (key, state) rows under "state/<name>" ---- */

static char *record_name(const char *name) { return g_strconcat("state/", name, NULL); }

static void state_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    state_stream *st = (state_stream *)ds;
    g_autofree char *record = record_name(name);
    GError *err = NULL;
    /* The committed state is a cached RDD without lineage: collecting it copies memory. */
    em_values *vals = st->committed ? em_rdd_collect(st->committed, &err) : em__values_new();
    if (!vals) {
        g_warning("checkpoint of batch %" G_GINT64_FORMAT " ms: the state of \"%s\" could not "
                  "be read: %s",
                  (gint64)t, name, err->message);
        g_error_free(err);
        return;
    }
    em_ckpt_state_row *rows = g_new(em_ckpt_state_row, vals->n ? vals->n : 1);
    for (size_t i = 0; i < vals->n; i++)
        rows[i] = (em_ckpt_state_row){em_key(vals->items[i]), em_val(vals->items[i]), t};
    em__ckpt_put_state(ck, record, rows, vals->n);
    g_free(rows);
    em_values_free(vals);
}

static bool state_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                     em_time t, GError **err)
{
    state_stream *st = (state_stream *)ds;
    g_autofree char *record = record_name(name);
    if (!em__ckpt_get(ck, record))
        return true; /* a stream the checkpoint did not know: it starts from its initial state */
    em_arena *arena = em_arena_new();
    GArray *rows = NULL;
    if (!em__ckpt_get_state(ck, record, arena, &rows, err)) {
        em_arena_free(arena);
        return false;
    }
    em_value *pairs = g_new(em_value, rows->len ? rows->len : 1);
    for (guint i = 0; i < rows->len; i++) {
        em_ckpt_state_row *row = &g_array_index(rows, em_ckpt_state_row, i);
        pairs[i] = em_pair_in(arena, row->key, row->state);
    }
    int n = st->partitions > 0 ? st->partitions : ds->ssc->sc->parallelism;
    em_rdd *state = em_parallelize(ds->ssc->sc, pairs, rows->len, n);
    g_free(pairs);
    g_array_unref(rows);
    em_arena_free(arena);
    bool ok = em__rdd_checkpoint(state, err);
    if (!ok) {
        em_rdd_unref(state);
        return false;
    }
    em_rdd_unref(st->last);
    em_rdd_unref(st->committed);
    st->last = state;
    st->committed = em_rdd_ref(state);
    st->last_time = t;
    /* No RDD was generated at t in this process: the next batch starts from st->last, as
     * after a batch whose state was not computed. */
    st->failed = t;
    return true;
}

static const em_dstream_class state_class = {.type_name = "StateDStream",
                                             .instance_size = sizeof(state_stream),
                                             .compute = state_compute,
                                             .batch_done = state_batch_done,
                                             .checkpoint_save = state_checkpoint_save,
                                             .checkpoint_restore = state_checkpoint_restore,
                                             .finalize = state_finalize};

em_dstream *em_update_state_by_key_full(em_dstream *ds, const em_update_state_spec *spec)
{
    bool ok = em__dstream_check(ds, "updateStateByKey");
    if (ok && (!spec || !spec->fn)) {
        g_critical("updateStateByKey: the spec has no update function");
        ok = false;
    }
    if (ok && spec->initial_state && spec->initial_state->sc != ds->ssc->sc) {
        g_critical("updateStateByKey: the initial state RDD belongs to another em_context; "
                   "make it with em_ssc_context(ssc)");
        ok = false;
    }
    if (!ok) {
        if (spec && spec->destroy)
            spec->destroy(spec->ud);
        return NULL;
    }
    em_dstream *out = em__dstream_new(ds->ssc, &state_class, "updateStateByKey", &ds, 1);
    em__dstream_own(out, spec->ud, spec->destroy, spec->name ? spec->name : "updateStateByKey");
    state_stream *st = (state_stream *)out;
    st->fn = spec->fn;
    st->partitions = spec->num_partitions;
    st->initial = spec->initial_state ? em_rdd_ref(spec->initial_state) : NULL;
    st->last_time = st->failed = G_MININT64;
    return out;
}
