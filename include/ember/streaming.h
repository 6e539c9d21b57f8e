/* Spark Streaming's DStream model: a StreamingContext slices input into one RDD per batch
 * interval; every DStream operation is an RDD operation applied batch after batch.
 *
 * Time is in milliseconds. Batch times are zero + k*interval, where zero is the batch time
 * before the first one; the RDD at time t holds what arrived in (t - interval, t]. The
 * StreamingContext owns every DStream made from it: user code never frees a stream. */
#ifndef EMBER_STREAMING_H
#define EMBER_STREAMING_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/value.h>

typedef int64_t em_duration; /* milliseconds */
typedef int64_t em_time;     /* milliseconds since the epoch (or since 0 on a manual clock) */

#define EM_MILLIS(n) ((em_duration)(n))
#define EM_SECONDS(n) ((em_duration)(n)*1000)
#define EM_MINUTES(n) ((em_duration)(n)*60000)

typedef struct em_ssc em_ssc;
typedef struct em_dstream em_dstream;

typedef enum em_ssc_state {
    EM_SSC_INITIALIZED, /* streams may be defined */
    EM_SSC_ACTIVE,      /* started: batches are generated */
    EM_SSC_STOPPED,     /* stopped for good: it cannot be restarted */
} em_ssc_state;

/* ---- StreamingContext ---- */

typedef struct em_ssc_opts {
    const char *master;         /* "local[2]": a new context, freed with the ssc ... */
    em_context *context;        /* ... or an existing one (borrowed unless stop frees it) */
    const char *app_name;       /* default "ember" */
    em_duration batch_interval; /* > 0 */
    bool manual_clock;          /* time moves only by em_ssc_advance_clock() (tests) */
    em_time manual_start;       /* the manual clock's start time (default 0) */
    const char *ui_address;     /* "HOST:PORT": serve the web page there (see <ember/ui.h>);
                                   NULL: only if the environment has EMBER_UI=HOST:PORT */
    bool receiver_wal;          /* receivers log their blocks before they count as stored
                                   (spark.streaming.receiver.writeAheadLog.enable): needs a
                                   checkpoint directory, see em_receiver_commit() */
} em_ssc_opts;

/* A StreamingContext in state INITIALIZED. Returns NULL and sets err (EM_ERROR_INVALID) for a
 * bad master or a batch interval <= 0. The caller frees it with em_ssc_free(). */
EM_API em_ssc *em_ssc_new_full(const em_ssc_opts *opts, GError **err);
/* The short form: em_ssc_new("local[2]", "NetworkWordCount", EM_SECONDS(1)). On a bad
 * argument it logs a critical message naming it and returns NULL. */
EM_API em_ssc *em_ssc_new(const char *master, const char *app_name, em_duration batch_interval);
/* Stops the ssc if active (stopping the context if it made it) and frees it with all its
 * streams. NULL is allowed. Do not call from inside a callback of this ssc. */
EM_API void em_ssc_free(em_ssc *ssc);
/* Starts generating batches. Fails (EM_ERROR_INVALID) when the ssc was started already or
 * stopped, when another ssc is active in this process, or when no output operation is
 * registered (as Spark: "No output operations registered, so nothing to execute"). */
EM_API bool em_ssc_start(em_ssc *ssc, GError **err);
/* How em_ssc_stop() stops (Spark's stop(stopSparkContext, stopGracefully)), or-ed together. */
typedef enum em_stop_flags {
    EM_STOP_DEFAULT = 0,       /* the batch under way finishes, the rest is dropped */
    EM_STOP_GRACEFUL = 1 << 0, /* every batch holding data already received is processed */
    EM_STOP_CONTEXT = 1 << 1,  /* em_ssc_free() also frees the em_context, even a given one */
} em_stop_flags;

/* Stops the ssc: receivers first; with EM_STOP_GRACEFUL, every batch holding data already
 * received is generated and processed before it returns, otherwise the batch under way finishes
 * and the rest is dropped. With EM_STOP_CONTEXT, em_ssc_free() also frees the em_context, even
 * one that was given to the ssc (one the ssc made is always freed with it). Idempotent;
 * callable from any thread, including an output operation or listener callback of this ssc
 * (then it returns at once and the stop completes when that batch ends). */
