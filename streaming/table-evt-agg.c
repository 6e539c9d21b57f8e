/* A streaming aggregation whose group key carries the watermark (Spark's StateStoreSaveExec
 * with a watermark) or is a session window (its SessionWindowStateStore*Exec): each batch's
 * partials per group (table-agg.c's plan, merged by reduceByKey) fold into groups kept on the
 * driver; groups the previous batch's watermark passed are dropped as late and counted; groups
 * the current watermark passes are evicted (append mode writes them then, once). Sessions of
 * the same other group columns merge when one starts at or before another's end. The query
 * (table-query.c) runs it once per batch. */
#include "checkpoint-file.h"
#include "table-private.h"

#include <string.h>

typedef struct {
    em_value key, acc; /* in the aggregation's arena */
} group;

struct em_evt_agg {
    gint refs;
    struct em_agg_plan *plan; /* a reference */
    struct em_watermark *wm;  /* a reference; NULL: a session window without watermark */
    em_dstream *partials;     /* (key row, partials) merged per batch (borrowed) */
    em_context *sc;
    size_t evt_key;         /* the key field carrying event time */
    bool evt_window;        /* it is a window: its end is compared */
    bool session;           /* it is a session window: sessions merge */
    struct em_dedup *dedup; /* dropDuplicates (table-dedup.c) instead of an aggregation */
    struct em_join *join;   /* a stream-stream join (table-join.c) instead of an aggregation */
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
    if (agg->plan)
        em__agg_plan_unref(agg->plan);
    em__dedup_free(agg->dedup);
    em__join_free(agg->join);
    em__watermark_unref(agg->wm);
    g_hash_table_destroy(agg->groups);
    em_arena_free(agg->arena);
    g_mutex_clear(&agg->lock);
    g_free(agg);
}

/* The group field of plan reading column name of schema, or -1. */
static int key_of(struct em_agg_plan *plan, const em_schema *schema, const char *name)
{
    int c = name ? em_schema_index(schema, name) : -1;
    size_t n_keys = em__agg_plan_n_keys(plan);
    for (size_t k = 0; c >= 0 && k < n_keys; k++)
        if (em__agg_plan_key_col(plan, k) == (size_t)c)
            return (int)k;
    return -1;
}

em_df *em__evt_agg_new(const em_df *df, em_dstream *partials, struct em_agg_plan *plan,
                       em_schema *out)
{
    int session_k = key_of(plan, df->schema, df->session_col);
    int k = session_k >= 0 ? session_k : key_of(plan, df->schema, df->event_col);
    if (k < 0)
        return NULL; /* no group column carries the watermark, none is a session */
    int c = (int)em__agg_plan_key_col(plan, (size_t)k);
    bool watermarked =
        df->watermark && df->event_col && em_schema_index(df->schema, df->event_col) == c;
    struct em_evt_agg *agg = g_new0(struct em_evt_agg, 1);
    agg->refs = 1;
    agg->plan = em__agg_plan_ref(plan);
    agg->wm = watermarked ? em__watermark_ref(df->watermark) : NULL;
    agg->session = session_k >= 0;
    agg->partials = partials;
    agg->sc = em_ssc_context(em_dstream_ssc(partials));
    agg->evt_key = (size_t)k;
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

em_df *em__evt_dedup_new(const em_df *df, struct em_dedup *dedup)
{
    struct em_evt_agg *agg = g_new0(struct em_evt_agg, 1);
    agg->refs = 1;
    agg->wm = em__watermark_ref(df->watermark);
    agg->partials = df->ds; /* the rows themselves */
    agg->sc = em_ssc_context(em_dstream_ssc(df->ds));
    agg->dedup = dedup;
    g_mutex_init(&agg->lock);
    agg->groups = g_hash_table_new(key_hash, key_equal);
    agg->arena = em_arena_new();
    em_df *result = em__df_new(df, df->schema, NULL, df->ds);
    result->evt = agg;
    return result;
}

em_df *em__evt_join_new(em_schema *out, em_dstream *both, em_dstream *source,
                        const char *source_desc, struct em_join *join)
{
    struct em_evt_agg *agg = g_new0(struct em_evt_agg, 1);
    agg->refs = 1;
    agg->partials = both;
    agg->sc = em_ssc_context(em_dstream_ssc(both));
    agg->join = join;
    g_mutex_init(&agg->lock);
    agg->groups = g_hash_table_new(key_hash, key_equal);
    agg->arena = em_arena_new();
    em_df *result = em__df_new(NULL, out, NULL, both);
    result->source = source;
    result->source_desc = g_strdup(source_desc);
    result->evt = agg;
    return result;
}

struct em_join *em__evt_agg_join(const struct em_evt_agg *agg) { return agg ? agg->join : NULL; }

bool em__evt_agg_check_mode(const struct em_evt_agg *agg, em_output_mode mode, GError **err)
{
    if (agg->join)
        return em__join_check_mode(agg->join, mode, err);
    if (agg->session && mode == EM_OUTPUT_UPDATE) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Update output mode not supported for session window on streaming "
                    "DataFrames/DataSets;");
        return false;
    }
    if (!agg->wm && mode == EM_OUTPUT_APPEND) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Append output mode not supported when there are streaming aggregations on "
                    "streaming DataFrames/DataSets without watermark;");
        return false;
    }
    return true;
}

