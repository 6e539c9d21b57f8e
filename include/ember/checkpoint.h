/* Surviving restarts: graceful shutdown on SIGTERM/SIGINT, and (with the checkpoint directory)
 * recovery of state, windows, the batch clock and input positions after a crash.
 *
 * C cannot restore code, so recovery always rebuilds the program's graph by calling its own
 * function again, then attaches what the checkpoint saved to it; no code or function pointer
 * is ever stored. */
#ifndef EMBER_CHECKPOINT_H
#define EMBER_CHECKPOINT_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/streaming.h>

/* ---- Graceful shutdown (Spark's spark.streaming.stopGracefullyOnShutdown) ---- */

/* From now on SIGTERM and SIGINT stop ssc gracefully instead of killing the process: receivers
 * stop, every batch holding data already received is generated and processed, a final
 * checkpoint is written when checkpointing is on, and em_ssc_await_termination() returns true
 * so the program can exit 0. A second signal during the stop exits at once (status 128 +
 * signal). The signals are handled on a thread of Ember's (GLib unix signal sources), never in
 * a signal handler. One ssc at a time: another one still registered is an error
 * (EM_ERROR_INVALID). em_ssc_free() gives the signals back their default action. */
EM_API bool em_ssc_stop_gracefully_on_shutdown(em_ssc *ssc, GError **err);

/* ---- Checkpoints (Spark's ssc.checkpoint and StreamingContext.getOrCreate) ---- */

/* Checkpoints ssc into dir (created when first written): after every batch whose time is a
 * multiple of the checkpoint interval of a stateful stream (Spark's defaults: 10 batches for
 * mapWithState, the smallest multiple of the slide >= 10 s for updateStateByKey; every batch
 * when no stream carries state), and after a graceful stop. A checkpoint holds the state of
 * every stateful stream, each input's position and the batch clock; the newest 10 files are
 * kept. The state is copied on the batch thread; compressing and writing the file (temporary
 * file, fsync, rename) run on a thread of their own. A write that fails is logged (a warning
 * naming the file) and counted in em_ssc_checkpoint_figures(); batches go on. Call before
 * em_ssc_start() (a critical message otherwise). dir is copied. */
EM_API void em_ssc_checkpoint(em_ssc *ssc, const char *dir);
/* Spark's DStream.checkpoint(interval): checkpoints are taken at least every interval (a
 * multiple of ds's slide; a critical message otherwise). Before start. */
EM_API void em_dstream_checkpoint(em_dstream *ds, em_duration interval);

/* Builds the program's StreamingContext and graph; recovering tells whether a checkpoint will
 * be attached to it (Spark calls its create function only when there is none; Ember always
 * calls it, since C cannot restore code). Returns a new ssc (not started), or NULL. */
typedef em_ssc *(*em_ssc_create_fn)(bool recovering, void *ud);

typedef struct em_recovery_opts {
    /* Drop the checkpoint's state of stateful operators the program no longer defines (by
     * stable name) instead of refusing to recover. */
    bool drop_unmatched_state;
} em_recovery_opts;

/* Spark's StreamingContext.getOrCreate: reads the newest valid checkpoint of dir (falling back
 * past corrupt ones, with a warning naming each), calls create (always), checkpoints the new
 * ssc into dir, and, when there was a checkpoint, attaches it: the state of each stateful
 * stream (matched by stable name: the name given, or the function's), input positions and the
 * batch clock; em_ssc_start() then goes on with the batch after the checkpoint's (batches
 * generated but not completed then run again; outputs of a re-run batch replace the first
 * run's when the output is idempotent, as saveAsTextFiles). Settings (rates, timeouts, sinks)
 * come from the program. Returns NULL with err set when dir cannot be read, every checkpoint
 * is corrupt, the checkpoint belongs to another program (its app name), the graph changed
 * incompatibly (a stateful operator renamed or removed, a window or the batch interval
 * changed: the message names it), or create returned NULL. opts may be NULL. The caller owns
 * the ssc. */
EM_API em_ssc *em_ssc_get_or_create(const char *dir, em_ssc_create_fn create, void *ud,
                                    const em_recovery_opts *opts, GError **err);
/* The batch time of the checkpoint ssc was recovered from, or -1 when it was created anew. */
EM_API em_time em_ssc_recovered_time(const em_ssc *ssc);

/* Checkpoint figures, for the batch figures: written off the batch thread, so reported here. */
typedef struct em_checkpoint_figures {
    int64_t written;          /* checkpoint files written */
    int64_t failed;           /* writes that failed */
    em_time last_time;        /* batch time of the newest file written, -1 for none */
    int64_t last_bytes;       /* its size */
    int64_t last_snapshot_us; /* time the batch thread spent handing its state over */
    int64_t last_write_us;    /* time the writer spent building, encoding, compressing, syncing */
    int64_t writer_cpu_us;    /* CPU time the writer thread used, in all (all its files) */
} em_checkpoint_figures;
/* Fills *figures (all zero, last_time -1, when checkpointing is off). Any thread. */
EM_API void em_ssc_checkpoint_figures(em_ssc *ssc, em_checkpoint_figures *figures);

#endif
