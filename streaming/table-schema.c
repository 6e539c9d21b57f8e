/* Schemas and rows of Structured Streaming's tables: column names and Spark SQL types, parsed
 * from Spark's DDL form, and the rows (em_value tuples) read through them. Below the table
 * operations (table-ops.c) and above core's em_value. */
#include "table-private.h"

#include <string.h>

static const struct {
    const char *name;
    em_col_type type;
} type_names[] = {
    {"string", EM_COL_STRING}, {"long", EM_COL_LONG},       {"bigint", EM_COL_LONG},
    {"double", EM_COL_DOUBLE}, {"boolean", EM_COL_BOOLEAN}, {"timestamp", EM_COL_TIMESTAMP},
};

const char *em__col_type_name(em_col_type type)
{
    static const char *const names[] = {"string",    "bigint",
                                        "double",    "boolean",
                                        "timestamp", "struct<start:timestamp,end:timestamp>"};
    return names[type];
}

em_schema *em__schema_new(const char *const *names, const em_col_type *types, size_t n)
{
    em_schema *schema = g_new0(em_schema, 1);
    schema->refs = 1;
    schema->n = n;
    schema->names = g_new0(char *, n + 1);
    schema->types = g_new(em_col_type, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        schema->names[i] = g_strdup(names[i]);
        schema->types[i] = types[i];
    }
    return schema;
}

static bool parse_type(const char *word, em_col_type *type)
{
    for (size_t i = 0; i < G_N_ELEMENTS(type_names); i++) {
        if (g_ascii_strcasecmp(word, type_names[i].name) == 0) {
            *type = type_names[i].type;
            return true;
        }
    }
    return false;
}

/* One "name type" column of the DDL into names/types; false with err naming what is wrong. */
static bool parse_column(const char *text, GPtrArray *names, GArray *types, GError **err)
{
    g_auto(GStrv) words = g_strsplit_set(g_strstrip((char *)text), " \t", -1);
    const char *parts[2] = {NULL, NULL};
    size_t n = 0;
    for (char **w = words; *w; w++) {
        if (**w == '\0')
            continue;
        if (n == 2) {
            n = 3;
            break;
        }
        parts[n++] = *w;
    }
    em_col_type type;
    if (n != 2) {
        g_set_error(err, EM_ERROR, EM_ERROR_PARSE, "schema column '%s' is not '<name> <type>'",
                    text);
        return false;
    }
    if (!parse_type(parts[1], &type)) {
        g_set_error(err, EM_ERROR, EM_ERROR_PARSE,
                    "schema column '%s' has type '%s': use string, long, bigint, double, "
                    "boolean or timestamp",
                    parts[0], parts[1]);
        return false;
    }
    for (guint i = 0; i < names->len; i++) {
        if (strcmp(names->pdata[i], parts[0]) == 0) {
            g_set_error(err, EM_ERROR, EM_ERROR_PARSE, "schema names column '%s' twice", parts[0]);
            return false;
        }
    }
    g_ptr_array_add(names, g_strdup(parts[0]));
    g_array_append_val(types, type);
    return true;
}

em_schema *em_schema_parse(const char *ddl, GError **err)
{
    g_return_val_if_fail(ddl != NULL, NULL);
    g_auto(GStrv) cols = g_strsplit(ddl, ",", -1);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) types = g_array_new(FALSE, FALSE, sizeof(em_col_type));
    for (char **c = cols; *c; c++) {
        if (!parse_column(*c, names, types, err))
            return NULL;
    }
    return em__schema_new((const char *const *)names->pdata, (em_col_type *)types->data,
                          names->len);
}

em_schema *em_schema_ref(em_schema *schema)
{
    g_atomic_int_inc(&schema->refs);
    return schema;
}

void em_schema_unref(em_schema *schema)
{
    if (!schema || !g_atomic_int_dec_and_test(&schema->refs))
        return;
    g_strfreev(schema->names);
    g_free(schema->types);
    g_free(schema);
}

