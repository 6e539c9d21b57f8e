/* Private to the operating rooms (progress.c, log.c, ui-*.c) and their tests.
 *
 * Each ssc has one monitor: a listener that turns batch, output-operation and receiver events
 * into immutable progress records, kept under a short lock so the page's thread copies
 * references and renders without holding anything the batch thread needs. What listeners do
 * not carry (the graph, state sizes, lineage) is read through the accessors in ui-access.c,
 * the only file of these that knows the ssc's and streams' private fields. */
#ifndef EMBER_UI_PRIVATE_H
#define EMBER_UI_PRIVATE_H

#include "streaming-private.h" /* <ember.h>, with <ember/ui.h> */

/* ---- Logging (log.c) ---- */

/* Logs through g_log_structured when level is at or above em_get_log_level(). */
void em__log(em_log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The falling-behind rule (see EM_FALLING_BEHIND_BATCHES), fed one completed batch at a time. */
typedef struct em__behind {
    int64_t last_delay;
    int growing; /* consecutive batches whose delay exceeded the interval and grew */
    bool warned; /* warned in this episode */
} em__behind;
/* True when this batch's scheduling delay makes the stream count as falling behind for the
 * first time in an episode (the caller warns). */
bool em__behind_update(em__behind *b, int64_t scheduling_delay, em_duration interval);

/* ---- The monitor (progress.c) ---- */

typedef struct em__receiver_row {
    int stream_id;
    char *name;
    bool active;
    char *last_error;        /* NULL if none */
    int64_t last_error_time; /* wall-clock ms, -1 if none */
} em__receiver_row;

typedef struct em__ui_server em__ui_server;

typedef struct em__monitor {
    em_ssc *ssc;
    em_duration interval;
    char *app_name;
    int64_t start_time;        /* wall-clock ms when the ssc was made */
    GMutex lock;               /* guards everything below; held only to copy or swap */
    GQueue completed;          /* em_batch_progress* (references), oldest first */
    em_batch_progress *active; /* the batch being processed (a reference), or NULL */
    GArray *receivers;         /* em__receiver_row */
    int64_t total_completed, total_failed, total_records;
    int n_inputs; /* set at the first batch (the graph is fixed then) */
    int *input_ids;
    char **input_names;
    int64_t *input_totals; /* records per input over the run */
    /* the scheduler thread's own (no lock) */
    struct em__builder *building;
    em__behind behind;
    em__ui_server *server;
    /* A checkpoint written before its batch's record was made: the record takes the time. */
    em_time checkpoint_batch;
    int64_t checkpoint_ms;
    GArray *queries; /* the Structured Streaming queries that ran (ui-queries.c), or NULL */
} em__monitor;

/* The ssc's monitor (never NULL once the ssc is made). */
em__monitor *em__monitor_of(em_ssc *ssc);
/* Makes the ssc's monitor and registers its listener; starts the page when address (or
 * EMBER_UI) asks for it. False with err when the page cannot start for an explicit address. */
bool em__monitor_attach(em_ssc *ssc, const char *address, GError **err);
/* Stops the page (from em_ssc_free, before the graph goes). Idempotent. */
void em__monitor_stop_page(em_ssc *ssc);
/* Stops the page and frees the monitor (from em_ssc_free, once every thread that reports to its
 * listener, receivers included, has been joined). */
void em__monitor_free(em_ssc *ssc);
/* The writer thread: batch t's checkpoint file is written, ms in all (copying on the batch
 * thread and writing): the batch's record is replaced by one with that checkpoint_time. */
void em__monitor_checkpoint_written(em_ssc *ssc, em_time t, int64_t ms);
/* The monitor's listener, for tests that feed it events by hand. */
extern const em_listener em__monitor_listener;

/* The monitor's figures, copied under its lock: references the caller releases. */
typedef struct em__snapshot {
    GPtrArray *completed; /* em_batch_progress*, oldest first */
    em_batch_progress *active;
    GArray *receivers; /* em__receiver_row, deep copies */
    int64_t total_completed, total_failed, total_records;
    int64_t start_time;
    em_duration interval;
    const char *app_name; /* the monitor's own */
    GArray *input_totals; /* em_input_progress with records over the run, by stream id */
    int64_t queued;       /* batches generated and waiting for the scheduler */
} em__snapshot;
em__snapshot *em__monitor_snapshot(em__monitor *m);
void em__snapshot_free(em__snapshot *s);

/* The record of batch t in s (completed or active; borrowed), or NULL. */
em_batch_progress *em__progress_find(const em__snapshot *s, em_time t);

/* ---- Private accessors (ui-access.c) ---- */

/* Spark's name of an input stream: "QueueInputDStream" id 0 -> "Queue stream [0]". Caller
 * g_free()s it. */
char *em__ui_input_name(em_dstream *ds);
/* The offset ranges input ds read in batch t (see em_dstream_class.offset_ranges), or NULL. */
em_input_offset_range *em__ui_input_offsets(em_dstream *ds, em_time t, size_t *n);
/* The inputs of the ssc (borrowed array, fixed once the ssc started). */
GPtrArray *em__ui_inputs(em_ssc *ssc);
/* Every stream, in creation order (borrowed; read only once the ssc started). */
GPtrArray *em__ui_streams(em_ssc *ssc);
/* The output operations' streams and names (borrowed). */
int em__ui_n_outputs(em_ssc *ssc);
em_dstream *em__ui_output_stream(em_ssc *ssc, int id);
/* "print of reduceByKey [2]" (with "(fn)" when the operation names a user function). */
char *em__ui_output_description(em_ssc *ssc, int id);
/* The lineage of output op id's RDD at t, or NULL when the stream has none at t. */
char *em__ui_output_lineage(em_ssc *ssc, int id, em_time t);
/* Keys and bytes of each stateful stream (mapWithState) now: em_state_progress rows with
 * names the caller frees (g_free on name). Scheduler thread only. */
GArray *em__ui_state_sizes(em_ssc *ssc);
/* Batches generated and waiting for the scheduler (0 before start). */
int64_t em__ui_queued_batches(em_ssc *ssc);
/* Whether the graph is fixed (the ssc started): the page draws it only then. */
bool em__ui_graph_fixed(em_ssc *ssc);
const char *em__ui_stream_op(const em_dstream *ds);
int em__ui_stream_id(const em_dstream *ds);
/* An input's id among the inputs (Spark's input stream id, which receivers report). */
int em__ui_input_id(const em_dstream *ds);
bool em__ui_input_is_receiver(const em_dstream *ds);
int em__ui_stream_n_parents(const em_dstream *ds);
em_dstream *em__ui_stream_parent(const em_dstream *ds, int i);
const char *em__ui_stream_fn_name(const em_dstream *ds);
/* The window length of a windowed stream, or 0. */
em_duration em__ui_stream_window(const em_dstream *ds);
bool em__ui_stream_is_input(const em_dstream *ds);
const char *em__ui_app_name(em_ssc *ssc);

/* ---- Rendering ---- */

/* JSON string literal of s (with quotes) appended to out; NULL gives null. */
void em__json_string(GString *out, const char *s);
/* Spark's REST dates: "1970-01-01T00:00:01.000GMT". */
void em__json_date(GString *out, int64_t ms);
/* Prometheus text of a snapshot. */
char *em__metrics_render(const em__snapshot *s);

/* ---- The server (ui-server.c) ---- */

em__ui_server *em__ui_server_start(em_ssc *ssc, const char *address, GError **err);
int em__ui_server_port(const em__ui_server *server);
void em__ui_server_stop(em__ui_server *server);

/* The page's head (title, style, links to the other pages) for every page. */
void em__ui_page_open(GString *o, const char *title, const char *app, bool refresh);
/* Pages (ui-pages.c): HTML documents the caller g_free()s; NULL for an unknown batch. */
char *em__ui_page_streaming(em_ssc *ssc, const em__snapshot *s);
char *em__ui_page_batch(em_ssc *ssc, const em__snapshot *s, em_time t);
char *em__ui_page_graph(em_ssc *ssc);
/* REST (ui-rest.c): JSON the caller g_free()s; NULL for an unknown batch. */
char *em__ui_rest_statistics(const em__snapshot *s, int n_receivers_known);
char *em__ui_rest_batches(const em__snapshot *s, const char *status_filter);
char *em__ui_rest_batch(const em__snapshot *s, em_time t);
char *em__ui_rest_operations(const em__snapshot *s, em_time t);
char *em__ui_rest_receivers(const em__snapshot *s);
/* Structured Streaming queries (ui-queries.c): Spark's StreamingQueryPage (the active and
 * completed queries) and StreamingQueryStatisticsPage (one run, by runId: NULL when unknown),
 * and as JSON: every query with its lastProgress, or one run with its recentProgress (NULL
 * when unknown). The caller g_free()s each. */
char *em__ui_page_queries(em_ssc *ssc, const em__snapshot *s);
char *em__ui_page_query(em_ssc *ssc, const em__snapshot *s, const char *run_id);
char *em__ui_rest_queries(em_ssc *ssc);
char *em__ui_rest_query(em_ssc *ssc, const char *run_id);
/* Releases the monitor's queries (from em__monitor_free). */
void em__ui_queries_free(em__monitor *m);
/* Spark's UIUtils.formatDurationVerbose ("3 seconds 250 ms"); g_free() it. */
char *em__ui_duration_verbose(int64_t ms);
/* The graph as SVG (ui-graph.c). */
void em__ui_graph_svg(em_ssc *ssc, GString *out);

#endif
