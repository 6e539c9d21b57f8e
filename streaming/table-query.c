/* Streaming queries over Ember's DataFrames (Spark's StreamingQuery): one output operation on
 * the ssc runs each trigger's micro-batch, writes the result in the query's output mode to its
 * sink (console, memory, foreachBatch) and records the progress Spark reports as JSON. Above the
 * table operations (table-ops.c, table-agg.c), beside the DStream outputs. */
#include "table-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define RECENT_PROGRESS 100 /* spark.sql.streaming.numRecentProgresses */

struct em_query {
    gint refs;
    char *id, *run_id, *name;
    em_ssc *ssc;
    em_schema *schema;
    em_df *sort; /* orderBy of a complete-mode aggregation: its columns, or NULL */
    em_dstream *source;
    em__offset_stream *os;       /* the source when it reads by offsets, else NULL */
    em__offset_stream *right_os; /* a join's right source when it reads by offsets, else NULL */
    char *source_desc;           /* the source's description in progress */
    char *sink_path;             /* the file sink's path (copied) */
    em_dstream *agg_ds;          /* a streaming aggregation's state stream, for its figures */
    em__query_log *log;          /* checkpointLocation, or NULL */
    em__file_sink *file;         /* the file sink, or NULL */
    em__kafka_sink *kafka;       /* the Kafka sink, or NULL */
    int64_t replay_id;           /* the batch a restart runs again (offsets logged), -1 none */
    int64_t rows_read;           /* rows the source gave so far: the offsets of sources that have
                                    none of their own (socket, queue), as Spark's socket source */
    struct em_watermark *wm;     /* withWatermark upstream (a reference), or NULL */
    struct em_evt_agg *evt;      /* a watermarked aggregation (a reference), or NULL */
    struct em_post_ops *post;    /* operations after it (a reference), or NULL */
    GArray *state_ops;           /* em__state_op: the stateful operators, by operator id */
    em_query_opts opts; /* console_out, listener copied; name, listener pointers not kept */
    em_query_listener listener;
    GMutex lock;
    GCond cond;
    int64_t batch_id;     /* the next batch's id */
    em_time last_trigger; /* the previous batch's time, G_MININT64 before the first */
    GQueue progress;      /* char * JSONs, oldest first */
    em_values *memory;    /* memory sink's rows */
    bool active, terminated_posted;
    char *exception;
};

static em_query *query_ref(em_query *q)
{
    g_atomic_int_inc(&q->refs);
    return q;
}

em_query *em_query_ref(em_query *q) { return query_ref(q); }

void em_query_unref(em_query *q)
{
    if (!q || !g_atomic_int_dec_and_test(&q->refs))
        return;
    if (q->opts.destroy)
        q->opts.destroy(q->opts.ud);
    g_free(q->id);
    g_free(q->run_id);
    g_free(q->name);
    g_free(q->exception);
    g_free(q->source_desc);
    g_free(q->sink_path);
    em__query_log_free(q->log);
    em__file_sink_free(q->file);
    em__kafka_sink_free(q->kafka);
    em_schema_unref(q->schema);
    em_df_free(q->sort);
    em__watermark_unref(q->wm);
    em__evt_agg_unref(q->evt);
    em__post_ops_unref(q->post);
    if (q->state_ops)
        g_array_unref(q->state_ops);
    g_queue_clear_full(&q->progress, g_free);
    em_values_free(q->memory);
    g_mutex_clear(&q->lock);
    g_cond_clear(&q->cond);
    g_free(q);
}

static void query_unref(void *p) { em_query_unref(p); }

const char *em_query_id(const em_query *q) { return q->id; }
const char *em_query_run_id(const em_query *q) { return q->run_id; }
const char *em_query_name(const em_query *q) { return q->name; }

char *em_query_exception(em_query *q)
{
    g_mutex_lock(&q->lock);
    char *exception = g_strdup(q->exception);
    g_mutex_unlock(&q->lock);
    return exception;
}

int64_t em_query_batches(em_query *q)
{
    g_mutex_lock(&q->lock);
    int64_t n = q->batch_id;
    g_mutex_unlock(&q->lock);
    return n;
}

char *em_query_last_progress(em_query *q)
{
    g_mutex_lock(&q->lock);
    char *json = g_strdup(g_queue_peek_tail(&q->progress));
    g_mutex_unlock(&q->lock);
    return json;
}

