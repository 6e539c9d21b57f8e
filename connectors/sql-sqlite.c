/* SQL on tables (connectors): Spark's createOrReplaceTempView and spark.sql on an in-memory
 * SQLite database. A view is the static table's rows inserted in one transaction; a query's
 * rows come back as a static table over a parallelized RDD. */
#include "table-private.h"

#include <sqlite3.h>

struct em_sql {
    em_context *sc; /* borrowed */
    sqlite3 *db;
    GMutex lock; /* one call at a time */
};

em_sql *em_sql_new(em_context *sc, GError **err)
{
    if (!sc) {
        g_set_error_literal(err, EM_ERROR, EM_ERROR_INVALID, "em_sql_new: the context is NULL");
        return NULL;
    }
    sqlite3 *db = NULL;
    int rc =
        sqlite3_open_v2(":memory:", &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot open an in-memory SQLite database: %s",
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    em_sql *sql = g_new0(em_sql, 1);
    sql->sc = sc;
    sql->db = db;
    g_mutex_init(&sql->lock);
    return sql;
}

void em_sql_free(em_sql *sql)
{
    if (!sql)
        return;
    sqlite3_close(sql->db);
    g_mutex_clear(&sql->lock);
    g_free(sql);
}

/* name as an SQL identifier: in double quotes, its quotes doubled. */
static void append_identifier(GString *out, const char *name)
{
    g_string_append_c(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static const char *sql_type(em_col_type type)
{
    switch (type) {
    case EM_COL_STRING: return "TEXT";
    case EM_COL_LONG: return "INTEGER";
    case EM_COL_DOUBLE: return "REAL";
    case EM_COL_BOOLEAN: return "BOOLEAN";
    case EM_COL_TIMESTAMP: return "TIMESTAMP";
    case EM_COL_WINDOW: break; /* a struct: refused by em_sql_create_or_replace_temp_view */
    }
    return "TEXT";
}

/* Runs a statement without rows; false with err naming what (the table) on failure. */
static bool exec(em_sql *sql, const char *statement, const char *what, GError **err)
{
    char *msg = NULL;
    if (sqlite3_exec(sql->db, statement, NULL, NULL, &msg) == SQLITE_OK)
        return true;
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", what, msg ? msg : "SQLite failed");
    sqlite3_free(msg);
    return false;
}

static int bind_field(sqlite3_stmt *insert, int i, em_value v)
{
    switch (em_type_of(v)) {
    case EM_T_INT:
    case EM_T_BOOL: return sqlite3_bind_int64(insert, i, em_as_int(v));
    case EM_T_DOUBLE: return sqlite3_bind_double(insert, i, em_as_double(v));
    case EM_T_STR:
        return sqlite3_bind_text64(insert, i, em_str_ptr(v), em_str_len(v), SQLITE_STATIC,
                                   SQLITE_UTF8);
    default: return sqlite3_bind_null(insert, i);
    }
}

/* Inserts the rows into table name (created already) with one prepared statement. */
static bool insert_rows(em_sql *sql, const em_schema *schema, const em_values *rows,
                        const char *name, const char *what, GError **err)
{
    size_t n_cols = em_schema_n_columns(schema);
    GString *text = g_string_new("INSERT INTO ");
    append_identifier(text, name);
    g_string_append(text, " VALUES (");
    for (size_t c = 0; c < n_cols; c++)
        g_string_append(text, c ? ", ?" : "?");
    g_string_append_c(text, ')');
    sqlite3_stmt *insert = NULL;
    int rc = sqlite3_prepare_v2(sql->db, text->str, -1, &insert, NULL);
    g_string_free(text, TRUE);
    for (size_t r = 0; rc == SQLITE_OK && r < rows->n; r++) {
        for (size_t c = 0; rc == SQLITE_OK && c < n_cols; c++)
            rc = bind_field(insert, (int)c + 1, em_row_get(rows->items[r], c));
        if (rc == SQLITE_OK && (rc = sqlite3_step(insert)) == SQLITE_DONE)
            rc = sqlite3_reset(insert);
    }
    if (rc != SQLITE_OK)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s: %s", what, sqlite3_errmsg(sql->db));
    sqlite3_finalize(insert);
    return rc == SQLITE_OK;
}

bool em_sql_create_or_replace_temp_view(em_sql *sql, const em_df *df, const char *name,
                                        GError **err)
{
    g_return_val_if_fail(sql && df && name, false);
    if (em_df_is_streaming(df)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "createOrReplaceTempView(%s): a streaming table has no rows to query: "
                    "use it inside foreachRDD / foreachBatch",
                    name);
        return false;
    }
    const em_schema *schema = em_df_schema(df);
    for (size_t c = 0; c < em_schema_n_columns(schema); c++) {
        if (em_schema_type(schema, c) == EM_COL_WINDOW) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "createOrReplaceTempView(%s): column %s is a window (a struct), which "
                        "SQLite cannot hold",
                        name, em_schema_name(schema, c));
            return false;
        }
    }
    g_autoptr(em_values) rows = em_df_collect(df, err);
    if (!rows)
        return false;
    char *what = g_strdup_printf("createOrReplaceTempView(%s)", name);
    GString *create = g_string_new("DROP TABLE IF EXISTS ");
    append_identifier(create, name);
    g_string_append(create, "; CREATE TABLE ");
    append_identifier(create, name);
    g_string_append(create, " (");
    for (size_t c = 0; c < em_schema_n_columns(schema); c++) {
        if (c)
            g_string_append(create, ", ");
        append_identifier(create, em_schema_name(schema, c));
        g_string_append_printf(create, " %s", sql_type(em_schema_type(schema, c)));
    }
    g_string_append(create, ");");
    g_mutex_lock(&sql->lock);
    /* One transaction: a failure leaves the previous table as it was. */
    bool ok = exec(sql, "SAVEPOINT em_view", what, err);
    if (ok) {
        ok = exec(sql, create->str, what, err) && insert_rows(sql, schema, rows, name, what, err);
        exec(sql, ok ? "RELEASE em_view" : "ROLLBACK TO em_view; RELEASE em_view", what,
             ok ? err : NULL);
    }
    g_mutex_unlock(&sql->lock);
    g_string_free(create, TRUE);
    g_free(what);
    return ok;
}

