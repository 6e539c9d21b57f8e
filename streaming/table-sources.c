/* Streaming DataFrames from Ember's input DStreams: lines as Spark's text and socket sources
 * give them (one string column, "value"). Other sources (rate, files with a schema) build on
 * the same wrapping. */
#include "table-private.h"

#include <math.h>
#include <string.h>

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
    em_df *df = lines ? em_df_from_lines(lines) : NULL;
    if (df)
        df->source_desc = g_strdup_printf("TextSocketV2[host: %s, port: %d]", host, port);
    return df;
}

/* ---- The rate source (Spark's RateStreamMicroBatchStream, rampUpTime 0) ----
 * Its offsets are whole seconds since the query began (its creation time: the ssc's zero time,
 * or the one a checkpoint logged in sources/0/0): the batch of offsets (start, end] holds the
 * values of the seconds [start, end), value v of second s counted as s * rowsPerSecond + i,
 * stamped as Spark stamps it: the range's start time plus v's share of the range's
 * milliseconds, rounded. A pure function of the offsets: a batch read again gives the same
 * rows. */

typedef struct {
    em__offset_stream base;
    int64_t rows_per_second;
    int num_partitions;
    em_time creation; /* G_MININT64 until known */
    char *log_dir;    /* sources/0 with a checkpoint, else NULL */
} rate_stream;

static bool rate_creation(rate_stream *rs, GError **err)
{
    if (rs->creation != G_MININT64)
        return true;
    rs->creation = rs->base.base.zero_time;
    if (!rs->log_dir)
        return true;
    g_autofree char *path = g_build_filename(rs->log_dir, "0", NULL);
    g_autofree char *text = g_strdup_printf("v1\n%" G_GINT64_FORMAT, (gint64)rs->creation);
    return em__write_file_atomic(path, text, strlen(text), false, err);
}

static bool rate_latest(em__offset_stream *os, em_time t, const char *start, char **end,
                        char **available, GError **err)
{
    rate_stream *rs = (rate_stream *)os;
    int64_t from = 0;
    if (!rate_creation(rs, err) || (start && !em__offset_parse_int(start, "", "", &from, err)))
        return false;
    int64_t seconds = t <= rs->creation ? 0 : (t - rs->creation) / 1000;
    /* The seconds only grow: a restart whose clock is behind the logged offset waits. */
    *end = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)MAX(seconds, from));
    *available = g_strdup(*end);
    return true;
}

static em_rdd *rate_read(em__offset_stream *os, const char *start, const char *end, GError **err)
{
    const rate_stream *rs = (const rate_stream *)os;
    int64_t start_s = 0, end_s = 0; /* no start: Spark's initialOffset, 0 */
    if ((start && !em__offset_parse_int(start, "", "", &start_s, err)) ||
        !em__offset_parse_int(end, "", "", &end_s, err))
        return NULL;
    int64_t from = start_s * rs->rows_per_second, to = end_s * rs->rows_per_second;
    size_t n = (size_t)(to - from);
    g_autoptr(em_arena) arena = em_arena_new();
    em_value *rows = g_new(em_value, n ? n : 1);
    double ms_per_value = n ? (double)(end_s - start_s) * 1000.0 / (double)n : 0;
    int64_t start_ms = rs->creation + start_s * 1000;
    for (size_t i = 0; i < n; i++) {
        int64_t ms = start_ms + (int64_t)llround(ms_per_value * (double)i);
        em_value fields[2] = {em_int(ms * 1000), em_int(from + (int64_t)i)};
        rows[i] = em_row_in(arena, fields, 2);
    }
    em_rdd *rdd = em_parallelize(os->base.ssc->sc, rows, n, rs->num_partitions);
    g_free(rows);
    return rdd;
}

/* sources/0/0 holds the creation time ("v1\n<ms>", as Spark's): a restarted query counts its
 * seconds from the first run's start. */
static bool rate_attach(em__offset_stream *os, const char *dir, GError **err)
{
    rate_stream *rs = (rate_stream *)os;
    rs->log_dir = g_strdup(dir);
    g_autofree char *path = g_build_filename(dir, "0", NULL);
    g_autofree char *text = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return true;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    char *end = NULL;
    gint64 ms = g_str_has_prefix(text, "v1\n") ? g_ascii_strtoll(text + 3, &end, 10) : 0;
    if (!end || end == text + 3) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "%s is not the rate source's start time (\"v1\" then milliseconds)", path);
        return false;
    }
    rs->creation = ms;
    return true;
}

static void rate_finalize(em_dstream *ds)
{
    rate_stream *rs = (rate_stream *)ds;
    em__offset_stream_finalize(&rs->base);
    g_free(rs->log_dir);
}

static const em__offset_source_class rate_class = {
    .base = {.type_name = "RateStreamMicroBatchStream",
             .instance_size = sizeof(rate_stream),
             .compute = em__offset_stream_compute,
             .finalize = rate_finalize},
    .latest = rate_latest,
    .read = rate_read,
    .attach = rate_attach,
};

em_df *em_df_read_rate(em_ssc *ssc, int64_t rows_per_second, int num_partitions)
{
    if (rows_per_second <= 0) {
        g_critical("em_df_read_rate: rowsPerSecond %" G_GINT64_FORMAT " must be positive",
                   (gint64)rows_per_second);
        return NULL;
    }
    /* Spark's toString, unclosed bracket and all. */
    g_autofree char *parts =
        num_partitions > 0 ? g_strdup_printf("%d", num_partitions) : g_strdup("default");
    g_autofree char *description = g_strdup_printf("RateStreamV2[rowsPerSecond=%" G_GINT64_FORMAT
                                                   ", rampUpTimeSeconds=0, numPartitions=%s",
                                                   (gint64)rows_per_second, parts);
    em__offset_stream *os = em__offset_stream_new(ssc, &rate_class, "RateStream", description);
    if (!os)
        return NULL;
    rate_stream *rs = (rate_stream *)os;
    rs->rows_per_second = rows_per_second;
    rs->num_partitions = num_partitions;
    rs->creation = G_MININT64;
    g_autoptr(em_schema) schema = em_schema_parse("timestamp timestamp, value long", NULL);
    return em__df_new(NULL, schema, NULL, &os->base);
}