char **em_query_recent_progress(em_query *q)
{
    g_mutex_lock(&q->lock);
    char **all = g_new0(char *, q->progress.length + 1);
    size_t i = 0;
    for (GList *l = q->progress.head; l; l = l->next)
        all[i++] = g_strdup(l->data);
    g_mutex_unlock(&q->lock);
    return all;
}

static em_values *values_copy(const em_value *rows, size_t n)
{
    em_values *copy = g_new0(em_values, 1);
    copy->arena = em_arena_new();
    copy->items = g_new(em_value, n ? n : 1); /* em_values_free() g_free()s items */
    for (size_t i = 0; i < n; i++)
        copy->items[i] = em_value_copy(rows[i], copy->arena);
    copy->n = n;
    return copy;
}

em_values *em_query_memory_rows(em_query *q)
{
    if (q->opts.sink != EM_SINK_MEMORY)
        return NULL;
    g_mutex_lock(&q->lock);
    em_values *copy =
        q->memory ? values_copy(q->memory->items, q->memory->n) : values_copy(NULL, 0);
    g_mutex_unlock(&q->lock);
    return copy;
}

bool em_query_is_active(em_query *q)
{
    g_mutex_lock(&q->lock);
    bool active = q->active && em_ssc_get_state(q->ssc) != EM_SSC_STOPPED;
    g_mutex_unlock(&q->lock);
    return active;
}

/* Marks the query stopped and tells the listener once; exception may be NULL. */
static void terminate(em_query *q, const char *exception)
{
    g_mutex_lock(&q->lock);
    bool post = !q->terminated_posted;
    q->terminated_posted = true;
    q->active = false;
    if (exception && !q->exception)
        q->exception = g_strdup(exception);
    g_cond_broadcast(&q->cond);
    g_mutex_unlock(&q->lock);
    if (post)
        em__ui_query_terminated(q->ssc, q);
    if (post && q->listener.terminated)
        q->listener.terminated(q, exception, q->opts.listener_ud);
}

void em_query_stop(em_query *q)
{
    em_ssc_stop(q->ssc, EM_STOP_DEFAULT);
    terminate(q, NULL);
}

bool em_query_await_termination(em_query *q, GError **err)
{
    GError *ssc_err = NULL;
    bool ok = em_ssc_await_termination(q->ssc, &ssc_err);
    terminate(q, ok ? NULL : ssc_err->message);
    g_mutex_lock(&q->lock);
    if (q->exception && ok) {
        g_set_error(err, EM_ERROR, EM_ERROR_TASK, "%s", q->exception);
        ok = false;
    }
    g_mutex_unlock(&q->lock);
    if (ssc_err)
        g_propagate_error(err, ssc_err);
    return ok;
}

/* ---- Sinks ---- */

/* ConsoleSink.addBatch: the banner, then data.show(numRows, truncate). */
static void console_write(em_query *q, int64_t batch_id, em_values *rows)
{
    GString *text = g_string_new(NULL);
    g_string_append_printf(text,
                           "-------------------------------------------\n"
                           "Batch: %" G_GINT64_FORMAT "\n"
                           "-------------------------------------------\n",
                           (gint64)batch_id);
    em_rows_format(rows->items, rows->n, q->schema, q->opts.num_rows, q->opts.no_truncate ? 0 : 20,
                   text);
    g_string_append_c(text, '\n');
    fwrite(text->str, 1, text->len, q->opts.console_out);
    fflush(q->opts.console_out);
    g_string_free(text, TRUE);
}

/* MemorySink: complete mode replaces the table, the other modes append to it. */
static void memory_write(em_query *q, em_values *rows)
{
    g_mutex_lock(&q->lock);
    if (q->opts.mode == EM_OUTPUT_COMPLETE || !q->memory) {
        em_values_free(q->memory);
        q->memory = values_copy(rows->items, rows->n);
    } else {
        /* The rows join the table's arena: no copy of the rows already there. */
        em_values *mem = q->memory;
        mem->items = g_renew(em_value, mem->items, mem->n + rows->n);
        for (size_t i = 0; i < rows->n; i++)
            mem->items[mem->n + i] = em_value_copy(rows->items[i], mem->arena);
        mem->n += rows->n;
    }
    g_mutex_unlock(&q->lock);
}

