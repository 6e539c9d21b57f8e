/* The Kafka source of tables (Spark's KafkaMicroBatchStream), beside the DStream connector
 * (input-kafka*.c) whose configuration and logging it shares: its offsets are the next offset
 * of each partition (input-kafka-table-offsets.c); a trigger's end is every partition's high
 * watermark then, cut by maxOffsetsPerTrigger, and a batch reads exactly the records between
 * its start and end offsets, so a batch run again after a restart reads the same records. The
 * partitions are the subscribed topics', the pattern's or the assigned ones, listed again at
 * each trigger (new ones are read from their earliest offset). It reads on the scheduler thread
 * with librdkafka's consumer, assigning partitions (no group, no commits: positions live in the
 * checkpoint, as Spark's), unlike the DStream connector, which fixes batches by what its
 * polling thread fetched by batch time. */
#include "input-kafka-private.h"
#include "table-private.h"

#include <inttypes.h>
#include <string.h>

#define KAFKA_TIMEOUT_MS 30000
/* Spark's fetchOffset.numRetries and fetchOffset.retryIntervalMs: a partition whose leader is
 * being elected (a topic just made, a broker restarting) is asked again. */
#define FETCH_OFFSET_RETRIES 3
#define FETCH_OFFSET_RETRY_INTERVAL_MS 1000

/* Spark's KafkaSourceProvider.INSTRUCTION_FOR_FAIL_ON_DATA_LOSS_TRUE / _FALSE. */
#define DATA_LOSS_LOST                                                                            \
    "Some data may have been lost because they are not available in Kafka any more; either the "  \
    "data was aged out by Kafka or the topic may have been deleted before all the data in the "   \
    "topic was processed. "
#define DATA_LOSS_FAIL                                                                            \
    DATA_LOSS_LOST "If you don't want your streaming query to fail on such cases, set the "       \
                   "source option \"failOnDataLoss\" to \"false\"."
#define DATA_LOSS_WARN                                                                            \
    DATA_LOSS_LOST "If you want your streaming query to fail on such cases, set the source "      \
                   "option \"failOnDataLoss\" to \"true\"."

#define KAFKA_SCHEMA                                                                              \
    "key string, value string, topic string, partition long, offset long, timestamp timestamp, "  \
    "timestampType long"

typedef enum { SUBSCRIBE, SUBSCRIBE_PATTERN, ASSIGN } strategy;

typedef struct {
    em__offset_stream base;
    char *brokers;
    char *what; /* "Kafka source <brokers>": names errors */
    strategy strategy;
    char **topics;   /* subscribe */
    GRegex *pattern; /* subscribePattern, anchored at both ends */
    GArray *assign;  /* assign: em_kafka_tp */
    /* startingOffsets: NULL for "latest", "earliest", or the offsets given (-2 earliest, -1
     * latest) */
    bool earliest;
    GArray *starting;
    int64_t max_offsets; /* maxOffsetsPerTrigger, 0 none */
    bool fail_on_data_loss;
    char *group; /* the consumer's group.id (never joined): named in data loss messages */
    rd_kafka_t *rk;
    char *initial; /* the starting offsets (JSON), NULL until known */
    char *log_dir; /* sources/0 with a checkpoint, else NULL */
} kafka_stream;

static bool kafka_error(GError **err, const kafka_stream *ks, const char *what,
                        rd_kafka_resp_err_t code)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s: %s: %s", ks->what, what, rd_kafka_err2str(code));
    return false;
}

/* Spark's reportDataLoss: fails (err) or warns, with the instruction that fits. */
G_GNUC_PRINTF(3, 4)
static bool data_loss(const kafka_stream *ks, GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (ks->fail_on_data_loss) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s %s", message, DATA_LOSS_FAIL);
        return false;
    }
    g_warning("%s: %s %s", ks->what, message, DATA_LOSS_WARN);
    return true;
}

/* ---- The partitions of the strategy, and their offsets ---- */

static bool internal_topic(const char *topic)
{
    static const char *const internal[] = {"__consumer_offsets", "__transaction_state",
                                           "__share_group_state", NULL};
    return g_strv_contains(internal, topic);
}

static bool retriable(rd_kafka_resp_err_t code)
{
    switch (code) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION: return true;
    default: return false;
    }
}

/* The partitions of one topic, or of every topic (topic NULL) the pattern matches, added to
 * parts. */
