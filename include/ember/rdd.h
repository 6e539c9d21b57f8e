/* The RDD engine: an execution context ("local[N]") and immutable, partitioned, lazy RDDs.
 *
 * Transformations build lineage and compute nothing; actions run a job on the context's thread
 * pool, one task per partition, stage by stage (a stage ends at each shuffle; a stage of one
 * task runs on the calling thread when a task slot is free, still at most N at once). RDDs are
 * reference counted: a transformation borrows its parents (the child holds its own reference)
 * and returns a new reference the caller owns. g_autoptr(em_rdd) works. */
#ifndef EMBER_RDD_H
#define EMBER_RDD_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/arena.h>
#include <ember/common.h>
#include <ember/value.h>

typedef struct em_context em_context;
typedef struct em_rdd em_rdd;

/* ---- User functions. Each gets its own user data. They run on executor threads and must not
 *      keep the records they are given past the call (copy into an arena of their own). ---- */

/* map, mapValues, and flatMap (which returns a list, Some(x), None or null for nothing). */
typedef em_value (*em_map_fn)(em_value v, void *ud);
/* filter: true keeps the record. */
typedef bool (*em_filter_fn)(em_value v, void *ud);
/* reduce, fold, reduceByKey, mergeValue, mergeCombiners: must be associative. */
typedef em_value (*em_reduce_fn)(em_value a, em_value b, void *ud);
/* foreach: sees each record once. */
typedef void (*em_foreach_fn)(em_value v, void *ud);

/* A pull iterator over one partition's records (mapPartitions, foreachPartition). */
typedef struct em_iter em_iter;
/* Next record into *out; false at the end. The record stays valid until the task ends. */
EM_API bool em_iter_next(em_iter *it, em_value *out);
/* Where mapPartitions functions put their output records. */
typedef struct em_emitter em_emitter;
/* Emits one record downstream; its payload may live in em_scratch(). */
EM_API void em_emit(em_emitter *out, em_value v);
/* mapPartitions / mapPartitionsWithIndex: reads partition `index` from in, emits to out. */
typedef void (*em_partition_fn)(int index, em_iter *in, em_emitter *out, void *ud);
/* foreachPartition. */
typedef void (*em_foreach_partition_fn)(int index, em_iter *in, void *ud);

/* Fails the record being processed: call it from a user function (`return em_fail(...)`).
 * The task stops and the job fails with a GError naming the operator, stage and partition and
 * this message. Returns null for convenience. Outside a task it only logs a warning. */
EM_API em_value em_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* ---- Context: Spark's SparkContext ---- */

/* Makes a context for master "local" (1 thread), "local[N]" or "local[*]" (one per core).
 * Returns NULL and sets err (EM_ERROR_INVALID, naming the master) for anything else. The caller
 * owns it; free it after every RDD made from it is unreffed. */
EM_API em_context *em_context_new(const char *master, const char *app_name, GError **err);
/* Stops the thread pool and frees the context. NULL is allowed. */
EM_API void em_context_free(em_context *sc);
/* Worker threads: the N of local[N]; also the default partition count of parallelize. */
EM_API int em_context_default_parallelism(const em_context *sc);
/* The app name given to em_context_new(); owned by the context. */
EM_API const char *em_context_app_name(const em_context *sc);
/* The master string given to em_context_new(); owned by the context. */
EM_API const char *em_context_master(const em_context *sc);

/* ---- Creating RDDs. A num_slices / min_partitions / num_partitions of 0 means the default. */

/* The n values deep-copied into num_slices partitions, sliced contiguously as Spark does
 * (slice i holds values [i*n/k, (i+1)*n/k)). Default: the context's parallelism. */
EM_API em_rdd *em_parallelize(em_context *sc, const em_value *values, size_t n, int num_slices);
/* Parses text with em_values_parse() ("a, (b,1), 3") and parallelizes the values: handy in
 * tests and teaching. Returns NULL with err set on a parse error. */