static bool foreach_batch_write(em_query *q, int64_t batch_id, em_rdd *rdd, GError **err)
{
    g_autoptr(em_df) batch = em__df_new(NULL, q->schema, rdd, NULL);
    GError *fn_err = NULL;
    if (q->opts.foreach_batch(batch, batch_id, q->opts.ud, &fn_err))
        return true;
    if (!fn_err)
        g_set_error(&fn_err, EM_ERROR, EM_ERROR_TASK, "foreachBatch failed");
    g_propagate_prefixed_error(err, fn_err, "foreachBatch failed in batch %" G_GINT64_FORMAT ": ",
                               (gint64)batch_id);
    return false;
}

/* ---- Progress ---- */

static void add_rate(JsonBuilder *b, const char *name, double rows, double ms)
{
    /* Spark leaves a rate out when it is not a number (no time elapsed). */
    if (ms <= 0)
        return;
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, rows * 1000.0 / ms);
}

static char *iso_time(em_time ms)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(ms / 1000);
    g_autofree char *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    return g_strdup_printf("%s.%03dZ", base, (int)(ms % 1000));
}

typedef struct {
    int64_t batch_id, input_rows, output_rows, trigger_ms, add_batch_ms;
    int64_t right_rows; /* a join's: what its right source read (in input_rows too) */
    em_time t, previous;
    const char *start_offset, *end_offset, *latest_offset; /* JSON, NULL for null */
} batch_figures;

static void add_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void add_state_operators(em_query *q, JsonBuilder *b, const batch_figures *f)
{
    json_builder_set_member_name(b, "stateOperators");
    json_builder_begin_array(b);
    if (q->evt)
        em__evt_agg_progress(q->evt, b);
    if (q->agg_ds) {
        int64_t keys = 0, bytes = 0;
        em_map_with_state_size(q->agg_ds, &keys, &bytes);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "operatorName");
        json_builder_add_string_value(b, "stateStoreSave");
        add_int(b, "numRowsTotal", keys);
        add_int(b, "numRowsUpdated", f->output_rows);
        add_int(b, "memoryUsedBytes", bytes);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* A source offset as JSON (a number or an object), or null. */
static void add_offset(JsonBuilder *b, const char *name, const char *json)
{
    json_builder_set_member_name(b, name);
    JsonNode *node = json ? json_from_string(json, NULL) : NULL;
    if (node)
        json_builder_add_value(b, node);
    else
        json_builder_add_null_value(b);
}

/* StreamingQueryProgress.json, with Spark's member order. Times are the ssc's clock: a
 * batch's trigger time is its batch time. */
static char *progress_json(em_query *q, const batch_figures *f)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, q->id);
    json_builder_set_member_name(b, "runId");
    json_builder_add_string_value(b, q->run_id);
    json_builder_set_member_name(b, "name");
    if (q->name)
        json_builder_add_string_value(b, q->name);
    else
        json_builder_add_null_value(b);
    g_autofree char *ts = iso_time(f->t);
    json_builder_set_member_name(b, "timestamp");
    json_builder_add_string_value(b, ts);
    add_int(b, "batchId", f->batch_id);
    add_int(b, "numInputRows", f->input_rows);
    double since = f->previous == G_MININT64 ? 0 : (double)(f->t - f->previous);
    add_rate(b, "inputRowsPerSecond", (double)f->input_rows, since);
    add_rate(b, "processedRowsPerSecond", (double)f->input_rows, (double)f->trigger_ms);
    json_builder_set_member_name(b, "durationMs");
    json_builder_begin_object(b);
    add_int(b, "addBatch", f->add_batch_ms);
    add_int(b, "triggerExecution", f->trigger_ms);
    json_builder_end_object(b);
    struct em_join *join = em__evt_agg_join(q->evt);
    if (q->wm)
        em__watermark_progress(q->wm, b);
    else if (join)
        em__join_event_time_progress(join, b);
    add_state_operators(q, b, f);
    json_builder_set_member_name(b, "sources");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "description");
    json_builder_add_string_value(b, q->source_desc);
    add_offset(b, "startOffset", f->start_offset);
    add_offset(b, "endOffset", f->end_offset);
    add_offset(b, "latestOffset", f->latest_offset);
    double left_rows = (double)(f->input_rows - f->right_rows);
    add_int(b, "numInputRows", f->input_rows - f->right_rows);
    add_rate(b, "inputRowsPerSecond", left_rows, since);
    add_rate(b, "processedRowsPerSecond", left_rows, (double)f->trigger_ms);
    json_builder_end_object(b);
    if (join) /* a stream-stream join reads a second source */
        em__join_right_source_progress(join, b, f->right_rows);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "sink");
    json_builder_begin_object(b);
    /* Spark's Kafka sink is its KafkaTable, printed with an object hash Ember has not. */
    static const char *const sinks[] = {"ConsoleSink", "MemorySink", "ForeachBatchSink", "",
                                        "org.apache.spark.sql.kafka010.KafkaSourceProvider$"
                                        "KafkaTable"};
    json_builder_set_member_name(b, "description");
    if (q->file) {
        g_autofree char *desc = g_strdup_printf("FileSink[%s]", q->sink_path);
        json_builder_add_string_value(b, desc);
    } else {
        json_builder_add_string_value(b, sinks[q->opts.sink]);
    }
    add_int(b, "numOutputRows", f->output_rows);
    json_builder_end_object(b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

static void record_progress(em_query *q, const batch_figures *f)
{
    char *json = progress_json(q, f);
    g_mutex_lock(&q->lock);
    g_queue_push_tail(&q->progress, json);
    while (q->progress.length > RECENT_PROGRESS)
        g_free(g_queue_pop_head(&q->progress));
    g_mutex_unlock(&q->lock);
    if (q->listener.progress)
        q->listener.progress(q, json, q->opts.listener_ud);
}

/* ---- The micro-batch ---- */

/* What the trigger at t read: its rows and offsets. A source with offsets of its own brings
 * new data when its offsets moved (an empty file still makes a batch, as in Spark); another
 * when it brought rows, its offsets then being the rows read so far less one (Spark's socket
 * source counts lines from -1). */
typedef struct {
    bool has_data;
    int64_t rows;
    int64_t right_rows;         /* a stream-stream join's right source */
    char *start, *end, *latest; /* JSON, NULL for none */
} trigger_input;

static char *count_offset(int64_t rows)
{
    return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)rows - 1);
}