static rd_kafka_resp_err_t try_topic_partitions(kafka_stream *ks, const char *topic, GArray *parts)
{
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(ks->rk, topic, NULL) : NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t code = rd_kafka_metadata(ks->rk, !topic, rkt, &md, KAFKA_TIMEOUT_MS);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    for (int i = 0; !code && i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        bool wanted =
            topic || (!internal_topic(t->topic) && g_regex_match(ks->pattern, t->topic, 0, NULL));
        /* A matching topic the cluster cannot tell about now is asked again, not taken as
         * gone. */
        if (wanted && t->err && (topic || retriable(t->err)))
            code = t->err;
        else if (wanted && !t->err)
            for (int p = 0; p < t->partition_cnt; p++)
                em__kafka_offsets_set(parts, t->topic, t->partitions[p].id, -1);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    return code;
}

static bool topic_partitions(kafka_stream *ks, const char *topic, GArray *parts, GError **err)
{
    rd_kafka_resp_err_t code = try_topic_partitions(ks, topic, parts);
    for (int i = 0; i < FETCH_OFFSET_RETRIES && retriable(code); i++) {
        g_usleep(FETCH_OFFSET_RETRY_INTERVAL_MS * 1000);
        code = try_topic_partitions(ks, topic, parts);
    }
    if (code) {
        g_autofree char *what =
            topic ? g_strdup_printf("topic %s", topic)
                  : g_strdup_printf("topics matching %s", g_regex_get_pattern(ks->pattern));
        return kafka_error(err, ks, what, code);
    }
    return true;
}

/* The partitions the strategy reads now, sorted (offsets -1). */
static GArray *partitions_now(kafka_stream *ks, GError **err)
{
    GArray *parts = em__kafka_offsets_new();
    bool ok = true;
    if (ks->strategy == SUBSCRIBE)
        for (size_t i = 0; ok && ks->topics[i]; i++)
            ok = topic_partitions(ks, ks->topics[i], parts, err);
    else if (ks->strategy == SUBSCRIBE_PATTERN)
        ok = topic_partitions(ks, NULL, parts, err);
    else
        for (guint i = 0; i < ks->assign->len; i++) {
            const em_kafka_tp *tp = &g_array_index(ks->assign, em_kafka_tp, i);
            em__kafka_offsets_set(parts, tp->topic, tp->partition, -1);
        }
    if (!ok)
        g_clear_pointer(&parts, g_array_unref);
    return parts;
}

static bool watermark(kafka_stream *ks, const char *topic, int32_t partition, int64_t *lo,
                      int64_t *hi, GError **err)
{
    rd_kafka_resp_err_t code =
        rd_kafka_query_watermark_offsets(ks->rk, topic, partition, lo, hi, KAFKA_TIMEOUT_MS);
    for (int i = 0; i < FETCH_OFFSET_RETRIES && retriable(code); i++) {
        g_usleep(FETCH_OFFSET_RETRY_INTERVAL_MS * 1000);
        code =
            rd_kafka_query_watermark_offsets(ks->rk, topic, partition, lo, hi, KAFKA_TIMEOUT_MS);
    }
    if (!code)
        return true;
    g_autofree char *what = g_strdup_printf("topic %s partition %d", topic, (int)partition);
    return kafka_error(err, ks, what, code);
}

/* The earliest and latest offsets of every partition in parts. */
static bool watermarks(kafka_stream *ks, const GArray *parts, GArray *low, GArray *high,
                       GError **err)
{
    for (guint i = 0; i < parts->len; i++) {
        const em_kafka_tp *tp = &g_array_index(parts, em_kafka_tp, i);
        int64_t lo = 0, hi = 0;
        if (!watermark(ks, tp->topic, tp->partition, &lo, &hi, err))
            return false;
        em__kafka_offsets_set(low, tp->topic, tp->partition, lo);
        em__kafka_offsets_set(high, tp->topic, tp->partition, hi);
    }
    return true;
}

/* "Set(t-0, t-1)", as Scala prints a set of TopicPartitions. */
static char *tp_set(const GArray *tps)
{
    g_autofree char *list = em__kafka_tp_list(tps);
    return g_strdup_printf("Set(%s)", list);
}

/* startingOffsets given per partition: every partition there is, -2 and -1 resolved (Spark's
 * KafkaOffsetReader.fetchSpecificOffsets). */
static GArray *specific_offsets(const GArray *given, const char *option, const GArray *low,
                                const GArray *high, GError **err)
{
    bool same = given->len == high->len;
    for (guint i = 0; same && i < high->len; i++) {
        const em_kafka_tp *tp = &g_array_index(high, em_kafka_tp, i);
        same = em__kafka_offsets_get(given, tp->topic, tp->partition, NULL);
    }
    if (!same) {
        g_autofree char *specified = tp_set(given);
        g_autofree char *assigned = tp_set(high);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "If %s contains specific offsets, you must specify all "
                    "TopicPartitions.\nUse -1 for latest, -2 for earliest.\nSpecified: %s "
                    "Assigned: %s",
                    option, specified, assigned);
        return NULL;
    }
    GArray *offsets = em__kafka_offsets_copy(given);
    for (guint i = 0; i < offsets->len; i++) {
        em_kafka_tp *tp = &g_array_index(offsets, em_kafka_tp, i);
        if (tp->offset == -2 || tp->offset == -1)
            em__kafka_offsets_get(tp->offset == -2 ? low : high, tp->topic, tp->partition,
                                  &tp->offset);
    }
    return offsets;
}

