/* Dataset operations by column name over Ember's tables: select, filter, withColumn,
 * explode(split()), groupBy().agg(). Each is one narrow RDD operator (a map, filter or flatMap
 * over rows) applied to a static table's RDD or to every batch of a streaming table's DStream;
 * a streaming aggregation keeps its groups in mapWithState (table-agg.c). */
#include "table-private.h"

#include <string.h>

/* What one operation's row function needs; freed with the RDD or DStream that uses it. */
typedef struct {
    em_schema *in; /* the input table's schema (a reference) */
    size_t out_n;  /* fields of an output row */
    size_t *idx;   /* select: input column of each output column */
    int col;       /* filter_cmp, with_column, explode: the column */
    em_cmp_op op;
    em_value value; /* filter_cmp: the constant (payload in arena) */
    em_arena *arena;
    char *sep; /* explode: the separator */
    size_t sep_len;
    em_row_fn fn; /* with_column */
    em_row_pred_fn pred;
    void *ud;
    GDestroyNotify destroy;
} row_op;

static row_op *row_op_new(const em_df *df)
{
    row_op *op = g_new0(row_op, 1);
    op->in = em_schema_ref(df->schema);
    op->col = -1;
    return op;
}

static void row_op_free(void *p)
{
    row_op *op = p;
    if (op->destroy)
        op->destroy(op->ud);
    em_schema_unref(op->in);
    g_free(op->idx);
    em_arena_free(op->arena);
    g_free(op->sep);
    g_free(op);
}

em_df *em__df_new(const em_df *like, em_schema *schema, em_rdd *rdd, em_dstream *ds)
{
    em_df *df = g_new0(em_df, 1);
    df->source = like ? like->source : ds;
    df->source_desc = like ? g_strdup(like->source_desc) : NULL;
    df->schema = em_schema_ref(schema);
    df->rdd = rdd ? em_rdd_ref(rdd) : NULL;
    df->ds = ds;
    if (like && like->watermark && ds) {
        /* the watermark follows the rows; its column while it is in the schema */
        df->watermark = em__watermark_ref(like->watermark);
        if (like->event_col && em_schema_index(schema, like->event_col) >= 0)
            df->event_col = g_strdup(like->event_col);
    }
    if (like && like->session_col && ds && em_schema_index(schema, like->session_col) >= 0)
        df->session_col = g_strdup(like->session_col);
    if (like && like->evt && ds && like->ds == ds) { /* a view of the same rows (orderBy) */
        df->evt = em__evt_agg_ref(like->evt);
        df->post = em__post_ops_ref(like->post);
    }
    return df;
}

em_df *em_df_from_rdd(em_rdd *rdd, em_schema *schema)
{
    g_return_val_if_fail(rdd && schema, NULL);
    return em__df_new(NULL, schema, rdd, NULL);
}

em_df *em_df_from_dstream(em_dstream *ds, em_schema *schema)
{
    g_return_val_if_fail(ds && schema, NULL);
    return em__df_new(NULL, schema, NULL, ds);
}

void em_df_free(em_df *df)
{
    if (!df)
        return;
    em_schema_unref(df->schema);
    if (df->rdd)
        em_rdd_unref(df->rdd);
    if (df->agg_plan)
        em__agg_plan_unref(df->agg_plan);
    g_free(df->sort_cols);
    g_free(df->source_desc);
    em__watermark_unref(df->watermark);
    g_free(df->event_col);
    g_free(df->session_col);
    em__evt_agg_unref(df->evt);
    em__post_ops_unref(df->post);
    g_free(df);
}

bool em_df_is_streaming(const em_df *df) { return df->ds != NULL; }
em_schema *em_df_schema(const em_df *df) { return df->schema; }
em_rdd *em_df_rdd(const em_df *df) { return df->rdd; }
em_dstream *em_df_dstream(const em_df *df) { return df->ds; }
bool em_df_is_aggregated(const em_df *df) { return df->aggregated; }