EM_API em_rdd *em_parallelize_text(em_context *sc, const char *text, int num_slices, GError **err);
/* One string record per line of a file, or of every file in a directory (names starting with
 * '.' or '_' skipped; files ending in .gz are decompressed). Lines end at \n; a trailing \r is
 * dropped. Files are split into at least min_partitions byte ranges (default min(2, parallelism))
 * as Spark's TextInputFormat does. Returns NULL with err (EM_ERROR_IO, naming the path) when the
 * path cannot be read. */
EM_API em_rdd *em_text_file(em_context *sc, const char *path, int min_partitions, GError **err);
/* An RDD with no partitions. */
EM_API em_rdd *em_empty_rdd(em_context *sc);

/* Takes a reference. Returns rdd. */
EM_API em_rdd *em_rdd_ref(em_rdd *rdd);
/* Drops a reference; the last one frees the RDD, its cached data and shuffle outputs. */
EM_API void em_rdd_unref(em_rdd *rdd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_rdd, em_rdd_unref)

EM_API int em_rdd_num_partitions(const em_rdd *rdd);
/* A number unique within the context, as Spark's RDD id. */
EM_API int em_rdd_id(const em_rdd *rdd);
/* The context the RDD belongs to (borrowed). */
EM_API em_context *em_rdd_context(const em_rdd *rdd);

/* ---- Narrow transformations: fused into one pass per partition, no shuffle ----
 * The short forms take a plain function; the _full forms add user data, a destroy notify for it
 * (called exactly once, when the RDD is freed) and the name shown in the lineage dump. */

EM_API em_rdd *em_rdd_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name);
#define em_rdd_map(rdd, fn) em_rdd_map_full((rdd), (fn), NULL, NULL, #fn)
/* fn returns a list (each item is a record), Some(x) (one record), None or null (none). */
EM_API em_rdd *em_rdd_flat_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                    const char *name);
#define em_rdd_flat_map(rdd, fn) em_rdd_flat_map_full((rdd), (fn), NULL, NULL, #fn)
EM_API em_rdd *em_rdd_filter_full(em_rdd *rdd, em_filter_fn fn, void *ud, GDestroyNotify destroy,
                                  const char *name);
#define em_rdd_filter(rdd, fn) em_rdd_filter_full((rdd), (fn), NULL, NULL, #fn)
/* mapPartitionsWithIndex (mapPartitions is the same function ignoring the index). */
EM_API em_rdd *em_rdd_map_partitions_full(em_rdd *rdd, em_partition_fn fn, void *ud,
                                          GDestroyNotify destroy, const char *name);
#define em_rdd_map_partitions(rdd, fn) em_rdd_map_partitions_full((rdd), (fn), NULL, NULL, #fn)
/* On (k, v) records: (k, fn(v)). */
EM_API em_rdd *em_rdd_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                      const char *name);
#define em_rdd_map_values(rdd, fn) em_rdd_map_values_full((rdd), (fn), NULL, NULL, #fn)
/* On (k, v) records: (k, w) for each w of fn(v) (a list, Some, None or null, as flatMap). */
EM_API em_rdd *em_rdd_flat_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud,
                                           GDestroyNotify destroy, const char *name);
