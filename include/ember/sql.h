/* SQL on each batch, as Spark's SqlNetworkWordCount runs it (df.createOrReplaceTempView, then
 * spark.sql(query), then show()), on an embedded SQLite database held in memory: a static
 * table (em_df) becomes an SQL table, a query's result becomes a static table again.
 *
 * Types: string columns are TEXT, long INTEGER, double REAL, boolean BOOLEAN (0/1), timestamp
 * TIMESTAMP (microseconds since the epoch). A result column's type is its table column's when
 * it is one, else that of its first non-null value (INTEGER long, REAL double, TEXT or BLOB
 * string); a column of nulls only is a string column. The SQL is SQLite's: close to Spark's
 * for select / where / group by / order by / joins; a result's row order is SQLite's (Spark's
 * hash aggregation orders rows differently and not reproducibly). */
#ifndef EMBER_SQL_H
#define EMBER_SQL_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/table.h>

/* An in-memory SQLite database whose query results are RDDs of sc (Spark's SparkSession).
 * Calls are serialized: any thread may use it, one call at a time. */
typedef struct em_sql em_sql;

/* A new, empty database; NULL with err (EM_ERROR_IO) when SQLite cannot open one. The caller
 * frees it with em_sql_free(). */
EM_API em_sql *em_sql_new(em_context *sc, GError **err);
/* Closes the database. NULL is allowed. */
EM_API void em_sql_free(em_sql *sql);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_sql, em_sql_free)

/* df.createOrReplaceTempView(name): table name (dropped first if it exists) holding the rows of
 * the static table df (computed now), with df's columns and types. Returns false with err
 * (EM_ERROR_INVALID for a streaming df, else the computation's or SQLite's error, naming the
 * table) and leaves the previous table in place. */
EM_API bool em_sql_create_or_replace_temp_view(em_sql *sql, const em_df *df, const char *name,
                                               GError **err);
/* spark.sql(query): a static table (the caller frees it) of the query's result rows, in the
 * order SQLite returns them. NULL with err (EM_ERROR_INVALID, SQLite's message and the query)
 * when the query does not prepare or run. */
EM_API em_df *em_sql_query(em_sql *sql, const char *query, GError **err);

#endif
