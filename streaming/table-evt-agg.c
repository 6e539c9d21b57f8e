/* A streaming aggregation whose group key carries the watermark (Spark's StateStoreSaveExec
 * with a watermark): each batch's partials per group (table-agg.c's plan, merged by
 * reduceByKey) fold into groups kept on the driver; groups the previous batch's watermark
 * passed are dropped as late and counted; groups the current watermark passes are evicted
 * (append mode writes them then, once). The query (table-query.c) runs it once per batch. */
#include "table-private.h"

#include <string.h>

typedef struct {
    em_value key, acc; /* in the aggregation's arena */
} group;

struct em_evt_agg {
    gint refs;
    struct em_agg_plan *plan; /* a reference */
    struct em_watermark *wm;  /* a reference */
    em_dstream *partials;     /* (key row, partials) merged per batch (borrowed) */
    em_context *sc;
    size_t evt_key;  /* the key field carrying event time */
    bool evt_window; /* it is a window: its end is compared */
    GMutex lock;
    GHashTable *groups; /* em_value *key -> group * (both in arena) */
    em_arena *arena;
    size_t n_copies; /* group copies in arena since the last compaction */
    /* the last batch's figures */
    int64_t dropped, updated, removed;
};

static guint key_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

struct em_evt_agg *em__evt_agg_ref(struct em_evt_agg *agg)
{
    if (agg)
        g_atomic_int_inc(&agg->refs);
    return agg;
}

void em__evt_agg_unref(struct em_evt_agg *agg)
{
    if (!agg || !g_atomic_int_dec_and_test(&agg->refs))
        return;
    em__agg_plan_unref(agg->plan);
    em__watermark_unref(agg->wm);
    g_hash_table_destroy(agg->groups);
    em_arena_free(agg->arena);
    g_mutex_clear(&agg->lock);
    g_free(agg);
}

em_df *em__evt_agg_new(const em_df *df, em_dstream *partials, struct em_agg_plan *plan,
                       em_schema *out)
{
    if (!df->event_col)
        return NULL;
    int c = em_schema_index(df->schema, df->event_col);
    size_t n_keys = em__agg_plan_n_keys(plan);
    size_t k = 0;
    while (k < n_keys && (c < 0 || em__agg_plan_key_col(plan, k) != (size_t)c))
        k++;
    if (k == n_keys)
        return NULL; /* no group column carries the watermark */
    struct em_evt_agg *agg = g_new0(struct em_evt_agg, 1);
    agg->refs = 1;
    agg->plan = em__agg_plan_ref(plan);
    agg->wm = em__watermark_ref(df->watermark);
    agg->partials = partials;
    agg->sc = em_ssc_context(em_dstream_ssc(partials));
    agg->evt_key = k;
    agg->evt_window = df->schema->types[c] == EM_COL_WINDOW;
    g_mutex_init(&agg->lock);
    agg->groups = g_hash_table_new(key_hash, key_equal);
    agg->arena = em_arena_new();
    em_df *result = em__df_new(df, out, NULL, partials);
    result->aggregated = true;
    result->evt = agg;
    g_free(result->event_col); /* the result's group column keeps the name */
    result->event_col = g_strdup(df->event_col);
    return result;
}

/* The group key's event time in microseconds (a window's end), or G_MININT64 when null. */
static int64_t key_time(const struct em_evt_agg *agg, em_value key)
{
    em_value v = key.as.items[agg->evt_key];
    if (agg->evt_window && v.type == EM_T_TUPLE && v.len == 2)
        v = v.as.items[1];
    return em_is_int(v) ? v.as.i : G_MININT64;
}

/* WatermarkSupport's predicate: event time <= watermark (ms, compared in micros). */
static bool passed(const struct em_evt_agg *agg, em_value key, int64_t watermark_ms)
{
    int64_t t = key_time(agg, key);
    return t != G_MININT64 && t <= watermark_ms * 1000;
}

/* Copies the live groups into a fresh arena once dead copies outnumber them: state memory
 * follows the groups kept, however many updates they had. */
static void compact(struct em_evt_agg *agg)
{
    size_t live = g_hash_table_size(agg->groups);
    if (agg->n_copies < 1024 || agg->n_copies < 2 * live)
        return;
    em_arena *fresh = em_arena_new();
    GHashTable *groups = g_hash_table_new(key_hash, key_equal);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, agg->groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const group *old = v;
        group *g = em_arena_alloc(fresh, sizeof *g);
        g->key = em_value_copy(old->key, fresh);
        g->acc = em_value_copy(old->acc, fresh);
        g_hash_table_insert(groups, &g->key, g);
    }
    g_hash_table_destroy(agg->groups);
    em_arena_free(agg->arena);
    agg->groups = groups;
    agg->arena = fresh;
    agg->n_copies = live;
}

