/* Structured Streaming's tables over Ember's RDDs and DStreams: a row is an em_value tuple read
 * through a schema (column names and types), a static table wraps an RDD of rows, a streaming
 * table a DStream of rows. Operations go by column name as Spark's Dataset API does.
 *
 * Ownership: every em_df is the caller's, freed with em_df_free(); it holds its own
 * reference on its RDD (static) and borrows its DStream (owned by the ssc, as every stream).
 * An operation borrows its input table and returns a new one; freeing the input afterwards is
 * fine. Schemas are reference counted (em_schema_ref/unref) and immutable.
 *
 * The type is em_df (Spark's DataFrame, the Dataset of rows): em_table is the engine's own hash
 * table (core/table.h), and a second em_table would collide with it in the library. */
#ifndef EMBER_TABLE_H
#define EMBER_TABLE_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/streaming.h>
#include <ember/value.h>

/* ---- Schemas ---- */

/* Spark SQL's types, as a row holds them: string (EM_T_STR), long (EM_T_INT), double
 * (EM_T_DOUBLE), boolean (EM_T_BOOL), timestamp (EM_T_INT: microseconds since the epoch, as
 * Spark stores it). Any column may hold null. */
typedef enum em_col_type {
    EM_COL_STRING,
    EM_COL_LONG,
    EM_COL_DOUBLE,
    EM_COL_BOOLEAN,
    EM_COL_TIMESTAMP,
    EM_COL_WINDOW, /* struct<start: timestamp, end: timestamp>: a 2-field row (eventtime.h) */
} em_col_type;

typedef struct em_schema em_schema;

/* A schema from Spark's DDL form: "device string, temp double, ts timestamp" (types string,
 * long/bigint, double, boolean, timestamp; case-insensitive). Returns NULL with err
 * (EM_ERROR_PARSE, naming the column or the type) on anything else or a repeated name. The
 * caller owns the reference. */
EM_API em_schema *em_schema_parse(const char *ddl, GError **err);
EM_API em_schema *em_schema_ref(em_schema *schema);
/* Drops a reference; NULL is allowed. */
EM_API void em_schema_unref(em_schema *schema);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_schema, em_schema_unref)
EM_API size_t em_schema_n_columns(const em_schema *schema);
/* Column i's name (owned by the schema) and type. */
EM_API const char *em_schema_name(const em_schema *schema, size_t i);
EM_API em_col_type em_schema_type(const em_schema *schema, size_t i);
/* The index of the column called name (case-sensitive), or -1. */
EM_API int em_schema_index(const em_schema *schema, const char *name);
/* The schema in DDL form ("word string, count long"); g_free() it. */
EM_API char *em_schema_to_ddl(const em_schema *schema);

/* ---- Rows ---- */

/* A row of n fields copied shallowly into arena (em_scratch() when NULL). */
EM_API em_value em_row_in(em_arena *arena, const em_value *fields, size_t n);
/* Field i of a row. */
static inline em_value em_row_get(em_value row, size_t i) { return row.as.items[i]; }
/* The field of the column called name, or null when the schema has no such column. */
EM_API em_value em_row_get_by_name(em_value row, const em_schema *schema, const char *name);

/* ---- Tables ---- */

typedef struct em_df em_df;

/* A static table over an RDD of rows (referenced): each record must be a row of the schema's
 * arity (em_row_in). The schema is referenced. Caller frees the table. */
EM_API em_df *em_df_from_rdd(em_rdd *rdd, em_schema *schema);
/* A streaming table over a DStream of rows (borrowed; owned by its ssc). */
EM_API em_df *em_df_from_dstream(em_dstream *ds, em_schema *schema);
/* A static table of the rows given as text, one row per line, fields separated by commas and
 * parsed by type ("" or "null" is null); for tests and teaching. NULL with err (naming the line
 * and column) when a field does not parse. */
EM_API em_df *em_df_from_text(em_context *sc, em_schema *schema, const char *lines, GError **err);
EM_API void em_df_free(em_df *df);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_df, em_df_free)
EM_API bool em_df_is_streaming(const em_df *df);
/* The schema (borrowed), the RDD of a static table (borrowed; NULL for a streaming one), the
 * DStream of a streaming table (borrowed; NULL for a static one). */
