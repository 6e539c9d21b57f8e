/* Private to libember's streaming room and its tests: what the context's lifecycle calls into
 * checkpointing, recovery and the shutdown hook. */
#ifndef EMBER_RECOVERY_H
#define EMBER_RECOVERY_H

#include "streaming-private.h"

/* Forgets ssc in the signal hook (if it is the one registered) and removes the signal sources;
 * em_ssc_free() calls it first. */
void em__shutdown_forget(em_ssc *ssc);

#endif