static bool read_input(em_query *q, em_time t, trigger_input *in, GError **err)
{
    em_rdd *rdd = em__dstream_get_or_compute(q->source, t, err); /* borrowed */
    if (!rdd && err && *err)
        return false;
    in->rows = rdd ? em_rdd_count(rdd, err) : 0;
    if (in->rows < 0)
        return false;
    if (q->os) {
        in->has_data = q->os->planned_t == t && q->os->planned_fresh;
        in->start = g_strdup(q->os->planned_start);
        in->end = g_strdup(q->os->planned_end);
        in->latest =
            em__offset_class(q->os)->no_latest_offset ? NULL : g_strdup(q->os->planned_available);
    } else {
        in->has_data = in->rows > 0;
        in->start = q->rows_read > 0 ? count_offset(q->rows_read) : NULL;
        in->end = count_offset(q->rows_read + in->rows);
        in->latest = g_strdup(in->end);
    }
    struct em_join *join = em__evt_agg_join(q->evt);
    bool right_data = false;
    if (join && !em__join_right_input(join, t, &in->right_rows, &right_data, err))
        return false;
    in->has_data = in->has_data || right_data;
    return true;
}

static void trigger_input_clear(trigger_input *in)
{
    g_free(in->start);
    g_free(in->end);
    g_free(in->latest);
}

static bool write_batch(em_query *q, em_rdd *rdd, int64_t batch_id, int64_t *out_rows,
                        GError **err)
{
    if (q->opts.sink == EM_SINK_FOREACH_BATCH) {
        *out_rows = -1; /* Spark does not count foreachBatch's rows */
        return foreach_batch_write(q, batch_id, rdd, err);
    }
    if (q->opts.sink == EM_SINK_FILE) {
        *out_rows = -1; /* Spark does not count the file sink's rows */
        return em__file_sink_add_batch(q->file, batch_id, rdd, q->schema, err);
    }
    g_autoptr(em_values) rows = rdd ? em_rdd_collect(rdd, err) : values_copy(NULL, 0);
    if (!rows)
        return false;
    *out_rows = (int64_t)rows->n;
    if (q->sort)
        em__df_sort_rows(q->sort, rows->items, rows->n);
    if (q->opts.sink == EM_SINK_CONSOLE) {
        console_write(q, batch_id, rows);
    } else if (q->opts.sink == EM_SINK_KAFKA) {
        return em__kafka_sink_add_batch(q->kafka, batch_id, rows->items, rows->n, err);
    } else {
        memory_write(q, rows);
    }
    return true;
}

