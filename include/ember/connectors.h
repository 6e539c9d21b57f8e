/* Where streams come from: queues of RDDs, custom receivers, sockets and directories of files
 * (Kafka is to come). Each input is a DStream owned by the StreamingContext. */
#ifndef EMBER_CONNECTORS_H
#define EMBER_CONNECTORS_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/streaming.h>

/* A thread-safe queue of RDDs for em_queue_stream(); push RDDs before or after start. */
typedef struct em_rdd_queue em_rdd_queue;
EM_API em_rdd_queue *em_rdd_queue_new(void);
/* Appends a reference to rdd (the caller keeps its own). */
EM_API void em_rdd_queue_push(em_rdd_queue *queue, em_rdd *rdd);
EM_API size_t em_rdd_queue_length(em_rdd_queue *queue);
/* Frees the queue and unrefs the RDDs left in it. Free it after the ssc using it. */
EM_API void em_rdd_queue_free(em_rdd_queue *queue);
/* How a queue stream takes from its queue (Spark's oneAtATime). */
typedef enum em_queue_flags {
    EM_QUEUE_ONE_AT_A_TIME = 0,    /* each batch takes the next queued RDD (Spark's default) */
    EM_QUEUE_ALL_AT_ONCE = 1 << 0, /* each batch takes the union of all queued RDDs */
} em_queue_flags;
/* Spark's queueStream: each batch takes from the queue as flags say; with none queued,
 * default_rdd (referenced) if not NULL, else an empty RDD. The queue is borrowed. */
EM_API em_dstream *em_queue_stream(em_ssc *ssc, em_rdd_queue *queue, em_queue_flags flags,
                                   em_rdd *default_rdd);

/* ---- textFileStream: new files in a directory (Spark's FileInputDStream) ----
 * At each batch time t the directory is listed; a regular file counts once, in the first batch
 * in which its name appears, and is not read again (even if rewritten) while its modification
 * time is within the remember window: min_remember (60 s) rounded up to whole batches. As in
 * Spark, a file whose modification time is older than t minus that window is ignored, and the
 * names remembered are forgotten once their time falls out of it, so memory stays bounded on a
 * long run (a file rewritten after that counts again). Times are compared with the ssc's clock:
 * on a manual clock, set files' times to match it. Names starting with '.' or '_', or ending
 * in "._COPYING_" or ".tmp", and subdirectories are ignored: write a file elsewhere (or under
 * such a name) and rename it in. The batch is the union of em_text_file() over its new files in
 * name order, one partition per file up to a block (an empty RDD when none); a file that cannot
 * be read fails its batch naming the file, as does a file named .gz that does not hold gzip
 * data, and a directory that cannot be listed; the stream goes on. Batch records are reported
 * as 0, as Spark does for file streams. */
typedef struct em_file_stream_opts {
    bool new_files_only; /* files already there at em_ssc_start() are ignored (Spark's default) */
    em_duration min_remember; /* 0: 60 s (spark.streaming.fileStream.minRememberDuration) */
} em_file_stream_opts;
/* The stream of dir's new files; opts NULL for Spark's defaults (new files only). Returns NULL
 * with err set (EM_ERROR_IO, naming the path) when dir is not a directory that can be read.
 * The stream is owned by the ssc. */
EM_API em_dstream *em_text_file_stream_full(em_ssc *ssc, const char *dir,
                                            const em_file_stream_opts *opts, GError **err);
/* The short form with Spark's defaults; on error it logs a critical message naming the path
 * and returns NULL. */
EM_API em_dstream *em_text_file_stream(em_ssc *ssc, const char *dir);

/* ---- Receivers: Spark's Receiver API, for sources that push records ----
 * Ember runs each receiver on a thread of its own from em_ssc_start() on. on_start runs there
 * and may block, receiving and calling em_receiver_store() until em_receiver_is_stopped() turns
 * true (it may also start threads of its own and return, as in Spark). on_stop is called once
 * after each on_start, from the thread that stops the receiver (em_ssc_stop(); the receiver's
 * own for a restart), possibly while on_start is still starting up: it must make on_start
 * return within a second (shut down its socket, wake its poll) and end the threads on_start
 * started. Listeners' receiver events run on the receiver's thread. Stored records are cut into
 * blocks, one per block interval of the ssc's clock (the manual clock in tests); at batch time t
 * every block received up to t (the current one too) becomes one partition of batch t's RDD
 * (Spark's BlockRDD). em_ssc_stop() may be called from the receiver's own thread (on_start, a
 * receiver listener). A receiver whose on_start has not returned stop_timeout after on_stop is
 * abandoned: a warning, a receiver_error event naming it, and em_ssc_stop() goes on; its thread
 * keeps ud (destroyed when on_start finally returns) and listeners hear no more from it.
 *
 * Memory stays bounded under overload: once the records stored and not yet taken by a computed
 * batch pass max_pending_bytes, em_receiver_store() waits for the scheduler to catch up (a
 * socket receiver stops reading and TCP holds the sender back); em_batch_info.blocked_inputs
 * reports it. Rates: max_rate caps records/s for good; backpressure adapts the rate to what
 * batches manage (Spark's PID estimator: proportional 1.0, integral 0.2, derivative 0, minimum
 * 100 records/s), fed by each completed batch, starting from initial_rate. */