/* The starting offsets: logged (sources/0/0, "v1\n" and the offsets, as Spark's
 * KafkaSourceInitialOffsetWriter) the first time they are known. */
static bool initial_offsets(kafka_stream *ks, const GArray *low, const GArray *high, GError **err)
{
    if (ks->initial)
        return true;
    g_autoptr(GArray) offsets =
        ks->starting ? specific_offsets(ks->starting, "startingOffsets", low, high, err)
                     : em__kafka_offsets_copy(ks->earliest ? low : high);
    if (!offsets)
        return false;
    ks->initial = em__kafka_offsets_json(offsets);
    if (!ks->log_dir)
        return true;
    g_autofree char *path = g_build_filename(ks->log_dir, "0", NULL);
    g_autofree char *text = g_strconcat("v1\n", ks->initial, NULL);
    return em__write_file_atomic(path, text, strlen(text), false, err);
}

/* Where the next batch starts: start (NULL: the starting offsets), partitions new since then
 * from their earliest offset; partitions gone are data loss. */
static GArray *next_from(kafka_stream *ks, const char *start, const GArray *low,
                         const GArray *high, GError **err)
{
    GArray *from = em__kafka_offsets_parse(start ? start : ks->initial, EM_ERROR_CORRUPT, err);
    if (!from)
        return NULL;
    g_autoptr(GArray) gone = em__kafka_offsets_new();
    for (guint i = 0; i < from->len; i++) {
        const em_kafka_tp *tp = &g_array_index(from, em_kafka_tp, i);
        if (!em__kafka_offsets_get(high, tp->topic, tp->partition, NULL))
            em__kafka_offsets_set(gone, tp->topic, tp->partition, tp->offset);
    }
    if (gone->len) {
        g_autofree char *set = tp_set(gone);
        if (!data_loss(ks, err, "%s are gone. Some data may have been missed.", set)) {
            g_array_unref(from);
            return NULL;
        }
    }
    for (guint i = 0; i < low->len; i++) {
        const em_kafka_tp *tp = &g_array_index(low, em_kafka_tp, i);
        if (!em__kafka_offsets_get(from, tp->topic, tp->partition, NULL))
            em__kafka_offsets_set(from, tp->topic, tp->partition, tp->offset);
    }
    return from;
}

static bool kafka_latest(em__offset_stream *os, em_time t, const char *start, char **end,
                         char **available, GError **err)
{
    (void)t;
    kafka_stream *ks = (kafka_stream *)os;
    g_autoptr(GArray) parts = partitions_now(ks, err);
    if (!parts)
        return false;
    g_autoptr(GArray) low = em__kafka_offsets_new();
    g_autoptr(GArray) high = em__kafka_offsets_new();
    if (!watermarks(ks, parts, low, high, err) || !initial_offsets(ks, low, high, err))
        return false;
    g_autoptr(GArray) from = next_from(ks, start, low, high, err);
    if (!from)
        return false;
    g_autoptr(GArray) limited =
        ks->max_offsets ? em__kafka_rate_limit(ks->max_offsets, from, high) : NULL;
    *end = em__kafka_offsets_json(limited ? limited : high);
    *available = em__kafka_offsets_json(high); /* latestOffset: what is there, unlimited */
    return true;
}

/* ---- Reading a batch's ranges ---- */

typedef struct {
    const char *topic; /* interned */
    int32_t partition;
    int64_t from, until;
    int64_t next; /* the next offset the range wants */
    bool done;
} tp_range;

static em_value bytes_value(const void *p, size_t n, em_arena *arena)
{
    return p ? em_str_dup_in(arena, p, n) : em_null();
}

static em_value message_row(const rd_kafka_message_t *m, em_arena *arena)
{
    rd_kafka_timestamp_type_t type;
    int64_t ms = rd_kafka_message_timestamp(m, &type);
    const char *topic = rd_kafka_topic_name(m->rkt);
    em_value fields[7] = {
        bytes_value(m->key, m->key_len, arena),
        bytes_value(m->payload, m->len, arena),
        em_str_dup_in(arena, topic, strlen(topic)),
        em_int(m->partition),
        em_int(m->offset),
        ms >= 0 ? em_int(ms * 1000) : em_null(),
        em_int(type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 1 : 0),
    };
    return em_row_in(arena, fields, 7);
}