EM_API em_schema *em_df_schema(const em_df *df);
EM_API em_rdd *em_df_rdd(const em_df *df);
EM_API em_dstream *em_df_dstream(const em_df *df);

/* A streaming DataFrame of one string column, "value", one row per record of lines (a
 * DStream of strings, borrowed): what Spark's text and socket sources give. */
EM_API em_df *em_df_from_lines(em_dstream *lines);
/* spark.readStream.format("socket").option("host", host).option("port", port).load(): lines
 * read from host:port (em_socket_text_stream) as a "value" column. */
EM_API em_df *em_df_read_socket(em_ssc *ssc, const char *host, int port);

/* spark.readStream.format("rate").option("rowsPerSecond", n).load(): columns timestamp and
 * value; each second since the ssc's zero time brings rows_per_second rows, values counting from
 * 0, timestamps spread over the second as Spark's (rampUpTime 0). num_partitions 0: the
 * context's parallelism. A rows_per_second <= 0: a critical, NULL. */
EM_API em_df *em_df_read_rate(em_ssc *ssc, int64_t rows_per_second, int num_partitions);

/* The file formats of the file source and sink. */
typedef enum em_file_format {
    EM_FILE_TEXT, /* one string column, "value": a line a row */
    EM_FILE_JSON, /* JSON lines, by the schema (PERMISSIVE, as from_json) */
    EM_FILE_CSV,  /* CSV lines, by the schema (PERMISSIVE, as em_df_from_csv) */
} em_file_format;

typedef struct em_file_source_opts {
    em_file_format format;
    em_schema *schema;         /* json, csv: the rows' schema (referenced); text: ignored */
    int max_files_per_trigger; /* maxFilesPerTrigger; 0: every new file */
    bool latest_first;         /* latestFirst: newest files first (default oldest first) */
} em_file_source_opts;

/* spark.readStream.format(fmt).schema(s).option(...).load(dir): the files that appear in dir
 * (not its subdirectories; names starting with '.' or '_' are skipped), each read once, new
 * ones taken at each trigger ordered by modification time (then name), at most
 * max_files_per_trigger of them. Its offsets are the file log's batches ({"logOffset":N});
 * with a checkpoint the files each batch took are logged under sources/0 as Spark does, so a
 * restarted query neither reads a file again nor skips one. NULL with err (EM_ERROR_INVALID)
 * when json/csv come without a schema, or the directory cannot be made absolute. */
EM_API em_df *em_df_read_files(em_ssc *ssc, const char *dir, const em_file_source_opts *opts,
                               GError **err);
typedef struct em_kafka_source_opts {
    const char *brokers;       /* kafka.bootstrap.servers, required */
    const char *subscribe;     /* the topics, comma-separated, required */
    bool earliest;             /* startingOffsets "earliest" (default "latest", as Spark) */
    const char *const *params; /* more librdkafka consumer properties: name, value, ..., NULL */
} em_kafka_source_opts;

/* spark.readStream.format("kafka").option("subscribe", topics).load(): the records of the
 * topics' partitions as rows of "key string, value string, topic string, partition long,
 * offset long, timestamp timestamp, timestampType long" (Spark's schema, with key and value as
 * strings of their bytes and partition and timestampType as longs; a null key or value is
 * null). Its offsets are Spark's ({"topic":{"0":5,"1":7}}, the next offset to read of each
 * partition): a trigger reads up to each partition's end offset then, so a batch run again
 * after a restart reads exactly its records. The starting offsets are logged in sources/0/0
 * with a checkpoint. NULL with err (EM_ERROR_INVALID) on a missing option or a librdkafka
 * property it refuses; brokers are contacted at the first trigger. */
EM_API em_df *em_df_read_kafka(em_ssc *ssc, const em_kafka_source_opts *opts, GError **err);

/* spark.read.format(fmt).load(path) on a file sink's output: the rows of the files its
 * _spark_metadata log lists (the committed batches only), or, without that log, of every
 * visible file in path. A static table the caller frees; NULL with err (EM_ERROR_IO naming
 * the file) when a file cannot be read. */
EM_API em_df *em_df_read_path(em_context *sc, const char *path, const em_file_source_opts *opts,
                              GError **err);