EM_API void em_ssc_stop(em_ssc *ssc, em_stop_flags flags);
/* An Ember addition for demos and tests: stops the ssc gracefully (as em_ssc_stop(ssc,
 * EM_STOP_GRACEFUL) from the scheduler thread) once `batches` more batches have completed; 0
 * cancels. */
EM_API void em_ssc_stop_after_batches(em_ssc *ssc, int64_t batches);
/* Blocks until the ssc is stopped. Returns false with err set if a batch failed (the first
 * failure, as Spark rethrows it) — the ssc keeps running after a failed batch. */
EM_API bool em_ssc_await_termination(em_ssc *ssc, GError **err);
/* As em_ssc_await_termination() for at most timeout (wall-clock time, whatever the ssc's clock):
 * 1 stopped, 0 timed out, -1 failed. */
EM_API int em_ssc_await_termination_or_timeout(em_ssc *ssc, em_duration timeout, GError **err);
/* Keeps every stream's RDDs for at least duration (for ad-hoc queries of past batches). */
EM_API void em_ssc_remember(em_ssc *ssc, em_duration duration);
EM_API em_ssc_state em_ssc_get_state(const em_ssc *ssc);
/* The RDD engine under the ssc (borrowed). */
EM_API em_context *em_ssc_context(const em_ssc *ssc);
EM_API em_duration em_ssc_batch_interval(const em_ssc *ssc);
/* The clock's time now. */
EM_API em_time em_ssc_clock_time(const em_ssc *ssc);
/* Manual clock only: moves time forward by d, generating the batches whose time is reached. */
EM_API void em_ssc_advance_clock(em_ssc *ssc, em_duration d);
/* Waits at most timeout (wall-clock time) until the batch at time t has completed (or failed).
 * Returns false on timeout or when the ssc stopped before that batch. */
EM_API bool em_ssc_wait_for_batch(em_ssc *ssc, em_time t, em_duration timeout);

/* ---- Listeners: callbacks run on the scheduler thread (receiver events on the receiver's
 *      thread); they must not block. ---- */

typedef struct em_batch_info {
    em_time batch_time;
    int n_inputs;
    const int64_t *input_records; /* [n_inputs] records each input stream gave this batch */
    int64_t num_records;          /* their sum */
    int64_t submission_time;      /* wall-clock ms when the batch was generated */
    int64_t processing_start;     /* -1 until started */
    int64_t processing_end;       /* -1 until completed */
    int64_t scheduling_delay;     /* processing_start - submission_time, or -1 */
    int64_t processing_delay;     /* processing_end - processing_start, or -1 */
    int64_t total_delay;          /* processing_end - submission_time, or -1 */
    int64_t retained_batches;     /* RDDs all streams keep after this batch */
    int64_t retained_bytes;       /* bytes of their cached and received data */
    /* Receivers that stopped reading since the previous batch because their blocks not yet
     * taken by a batch passed max_pending_bytes (em_receiver_opts): the scheduler is behind
     * and their senders are being held back. 0 when no input was throttled. */
    int blocked_inputs;
    /* ms the batch thread spent copying this batch's checkpoint (its state, positions, clock)
     * for the writer: the checkpoint's share of the processing time; -1 when the batch takes
     * none. The file is written off the batch thread: em_batch_progress.checkpoint_time adds
     * that once it is written. */
    int64_t checkpoint_time;
    bool failed;
    const char *failure; /* the first failure's message, or NULL */
} em_batch_info;

typedef struct em_output_op_info {
    em_time batch_time;
    int id;                       /* registration order, from 0 */
    const char *name;             /* "print", "foreachRDD", "saveAsTextFiles" */
    int64_t start_time, end_time; /* wall-clock ms; end -1 until completed */
    const char *failure;          /* NULL when it succeeded */
} em_output_op_info;

typedef struct em_receiver_info {
    int stream_id;
    const char *name;
    bool active;
    const char *last_error; /* NULL if none */
} em_receiver_info;

/* A range of offsets of an input: a Kafka topic-partition's [from, until). */
typedef struct em_input_offset_range {
    const char *topic;
    int32_t partition;
    int64_t from, until;
} em_input_offset_range;