/* Assigns the ranges still open, each at the offset it wants next. */
static bool assign_open(kafka_stream *ks, tp_range *ranges, size_t n, size_t *open, GError **err)
{
    rd_kafka_assign(ks->rk, NULL);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    *open = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ranges[i].done && ranges[i].next >= ranges[i].until)
            ranges[i].done = true;
        if (ranges[i].done)
            continue;
        rd_kafka_topic_partition_list_add(list, ranges[i].topic, ranges[i].partition)->offset =
            ranges[i].next;
        (*open)++;
    }
    rd_kafka_resp_err_t code = *open ? rd_kafka_assign(ks->rk, list) : 0;
    rd_kafka_topic_partition_list_destroy(list);
    return code ? kafka_error(err, ks, "assign", code) : true;
}

/* r's next offset is no longer in its partition (deleted, or aged out): Spark's
 * KafkaDataConsumer fails, or warns and goes on from the earliest offset there is. */
static bool offset_lost(kafka_stream *ks, tp_range *r, GError **err)
{
    if (ks->fail_on_data_loss) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO,
                    "Cannot fetch offset %" PRId64 " (GroupId: %s, TopicPartition: %s-%d). %s",
                    r->next, ks->group, r->topic, (int)r->partition, DATA_LOSS_FAIL);
        return false;
    }
    int64_t lo = 0, hi = 0;
    if (!watermark(ks, r->topic, r->partition, &lo, &hi, err))
        return false;
    int64_t skip_to = r->next >= hi || lo >= r->until ? r->until : lo;
    g_warning("%s: Cannot fetch offset %" PRId64 ": the current available offset range is "
              "AvailableOffsetRange(%" PRId64 ",%" PRId64 "). Offset %" PRId64
              " is out of range, and records in [%" PRId64 ", %" PRId64 ") will be skipped "
              "(GroupId: %s, TopicPartition: %s-%d). %s",
              ks->what, r->next, lo, hi, r->next, r->next, skip_to, ks->group, r->topic,
              (int)r->partition, DATA_LOSS_WARN);
    r->next = MAX(r->next, skip_to);
    return true;
}

static tp_range *range_of(tp_range *ranges, size_t n, const rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    for (size_t i = 0; i < n; i++)
        if (ranges[i].partition == m->partition && strcmp(ranges[i].topic, topic) == 0)
            return &ranges[i];
    return NULL;
}

/* One message for its range: a row, the range's end, or lost offsets. Sets *reassign when the
 * partitions must be assigned again (librdkafka stops fetching after an offset reset). */
static bool take_message(kafka_stream *ks, tp_range *r, const rd_kafka_message_t *m, GArray *rows,
                         em_arena *arena, bool *reassign, GError **err)
{
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        *reassign = true;
        return offset_lost(ks, r, err);
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* The partition's end past the range (transaction markers take offsets no record
         * has). */
        r->done = m->offset >= r->until;
        return true;
    }
    if (m->err) {
        g_autofree char *what = g_strdup_printf("topic %s partition %d", r->topic, r->partition);
        return kafka_error(err, ks, what, m->err);
    }
    if (m->offset >= r->next && m->offset < r->until) {
        em_value row = message_row(m, arena);
        g_array_append_val(rows, row);
        r->next = m->offset + 1;
    }
    r->done = m->offset >= r->until - 1;
    return true;
}

/* Reads each range [from, until) to its end, appending the rows. */
static bool read_ranges(kafka_stream *ks, tp_range *ranges, size_t n, GArray *rows,
                        em_arena *arena, GError **err)
{
    size_t open = 0;
    bool ok = assign_open(ks, ranges, n, &open, err);
    gint64 deadline = g_get_monotonic_time() + (gint64)KAFKA_TIMEOUT_MS * 1000;
    while (ok && open > 0 && g_get_monotonic_time() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ks->rk, 100);
        if (!m)
            continue;
        tp_range *r = range_of(ranges, n, m);
        bool reassign = false, was_done = r && r->done;
        if (r && !r->done)
            ok = take_message(ks, r, m, rows, arena, &reassign, err);
        rd_kafka_message_destroy(m);
        if (ok && reassign)
            ok = assign_open(ks, ranges, n, &open, err);
        else if (r && r->done && !was_done)
            open--;
    }
    rd_kafka_assign(ks->rk, NULL);
    for (size_t i = 0; ok && i < n; i++)
        if (!ranges[i].done) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO,
                        "%s: topic %s partition %d: offsets %" PRId64 " to %" PRId64
                        " were not all read within %d ms",
                        ks->what, ranges[i].topic, ranges[i].partition, ranges[i].from,
                        ranges[i].until, KAFKA_TIMEOUT_MS);
            ok = false;
        }
    return ok;
}

