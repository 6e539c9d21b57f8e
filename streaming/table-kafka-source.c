/* The Kafka source of tables (Spark's KafkaMicroBatchStream, subscribe by topic names): its
 * offsets are the next offset of each partition; a trigger's end is every partition's high
 * watermark then, and a batch reads exactly the records between its start and end offsets, so
 * a batch run again after a restart reads the same records. It reads on the scheduler thread
 * with librdkafka's consumer, assigning partitions (no group, no commits: positions live in
 * the checkpoint, as Spark's). Beside the DStream connector (connectors/input-kafka*.c),
 * which fixes batches by what was fetched by batch time instead. */
#include "table-private.h"

#include <json-glib/json-glib.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_TIMEOUT_MS 30000

typedef struct {
    em__offset_stream base;
    char *brokers;
    char **topics; /* sorted */
    bool earliest;
    rd_kafka_t *rk;
    char *initial; /* the starting offsets (JSON), NULL until known */
    char *log_dir; /* sources/0 with a checkpoint, else NULL */
} kafka_stream;

/* ---- Offsets: topic -> partition -> offset, as Spark's JsonUtils writes them ---- */

static int key_cmp(gconstpointer a, gconstpointer b, gpointer ud)
{
    (void)ud;
    return strcmp(a, b);
}

/* "topic\x1fpartition" -> gint64 *. */
static GTree *offsets_new(void) { return g_tree_new_full(key_cmp, NULL, g_free, g_free); }

/* Keys sort as Spark writes them: by topic, then partition (zero-padded in the key). */
static char *tp_key(const char *topic, int32_t partition)
{
    return g_strdup_printf("%s\x1f%010d", topic, (int)partition);
}

static void offsets_set(GTree *t, const char *topic, int32_t partition, int64_t offset)
{
    gint64 *v = g_new(gint64, 1);
    *v = offset;
    g_tree_replace(t, tp_key(topic, partition), v);
}

static bool offsets_get(GTree *t, const char *topic, int32_t partition, int64_t *offset)
{
    g_autofree char *key = tp_key(topic, partition);
    gint64 *v = g_tree_lookup(t, key);
    if (v)
        *offset = *v;
    return v != NULL;
}

typedef struct {
    GString *out;
    char *topic;
} json_state;

static gboolean json_entry(gpointer key, gpointer value, gpointer ud)
{
    json_state *st = ud;
    const char *sep = strchr(key, '\x1f');
    g_autofree char *topic = g_strndup(key, (gsize)(sep - (const char *)key));
    if (!st->topic || strcmp(st->topic, topic) != 0) {
        g_string_append(st->out, st->topic ? "},\"" : "\"");
        g_string_append(st->out, topic);
        g_string_append(st->out, "\":{");
        g_free(st->topic);
        st->topic = g_strdup(topic);
    } else {
        g_string_append_c(st->out, ',');
    }
    g_string_append_printf(st->out, "\"%d\":%" G_GINT64_FORMAT, atoi(sep + 1), *(gint64 *)value);
    return FALSE;
}

static char *offsets_json(GTree *t)
{
    json_state st = {g_string_new("{"), NULL};
    g_tree_foreach(t, json_entry, &st);
    g_string_append(st.out, st.topic ? "}}" : "}");
    g_free(st.topic);
    return g_string_free(st.out, FALSE);
}

static GTree *offsets_parse(const char *text, GError **err)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root =
        json_parser_load_from_data(parser, text, -1, NULL) ? json_parser_get_root(parser) : NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "offset %s is not Kafka offsets ({\"topic\":{\"0\":5}})", text);
        return NULL;
    }
    GTree *t = offsets_new();
    JsonObject *obj = json_node_get_object(root);
    g_autoptr(GList) topics = json_object_get_members(obj);
    for (GList *l = topics; l; l = l->next) {
        JsonNode *parts = json_object_get_member(obj, l->data);
        if (!JSON_NODE_HOLDS_OBJECT(parts))
            continue;
        JsonObject *po = json_node_get_object(parts);
        g_autoptr(GList) names = json_object_get_members(po);
        for (GList *p = names; p; p = p->next)
            offsets_set(t, l->data, (int32_t)atoi(p->data),
                        json_object_get_int_member(po, p->data));
    }
    return t;
}

/* ---- The consumer ---- */

static bool kafka_error(GError **err, const kafka_stream *ks, const char *what,
                        rd_kafka_resp_err_t code)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "Kafka source %s: %s: %s", ks->brokers, what,
                rd_kafka_err2str(code));
    return false;
}

