/* What the table files (streaming/table-*.c) share: the em_df and em_schema structs and the
 * helper that applies a row function to a static RDD or a DStream alike. Library and tests
 * only. */
#ifndef EMBER_TABLE_PRIVATE_H
#define EMBER_TABLE_PRIVATE_H

#include "streaming-private.h"

#include <ember/table.h>
#include <json-glib/json-glib.h>

struct em_schema {
    gint refs;
    size_t n;
    char **names;       /* [n], owned */
    em_col_type *types; /* [n] */
};

struct em_df {
    em_schema *schema;  /* a reference */
    em_rdd *rdd;        /* static: a reference; NULL when streaming */
    em_dstream *ds;     /* streaming: borrowed from the ssc; NULL when static */
    em_dstream *source; /* streaming: the input stream the table reads (for input figures) */
    bool aggregated;    /* made by group_by_agg: output modes depend on it */
    char *source_desc;  /* the source's description for progress (owned), NULL: its op */
    /* A streaming aggregation: the mapWithState stream (ds itself, the groups updated in each
     * batch) and its plan, to build the complete-mode stream from the state snapshots. */
    size_t *sort_cols; /* orderBy: the columns, ascending; NULL when unsorted */
    size_t n_sort;
    em_dstream *agg_ds;
    em_dstream *agg_input;        /* the (key, partials) pairs of each batch, in input order */
    struct em_agg_plan *agg_plan; /* a reference */
    /* Event time (table-watermark.c, table-evt-agg.c): the watermark defined upstream (a
     * reference, or NULL), the column carrying it here (the timestamp column or a window of
     * it; NULL when this table has none), and a watermarked aggregation's state (a reference). */
    struct em_watermark *watermark;
    char *event_col;
    char *session_col;        /* a session_window() column here, or NULL */
    struct em_post_ops *post; /* row operations after the watermarked aggregation (a ref) */
    struct em_evt_agg *evt;
};

/* Sorts rows[0..n) in place by df's orderBy columns (a no-op when it has none). */
void em__df_sort_rows(const em_df *df, em_value *rows, size_t n);
/* A streaming aggregation's complete result at every batch: every group in state, finalized
 * into rows of table's schema. NULL with err when table is not the aggregation itself. */
em_dstream *em__df_complete_stream(const em_df *df, GError **err);
/* table-spark-order.c: snapshots (an aggregation's (key, partials) state at every batch) in
 * the order Spark 3.5's complete mode prints them, given input, the batch's (key, partials)
 * pairs in input order, when the context's spark order is on; as they are when it is off.
 * The stream belongs to the ssc; NULL when the streams are not of one ssc. */
em_dstream *em__spark_agg_order(em_dstream *snapshots, em_dstream *input);
struct em_agg_plan *em__agg_plan_ref(struct em_agg_plan *plan);
void em__agg_plan_unref(struct em_agg_plan *plan);

/* A stateful operator's checkpoint hook (below, with the query's checkpoint). */
typedef struct em__state_op em__state_op;

/* ---- Event time (table-watermark.c, table-evt-agg.c, table-window.c, table-join.c) ---- */

struct em_join;

struct em_watermark *em__watermark_ref(struct em_watermark *wm);
void em__watermark_unref(struct em_watermark *wm);
/* Whether the watermark computed at the end of the last batch is ahead of the one that batch
 * used (Spark then runs a batch without data to evict and emit). */
bool em__watermark_advanced(struct em_watermark *wm);
/* At a batch's start: the watermark computed at the end of the previous one becomes current. */
void em__watermark_begin(struct em_watermark *wm);
/* At a batch's end: the batch's event-time figures from its rows at withWatermark (has_data:
 * whether the batch read rows), and the next watermark. False with err when computing fails. */
