/* Private to libember's streaming and connector rooms and their tests.
 *
 * Spark's rooms: the graph (graph.c) holds input streams (no parents), derived streams
 * (parents) and the output operations hanging off streams. The job generator (job-generator.c)
 * only watches the clock: at each batch time it asks inputs to seal what they received (no user
 * code) and queues the batch. The job scheduler (job-scheduler.c) turns a batch into RDDs
 * (getOrCompute on each output op's stream, which runs transform functions), runs the output
 * operations in order on the executor, one batch at a time, and completes the batch. The
 * listener bus (listener-bus.c) carries events; ssc.c is the lifecycle. */
#ifndef EMBER_STREAMING_PRIVATE_H
#define EMBER_STREAMING_PRIVATE_H

#include "core-private.h"
#include <ember.h>

typedef struct em_ckpt em_ckpt;

/* A DStream kind: its class (the methods) and its struct, which embeds em_dstream as its first
 * member and adds what the kind needs, typed (as GStreamer's and libuv's handles do):
 *
 *     typedef struct { em_dstream base; em_map_fn fn; } map_dstream;
 *     static const em_dstream_class map_class = {.instance_size = sizeof(map_dstream), ...};
 *     map_dstream *m = (map_dstream *)em__dstream_new(ssc, &map_class, "map", &parent, 1);
 *
 * The user data given with a function has one owner, the base (em__dstream_own): the kind keeps
 * the typed function and calls it with ds->ud. */
typedef struct em_dstream_class {
    const char *type_name; /* Spark's class name: "MappedDStream", "QueueInputDStream" */
    size_t instance_size;  /* the kind's struct (em_dstream first); 0: a plain em_dstream */
    /* The RDD at valid time t as a new reference, or NULL for none (an input that has nothing
     * to say, or a failure: then set *err). Runs on the scheduler thread. */
    em_rdd *(*compute)(em_dstream *ds, em_time t, GError **err);
    /* Inputs: called on the generator thread at batch time t, before the batch is queued, to
     * seal what was received up to t. Must not run user code. May be NULL. */
    void (*seal)(em_dstream *ds, em_time t);
    /* Inputs: start / stop receiving (start before the first batch; stop joins threads). */
    bool (*start)(em_dstream *ds, GError **err);
    void (*stop)(em_dstream *ds, bool graceful);
    /* Inputs: whether received data waits for a batch (graceful stop drains it). */
    bool (*has_pending)(em_dstream *ds);
    /* How much longer than this stream's own remember its parents must remember (windows). */
    em_duration (*parent_remember_extra)(const em_dstream *ds);
    /* Frees what the kind's struct holds: not the user data, which the base frees, nor the
     * struct itself. May be NULL. */
    void (*finalize)(em_dstream *ds);
    /* Called by the job scheduler on every stream of the graph once per batch, after all the
     * batch's output jobs ran, in stream creation order: succeeded is false when any job of
     * the batch failed (generation or output). A stateful stream keeps its state as after the
     * previous batch when it is false. Scheduler thread. May be NULL. */
    void (*batch_done)(em_dstream *ds, em_time t, bool succeeded);
    /* Checkpoints (recovery.c). Puts what the stream carries across a restart (its state, an
     * input's position) into ck under its stable name, as after batch t: scheduler thread,
     * after batch t completed. NULL for streams that carry nothing. */
    void (*checkpoint_save)(em_dstream *ds, em_ckpt *ck, const char *name, em_time t);
    /* Takes back what checkpoint_save put at time t, before the ssc starts; false with err
     * (naming the record) when it cannot. */
    bool (*checkpoint_restore)(em_dstream *ds, const em_ckpt *ck, const char *name, em_time t,
                               GError **err);
    /* Inputs with offsets (Kafka): the ranges batch t read, a new array of *n whose topics are
     * g_strdup'ed (the caller frees each, then the array); NULL when t is unknown. Any thread.
     * May be NULL. */
    em_input_offset_range *(*offset_ranges)(em_dstream *ds, em_time t, size_t *n);
} em_dstream_class;

/* One generated RDD, or the failure to generate it (rdd NULL, error set): a failed time is
 * remembered as such, so it is never recomputed through parents that forgot it. */
