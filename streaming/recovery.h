/* Private to libember's streaming room and its tests: what the context's lifecycle calls into
 * checkpointing, recovery and the shutdown hook (recovery.c, shutdown.c). */
#ifndef EMBER_RECOVERY_H
#define EMBER_RECOVERY_H

#include "streaming-private.h"

/* Forgets ssc in the signal hook (if it is the one registered) and removes the signal sources;
 * em_ssc_free() calls it first. */
void em__shutdown_forget(em_ssc *ssc);

/* em_ssc_start(), once the zero time and the first batch time are computed from the clock and
 * before the graph is initialized: a recovered ssc takes its zero time from the checkpoint and
 * goes on with the batch after the checkpoint's (*first), its manual clock moved up to the
 * checkpoint's time; the checkpoint writer thread starts. No-op when checkpointing is off. */
void em__recovery_start(em_ssc *ssc, em_time *first);
/* The job scheduler, after batch t completed (every stream's batch_done ran): when t is a
 * checkpoint time, copies (or hands over, for the writer to encode) every stateful stream's
 * state and every input's position and hands them to the writer, and returns the microseconds that
 * took; -1 when t takes no checkpoint. Once the file is written, the writer reports the whole time
 * to the progress monitor (em__monitor_checkpoint_written). Scheduler thread. */
int64_t em__recovery_batch_completed(em_ssc *ssc, em_time t);
/* The end of a stop: after a graceful one a final checkpoint of the newest completed batch;
 * then the writer finishes what it was given and ends. Idempotent. */
void em__recovery_stop(em_ssc *ssc);
/* Where an input keeps a log of its own under the checkpoint directory:
 * "<dir>/inputs/<its stable name>" (newly allocated), or NULL when checkpointing is off. */
char *em__recovery_input_log(em_dstream *ds);
/* The batch time of the newest checkpoint written to disk, -1 for none: what an input's own
 * log no longer needs. Any thread. */
em_time em__recovery_last_written(em_ssc *ssc);
/* A batch as checkpoints store it (its partition count, then its records) made an RDD again:
 * hash-partitioned by key when every record is a pair, computed and without lineage. NULL with
 * err when the stored values are not such a batch. */
em_rdd *em__recovery_rebuild(em_context *sc, const em_value *stored, size_t n, GError **err);
/* em_ssc_free(): frees what recovery keeps. */
void em__recovery_free(em_ssc *ssc);

#endif
