/* Streaming DataFrames from Ember's input DStreams: lines as Spark's text and socket sources
 * give them (one string column, "value"). Other sources (rate, files with a schema) build on
 * the same wrapping. */
#include "table-private.h"

#include <math.h>

static em_value line_row(em_value line, void *ud)
{
    (void)ud;
    return em_row_in(NULL, &line, 1);
}

em_df *em_df_from_lines(em_dstream *lines)
{
    g_return_val_if_fail(lines, NULL);
    em_dstream *rows = em_map_full(lines, line_row, NULL, NULL, "value");
    if (!rows)
        return NULL;
    g_autoptr(em_schema) schema = em_schema_parse("value string", NULL);
    em_df *df = em__df_new(NULL, schema, NULL, rows);
    df->source = lines;
    return df;
}

em_df *em_df_read_socket(em_ssc *ssc, const char *host, int port)
{
    em_dstream *lines = em_socket_text_stream(ssc, host, port);
    return lines ? em_df_from_lines(lines) : NULL;
}

/* ---- The rate source (Spark's RateStreamMicroBatchStream, rampUpTime 0) ----
 * Its offsets are whole seconds since the query began (the ssc's zero time): the batch at t
 * holds the values of the seconds [end(t - interval), end(t)), value v of second s counted
 * as s * rowsPerSecond + i, stamped as Spark stamps it: the range's start time plus v's share
 * of the range's milliseconds, rounded. A pure function of t: a batch computed again gives the
 * same rows. */

typedef struct {
    em_dstream base;
    int64_t rows_per_second;
    int num_partitions;
} rate_stream;

static int64_t rate_seconds(const em_dstream *ds, em_time t)
{
    return t <= ds->zero_time ? 0 : (t - ds->zero_time) / 1000;
}

static em_rdd *rate_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    const rate_stream *rs = (const rate_stream *)ds;
    int64_t start_s = rate_seconds(ds, t - ds->slide), end_s = rate_seconds(ds, t);
    int64_t from = start_s * rs->rows_per_second, to = end_s * rs->rows_per_second;
    size_t n = (size_t)(to - from);
    g_autoptr(em_arena) arena = em_arena_new();
    em_value *rows = g_new(em_value, n ? n : 1);
    double ms_per_value = n ? (double)(end_s - start_s) * 1000.0 / (double)n : 0;
    int64_t start_ms = ds->zero_time + start_s * 1000;
    for (size_t i = 0; i < n; i++) {
        int64_t ms = start_ms + (int64_t)llround(ms_per_value * (double)i);
        em_value fields[2] = {em_int(ms * 1000), em_int(from + (int64_t)i)};
        rows[i] = em_row_in(arena, fields, 2);
    }
    em_rdd *rdd = em_parallelize(ds->ssc->sc, rows, n, rs->num_partitions);
    g_free(rows);
    ds->last_records = (int64_t)n;
    return rdd;
}

static const em_dstream_class rate_class = {.type_name = "RateStreamMicroBatchStream",
                                            .instance_size = sizeof(rate_stream),
                                            .compute = rate_compute};

em_df *em_df_read_rate(em_ssc *ssc, int64_t rows_per_second, int num_partitions)
{
    if (rows_per_second <= 0) {
        g_critical("em_df_read_rate: rowsPerSecond %" G_GINT64_FORMAT " must be positive",
                   (gint64)rows_per_second);
        return NULL;
    }
    em_dstream *ds = em__input_new(ssc, &rate_class, "RateStream");
    if (!ds)
        return NULL;
    rate_stream *rs = (rate_stream *)ds;
    rs->rows_per_second = rows_per_second;
    rs->num_partitions = num_partitions;
    g_autoptr(em_schema) schema = em_schema_parse("timestamp timestamp, value long", NULL);
    return em__df_new(NULL, schema, NULL, ds);
}