/* Every partition of the topics with its low and high watermarks. */
static bool watermarks(kafka_stream *ks, GTree *low, GTree *high, GError **err)
{
    for (size_t i = 0; ks->topics[i]; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(ks->rk, ks->topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t code = rd_kafka_metadata(ks->rk, 0, rkt, &md, KAFKA_TIMEOUT_MS);
        rd_kafka_topic_destroy(rkt);
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err)
            code = md->topics[0].err;
        int n = code == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (code) {
            g_autofree char *what = g_strdup_printf("topic %s", ks->topics[i]);
            return kafka_error(err, ks, what, code);
        }
        for (int32_t p = 0; p < n; p++) {
            int64_t lo = 0, hi = 0;
            code = rd_kafka_query_watermark_offsets(ks->rk, ks->topics[i], p, &lo, &hi,
                                                    KAFKA_TIMEOUT_MS);
            if (code) {
                g_autofree char *what = g_strdup_printf("topic %s partition %d", ks->topics[i], p);
                return kafka_error(err, ks, what, code);
            }
            offsets_set(low, ks->topics[i], p, lo);
            offsets_set(high, ks->topics[i], p, hi);
        }
    }
    return true;
}

static bool consumer_new(kafka_stream *ks, const char *const *params, GError **err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *group = g_strdup_printf("spark-kafka-source-%s", uuid);
    const char *fixed[] = {"bootstrap.servers",
                           ks->brokers,
                           "group.id",
                           group,
                           "enable.auto.commit",
                           "false",
                           "enable.partition.eof",
                           "true",
                           "auto.offset.reset",
                           "earliest",
                           NULL};
    for (int pass = 0; pass < 2; pass++) {
        const char *const *kv = pass ? params : fixed;
        for (size_t i = 0; kv && kv[i]; i += 2) {
            if (!kv[i + 1] || rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof errstr) !=
                                  RD_KAFKA_CONF_OK) {
                g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "Kafka source: property %s: %s",
                            kv[i], kv[i + 1] ? errstr : "no value");
                rd_kafka_conf_destroy(conf);
                return false;
            }
        }
    }
    ks->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!ks->rk) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "Kafka source %s: %s", ks->brokers, errstr);
        return false;
    }
    return true;
}

/* The starting offsets: logged (sources/0/0, "v1\n" and the offsets, as Spark's
 * KafkaSourceInitialOffsetWriter) the first time they are known. */
static bool initial_offsets(kafka_stream *ks, GTree *low, GTree *high, GError **err)
{
    if (ks->initial)
        return true;
    ks->initial = offsets_json(ks->earliest ? low : high);
    if (!ks->log_dir)
        return true;
    g_autofree char *path = g_build_filename(ks->log_dir, "0", NULL);
    g_autofree char *text = g_strconcat("v1\n", ks->initial, NULL);
    return em__write_file_atomic(path, text, strlen(text), false, err);
}

static bool kafka_latest(em__offset_stream *os, em_time t, const char *start, char **end,
                         char **available, GError **err)
{
    (void)t;
    (void)start;
    kafka_stream *ks = (kafka_stream *)os;
    g_autoptr(GTree) low = offsets_new();
    g_autoptr(GTree) high = offsets_new();
    if (!watermarks(ks, low, high, err) || !initial_offsets(ks, low, high, err))
        return false;
    *end = offsets_json(high);
    *available = g_strdup(*end);
    return true;
}

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t from, until;
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

/* Reads each range [from, until) to its end, appending the rows. */
static bool read_ranges(kafka_stream *ks, tp_range *ranges, size_t n, GArray *rows,
                        em_arena *arena, GError **err)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].from >= ranges[i].until) {
            ranges[i].done = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(list, ranges[i].topic, ranges[i].partition)->offset =
            ranges[i].from;
        open++;
    }
    rd_kafka_resp_err_t code = open ? rd_kafka_assign(ks->rk, list) : 0;
    rd_kafka_topic_partition_list_destroy(list);
    if (code)
        return kafka_error(err, ks, "assign", code);
    gint64 deadline = g_get_monotonic_time() + (gint64)KAFKA_TIMEOUT_MS * 1000;
    while (open > 0 && g_get_monotonic_time() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ks->rk, 100);
        if (!m)
            continue;
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        for (size_t i = 0; i < n; i++) {
            tp_range *r = &ranges[i];
            if (r->done || r->partition != m->partition || strcmp(r->topic, topic) != 0)
                continue;
            if (!m->err && m->offset >= r->from && m->offset < r->until) {
                em_value row = message_row(m, arena);
                g_array_append_val(rows, row);
            }
            /* The range's last record, or the partition's end past it (transaction markers
             * take offsets no record has). */
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if ((!m->err && m->offset >= r->until - 1) || (eof && m->offset >= r->until)) {
                r->done = true;
                open--;
            } else if (m->err && !eof) {
                code = m->err;
            }
        }
        rd_kafka_message_destroy(m);
        if (code)
            break;
    }
    rd_kafka_assign(ks->rk, NULL);
    if (code)
        return kafka_error(err, ks, "fetch", code);
    for (size_t i = 0; i < n && open; i++)
        if (!ranges[i].done) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO,
                        "Kafka source %s: topic %s partition %d: offsets %" G_GINT64_FORMAT
                        " to %" G_GINT64_FORMAT " were not all read within %d ms",
                        ks->brokers, ranges[i].topic, ranges[i].partition, (gint64)ranges[i].from,
                        (gint64)ranges[i].until, KAFKA_TIMEOUT_MS);
            return false;
        }
    return true;
}