/* The ranges of a batch from start to end (Spark's getOffsetRangesFromResolvedOffsets): a
 * partition new since start from its earliest offset; one whose end is before its start (the
 * topic made again, or startingOffsets past the end) is data loss. */
static GArray *plan_ranges(kafka_stream *ks, const GArray *from, const GArray *until, GError **err)
{
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(tp_range));
    for (guint i = 0; i < until->len; i++) {
        const em_kafka_tp *u = &g_array_index(until, em_kafka_tp, i);
        tp_range r = {.topic = u->topic, .partition = u->partition, .until = u->offset};
        int64_t hi = 0;
        bool ok = em__kafka_offsets_get(from, u->topic, u->partition, &r.from) ||
                  watermark(ks, u->topic, u->partition, &r.from, &hi, err);
        if (ok && r.until < r.from) {
            ok = data_loss(ks, err,
                           "Partition %s-%d's offset was changed from %" PRId64 " to %" PRId64
                           ", some data may have been missed.",
                           u->topic, (int)u->partition, r.from, r.until);
            r.from = r.until;
        }
        if (!ok) {
            g_array_unref(ranges);
            return NULL;
        }
        r.next = r.from;
        g_array_append_val(ranges, r);
    }
    return ranges;
}

static em_rdd *kafka_read(em__offset_stream *os, const char *start, const char *end, GError **err)
{
    kafka_stream *ks = (kafka_stream *)os;
    g_autoptr(GArray) from =
        em__kafka_offsets_parse(start ? start : ks->initial, EM_ERROR_CORRUPT, err);
    g_autoptr(GArray) until = from ? em__kafka_offsets_parse(end, EM_ERROR_CORRUPT, err) : NULL;
    g_autoptr(GArray) ranges = until ? plan_ranges(ks, from, until, err) : NULL;
    if (!ranges)
        return NULL;
    g_autoptr(em_arena) arena = em_arena_new();
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(em_value));
    if (!read_ranges(ks, (tp_range *)ranges->data, ranges->len, rows, arena, err))
        return NULL;
    return em_parallelize(os->base.ssc->sc, (em_value *)rows->data, rows->len,
                          ranges->len ? (int)ranges->len : 1);
}

static bool kafka_attach(em__offset_stream *os, const char *dir, GError **err)
{
    kafka_stream *ks = (kafka_stream *)os;
    ks->log_dir = g_strdup(dir);
    g_autofree char *path = g_build_filename(dir, "0", NULL);
    g_autofree char *text = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return true;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    if (!g_str_has_prefix(text, "v1\n")) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "%s is not the Kafka source's starting offsets (\"v1\" then offsets)", path);
        return false;
    }
    g_autoptr(GArray) check = em__kafka_offsets_parse(text + 3, EM_ERROR_CORRUPT, err);
    if (!check) {
        g_prefix_error(err, "%s: ", path);
        return false;
    }
    g_free(ks->initial);
    ks->initial = g_strdup(text + 3);
    return true;
}

/* Frees what the source holds besides its stream. */
static void kafka_clear(kafka_stream *ks)
{
    if (ks->rk) {
        rd_kafka_consumer_close(ks->rk);
        rd_kafka_destroy(ks->rk);
    }
    g_free(ks->brokers);
    g_free(ks->what);
    g_strfreev(ks->topics);
    if (ks->pattern)
        g_regex_unref(ks->pattern);
    if (ks->assign)
        g_array_unref(ks->assign);
    if (ks->starting)
        g_array_unref(ks->starting);
    g_free(ks->group);
    g_free(ks->initial);
    g_free(ks->log_dir);
}

static void kafka_finalize(em_dstream *ds)
{
    kafka_stream *ks = (kafka_stream *)ds;
    em__offset_stream_finalize(&ks->base);
    kafka_clear(ks);
}

static const em__offset_source_class kafka_class = {
    .base = {.type_name = "KafkaMicroBatchStream",
             .instance_size = sizeof(kafka_stream),
             .compute = em__offset_stream_compute,
             .finalize = kafka_finalize},
    .latest = kafka_latest,
    .read = kafka_read,
    .attach = kafka_attach,
};

/* ---- The options (Spark's KafkaSourceProvider checks and messages) ---- */

/* What the options make of the source, before the stream exists. */
typedef struct {
    char **topics;
    GRegex *pattern;
    GArray *assign;
    GArray *starting;
    bool earliest;
    GArray *ending; /* batch queries: endingOffsets given per partition, or NULL */
    bool batch;     /* spark.read (em_df_load_kafka), not spark.readStream */
    char *description;
} source_plan;

static void source_plan_clear(source_plan *sp)
{
    g_strfreev(sp->topics);
    if (sp->pattern)
        g_regex_unref(sp->pattern);
    if (sp->assign)
        g_array_unref(sp->assign);
    if (sp->starting)
        g_array_unref(sp->starting);
    if (sp->ending)
        g_array_unref(sp->ending);
    g_free(sp->description);
}