typedef struct em_generated {
    em_time time;
    em_rdd *rdd;
    GError *error;
} em_generated;

struct em_dstream {
    em_ssc *ssc;
    int id;
    const em_dstream_class *klass;
    const char *op;         /* "map", "reduceByKey", "socketTextStream" */
    char *fn_name;          /* the user function's name, or NULL */
    void *ud;               /* the user data given with the function ... */
    GDestroyNotify destroy; /* ... freed with this exactly once, when the stream is freed */
    em_duration slide;
    em_dstream **parents;
    int n_parents;
    int input_id; /* index among the inputs, or -1 */
    bool cached;
    em_duration remember; /* generated RDDs are kept this long */
    em_time zero_time;
    bool initialized; /* zero time and remember set at start: the stream leads to an output */
    GMutex lock;      /* guards generated (em_slice reads it from other threads) */
    em_time forgotten_until; /* RDDs at times <= this were forgotten (clear) */
    GArray *generated;       /* em_generated, ascending time */
    int64_t last_records;    /* inputs: records in the batch just computed */
    bool last_blocked;       /* inputs: stores waited for unprocessed blocks since the last one */
};

typedef struct em_output_op em_output_op;
/* Runs the output operation on the batch's RDD; false with err set fails the batch. */
typedef bool (*em_output_run_fn)(em_output_op *op, em_rdd *rdd, em_time t, GError **err);

struct em_output_op {
    em_dstream *ds;
    int id;
    const char *name; /* "print", "foreachRDD", "saveAsTextFiles" */
    char *fn_name;
    em_output_run_fn run;
    void *ud; /* the operation's own data */
    GDestroyNotify destroy;
};

typedef struct em_listener_entry {
    em_listener l;
    void *ud;
} em_listener_entry;

struct em_ssc {
    em_context *sc;
    bool owns_sc;
    em_duration batch;
    em_ssc_state state;
    GMutex lock;
    GCond cond;           /* any change: clock, batches done, state */
    GPtrArray *streams;   /* every em_dstream, owned */
    GPtrArray *inputs;    /* input streams (borrowed from streams) */
    GPtrArray *outputs;   /* em_output_op, owned */
    GArray *listeners;    /* em_listener_entry */
    em_duration remember; /* em_ssc_remember() */
    /* clock */
    bool manual;
    em_time manual_now;
    em_time zero_time;
    bool receiver_wal; /* em_ssc_opts.receiver_wal */
    /* threads and batches */
    GThread *generator;
    GThread *scheduler;
    GAsyncQueue *batches;    /* em_queued_batch*; one with stop set ends the scheduler */
    GRecMutex generate_lock; /* held while RDDs are generated (the scheduler, em_slice) */
    em_time current_batch;   /* the newest batch the scheduler started, G_MININT64 before */
    em_time next_batch;      /* the generator's next batch time */
    em_time last_done;       /* the newest batch completed (or failed) */
    bool stopping;           /* stop requested: the generator stops generating */
    bool graceful;
    bool scheduler_done; /* the scheduler thread has left its loop */
    bool self_stop;      /* stopped from a callback: the scheduler completes the stop */
    int64_t stop_after;  /* em_ssc_stop_after_batches(): batches left, 0 for no limit */
    bool terminated;     /* stop complete */
    bool stop_context;
    GError *failure; /* the first batch failure */
    int next_stream_id;
    struct em_recovery *recovery; /* checkpointing and recovery (recovery.c), NULL when off */
    struct em__monitor *monitor;  /* progress figures and the page (ui-private.h) */
};

/* A batch the generator queued for the scheduler, and when: Spark's submission time, from
 * which the scheduling delay counts. stop marks the end of the queue (no batch). */
typedef struct em_queued_batch {
    em_time time;
    int64_t submitted;
    bool stop;
} em_queued_batch;

/* ---- The graph (graph.c): streams, inputs, outputs, remember durations ---- */

