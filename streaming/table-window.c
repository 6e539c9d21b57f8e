/* window(ts, length, slide, start) over Ember's DataFrames: each row repeated once per
 * time window its timestamp falls in, the window as a (start, end) column, with Spark's
 * TimeWindowing boundaries. Grouping by the column (table-agg.c) gives windowed aggregation;
 * a watermark on ts (table-watermark.c) follows into the window. */
#include "table-private.h"

#include <string.h>

typedef struct {
    size_t ts;                             /* input column of the timestamp */
    int64_t length_us, slide_us, start_us; /* Spark keeps windows in microseconds */
    size_t n_candidates;                   /* ceil(length / slide) */
    size_t in_n;                           /* input arity; the window is column in_n */
} window_op;

/* Spark's TimeWindowing: lastStart = ts - ((ts - start) mod slide), then the windows
 * lastStart - i * slide for i < ceil(length / slide) that hold ts (start <= ts < end). */
static em_value window_rows(em_value row, void *ud)
{
    const window_op *op = ud;
    em_value ts = row.as.items[op->ts];
    if (!em_is_int(ts))
        return (em_value){.type = EM_T_LIST, .len = 0, .as.items = NULL};
    int64_t t = ts.as.i;
    int64_t rem = (t - op->start_us) % op->slide_us;
    if (rem < 0)
        rem += op->slide_us;
    int64_t last_start = t - rem;
    em_arena *scratch = em_scratch();
    em_value *rows = em_arena_alloc(scratch, op->n_candidates * sizeof *rows);
    size_t k = 0;
    for (size_t i = 0; i < op->n_candidates; i++) {
        int64_t ws = last_start - (int64_t)i * op->slide_us, we = ws + op->length_us;
        if (!(ws <= t && t < we))
            continue;
        em_value *fields = em_arena_alloc(scratch, (op->in_n + 1) * sizeof *fields);
        memcpy(fields, row.as.items, op->in_n * sizeof *fields);
        em_value bounds[2] = {em_int(ws), em_int(we)};
        fields[op->in_n] = em_row_in(scratch, bounds, 2);
        rows[k++] =
            (em_value){.type = EM_T_TUPLE, .len = (uint32_t)(op->in_n + 1), .as.items = fields};
    }
    return (em_value){.type = EM_T_LIST, .len = (uint32_t)k, .as.items = rows};
}

/* Spark's TimeWindow checks, with its messages. */
static bool check_durations(em_duration length, em_duration slide, em_duration start, GError **err)
{
    if (length <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The window duration (%" G_GINT64_FORMAT " ms) must be greater than 0.",
                    (gint64)length);
        return false;
    }
    if (slide <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The slide duration (%" G_GINT64_FORMAT " ms) must be greater than 0.",
                    (gint64)slide);
        return false;
    }
    if (slide > length) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The slide duration (%" G_GINT64_FORMAT " ms) must be less than or equal to "
                    "the windowDuration (%" G_GINT64_FORMAT " ms).",
                    (gint64)slide, (gint64)length);
        return false;
    }
    if (start >= slide || -start >= slide) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The absolute value of start time (%" G_GINT64_FORMAT " ms) must be less "
                    "than the slideDuration (%" G_GINT64_FORMAT " ms).",
                    (gint64)start, (gint64)slide);
        return false;
    }
    return true;
}

em_df *em_df_window_full(const em_df *df, const char *ts_col, em_duration length,
                         em_duration slide, em_duration start, const char *name, GError **err)
{
    g_return_val_if_fail(df, NULL);
    if (!em__df_refuse_after_join(df, "window", err))
        return NULL;
    if (!name)
        name = "window";
    int c = ts_col ? em_schema_index(df->schema, ts_col) : -1;
    if (c < 0) {
        em__schema_unresolved(df->schema, ts_col ? ts_col : "(null)", err);
        return NULL;
    }
    if (df->schema->types[c] != EM_COL_TIMESTAMP) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "window(%s) needs a timestamp column: `%s` is %s", ts_col, ts_col,
                    em__col_type_name(df->schema->types[c]));
        return NULL;
    }
    if (em_schema_index(df->schema, name) >= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "window(%s) as `%s`: the table already has a column `%s`", ts_col, name, name);
        return NULL;
    }
    if (!check_durations(length, slide, start, err))
        return NULL;
    window_op *op = g_new0(window_op, 1);
    op->ts = (size_t)c;
    op->length_us = length * 1000;
    op->slide_us = slide * 1000;
    op->start_us = start * 1000;
    op->n_candidates = (size_t)((length + slide - 1) / slide);
    op->in_n = df->schema->n;

    size_t n = df->schema->n + 1;
    const char **names = g_newa(const char *, n);
    em_col_type *types = g_newa(em_col_type, n);
    for (size_t i = 0; i < df->schema->n; i++) {
        names[i] = df->schema->names[i];
        types[i] = df->schema->types[i];
    }
    names[n - 1] = name;
    types[n - 1] = EM_COL_WINDOW;
    g_autoptr(em_schema) out = em__schema_new(names, types, n);

    g_autoptr(em_rdd) rdd = NULL;
    em_dstream *ds = NULL;
    if (df->rdd)
        rdd = em_rdd_flat_map_full(df->rdd, window_rows, op, g_free, "window");
    else
        ds = em_flat_map_full(df->ds, window_rows, op, g_free, "window");
    if (!rdd && !ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "window could not be applied to the table");
        return NULL;
    }
    em_df *result = em__df_new(df, out, rdd, ds);
    /* Spark's window() keeps the event-time metadata of its column: the window carries it. */
    if (result->watermark && df->event_col && strcmp(df->event_col, ts_col) == 0) {
        g_free(result->event_col);
        result->event_col = g_strdup(name);
    }
    return result;
}