em_values *em_df_collect(const em_df *df, GError **err)
{
    if (df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Queries with streaming sources must be executed with writeStream.start()");
        return NULL;
    }
    return em_rdd_collect(df->rdd, err);
}

em_df *em_df_from_text(em_context *sc, em_schema *schema, const char *lines, GError **err)
{
    g_autoptr(em_arena) arena = em_arena_new();
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(em_value));
    g_auto(GStrv) split = g_strsplit(lines, "\n", -1);
    em_value *fields = g_newa(em_value, schema->n);
    for (size_t l = 0; split[l]; l++) {
        if (split[l][0] == '\0' && split[l + 1] == NULL)
            break; /* the text's final newline */
        g_auto(GStrv) cells = g_strsplit(split[l], ",", (gint)schema->n);
        for (size_t c = 0; c < schema->n; c++) {
            const char *cell = cells[c] ? cells[c] : "";
            if (!em__field_parse(cell, strlen(cell), schema->types[c], arena, &fields[c])) {
                g_set_error(err, EM_ERROR, EM_ERROR_PARSE,
                            "line %zu, column '%s': '%s' is not a %s", l + 1, schema->names[c],
                            cell, em__col_type_name(schema->types[c]));
                return NULL;
            }
        }
        em_value row = em_row_in(arena, fields, schema->n);
        g_array_append_val(rows, row);
    }
    g_autoptr(em_rdd) rdd = em_parallelize(sc, (em_value *)rows->data, rows->len, 0);
    return em__df_new(NULL, schema, rdd, NULL);
}

typedef enum { OP_MAP, OP_FLAT_MAP, OP_FILTER } op_kind;

/* Applies fn (or pred) with op to the table's RDD or DStream; the result has schema out (the
 * reference is taken over). op is freed with what uses it, or at once on failure. */
static em_df *apply(const em_df *df, em_schema *out, op_kind kind, em_map_fn fn, em_filter_fn pred,
                    row_op *op, const char *name, GError **err)
{
    if (df->evt) { /* after a watermarked aggregation: applied to the rows it writes */
        em_df *result = em__df_post_op(df, out, (int)kind, fn, pred, op, row_op_free, name);
        em_schema_unref(out);
        return result;
    }
    g_autoptr(em_rdd) rdd = NULL;
    em_dstream *ds = NULL;
    if (df->rdd) {
        if (kind == OP_MAP)
            rdd = em_rdd_map_full(df->rdd, fn, op, row_op_free, name);
        else if (kind == OP_FLAT_MAP)
            rdd = em_rdd_flat_map_full(df->rdd, fn, op, row_op_free, name);
        else
            rdd = em_rdd_filter_full(df->rdd, pred, op, row_op_free, name);
    } else {
        if (kind == OP_MAP)
            ds = em_map_full(df->ds, fn, op, row_op_free, name);
        else if (kind == OP_FLAT_MAP)
            ds = em_flat_map_full(df->ds, fn, op, row_op_free, name);
        else
            ds = em_filter_full(df->ds, pred, op, row_op_free, name);
    }
    if (!rdd && !ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s could not be applied to the table", name);
        em_schema_unref(out);
        return NULL;
    }
    em_df *result = em__df_new(df, out, rdd, ds);
    em_schema_unref(out);
    return result;
}

/* The column called name, or -1 with err set (Spark's unresolved-column message). */
static int resolve(const em_df *df, const char *name, GError **err)
{
    int i = name ? em_schema_index(df->schema, name) : -1;
    if (i < 0)
        em__schema_unresolved(df->schema, name ? name : "(null)", err);
    return i;
}

/* ---- select ---- */

static em_value select_row(em_value row, void *ud)
{
    const row_op *op = ud;
    em_value *fields = g_newa(em_value, op->out_n);
    for (size_t i = 0; i < op->out_n; i++)
        fields[i] = row.as.items[op->idx[i]];
    return em_row_in(NULL, fields, op->out_n);
}