/* The checkpoint's side of a batch before it runs: each source's offsets and the global
 * watermark, unless a restart runs a logged batch again. */
static bool log_offsets(em_query *q, int64_t batch_id, em_time t, const trigger_input *in,
                        GError **err)
{
    struct em_join *join = em__evt_agg_join(q->evt);
    /* sources that read by offsets read the logged batch again, to its logged ends */
    bool replays = q->os && (!join || q->right_os);
    if (!q->log || (batch_id == q->replay_id && replays))
        return true;
    /* A source without offsets did not read the logged batch again: its new offsets replace
     * the logged ones. A join logs the watermark its batch starts from (the min of its sides':
     * em__join_run begins them), another event-time query the one it began. */
    int64_t watermark = q->wm  ? em__watermark_current(q->wm)
                        : join ? em__join_next_watermark(join)
                               : 0;
    g_autofree char *right = join ? em__join_right_offset(join) : NULL;
    const char *offsets[EM_LOG_MAX_SOURCES] = {in->end, right};
    return em__query_log_offsets(q->log, batch_id, t, watermark, offsets, join ? 2 : 1,
                                 batch_id == q->replay_id, err);
}

/* ... and after it ran: the operators' state, then the commit with the next watermark. */
static bool log_commit(em_query *q, int64_t batch_id, GError **err)
{
    if (!q->log)
        return true;
    if (!em__query_log_save_state(q->log, (const em__state_op *)q->state_ops->data,
                                  q->state_ops->len, batch_id, err))
        return false;
    em__table_fault("state", batch_id);
    struct em_join *join = em__evt_agg_join(q->evt);
    int64_t next = q->wm ? em__watermark_next(q->wm) : join ? em__join_next_watermark(join) : 0;
    return em__query_log_commit(q->log, batch_id, next, err);
}

static void fail_query(em_query *q, GError **err)
{
    em_ssc_stop(q->ssc, EM_STOP_DEFAULT);
    terminate(q, (*err)->message);
}

static bool run_batch(em_output_op *op, em_rdd *rdd, em_time t, GError **err)
{
    em_query *q = op->ud;
    if (!em_query_is_active(q))
        return true;
    int64_t start = em__now_ms();
    trigger_input in = {0};
    if (!read_input(q, t, &in, err)) {
        trigger_input_clear(&in);
        fail_query(q, err);
        return false;
    }
    /* Spark runs a batch without data when the watermark moved, to evict and emit */
    struct em_join *join = em__evt_agg_join(q->evt);
    bool evict_batch = !in.has_data && q->batch_id > 0 && q->evt &&
                       q->opts.mode != EM_OUTPUT_COMPLETE &&
                       (q->wm ? em__watermark_advanced(q->wm) : join && em__join_advanced(join));
    if (!in.has_data && !evict_batch) {
        if (q->opts.trigger == EM_TRIGGER_AVAILABLE_NOW && q->batch_id > 0) {
            em_ssc_stop(q->ssc, EM_STOP_DEFAULT);
            terminate(q, NULL);
        }
        trigger_input_clear(&in);
        return true;
    }
    int64_t id = q->batch_id;
    batch_figures f = {.batch_id = id,
                       .input_rows = in.rows + in.right_rows,
                       .right_rows = in.right_rows,
                       .t = t,
                       .previous = q->last_trigger,
                       /* Spark's first batch starts at null: nothing was committed */
                       .start_offset = in.start,
                       .end_offset = in.end,
                       .latest_offset = in.latest};
    /* the watermark this batch runs with, logged with its offsets */
    if (q->wm)
        em__watermark_begin(q->wm);
    bool ok = log_offsets(q, id, t, &in, err);
    em__table_fault("offsets", id);
    int64_t add_start = em__now_ms();
    g_autoptr(em_rdd) evt_rows = NULL;
    g_autoptr(em_rdd) post_rows = NULL;
    if (ok && q->evt && !(rdd = evt_rows = em__evt_agg_run(q->evt, t, q->opts.mode, err)))
        ok = false;
    if (ok && q->post && (post_rows = em__post_ops_apply(q->post, rdd)))
        rdd = post_rows;
    ok = ok && write_batch(q, rdd, id, &f.output_rows, err);
    em__table_fault("sink", id);
    ok = ok && (!q->wm || em__watermark_end(q->wm, t, in.rows > 0, err));
    f.add_batch_ms = em__now_ms() - add_start;
    ok = ok && log_commit(q, id, err);
    em__table_fault("commit", id);
    if (ok) {
        f.trigger_ms = em__now_ms() - start;
        g_mutex_lock(&q->lock);
        q->batch_id++;
        q->last_trigger = t;
        q->rows_read += in.rows;
        g_mutex_unlock(&q->lock);
        record_progress(q, &f);
    }
    trigger_input_clear(&in);
    if (!ok) {
        fail_query(q, err);
        return false;
    }
    if (q->opts.trigger == EM_TRIGGER_ONCE) {
        em_ssc_stop(q->ssc, EM_STOP_DEFAULT);
        terminate(q, NULL);
    }
    return true;
}

