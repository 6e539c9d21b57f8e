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

#endif