em_df *em_df_select(const em_df *df, const char *const *cols, size_t n, GError **err)
{
    g_return_val_if_fail(df && cols && n > 0, NULL);
    size_t *idx = g_new(size_t, n);
    em_col_type *types = g_new(em_col_type, n);
    for (size_t i = 0; i < n; i++) {
        int c = resolve(df, cols[i], err);
        if (c < 0) {
            g_free(idx);
            g_free(types);
            return NULL;
        }
        idx[i] = (size_t)c;
        types[i] = df->schema->types[c];
    }
    em_schema *out = em__schema_new(cols, types, n);
    g_free(types);
    row_op *op = row_op_new(df);
    op->idx = idx;
    op->out_n = n;
    em_df *result = apply(df, out, OP_MAP, select_row, NULL, op, "select", err);
    if (result)
        result->aggregated = df->aggregated;
    return result;
}

/* ---- filter ---- */

static bool filter_row(em_value row, void *ud)
{
    const row_op *op = ud;
    return op->pred(row, op->in, op->ud);
}

em_df *em_df_filter_full(const em_df *df, em_row_pred_fn fn, void *ud, GDestroyNotify destroy,
                         GError **err)
{
    g_return_val_if_fail(df && fn, NULL);
    row_op *op = row_op_new(df);
    op->pred = fn;
    op->ud = ud;
    op->destroy = destroy;
    return apply(df, em_schema_ref(df->schema), OP_FILTER, NULL, filter_row, op, "filter", err);
}

static bool cmp_holds(em_cmp_op op, int c)
{
    switch (op) {
    case EM_CMP_EQ: return c == 0;
    case EM_CMP_NE: return c != 0;
    case EM_CMP_LT: return c < 0;
    case EM_CMP_LE: return c <= 0;
    case EM_CMP_GT: return c > 0;
    case EM_CMP_GE: return c >= 0;
    }
    return false;
}

/* SQL's three-valued comparison, null counted as false (filter keeps only true). */
static bool cmp_row(em_value row, void *ud)
{
    const row_op *op = ud;
    em_value v = row.as.items[op->col];
    if (em_is_null(v))
        return false;
    int c;
    if (v.type == EM_T_STR) {
        size_t n = MIN(v.len, op->value.len);
        c = memcmp(v.as.s, op->value.as.s, n);
        if (c == 0)
            c = (v.len > op->value.len) - (v.len < op->value.len);
    } else if (v.type == EM_T_INT && op->value.type == EM_T_INT) {
        c = (v.as.i > op->value.as.i) - (v.as.i < op->value.as.i);
    } else if (v.type == EM_T_BOOL) {
        c = (v.as.i > op->value.as.i) - (v.as.i < op->value.as.i);
    } else {
        double a = em_as_number(v), b = em_as_number(op->value);
        c = (a > b) - (a < b);
    }
    return cmp_holds(op->op, c);
}

static bool value_fits(em_value value, em_col_type type)
{
    switch (type) {
    case EM_COL_STRING: return value.type == EM_T_STR;
    case EM_COL_BOOLEAN: return value.type == EM_T_BOOL;
    case EM_COL_LONG:
    case EM_COL_DOUBLE:
    case EM_COL_TIMESTAMP: return value.type == EM_T_INT || value.type == EM_T_DOUBLE;
    case EM_COL_WINDOW: return false; /* windows are grouped, not compared */
    }
    return false;
}