bool em__watermark_end(struct em_watermark *wm, em_time t, bool has_data, GError **err);
/* The watermarks (ms) for late rows (the previous batch's) and for eviction (this batch's). */
void em__watermark_get(struct em_watermark *wm, int64_t *late_ms, int64_t *evict_ms);
/* Adds progress's "eventTime" member for the last batch. */
void em__watermark_progress(struct em_watermark *wm, JsonBuilder *b);
/* The same with current (ms) as the watermark (a join's global one), and whether the last
 * batch had event times. */
void em__watermark_progress_with(struct em_watermark *wm, int64_t current, JsonBuilder *b);
bool em__watermark_progress_has_stats(struct em_watermark *wm);
/* The watermark the current batch runs with (its eviction watermark), and the one computed at
 * the end of the last batch, which the next starts from (ms). */
int64_t em__watermark_current(struct em_watermark *wm);
int64_t em__watermark_next(struct em_watermark *wm);
/* A restart: the watermark of the last batch run (current_ms) and the one the next batch starts
 * from (next_ms), as the checkpoint logged them. Never moves the watermark back. */
void em__watermark_restore(struct em_watermark *wm, int64_t current_ms, int64_t next_ms);

/* The aggregation of df (which has a watermark on one of cols) over the batch's merged partials
 * (key row, partials), keeping its groups until the watermark passes them. NULL when no group
 * column carries df's watermark (the caller then aggregates without one). Takes no ownership. */
em_df *em__evt_agg_new(const em_df *df, em_dstream *partials, struct em_agg_plan *plan,
                       em_schema *out);
struct em_evt_agg *em__evt_agg_ref(struct em_evt_agg *agg);
void em__evt_agg_unref(struct em_evt_agg *agg);
/* The batch at t: merges the batch's partials into the groups (late ones dropped), evicts what
 * the watermark passed, and returns the rows mode writes (a new reference), or NULL with err. */
em_rdd *em__evt_agg_run(struct em_evt_agg *agg, em_time t, em_output_mode mode, GError **err);
/* Whether the aggregation can be written in mode (Spark's rules for session windows and
 * watermarks); false with err (Spark's message) when not. */
bool em__evt_agg_check_mode(const struct em_evt_agg *agg, em_output_mode mode, GError **err);
/* Adds the aggregation's stateOperators entry for the last batch. */
void em__evt_agg_progress(struct em_evt_agg *agg, JsonBuilder *b);
/* The checkpoint hook of the operator (its groups or sessions, or dropDuplicates' keys). */
em__state_op em__evt_agg_state_op(struct em_evt_agg *agg);

/* Operations over the rows of a watermarked aggregation (select, filter, withColumn after it):
 * kept as a chain the query applies to each batch's rows. kind: 0 map, 1 flatMap, 2 filter;
 * op is freed with destroy when the chain is. Returns the new table (schema out referenced). */
em_df *em__df_post_op(const em_df *df, em_schema *out, int kind, em_map_fn fn, em_filter_fn pred,
                      void *op, GDestroyNotify destroy, const char *name);
struct em_post_ops *em__post_ops_ref(struct em_post_ops *post);
void em__post_ops_unref(struct em_post_ops *post);
/* rdd with the chain applied (a new reference), NULL when rdd is. */
em_rdd *em__post_ops_apply(struct em_post_ops *post, em_rdd *rdd);

/* dropDuplicates' state (table-dedup.c): keys of cols seen; row_time is the row's event-time
 * column (-1: none). */
struct em_dedup *em__dedup_new(const size_t *cols, size_t n_cols, int row_time);
void em__dedup_free(struct em_dedup *d);
/* Appends to out the rows of the batch whose keys are new (late ones dropped and counted when
 * watermarked), then forgets the keys evict_ms passed. */
void em__dedup_run(struct em_dedup *d, const em_values *rows, bool watermarked, int64_t late_ms,
                   int64_t evict_ms, GArray *out, int64_t *dropped, int64_t *updated,
                   int64_t *removed);
void em__dedup_size(const struct em_dedup *d, int64_t *rows, int64_t *bytes);
/* The keys seen, as the checkpoint record name of ck; and back (replacing d's keys), false
 * with err when the record is missing or does not decode. */
