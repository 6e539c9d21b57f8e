/* withColumn(name, <the batch's time>) over a streaming DataFrame: Ember's stand-in for the
 * socket source's includeTimestamp option (Spark stamps each line with the time it was read;
 * Ember with the time of the batch that reads it, the end of the interval the line arrived in).
 * Gives the event-time examples (table-window.c) a timestamp column. */
#include "table-private.h"

typedef struct {
    size_t in_n;
    int64_t micros; /* the batch's time */
} stamp_op;

static em_value stamp_row(em_value row, void *ud)
{
    const stamp_op *op = ud;
    em_value *fields = g_newa(em_value, op->in_n + 1);
    for (size_t i = 0; i < op->in_n; i++)
        fields[i] = row.as.items[i];
    fields[op->in_n] = em_int(op->micros);
    return em_row_in(NULL, fields, op->in_n + 1);
}

static em_rdd *stamp_batch(em_rdd *rdd, em_time time, void *ud, GError **err)
{
    (void)err;
    stamp_op *op = g_new(stamp_op, 1);
    op->in_n = GPOINTER_TO_SIZE(ud);
    op->micros = time * 1000;
    return em_rdd_map_full(rdd, stamp_row, op, g_free, "timestamp");
}

em_df *em_df_with_batch_time(const em_df *df, const char *name, GError **err)
{
    g_return_val_if_fail(df && name, NULL);
    if (!em__df_refuse_after_join(df, "the batch time", err))
        return NULL;
    if (!df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "the batch time of a static table: it has no batches");
        return NULL;
    }
    if (em_schema_index(df->schema, name) >= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "the table already has a column `%s`", name);
        return NULL;
    }
    size_t n = df->schema->n + 1;
    const char **names = g_newa(const char *, n);
    em_col_type *types = g_newa(em_col_type, n);
    for (size_t i = 0; i < df->schema->n; i++) {
        names[i] = df->schema->names[i];
        types[i] = df->schema->types[i];
    }
    names[n - 1] = name;
    types[n - 1] = EM_COL_TIMESTAMP;
    g_autoptr(em_schema) out = em__schema_new(names, types, n);
    em_dstream *ds = em_transform_full(df->ds, stamp_batch, GSIZE_TO_POINTER(df->schema->n), NULL,
                                       "includeTimestamp");
    if (!ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "the batch time could not be added");
        return NULL;
    }
    return em__df_new(df, out, NULL, ds);
}