typedef struct {
    GTree *start;
    GArray *ranges;
} range_builder;

static gboolean add_range(gpointer key, gpointer value, gpointer ud)
{
    range_builder *rb = ud;
    const char *sep = strchr(key, '\x1f');
    tp_range r = {.topic = g_strndup(key, (gsize)(sep - (const char *)key)),
                  .partition = (int32_t)atoi(sep + 1),
                  .until = *(gint64 *)value};
    /* A partition new since the start reads from its beginning, as Spark's. */
    if (!offsets_get(rb->start, r.topic, r.partition, &r.from))
        r.from = 0;
    g_array_append_val(rb->ranges, r);
    return FALSE;
}

static em_rdd *kafka_read(em__offset_stream *os, const char *start, const char *end, GError **err)
{
    kafka_stream *ks = (kafka_stream *)os;
    g_autoptr(GTree) from = offsets_parse(start ? start : ks->initial, err);
    g_autoptr(GTree) until = from ? offsets_parse(end, err) : NULL;
    if (!until)
        return NULL;
    range_builder rb = {from, g_array_new(FALSE, FALSE, sizeof(tp_range))};
    g_tree_foreach(until, add_range, &rb);
    g_autoptr(em_arena) arena = em_arena_new();
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em_value));
    bool ok = read_ranges(ks, (tp_range *)rb.ranges->data, rb.ranges->len, rows, arena, err);
    em_rdd *rdd = ok ? em_parallelize(os->base.ssc->sc, (em_value *)rows->data, rows->len,
                                      rb.ranges->len ? (int)rb.ranges->len : 1)
                     : NULL;
    for (guint i = 0; i < rb.ranges->len; i++)
        g_free((char *)g_array_index(rb.ranges, tp_range, i).topic);
    g_array_unref(rb.ranges);
    g_array_unref(rows);
    return rdd;
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
    g_autoptr(GTree) check = offsets_parse(text + 3, err);
    if (!check)
        return false;
    ks->initial = g_strdup(text + 3);
    return true;
}

static void kafka_finalize(em_dstream *ds)
{
    kafka_stream *ks = (kafka_stream *)ds;
    em__offset_stream_finalize(&ks->base);
    if (ks->rk) {
        rd_kafka_consumer_close(ks->rk);
        rd_kafka_destroy(ks->rk);
    }
    g_free(ks->brokers);
    g_strfreev(ks->topics);
    g_free(ks->initial);
    g_free(ks->log_dir);
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

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

em_df *em_df_read_kafka(em_ssc *ssc, const em_kafka_source_opts *opts, GError **err)
{
    g_return_val_if_fail(ssc && opts, NULL);
    if (!opts->brokers || !opts->subscribe || !opts->subscribe[0]) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "Kafka source: %s",
                    !opts->brokers ? "Option 'kafka.bootstrap.servers' must be specified "
                                     "for configuring Kafka consumer"
                                   : "One of the following options must be specified "
                                     "for Kafka source: subscribe, subscribePattern, "
                                     "assign. See the docs for more details.");
        return NULL;
    }
    g_auto(GStrv) topics = g_strsplit(opts->subscribe, ",", -1);
    qsort(topics, g_strv_length(topics), sizeof *topics, by_name);
    g_autofree char *description = g_strdup_printf("KafkaV2[Subscribe[%s]]", opts->subscribe);
    em__offset_stream *os = em__offset_stream_new(ssc, &kafka_class, "KafkaV2", description);
    if (!os) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Kafka source: the StreamingContext was started already");
        return NULL;
    }
    kafka_stream *ks = (kafka_stream *)os;
    ks->brokers = g_strdup(opts->brokers);
    ks->topics = g_steal_pointer(&topics);
    ks->earliest = opts->earliest;
    if (!consumer_new(ks, opts->params, err))
        return NULL; /* the stream stays with the ssc, which frees it */
    g_autoptr(em_schema) schema =
        em_schema_parse("key string, value string, topic string, partition long, offset long, "
                        "timestamp timestamp, timestampType long",
                        NULL);
    return em__df_new(NULL, schema, NULL, &os->base);
}
