/* dropDuplicates(cols) on a streaming DataFrame (Spark's StreamingDeduplicateExec): a row is
 * written the first time its values of cols are seen; the values seen are kept on the driver,
 * bounded by the watermark when cols hold the event-time column (a key is forgotten once the
 * watermark passes its event time); rows at or before the previous batch's watermark are dropped
 * as late and counted. Run by the query through the event-time operator (table-evt-agg.c). */
#include "checkpoint-file.h"
#include "table-private.h"

#include <string.h>

struct em_dedup {
    size_t n_cols;
    size_t *cols;     /* the key columns */
    int row_time;     /* the row's event-time column (late rows), or -1 */
    int key_time;     /* the key field holding it (eviction), or -1 */
    GHashTable *seen; /* em_value *key (in arena) -> itself */
    em_arena *arena;
    size_t n_copies;
};

static guint key_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

struct em_dedup *em__dedup_new(const size_t *cols, size_t n_cols, int row_time)
{
    struct em_dedup *d = g_new0(struct em_dedup, 1);
    d->n_cols = n_cols;
    d->cols = g_memdup2(cols, n_cols * sizeof *cols);
    d->row_time = row_time;
    d->key_time = -1;
    for (size_t i = 0; row_time >= 0 && i < n_cols; i++)
        if (cols[i] == (size_t)row_time)
            d->key_time = (int)i;
    d->seen = g_hash_table_new(key_hash, key_equal);
    d->arena = em_arena_new();
    return d;
}

void em__dedup_free(struct em_dedup *d)
{
    if (!d)
        return;
    g_free(d->cols);
    g_hash_table_destroy(d->seen);
    em_arena_free(d->arena);
    g_free(d);
}

/* v (a timestamp in micros) at or before watermark_ms. */
static bool passed(em_value v, int64_t watermark_ms)
{
    return em_is_int(v) && v.as.i <= watermark_ms * 1000;
}

static void compact(struct em_dedup *d)
{
    size_t live = g_hash_table_size(d->seen);
    if (d->n_copies < 1024 || d->n_copies < 2 * live)
        return;
    em_arena *fresh = em_arena_new();
    GHashTable *seen = g_hash_table_new(key_hash, key_equal);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->seen);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        em_value *key = em_arena_alloc(fresh, sizeof *key);
        *key = em_value_copy(*(em_value *)k, fresh);
        g_hash_table_add(seen, key);
    }
    g_hash_table_destroy(d->seen);
    em_arena_free(d->arena);
    d->seen = seen;
    d->arena = fresh;
    d->n_copies = live;
}

void em__dedup_run(struct em_dedup *d, const em_values *rows, bool watermarked, int64_t late_ms,
                   int64_t evict_ms, GArray *out, int64_t *dropped, int64_t *updated,
                   int64_t *removed)
{
    em_value *fields = g_newa(em_value, d->n_cols ? d->n_cols : 1);
    for (size_t i = 0; rows && i < rows->n; i++) {
        em_value row = rows->items[i];
        if (watermarked && d->row_time >= 0 && passed(row.as.items[d->row_time], late_ms)) {
            (*dropped)++;
            continue;
        }
        for (size_t c = 0; c < d->n_cols; c++)
            fields[c] = row.as.items[d->cols[c]];
        em_value key = em_row_in(NULL, fields, d->n_cols);
        if (g_hash_table_contains(d->seen, &key))
            continue;
        em_value *kept = em_arena_alloc(d->arena, sizeof *kept);
        *kept = em_value_copy(key, d->arena);
        g_hash_table_add(d->seen, kept);
        d->n_copies++;
        (*updated)++;
        g_array_append_val(out, row);
    }
    if (watermarked && d->key_time >= 0) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, d->seen);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (passed(((em_value *)k)->as.items[d->key_time], evict_ms)) {
                g_hash_table_iter_remove(&it);
                (*removed)++;
            }
        }
    }
    compact(d);
}

void em__dedup_size(const struct em_dedup *d, int64_t *rows, int64_t *bytes)
{
    *rows = g_hash_table_size(d->seen);
    *bytes = (int64_t)em_arena_bytes(d->arena);
}

void em__dedup_save(const struct em_dedup *d, em_ckpt *ck, const char *name)
{
    em_value *keys = g_new(em_value, g_hash_table_size(d->seen) + 1);
    size_t n = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->seen);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        /* as a list: the codec refuses a one-column row (a tuple of one) */
        const em_value *key = k;
        keys[n++] = (em_value){.type = EM_T_LIST, .len = key->len, .as.items = key->as.items};
    }
    em__ckpt_put_values(ck, name, keys, n);
    g_free(keys);
}

bool em__dedup_load(struct em_dedup *d, const em_ckpt *ck, const char *name, GError **err)
{
    em_arena *arena = em_arena_new();
    em_value *keys = NULL;
    size_t n = 0;
    if (!em__ckpt_get_values(ck, name, arena, &keys, &n, err)) {
        em_arena_free(arena);
        return false;
    }
    g_hash_table_remove_all(d->seen);
    em_arena_free(d->arena);
    d->arena = arena; /* the keys' payload */
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type != EM_T_LIST || keys[i].len != d->n_cols) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "checkpoint record \"%s\": key %zu is not a row of %zu columns", name, i,
                        d->n_cols);
            g_hash_table_remove_all(d->seen);
            g_free(keys);
            return false;
        }
        keys[i].type = EM_T_TUPLE; /* a row again, as em__dedup_run looks keys up */
        keys[i].kind = 0;
        g_hash_table_add(d->seen, em_arena_memdup(arena, &keys[i], sizeof keys[i]));
    }
    d->n_copies = n;
    g_free(keys);
    return true;
}

em_df *em_df_drop_duplicates(const em_df *df, const char *const *cols, size_t n, GError **err)
{
    g_return_val_if_fail(df && (cols || n == 0), NULL);
    if (!df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "dropDuplicates on a static table is not supported yet (streaming only)");
        return NULL;
    }
    if (df->evt) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "dropDuplicates after a streaming aggregation or dropDuplicates is not "
                    "supported");
        return NULL;
    }
    /* Spark: no columns means all of them */
    size_t n_cols = n ? n : df->schema->n;
    size_t *idx = g_new(size_t, n_cols ? n_cols : 1);
    for (size_t i = 0; i < n_cols; i++) {
        int c = n ? em_schema_index(df->schema, cols[i]) : (int)i;
        if (c < 0) {
            em__schema_unresolved(df->schema, cols[i], err);
            g_free(idx);
            return NULL;
        }
        idx[i] = (size_t)c;
    }
    int row_time =
        df->watermark && df->event_col ? em_schema_index(df->schema, df->event_col) : -1;
    struct em_dedup *d = em__dedup_new(idx, n_cols, row_time);
    g_free(idx);
    return em__evt_dedup_new(df, d);
}