/* ---- Start ---- */

/* UnsupportedOperationChecker's rules for the query's output mode; Spark's messages (their
 * first line: Spark follows it with the logical plan). */
static bool check_mode(const em_df *df, em_output_mode mode, GError **err)
{
    if (mode == EM_OUTPUT_COMPLETE && !df->aggregated) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Complete output mode not supported when there are no streaming "
                    "aggregations on streaming DataFrames/Datasets;");
        return false;
    }
    if (df->sort_cols && mode != EM_OUTPUT_COMPLETE) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Sorting is not supported on streaming DataFrames/Datasets, unless it is on "
                    "aggregated DataFrame/Dataset in Complete output mode;");
        return false;
    }
    if (df->evt && !em__evt_agg_check_mode(df->evt, mode, err))
        return false;
    if (mode == EM_OUTPUT_APPEND && df->aggregated && !df->evt) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Append output mode not supported when there are streaming aggregations on "
                    "streaming DataFrames/DataSets without watermark;");
        return false;
    }
    return true;
}

/* DataSource's checks on a file sink (Spark's messages). */
static bool check_file_sink(const em_df *df, const em_query_opts *opts, GError **err)
{
    static const char *const formats[] = {"text", "json", "csv"};
    static const char *const modes[] = {"Append", "Update", "Complete"};
    const char *format = formats[opts->file_format];
    if (!opts->path) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "'path' is not specified");
        return false;
    }
    if (opts->mode != EM_OUTPUT_APPEND) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Data source %s does not support %s output mode.", format, modes[opts->mode]);
        return false;
    }
    if (!opts->checkpoint_location) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "checkpointLocation must be specified either through "
                    "option(\"checkpointLocation\", ...) or "
                    "SparkSession.conf.set(\"spark.sql.streaming.checkpointLocation\", ...)");
        return false;
    }
    if (opts->file_format == EM_FILE_TEXT && df->schema->n != 1) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Text data source supports only a single column, and you have %zu columns.",
                    df->schema->n);
        return false;
    }
    if (opts->file_format == EM_FILE_TEXT && df->schema->types[0] != EM_COL_STRING) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Text data source does not support %s data type.",
                    em__col_type_name(df->schema->types[0]));
        return false;
    }
    for (size_t i = 0; opts->file_format == EM_FILE_CSV && i < df->schema->n; i++)
        if (df->schema->types[i] == EM_COL_WINDOW) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn't "
                        "support the column `%s` of the type "
                        "\"STRUCT<start: TIMESTAMP, end: TIMESTAMP>\".",
                        df->schema->names[i]);
            return false;
        }
    return true;
}

static bool check_start(const em_df *df, const em_query_opts *opts, GError **err)
{
    if (!df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "'writeStream' can be called only on streaming Dataset/DataFrame");
        return false;
    }
    if (!check_mode(df, opts->mode, err))
        return false;
    em_ssc *ssc = df->ds->ssc;
    if (opts->trigger == EM_TRIGGER_PROCESSING_TIME &&
        opts->interval != em_ssc_batch_interval(ssc)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "trigger interval %" G_GINT64_FORMAT " ms: a processing-time trigger runs "
                    "at the StreamingContext's batch interval (%" G_GINT64_FORMAT " ms)",
                    (gint64)opts->interval, (gint64)em_ssc_batch_interval(ssc));
        return false;
    }
    if (opts->sink == EM_SINK_FILE && !check_file_sink(df, opts, err))
        return false;
    if (opts->sink == EM_SINK_FOREACH_BATCH && !opts->foreach_batch) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "the foreachBatch sink needs a function");
        return false;
    }
    if (em_ssc_get_state(ssc) != EM_SSC_INITIALIZED) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "the StreamingContext was started already: start every query before it "
                    "(defer_ssc_start on all but the last)");
        return false;
    }
    return true;
}