/* The group key's event time in microseconds (a window's end), or G_MININT64 when null. */
static int64_t key_time(const struct em_evt_agg *agg, em_value key)
{
    em_value v = key.as.items[agg->evt_key];
    if (agg->evt_window && v.type == EM_T_TUPLE && v.len == 2)
        v = v.as.items[1];
    return em_is_int(v) ? v.as.i : G_MININT64;
}

/* WatermarkSupport's predicate: event time <= watermark (ms, compared in micros); never
 * without a watermark. */
static bool passed(const struct em_evt_agg *agg, em_value key, int64_t watermark_ms)
{
    if (!agg->wm)
        return false;
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

/* key with its event-time field replaced by the window (start, end), in arena. */
static em_value with_window(const struct em_evt_agg *agg, em_value key, int64_t start, int64_t end,
                            em_arena *arena)
{
    em_value *fields = g_newa(em_value, key.len);
    memcpy(fields, key.as.items, key.len * sizeof *fields);
    em_value bounds[2] = {em_int(start), em_int(end)};
    fields[agg->evt_key] = em_row_in(arena, bounds, 2);
    return em_row_in(arena, fields, key.len);
}

/* key without its session field (the group the sessions belong to), in arena. */
static em_value rest_of(const struct em_evt_agg *agg, em_value key, em_arena *arena)
{
    em_value *fields = g_newa(em_value, key.len);
    size_t n = 0;
    for (size_t i = 0; i < key.len; i++)
        if (i != agg->evt_key)
            fields[n++] = key.as.items[i];
    return em_row_in(arena, fields, n);
}

typedef struct {
    int64_t start, end;
    em_value key, acc;
} piece;

static gint compare_pieces(gconstpointer a, gconstpointer b)
{
    const piece *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void free_array(gpointer p) { g_array_free(p, TRUE); }

/* A session (and its key) from the key's session field. */
static piece piece_of(const struct em_evt_agg *agg, em_value key, em_value acc)
{
    em_value w = key.as.items[agg->evt_key];
    return (piece){.start = w.as.items[0].as.i, .end = w.as.items[1].as.i, .key = key, .acc = acc};
}

/* Session windows: the batch's sessions (keys[i], accs[i]) and the stored ones of the same
 * other group columns, sorted by start and merged as Spark's MergingSessionsIterator (a
 * session starting at or before the current one's end extends it) back into the groups. */
static void merge_sessions(struct em_evt_agg *agg, const em_value *keys, const em_value *accs,
                           size_t n)
{
    g_autoptr(em_arena) scratch = em_arena_new();
    GHashTable *buckets = g_hash_table_new_full(key_hash, key_equal, NULL, free_array);
    for (size_t i = 0; i < n; i++) {
        em_value *rest = em_arena_alloc(scratch, sizeof *rest);
        *rest = rest_of(agg, keys[i], scratch);
        GArray *bucket = g_hash_table_lookup(buckets, rest);
        if (!bucket) {
            bucket = g_array_new(FALSE, FALSE, sizeof(piece));
            g_hash_table_insert(buckets, rest, bucket);
        }
        piece p = piece_of(agg, keys[i], accs[i]);
        g_array_append_val(bucket, p);
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, agg->groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const group *g = v;
        em_value rest = rest_of(agg, g->key, scratch);
        GArray *bucket = g_hash_table_lookup(buckets, &rest);
        if (!bucket)
            continue;
        piece p = piece_of(agg, g->key, g->acc);
        g_array_append_val(bucket, p);
        g_hash_table_iter_remove(&it); /* back in below, merged */
    }
    g_hash_table_iter_init(&it, buckets);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        GArray *bucket = v;
        g_array_sort(bucket, compare_pieces);
        piece cur = g_array_index(bucket, piece, 0);
        for (size_t i = 1; i <= bucket->len; i++) {
            const piece *p = i < bucket->len ? &g_array_index(bucket, piece, i) : NULL;
            if (p && p->start <= cur.end) {
                cur.end = MAX(cur.end, p->end);
                cur.acc = em__agg_merge(agg->plan, cur.acc, p->acc);
                continue;
            }
            group *g = em_arena_alloc(agg->arena, sizeof *g);
            g->key =
                em_value_copy(with_window(agg, cur.key, cur.start, cur.end, scratch), agg->arena);
            g->acc = em_value_copy(cur.acc, agg->arena);
            g_hash_table_insert(agg->groups, &g->key, g);
            agg->n_copies++;
            agg->updated++; /* Spark rewrites every session of a group touched */
            if (p)
                cur = *p;
        }
    }
    g_hash_table_destroy(buckets);
}

static gint compare_rows(gconstpointer a, gconstpointer b)
{
    return em_value_compare(*(const em_value *)a, *(const em_value *)b);
}

static void emit(GArray *out, const struct em_evt_agg *agg, const group *g, em_arena *arena)
{
    em_value row = em_value_copy(em__agg_finalize(agg->plan, g->key, g->acc), arena);
    g_array_append_val(out, row);
}

static em_rdd *run(struct em_evt_agg *agg, em_time t, em_output_mode mode, GError **err);

em_rdd *em__evt_agg_run(struct em_evt_agg *agg, em_time t, em_output_mode mode, GError **err)
{
    if (agg->join)
        return em__join_run(agg->join, t, err);
    /* The merges and rows made here go to a scratch arena of this batch's (on the scheduler
     * thread nothing resets the thread's own): what is kept is copied into the state's. */
    em_arena *scratch = em_arena_new();
    em_arena *prev = em__scratch_set(scratch);
    em_rdd *rows = run(agg, t, mode, err);
    em__scratch_set(prev);
    em_arena_free(scratch);
    return rows;
}

static em_rdd *run(struct em_evt_agg *agg, em_time t, em_output_mode mode, GError **err)
{
    em_rdd *in = em__dstream_get_or_compute(agg->partials, t, err); /* borrowed */
    if (!in && err && *err)
        return NULL;
    g_autoptr(em_values) batch = in ? em_rdd_collect(in, err) : NULL;
    if (in && !batch)
        return NULL;
    int64_t late_ms = 0, evict_ms = 0;
    if (agg->wm)
        em__watermark_get(agg->wm, &late_ms, &evict_ms);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(em_value));
    if (agg->dedup) {
        g_mutex_lock(&agg->lock);
        agg->dropped = agg->updated = agg->removed = 0;
        em__dedup_run(agg->dedup, batch, agg->wm != NULL, late_ms, evict_ms, out, &agg->dropped,
                      &agg->updated, &agg->removed);
        g_mutex_unlock(&agg->lock);
        em_rdd *rows = em_parallelize(agg->sc, (em_value *)out->data, out->len, 0);
        g_array_free(out, TRUE);
        return rows;
    }
    g_autoptr(em_arena) scratch = em_arena_new();
    size_t n = batch ? batch->n : 0;
    em_value *keys = g_new(em_value, n ? n : 1), *accs = g_new(em_value, n ? n : 1);
    size_t kept = 0;
    g_mutex_lock(&agg->lock);
    agg->dropped = agg->updated = agg->removed = 0;
    for (size_t i = 0; i < n; i++) {
        em_value key = em_key(batch->items[i]), partials = em_val(batch->items[i]);
        /* complete mode keeps every group: Spark filters late rows only in append, update */
        if (mode != EM_OUTPUT_COMPLETE && passed(agg, key, late_ms)) {
            agg->dropped++;
            continue;
        }
        if (agg->session && key.as.items[agg->evt_key].type != EM_T_TUPLE)
            continue; /* no session: a null event time */
        keys[kept] = key;
        accs[kept++] = partials;
    }
    if (agg->session) {
        merge_sessions(agg, keys, accs, kept);
    } else {
        for (size_t i = 0; i < kept; i++) {
            fold(agg, keys[i], accs[i]);
            agg->updated++;
            if (mode == EM_OUTPUT_UPDATE)
                emit(out, agg, g_hash_table_lookup(agg->groups, &keys[i]), scratch);
        }
    }
    g_free(keys);
    g_free(accs);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, agg->groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const group *g = v;
        if (mode == EM_OUTPUT_COMPLETE) {
            emit(out, agg, g, scratch);
        } else if (passed(agg, g->key, evict_ms)) {
            if (mode == EM_OUTPUT_APPEND)
                emit(out, agg, g, scratch);
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
    if (agg->join) {
        em__join_progress(agg->join, b);
        return;
    }
    g_mutex_lock(&agg->lock);
    int64_t total = g_hash_table_size(agg->groups);
    int64_t bytes = (int64_t)em_arena_bytes(agg->arena);
    if (agg->dedup)
        em__dedup_size(agg->dedup, &total, &bytes);
    int64_t updated = agg->updated, removed = agg->removed, dropped = agg->dropped;
    g_mutex_unlock(&agg->lock);
    /* StateOperatorProgress.jsonValue's order */
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "operatorName");
    /* Spark 3.5.9 reports its session window operator as "defaultName" */
    json_builder_add_string_value(b, agg->dedup     ? "dedupe"
                                     : agg->session ? "defaultName"
                                                    : "stateStoreSave");
    add_int(b, "numRowsTotal", total);
    add_int(b, "numRowsUpdated", updated);
    add_int(b, "numRowsRemoved", removed);
    add_int(b, "memoryUsedBytes", bytes);
    add_int(b, "numRowsDroppedByWatermark", dropped);
    json_builder_end_object(b);
}