#define STRATEGIES "subscribe, subscribePattern, assign"

static bool invalid(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool invalid(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, EM_ERROR, EM_ERROR_INVALID, message);
    return false;
}

static bool plan_subscribe(const char *value, source_plan *sp, GError **err)
{
    g_auto(GStrv) names = g_strsplit(value, ",", -1);
    GPtrArray *topics = g_ptr_array_new();
    for (size_t i = 0; names[i]; i++)
        if (*g_strstrip(names[i]))
            g_ptr_array_add(topics, g_strdup(names[i]));
    g_ptr_array_add(topics, NULL);
    sp->topics = (char **)g_ptr_array_free(topics, FALSE);
    if (!sp->topics[0])
        return invalid(err,
                       "No topics to subscribe to as specified value for option 'subscribe' "
                       "is '%s'",
                       value);
    g_autofree char *list = g_strjoinv(", ", sp->topics);
    sp->description = g_strdup_printf("KafkaV2[Subscribe[%s]]", list);
    return true;
}

static bool plan_pattern(const char *value, source_plan *sp, GError **err)
{
    g_autofree char *trimmed = g_strstrip(g_strdup(value));
    if (!*trimmed)
        return invalid(err,
                       "Pattern to subscribe is empty as specified value for option "
                       "'subscribePattern' is '%s'",
                       value);
    /* Java's Pattern.matcher(topic).matches(): the whole name. */
    g_autofree char *anchored = g_strdup_printf("\\A(?:%s)\\z", trimmed);
    GError *re_err = NULL;
    sp->pattern = g_regex_new(anchored, 0, 0, &re_err);
    if (!sp->pattern) {
        invalid(err, "subscribePattern '%s': %s", trimmed, re_err->message);
        g_error_free(re_err);
        return false;
    }
    sp->description = g_strdup_printf("KafkaV2[SubscribePattern[%s]]", trimmed);
    return true;
}

static bool plan_assign(const char *value, source_plan *sp, GError **err)
{
    const char *v = value;
    while (g_ascii_isspace(*v))
        v++;
    if (*v != '{')
        return invalid(err,
                       "No topicpartitions to assign as specified value for option 'assign' "
                       "is '%s'",
                       value);
    sp->assign = em__kafka_assign_parse(value, err);
    if (!sp->assign)
        return false;
    g_autofree char *list = em__kafka_tp_list(sp->assign);
    sp->description = g_strdup_printf("KafkaV2[Assign[%s]]", list);
    return true;
}

/* endingOffsets of a batch query: "latest" (NULL) or per partition, never earliest. */
static bool plan_ending(const char *value, source_plan *sp, GError **err)
{
    g_autofree char *v = g_ascii_strdown(value ? value : "latest", -1);
    g_strstrip(v);
    if (!strcmp(v, "earliest"))
        return invalid(err, "ending offset can't be earliest for batch queries on Kafka");
    if (!strcmp(v, "latest"))
        return true;
    sp->ending = em__kafka_offsets_parse(value, EM_ERROR_INVALID, err);
    for (guint i = 0; sp->ending && i < sp->ending->len; i++) {
        const em_kafka_tp *tp = &g_array_index(sp->ending, em_kafka_tp, i);
        if (tp->offset == -2)
            return invalid(err,
                           "ending offset for %s-%d can't be earliest for batch queries on Kafka",
                           tp->topic, (int)tp->partition);
        if (tp->offset < -2)
            return invalid(err, "endingOffsets %s: an offset is a position (>= 0) or -1 (latest)",
                           value);
    }
    return sp->ending != NULL;
}

static bool plan_starting(const em_kafka_source_opts *opts, source_plan *sp, GError **err)
{
    if (!opts->starting_offsets) {
        sp->earliest = opts->earliest || sp->batch; /* a batch query's default */
        return true;
    }
    g_autofree char *v = g_ascii_strdown(opts->starting_offsets, -1);
    g_strstrip(v);
    if (opts->earliest && strcmp(v, "earliest") != 0)
        return invalid(err, "startingOffsets '%s' contradicts earliest (give one of them)",
                       opts->starting_offsets);
    if (sp->batch && !strcmp(v, "latest"))
        return invalid(err, "starting offset can't be latest for batch queries on Kafka");
    if (!strcmp(v, "earliest") || !strcmp(v, "latest")) {
        sp->earliest = !strcmp(v, "earliest");
        return true;
    }
    sp->starting = em__kafka_offsets_parse(opts->starting_offsets, EM_ERROR_INVALID, err);
    for (guint i = 0; sp->starting && i < sp->starting->len; i++) {
        const em_kafka_tp *tp = &g_array_index(sp->starting, em_kafka_tp, i);
        if (sp->batch && tp->offset == -1)
            return invalid(err,
                           "startingOffsets for %s-%d can't be latest for batch queries on Kafka",
                           tp->topic, (int)tp->partition);
        if (tp->offset < -2)
            return invalid(err,
                           "startingOffsets %s: an offset is a position (>= 0), -1 "
                           "(latest) or -2 (earliest)",
                           opts->starting_offsets);
    }
    return sp->starting != NULL;
}

