/* Private to the Kafka connector and its tests. The direct stream is three pieces: the
 * consumer (input-kafka-consumer.c: a polling thread buffering fetched messages per partition,
 * rebalances, out-of-range policy, commits), the KafkaRDD (input-kafka-rdd.c: a batch's
 * messages, one partition per offset range) and the glue to the DStream graph
 * (input-kafka.c: seal, compute, start, stop, commit after the batch). Only the glue knows
 * streaming's internals. */
#ifndef EMBER_INPUT_KAFKA_PRIVATE_H
#define EMBER_INPUT_KAFKA_PRIVATE_H

#include "core-private.h"
#include <ember.h>

#include <librdkafka/rdkafka.h>

typedef struct em_kafka_consumer em_kafka_consumer;

/* What a batch took from the consumer: for each assigned partition (in topic, partition
 * order) its offset range and messages, msgs[i][0..ranges[i].count). Every array and the
 * messages are owned by the batch; ranges[i].topic points at topics[i]. */
typedef struct em_kafka_batch {
    em_time time;
    size_t n;
    em_kafka_offset_range *ranges;
    char **topics;
    rd_kafka_message_t ***msgs;
    int64_t records;
    em_kafka_consumer *consumer; /* referenced: its handle outlives the messages */
    GError *error; /* a failure the batch reports (an offset out of range under FAIL) */
    bool unfilled; /* replayed after a recovery: ranges fixed, messages taken at compute */
} em_kafka_batch;

void em__kafka_batch_free(em_kafka_batch *b);

/* ---- The consumer ---- */

/* A consumer for opts (validated; err names what is wrong). Nothing is contacted yet. */
em_kafka_consumer *em__kafka_consumer_new(const em_kafka_opts *opts, const char *what,
                                          GError **err);
/* Starts the polling thread (subscribe or assign). False with err when librdkafka refuses. */
bool em__kafka_consumer_start(em_kafka_consumer *c, GError **err);
/* Takes the buffered messages of every assigned partition into a new batch at time t: at most
 * per_partition of each (< 0: no cap), and at most total over all of them (< 0: no cap),
 * shared by how many each has buffered (Spark's lag-proportional split). Never blocks on the
 * network. */
em_kafka_batch *em__kafka_consumer_take(em_kafka_consumer *c, em_time t, int64_t per_partition,
                                        int64_t total);
/* Recovery (before start): topic[partition] fetches from fetch_from and new batches start at
 * resume; the offsets in between belong to replayed batches (em__kafka_batch_fixed). The
 * checkpoint's position wins over given and committed offsets at the partition's first
 * assignment (later ones, after a rebalance, take the group's commit). */
void em__kafka_consumer_restore(em_kafka_consumer *c, const char *topic, int32_t partition,
                                int64_t fetch_from, int64_t resume);
/* Where the next batch starts in each assigned partition whose position is known: a new array
 * of em_kafka_tp whose topics live as long as the consumer. */
GArray *em__kafka_consumer_positions(em_kafka_consumer *c);
/* A replayed batch: exactly ranges[0..n) (copied), its messages taken later by
 * em__kafka_consumer_fill. */
em_kafka_batch *em__kafka_batch_fixed(em_kafka_consumer *c, em_time t,
                                      const em_kafka_offset_range *ranges, size_t n);
/* Takes the messages of b's ranges as they are fetched, waiting up to timeout_ms; false with
 * err naming the topic, partition and offsets that did not come. */
bool em__kafka_consumer_fill(em_kafka_consumer *c, em_kafka_batch *b, int64_t timeout_ms,
                             GError **err);
/* Buffered messages not in a batch yet. */
int64_t em__kafka_consumer_buffered(em_kafka_consumer *c);
/* Waits up to timeout_ms until at least n messages are buffered; false on timeout. */
bool em__kafka_consumer_wait_buffered(em_kafka_consumer *c, int64_t n, int64_t timeout_ms);
/* Commits until of each range (skipping partitions no longer assigned), asynchronously; the
 * outcome goes to on_commit with batch_time. */
void em__kafka_consumer_commit(em_kafka_consumer *c, em_time batch_time,
                               const em_kafka_offset_range *ranges, size_t n);
/* Where commit outcomes go besides opts->on_commit (the glue posts them to listeners); set
 * before start. */
void em__kafka_consumer_on_commit(em_kafka_consumer *c,
                                  void (*report)(const em_kafka_commit_info *info, void *ud),
                                  void *ud);
/* Waits up to timeout_ms for the commits in flight; false when some are still pending. */
bool em__kafka_consumer_wait_commits(em_kafka_consumer *c, int64_t timeout_ms);
/* Stops fetching (partitions paused); the polling thread goes on serving commit results. */
void em__kafka_consumer_pause(em_kafka_consumer *c);
/* Drops every buffered message (a hard stop). */
void em__kafka_consumer_drop(em_kafka_consumer *c);
void em__kafka_consumer_stats(em_kafka_consumer *c, em_kafka_stream_stats *out);
/* The consumer's handle (for the transactional sink's group metadata). */
rd_kafka_t *em__kafka_consumer_handle(em_kafka_consumer *c);
/* Stops the polling thread and closes the consumer (it leaves its group), then empties the
 * fetch queues of the partitions it was assigned, so that destroying the handle does not wait
 * forever for a partition of a deleted topic (librdkafka issue 4362); buffered messages are
 * dropped. Batches already taken stay valid. */