em_df *em_df_filter_cmp(const em_df *df, const char *col, em_cmp_op op_kind, em_value value,
                        GError **err)
{
    g_return_val_if_fail(df, NULL);
    int c = resolve(df, col, err);
    if (c < 0)
        return NULL;
    if (em_is_null(value)) {
        /* col <op> NULL is never true: an empty table, as Spark. */
    } else if (!value_fits(value, df->schema->types[c])) {
        g_autofree char *text = em_value_to_string(value);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "cannot compare column `%s` (%s) with %s: the value is not a %s", col,
                    em__col_type_name(df->schema->types[c]), text,
                    em__col_type_name(df->schema->types[c]));
        return NULL;
    }
    row_op *op = row_op_new(df);
    op->col = c;
    op->op = op_kind;
    op->arena = em_arena_new();
    op->value = em_value_copy(value, op->arena);
    if (em_is_null(value))
        op->value = em_null();
    return apply(df, em_schema_ref(df->schema), OP_FILTER, NULL,
                 em_is_null(value) ? NULL : cmp_row, op, "filter", err);
}

/* ---- withColumn ---- */

static em_value with_column_row(em_value row, void *ud)
{
    const row_op *op = ud;
    em_value *fields = g_newa(em_value, op->out_n);
    memcpy(fields, row.as.items, row.len * sizeof *fields);
    fields[op->col] = op->fn(row, op->in, op->ud);
    return em_row_in(NULL, fields, op->out_n);
}

/* The schema of table with column name of type set (in its place) or appended; *col gets its
 * index. */
static em_schema *schema_with(const em_schema *in, const char *name, em_col_type type, int *col)
{
    size_t n = in->n;
    int at = em_schema_index(in, name);
    const char **names = g_newa(const char *, n + 1);
    em_col_type *types = g_newa(em_col_type, n + 1);
    for (size_t i = 0; i < n; i++) {
        names[i] = in->names[i];
        types[i] = in->types[i];
    }
    if (at < 0)
        at = (int)n++;
    names[at] = name;
    types[at] = type;
    *col = at;
    return em__schema_new(names, types, n);
}

em_df *em_df_with_column_full(const em_df *df, const char *name, em_col_type type, em_row_fn fn,
                              void *ud, GDestroyNotify destroy, GError **err)
{
    g_return_val_if_fail(df && name && fn, NULL);
    row_op *op = row_op_new(df);
    em_schema *out = schema_with(df->schema, name, type, &op->col);
    op->out_n = out->n;
    op->fn = fn;
    op->ud = ud;
    op->destroy = destroy;
    return apply(df, out, OP_MAP, with_column_row, NULL, op, "withColumn", err);
}

/* ---- explode(split(col, sep)) ---- */

static em_value explode_row(em_value row, void *ud)
{
    const row_op *op = ud;
    em_value s = row.as.items[op->col];
    if (!em_is_str(s))
        return em_null();
    /* One pass to count the pieces, one to build the rows: pieces point into the string. */
    size_t pieces = 1;
    for (size_t i = 0; i + op->sep_len <= s.len; i++) {
        if (memcmp(s.as.s + i, op->sep, op->sep_len) == 0) {
            pieces++;
            i += op->sep_len - 1;
        }
    }
    em_arena *scratch = em_scratch();
    em_value *rows = em_arena_alloc(scratch, pieces * sizeof *rows);
    size_t start = 0, k = 0;
    for (size_t i = 0; k < pieces; i++) {
        bool at_end = i + op->sep_len > s.len;
        if (!at_end && memcmp(s.as.s + i, op->sep, op->sep_len) != 0)
            continue;
        size_t end = at_end ? s.len : i;
        em_value *fields = em_arena_alloc(scratch, op->out_n * sizeof *fields);
        memcpy(fields, row.as.items, row.len * sizeof *fields);
        fields[op->out_n == row.len ? (size_t)op->idx[0] : op->out_n - 1] =
            em_strn(s.as.s + start, end - start);
        rows[k++] = (em_value){.type = EM_T_TUPLE, .len = (uint32_t)op->out_n, .as.items = fields};
        start = end + op->sep_len;
        i = start - 1;
        if (at_end)
            break;
    }
    return (em_value){.type = EM_T_LIST, .len = (uint32_t)k, .as.items = rows};
}

