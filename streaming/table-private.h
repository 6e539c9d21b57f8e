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
    /* A streaming aggregation: the mapWithState stream (ds itself, the groups updated in each
     * batch) and its plan, to build the complete-mode stream from the state snapshots. */
    size_t *sort_cols; /* orderBy: the columns, ascending; NULL when unsorted */
    size_t n_sort;
    em_dstream *agg_ds;
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
struct em_agg_plan *em__agg_plan_ref(struct em_agg_plan *plan);
void em__agg_plan_unref(struct em_agg_plan *plan);

/* ---- Event time (table-watermark.c, table-evt-agg.c, table-window.c) ---- */

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
/* The streaming table of df's rows deduplicated by dedup (taken over), run by the query. */
em_df *em__evt_dedup_new(const em_df *df, struct em_dedup *dedup);

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

#endif