size_t em_schema_n_columns(const em_schema *schema) { return schema->n; }
const char *em_schema_name(const em_schema *schema, size_t i) { return schema->names[i]; }
em_col_type em_schema_type(const em_schema *schema, size_t i) { return schema->types[i]; }

int em_schema_index(const em_schema *schema, const char *name)
{
    for (size_t i = 0; i < schema->n; i++) {
        if (strcmp(schema->names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

char *em_schema_to_ddl(const em_schema *schema)
{
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < schema->n; i++)
        g_string_append_printf(out, "%s%s %s", i ? ", " : "", schema->names[i],
                               em__col_type_name(schema->types[i]));
    return g_string_free(out, FALSE);
}

/* Spark 3.5: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name
 * `x` cannot be resolved. Did you mean one of the following? [`a`, `b`]. Spark orders the
 * suggestions by similarity; Ember lists the columns in schema order. */
void em__schema_unresolved(const em_schema *schema, const char *name, GError **err)
{
    GString *cols = g_string_new(NULL);
    for (size_t i = 0; i < schema->n; i++)
        g_string_append_printf(cols, "%s`%s`", i ? ", " : "", schema->names[i]);
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name "
                "`%s` cannot be resolved. Did you mean one of the following? [%s].",
                name, cols->str);
    g_string_free(cols, TRUE);
}

em_value em_row_in(em_arena *arena, const em_value *fields, size_t n)
{
    /* A tuple of any arity: em_tuple_in() wants two fields, a one-column row has one and the
     * key of a global aggregation none. */
    em_arena *a = arena ? arena : em_scratch();
    em_value *f = n ? em_arena_memdup(a, fields, n * sizeof *f) : em_arena_alloc(a, sizeof *f);
    return (em_value){.type = EM_T_TUPLE, .len = (uint32_t)n, .as.items = f};
}

em_value em_row_get_by_name(em_value row, const em_schema *schema, const char *name)
{
    int i = em_schema_index(schema, name);
    return i < 0 ? em_null() : row.as.items[i];
}

/* yyyy-MM-dd HH:mm:ss[.ffffff] (or with a T), in UTC unless it names its zone. */
static bool parse_timestamp(const char *text, em_value *out)
{
    g_autofree char *iso = g_strdup(text);
    if (strlen(iso) > 10 && iso[10] == ' ')
        iso[10] = 'T';
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, utc);
    if (!dt)
        return false;
    *out = em_int(g_date_time_to_unix(dt) * 1000000 + g_date_time_get_microsecond(dt));
    return true;
}

bool em__field_parse(const char *text, size_t n, em_col_type type, em_arena *arena, em_value *out)
{
    if (n == 0 || (n == 4 && memcmp(text, "null", 4) == 0)) {
        *out = em_null();
        return true;
    }
    if (type == EM_COL_STRING) {
        *out = em_str_dup_in(arena, text, n);
        return true;
    }
    char buf[64];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    char *end = NULL;
    switch (type) {
    case EM_COL_LONG: {
        gint64 i = g_ascii_strtoll(g_strstrip(buf), &end, 10);
        *out = em_int(i);
        return end && *end == '\0' && end != buf;
    }
    case EM_COL_DOUBLE: {
        double d = g_ascii_strtod(g_strstrip(buf), &end);
        *out = em_double(d);
        return end && *end == '\0' && end != buf;
    }
    case EM_COL_BOOLEAN:
        g_strstrip(buf);
        if (g_ascii_strcasecmp(buf, "true") == 0 || g_ascii_strcasecmp(buf, "false") == 0) {
            *out = em_bool(g_ascii_strcasecmp(buf, "true") == 0);
            return true;
        }
        return false;
    case EM_COL_TIMESTAMP: return parse_timestamp(g_strstrip(buf), out);
    case EM_COL_STRING:
    case EM_COL_WINDOW: break; /* made by window(), never parsed */
    }
    return false;
}