void em__dedup_save(const struct em_dedup *d, em_ckpt *ck, const char *name);
bool em__dedup_load(struct em_dedup *d, const em_ckpt *ck, const char *name, GError **err);
/* The streaming table of df's rows deduplicated by dedup (taken over), run by the query. */
em_df *em__evt_dedup_new(const em_df *df, struct em_dedup *dedup);

/* Stream-stream joins (table-join.c), run by the event-time operator: the streaming table over
 * both (the union of the sides' rows, which the ssc computes each batch) whose schema is out,
 * reading source (the left's, described as source_desc) for the query's input figures; join
 * is taken over. */
em_df *em__evt_join_new(em_schema *out, em_dstream *both, em_dstream *source,
                        const char *source_desc, struct em_join *join);
/* The join an event-time operator runs, or NULL. */
struct em_join *em__evt_agg_join(const struct em_evt_agg *agg);
void em__join_free(struct em_join *join);
/* The batch at t: the joined rows (a new reference), or NULL with err. */
em_rdd *em__join_run(struct em_join *join, em_time t, GError **err);
/* Append mode only (Spark's message otherwise). */
bool em__join_check_mode(const struct em_join *join, em_output_mode mode, GError **err);
/* Whether the global watermark moved past the one the last batch used and it cleans state
 * (Spark then runs a batch without data). */
bool em__join_advanced(struct em_join *join);
/* What the right side's source read at t: its rows, and whether it brought new data. */
bool em__join_right_input(struct em_join *join, em_time t, int64_t *rows, bool *has_data,
                          GError **err);
/* Progress: the right source's entry of "sources" (rows: what the batch read from it), the
 * "eventTime" member (the global watermark) and the join's stateOperators entry. */
void em__join_right_source_progress(struct em_join *join, JsonBuilder *b, int64_t rows);
void em__join_event_time_progress(struct em_join *join, JsonBuilder *b);
void em__join_progress(struct em_join *join, JsonBuilder *b);
/* The join's checkpoint hook: both sides' buffers (rows, keys, matched flags), both
 * watermarks and the right source's count offset. */
em__state_op em__join_state_op(struct em_join *join);
/* The right side's offset source (file, Kafka: borrowed), or NULL when it reads another kind. */
struct em__offset_stream *em__join_right_offset_stream(const struct em_join *join);
/* The right source's offset after the batch read last, as JSON for offsets/<id> (g_free it):
 * an offset source's planned end (NULL: none yet), else its count of rows read less one. */
char *em__join_right_offset(struct em_join *join);
/* The global watermark (Spark's multipleWatermarkPolicy min) the next batch runs with: the
 * batchWatermarkMs its offsets log and the nextBatchWatermarkMs a commit logs (0: none). */
int64_t em__join_next_watermark(struct em_join *join);
/* On a restart, each side's watermark from the logged global ones (em__watermark_restore);
 * the state record's per-side watermarks, loaded after, only raise them. */
void em__join_restore_watermark(struct em_join *join, int64_t current_ms, int64_t next_ms);
/* False with err naming op when df is the result of a stream-stream join: op would read
 * the join's inputs rather than its output (only select, filter and withColumn follow it). */
bool em__df_refuse_after_join(const em_df *df, const char *op, GError **err);

/* What table-agg.c's plans give the event-time aggregation. */
size_t em__agg_plan_n_keys(const struct em_agg_plan *plan);
size_t em__agg_plan_key_col(const struct em_agg_plan *plan, size_t i);
em_value em__agg_merge(const struct em_agg_plan *plan, em_value x, em_value y);
em_value em__agg_finalize(const struct em_agg_plan *plan, em_value key, em_value acc);