/* ---- Its checkpoint (em__state_op): the groups as one state table ---- */

#define GROUPS_RECORD "groups"
#define KEYS_RECORD "keys"

/* A key as the codec takes it: a list (a one-column row is a tuple of one, which it refuses). */
static em_value as_list(em_value key)
{
    return (
        em_value){.type = EM_T_LIST, .kind = EM_LIST, .len = key.len, .as.items = key.as.items};
}

static void evt_save(void *op, em_ckpt *ck)
{
    struct em_evt_agg *agg = op;
    g_mutex_lock(&agg->lock);
    if (agg->dedup) {
        em__dedup_save(agg->dedup, ck, KEYS_RECORD);
        g_mutex_unlock(&agg->lock);
        return;
    }
    GArray *rows =
        g_array_sized_new(FALSE, FALSE, sizeof(em_ckpt_state_row), g_hash_table_size(agg->groups));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, agg->groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const group *g = v;
        em_ckpt_state_row row = {.key = as_list(g->key), .state = g->acc};
        g_array_append_val(rows, row);
    }
    em__ckpt_put_state(ck, GROUPS_RECORD, (const em_ckpt_state_row *)rows->data, rows->len);
    g_array_unref(rows);
    g_mutex_unlock(&agg->lock);
}

/* Whether a restored group has the shape run() reads: a key of the plan's columns (a session
 * one holding its window) and a row of partials. */