/* from_json(col, schema) in PERMISSIVE mode: each record's string column col parsed as one JSON
 * object (json-glib) into a row of schema (columns by name; missing ones null, others
 * ignored). As Spark 3.5, a record that is not an object becomes a row of nulls, a field of
 * another type is null in a row that keeps the rest, and either counts in *malformed (when not
 * NULL: a counter owned by the returned table's RDD or DStream, read it with g_atomic_pointer_get;
 * a recomputed batch counts again). NULL with err for an unknown col. */
EM_API em_df *em_df_from_json(const em_df *df, const char *col, em_schema *schema,
                              gsize **malformed, GError **err);
/* The same for CSV lines (fields by position, separated by ','; no quoting yet): missing
 * fields are null and extra ones dropped, as Spark's, and the line counts as malformed. */
EM_API em_df *em_df_from_csv(const em_df *df, const char *col, em_schema *schema,
                             gsize **malformed, GError **err);

/* Functions over rows get the row and the table's schema; they run on executor threads. */
typedef bool (*em_row_pred_fn)(em_value row, const em_schema *schema, void *ud);
typedef em_value (*em_row_fn)(em_value row, const em_schema *schema, void *ud);

/* Operations. Each returns a new table (the caller frees it), or NULL with err
 * (EM_ERROR_INVALID) naming a column that does not exist or has the wrong type, listing the
 * table's columns as Spark's "cannot resolve" does. ud's destroy runs exactly once: when the
 * RDD or DStream using it is freed, or at once on error. */

/* select(cols...): the columns named in cols[0..n), in that order. */
EM_API em_df *em_df_select(const em_df *df, const char *const *cols, size_t n, GError **err);
/* filter(fn): the rows fn accepts. */
EM_API em_df *em_df_filter_full(const em_df *df, em_row_pred_fn fn, void *ud,
                                GDestroyNotify destroy, GError **err);
typedef enum em_cmp_op {
    EM_CMP_EQ,
    EM_CMP_NE,
    EM_CMP_LT,
    EM_CMP_LE,
    EM_CMP_GT,
    EM_CMP_GE
} em_cmp_op;
/* filter(col(name) <op> value): SQL semantics, a null field (or a null value) keeps no row.
 * Longs, timestamps and doubles compare numerically; strings bytewise; value must be of the
 * column's kind (a number for a numeric column, a string for a string one). value's payload is
 * copied. */
EM_API em_df *em_df_filter_cmp(const em_df *df, const char *col, em_cmp_op op, em_value value,
                               GError **err);
/* withColumn(name, fn(row)): every column plus name (replacing a column of that name, in its
 * place) holding fn's result, which must be of type (or null). */
EM_API em_df *em_df_with_column_full(const em_df *df, const char *name, em_col_type type,
                                     em_row_fn fn, void *ud, GDestroyNotify destroy, GError **err);
/* withColumn(name, explode(split(col, sep))): one row per piece of the string column col split
 * at every occurrence of sep (a literal separator, where Spark's is a regular expression; empty
 * pieces kept, as Spark's split with limit -1), the piece in column name. A null col gives no
 * row, as explode of null. */
EM_API em_df *em_df_explode_split(const em_df *df, const char *col, const char *sep,
                                  const char *name, GError **err);

/* Aggregate functions of groupBy().agg(), with Spark's result column names and types:
 * count(1) -> "count" long (rows, nulls included); sum(c) -> "sum(c)" long for a long column,
 * double for a double one; avg(c) -> "avg(c)" double; min(c), max(c) -> "min(c)"/"max(c)" of
 * c's type. Nulls are skipped; a group with no non-null value gives null. */
typedef enum em_agg_fn { EM_AGG_COUNT, EM_AGG_SUM, EM_AGG_AVG, EM_AGG_MIN, EM_AGG_MAX } em_agg_fn;
typedef struct em_agg {
    em_agg_fn fn;
    const char *col; /* ignored for EM_AGG_COUNT */
} em_agg;
/* groupBy(cols[0..n_cols)).agg(aggs[0..n_aggs)): one row per distinct group, the group columns
 * then the aggregates. On a streaming table the aggregation keeps state across batches and
 * the result is only usable through a streaming query (em_query_start). */