typedef struct em_receiver em_receiver;

typedef struct em_receiver_funcs {
    const char *name;                           /* for listeners: "SocketReceiver"; copied */
    void (*on_start)(em_receiver *r, void *ud); /* required */
    void (*on_stop)(em_receiver *r, void *ud);  /* may be NULL */
    GDestroyNotify destroy; /* frees ud once: when the ssc is freed, or when creation fails */
} em_receiver_funcs;

typedef struct em_receiver_opts {
    em_duration block_interval; /* 0: 200 ms (Spark's spark.streaming.blockInterval) */
    int64_t max_rate;           /* records per second, 0 unlimited (receiver.maxRate) */
    bool backpressure;          /* adapt the rate to processing (backpressure.enabled) */
    int64_t initial_rate;       /* with backpressure: records/s until the first estimate, 0
                                   unlimited; capped by max_rate (backpressure.initialRate) */
    int64_t max_pending_bytes;  /* stores wait past this many unprocessed bytes; 0: 256 MiB */
    em_duration stop_timeout;   /* how long a stop waits for on_start to return; 0: 10 s */
} em_receiver_opts;

/* Spark's receiverStream: an input stream fed by the receiver funcs with ud. funcs is copied;
 * opts may be NULL. Fails fast (a critical message, ud destroyed, NULL) on a NULL ssc or
 * on_start, negative options, or an ssc already started. The stream is owned by the ssc. */
EM_API em_dstream *em_receiver_stream(em_ssc *ssc, const em_receiver_funcs *funcs, void *ud,
                                      const em_receiver_opts *opts);
/* Copies v with its payload into the current block (v may point into a buffer the caller
 * reuses, or into em_scratch()). With a rate (max_rate, backpressure) it blocks the caller as
 * long as it takes to keep it, on the ssc's clock (a token bucket allowing one second's burst,
 * as Spark's RateLimiter); past max_pending_bytes it blocks until a batch takes the blocks. A
 * stop ends both waits. Callable from any thread; records stored once the receiver has stopped
 * are dropped. */
EM_API void em_receiver_store(em_receiver *r, em_value v);
/* em_receiver_store() of vs[0..n) in order, taking the receiver's lock and reading the clock
 * once per run of records rather than per record: a run is cut where the rate limiter's
 * allowance ends (the rest waits for tokens, then goes at the clock's time then), and the
 * memory bound is checked before each run (a run may pass it by at most its own size). The
 * values and their payloads are copied; vs stays the caller's. */
EM_API void em_receiver_store_many(em_receiver *r, const em_value *vs, size_t n);
/* Restarts the receiver: once on_start has returned (em_receiver_is_stopped() turns true so
 * that its loop ends), on_stop, a wait of delay_ms, then on_start again, all on the receiver's
 * thread. Listeners see receiver_stopped with "Restarting receiver with delay <ms> ms:
 * <message>" and receiver_started again, as in Spark. A stop during the wait ends it. */
EM_API void em_receiver_restart(em_receiver *r, const char *message, int64_t delay_ms);
/* Reports a non-fatal error to listeners (receiver_error with message, on the calling thread);
 * the receiver goes on. */
EM_API void em_receiver_report_error(em_receiver *r, const char *message);
/* True once the receiver is stopping or restarting: a receiving loop ends then. */
EM_API bool em_receiver_is_stopped(em_receiver *r);
/* Makes the records stored so far durable (Spark's reliable store(ArrayBuffer)). With the
 * receivers' write-ahead log on (em_ssc_opts.receiver_wal), the current block's records not
 * logged yet are appended to the log under "<checkpoint dir>/inputs/<stream>" and fsynced before
 * it returns: a receiver acknowledges its source only after this. Without the log it does
 * nothing and returns true. Returns false with err (EM_ERROR_IO, naming the segment) when they
 * could not be logged: they still go to the next batch, but a crash now loses them. Blocks are
 * logged at the end of their block interval and at batch time anyway; after a crash, the
 * batches generated but not completed get exactly their blocks again from the log, and logged
 * blocks no batch took go to the next batch. Receiver thread (any thread storing). */