static bool group_fits(const struct em_evt_agg *agg, em_value key, em_value acc)
{
    if (key.type != EM_T_LIST || key.len != em__agg_plan_n_keys(agg->plan) ||
        acc.type != EM_T_TUPLE)
        return false;
    em_value w = key.as.items[agg->evt_key];
    return !agg->session || (w.type == EM_T_TUPLE && w.len == 2 && em_is_int(w.as.items[0]) &&
                             em_is_int(w.as.items[1]));
}

static bool evt_load(void *op, const em_ckpt *ck, GError **err)
{
    struct em_evt_agg *agg = op;
    g_mutex_lock(&agg->lock);
    if (agg->dedup) {
        bool ok = em__dedup_load(agg->dedup, ck, KEYS_RECORD, err);
        g_mutex_unlock(&agg->lock);
        return ok;
    }
    em_arena *arena = em_arena_new();
    GArray *rows = NULL;
    bool ok = em__ckpt_get_state(ck, GROUPS_RECORD, arena, &rows, err);
    g_hash_table_remove_all(agg->groups);
    em_arena_free(agg->arena);
    agg->arena = arena; /* the groups' payload */
    agg->n_copies = 0;
    for (guint i = 0; ok && i < rows->len; i++) {
        const em_ckpt_state_row *row = &g_array_index(rows, em_ckpt_state_row, i);
        if (!group_fits(agg, row->key, row->state)) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "checkpoint record \"" GROUPS_RECORD "\": group %u is not a key of %zu "
                        "columns with its partial aggregates",
                        i, em__agg_plan_n_keys(agg->plan));
            g_hash_table_remove_all(agg->groups);
            ok = false;
            break;
        }
        group *g = em_arena_alloc(arena, sizeof *g);
        /* batch keys are lists (table-agg.c); merged sessions' are rows */
        g->key = row->key;
        if (agg->session)
            g->key.type = EM_T_TUPLE, g->key.kind = 0;
        g->acc = row->state;
        g_hash_table_insert(agg->groups, &g->key, g);
        agg->n_copies++;
    }
    if (rows)
        g_array_unref(rows);
    g_mutex_unlock(&agg->lock);
    return ok;
}

