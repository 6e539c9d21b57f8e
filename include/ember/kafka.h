/* Kafka: Spark's Kafka 0-10 integration on librdkafka. A direct stream reads topic-partitions
 * with one RDD partition per Kafka partition per batch, its offset range fixed when the batch
 * is generated, and commits offsets once the batch's outputs succeeded; a sink writes batches
 * with the idempotent (or transactional) producer. */
#ifndef EMBER_KAFKA_H
#define EMBER_KAFKA_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/streaming.h>

/* A topic-partition with an offset: a starting position, or an assignment. */
typedef struct em_kafka_tp {
    const char *topic;
    int32_t partition;
    int64_t offset; /* >= 0: start here; < 0: the committed offset, else the `start` policy */
} em_kafka_tp;

/* Where a partition starts when no offset is given and its group has none committed
 * (Kafka's auto.offset.reset; Spark's default is latest). */
typedef enum em_kafka_start {
    EM_KAFKA_LATEST = 0,
    EM_KAFKA_EARLIEST,
} em_kafka_start;

/* When offsets are committed to the group. */
typedef enum em_kafka_commit {
    EM_KAFKA_COMMIT_AFTER_OUTPUT = 0, /* once every output of the batch succeeded, in order */
    EM_KAFKA_COMMIT_MANUAL,           /* only through em_kafka_commit_async() */
    EM_KAFKA_COMMIT_NONE,             /* never (positions live in checkpoints only) */
} em_kafka_commit;

/* What a fetch position outside the partition's log does. */
typedef enum em_kafka_out_of_range {
    EM_KAFKA_OOR_FAIL = 0, /* the next batch fails naming topic, partition and offsets */
    EM_KAFKA_OOR_EARLIEST, /* go on from the log start, warning how many were skipped */
    EM_KAFKA_OOR_LATEST,   /* go on from the log end, warning how many were skipped */
} em_kafka_out_of_range;

/* The messages of one Kafka partition in one batch: offsets in [from, until) (a transaction's
 * markers and compacted offsets make count smaller than until - from). */
typedef struct em_kafka_offset_range {
    const char *topic;
    int32_t partition;
    int64_t from, until;
    int64_t count;
} em_kafka_offset_range;

/* An offset commit's outcome, reported on the stream's polling thread (to on_commit, and to
 * every em_listener's input_committed). */
typedef struct em_kafka_commit_info {
    em_time batch_time;                  /* -1 for em_kafka_commit_async() */
    const em_kafka_offset_range *ranges; /* what was committed (until is the offset stored) */
    size_t n_ranges;
    const char *error;  /* NULL on success */
    bool on_revocation; /* made synchronously as these partitions were revoked */
} em_kafka_commit_info;

typedef struct em_kafka_opts {
    const char *brokers;  /* bootstrap.servers, required: "127.0.0.1:9092,..." */
    const char *group_id; /* group.id, required */
    /* The strategy: exactly one of these three. */
    const char *topics;        /* subscribe: comma-separated topic names */
    const char *pattern;       /* subscribe by pattern: a regex over topic names */
    const em_kafka_tp *assign; /* assign: these partitions, n_assign of them */
    size_t n_assign;
    const em_kafka_tp *offsets; /* subscribe: given starting offsets, n_offsets of them */
    size_t n_offsets;
    em_kafka_start start;
    /* librdkafka properties passed through ("security.protocol", "sasl.mechanism", ...):
     * name, value, name, value, ..., NULL. Ember sets enable.auto.commit=false and
     * enable.auto.offset.store=false itself and refuses them here. */
    const char *const *params;
    em_kafka_commit commit;
    em_kafka_out_of_range out_of_range;
    /* Rate control. A batch takes at most max_rate_per_partition messages per second of batch
     * interval from each partition (0: unlimited; Spark's maxRatePerPartition). With
     * backpressure, Spark's PID estimator (1.0, 0.2, 0, min 100/s) sets the rate from the
     * batches' processing times, starting at initial_rate (0: unlimited until the first
     * estimate), shared between partitions by their lag. */
    int64_t max_rate_per_partition;
    bool backpressure;
    int64_t initial_rate;
    /* Messages fetched but not in a batch yet, per partition, before fetching pauses (memory
     * stays bounded however far behind the batches are); 0: 100000. */
    int64_t max_buffered_per_partition;
    int64_t commit_wait_ms; /* how long a graceful stop waits for commits; 0: 10000 */
    /* Each commit's outcome, on the polling thread; may be NULL. Listeners
     * (em_listener.input_committed) hear of them too. */
    void (*on_commit)(const em_kafka_commit_info *info, void *ud);
    void *ud; /* borrowed */
} em_kafka_opts;