em_df *em_df_explode_split(const em_df *df, const char *col, const char *sep, const char *name,
                           GError **err)
{
    g_return_val_if_fail(df && sep && *sep && name, NULL);
    int c = resolve(df, col, err);
    if (c < 0)
        return NULL;
    if (df->schema->types[c] != EM_COL_STRING) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "split(%s) needs a string column: `%s` is %s",
                    col, col, em__col_type_name(df->schema->types[c]));
        return NULL;
    }
    row_op *op = row_op_new(df);
    op->col = c;
    op->sep = g_strdup(sep);
    op->sep_len = strlen(sep);
    int out_col;
    em_schema *out = schema_with(df->schema, name, EM_COL_STRING, &out_col);
    op->out_n = out->n;
    op->idx = g_new(size_t, 1);
    op->idx[0] = (size_t)out_col;
    return apply(df, out, OP_FLAT_MAP, explode_row, NULL, op, "explode", err);
}

/* ---- orderBy ---- */

typedef struct {
    const size_t *cols;
    size_t n;
} sort_spec;

static int compare_rows(const void *a, const void *b, void *ud)
{
    const sort_spec *spec = ud;
    const em_value *x = a, *y = b;
    for (size_t i = 0; i < spec->n; i++) {
        int c = em_value_compare(x->as.items[spec->cols[i]], y->as.items[spec->cols[i]]);
        if (c)
            return c;
    }
    return 0;
}

void em__df_sort_rows(const em_df *df, em_value *rows, size_t n)
{
    if (!df->sort_cols)
        return;
    sort_spec spec = {df->sort_cols, df->n_sort};
    g_qsort_with_data(rows, (gint)n, sizeof *rows, compare_rows, &spec);
}

/* row -> (sort key, row), for the static sort. */
static em_value keyed_row(em_value row, void *ud)
{
    const row_op *op = ud;
    em_value *key = g_newa(em_value, op->out_n);
    for (size_t i = 0; i < op->out_n; i++)
        key[i] = row.as.items[op->idx[i]];
    return em_pair(em_row_in(NULL, key, op->out_n), row);
}

em_df *em_df_order_by(const em_df *df, const char *const *cols, size_t n, GError **err)
{
    g_return_val_if_fail(df && cols && n > 0, NULL);
    size_t *idx = g_new(size_t, n);
    for (size_t i = 0; i < n; i++) {
        int c = resolve(df, cols[i], err);
        if (c < 0) {
            g_free(idx);
            return NULL;
        }
        idx[i] = (size_t)c;
    }
    if (df->ds) {
        if (!df->aggregated) {
            g_free(idx);
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "Sorting is not supported on streaming DataFrames/Datasets, unless it is "
                        "on aggregated DataFrame/Dataset in Complete output mode;");
            return NULL;
        }
        em_df *sorted = em__df_new(df, df->schema, NULL, df->ds);
        sorted->aggregated = true;
        sorted->agg_ds = df->agg_ds;
        sorted->agg_input = df->agg_input;
        sorted->agg_plan = df->agg_plan ? em__agg_plan_ref(df->agg_plan) : NULL;
        sorted->sort_cols = idx;
        sorted->n_sort = n;
        return sorted;
    }
    row_op *op = row_op_new(df);
    op->idx = idx;
    op->out_n = n;
    g_autoptr(em_rdd) keyed = em_rdd_map_full(df->rdd, keyed_row, op, row_op_free, "orderBy");
    g_autoptr(em_rdd) ordered = em_rdd_sort_by_key(keyed, true);
    g_autoptr(em_rdd) rows = em_rdd_values(ordered);
    em_df *sorted = em__df_new(df, df->schema, rows, NULL);
    sorted->aggregated = df->aggregated;
    return sorted;
}
