/* Rows from text by a schema: JSON lines (json-glib) and CSV, in Spark 3.5's PERMISSIVE mode:
 * a record that does not fit the schema is counted and keeps what fits (Spark's partial
 * results): a field of another type is null, text that is not an object is all nulls. What the
 * file source's json and csv formats and from_json build on. */
#include "table-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
    em_schema *schema;
    int col; /* the string column parsed */
    bool csv;
    gsize malformed; /* atomic (g_atomic_pointer_*) */
} parse_op;

static void parse_op_free(void *p)
{
    parse_op *op = p;
    em_schema_unref(op->schema);
    g_free(op);
}

/* A string column's field as Spark's JacksonParser reads it: a string as itself, any other value
 * as its JSON text (numbers as the JVM prints them, objects and arrays compact). */
static bool json_text(JsonNode *node, em_arena *arena, em_value *out)
{
    g_autoptr(GString) text = g_string_new(NULL);
    if (JSON_NODE_HOLDS_VALUE(node)) {
        GType vt = json_node_get_value_type(node);
        if (vt == G_TYPE_STRING) {
            const char *s = json_node_get_string(node);
            *out = em_str_dup_in(arena, s, strlen(s));
            return true;
        }
        if (vt == G_TYPE_INT64)
            g_string_append_printf(text, "%" G_GINT64_FORMAT, json_node_get_int(node));
        else if (vt == G_TYPE_DOUBLE)
            em_format_double(json_node_get_double(node), text);
        else if (vt == G_TYPE_BOOLEAN)
            g_string_append(text, json_node_get_boolean(node) ? "true" : "false");
        else
            return false;
    } else {
        g_autofree char *json = json_to_string(node, FALSE);
        g_string_append(text, json);
    }
    *out = em_str_dup_in(arena, text->str, text->len);
    return true;
}

static bool json_field(JsonNode *node, em_col_type type, em_arena *arena, em_value *out)
{
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        *out = em_null();
        return true;
    }
    if (type == EM_COL_STRING) /* as Spark: any other JSON value as its text */
        return json_text(node, arena, out);
    if (!JSON_NODE_HOLDS_VALUE(node))
        return false;
    GType vt = json_node_get_value_type(node);
    const char *s;
    switch (type) {
    case EM_COL_STRING: return false; /* handled above */
    case EM_COL_LONG:
        if (vt != G_TYPE_INT64)
            return false;
        *out = em_int(json_node_get_int(node));
        return true;
    case EM_COL_DOUBLE:
        if (vt != G_TYPE_INT64 && vt != G_TYPE_DOUBLE)
            return false;
        *out = em_double(json_node_get_double(node));
        return true;
    case EM_COL_BOOLEAN:
        if (vt != G_TYPE_BOOLEAN)
            return false;
        *out = em_bool(json_node_get_boolean(node));
        return true;
    case EM_COL_TIMESTAMP:
        if (vt == G_TYPE_INT64) { /* as Spark: a number is seconds since the epoch */
            *out = em_int(json_node_get_int(node) * 1000000);
            return true;
        }
        if (vt != G_TYPE_STRING)
            return false;
        s = json_node_get_string(node);
        return em__field_parse(s, strlen(s), type, arena, out);
    case EM_COL_WINDOW: return false; /* made by window(), never read */
    }
    return false;
}

/* One JSON object into fields; false when the text is not an object (all fields null) or a
 * field has another type (that field null, the others kept). Missing fields are null; fields
 * the schema does not name are ignored. */
static bool parse_json(const em_schema *schema, em_value text, em_value *fields)
{
    for (size_t i = 0; i < schema->n; i++)
        fields[i] = em_null();
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, text.as.s, text.len, NULL))
        return false;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return false;
    JsonObject *obj = json_node_get_object(root);
    em_arena *scratch = em_scratch();
    bool fits = true;
    for (size_t i = 0; i < schema->n; i++) {
        JsonNode *node = json_object_get_member(obj, schema->names[i]);
        if (!json_field(node, schema->types[i], scratch, &fields[i])) {
            fields[i] = em_null();
            fits = false;
        }
    }
    return fits;
}

/* One CSV line (no quoting: a field holding the separator is not supported yet) into fields;
 * false when the field count or a field's type does not match. As Spark's UnivocityParser, the
 * fields that fit are kept: missing ones are null, extra ones dropped, a mistyped one null. */
static bool parse_csv(const em_schema *schema, em_value text, em_value *fields)
{
    const char *p = text.as.s, *end = p + text.len;
    em_arena *scratch = em_scratch();
    bool mistyped = false, short_line = false;
    for (size_t i = 0; i < schema->n; i++) {
        if (!p) { /* fewer fields than the schema */
            fields[i] = em_null();
            short_line = true;
            continue;
        }
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (!em__field_parse(p, (size_t)(stop - p), schema->types[i], scratch, &fields[i])) {
            fields[i] = em_null();
            mistyped = true;
        }
        p = comma ? comma + 1 : NULL;
    }
    return !short_line && !p && !mistyped; /* p: fields left over */
}

static em_value parse_row(em_value row, void *ud)
{
    parse_op *op = ud;
    em_value text = row.as.items[op->col];
    em_value *fields = g_newa(em_value, op->schema->n);
    bool fits = false;
    if (em_is_str(text))
        fits =
            op->csv ? parse_csv(op->schema, text, fields) : parse_json(op->schema, text, fields);
    else
        for (size_t i = 0; i < op->schema->n; i++)
            fields[i] = em_null();
    if (!fits)
        g_atomic_pointer_add(&op->malformed, 1);
    return em_row_in(NULL, fields, op->schema->n);
}

static em_df *parse(const em_df *df, const char *col, em_schema *schema, bool csv,
                    gsize **malformed, GError **err)
{
    if (!em__df_refuse_after_join(df, csv ? "from_csv" : "from_json", err))
        return NULL;
    int c = em_schema_index(df->schema, col);
    if (c < 0) {
        em__schema_unresolved(df->schema, col, err);
        return NULL;
    }
    parse_op *op = g_new0(parse_op, 1);
    op->schema = em_schema_ref(schema);
    op->col = c;
    op->csv = csv;
    if (malformed)
        *malformed = &op->malformed;
    g_autoptr(em_rdd) rdd = NULL;
    em_dstream *ds = NULL;
    if (df->rdd)
        rdd = em_rdd_map_full(df->rdd, parse_row, op, parse_op_free, csv ? "csv" : "from_json");
    else
        ds = em_map_full(df->ds, parse_row, op, parse_op_free, csv ? "csv" : "from_json");
    if (!rdd && !ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "from_json could not be applied");
        return NULL;
    }
    return em__df_new(df, schema, rdd, ds);
}

em_df *em_df_from_json(const em_df *df, const char *col, em_schema *schema, gsize **malformed,
                       GError **err)
{
    return parse(df, col, schema, false, malformed, err);
}

em_df *em_df_from_csv(const em_df *df, const char *col, em_schema *schema, gsize **malformed,
                      GError **err)
{
    return parse(df, col, schema, true, malformed, err);
}