static bool plan_source(const em_kafka_source_opts *opts, source_plan *sp, GError **err)
{
    int strategies =
        (opts->subscribe != NULL) + (opts->subscribe_pattern != NULL) + (opts->assign != NULL);
    if (!opts->brokers || !*opts->brokers)
        return invalid(err, "Option 'kafka.bootstrap.servers' must be specified for "
                            "configuring Kafka consumer");
    if (strategies == 0)
        return invalid(err, "One of the following options must be specified for Kafka source: "
                            "" STRATEGIES ". See the docs for more details.");
    if (strategies > 1)
        return invalid(err, "Only one of the following options can be specified for Kafka "
                            "source: " STRATEGIES ". See the docs for more details.");
    if (opts->ending_offsets && !sp->batch)
        return invalid(err, "ending offset not valid in streaming queries");
    if (sp->batch && !plan_ending(opts->ending_offsets, sp, err))
        return false;
    if (opts->max_offsets_per_trigger < 0)
        return invalid(err, "maxOffsetsPerTrigger must be positive (0: no limit), not %" PRId64,
                       opts->max_offsets_per_trigger);
    for (size_t i = 0; opts->params && opts->params[i]; i += 2)
        if (!strcmp(opts->params[i], "auto.offset.reset") ||
            !strcmp(opts->params[i], "enable.auto.commit"))
            return invalid(err,
                           "Kafka option '%s' is not supported: Structured Streaming manages "
                           "which offsets are consumed internally (use startingOffsets)",
                           opts->params[i]);
    if (!plan_starting(opts, sp, err))
        return false;
    return opts->subscribe           ? plan_subscribe(opts->subscribe, sp, err)
           : opts->subscribe_pattern ? plan_pattern(opts->subscribe_pattern, sp, err)
                                     : plan_assign(opts->assign, sp, err);
}

bool em_kafka_source_option(em_kafka_source_opts *opts, const char *name, const char *value,
                            GError **err)
{
    g_return_val_if_fail(opts && name && value, false);
    g_autofree char *key = g_ascii_strdown(name, -1);
    g_autofree char *v = g_ascii_strdown(value, -1);
    g_strstrip(v);
    char *end = NULL;
    if (!strcmp(key, "kafka.bootstrap.servers"))
        opts->brokers = value;
    else if (!strcmp(key, "subscribe"))
        opts->subscribe = value;
    else if (!strcmp(key, "subscribepattern"))
        opts->subscribe_pattern = value;
    else if (!strcmp(key, "assign"))
        opts->assign = value;
    else if (!strcmp(key, "startingoffsets"))
        opts->starting_offsets = value;
    else if (!strcmp(key, "endingoffsets"))
        opts->ending_offsets = value;
    else if (!strcmp(key, "maxoffsetspertrigger")) {
        opts->max_offsets_per_trigger = g_ascii_strtoll(v, &end, 10);
        if (!*v || *end)
            return invalid(err, "Kafka source: maxOffsetsPerTrigger '%s' is not a number", value);
    } else if (!strcmp(key, "failondataloss") && (!strcmp(v, "true") || !strcmp(v, "false")))
        opts->allow_data_loss = !strcmp(v, "false");
    else if (!strcmp(key, "failondataloss"))
        return invalid(err, "Kafka source: failOnDataLoss '%s' is not true or false", value);
    else
        return invalid(err,
                       "Kafka source: option '%s' is not an option of Ember's Kafka "
                       "source (kafka.* properties go in params)",
                       name);
    return true;
}

/* The consumer that reads the batches: assigned, never subscribed, committing nothing; an
 * offset out of range is an error it reports (auto.offset.reset=error), which failOnDataLoss
 * decides about. */
static bool consumer_new(kafka_stream *ks, const char *const *params, GError **err)
{
    const char *const fixed[] = {"bootstrap.servers",
                                 ks->brokers,
                                 "group.id",
                                 ks->group,
                                 "enable.auto.commit",
                                 "false",
                                 "enable.partition.eof",
                                 "true",
                                 "auto.offset.reset",
                                 "error",
                                 NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!em__kafka_conf_set_all(conf, fixed, ks->what, err) ||
        !em__kafka_conf_set_all(conf, params, ks->what, err)) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    em__kafka_conf_set_log(conf);
    char errstr[512];
    ks->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!ks->rk) {
        rd_kafka_conf_destroy(conf);
        return invalid(err, "%s: %s", ks->what, errstr);
    }
    return true;
}