/* A result column's type from its declared type (a table column's), or NULL when it has none
 * Ember knows. */
static const em_col_type *declared_type(const char *decl)
{
    static const em_col_type types[] = {EM_COL_STRING, EM_COL_LONG, EM_COL_DOUBLE, EM_COL_BOOLEAN,
                                        EM_COL_TIMESTAMP};
    for (size_t i = 0; decl && i < G_N_ELEMENTS(types); i++)
        if (g_ascii_strcasecmp(decl, sql_type(types[i])) == 0)
            return &types[i];
    return NULL;
}

static em_col_type storage_type(int storage)
{
    return storage == SQLITE_INTEGER ? EM_COL_LONG
           : storage == SQLITE_FLOAT ? EM_COL_DOUBLE
                                     : EM_COL_STRING;
}

/* Column c of the current row as a value of type, in arena. */
static em_value column_value(sqlite3_stmt *q, int c, em_col_type type, em_arena *arena)
{
    if (sqlite3_column_type(q, c) == SQLITE_NULL)
        return em_null();
    switch (type) {
    case EM_COL_LONG:
    case EM_COL_TIMESTAMP: return em_int(sqlite3_column_int64(q, c));
    case EM_COL_DOUBLE: return em_double(sqlite3_column_double(q, c));
    case EM_COL_BOOLEAN: return em_bool(sqlite3_column_int64(q, c) != 0);
    case EM_COL_STRING:
    case EM_COL_WINDOW: break; /* never a result column's type */
    }
    const unsigned char *text = sqlite3_column_text(q, c);
    return em_str_dup_in(arena, text ? (const char *)text : "",
                         (size_t)sqlite3_column_bytes(q, c));
}

em_df *em_sql_query(em_sql *sql, const char *query, GError **err)
{
    g_return_val_if_fail(sql && query, NULL);
    g_mutex_lock(&sql->lock);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(sql->db, query, -1, &q, NULL);
    if (rc == SQLITE_OK && !q) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "no statement in query \"%s\"", query);
        g_mutex_unlock(&sql->lock);
        return NULL;
    }
    int n_cols = rc == SQLITE_OK ? sqlite3_column_count(q) : 0;
    /* A column without a declared type takes its first non-null value's: the rows before it
     * hold nulls only. */
    em_col_type *types = g_new0(em_col_type, MAX(n_cols, 1));
    bool *known = g_new0(bool, MAX(n_cols, 1));
    for (int c = 0; c < n_cols; c++) {
        const em_col_type *t = declared_type(sqlite3_column_decltype(q, c));
        if (t)
            types[c] = *t, known[c] = true;
    }
    em_arena *arena = em_arena_new();
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_value *fields = g_new(em_value, MAX(n_cols, 1));
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        for (int c = 0; c < n_cols; c++) {
            int storage = sqlite3_column_type(q, c);
            if (!known[c] && storage != SQLITE_NULL)
                types[c] = storage_type(storage), known[c] = true;
            fields[c] = column_value(q, c, types[c], arena);
        }
        g_array_append_val(rows, (em_value){0});
        g_array_index(rows, em_value, rows->len - 1) = em_row_in(arena, fields, (size_t)n_cols);
    }
    if (rc != SQLITE_DONE) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "%s in query \"%s\"", sqlite3_errmsg(sql->db),
                    query);
        sqlite3_finalize(q);
        g_mutex_unlock(&sql->lock);
        g_free(fields);
        g_free(types);
        g_free(known);
        g_array_unref(rows);
        em_arena_free(arena);
        return NULL;
    }
    const char **names = g_new(const char *, MAX(n_cols, 1));
    for (int c = 0; c < n_cols; c++)
        names[c] = sqlite3_column_name(q, c);
    em_schema *schema = em__schema_new(names, types, (size_t)n_cols);
    sqlite3_finalize(q);
    g_mutex_unlock(&sql->lock);
    em_rdd *rdd = em_parallelize(sql->sc, (em_value *)rows->data, rows->len, 0);
    em_df *df = em_df_from_rdd(rdd, schema);
    em_rdd_unref(rdd);
    em_schema_unref(schema);
    g_free(names);
    g_free(fields);
    g_free(types);
    g_free(known);
    g_array_unref(rows);
    em_arena_free(arena);
    return df;
}