void em__kafka_consumer_close(em_kafka_consumer *c);
/* Drops a reference; the last one (the stream's and every batch's gone) destroys the handle:
 * librdkafka wants every message destroyed first. */
void em__kafka_consumer_unref(em_kafka_consumer *c);
/* The commit policy and rate options the consumer was made with. */
const em_kafka_opts *em__kafka_consumer_opts(em_kafka_consumer *c);

/* ---- The KafkaRDD ---- */

/* An RDD with one partition per slice of b (the RDD takes b). */
em_rdd *em__kafka_rdd_new(em_context *sc, em_kafka_batch *b);

/* ---- The stream (glue) ---- */

/* The consumer of a Kafka direct stream, or NULL when ds is not one. */
em_kafka_consumer *em__kafka_stream_consumer(const em_dstream *ds);
/* The offset ranges of ds's batch at time t, copied into *out (g_free it); false when that
 * batch is unknown (never generated, or already forgotten). */
bool em__kafka_stream_batch_ranges(const em_dstream *ds, em_time t, em_kafka_offset_range **out,
                                   size_t *n);
/* Tests: waits until ds's consumer has n messages buffered. */
bool em__kafka_stream_wait_buffered(em_dstream *ds, int64_t n, int64_t timeout_ms);

/* Routes librdkafka's log lines to GLib's log (domain "ember", field KAFKA_FACILITY) at the
 * level their syslog level maps to, instead of stderr. */
void em__kafka_conf_set_log(rd_kafka_conf_t *conf);
/* rd_kafka_committed(), asked again every 100 ms within timeout_ms while the group coordinator
 * answers that it moved, is loading or is not available (retriable: the Java client retries
 * them too). Returns the last answer. */
rd_kafka_resp_err_t em__kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                        int timeout_ms);

/* librdkafka configuration from name/value pairs, with err naming a refused property. */
bool em__kafka_conf_set_all(rd_kafka_conf_t *conf, const char *const *params, const char *what,
                            GError **err);
bool em__kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                        const char *what, GError **err);

/* ---- Producers (output-kafka.c): what the DStream sink and the table sink share ---- */

/* An idempotent producer for brokers with params (name, value, ..., NULL) and, when
 * transactional_id is not NULL, transactions; dr gets every delivery report with opaque (may
 * be NULL). NULL with err (EM_ERROR_INVALID) naming what (e.g. "Kafka sink (topic t, brokers
 * b)") and the property librdkafka refused. The caller destroys it (flush first). */
rd_kafka_t *em__kafka_producer_new(const char *brokers, const char *const *params,
                                   const char *transactional_id,
                                   void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *m,
                                              void *opaque),
                                   void *opaque, const char *what, GError **err);
/* Aborts rk's open transaction, ignoring a failure (the next init_transactions fences it). */
void em__kafka_txn_abort(rd_kafka_t *rk, int timeout_ms);

/* ---- The table source's offsets (input-kafka-table-offsets.c) ----
 * Offsets are a GArray of em_kafka_tp sorted by topic, then partition, their topics interned
 * (g_intern_string: they live as long as the process). */

GArray *em__kafka_offsets_new(void);
GArray *em__kafka_offsets_copy(const GArray *offsets);
/* Sets (adding or replacing) topic[partition]'s offset. */
void em__kafka_offsets_set(GArray *offsets, const char *topic, int32_t partition, int64_t offset);
/* Whether topic[partition] is there; its offset into *out (may be NULL). */
bool em__kafka_offsets_get(const GArray *offsets, const char *topic, int32_t partition,
                           int64_t *out);
/* Spark's JSON of offsets, {"t":{"0":5,"1":7}} (g_free it). */
char *em__kafka_offsets_json(const GArray *offsets);
/* Offsets from Spark's JSON; NULL with err (code, Spark's "Expected e.g. ..." message). */
GArray *em__kafka_offsets_parse(const char *text, int code, GError **err);
/* The assign option's partitions ({"t":[0,1]}) in the order given, offsets -1; NULL with err
 * (EM_ERROR_INVALID, Spark's message). */
GArray *em__kafka_assign_parse(const char *text, GError **err);
/* "t-0, t-1": the partitions as Spark's TopicPartition prints them (g_free it). */
char *em__kafka_tp_list(const GArray *tps);
/* maxOffsetsPerTrigger: until's offsets cut so that about limit offsets are read past from,
 * split between the partitions by their backlog as Spark's rateLimit does (new array;
 * partitions missing from from keep until's offset). */
GArray *em__kafka_rate_limit(int64_t limit, const GArray *from, const GArray *until);

#endif