/* ---- session_window ---- */

typedef struct {
    size_t ts;
    int64_t gap_us;
    size_t in_n;
} session_op;

/* row -> row + [ts, ts + gap); a null ts gives no row (Spark filters them out). */
static em_value session_rows(em_value row, void *ud)
{
    const session_op *op = ud;
    em_value ts = row.as.items[op->ts];
    if (!em_is_int(ts))
        return (em_value){.type = EM_T_LIST, .len = 0, .as.items = NULL};
    em_arena *scratch = em_scratch();
    em_value *fields = em_arena_alloc(scratch, (op->in_n + 1) * sizeof *fields);
    memcpy(fields, row.as.items, op->in_n * sizeof *fields);
    em_value bounds[2] = {ts, em_int(ts.as.i + op->gap_us)};
    fields[op->in_n] = em_row_in(scratch, bounds, 2);
    em_value *one = em_arena_alloc(scratch, sizeof *one);
    *one = (em_value){.type = EM_T_TUPLE, .len = (uint32_t)(op->in_n + 1), .as.items = fields};
    return (em_value){.type = EM_T_LIST, .len = 1, .as.items = one};
}

em_df *em_df_session_window(const em_df *df, const char *ts_col, em_duration gap, const char *name,
                            GError **err)
{
    g_return_val_if_fail(df, NULL);
    if (!em__df_refuse_after_join(df, "session_window", err))
        return NULL;
    if (!name)
        name = "session_window";
    int c = ts_col ? em_schema_index(df->schema, ts_col) : -1;
    if (c < 0) {
        em__schema_unresolved(df->schema, ts_col ? ts_col : "(null)", err);
        return NULL;
    }
    if (df->schema->types[c] != EM_COL_TIMESTAMP) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "session_window(%s) needs a timestamp column: `%s` is %s", ts_col, ts_col,
                    em__col_type_name(df->schema->types[c]));
        return NULL;
    }
    if (gap <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The session window gap duration (%" G_GINT64_FORMAT
                    " ms) must be greater than 0.",
                    (gint64)gap);
        return NULL;
    }
    if (!df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "session_window(%s) on a static table is not supported yet: Ember merges "
                    "sessions in the streaming aggregation only",
                    ts_col);
        return NULL;
    }
    if (em_schema_index(df->schema, name) >= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "session_window(%s) as `%s`: the table already has a column `%s`", ts_col,
                    name, name);
        return NULL;
    }
    session_op *op = g_new0(session_op, 1);
    op->ts = (size_t)c;
    op->gap_us = gap * 1000;
    op->in_n = df->schema->n;
    size_t n = df->schema->n + 1;
    const char **names = g_newa(const char *, n);
    em_col_type *types = g_newa(em_col_type, n);
    for (size_t i = 0; i < df->schema->n; i++) {
        names[i] = df->schema->names[i];
        types[i] = df->schema->types[i];
    }
    names[n - 1] = name;
    types[n - 1] = EM_COL_WINDOW;
    g_autoptr(em_schema) out = em__schema_new(names, types, n);
    em_dstream *ds = em_flat_map_full(df->ds, session_rows, op, g_free, "session_window");
    if (!ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "session_window could not be applied to the table");
        return NULL;
    }
    em_df *result = em__df_new(df, out, NULL, ds);
    g_free(result->session_col);
    result->session_col = g_strdup(name);
    if (result->watermark && df->event_col && strcmp(df->event_col, ts_col) == 0) {
        g_free(result->event_col);
        result->event_col = g_strdup(name);
    }
    return result;
}