/* A schema built from names[0..n) and types[0..n) (copied). */
em_schema *em__schema_new(const char *const *names, const em_col_type *types, size_t n);
/* The Spark name of a type: "string", "bigint", "double", "boolean", "timestamp". */
const char *em__col_type_name(em_col_type type);
/* Sets err to Spark's unresolved-column message for name over schema's columns. */
void em__schema_unresolved(const em_schema *schema, const char *name, GError **err);
/* A table like table (static or streaming) with schema (referenced) over rdd or ds. */
em_df *em__df_new(const em_df *like, em_schema *schema, em_rdd *rdd, em_dstream *ds);
/* Formats a cell as Spark's show() does (null, true, 1.5, 2024-01-02 03:04:05.5). */
void em__cell_format(em_value v, em_col_type type, GString *out);

/* Parses text (n bytes) as a field of type into *out (payload in arena); "" and "null" give
 * null. False when the text is not a value of that type. */
bool em__field_parse(const char *text, size_t n, em_col_type type, em_arena *arena, em_value *out);

/* ---- Sources read by offsets (table-offset-source.c): Spark's MicroBatchStream ----
 * An offset is JSON text, as Spark prints and logs it: the rate source's seconds ("5"), the
 * file source's log batch ({"logOffset":5}), Kafka's offsets per partition
 * ({"t":{"0":5}}). A source's stream computes, at each trigger, the rows between the offset
 * the last batch ended at and the newest one available (or, on a restart, the logged end of a
 * batch that did not commit), and remembers that range for the query, which decides whether
 * a batch runs: it does when the end differs from the start. */
typedef struct em__offset_stream em__offset_stream;
typedef struct em__offset_source_class {
    em_dstream_class base;
    /* The end of a batch starting after start (NULL: nothing read yet) at trigger t, into *end
     * (g_malloc'd: at most what admission control lets in; start again, or NULL, when nothing
     * is new) and *available (everything there now, Spark's latestOffset). False with err. */
    bool (*latest)(em__offset_stream *os, em_time t, const char *start, char **end,
                   char **available, GError **err);
    /* The rows of offsets (start, end] as a new RDD (start NULL: from the beginning). */
    em_rdd *(*read)(em__offset_stream *os, const char *start, const char *end, GError **err);
    /* With a checkpoint: takes what the source logged in dir (sources/0), creating it. */
    bool (*attach)(em__offset_stream *os, const char *dir, GError **err);
    bool no_latest_offset; /* progress shows "latestOffset": null (Spark's file source) */
} em__offset_source_class;

struct em__offset_stream {
    em_dstream base;
    char *description; /* the source's toString, as progress shows it */
    char *next_start;  /* where the next batch starts: the last batch's end, NULL none */
    bool replay;       /* a logged batch that did not commit runs first, to replay_end */
    char *replay_end;
    /* The trigger computed last: its time and offsets; fresh when the end moved. */
    em_time planned_t;
    char *planned_start, *planned_end, *planned_available;
    bool planned_fresh;
};

/* An offset source's stream of kind klass (whose base.compute must be
 * em__offset_stream_compute, and whose finalize must call em__offset_stream_finalize) on
 * ssc, described as description (copied). */
em__offset_stream *em__offset_stream_new(em_ssc *ssc, const em__offset_source_class *klass,
                                         const char *op, const char *description);
em_rdd *em__offset_stream_compute(em_dstream *ds, em_time t, GError **err);
void em__offset_stream_finalize(em__offset_stream *os);
/* ds as an offset source's stream, or NULL when it is another kind of stream. */
em__offset_stream *em__offset_stream_of(em_dstream *ds);
static inline const em__offset_source_class *em__offset_class(const em__offset_stream *os)
{
    return (const em__offset_source_class *)os->base.klass;
}
/* A whole-number offset from its text (what follows its prefix, e.g. "{\"logOffset\":"), or
 * false with err naming the text and what it should be. */
bool em__offset_parse_int(const char *text, const char *prefix, const char *suffix, int64_t *out,
                          GError **err);