#define em_rdd_flat_map_values(rdd, fn) em_rdd_flat_map_values_full((rdd), (fn), NULL, NULL, #fn)
/* The keys / the values of (k, v) records. */
EM_API em_rdd *em_rdd_keys(em_rdd *rdd);
EM_API em_rdd *em_rdd_values(em_rdd *rdd);
/* One record per partition: the partition's records as an Array(...) list. */
EM_API em_rdd *em_rdd_glom(em_rdd *rdd);
/* The partitions of rdd followed by those of other (no dedup, no shuffle). */
EM_API em_rdd *em_rdd_union(em_rdd *rdd, em_rdd *other);
/* The partitions of n RDDs in order. n >= 1. */
EM_API em_rdd *em_rdd_union_n(em_rdd *const *rdds, size_t n);
/* How em_rdd_sample draws. */
typedef enum em_sample_flags {
    EM_SAMPLE_DEFAULT = 0,               /* without replacement: Bernoulli(fraction) */
    EM_SAMPLE_WITH_REPLACEMENT = 1 << 0, /* each record repeated Poisson(fraction) times */
} em_sample_flags;
/* A random sample (Spark's sample): each record kept with probability fraction, 0 <= fraction
 * <= 1 (flags 0), or, with EM_SAMPLE_WITH_REPLACEMENT, repeated Poisson(fraction) times
 * (fraction >= 0: each record's expected count). The same seed gives the same sample whatever
 * the thread count. A fraction out of range or an unknown flag: a critical, NULL. */
EM_API em_rdd *em_rdd_sample(em_rdd *rdd, double fraction, uint64_t seed, em_sample_flags flags);
/* Spark's cartesian: every (x, y) pair of a record x of rdd and a record y of other, in
 * rdd's partitions times other's (partition i * other's count + j pairs rdd's partition i with
 * other's j; within it, x in order, then y in order). Both must come from one context (else a
 * critical, NULL). other's partition is computed once per task and kept while it runs. */
EM_API em_rdd *em_rdd_cartesian(em_rdd *rdd, em_rdd *other);
/* (record, index) pairs, indices in partition order then record order. Like Spark, it runs a
 * job at once to count the records of every partition but the last. */
EM_API em_rdd *em_rdd_zip_with_index(em_rdd *rdd);
/* Fewer partitions without a shuffle (shuffle=false: parent partitions grouped contiguously),
 * or any number with one (shuffle=true, as repartition). */
EM_API em_rdd *em_rdd_coalesce(em_rdd *rdd, int num_partitions, bool shuffle);

/* ---- Shuffles: hash-partitioned into num_partitions (0: the parent's partition count, as
 *      Spark's default partitioner without spark.default.parallelism). The _n forms take the
 *      count, the short forms use the default. ---- */

/* (k, v) records merged per key with fn, combined on the map side first. */
EM_API em_rdd *em_rdd_reduce_by_key_full(em_rdd *rdd, em_reduce_fn fn, void *ud,
                                         GDestroyNotify destroy, const char *name,
                                         int num_partitions);