EM_API em_df *em_df_group_by_agg(const em_df *df, const char *const *cols, size_t n_cols,
                                 const em_agg *aggs, size_t n_aggs, GError **err);
/* groupBy(cols).count(). */
EM_API em_df *em_df_group_by_count(const em_df *df, const char *const *cols, size_t n_cols,
                                   GError **err);
/* orderBy(cols[0..n)) ascending, nulls first (Spark's default). A static table is sorted by a
 * range shuffle; a streaming one only when it is an aggregation written in complete mode (as
 * Spark), its rows sorted as each batch is written. */
EM_API em_df *em_df_order_by(const em_df *df, const char *const *cols, size_t n, GError **err);
/* Whether the table is the result of an aggregation (output modes depend on it). */
EM_API bool em_df_is_aggregated(const em_df *df);

/* ---- Showing rows ---- */

/* Appends rows[0..n) as Spark's Dataset.showString(num_rows, truncate) prints them: +---+
 * borders, right-aligned cells (left-aligned when truncate is 0), cells longer than truncate
 * cut to truncate-3 characters and "..." (truncate < 4: cut to truncate), then "only showing
 * top N rows" when n > num_rows. Timestamps print in UTC. */
EM_API void em_rows_format(const em_value *rows, size_t n, const em_schema *schema,
                           size_t num_rows, size_t truncate, GString *out);
/* Dataset.show(): the first 20 rows of a static table, truncated at 20 characters, printed to
 * out followed by an empty line (show's println). Returns false with err when computing the
 * rows fails, or for a streaming table ("Queries with streaming sources must be executed with
 * writeStream.start()", as Spark). */
EM_API bool em_df_show_to(const em_df *df, size_t num_rows, size_t truncate, FILE *out,
                          GError **err);
#define em_df_show(df, err) em_df_show_to((df), 20, 20, stdout, (err))
/* The rows of a static table (collect), or NULL with err. */
EM_API em_values *em_df_collect(const em_df *df, GError **err);

/* ---- Streaming queries (Spark's writeStream ... start()) ----
 * A query runs on its DataFrame's StreamingContext: each batch of the ssc is a trigger, and a
 * trigger whose sources brought no new rows runs no batch (as Spark: batch ids count the
 * batches that ran). Callbacks (foreachBatch, listeners) run on the ssc's scheduler thread. */

typedef enum em_output_mode {
    EM_OUTPUT_APPEND,   /* the rows added since the last trigger (no aggregation) */
    EM_OUTPUT_UPDATE,   /* the result rows that changed in this trigger */
    EM_OUTPUT_COMPLETE, /* the whole result table every trigger (aggregations only) */
} em_output_mode;

typedef enum em_trigger_kind {
    EM_TRIGGER_DEFAULT,         /* every batch of the ssc (Spark: as soon as the last ended) */
    EM_TRIGGER_PROCESSING_TIME, /* every interval: must be the ssc's batch interval */
    EM_TRIGGER_ONCE,            /* the first batch with data, then the query stops */
    EM_TRIGGER_AVAILABLE_NOW,   /* batches until one brings no new rows, then it stops */
} em_trigger_kind;

typedef enum em_sink_kind {
    EM_SINK_CONSOLE,       /* Spark's console sink: the Batch: N banner, then show() */
    EM_SINK_MEMORY,        /* rows kept for em_query_memory_rows() (Spark's memory sink) */
    EM_SINK_FOREACH_BATCH, /* foreachBatch(df, batch_id) */
    EM_SINK_FILE,          /* part files under path, committed in path/_spark_metadata */
    EM_SINK_KAFKA,         /* each row to Kafka: its value, key and topic columns */
} em_sink_kind;

typedef struct em_query em_query;

/* foreachBatch: batch is a static DataFrame of the batch's output rows (borrowed, valid during
 * the call). Return false with err set to fail the batch: the query then stops with that
 * error (as Spark). */
typedef bool (*em_foreach_batch_fn)(em_df *batch, int64_t batch_id, void *ud, GError **err);

/* Spark's StreamingQueryListener. progress gets lastProgress's JSON (borrowed); terminated
 * gets the error that stopped the query, or NULL. */