/* An input's offsets committed to its source (a Kafka direct stream's, to its group). */
typedef struct em_input_commit_info {
    int stream_id;                       /* the input's id among inputs */
    em_time batch_time;                  /* the batch whose offsets these are; -1 for a commit
                                            the program asked for (em_kafka_commit_async) */
    bool on_revocation;                  /* made synchronously as partitions were revoked */
    const em_input_offset_range *ranges; /* until is the offset committed */
    size_t n_ranges;
    const char *error; /* NULL on success */
} em_input_commit_info;

typedef struct em_listener {
    void (*batch_submitted)(const em_batch_info *info, void *ud);
    void (*batch_started)(const em_batch_info *info, void *ud);
    void (*batch_completed)(const em_batch_info *info, void *ud);
    void (*output_op_started)(const em_output_op_info *info, void *ud);
    void (*output_op_completed)(const em_output_op_info *info, void *ud);
    void (*receiver_started)(const em_receiver_info *info, void *ud);
    void (*receiver_error)(const em_receiver_info *info, void *ud);
    void (*receiver_stopped)(const em_receiver_info *info, void *ud);
    /* An input's offset commit completed (or failed), on that input's own thread (a Kafka
     * direct stream's polling thread). */
    void (*input_committed)(const em_input_commit_info *info, void *ud);
} em_listener;

/* Adds a listener; the struct is copied, members may be NULL. ud is borrowed. */
EM_API void em_ssc_add_listener(em_ssc *ssc, const em_listener *listener, void *ud);

/* ---- DStream transformations (Spark's names). The short forms take a plain function; the
 *      _full forms add user data, its destroy notify (called exactly once: when the ssc is
 *      freed, or at once when the call fails) and the function's name; the longest take an
 *      option struct (a spec). They fail fast (a critical message, NULL) on misuse: a NULL
 *      stream, streams of different contexts, or an ssc that was started.
 *      A suffix _n always means a partition count (0: the default). ---- */

EM_API em_dstream *em_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name);
#define em_map(ds, fn) em_map_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_flat_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                    const char *name);
#define em_flat_map(ds, fn) em_flat_map_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_filter_full(em_dstream *ds, em_filter_fn fn, void *ud,
                                  GDestroyNotify destroy, const char *name);
#define em_filter(ds, fn) em_filter_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_map_partitions_full(em_dstream *ds, em_partition_fn fn, void *ud,
                                          GDestroyNotify destroy, const char *name);
#define em_map_partitions(ds, fn) em_map_partitions_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_map_values_full(em_dstream *ds, em_map_fn fn, void *ud,
                                      GDestroyNotify destroy, const char *name);
#define em_map_values(ds, fn) em_map_values_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_flat_map_values_full(em_dstream *ds, em_map_fn fn, void *ud,
                                           GDestroyNotify destroy, const char *name);
#define em_flat_map_values(ds, fn) em_flat_map_values_full((ds), (fn), NULL, NULL, #fn)
EM_API em_dstream *em_glom(em_dstream *ds);
EM_API em_dstream *em_repartition(em_dstream *ds, int num_partitions);
/* A one-record stream per batch: the batch reduced with fn (nothing for an empty batch). */
EM_API em_dstream *em_reduce_full(em_dstream *ds, em_reduce_fn fn, void *ud,
                                  GDestroyNotify destroy, const char *name);
#define em_reduce(ds, fn) em_reduce_full((ds), (fn), NULL, NULL, #fn)
/* A one-record stream per batch: the number of records (0 for an empty batch, as Spark). */
EM_API em_dstream *em_count(em_dstream *ds);
/* (record, count) per distinct record of each batch; num_partitions 0: the context's
 * parallelism. */
EM_API em_dstream *em_count_by_value_n(em_dstream *ds, int num_partitions);
#define em_count_by_value(ds) em_count_by_value_n((ds), 0)
/* The batches of ds and other, unioned; the streams must share a slide duration. A batch where
 * one has no RDD fails (as Spark's UnionDStream). */
