/* Spark's shared variables: broadcast variables (an immutable value every task reads) and
 * accumulators (tasks add, the driver reads).
 *
 * Both are reference counted and thread-safe where said. Neither is saved in a checkpoint, as
 * in Spark: after a restart from a checkpoint the program makes them again, lazily, the first
 * time a batch needs them (see examples/recoverable_network_wordcount.c, Spark's pattern of a
 * getInstance() singleton). */
#ifndef EMBER_SHARED_H
#define EMBER_SHARED_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/common.h>
#include <ember/rdd.h>
#include <ember/value.h>

/* ---- Broadcast variables (Spark's sc.broadcast(v)) ---- */

typedef struct em_broadcast em_broadcast;

/* A broadcast of a deep copy of v, owned by the broadcast. The caller owns the returned
 * reference (em_broadcast_unref()); tasks may read it from any thread while a reference lives.
 * sc names the context it belongs to (as Spark's SparkContext.broadcast). Never fails. */
EM_API em_broadcast *em_broadcast_new(em_context *sc, em_value v);
/* The value: its payload belongs to the broadcast and lives as long as it. Any thread. */
EM_API em_value em_broadcast_value(const em_broadcast *b);
/* Whether v is one of the broadcast's items (a list's items, a tuple's fields, or the value
 * itself otherwise), found through a hash set built once: O(1), any thread. Spark's
 * `broadcast.value.contains(v)`. */
EM_API bool em_broadcast_contains(const em_broadcast *b, em_value v);
/* A number unique within the process, as Spark's broadcast id. */
EM_API int64_t em_broadcast_id(const em_broadcast *b);
/* Takes a reference; returns b. */
EM_API em_broadcast *em_broadcast_ref(em_broadcast *b);
/* Drops a reference; the last frees the value. NULL is allowed. */
EM_API void em_broadcast_unref(em_broadcast *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_broadcast, em_broadcast_unref)

/* ---- Accumulators (Spark's LongAccumulator, DoubleAccumulator, CollectionAccumulator) ----
 * Tasks add from executor threads without taking a shared lock (atomics for numbers, a slot
 * per thread for collections). Values are read on the driver: reading from inside a task logs
 * a critical message and gives 0 / an empty collection, as Spark refuses it. As in Spark, adds
 * made in a transformation count again when its partition is computed again; adds made in an
 * output operation (foreachRDD, foreach) count once per successful run. */

typedef struct em_accumulator em_accumulator;

typedef enum em_accumulator_kind {
    EM_ACC_LONG,       /* a sum of 64-bit integers */
    EM_ACC_DOUBLE,     /* a sum of doubles */
    EM_ACC_COLLECTION, /* a list of every value added */
} em_accumulator_kind;

/* A new accumulator at zero named name (copied; may be NULL), as sc.longAccumulator(name) and
 * friends. The caller owns the returned reference. Never fails. */
EM_API em_accumulator *em_long_accumulator(em_context *sc, const char *name);
EM_API em_accumulator *em_double_accumulator(em_context *sc, const char *name);
EM_API em_accumulator *em_collection_accumulator(em_context *sc, const char *name);
/* Takes a reference; returns acc. */
EM_API em_accumulator *em_accumulator_ref(em_accumulator *acc);
/* Drops a reference; the last frees it. NULL is allowed. */
EM_API void em_accumulator_unref(em_accumulator *acc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_accumulator, em_accumulator_unref)

/* Adds to a long accumulator (a double one adds (double)x). Any thread. */
EM_API void em_accumulator_add_long(em_accumulator *acc, int64_t x);
/* Adds to a double accumulator (a long one adds x truncated). Any thread. */
EM_API void em_accumulator_add_double(em_accumulator *acc, double x);
/* Adds a record: an int or double to a numeric accumulator (anything else is refused with a
 * critical message), a deep copy of v to a collection one. Any thread. */
EM_API void em_accumulator_add(em_accumulator *acc, em_value v);

EM_API em_accumulator_kind em_accumulator_get_kind(const em_accumulator *acc);
/* The name given at creation (owned by acc), or NULL. */
EM_API const char *em_accumulator_name(const em_accumulator *acc);
/* Driver only. The sum of a long accumulator (of a double one: truncated). */
EM_API int64_t em_accumulator_long(const em_accumulator *acc);
/* Driver only. The sum of a double accumulator (of a long one: converted). */
EM_API double em_accumulator_double(const em_accumulator *acc);
/* Driver only. How many values were added (Spark's count), for every kind. */
EM_API int64_t em_accumulator_count(const em_accumulator *acc);
/* Driver only. The values added to a collection accumulator, in no defined order across
 * threads (each thread's in the order it added them), as a new em_values the caller frees. */
EM_API em_values *em_accumulator_collection(const em_accumulator *acc);
/* Driver only. Back to zero / empty. */
EM_API void em_accumulator_reset(em_accumulator *acc);

#endif