/* Folds one (key, partials) of the batch into its group. */
static void fold(struct em_evt_agg *agg, em_value key, em_value partials)
{
    group *g = g_hash_table_lookup(agg->groups, &key);
    if (!g) {
        g = em_arena_alloc(agg->arena, sizeof *g);
        g->key = em_value_copy(key, agg->arena);
        g->acc = em_value_copy(partials, agg->arena);
        g_hash_table_insert(agg->groups, &g->key, g);
    } else {
        g->acc = em_value_copy(em__agg_merge(agg->plan, g->acc, partials), agg->arena);
    }
    agg->n_copies++;
}

static gint compare_rows(gconstpointer a, gconstpointer b)
{
    return em_value_compare(*(const em_value *)a, *(const em_value *)b);
}

em_rdd *em__evt_agg_run(struct em_evt_agg *agg, em_time t, em_output_mode mode, GError **err)
{
    em_rdd *in = em__dstream_get_or_compute(agg->partials, t, err); /* borrowed */
    if (!in && err && *err)
        return NULL;
    g_autoptr(em_values) batch = in ? em_rdd_collect(in, err) : NULL;
    if (in && !batch)
        return NULL;
    int64_t late_ms, evict_ms;
    em__watermark_get(agg->wm, &late_ms, &evict_ms);
    g_autoptr(em_arena) scratch = em_arena_new();
    GArray *out = g_array_new(FALSE, FALSE, sizeof(em_value));
    g_mutex_lock(&agg->lock);
    agg->dropped = agg->updated = agg->removed = 0;
    for (size_t i = 0; batch && i < batch->n; i++) {
        em_value key = em_key(batch->items[i]), partials = em_val(batch->items[i]);
        /* complete mode keeps every group: Spark filters late rows only in append, update */
        if (mode != EM_OUTPUT_COMPLETE && passed(agg, key, late_ms)) {
            agg->dropped++;
            continue;
        }
        fold(agg, key, partials);
        agg->updated++;
        if (mode == EM_OUTPUT_UPDATE) {
            const group *g = g_hash_table_lookup(agg->groups, &key);
            em_value row = em__agg_finalize(agg->plan, g->key, g->acc);
            row = em_value_copy(row, scratch);
            g_array_append_val(out, row);
        }
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, agg->groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const group *g = v;
        if (mode == EM_OUTPUT_COMPLETE) {
            em_value row = em_value_copy(em__agg_finalize(agg->plan, g->key, g->acc), scratch);
            g_array_append_val(out, row);
        } else if (passed(agg, g->key, evict_ms)) {
            if (mode == EM_OUTPUT_APPEND) {
                em_value row = em_value_copy(em__agg_finalize(agg->plan, g->key, g->acc), scratch);
                g_array_append_val(out, row);
            }
            g_hash_table_iter_remove(&it);
            agg->removed++;
        }
    }
    compact(agg);
    g_mutex_unlock(&agg->lock);
    /* Spark writes groups in its hash order; Ember in the rows' order, the same every run */
    g_array_sort(out, compare_rows);
    em_rdd *rows = em_parallelize(agg->sc, (em_value *)out->data, out->len, 0);
    g_array_free(out, TRUE);
    if (!rows)
        g_set_error(err, EM_ERROR, EM_ERROR_TASK,
                    "the watermarked aggregation's rows of batch %" G_GINT64_FORMAT
                    " could not be distributed",
                    (gint64)t);
    return rows;
}

static void add_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

void em__evt_agg_progress(struct em_evt_agg *agg, JsonBuilder *b)
{
    g_mutex_lock(&agg->lock);
    int64_t total = g_hash_table_size(agg->groups);
    int64_t bytes = (int64_t)em_arena_bytes(agg->arena);
    int64_t updated = agg->updated, removed = agg->removed, dropped = agg->dropped;
    g_mutex_unlock(&agg->lock);
    /* StateOperatorProgress.jsonValue's order */
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "operatorName");
    json_builder_add_string_value(b, "stateStoreSave");
    add_int(b, "numRowsTotal", total);
    add_int(b, "numRowsUpdated", updated);
    add_int(b, "numRowsRemoved", removed);
    add_int(b, "memoryUsedBytes", bytes);
    add_int(b, "numRowsDroppedByWatermark", dropped);
    json_builder_end_object(b);
}