/* Sets every stream's zero time and remember duration from the outputs down (start). */
void em__graph_init(em_ssc *ssc, em_time zero);
/* Starts the inputs; on failure stops the ones started and returns false with err set. */
bool em__graph_start_inputs(em_ssc *ssc, GError **err);
/* Stops every input (receivers first on a stop, so that nothing new arrives). */
void em__graph_stop_inputs(em_ssc *ssc, bool graceful);
/* Inputs: seal what was received up to t (generator thread); whether any has data waiting. */
void em__graph_seal_inputs(em_ssc *ssc, em_time t);
bool em__graph_inputs_pending(em_ssc *ssc);
/* Generates the RDD of every output operation at t (Spark's DStreamGraph.generateJobs):
 * rdds[i] is output i's RDD (borrowed) or NULL; errors[i] its generation failure, if any.
 * Every output is generated even when an earlier one failed. Both arrays have one slot per
 * output; the caller frees the errors. */
void em__graph_generate(em_ssc *ssc, em_time t, em_rdd **rdds, GError **errors);
/* Forgets the RDDs no stream needs after batch t (Spark's clearMetadata), and counts the
 * RDDs still kept in *batches / *bytes (either may be NULL). */
void em__graph_clear_metadata(em_ssc *ssc, em_time t, int64_t *batches, int64_t *bytes);
/* Calls every stream's batch_done hook for batch t. */
void em__graph_batch_done(em_ssc *ssc, em_time t, bool succeeded);
/* Frees the output operations (their destroy notifies) and the streams. */
void em__graph_free(em_ssc *ssc);

/* ---- The job generator (job-generator.c): the clock's thread ---- */

/* The first batch time for a clock at now: the next multiple of batch after now. */
em_time em__job_generator_first_batch(em_time now, em_duration batch);
/* Starts the generator thread; the first batch is at first. */
void em__job_generator_start(em_ssc *ssc, em_time first);
/* Joins the generator thread (after ssc->stopping was set); it queues the stop marker. */
void em__job_generator_stop(em_ssc *ssc);
/* Seals the inputs at t and queues batch t for the scheduler: the seam a checkpoint restart
 * calls to replay a batch time. */
void em__job_generator_generate(em_ssc *ssc, em_time t);

/* ---- The job scheduler (job-scheduler.c): batches one after another ---- */

/* Starts the scheduler thread: it runs the queued batches until the stop marker. */
void em__job_scheduler_start(em_ssc *ssc);
/* Runs batch t now on the calling thread: generates its RDDs, runs each output operation as a
 * job of its own, then completes the batch. */
void em__job_scheduler_run_batch(em_ssc *ssc, em_time t, int64_t submitted);
/* Batch t's jobs all ran (succeeded: none failed): calls every stream's batch_done, then
 * clears metadata up to t, counting what stays into info's retained figures (info may be
 * NULL). The seam after which a checkpoint of batch t can be written. */
void em__job_scheduler_batch_completed(em_ssc *ssc, em_time t, bool succeeded,
                                       em_batch_info *info);
/* Ends a stop (ssc.c): releases the active slot and marks the ssc terminated. */
void em__ssc_finish_stop(em_ssc *ssc);

/* ---- The listener bus (listener-bus.c) ---- */

/* The listeners now, as a new array: events of one batch go to the listeners it started with. */
GArray *em__listener_bus_snapshot(em_ssc *ssc);
typedef enum { EM_BATCH_SUBMITTED, EM_BATCH_STARTED, EM_BATCH_COMPLETED } em_batch_event;
/* Calls the event's callback of every listener in listeners (a snapshot), in registration
 * order, on the calling thread. */
void em__listener_bus_post_batch(GArray *listeners, em_batch_event event,
                                 const em_batch_info *info);
/* The same for output_op_started (started) or output_op_completed. */
void em__listener_bus_post_output_op(GArray *listeners, bool started,
                                     const em_output_op_info *info);

/* ---- DStreams ---- */

/* A derived stream over parents with the parents' slide (they must share it: otherwise a
 * critical message naming the durations, and NULL). op and klass are static; the stream is
 * klass->instance_size bytes, zeroed past the base. */
em_dstream *em__dstream_new(em_ssc *ssc, const em_dstream_class *klass, const char *op,
                            em_dstream *const *parents, int n_parents);
