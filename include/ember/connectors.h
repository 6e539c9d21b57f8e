/* Where streams come from: queues of RDDs, and (more to come) sockets, directories of files,
 * custom receivers and Kafka. Each input is a DStream owned by the StreamingContext. */
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
/* Each batch takes the next queued RDD (one_at_a_time) or the union of all queued ones; with
 * none queued, default_rdd (referenced) if not NULL, else an empty RDD. The queue is borrowed. */
EM_API em_dstream *em_queue_stream(em_ssc *ssc, em_rdd_queue *queue, bool one_at_a_time,
                                   em_rdd *default_rdd);

#endif