/* Where a restarted query goes on: after its last committed batch, first running again the
 * batch whose offsets were logged without a commit, with those offsets. A source without
 * offsets of its own (socket) cannot read a batch again: it goes on counting from the
 * committed offset, and the uncommitted batch's id is reused for new data. */
static bool resume(em_query *q, GError **err)
{
    em__query_log *log = q->log;
    if (log->last_offsets > log->last_commit + 1) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s: offsets are logged up to batch %" G_GINT64_FORMAT
                    " but only batch %" G_GINT64_FORMAT " is committed",
                    log->dir, (gint64)log->last_offsets, (gint64)log->last_commit);
        return false;
    }
    bool pending = log->last_offsets > log->last_commit;
    struct em_join *join = em__evt_agg_join(q->evt);
    size_t want = join ? 2 : 1;
    for (int i = 0; i < 2; i++) {
        int64_t id = log->last_offsets - 1 + i;
        if (id >= 0 && log->n_sources[i] != want) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "checkpoint %s: offsets/%" G_GINT64_FORMAT " logs %zu source(s) but "
                        "this query reads %zu: the query changed since the checkpoint was "
                        "written (start it on a new checkpoint_location)",
                        log->dir, (gint64)id, log->n_sources[i], want);
            return false;
        }
    }
    /* each source's offsets: [0] the last committed batch's, [1] the pending one's */
    char *const *committed = pending ? log->offsets[0] : log->offsets[1];
    q->batch_id = log->last_commit + 1;
    q->replay_id = pending ? log->last_offsets : -1;
    /* Spark's watermark on a restart: the last committed batch's, and the one the batch after
     * it runs with (logged with that batch's offsets when it is run again, else its commit's
     * nextBatchWatermarkMs); a join's sides start from these global ones */
    if (log->last_commit >= 0) {
        int64_t current = log->watermark[pending ? 0 : 1];
        int64_t next = pending ? log->watermark[1] : log->next_watermark;
        if (q->wm)
            em__watermark_restore(q->wm, current, next);
        else if (join)
            em__join_restore_watermark(join, current, next);
    }
    if (q->right_os) {
        q->right_os->next_start = g_strdup(committed[1]);
        q->right_os->replay = pending;
        q->right_os->replay_end = pending ? g_strdup(log->offsets[1][1]) : NULL;
    }
    if (q->os) {
        q->os->next_start = g_strdup(committed[0]);
        q->os->replay = pending;
        q->os->replay_end = pending ? g_strdup(log->offsets[1][0]) : NULL;
        return true;
    }
    int64_t last = -1;
    if (committed[0] && !em__offset_parse_int(committed[0], "", "", &last, err)) {
        g_prefix_error(err, "checkpoint %s: ", log->dir);
        return false;
    }
    q->rows_read = last + 1;
    return true;
}

static bool open_kafka(em_query *q, const em_query_opts *opts, GError **err)
{
    q->kafka = em__kafka_sink_new(opts->kafka_brokers, opts->kafka_topic, q->schema,
                                  opts->kafka_exactly_once ? q->id : NULL, err);
    return q->kafka != NULL;
}

/* The file sink, and the checkpoint: the query id, where to resume, the source's log and the
 * aggregation's state. */