static bool source_setup(kafka_stream *ks, const em_kafka_source_opts *opts, source_plan *sp,
                         GError **err);

em_df *em_df_read_kafka(em_ssc *ssc, const em_kafka_source_opts *opts, GError **err)
{
    g_return_val_if_fail(ssc && opts, NULL);
    source_plan sp = {0};
    if (!plan_source(opts, &sp, err)) {
        g_prefix_error(err, "Kafka source: ");
        source_plan_clear(&sp);
        return NULL;
    }
    em__offset_stream *os = em__offset_stream_new(ssc, &kafka_class, "KafkaV2", sp.description);
    if (!os) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Kafka source: the StreamingContext was started already");
        source_plan_clear(&sp);
        return NULL;
    }
    kafka_stream *ks = (kafka_stream *)os;
    bool ok = source_setup(ks, opts, &sp, err);
    source_plan_clear(&sp);
    if (!ok)
        return NULL; /* the stream stays with the ssc, which frees it */
    g_autoptr(em_schema) schema = em_schema_parse(KAFKA_SCHEMA, NULL);
    return em__df_new(NULL, schema, NULL, &os->base);
}

static bool source_setup(kafka_stream *ks, const em_kafka_source_opts *opts, source_plan *sp,
                         GError **err)
{
    ks->brokers = g_strdup(opts->brokers);
    ks->what = g_strdup_printf("Kafka source %s", opts->brokers);
    ks->strategy = opts->subscribe           ? SUBSCRIBE
                   : opts->subscribe_pattern ? SUBSCRIBE_PATTERN
                                             : ASSIGN;
    ks->topics = g_steal_pointer(&sp->topics);
    ks->pattern = g_steal_pointer(&sp->pattern);
    ks->assign = g_steal_pointer(&sp->assign);
    ks->starting = g_steal_pointer(&sp->starting);
    ks->earliest = sp->earliest;
    ks->max_offsets = opts->max_offsets_per_trigger;
    ks->fail_on_data_loss = !opts->allow_data_loss;
    g_autofree char *uuid = g_uuid_string_random();
    ks->group = g_strdup_printf("spark-kafka-%s-%s", sp->batch ? "relation" : "source", uuid);
    return consumer_new(ks, opts->params, err);
}

/* ---- Batch queries (Spark's KafkaRelation) ---- */

/* The ranges from the starting to the ending offsets of every partition there is now. */
static GArray *batch_ranges(kafka_stream *ks, const GArray *ending, GError **err)
{
    g_autoptr(GArray) parts = partitions_now(ks, err);
    if (!parts)
        return NULL;
    g_autoptr(GArray) low = em__kafka_offsets_new();
    g_autoptr(GArray) high = em__kafka_offsets_new();
    if (!watermarks(ks, parts, low, high, err))
        return NULL;
    g_autoptr(GArray) from =
        ks->starting ? specific_offsets(ks->starting, "startingOffsets", low, high, err)
                     : em__kafka_offsets_copy(low);
    g_autoptr(GArray) until = !from    ? NULL
                              : ending ? specific_offsets(ending, "endingOffsets", low, high, err)
                                       : em__kafka_offsets_copy(high);
    return until ? plan_ranges(ks, from, until, err) : NULL;
}

em_df *em_df_load_kafka(em_context *sc, const em_kafka_source_opts *opts, GError **err)
{
    g_return_val_if_fail(sc && opts, NULL);
    source_plan sp = {.batch = true};
    kafka_stream *ks = g_new0(kafka_stream, 1);
    bool ok = plan_source(opts, &sp, err);
    if (!ok)
        g_prefix_error(err, "Kafka source: ");
    ok = ok && source_setup(ks, opts, &sp, err);
    g_autoptr(GArray) ranges = ok ? batch_ranges(ks, sp.ending, err) : NULL;
    g_autoptr(em_arena) arena = em_arena_new();
    g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_df *df = NULL;
    if (ranges && read_ranges(ks, (tp_range *)ranges->data, ranges->len, rows, arena, err)) {
        em_rdd *rdd = em_parallelize(sc, (em_value *)rows->data, rows->len,
                                     ranges->len ? (int)ranges->len : 1);
        g_autoptr(em_schema) schema = em_schema_parse(KAFKA_SCHEMA, NULL);
        df = em__df_new(NULL, schema, rdd, NULL);
        em_rdd_unref(rdd);
    }
    source_plan_clear(&sp);
    kafka_clear(ks);
    g_free(ks);
    return df;
}
