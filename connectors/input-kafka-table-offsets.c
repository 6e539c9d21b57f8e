/* The Kafka table source's offsets (input-kafka-table.c): topic-partitions with an offset each,
 * as Spark's KafkaSourceOffset prints and logs them ({"t":{"0":5,"1":7}}), the assign option's
 * partitions ({"t":[0,1]}) and Spark's maxOffsetsPerTrigger split (KafkaMicroBatchStream's
 * rateLimit). Pure functions over arrays: no broker is contacted here. */
#include "input-kafka-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static int tp_cmp(const char *topic, int32_t partition, const em_kafka_tp *b)
{
    int c = strcmp(topic, b->topic);
    return c ? c : (partition > b->partition) - (partition < b->partition);
}

GArray *em__kafka_offsets_new(void) { return g_array_new(FALSE, FALSE, sizeof(em_kafka_tp)); }

/* The index of topic[partition] in offsets, or where it goes (*found false). */
static guint tp_find(const GArray *offsets, const char *topic, int32_t partition, bool *found)
{
    guint lo = 0, hi = offsets->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int c = tp_cmp(topic, partition, &g_array_index(offsets, em_kafka_tp, mid));
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

void em__kafka_offsets_set(GArray *offsets, const char *topic, int32_t partition, int64_t offset)
{
    bool found;
    guint i = tp_find(offsets, topic, partition, &found);
    if (found) {
        g_array_index(offsets, em_kafka_tp, i).offset = offset;
        return;
    }
    em_kafka_tp tp = {g_intern_string(topic), partition, offset};
    g_array_insert_val(offsets, i, tp);
}

bool em__kafka_offsets_get(const GArray *offsets, const char *topic, int32_t partition,
                           int64_t *out)
{
    bool found;
    guint i = tp_find(offsets, topic, partition, &found);
    if (found && out)
        *out = g_array_index(offsets, em_kafka_tp, i).offset;
    return found;
}

GArray *em__kafka_offsets_copy(const GArray *offsets)
{
    GArray *copy = em__kafka_offsets_new();
    g_array_append_vals(copy, offsets->data, offsets->len);
    return copy;
}

char *em__kafka_offsets_json(const GArray *offsets)
{
    GString *out = g_string_new("{");
    const char *topic = NULL;
    for (guint i = 0; i < offsets->len; i++) {
        const em_kafka_tp *tp = &g_array_index(offsets, em_kafka_tp, i);
        if (tp->topic != topic) /* interned: one pointer per name */
            g_string_append_printf(out, "%s\"%s\":{", topic ? "}," : "", tp->topic);
        else
            g_string_append_c(out, ',');
        topic = tp->topic;
        g_string_append_printf(out, "\"%d\":%" G_GINT64_FORMAT, (int)tp->partition,
                               (gint64)tp->offset);
    }
    g_string_append(out, topic ? "}}" : "}");
    return g_string_free(out, FALSE);
}

static bool whole_number(JsonNode *node, int64_t *out)
{
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        return false;
    *out = json_node_get_int(node);
    return true;
}

static bool partition_number(const char *text, int32_t *out)
{
    char *end = NULL;
    gint64 v = g_ascii_strtoll(text, &end, 10);
    if (!*text || *end || v < 0 || v > G_MAXINT32)
        return false;
    *out = (int32_t)v;
    return true;
}

static JsonObject *json_object_of(JsonParser *parser, const char *text)
{
    if (!text || !json_parser_load_from_data(parser, text, -1, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* Spark's JsonUtils.partitionOffsets: {"t":{"0":5}}, every offset a whole number. */
GArray *em__kafka_offsets_parse(const char *text, int code, GError **err)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj = json_object_of(parser, text);
    GArray *offsets = em__kafka_offsets_new();
    g_autoptr(GList) topics = obj ? json_object_get_members(obj) : NULL;
    bool ok = obj != NULL;
    for (GList *l = topics; ok && l; l = l->next) {
        JsonNode *parts = json_object_get_member(obj, l->data);
        ok = JSON_NODE_HOLDS_OBJECT(parts);
        JsonObject *po = ok ? json_node_get_object(parts) : NULL;
        g_autoptr(GList) names = po ? json_object_get_members(po) : NULL;
        for (GList *p = names; ok && p; p = p->next) {
            int32_t partition = 0;
            int64_t offset = 0;
            ok = partition_number(p->data, &partition) &&
                 whole_number(json_object_get_member(po, p->data), &offset);
            if (ok)
                em__kafka_offsets_set(offsets, l->data, partition, offset);
        }
    }
    if (!ok) {
        g_set_error(err, EM_ERROR, code,
                    "Expected e.g. {\"topicA\":{\"0\":23,\"1\":-1},\"topicB\":{\"0\":-2}}, got %s",
                    text ? text : "null");
        g_array_unref(offsets);
        return NULL;
    }
    return offsets;
}

/* Spark's JsonUtils.partitions: {"t":[0,1]}, in the order given (offsets -1). */
GArray *em__kafka_assign_parse(const char *text, GError **err)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj = json_object_of(parser, text);
    GArray *tps = em__kafka_offsets_new();
    g_autoptr(GList) topics = obj ? json_object_get_members(obj) : NULL;
    bool ok = obj != NULL;
    for (GList *l = topics; ok && l; l = l->next) {
        JsonNode *parts = json_object_get_member(obj, l->data);
        ok = JSON_NODE_HOLDS_ARRAY(parts);
        JsonArray *a = ok ? json_node_get_array(parts) : NULL;
        for (guint i = 0; ok && i < json_array_get_length(a); i++) {
            int64_t p = -1;
            ok = whole_number(json_array_get_element(a, i), &p) && p >= 0 && p <= G_MAXINT32;
            em_kafka_tp tp = {g_intern_string(l->data), (int32_t)p, -1};
            if (ok)
                g_array_append_val(tps, tp);
        }
    }
    if (!ok) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Expected e.g. {\"topicA\":[0,1],\"topicB\":[0,1]}, got %s", text);
        g_array_unref(tps);
        return NULL;
    }
    return tps;
}

char *em__kafka_tp_list(const GArray *tps)
{
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < tps->len; i++) {
        const em_kafka_tp *tp = &g_array_index(tps, em_kafka_tp, i);
        g_string_append_printf(out, "%s%s-%d", i ? ", " : "", tp->topic, (int)tp->partition);
    }
    return g_string_free(out, FALSE);
}