typedef struct em_query_listener {
    void (*started)(em_query *query, void *ud);
    void (*progress)(em_query *query, const char *json, void *ud);
    void (*terminated)(em_query *query, const char *exception, void *ud);
} em_query_listener;

typedef struct em_query_opts {
    em_output_mode mode;
    em_trigger_kind trigger;
    em_duration interval; /* EM_TRIGGER_PROCESSING_TIME */
    em_sink_kind sink;
    const char *name;  /* queryName, or NULL */
    FILE *console_out; /* console: default stdout */
    size_t num_rows;   /* console: rows shown, default 20 */
    bool no_truncate;  /* console: Spark's truncate=false */
    em_foreach_batch_fn foreach_batch;
    void *ud;                          /* foreach_batch's */
    GDestroyNotify destroy;            /* called once on ud, when the ssc is freed or on failure */
    const em_query_listener *listener; /* copied; may be NULL */
    void *listener_ud;
    bool defer_ssc_start; /* do not start the ssc (more queries are added to it) */
    /* checkpointLocation: offsets (with the event-time watermark), commits, the source's log
     * and the stateful operators' state (aggregations, windows and sessions, dropDuplicates),
     * so that a restarted query resumes after its last committed batch (NULL: none). */
    const char *checkpoint_location;
    const char *path;           /* file sink: the output directory */
    em_file_format file_format; /* file sink: json, csv or text (append mode only) */
    /* Kafka sink (Spark's): a string column "value" (required), "key" and "topic" (optional;
     * kafka_topic then names the topic of rows without one). At least once: a batch run
     * again after a restart writes its rows again. */
    const char *kafka_brokers;
    const char *kafka_topic;
    /* Exactly once instead (Ember's, not Spark's): each batch one Kafka transaction that also
     * marks the batch as written, so a batch run again is skipped; needs checkpoint_location
     * and kafka_topic. Readers use isolation.level=read_committed. */
    bool kafka_exactly_once;
} em_query_opts;

/* writeStream.outputMode(mode).trigger(...).format(sink).start(): registers the query on df's
 * ssc and starts the ssc unless opts->defer_ssc_start. Fails (NULL, err) for a static df, a
 * mode the query does not support (Spark's AnalysisException texts: complete mode without an
 * aggregation, append mode on an aggregation without a watermark), a processing-time interval
 * other than the ssc's batch interval, an ssc already started, or when the ssc fails to start.
 * With a checkpoint_location the query takes its id from it, re-runs a batch whose offsets were
 * logged but never committed (same offsets and watermark, the operators' state as after the
 * batch before), then goes on from the next batch id; an unreadable checkpoint, or a state file
 * that is corrupt or another operator's, fails the start naming the file.
 * The caller owns the handle: em_query_unref() it (after em_ssc_free() or before). */
EM_API em_query *em_query_start(const em_df *df, const em_query_opts *opts, GError **err);
EM_API em_query *em_query_ref(em_query *query);
EM_API void em_query_unref(em_query *query);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_query, em_query_unref)
/* The query's id (a UUID, owned by the query) and name (NULL if none). */
EM_API const char *em_query_id(const em_query *query);
EM_API const char *em_query_name(const em_query *query);
/* Batches run so far. */
EM_API int64_t em_query_batches(em_query *query);
/* lastProgress as Spark's JSON, or NULL before the first batch; g_free() it. */
EM_API char *em_query_last_progress(em_query *query);
/* recentProgress: the last 100 progress JSONs, oldest first, NULL-terminated; g_strfreev(). */
EM_API char **em_query_recent_progress(em_query *query);
/* The memory sink's rows now (complete mode: the last batch's table; otherwise every row
 * written so far). The caller frees the copy with em_values_free(); NULL for other sinks. */
EM_API em_values *em_query_memory_rows(em_query *query);
/* Whether the query is still running. */
EM_API bool em_query_is_active(em_query *query);
/* Stops the query (and its ssc: the batch under way finishes). Idempotent. */
EM_API void em_query_stop(em_query *query);
/* Blocks until the query stops. Returns false with err set when a batch failed. */
EM_API bool em_query_await_termination(em_query *query, GError **err);

#endif
