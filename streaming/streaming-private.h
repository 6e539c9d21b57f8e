/* Private to libember's streaming and connector rooms and their tests.
 *
 * The graph: input streams (no parents) and derived streams (parents), and output operations
 * hanging off streams. The generator thread only watches the clock: at each batch time it asks
 * inputs to seal what they received (no user code) and queues the batch. The scheduler thread
 * turns a batch into RDDs (getOrCompute on each output op's stream, which runs transform
 * functions) and runs the output operations in order on the executor, one batch at a time. */
#ifndef EMBER_STREAMING_PRIVATE_H
#define EMBER_STREAMING_PRIVATE_H

#include "core-private.h"

typedef struct em_dstream_class {
    const char *type_name; /* Spark's class name: "MappedDStream", "QueueInputDStream" */
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
    /* Frees ds->state. May be NULL. */
    void (*finalize)(em_dstream *ds);
} em_dstream_class;

/* One generated RDD. */
typedef struct em_generated {
    em_time time;
    em_rdd *rdd;
} em_generated;

struct em_dstream {
    em_ssc *ssc;
    int id;
    const em_dstream_class *klass;
    const char *op;       /* "map", "reduceByKey", "socketTextStream" */
    char *fn_name;
    em_fn fn;
    void *ud_owned;
    GDestroyNotify destroy;
    int num_partitions;   /* for by-key operations: 0 default */
    em_duration slide;
    em_dstream **parents;
    int n_parents;
    int input_id;         /* index among the inputs, or -1 */
    bool cached;
    em_duration remember; /* generated RDDs are kept this long */
    em_time zero_time;
    GMutex lock;          /* guards generated (em_slice reads it from other threads) */
    GArray *generated;    /* em_generated, ascending time */
    int64_t last_records; /* inputs: records in the batch just computed */
    em_any_fn apply;      /* derived streams: how the RDD at t is made from the parents' */
    void *state;
};

typedef struct em_output_op em_output_op;
/* Runs the output operation on the batch's RDD; false with err set fails the batch. */
typedef bool (*em_output_run_fn)(em_output_op *op, em_rdd *rdd, em_time t, GError **err);

struct em_output_op {
    em_dstream *ds;
    int id;
    const char *name;     /* "print", "foreachRDD", "saveAsTextFiles" */
    char *fn_name;
    em_output_run_fn run;
    void *ud;             /* the operation's own data */
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
    /* threads and batches */
    GThread *generator;
    GThread *scheduler;
    GAsyncQueue *batches; /* queued_batch* (ssc.c); a negative time stops the scheduler */
    em_time next_batch;   /* the generator's next batch time */
    em_time last_done;    /* the newest batch completed (or failed) */
    bool stopping;        /* stop requested: the generator stops generating */
    bool graceful;
    bool scheduler_done;  /* the scheduler thread has left its loop */
    bool self_stop;       /* stopped from a callback: the scheduler completes the stop */
    int64_t stop_after;   /* em_ssc_stop_after_batches(): batches left, 0 for no limit */
    bool terminated;      /* stop complete */
    bool stop_context;
    GError *failure;      /* the first batch failure */
    int next_stream_id;
    struct em__monitor *monitor; /* progress figures and the page (ui-private.h) */
};

/* ---- DStreams ---- */

/* A derived stream over parents with the parents' slide (they must share it: otherwise a
 * critical message naming the durations, and NULL). op and klass are static. */
em_dstream *em__dstream_new(em_ssc *ssc, const em_dstream_class *klass, const char *op,
                            em_dstream *const *parents, int n_parents);
/* An input stream: slide = the batch interval; registered among the ssc's inputs. */
em_dstream *em__input_new(em_ssc *ssc, const em_dstream_class *klass, const char *op);
void em__dstream_set_fn(em_dstream *ds, em_any_fn call, void *ud, GDestroyNotify destroy,
                        const char *name);
/* The RDD of ds at t: generated once and remembered; NULL when t is not a multiple of the
 * slide from zero, or compute gave none (check *err). Returns a borrowed reference. */
em_rdd *em__dstream_get_or_compute(em_dstream *ds, em_time t, GError **err);
/* Forgets RDDs older than t - remember, here and in the parents. */
void em__dstream_clear(em_dstream *ds, em_time t);
/* Count and bytes of the RDDs ds and its parents keep (each stream counted once). */
void em__dstream_retained(em_dstream *ds, GHashTable *seen, int64_t *batches, int64_t *bytes);
void em__dstream_free(em_dstream *ds);
/* Checks a DSL call's stream argument: non-NULL and the ssc not started. */
bool em__dstream_check(const em_dstream *ds, const char *what);
/* Checks a window's durations against its parent (critical message naming them when wrong). */
bool em__check_window(const em_dstream *parent, em_duration window, em_duration slide,
                      const char *op);
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

/* Wall-clock milliseconds (listener figures). */
int64_t em__now_ms(void);

#endif