/* ---- A query's checkpoint (table-checkpoint.c): Spark's checkpointLocation layout ----
 * metadata ({"id":...}), offsets/<batchId> (written before the batch runs: v1, the batch
 * metadata with the watermark it runs with, batchWatermarkMs, and the source offset),
 * commits/<batchId> (after it completed: nextBatchWatermarkMs, the watermark the next batch
 * starts from), sources/0/ (the source's own log) and state/<opId>/0/ (each stateful
 * operator's state after each batch, as Ember checkpoint files named by state version:
 * batchId + 1). */
/* The most sources a query reads: a stream-stream join's two. */
#define EM_LOG_MAX_SOURCES 2

typedef struct em__query_log {
    char *dir;
    char *id;             /* the query's id: kept across restarts */
    int64_t last_offsets; /* the newest batch in offsets/, -1 none */
    int64_t last_commit;  /* the newest batch in commits/, -1 none */
    /* the source offsets logged for last_offsets - 1 and last_offsets, one per source in the
     * query's order (JSON; NULL when absent or logged as Spark's "-": no offset yet) */
    char *offsets[2][EM_LOG_MAX_SOURCES];
    size_t n_sources[2];
    int64_t watermark[2];   /* their batchWatermarkMs (0 when absent) */
    int64_t next_watermark; /* last_commit's nextBatchWatermarkMs (0 when none) */
} em__query_log;

/* One stateful operator's side of the checkpoint: the hook through which the query saves its
 * state after each batch and loads it back on a restart, whatever the operator (window and
 * session aggregates, dropDuplicates, an aggregation without watermark, a stream-stream join).
 * The query numbers its operators 0, 1, ... in the order it lists them (Spark's operatorId:
 * the one nearest the sink first) and keeps operator i's state in state/<i>/0/. */
struct em__state_op {
    const char *name; /* Spark's name for it ("stateStoreSave", "dedupe", ...), static: written
                         as the state files' program, a restore checks it */
    /* Puts the operator's whole state after the batch into ck (records named as it likes);
     * runs on the batch thread between batches. */
    void (*save)(void *op, em_ckpt *ck);
    /* Replaces the operator's state (empty: the query has not started) by ck's; false with err
     * (EM_ERROR_CORRUPT naming the record) when a record is missing or does not decode. */
    bool (*load)(void *op, const em_ckpt *ck, GError **err);
    void *op; /* borrowed: the query keeps the operator alive */
};

/* Opens (creating) the checkpoint at dir: reads metadata (or writes a new id) and finds the
 * newest offsets and commits. NULL with err (EM_ERROR_IO / EM_ERROR_CORRUPT naming the file). */
em__query_log *em__query_log_open(const char *dir, GError **err);
void em__query_log_free(em__query_log *log);
/* Writes offsets/<batch_id> as Spark's OffsetSeqLog does: the v1 header, the batch metadata
 * (watermark_ms the global watermark the batch runs with), then one line per source, the n
 * offsets of offsets in the query's order ("-" for a NULL one: no offset yet). */
bool em__query_log_offsets(em__query_log *log, int64_t batch_id, em_time batch_ms,
                           int64_t watermark_ms, const char *const *offsets, size_t n,
                           bool replace, GError **err);
/* Writes commits/<batch_id> with the watermark the next batch starts from. */
bool em__query_log_commit(em__query_log *log, int64_t batch_id, int64_t next_watermark_ms,
                          GError **err);
/* Writes state version batch_id + 1 of each of ops[0..n) into state/<i>/0. False with err
 * naming the operator and the batch; files of earlier versions stay. */
bool em__query_log_save_state(em__query_log *log, const em__state_op *ops, size_t n,
                              int64_t batch_id, GError **err);
/* Loads state version last_commit + 1 of each of ops[0..n) (nothing when no batch committed).
 * False with err naming the checkpoint, the operator and the file when one is missing,
 * corrupt, or another operator's. */
bool em__query_log_restore_state(em__query_log *log, const em__state_op *ops, size_t n,
                                 GError **err);
