/* withWatermark(ts, delay) over Ember's DataFrames: the query-wide event-time watermark (largest
 * event time seen minus the delay, computed at a batch's end, used from the next batch, never
 * moving back) and each batch's event-time figures for the progress (Spark's eventTime block).
 * The watermarked aggregation (table-evt-agg.c) reads it; the query (table-query.c) moves it. */
#include "table-private.h"

#include <string.h>

struct em_watermark {
    gint refs;
    char *col;        /* the event-time column, at withWatermark */
    size_t col_index; /* its index there */
    em_dstream *rows; /* the rows at withWatermark (borrowed: the ssc owns streams) */
    int64_t delay_ms;
    GMutex lock;
    int64_t late_ms;    /* the previous batch's watermark: rows at or before it are late */
    int64_t current_ms; /* this batch's watermark: groups ending at or before it are evicted */
    int64_t next_ms;    /* computed at the last batch's end, current from the next one */
    /* the last batch's event times (ms), when it read rows with a timestamp */
    int64_t n, min_ms, max_ms, avg_ms;
};

struct em_watermark *em__watermark_ref(struct em_watermark *wm)
{
    if (wm)
        g_atomic_int_inc(&wm->refs);
    return wm;
}

void em__watermark_unref(struct em_watermark *wm)
{
    if (!wm || !g_atomic_int_dec_and_test(&wm->refs))
        return;
    g_free(wm->col);
    g_mutex_clear(&wm->lock);
    g_free(wm);
}

em_df *em_df_with_watermark(const em_df *df, const char *ts_col, em_duration delay, GError **err)
{
    g_return_val_if_fail(df, NULL);
    if (!em__df_refuse_after_join(df, "withWatermark", err))
        return NULL;
    int c = ts_col ? em_schema_index(df->schema, ts_col) : -1;
    if (c < 0) {
        em__schema_unresolved(df->schema, ts_col ? ts_col : "(null)", err);
        return NULL;
    }
    if (df->schema->types[c] != EM_COL_TIMESTAMP) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Event time must be defined on a window or a timestamp, but %s is of type %s",
                    ts_col, em__col_type_name(df->schema->types[c]));
        return NULL;
    }
    if (delay < 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "The delay threshold (%" G_GINT64_FORMAT " ms) should not be negative.",
                    (gint64)delay);
        return NULL;
    }
    if (!df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "withWatermark(%s) needs a streaming DataFrame: a static one has no batches",
                    ts_col);
        return NULL;
    }
    if (df->watermark) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "withWatermark(%s): the table has a watermark already (on `%s`); Ember "
                    "supports one per query",
                    ts_col, df->watermark->col);
        return NULL;
    }
    struct em_watermark *wm = g_new0(struct em_watermark, 1);
    wm->refs = 1;
    wm->col = g_strdup(ts_col);
    wm->col_index = (size_t)c;
    wm->rows = df->ds;
    wm->delay_ms = delay;
    g_mutex_init(&wm->lock);
    em_df *result = em__df_new(df, df->schema, NULL, df->ds);
    result->aggregated = df->aggregated;
    result->watermark = wm;
    result->event_col = g_strdup(ts_col);
    return result;
}

bool em__watermark_advanced(struct em_watermark *wm)
{
    g_mutex_lock(&wm->lock);
    bool advanced = wm->next_ms > wm->current_ms;
    g_mutex_unlock(&wm->lock);
    return advanced;
}

void em__watermark_begin(struct em_watermark *wm)
{
    g_mutex_lock(&wm->lock);
    wm->late_ms = wm->current_ms;
    wm->current_ms = wm->next_ms;
    wm->n = 0;
    g_mutex_unlock(&wm->lock);
}

int64_t em__watermark_current(struct em_watermark *wm)
{
    g_mutex_lock(&wm->lock);
    int64_t ms = wm->current_ms;
    g_mutex_unlock(&wm->lock);
    return ms;
}

int64_t em__watermark_next(struct em_watermark *wm)
{
    g_mutex_lock(&wm->lock);
    int64_t ms = wm->next_ms;
    g_mutex_unlock(&wm->lock);
    return ms;
}

/* The next batch's em__watermark_begin makes current_ms the late-row watermark (Spark's
 * previous batch's batchWatermarkMs) and next_ms the current one, as if the query had run on. */
void em__watermark_restore(struct em_watermark *wm, int64_t current_ms, int64_t next_ms)
{
    g_mutex_lock(&wm->lock);
    wm->current_ms = MAX(wm->current_ms, current_ms);
    wm->late_ms = wm->current_ms;
    wm->next_ms = MAX(MAX(wm->next_ms, next_ms), wm->current_ms);
    g_mutex_unlock(&wm->lock);
}