/* Scale-out: processes running the same program with the same group_id in subscribe mode split
 * the topics' partitions (Kafka's group protocol assigns them; Ember has no coordinator). When
 * a partition is revoked, the offsets its completed batches processed are committed
 * synchronously before it is handed over (commit policy AFTER_OUTPUT, or what the program
 * committed with em_kafka_commit_async), what was fetched and not yet in a batch is dropped,
 * and batches already generated still run but commit nothing for it: the new owner starts
 * from that commit, so a record is processed at least once (exactly once with the
 * transactional sink).
 * A stateless pipeline (map, filter, a sink) thus scales with the partitions. A keyed
 * pipeline (reduceByKey, windows, state) sees in each process only the keys of its own
 * partitions: its results are per process and correct for the whole only when the input is
 * partitioned by that key (the producer's key); after a rebalance, state built for a
 * partition stays in the process that lost it. */

/* Checkpoints (em_ssc_checkpoint, em_ssc_get_or_create): every checkpoint holds the stream's
 * position (where the batch after it starts, per partition) and the offset ranges of the
 * batches generated after it; each batch's ranges are also journaled (fsynced) when the batch
 * is generated, under <dir>/inputs/createDirectStream-<k>. On recovery, batches generated
 * before the crash but not completed run again with exactly their ranges [from, until) (their
 * messages are read again when the batch computes, waiting up to 60 s for them), and new
 * batches start after them: the checkpoint's position wins over given and committed offsets
 * at each partition's first assignment. With commit policy NONE the checkpoint is the only
 * record of the offsets (Spark's recommended set-up with checkpoints). */

/* Spark's KafkaUtils.createDirectStream. Records are (key, value) pairs of strings (the bytes
 * as they are), None for a null key or value; em_kafka_record_current() gives the topic,
 * partition, offset and timestamp of the record being computed. Returns NULL with err
 * (EM_ERROR_INVALID) on missing or contradictory options or a librdkafka property it refuses,
 * naming it. Brokers are contacted from em_ssc_start() on, by a polling thread of the
 * stream's own; the stream is owned by the ssc. */
EM_API em_dstream *em_kafka_direct_stream_full(em_ssc *ssc, const em_kafka_opts *opts,
                                               GError **err);
/* The same, logging a critical message and returning NULL on error. */
EM_API em_dstream *em_kafka_direct_stream(em_ssc *ssc, const em_kafka_opts *opts);

/* The offset ranges of a Kafka direct stream's batch RDD (the one foreachRDD or transform
 * gets straight from the stream, as Spark's HasOffsetRanges), one per RDD partition, owned by
 * the RDD; *n gets their number. NULL (and a critical message) for any other RDD. */
EM_API const em_kafka_offset_range *em_kafka_offset_ranges(em_rdd *rdd, size_t *n);
/* Commits until of each range to ds's group, asynchronously (the outcome goes to on_commit).
 * ranges are copied. False (and a critical message) when ds is not a Kafka direct stream. */
EM_API bool em_kafka_commit_async(em_dstream *ds, const em_kafka_offset_range *ranges, size_t n);

/* The Kafka coordinates of a record. */
typedef struct em_kafka_record {
    const char *topic; /* valid as long as the batch's RDD */
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms since the epoch, -1 when the message has none */
} em_kafka_record;
/* Fills *out with the coordinates of the Kafka record whose computation runs on this thread
 * (inside the functions applied to a direct stream's records: map, filter, foreachPartition).
 * False when no Kafka record is being computed. */
EM_API bool em_kafka_record_current(em_kafka_record *out);

/* A direct stream's running figures. */
typedef struct em_kafka_stream_stats {
    int64_t assigned;    /* partitions assigned now */
    int64_t assignments; /* rebalances that assigned partitions, revocations */
    int64_t revocations;
    int64_t buffered; /* fetched, waiting for a batch */
    int64_t paused;   /* partitions paused now because their buffer is full */
    int64_t pauses;   /* times a partition was paused so */
    int64_t skipped;  /* messages skipped by the out-of-range policy */
    int64_t commits, commit_failures;
    int64_t rate; /* the backpressure rate (messages/s), -1 for none */
} em_kafka_stream_stats;
/* False (and a critical message) when ds is not a Kafka direct stream. */
EM_API bool em_kafka_stream_stats_get(em_dstream *ds, em_kafka_stream_stats *out);

/* ---- The sink ---- */

typedef struct em_kafka_save_opts {
    const char *brokers;       /* required */
    const char *const *params; /* librdkafka producer properties: name, value, ..., NULL */
    /* Transactional mode: each batch's records, and the offsets of the batch's input from
     * offsets_of (a Kafka direct stream, whose commit policy must then be NONE), are committed
     * in one Kafka transaction, so a Kafka-to-Kafka pipeline is exactly-once. */
    const char *transactional_id;
    em_dstream *offsets_of;
    int64_t flush_timeout_ms; /* a batch fails when its records are not delivered by then;
                                 0: 30000 */
} em_kafka_save_opts;

/* Writes every batch of ds to topic: a (k, v) record as key k and value v, any other record
 * as the value with a null key; strings as their bytes, other values as they print, None as
 * null. The idempotent producer is on; a record that is not delivered fails the batch, naming
 * the topic and the error. Returns false with err when the options are wrong (naming them). */
EM_API bool em_kafka_save(em_dstream *ds, const char *topic, const em_kafka_save_opts *opts,
                          GError **err);

#endif