EM_API bool em_receiver_commit(em_receiver *r, GError **err);
/* Records the receiver stream has stored since it started (with the write-ahead log on: those
 * durably logged), -1 (and a critical message) when ds is not a receiver stream. */
EM_API int64_t em_receiver_stream_records(const em_dstream *ds);

/* ---- socketTextStream / socketStream: lines from a TCP server ----
 * A receiver ("SocketReceiver") connects to host:port and stores one record per line: lines
 * end at \n, a \r before it is dropped, and a last line without \n is stored when the peer
 * closes. A line longer than max_line bytes is dropped, counted and reported to listeners
 * (receiver_error), never fatal. When the peer is not up, goes away or fails, the receiver
 * logs a warning (g_warning, domain "ember") and reports the error to listeners, both naming
 * host:port, and reconnects after 100 ms, doubling the wait on each failure up to 2 s; a
 * connection resets the wait. Stop interrupts a connect, read or wait. A peer faster than the
 * batches is held back by TCP once max_pending_bytes is reached (em_receiver_opts).
 * Delivery is at most once: lines read but not yet processed are lost in a crash. With the
 * receivers' write-ahead log on (em_ssc_opts.receiver_wal), every line read is logged and
 * fsynced (em_receiver_commit) before the next read, so a crash loses only what TCP had not
 * handed over yet. */
typedef struct em_socket_opts {
    size_t max_line;           /* bytes in a line (without \r\n); 0: 1 MiB; at most 4 GiB */
    em_receiver_opts receiver; /* block interval and max rate */
} em_socket_opts;

/* socketStream's converter: a line's bytes (without \r\n; valid during the call only) to a
 * record, or em_none() to skip the line. The record's payload may point into the line or
 * em_scratch(): Ember copies it once the lines of the read it came in are stored, and then
 * resets the receiver thread's scratch (a converter must not reset it itself). */
typedef em_value (*em_line_converter)(const char *line, size_t len, void *ud);

/* A stream of string records, one per UTF-8 line (invalid bytes become U+FFFD, as Spark's
 * reader decodes them). Fails fast (a critical message, NULL) on a NULL host or a port
 * outside 1..65535. */
EM_API em_dstream *em_socket_text_stream(em_ssc *ssc, const char *host, int port);
/* A stream of converter(line) records; the bytes are given as received (no UTF-8 check). */
EM_API em_dstream *em_socket_stream(em_ssc *ssc, const char *host, int port,
                                    em_line_converter converter, void *ud);
/* The full form: converter NULL for text lines; destroy frees ud once, when the ssc is freed
 * or when creation fails; opts may be NULL. */
EM_API em_dstream *em_socket_stream_full(em_ssc *ssc, const char *host, int port,
                                         em_line_converter converter, void *ud,
                                         GDestroyNotify destroy, const em_socket_opts *opts);
/* Lines dropped for being longer than max_line since the stream started, or -1 (and a
 * critical message) when ds is not a socket stream. */
EM_API int64_t em_socket_stream_dropped_lines(const em_dstream *ds);

/* ---- rawSocketStream: length-prefixed blocks from a TCP server (Spark's RawInputDStream) ----
 * A receiver ("RawNetworkReceiver") connects to host:port and reads blocks, each a 4-byte
 * big-endian unsigned length n followed by n bytes of records: UTF-8 text, one record per
 * '\n'-ended line (a last record without '\n' ends with the block; an empty block holds none;
 * invalid bytes become U+FFFD). A block's records are stored together once the whole block has
 * arrived, never part of one. A block longer than max_block, or one cut short by the peer
 * closing, is dropped, counted and reported (g_warning and receiver_error, both naming
 * host:port and the sizes); the blocks before it are kept. After a bad block, a closed or
 * failed connection or a failed connect, the receiver reconnects as socketTextStream does
 * (100 ms doubling up to 2 s). examples/raw_text_sender.c writes this encoding. */
typedef struct em_raw_socket_opts {
    size_t max_block;          /* bytes in a block; 0: 64 MiB; at most 4 GiB - 1 */
    em_receiver_opts receiver; /* block interval and max rate */
} em_raw_socket_opts;

/* Spark's rawSocketStream: a stream of the string records of host:port's blocks; opts may be
 * NULL. Fails fast (a critical message, NULL) on a NULL host or a port outside 1..65535. The
 * stream is owned by the ssc. */
EM_API em_dstream *em_raw_socket_stream(em_ssc *ssc, const char *host, int port,
                                        const em_raw_socket_opts *opts);
/* Whole blocks received / blocks dropped as oversized or truncated since the stream started,
 * or -1 (and a critical message) when ds is not a raw socket stream. */
EM_API int64_t em_raw_socket_stream_blocks(const em_dstream *ds);
EM_API int64_t em_raw_socket_stream_bad_blocks(const em_dstream *ds);

#endif
