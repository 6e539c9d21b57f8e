/* Operating a stream: per-batch progress records, Spark's log levels, Prometheus metrics, the
 * DStream graph as text, and an optional web page (Spark's Streaming tab and its REST API)
 * served by libsoup on a thread of its own.
 *
 * Every StreamingContext keeps these figures from its first batch on, whether or not the page
 * is on: they come from the same listener events user listeners get (em_listener). */
#ifndef EMBER_UI_H
#define EMBER_UI_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/streaming.h>

/* ---- Progress records ---- */

/* Completed batches each StreamingContext keeps (Spark's spark.streaming.ui.retainedBatches). */
#define EM_UI_RETAINED_BATCHES 1000

/* One input stream's share of a batch. */
typedef struct em_input_progress {
    int stream_id;    /* the input's id among inputs (Spark's), as receivers report it */
    const char *name; /* Spark's name: "Queue stream [0]", "Socket stream [0]" */
    int64_t records;
    /* The offset ranges the batch read (a Kafka direct stream's, Spark's "offsets" metadata),
     * n_offset_ranges of them; NULL for an input without offsets. */
    const em_input_offset_range *offset_ranges;
    size_t n_offset_ranges;
} em_input_progress;

/* One output operation of a batch (Spark's OutputOperationUIData). */
typedef struct em_output_op_progress {
    int id;                  /* registration order, from 0 */
    const char *name;        /* "print", "foreachRDD", "saveAsTextFiles" */
    const char *description; /* "print of reduceByKey [2]", with the user function if named */
    int64_t start_time;      /* wall-clock ms, -1 if it has not started */
    int64_t end_time;        /* wall-clock ms, -1 until completed */
    int64_t duration;        /* end - start, or -1 */
    const char *failure;     /* NULL when it succeeded (or is running) */
    const char *lineage;     /* its RDD's lineage (em_rdd_debug_string), NULL if none */
} em_output_op_progress;

/* Keys and bytes a stateful stream (mapWithState, updateStateByKey) holds after the batch. */
typedef struct em_state_progress {
    int stream_id;
    const char *name; /* "mapWithState [3]", "updateStateByKey [3]" */
    int64_t keys;
    int64_t bytes;
} em_state_progress;

/* A batch's figures, immutable once made: all strings and arrays live as long as the record.
 * Times are wall-clock milliseconds except batch_time (the ssc's clock); -1 means "not yet". */
typedef struct em_batch_progress {
    em_time batch_time;
    em_duration batch_interval;
    bool completed; /* false: the batch is being processed */
    bool failed;
    const char *failure; /* the first failure's message, or NULL */
    int n_inputs;
    const em_input_progress *inputs;
    int64_t num_records;    /* records of all inputs */
    double input_rate;      /* records per second of batch interval (Spark's input rate) */
    double processing_rate; /* records per second of processing time (at least 1 ms); 0 until
                               completed */
    int64_t submission_time, processing_start, processing_end;
    int64_t scheduling_delay, processing_delay, total_delay;
    int n_output_ops;
    const em_output_op_progress *output_ops;
    int n_states;
    const em_state_progress *states;
    int64_t retained_batches; /* RDDs all streams keep after this batch */
    int64_t retained_bytes;
    /* ms the batch's checkpoint took: copying on the batch thread (em_batch_info's
     * checkpoint_time) plus writing the file off it; -1 for none, or not written yet. Once it
     * is written, the monitor's record of the batch is replaced by one with this figure:
     * em_ssc_last_progress() and em_ssc_recent_progress() give that one. */
    int64_t checkpoint_time;
} em_batch_progress;

/* The newest completed batch's record as a new reference (release with
 * em_batch_progress_unref), or NULL before any batch completed. Any thread; inside a listener's
 * batch_completed it is already that batch's record (the monitor hears every event first). */
EM_API em_batch_progress *em_ssc_last_progress(em_ssc *ssc);
/* The newest n completed batches' records (fewer if fewer are kept), oldest first, as new
 * references in an array the caller frees with g_ptr_array_unref() (that releases them). */
EM_API GPtrArray *em_ssc_recent_progress(em_ssc *ssc, int n);
/* Takes a reference on p (any thread) and returns it. */
EM_API em_batch_progress *em_batch_progress_ref(em_batch_progress *p);
/* Releases a reference; the last one frees the record. NULL is allowed. */
EM_API void em_batch_progress_unref(em_batch_progress *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_batch_progress, em_batch_progress_unref)
/* The record as one JSON object (field names in lowerCamelCase as Spark's, "status" one of
 * PROCESSING, COMPLETED, FAILED, -1 figures as null); the caller g_free()s it. */
EM_API char *em_batch_progress_to_json(const em_batch_progress *p);

/* ---- Logging: GLib structured logging (domain "ember", field EMBER_LEVEL) ---- */

typedef enum em_log_level {
    EM_LOG_ALL,
    EM_LOG_TRACE,
    EM_LOG_DEBUG,
    EM_LOG_INFO,
    EM_LOG_WARN,
    EM_LOG_ERROR,
    EM_LOG_FATAL,
    EM_LOG_OFF,
} em_log_level;

/* Spark's setLogLevel: "ALL", "TRACE", "DEBUG", "INFO", "WARN" (the default), "ERROR",
 * "FATAL" or "OFF", in any case. Ember's messages below it are not logged. Levels below WARN
 * also enable GLib's debug output (g_log_set_debug_enabled) so that the default writer shows
 * them. An unknown name returns false with a critical message naming the valid ones. */
EM_API bool em_set_log_level(const char *level);
/* The level set last (process-wide), EM_LOG_WARN by default. */
EM_API em_log_level em_get_log_level(void);

/* By default Ember warns when a batch fails and when the stream falls behind: the scheduling
 * delay exceeded the batch interval and grew in EM_FALLING_BEHIND_BATCHES consecutive batches.
 * It warns once, and again only after a batch whose scheduling delay is back within the
 * interval. */
#define EM_FALLING_BEHIND_BATCHES 3

/* ---- Prometheus ---- */

/* The figures in Prometheus' text exposition format (version 0.0.4): counters over the whole
 * run, gauges of the newest completed batch. The caller g_free()s it. */
EM_API char *em_ssc_metrics_text(em_ssc *ssc);

/* ---- The DStream graph as text ---- */

/* The graph below ds, one line per stream and deepest last as Spark's RDD toDebugString:
 * "(slide 1000 ms) reduceByKey [2]" then its parents indented; windows show their length.
 * The caller g_free()s it; NULL for a NULL ds. */
EM_API char *em_dstream_debug_string(em_dstream *ds);

/* ---- The web page ---- */

/* Serves the Streaming page, /api/v1/streaming/... and /metrics at address ("HOST:PORT" or
 * "PORT"; host defaults to 127.0.0.1, port 0 picks a free one) on a thread of its own until
 * the ssc is freed. Every program also honours EMBER_UI=HOST:PORT in the environment (see
 * em_ssc_opts.ui_address). Fails (EM_ERROR_INVALID for a bad address or a page already on,
 * EM_ERROR_IO naming host:port when it cannot listen). */
EM_API bool em_ssc_ui_start(em_ssc *ssc, const char *address, GError **err);
/* The port the page listens on, or 0 when it is off. */
EM_API int em_ssc_ui_port(em_ssc *ssc);

#endif