EM_API em_dstream *em_union(em_dstream *ds, em_dstream *other);
/* Spark's ssc.union: the batches of streams[0..n) (any n >= 1, all of ssc, one slide duration)
 * unioned. The array is read during the call only. A batch where a stream has no RDD fails. */
EM_API em_dstream *em_ssc_union(em_ssc *ssc, em_dstream *const *streams, size_t n);

/* transform: fn gets the batch's RDD (borrowed) and returns an RDD it owns (a new reference).
 * To fail the batch with its own message it returns NULL and sets err (a NULL return without
 * err fails the batch with a message naming the function). Runs on the scheduler thread. A
 * batch where the parent has no RDD fails (as Spark's TransformedDStream). */
typedef em_rdd *(*em_transform_fn)(em_rdd *rdd, em_time time, void *ud, GError **err);
EM_API em_dstream *em_transform_full(em_dstream *ds, em_transform_fn fn, void *ud,
                                     GDestroyNotify destroy, const char *name);
#define em_transform(ds, fn) em_transform_full((ds), (fn), NULL, NULL, #fn)
/* transformWith: as transform over the batches of two streams (both must have an RDD). */
typedef em_rdd *(*em_transform2_fn)(em_rdd *a, em_rdd *b, em_time time, void *ud, GError **err);
EM_API em_dstream *em_transform_with_full(em_dstream *ds, em_dstream *other, em_transform2_fn fn,
                                          void *ud, GDestroyNotify destroy, const char *name);