static bool open_outputs(em_query *q, const em_query_opts *opts, GError **err)
{
    if (opts->sink == EM_SINK_KAFKA && opts->kafka_exactly_once && !opts->checkpoint_location) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "the exactly-once Kafka sink needs a checkpoint_location (the query's id "
                    "names its transactions)");
        return false;
    }
    if (opts->sink == EM_SINK_FILE &&
        !(q->file = em__file_sink_new(opts->path, opts->file_format, err)))
        return false;
    if (!opts->checkpoint_location)
        return opts->sink != EM_SINK_KAFKA || open_kafka(q, opts, err);
    if (!(q->log = em__query_log_open(opts->checkpoint_location, err)))
        return false;
    g_free(q->id);
    q->id = g_strdup(q->log->id);
    if (q->os) {
        g_autofree char *dir = g_build_filename(q->log->dir, "sources", "0", NULL);
        if (!em__offset_class(q->os)->attach(q->os, dir, err))
            return false;
    }
    if (q->right_os) {
        g_autofree char *dir = g_build_filename(q->log->dir, "sources", "1", NULL);
        if (!em__offset_class(q->right_os)->attach(q->right_os, dir, err))
            return false;
    }
    if (!resume(q, err))
        return false;
    if (opts->sink == EM_SINK_KAFKA && !open_kafka(q, opts, err))
        return false;
    return em__query_log_restore_state(q->log, (const em__state_op *)q->state_ops->data,
                                       q->state_ops->len, err);
}

/* The query's stateful operators, numbered as Spark does (the one nearest the sink is 0). */
static void list_state_ops(em_query *q)
{
    q->state_ops = g_array_new(FALSE, FALSE, sizeof(em__state_op));
    if (q->evt) {
        em__state_op op = em__evt_agg_state_op(q->evt);
        g_array_append_val(q->state_ops, op);
    }
    if (q->agg_ds) {
        em__state_op op = em__agg_state_op(q->agg_ds);
        g_array_append_val(q->state_ops, op);
    }
}

em_query *em_query_start(const em_df *df, const em_query_opts *opts, GError **err)
{
    g_return_val_if_fail(df && opts, NULL);
    if (!check_start(df, opts, err)) {
        if (opts->destroy)
            opts->destroy(opts->ud);
        return NULL;
    }
    em_dstream *out = df->ds;
    if (opts->mode == EM_OUTPUT_COMPLETE && !df->evt) {
        out = em__df_complete_stream(df, err);
        if (!out) {
            if (opts->destroy)
                opts->destroy(opts->ud);
            return NULL;
        }
    }
    em_query *q = g_new0(em_query, 1);
    q->refs = 1;
    q->id = g_uuid_string_random();
    q->run_id = g_uuid_string_random();
    q->name = g_strdup(opts->name);
    q->ssc = df->ds->ssc;
    q->schema = em_schema_ref(df->schema);
    q->source = df->source;
    q->agg_ds = df->agg_ds;
    q->wm = em__watermark_ref(df->watermark);
    q->evt = em__evt_agg_ref(df->evt);
    q->post = em__post_ops_ref(df->post);
    if (df->sort_cols) {
        q->sort = em__df_new(df, df->schema, NULL, df->ds);
        q->sort->sort_cols = g_memdup2(df->sort_cols, df->n_sort * sizeof *df->sort_cols);
        q->sort->n_sort = df->n_sort;
    }
    q->opts = *opts;
    q->opts.name = NULL;
    q->opts.console_out = opts->console_out ? opts->console_out : stdout;
    q->opts.num_rows = opts->num_rows ? opts->num_rows : 20;
    if (opts->listener)
        q->listener = *opts->listener;
    q->opts.listener = NULL;
    q->last_trigger = G_MININT64;
    q->active = true;
    g_mutex_init(&q->lock);
    g_cond_init(&q->cond);
    g_queue_init(&q->progress);
    q->os = em__offset_stream_of(df->source);
    if (em__evt_agg_join(q->evt))
        q->right_os = em__join_right_offset_stream(em__evt_agg_join(q->evt));
    q->source_desc = g_strdup(q->os             ? q->os->description
                              : df->source_desc ? df->source_desc
                                                : df->source->op);
    q->replay_id = -1;
    q->opts.path = NULL;
    q->sink_path = g_strdup(opts->path);
    list_state_ops(q);
    if (!open_outputs(q, opts, err)) {
        em_query_unref(q);
        return NULL;
    }
    em__output_add(out, "writeStream", run_batch, query_ref(q), query_unref, q->name);
    em__ui_query_started(q->ssc, q);
    if (q->listener.started)
        q->listener.started(q, q->opts.listener_ud);
    if (!opts->defer_ssc_start && !em_ssc_start(q->ssc, err)) {
        terminate(q, (*err)->message);
        em_query_unref(q);
        return NULL;
    }
    return q;
}