void em__watermark_get(struct em_watermark *wm, int64_t *late_ms, int64_t *evict_ms)
{
    g_mutex_lock(&wm->lock);
    *late_ms = wm->late_ms;
    *evict_ms = wm->current_ms;
    g_mutex_unlock(&wm->lock);
}

/* row -> (n, min, max, sum) of its event time in ms (Spark's EventTimeStats: micros / 1000),
 * as a 4-field row; nulls count nothing. */
static em_value time_stats(em_value row, void *ud)
{
    const struct em_watermark *wm = ud;
    em_value ts = row.as.items[wm->col_index];
    if (!em_is_int(ts)) {
        em_value none[4] = {em_int(0), em_int(G_MAXINT64), em_int(G_MININT64), em_double(0)};
        return em_row_in(NULL, none, 4);
    }
    int64_t ms = ts.as.i / 1000;
    em_value one[4] = {em_int(1), em_int(ms), em_int(ms), em_double((double)ms)};
    return em_row_in(NULL, one, 4);
}

static em_value merge_stats(em_value a, em_value b, void *ud)
{
    (void)ud;
    const em_value *x = a.as.items, *y = b.as.items;
    em_value m[4] = {em_int(x[0].as.i + y[0].as.i), em_int(MIN(x[1].as.i, y[1].as.i)),
                     em_int(MAX(x[2].as.i, y[2].as.i)), em_double(x[3].as.d + y[3].as.d)};
    return em_row_in(NULL, m, 4);
}

bool em__watermark_end(struct em_watermark *wm, em_time t, bool has_data, GError **err)
{
    int64_t n = 0, min = 0, max = 0, avg = 0;
    if (has_data) {
        em_rdd *rows = em__dstream_get_or_compute(wm->rows, t, err); /* borrowed */
        if (!rows && err && *err)
            return false;
        if (rows) {
            g_autoptr(em_rdd) stats =
                em_rdd_map_full(rows, time_stats, em__watermark_ref(wm),
                                (GDestroyNotify)em__watermark_unref, "eventTimeStats");
            em_value zero[4] = {em_int(0), em_int(G_MAXINT64), em_int(G_MININT64), em_double(0)};
            g_autoptr(em_arena) arena = em_arena_new();
            em_value total;
            /* the driver's merges allocate in arena too (nothing resets this thread's scratch) */
            em_arena *prev = em__scratch_set(arena);
            bool folded = em_rdd_fold(stats, em_row_in(arena, zero, 4), merge_stats, NULL, arena,
                                      &total, err);
            em__scratch_set(prev);
            if (!folded)
                return false;
            n = total.as.items[0].as.i;
            if (n > 0) {
                min = total.as.items[1].as.i;
                max = total.as.items[2].as.i;
                avg = (int64_t)(total.as.items[3].as.d / (double)n);
            }
        }
    }
    g_mutex_lock(&wm->lock);
    wm->n = n;
    wm->min_ms = min;
    wm->max_ms = max;
    wm->avg_ms = avg;
    /* WatermarkTracker: max event time minus the delay, never moving back */
    if (n > 0 && max - wm->delay_ms > wm->next_ms)
        wm->next_ms = max - wm->delay_ms;
    g_mutex_unlock(&wm->lock);
    return true;
}

/* Spark's progress timestamps: ISO 8601 in UTC with milliseconds. */
static char *iso_ms(int64_t ms)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(secs);
    g_autofree char *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    return g_strdup_printf("%s.%03dZ", base, (int)(ms - secs * 1000));
}

static void add_time(JsonBuilder *b, const char *name, int64_t ms)
{
    g_autofree char *iso = iso_ms(ms);
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, iso);
}

void em__watermark_progress(struct em_watermark *wm, JsonBuilder *b)
{
    g_mutex_lock(&wm->lock);
    int64_t current = wm->current_ms;
    g_mutex_unlock(&wm->lock);
    em__watermark_progress_with(wm, current, b);
}

bool em__watermark_progress_has_stats(struct em_watermark *wm)
{
    g_mutex_lock(&wm->lock);
    bool has = wm->n > 0;
    g_mutex_unlock(&wm->lock);
    return has;
}

void em__watermark_progress_with(struct em_watermark *wm, int64_t current, JsonBuilder *b)
{
    g_mutex_lock(&wm->lock);
    int64_t n = wm->n, min = wm->min_ms, max = wm->max_ms, avg = wm->avg_ms;
    g_mutex_unlock(&wm->lock);
    /* Spark's keys sorted: avg, max, min (when the batch had event times), watermark */
    json_builder_set_member_name(b, "eventTime");
    json_builder_begin_object(b);
    if (n > 0) {
        add_time(b, "avg", avg);
        add_time(b, "max", max);
        add_time(b, "min", min);
    }
    add_time(b, "watermark", current);
    json_builder_end_object(b);
}