#define em_rdd_reduce_by_key(rdd, fn) em_rdd_reduce_by_key_full((rdd), (fn), NULL, NULL, #fn, 0)
#define em_rdd_reduce_by_key_n(rdd, fn, n)                                                        \
    em_rdd_reduce_by_key_full((rdd), (fn), NULL, NULL, #fn, (n))
/* (k, CompactBuffer(v...)): values in the order they were met (map partitions in order). */
EM_API em_rdd *em_rdd_group_by_key_n(em_rdd *rdd, int num_partitions);
#define em_rdd_group_by_key(rdd) em_rdd_group_by_key_n((rdd), 0)
/* Spark's combineByKey: create(v) starts a combiner, merge_value(c, v) adds a value,
 * merge_combiners(c1, c2) joins two; the three share ud. */
EM_API em_rdd *em_rdd_combine_by_key_full(em_rdd *rdd, em_map_fn create, em_reduce_fn merge_value,
                                          em_reduce_fn merge_combiners, void *ud,
                                          GDestroyNotify destroy, const char *name,
                                          int num_partitions);
#define em_rdd_combine_by_key(rdd, create, merge_value, merge_combiners)                          \
    em_rdd_combine_by_key_full((rdd), (create), (merge_value), (merge_combiners), NULL, NULL,     \
                               #create, 0)
/* aggregateByKey(zero)(seq, comb): zero is deep-copied. */
EM_API em_rdd *em_rdd_aggregate_by_key_full(em_rdd *rdd, em_value zero, em_reduce_fn seq,
                                            em_reduce_fn comb, void *ud, GDestroyNotify destroy,
                                            const char *name, int num_partitions);
#define em_rdd_aggregate_by_key(rdd, zero, seq, comb)                                             \
    em_rdd_aggregate_by_key_full((rdd), (zero), (seq), (comb), NULL, NULL, #seq, 0)
/* foldByKey(zero)(fn). */
EM_API em_rdd *em_rdd_fold_by_key_full(em_rdd *rdd, em_value zero, em_reduce_fn fn, void *ud,
                                       GDestroyNotify destroy, const char *name,
                                       int num_partitions);
#define em_rdd_fold_by_key(rdd, zero, fn)                                                         \
    em_rdd_fold_by_key_full((rdd), (zero), (fn), NULL, NULL, #fn, 0)
/* Each distinct record once. */
EM_API em_rdd *em_rdd_distinct_n(em_rdd *rdd, int num_partitions);
#define em_rdd_distinct(rdd) em_rdd_distinct_n((rdd), 0)
/* Joins on (k, v) and (k, w) records; the default count is the larger parent's.
 * join: (k,(v,w)); leftOuterJoin: (k,(v,Some(w)|None)); rightOuterJoin: (k,(Some(v)|None,w));
 * fullOuterJoin: (k,(Some(v)|None,Some(w)|None)); cogroup: (k,(CompactBuffer(v..),
 * CompactBuffer(w..))) for every key of either; subtractByKey: (k,v) whose k is not in other. */
EM_API em_rdd *em_rdd_join_n(em_rdd *rdd, em_rdd *other, int num_partitions);
EM_API em_rdd *em_rdd_left_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions);
EM_API em_rdd *em_rdd_right_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions);
EM_API em_rdd *em_rdd_full_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions);
EM_API em_rdd *em_rdd_cogroup_n(em_rdd *rdd, em_rdd *other, int num_partitions);
EM_API em_rdd *em_rdd_subtract_by_key_n(em_rdd *rdd, em_rdd *other, int num_partitions);
#define em_rdd_join(a, b) em_rdd_join_n((a), (b), 0)
#define em_rdd_left_outer_join(a, b) em_rdd_left_outer_join_n((a), (b), 0)
#define em_rdd_right_outer_join(a, b) em_rdd_right_outer_join_n((a), (b), 0)
#define em_rdd_full_outer_join(a, b) em_rdd_full_outer_join_n((a), (b), 0)
#define em_rdd_cogroup(a, b) em_rdd_cogroup_n((a), (b), 0)
#define em_rdd_subtract_by_key(a, b) em_rdd_subtract_by_key_n((a), (b), 0)
/* Every record moved round-robin into num_partitions partitions (a shuffle). */
EM_API em_rdd *em_rdd_repartition(em_rdd *rdd, int num_partitions);
/* (k, v) records hash-partitioned by key into num_partitions, unchanged. */
EM_API em_rdd *em_rdd_partition_by(em_rdd *rdd, int num_partitions);
/* (k, v) records range-partitioned and sorted by key (em_value_compare), so that collect()
 * returns them in order. Equal keys keep no particular order. */
EM_API em_rdd *em_rdd_sort_by_key_n(em_rdd *rdd, bool ascending, int num_partitions);
#define em_rdd_sort_by_key(rdd, ascending) em_rdd_sort_by_key_n((rdd), (ascending), 0)

/* ---- Persistence and lineage ---- */

/* Keeps each partition in memory the first time it is computed (MEMORY_ONLY). Returns rdd. */
EM_API em_rdd *em_rdd_cache(em_rdd *rdd);
/* Same as em_rdd_cache(): memory is the one storage level. Returns rdd. */
EM_API em_rdd *em_rdd_persist(em_rdd *rdd);
/* Drops the cached partitions and stops caching. */
EM_API void em_rdd_unpersist(em_rdd *rdd);
/* Whether rdd is marked for caching. */
EM_API bool em_rdd_is_cached(const em_rdd *rdd);
/* The lineage as Spark's toDebugString prints it: one line per RDD, "(N)" partition counts,
 * " +-" at each shuffle. Newly allocated; the caller g_free()s it. */
EM_API char *em_rdd_debug_string(em_rdd *rdd);

/* ---- Actions: run a job. On failure they return NULL / -1 / false and set err. ---- */

/* Records collected on the driver: items[0..n), payload owned by the em_values. */
typedef struct em_values {
    em_value *items;
    size_t n;
    em_arena *arena; /* owns items and their payload */
} em_values;
/* Frees the records and their payload. NULL is allowed. */
EM_API void em_values_free(em_values *vals);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(em_values, em_values_free)
/* Sorts the records in place by em_value_compare(). Returns vals. */
EM_API em_values *em_values_sort(em_values *vals);
/* The records as "[a, (b,1)]"; newly allocated, the caller g_free()s it. */
EM_API char *em_values_to_string(const em_values *vals);

/* Every record, partitions in order. */
EM_API em_values *em_rdd_collect(em_rdd *rdd, GError **err);
/* The number of records, or -1 with err set. */
EM_API int64_t em_rdd_count(em_rdd *rdd, GError **err);
/* Reduces all records with fn into *out (payload in arena). An empty RDD is an error
 * (EM_ERROR_INVALID: "reduce of an empty RDD"), as Spark's "empty collection". */
EM_API bool em_rdd_reduce(em_rdd *rdd, em_reduce_fn fn, void *ud, em_arena *arena, em_value *out,
                          GError **err);
/* Folds every partition from zero, then the partition results from zero, as Spark's fold. */
EM_API bool em_rdd_fold(em_rdd *rdd, em_value zero, em_reduce_fn fn, void *ud, em_arena *arena,
                        em_value *out, GError **err);
/* The first record into *out (payload in arena); an empty RDD is an error (EM_ERROR_INVALID). */
EM_API bool em_rdd_first(em_rdd *rdd, em_arena *arena, em_value *out, GError **err);
/* The first n records, scanning as few partitions as it can (1, then 4x more each round). */
EM_API em_values *em_rdd_take(em_rdd *rdd, size_t n, GError **err);
/* The n smallest records by em_value_compare(), ascending. */
EM_API em_values *em_rdd_take_ordered(em_rdd *rdd, size_t n, GError **err);
/* The n largest records, descending. */
EM_API em_values *em_rdd_top(em_rdd *rdd, size_t n, GError **err);
/* (k, count) for each key of (k, v) records / (record, count) for each distinct record,
 * sorted by key. */
EM_API em_values *em_rdd_count_by_key(em_rdd *rdd, GError **err);
EM_API em_values *em_rdd_count_by_value(em_rdd *rdd, GError **err);
/* Calls fn on every record, on executor threads (concurrently for different partitions). */
EM_API bool em_rdd_foreach(em_rdd *rdd, em_foreach_fn fn, void *ud, GError **err);
/* Calls fn once per partition, on executor threads. */
EM_API bool em_rdd_foreach_partition(em_rdd *rdd, em_foreach_partition_fn fn, void *ud,
                                     GError **err);
/* 1 if the RDD has no records, 0 if it has some, -1 with err set. Computes only as many
 * partitions as it must (take(1)). */
EM_API int em_rdd_is_empty(em_rdd *rdd, GError **err);

typedef enum em_compression { EM_COMPRESS_NONE = 0, EM_COMPRESS_GZIP } em_compression;
/* Writes one text line per record (as em_value_format) into directory path, Spark's layout:
 * part-00000, part-00001, ... (with .gz when gzip), then an empty _SUCCESS. A path that exists
 * already is an error (EM_ERROR_EXISTS); an I/O failure names the file (EM_ERROR_IO) and
 * leaves no _SUCCESS. */
EM_API bool em_rdd_save_as_text_file(em_rdd *rdd, const char *path, em_compression compression,
                                     GError **err);

#endif