/* An input stream: slide = the batch interval; registered among the ssc's inputs. */
em_dstream *em__input_new(em_ssc *ssc, const em_dstream_class *klass, const char *op);
/* Gives ds the user data of its function and the function's name (copied; NULL for none):
 * destroy(ud) runs exactly once, when the stream is freed. */
void em__dstream_own(em_dstream *ds, void *ud, GDestroyNotify destroy, const char *name);
/* The RDD of ds at t: generated once and remembered; NULL when t is not a multiple of the
 * slide from zero, or compute gave none (check *err). A failed compute is remembered too: a
 * later call for t gives the same error without computing again. Returns a borrowed
 * reference. */
em_rdd *em__dstream_get_or_compute(em_dstream *ds, em_time t, GError **err);
/* Forgets RDDs older than t - remember, here and in the parents. */
void em__dstream_clear(em_dstream *ds, em_time t);
/* Count and bytes of the RDDs ds and its parents keep (each stream counted once). */
void em__dstream_retained(em_dstream *ds, GHashTable *seen, int64_t *batches, int64_t *bytes);
void em__dstream_free(em_dstream *ds);
/* Checks a DSL call's stream argument: non-NULL and the ssc not started. */
bool em__dstream_check(const em_dstream *ds, const char *what);
/* Registers an output operation on ds (fails fast after start). */
void em__output_add(em_dstream *ds, const char *name, em_output_run_fn run, void *ud,
                    GDestroyNotify destroy, const char *fn_name);

/* ---- The context ---- */

typedef enum { EM_RECEIVER_STARTED, EM_RECEIVER_ERROR, EM_RECEIVER_STOPPED } em_receiver_event;
/* Calls the listeners' receiver callbacks on the calling thread (a receiver's). */
void em__ssc_emit_receiver(em_ssc *ssc, em_receiver_event event, const em_receiver_info *info);

/* ---- Receivers (receiver.c), for connectors built on them ---- */

/* em_receiver_stream() with the stream's op ("socketTextStream", static). */
em_dstream *em__receiver_stream_new(em_ssc *ssc, const char *op, const em_receiver_funcs *funcs,
                                    void *ud, const em_receiver_opts *opts);
/* The ud of a receiver stream made with funcs (same on_start), or NULL when ds is not one. */
void *em__receiver_stream_ud(const em_dstream *ds, const em_receiver_funcs *funcs);

/* em_receiver_store_many() of lines read into buf[0..len): strings of vs inside it and laid out
 * one after the other (at most two bytes apart: "\n" or "\r\n") are copied into the block's
 * arena in one piece per run stored; any others (in the scratch) one by one. */
void em__receiver_store_lines(em_receiver *r, const em_value *vs, size_t n, const char *buf,
                              size_t len);

/* What a receiver's em_receiver_store is doing (for tests that step the manual clock). */
typedef enum {
    EM__RECEIVER_RUNNING,           /* not waiting */
    EM__RECEIVER_WAITS_FOR_RATE,    /* the rate limiter waits for the clock */
    EM__RECEIVER_WAITS_FOR_BATCHES, /* past max_pending_bytes: waits for a batch to take them */
} em__receiver_wait;
/* Blocks until a store of receiver stream ds waits for `what` (no timeout); returns the records
 * stored by then. */
int64_t em__receiver_await_waiting(const em_dstream *ds, em__receiver_wait what);
/* The records/s the receiver is held to now (the max rate or the backpressure estimate), 0
 * for no limit. */
double em__receiver_rate(const em_dstream *ds);
/* Feeds the receiver's backpressure controller a completed batch as its listener does (no-op
 * without backpressure). */
void em__receiver_on_batch_completed(em_dstream *ds, const em_batch_info *info);
/* Bytes stored and not yet taken by a computed batch (what max_pending_bytes bounds). */
int64_t em__receiver_pending_bytes(const em_dstream *ds);

/* The file names a textFileStream remembers now, or -1 when ds is not one. */
int64_t em__file_stream_remembered(const em_dstream *ds);

/* Wall-clock milliseconds (listener figures). */
int64_t em__now_ms(void);

/* mapWithState's checkpoints: a full copy once a chain holds n files (64 by default; tests make
 * chains short). Before em_ssc_start. */
void em__map_with_state_full_every(em_dstream *mapped, int n);

#endif
