/* Private to libember's receivers (receiver.c, receiver-wal.c): the receiver supervisor's
 * struct, and the write-ahead log's part of it (Spark's WriteAheadLogBasedBlockHandler and the
 * ReceivedBlockTracker's allocation log, in one log per receiver). */
#ifndef EMBER_RECEIVER_PRIVATE_H
#define EMBER_RECEIVER_PRIVATE_H

#include "rate-estimator.h"
#include "streaming-private.h"
#include "wal.h"

/* The blocks the generator gave to batch `time`, until the scheduler computes it. */
typedef struct received_batch {
    em_time time;
    GPtrArray *blocks; /* em_values *, owned */
    int64_t bytes;
    GArray *seqs; /* uint64_t: the log records of its blocks (write-ahead log only), or NULL */
} received_batch;

struct em_receiver {
    em_dstream *ds; /* NULL once the stream is finalized (an abandoned thread may outlive it) */
    em_ssc *ssc;
    int stream_id;
    gint refs; /* the stream's, and the receiver thread's while it runs */
    em_receiver_funcs funcs;
    char *name;
    void *ud;
    em_duration block_interval;
    int64_t max_rate;          /* the fixed cap, 0 none */
    int64_t max_pending_bytes; /* stores wait past this many unprocessed bytes */
    em_duration stop_timeout;
    em__rate_estimator *estimator; /* backpressure, or NULL */
    GThread *thread;
    GMutex lock;     /* guards everything below */
    GCond cond;      /* any change: stop, restart, rate, blocks taken by a batch, thread end */
    bool stopped;    /* stop requested: for good */
    bool restarting; /* restart requested: on_stop, wait, on_start */
    char *restart_message;
    int64_t restart_delay;
    bool stop_owed;   /* on_start was called and its on_stop not yet */
    bool finished;    /* the receiver is stopped: stores are dropped */
    bool thread_done; /* receiver_main has returned */
    bool abandoned;   /* its on_start did not return within the stop timeout */
    gint wake_seq;    /* atomic: bumped to end a wait on the manual clock (stop, new rate) */
    int start_seq;    /* wake_seq when the thread was made: a stop since ends wait_for_active */
    /* Block generator. */
    em_values *block;      /* the current block, or NULL */
    int64_t block_tick;    /* clock time / block interval when the current block began */
    GPtrArray *sealed;     /* em_values *: blocks not given to a batch yet */
    GQueue batches;        /* received_batch *: blocks given to batches not computed yet */
    int64_t pending_bytes; /* of sealed and batches: handed to no computed batch yet */
    int64_t stored;
    em__receiver_wait waiting; /* what store is waiting for now */
    bool blocked;              /* store waited for pending blocks since the last compute */
    int64_t blocked_total;     /* stores that had to wait for pending blocks */
    /* Rate limiter: a token bucket holding up to one second of records, on the ssc's clock. */
    double rate; /* records/s now: the estimate capped by max_rate, 0 unlimited */
    double tokens;
    em_time refilled; /* clock ms of the last refill */
    bool bucket_started;
    /* The write-ahead log (receiver-wal.c), when the ssc has receiver_wal. */
    bool wal_on;
    em_wal *wal;           /* opened at start */
    size_t block_logged;   /* items of the current block already in the log */
    GArray *block_seqs;    /* uint64_t: the log records holding the current block */
    GArray *sealed_seqs;   /* uint64_t: those holding the sealed blocks, in order */
    GArray *marks;         /* em__wal_mark: batches allocated in the log, ascending time */
    GHashTable *replay;    /* em_time * -> em__replayed *: batches to seal again */
    uint64_t restored_seq; /* the checkpoint's log position: allocations up to it are done */
    GByteArray *encoded;   /* a record being encoded (reused) */
};

/* A batch's allocation in the log: the record, and the oldest record its blocks need. */
typedef struct em__wal_mark {
    em_time time;
    uint64_t alloc_seq;
    uint64_t min_seq;
} em__wal_mark;

/* The stream holds one reference on its receiver, which an abandoned thread may outlive. */
typedef struct {
    em_dstream base;
    em_receiver *r;
} receiver_stream;

static inline em_receiver *receiver_of(const em_dstream *ds)
{
    return ((const receiver_stream *)ds)->r;
}

/* Block generator helpers (receiver.c). */
int64_t em__receiver_values_bytes(const em_values *block);
GPtrArray *em__receiver_blocks_new(void);
void em__received_batch_free(received_batch *b);

/* Start: opens the log under the checkpoint directory and reads back what a previous run left:
 * the batches after the checkpoint to seal again with their blocks, and the blocks no batch
 * took (they go to the next batch). False with err when there is no checkpoint directory or
 * the log cannot be read (naming the segment). */
bool em__receiver_wal_start(em_receiver *r, em_dstream *ds, GError **err);
/* Appends the current block's records not logged yet as one record and fsyncs it; they then
 * count as stored. r->lock held. False with err naming the segment. */
bool em__receiver_wal_log_tail(em_receiver *r, GError **err);
/* The generator's seal of batch t, r->lock held. Replayed batches of earlier times (a restart
 * on the system clock has other batch times) join the sealed blocks; then, when t was
 * allocated before a restart, b gets its blocks and records again and it returns true. */
bool em__receiver_wal_take_replayed(em_receiver *r, received_batch *b, em_time t);
/* Logs that batch t has the blocks of the records b->seqs (a warning when it cannot: then a
 * crash gives them to a later batch). r->lock held. */
void em__receiver_wal_log_batch(em_receiver *r, const received_batch *b, em_time t);
/* Deletes the segments that neither a batch after the newest written checkpoint nor a block
 * not yet in a batch needs. r->lock held. */
void em__receiver_wal_clean(em_receiver *r);
/* The checkpoint's position of the log (the allocation record of batch t) and back. */
void em__receiver_wal_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t);
bool em__receiver_wal_restore(em_dstream *ds, const em_ckpt *ck, const char *name, em_time t,
                              GError **err);
/* Frees the log's part of r. */
void em__receiver_wal_free(em_receiver *r);

#endif