/* KafkaMicroBatchStream.rateLimit, Spark 3.5's arithmetic to the double: each partition with
 * something to read gets limit * (size / total) offsets, floored -- but rounded up when below
 * one ("don't completely starve small topicpartitions") -- and never past its end. */
GArray *em__kafka_rate_limit(int64_t limit, const GArray *from, const GArray *until)
{
    GArray *out = em__kafka_offsets_copy(until);
    double total = 0;
    for (guint i = 0; i < until->len; i++) {
        const em_kafka_tp *u = &g_array_index(until, em_kafka_tp, i);
        int64_t begin;
        if (em__kafka_offsets_get(from, u->topic, u->partition, &begin) && u->offset > begin)
            total += (double)(u->offset - begin);
    }
    if (total < 1)
        return out;
    for (guint i = 0; i < out->len; i++) {
        em_kafka_tp *u = &g_array_index(out, em_kafka_tp, i);
        int64_t begin;
        if (!em__kafka_offsets_get(from, u->topic, u->partition, &begin) || u->offset <= begin)
            continue;
        double prorate = (double)limit * ((double)(u->offset - begin) / total);
        int64_t n = (int64_t)(prorate < 1 ? ceil(prorate) : floor(prorate));
        int64_t off = n > G_MAXINT64 - begin ? G_MAXINT64 : begin + n; /* SPARK-26718 */
        u->offset = MIN(u->offset, off);
    }
    return out;
}