em__state_op em__evt_agg_state_op(struct em_evt_agg *agg)
{
    if (agg->join)
        return em__join_state_op(agg->join);
    return (em__state_op){.name = agg->dedup     ? "dedupe"
                                  : agg->session ? "sessionWindowStateStoreSave"
                                                 : "stateStoreSave",
                          .save = evt_save,
                          .load = evt_load,
                          .op = agg};
}

/* ---- Operations after the aggregation ---- */

typedef struct {
    int kind; /* 0 map, 1 flatMap, 2 filter */
    em_map_fn fn;
    em_filter_fn pred;
    void *op;
    GDestroyNotify destroy;
    char *name;
} post_op;

struct em_post_ops {
    gint refs;
    struct em_post_ops *before; /* the chain this one extends (a reference), or NULL */
    post_op last;
};

struct em_post_ops *em__post_ops_ref(struct em_post_ops *post)
{
    if (post)
        g_atomic_int_inc(&post->refs);
    return post;
}

void em__post_ops_unref(struct em_post_ops *post)
{
    while (post && g_atomic_int_dec_and_test(&post->refs)) {
        struct em_post_ops *before = post->before;
        if (post->last.destroy)
            post->last.destroy(post->last.op);
        g_free(post->last.name);
        g_free(post);
        post = before;
    }
}

em_df *em__df_post_op(const em_df *df, em_schema *out, int kind, em_map_fn fn, em_filter_fn pred,
                      void *op, GDestroyNotify destroy, const char *name)
{
    struct em_post_ops *post = g_new0(struct em_post_ops, 1);
    post->refs = 1;
    post->before = em__post_ops_ref(df->post);
    post->last = (post_op){.kind = kind,
                           .fn = fn,
                           .pred = pred,
                           .op = op,
                           .destroy = destroy,
                           .name = g_strdup(name)};
    em_df *result = em__df_new(df, out, NULL, df->ds); /* takes evt and df's chain */
    em__post_ops_unref(result->post);
    result->post = post;
    result->aggregated = df->aggregated;
    return result;
}

em_rdd *em__post_ops_apply(struct em_post_ops *post, em_rdd *rdd)
{
    if (!post || !rdd)
        return rdd ? em_rdd_ref(rdd) : NULL;
    g_autoptr(em_rdd) in = em__post_ops_apply(post->before, rdd);
    /* no destroy: the chain (held by the query) outlives the batch's RDDs */
    const post_op *p = &post->last;
    if (p->kind == 0)
        return em_rdd_map_full(in, p->fn, p->op, NULL, p->name);
    if (p->kind == 1)
        return em_rdd_flat_map_full(in, p->fn, p->op, NULL, p->name);
    return em_rdd_filter_full(in, p->pred, p->op, NULL, p->name);
}