/* The hook of a streaming aggregation without watermark: its mapWithState stream agg_ds. */
em__state_op em__agg_state_op(em_dstream *agg_ds);
/* Writes path atomically: a hidden temporary file beside it, fsynced, renamed, the directory
 * fsynced. Refuses (EM_ERROR_INVALID) when path exists and !replace. */
bool em__write_file_atomic(const char *path, const char *text, size_t n, bool replace,
                           GError **err);
/* The names of dir that are whole numbers (or "N.compact"), ascending, as int64s (an empty
 * array when dir is missing). */
GArray *em__log_batch_ids(const char *dir, GError **err);
/* Spark's CompactibleFileStreamLog (the file sink's _spark_metadata): every 10th batch
 * (spark.sql.streaming.fileSink.log.compactInterval) is written as "N.compact" holding the
 * entries of every batch up to it, and readers start from the newest such file. */
#define EM_LOG_COMPACT_INTERVAL 10
#define EM_LOG_COMPACT_SUFFIX ".compact"
static inline bool em__log_is_compaction(int64_t id)
{
    return (id + 1) % EM_LOG_COMPACT_INTERVAL == 0;
}
/* The file of batch id in dir: "N.compact" for a compaction batch that has one, else "N". */
char *em__log_batch_path(const char *dir, int64_t id);
/* The batches a reader of dir goes through: the newest compaction batch and those after it,
 * or all when there is none. */
GArray *em__log_valid_batches(const char *dir, GError **err);

/* ---- Files (table-file-source.c, table-file-sink.c) ---- */

/* A row as Spark's JSON writer prints it ({"a":1,"b":"x"}, nulls left out), or as its CSV
 * writer does (fields separated by commas, quoted when they need it), appended to out. */
void em__row_to_json(em_value row, const em_schema *schema, GString *out);
void em__row_to_csv(em_value row, const em_schema *schema, GString *out);
/* The file sink of a query: path's part files and its _spark_metadata log. */
typedef struct em__file_sink em__file_sink;
em__file_sink *em__file_sink_new(const char *path, em_file_format format, GError **err);
void em__file_sink_free(em__file_sink *sink);
/* FileStreamSink.addBatch: the rows (of schema) of each non-empty partition of rdd (NULL: no
 * rows) into a part file of its own, then the batch's entry in _spark_metadata listing them; a
 * batch already in the log is skipped (a re-run after a restart) without computing rdd. False
 * with err naming the file when a part cannot be written (the log is then left as it was). */
bool em__file_sink_add_batch(em__file_sink *sink, int64_t batch_id, em_rdd *rdd,
                             const em_schema *schema, GError **err);

/* The Kafka sink of a query (connectors/output-kafka-table.c): NULL with err when schema lacks a
 * string "value" column, has a key or topic column that is not a string, or has no topic column
 * and topic is NULL (Spark's messages). exactly_once_id (the query's id, or NULL for at least
 * once) makes each batch a transaction committing the batch's mark. */
typedef struct em__kafka_sink em__kafka_sink;
em__kafka_sink *em__kafka_sink_new(const char *brokers, const char *topic, const em_schema *schema,
                                   const char *exactly_once_id, GError **err);
void em__kafka_sink_free(em__kafka_sink *sink);
/* Writes rows[0..n) and waits until Kafka acknowledged them all. */
bool em__kafka_sink_add_batch(em__kafka_sink *sink, int64_t batch_id, const em_value *rows,
                              size_t n, GError **err);

/* The operations page's registry (ui-queries.c): a query started on ssc (referenced until the
 * ssc is freed), and the same query terminated. */
void em__ui_query_started(em_ssc *ssc, em_query *q);
void em__ui_query_terminated(em_ssc *ssc, em_query *q);

/* Test seam: called at the named points of a batch ("offsets", "sink", "parts", "state",
 * "commit") with the batch id; NULL outside the kill tests. */
extern void (*em__table_fault_hook)(const char *point, int64_t batch_id);
static inline void em__table_fault(const char *point, int64_t batch_id)
{
    if (em__table_fault_hook)
        em__table_fault_hook(point, batch_id);
}

#endif