#define em_transform_with(ds, other, fn)                                                          \
    em_transform_with_full((ds), (other), (fn), NULL, NULL, #fn)
/* Spark's ssc.transform: fn gets the batch's RDDs of streams[0..n) (borrowed, in that order;
 * any n >= 1, all of ssc, one slide duration) and returns an RDD it owns, as transform. A batch
 * where a stream has no RDD fails. */
typedef em_rdd *(*em_transform_n_fn)(em_rdd *const *rdds, size_t n, em_time time, void *ud,
                                     GError **err);
EM_API em_dstream *em_ssc_transform_full(em_ssc *ssc, em_dstream *const *streams, size_t n,
                                         em_transform_n_fn fn, void *ud, GDestroyNotify destroy,
                                         const char *name);
#define em_ssc_transform(ssc, streams, n, fn)                                                     \
    em_ssc_transform_full((ssc), (streams), (n), (fn), NULL, NULL, #fn)

/* Key-value streams. num_partitions 0 is the context's parallelism (Spark's
 * PairDStreamFunctions.defaultPartitioner), not the parent's partition count. */
EM_API em_dstream *em_reduce_by_key_full(em_dstream *ds, em_reduce_fn fn, void *ud,
                                         GDestroyNotify destroy, const char *name,
                                         int num_partitions);
#define em_reduce_by_key(ds, fn) em_reduce_by_key_full((ds), (fn), NULL, NULL, #fn, 0)
#define em_reduce_by_key_n(ds, fn, n) em_reduce_by_key_full((ds), (fn), NULL, NULL, #fn, (n))
EM_API em_dstream *em_group_by_key_n(em_dstream *ds, int num_partitions);
#define em_group_by_key(ds) em_group_by_key_n((ds), 0)
/* combineByKey's functions and knobs. */
typedef struct em_combine_spec {
    em_map_fn create;             /* the first value of a key -> its combiner */
    em_reduce_fn merge_value;     /* (combiner, value) -> combiner */
    em_reduce_fn merge_combiners; /* (combiner, combiner) -> combiner */
    void *ud;                     /* given to the three */
    GDestroyNotify destroy;       /* called once on ud (when the ssc is freed, or on failure) */
    const char *name;             /* for logs and the lineage (optional) */
    int num_partitions;           /* 0: the context's parallelism */
} em_combine_spec;
/* Spark's combineByKey on every batch. The spec is read during the call only; a spec missing
 * a function is refused (critical, NULL, ud destroyed). */
EM_API em_dstream *em_combine_by_key_full(em_dstream *ds, const em_combine_spec *spec);
#define em_combine_by_key(ds, create_fn, merge_value_fn, merge_combiners_fn)                      \
    em_combine_by_key_full((ds), &(em_combine_spec){.create = (create_fn),                        \
                                                    .merge_value = (merge_value_fn),              \
                                                    .merge_combiners = (merge_combiners_fn),      \
                                                    .name = #create_fn})
/* Joins of two key-value streams batch by batch; they must share a slide duration (an error
 * when the graph is built, naming both durations). */
EM_API em_dstream *em_join_n(em_dstream *ds, em_dstream *other, int num_partitions);
EM_API em_dstream *em_left_outer_join_n(em_dstream *ds, em_dstream *other, int num_partitions);
EM_API em_dstream *em_right_outer_join_n(em_dstream *ds, em_dstream *other, int num_partitions);
EM_API em_dstream *em_full_outer_join_n(em_dstream *ds, em_dstream *other, int num_partitions);
EM_API em_dstream *em_cogroup_n(em_dstream *ds, em_dstream *other, int num_partitions);
#define em_join(a, b) em_join_n((a), (b), 0)
#define em_left_outer_join(a, b) em_left_outer_join_n((a), (b), 0)
#define em_right_outer_join(a, b) em_right_outer_join_n((a), (b), 0)
#define em_full_outer_join(a, b) em_full_outer_join_n((a), (b), 0)
#define em_cogroup(a, b) em_cogroup_n((a), (b), 0)

/* ---- Windows ---- */

/* The union of ds's batches in (t - window, t], at every t that is a multiple of slide from
 * zero. window and slide must be multiples of ds's slide: otherwise a critical message naming
 * the durations, and NULL. */
EM_API em_dstream *em_window(em_dstream *ds, em_duration window, em_duration slide);

/* The knobs of reduceByKeyAndWindow and reduceByWindow. */
typedef struct em_reduce_window_spec {
    em_reduce_fn fn;        /* the reduce function (required) */
    em_reduce_fn inv;       /* its inverse, inv(fn(a, b), b) == a, for the incremental form */
    em_duration window;     /* > 0, a multiple of the parent's slide */
    em_duration slide;      /* a multiple of the parent's slide; 0: the parent's slide */
    int num_partitions;     /* reduceByKeyAndWindow: 0 is the context's parallelism */
    em_filter_fn filter;    /* reduceByKeyAndWindow: keeps the (k, v) records it accepts */
    void *ud;               /* given to fn, inv and filter */
    GDestroyNotify destroy; /* called once on ud (when the ssc is freed, or on failure) */
    const char *name;       /* for logs and the lineage (optional) */
} em_reduce_window_spec;

/* reduceByKeyAndWindow in all of Spark's forms. Without inv: reduceByKey(fn) per batch, then
 * over the window. With inv, incrementally: the window at t is the one at t - S minus the
 * batches that left plus those that entered, so its cost does not grow with window / slide (a
 * slide longer than the window reads each window's own batches). Without a filter, keys whose
 * value returns to the identity stay, as in Spark. The filter applies to what is emitted only:
 * unlike Spark, the incremental form keeps the unfiltered window as its state (so a key
 * filtered out at 0 is still subtracted right later), and drops a key from it once no batch of
 * the window holds the key. The spec is read during the call only; durations are checked at
 * definition (critical message, NULL, ud destroyed). */
EM_API em_dstream *em_reduce_by_key_and_window_full(em_dstream *ds,
                                                    const em_reduce_window_spec *spec);
#define em_reduce_by_key_and_window(ds, reduce_fn, window_d, slide_d)                             \
    em_reduce_by_key_and_window_full((ds), &(em_reduce_window_spec){.fn = (reduce_fn),            \
                                                                    .window = (window_d),         \
                                                                    .slide = (slide_d),           \
                                                                    .name = #reduce_fn})
#define em_reduce_by_key_and_window_n(ds, reduce_fn, window_d, slide_d, n)                        \
    em_reduce_by_key_and_window_full((ds), &(em_reduce_window_spec){.fn = (reduce_fn),            \
                                                                    .window = (window_d),         \
                                                                    .slide = (slide_d),           \
                                                                    .num_partitions = (n),        \
                                                                    .name = #reduce_fn})
#define em_reduce_by_key_and_window_inv(ds, reduce_fn, inv_fn, window_d, slide_d)                 \
    em_reduce_by_key_and_window_full((ds), &(em_reduce_window_spec){.fn = (reduce_fn),            \
                                                                    .inv = (inv_fn),              \
                                                                    .window = (window_d),         \
                                                                    .slide = (slide_d),           \
                                                                    .name = #reduce_fn})
/* reduceByWindow: the whole window reduced to one record (none for an empty window); with inv
 * incrementally, as reduceByKeyAndWindow. filter and num_partitions must be 0 (critical, NULL,
 * ud destroyed otherwise). */
EM_API em_dstream *em_reduce_by_window_full(em_dstream *ds, const em_reduce_window_spec *spec);
#define em_reduce_by_window(ds, reduce_fn, window_d, slide_d)                                     \
    em_reduce_by_window_full((ds), &(em_reduce_window_spec){.fn = (reduce_fn),                    \
                                                            .window = (window_d),                 \
                                                            .slide = (slide_d),                   \
                                                            .name = #reduce_fn})
#define em_reduce_by_window_inv(ds, reduce_fn, inv_fn, window_d, slide_d)                         \
    em_reduce_by_window_full((ds), &(em_reduce_window_spec){.fn = (reduce_fn),                    \
                                                            .inv = (inv_fn),                      \
                                                            .window = (window_d),                 \
                                                            .slide = (slide_d),                   \
                                                            .name = #reduce_fn})
/* The number of records in each window (incremental). */
EM_API em_dstream *em_count_by_window(em_dstream *ds, em_duration window, em_duration slide);
/* (k, CompactBuffer(v...)) over each window. */
EM_API em_dstream *em_group_by_key_and_window_n(em_dstream *ds, em_duration window,
                                                em_duration slide, int num_partitions);
#define em_group_by_key_and_window(ds, window, slide)                                             \
    em_group_by_key_and_window_n((ds), (window), (slide), 0)
/* (record, count) over each window, records whose count falls to 0 dropped. */
EM_API em_dstream *em_count_by_value_and_window_n(em_dstream *ds, em_duration window,
                                                  em_duration slide, int num_partitions);
#define em_count_by_value_and_window(ds, window, slide)                                           \
    em_count_by_value_and_window_n((ds), (window), (slide), 0)

/* ---- State ---- */

/* updateStateByKey's function: the key, its values in this batch (values[0..n), possibly none),
 * its previous state (em_none() if it has none) and the batch time. Returns the new state (its
 * payload may live in em_scratch(): Ember copies it), or em_none() to remove the key. State
 * values themselves cannot be None. Runs on executor threads. */
typedef em_value (*em_update_fn)(em_value key, const em_value *values, size_t n, em_value state,
                                 em_time time, void *ud);
/* updateStateByKey's function and knobs. */
typedef struct em_update_state_spec {
    em_update_fn fn; /* required */
    void *ud;
    GDestroyNotify destroy; /* called once on ud (when the ssc is freed, or on failure) */
    const char *name;       /* the function's name for logs (optional) */
    int num_partitions;     /* state partitions; 0: the context's parallelism */
    em_rdd *initial_state;  /* (k, state) records the first batch starts from; referenced;
                               may be NULL */
} em_update_state_spec;
/* Spark's updateStateByKey: fn is called for every key in state and every key in the batch,
 * every batch. A failed batch (any of its jobs) leaves the state as after the previous batch.
 * The spec is read during the call only. On misuse: critical, NULL, ud destroyed. */
EM_API em_dstream *em_update_state_by_key_full(em_dstream *ds, const em_update_state_spec *spec);
#define em_update_state_by_key(ds, update_fn)                                                     \
    em_update_state_by_key_full((ds),                                                             \
                                &(em_update_state_spec){.fn = (update_fn), .name = #update_fn})

/* mapWithState's view of one key's state (Spark's State). Valid only during the call. */
typedef struct em_state em_state;
EM_API bool em_state_exists(const em_state *state);
/* The state value (payload valid during the call), or null when it does not exist. */
EM_API em_value em_state_get(const em_state *state);
/* Sets the key's state to a copy of v. Updating a state that is timing out, or one removed in
 * this call, is refused (a critical message). */
EM_API void em_state_update(em_state *state, em_value v);
/* Removes the key's state. Removing a state that is timing out, or one removed already, is
 * refused (a critical message), as Spark does. */
EM_API void em_state_remove(em_state *state);
/* True when the call is the key's timeout (value is None, no new data). */
EM_API bool em_state_is_timing_out(const em_state *state);

/* mapWithState's function: called for each (key, value) of the batch, and once with value None
 * when the key times out. Returns the mapped record, or em_none() for none. Runs on executor
 * threads, one task per state partition. */
typedef em_value (*em_mapping_fn)(em_time time, em_value key, em_value value, em_state *state,
                                  void *ud);

/* Spark's StateSpec. */
typedef struct em_state_spec {
    em_mapping_fn fn;
    void *ud;
    GDestroyNotify destroy; /* called once on ud when the ssc is freed */
    const char *name;       /* the function's name for logs (optional) */
    int num_partitions;     /* state partitions; 0: the context's parallelism */
    em_rdd *initial_state;  /* (k, state) records to start from; referenced; may be NULL */
    em_duration timeout;    /* idle timeout (0: none): a key with no data for this long times
                               out in the first batch at or after its last update + timeout */
} em_state_spec;

/* Spark's mapWithState: the stream of mapped records. Cost per batch grows with the keys in the
 * batch (and those timing out), not with the keys in state. A failed batch (any of its jobs)
 * leaves the state as after the previous batch. On misuse: critical, NULL. */
EM_API em_dstream *em_map_with_state(em_dstream *ds, const em_state_spec *spec);
/* The full (key, state) table after each batch of a mapWithState stream. */
EM_API em_dstream *em_state_snapshots(em_dstream *mapped);
/* Keys in state and bytes the state tables hold now (for figures); 0 for other streams. */
EM_API void em_map_with_state_size(em_dstream *mapped, int64_t *keys, int64_t *bytes);

/* Caches every RDD the stream generates. Returns ds. */
EM_API em_dstream *em_cache(em_dstream *ds);
EM_API em_dstream *em_persist(em_dstream *ds);
/* The RDDs of ds for batch times in [from, to] (both aligned down to the slide), oldest first,
 * as new references in a GPtrArray the caller frees with g_ptr_array_unref() (it unrefs them).
 * Times up to the current batch that were not generated yet are computed (Spark's slice);
 * times already forgotten, later than the current batch, or failed give none. Fails fast (a
 * critical message, NULL) on a NULL stream or one not initialized (before em_ssc_start, or
 * leading to no output operation). */
EM_API GPtrArray *em_slice(em_dstream *ds, em_time from, em_time to);
EM_API em_duration em_dstream_slide(const em_dstream *ds);
EM_API em_ssc *em_dstream_ssc(const em_dstream *ds);

/* ---- Output operations: run in registration order, batches in time order ---- */

/* Prints the first 10 records of every batch, byte for byte as Spark:
 * "-------------------------------------------\nTime: <ms> ms\n-------------------------------
 * ------------\n" then a record per line, "...\n" if there are more, then "\n". To stdout. */
EM_API void em_print(em_dstream *ds);
/* The same with the first num records (Spark's print(num)). */
EM_API void em_print_num(em_dstream *ds, int num);
/* The same, writing to a FILE (borrowed) instead of stdout. */
EM_API void em_print_to(em_dstream *ds, int num, FILE *out);
/* Calls fn with each batch's RDD (borrowed) and time, on the scheduler thread. A false return
 * with err set fails the batch (reported to listeners and to await_termination). */
typedef bool (*em_foreach_rdd_fn)(em_rdd *rdd, em_time time, void *ud, GError **err);
EM_API void em_foreach_rdd_full(em_dstream *ds, em_foreach_rdd_fn fn, void *ud,
                                GDestroyNotify destroy, const char *name);
#define em_foreach_rdd(ds, fn) em_foreach_rdd_full((ds), (fn), NULL, NULL, #fn)
/* Saves every batch with em_rdd_save_as_text_file() as "<prefix>-<ms>" or
 * "<prefix>-<ms>.<suffix>" (suffix NULL or "" for none). */
EM_API void em_save_as_text_files(em_dstream *ds, const char *prefix, const char *suffix);

#endif
