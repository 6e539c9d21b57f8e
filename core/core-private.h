/* Private to libember and its tests: what the core rooms share but users never see.
 *
 * Execution model. A job runs one task per partition of its final RDD, after every shuffle
 * below it has its map outputs. A task computes a partition by *pushing* records through a
 * chain of sinks: each narrow RDD's compute() wraps the downstream sink in its own and asks its
 * parent to push into it, so map → flatMap → filter → (shuffle writer) run as one fused loop.
 * Sources (parallelized slices, cached partitions, shuffle reads) reset the task's scratch arena
 * after each record they push, so per-record temporaries cost a pointer bump and no free.
 * A sink that keeps a record past push() (materialize, combine, glom) copies it first. */
#ifndef EMBER_CORE_PRIVATE_H
#define EMBER_CORE_PRIVATE_H

#ifndef EMBER_COMPILATION
#define EMBER_COMPILATION
#endif
/* The core's public headers only: the core builds as a library of its own (core/meson.build)
 * that neither sees nor needs the streaming or connector rooms above it. */
#include <ember/common.h>
#include <ember/version.h>
#include <ember/arena.h>
#include <ember/value.h>
#include <ember/rdd.h>
#include <ember/functions.h>
#include <ember/shared.h>

#include <string.h>

/* ---- Arenas and values ---- */

/* Installs arena as the calling thread's scratch (NULL: back to the thread's own); returns the
 * previous one. Tasks use it so value constructors allocate in the task's scratch. */
em_arena *em__scratch_set(em_arena *arena);
/* Moves every chunk of other into arena and frees other: what was allocated in other now
 * lives as long as arena. */
void em__arena_adopt(em_arena *arena, em_arena *other);
/* The hash em_value_hash() uses for string bytes. */
uint64_t em__hash_bytes(const void *bytes, size_t n);

/* Whether n bytes at a and b are equal: fixed-size loads for keys up to 16 bytes, memcmp above. */
static inline bool em__bytes_equal(const void *a, const void *b, size_t n)
{
    const char *x = a, *y = b;
    uint64_t u, v, s, t;
    if (n >= 8 && n <= 16) {
        memcpy(&u, x, 8), memcpy(&v, y, 8);
        memcpy(&s, x + n - 8, 8), memcpy(&t, y + n - 8, 8);
        return u == v && s == t;
    }
    if (n >= 4 && n < 8) {
        uint32_t p, q, r, w;
        memcpy(&p, x, 4), memcpy(&q, y, 4);
        memcpy(&r, x + n - 4, 4), memcpy(&w, y + n - 4, 4);
        return p == q && r == w;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (x[i] != y[i])
                return false;
        return true;
    }
    return memcmp(x, y, n) == 0;
}

/* Equality of two keys, with the common cases (strings, ints) inline. */
static inline bool em__key_equal(em_value a, em_value b)
{
    if (a.type == EM_T_STR && b.type == EM_T_STR)
        return a.len == b.len && em__bytes_equal(a.as.s, b.as.s, a.len);
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return a.as.i == b.as.i;
    return em_value_equal(a, b);
}

/* em_value_copy() with the scalar case inline. */
static inline em_value em__value_copy(em_value v, em_arena *arena)
{
    return v.type <= EM_T_DOUBLE || v.type == EM_T_NONE ? v : em_value_copy(v, arena);
}

#include "table.h"

/* An empty em_values with its own arena. */
em_values *em__values_new(void);
/* Appends v as it is (no copy): the caller put its payload in vals->arena or static memory. */
void em__values_append(em_values *vals, em_value v);
/* Appends a deep copy of v into vals->arena. */
void em__values_append_copy(em_values *vals, em_value v);
/* Appends Java's Double/Float.toString layout of the decimal D1..Dn x 10^exp (n >= 1, no
 * trailing zeros but D1) to out: plain in [1e-3, 1e7), else D.DDDE<exp>. */
void em__java_layout(const char *digits, int nd, int exp, GString *out);

/* ---- Tasks and sinks ---- */

typedef struct em_task em_task;
typedef struct em_sink em_sink;
typedef struct em_shuffle em_shuffle;

struct em_sink {
    void (*push)(em_sink *self, em_value v);
    em_task *task;
    /* Optional: takes the pair (k, v) without building it (map(em_pair_one) calls it). */
    void (*push_pair)(em_sink *self, em_value k, em_value v);
};

struct em_task {
    em_context *sc;
    struct em_job *job;
    int stage_id;
    int partition;         /* the partition this task computes */
    em_arena *scratch;     /* reset after each source record */
    em_arena *arena;       /* lives as long as the task */
    int stop;              /* nonzero: sources stop pushing (failure, or enough records) */
    GError *error;         /* the first failure, if any */
    const em_rdd *cur_rdd; /* the RDD whose user function runs now: names failures */
};

/* Fails the task with a message (first failure wins) and stops it. */
/* The task running on this thread, or NULL (accumulators refuse to be read inside one). */
em_task *em__current_task(void);
void em__task_fail(em_task *task, const em_rdd *rdd, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Fails the task naming rdd and the record v, which is not a (key, value) pair; returns false. */
bool em__fail_not_pair(em_task *task, const em_rdd *rdd, em_value v);
/* True when v is a (key, value) pair; otherwise fails the task naming rdd and the record. */
static inline bool em__require_pair(em_task *task, const em_rdd *rdd, em_value v)
{
    return G_LIKELY(em_is_pair(v)) || em__fail_not_pair(task, rdd, v);
}
/* Pushes items[0..n) to out, resetting scratch after each; stops early when task->stop. */
void em__push_all(em_task *task, const em_value *items, size_t n, em_sink *out);
/* Pushes into out, in order, the words em_split_space (space_only) or em_split_words returns
 * for line, a string, without building the list; stops once out's task stops. */
void em__push_split(em_value line, bool space_only, em_sink *out);
/* Computes partition index of rdd into out: from the cache when rdd is cached. */
void em__compute(em_rdd *rdd, em_task *task, int index, em_sink *out);
/* Computes partition index of rdd into a new em_values in the task's arena lifetime: the
 * caller frees it with em_values_free(). NULL if the task stopped or failed. */
em_values *em__materialize(em_rdd *rdd, em_task *task, int index);

/* ---- RDDs ---- */

/* An RDD kind: its class (the methods) and its struct, which embeds em_rdd as its first member
 * and adds what the kind needs, typed (as GStreamer's and libuv's handles do):
 *
 *     typedef struct { em_rdd base; em_map_fn fn; } map_rdd;
 *     map_rdd *m = EM__RDD_NEW(map_rdd, sc, &map_class, "map", n, &parent, 1);
 *     ... in compute: const map_rdd *m = (const map_rdd *)rdd;
 *
 * The user data an operator is given has one owner, the base (em__rdd_own): the kind's struct
 * keeps the typed function and calls it with rdd->ud. */
typedef struct em_rdd_class {
    const char *type_name; /* as Spark names the RDD class: "MapPartitionsRDD", ... */
    /* Pushes every record of partition index into out (see the execution model above). */
    void (*compute)(em_rdd *rdd, em_task *task, int index, em_sink *out);
    /* Frees what the kind's struct holds (not the user data: the base does that). May be
     * NULL. The struct itself is freed with the base. */
    void (*finalize)(em_rdd *rdd);
    /* Bytes of record data the RDD itself holds (source slices, received blocks). May be NULL. */
    size_t (*data_bytes)(const em_rdd *rdd);
} em_rdd_class;

/* A cached partition: its records as em_values, or, when every record is a string (a text
 * file's lines), a string column: their bytes back to back and each one's end offset, 4 bytes
 * a record besides its text instead of a 16-byte em_value. */
typedef struct em_cached_part {
    size_t n;        /* records */
    em_values *vals; /* the records; NULL for a string column */
    char *bytes;     /* string column: every record's bytes, back to back (g_malloc'd) */
    size_t nbytes;   /* string column: bytes used (and allocated) */
    uint32_t *ends;  /* string column: [n] end offsets into bytes */
} em_cached_part;

struct em_rdd {
    gint refcount;
    int id;
    int num_partitions;
    em_context *sc;
    const em_rdd_class *klass;
    const char *op;         /* the Spark operation that made it: "map", "reduceByKey" */
    char *fn_name;          /* the user function's name, or NULL */
    void *ud;               /* the user data given with the function ... */
    GDestroyNotify destroy; /* ... freed with this exactly once, when the RDD is freed */
    em_rdd **parents;       /* narrow dependencies, in order */
    int n_parents;
    em_shuffle **shuffles; /* shuffle dependencies, in order */
    int n_shuffles;
    /* persistence */
    bool cached;
    bool checkpointed; /* lineage dropped: the cache is all there is */
    GMutex cache_lock;
    em_cached_part **cache; /* [num_partitions], filled as partitions are computed */
};

/* Makes an RDD of size bytes (a kind's struct embedding em_rdd first, zeroed past the base)
 * with refcount 1, holding a reference on each parent. The op and type strings must be
 * static. */
em_rdd *em__rdd_alloc(size_t size, em_context *sc, const em_rdd_class *klass, const char *op,
                      int num_partitions, em_rdd *const *parents, int n_parents);
/* em__rdd_alloc for the kind's struct type. */
#define EM__RDD_NEW(type, sc, klass, op, num_partitions, parents, n_parents)                      \
    ((type *)em__rdd_alloc(sizeof(type), (sc), (klass), (op), (num_partitions), (parents),        \
                           (n_parents)))
/* A plain em_rdd (a kind with nothing of its own). */
em_rdd *em__rdd_new(em_context *sc, const em_rdd_class *klass, const char *op, int num_partitions,
                    em_rdd *const *parents, int n_parents);
/* Gives the RDD the user data of its function and the function's name (copied; NULL for
 * none): destroy(ud) runs exactly once when the RDD is freed (not at all when destroy is
 * NULL). */
void em__rdd_own(em_rdd *rdd, void *ud, GDestroyNotify destroy, const char *name);
/* Spark's localCheckpoint, done at once: caches rdd, computes every partition, then drops its
 * parents and shuffles so that a chain of state RDDs does not keep every ancestor alive.
 * Returns false with err when computing failed (the RDD is left as it was). */
bool em__rdd_checkpoint(em_rdd *rdd, GError **err);
/* Bytes the RDD keeps alive on its own: its cached partitions and its own data (not its
 * parents'). */
size_t em__rdd_retained_bytes(em_rdd *rdd);
/* Adds a shuffle dependency (the RDD takes ownership of it). */
void em__rdd_add_shuffle(em_rdd *rdd, em_shuffle *shuffle);

/* ---- Jobs ---- */

/* Runs fn(task, ud) for partitions parts[0..n) of rdd (all of them when parts is NULL), one
 * task each on the executor (a lone task on the calling thread when one of the N task slots is
 * free), after running the map stages of every shuffle it depends on that has no outputs yet.
 * Returns false and sets err on the first task failure (EM_ERROR_TASK, naming the stage,
 * partition, operator and message). Call from a driver thread only. */
typedef void (*em_task_fn)(em_task *task, void *ud);
bool em__run_job(em_rdd *rdd, const int *parts, int n, em_task_fn fn, void *ud, GError **err);
/* True on a driver thread. Inside a task (a user function calling an action) it sets err
 * (EM_ERROR_INVALID, naming action and the operator whose function called it), fails the
 * enclosing task with the same cause, and returns false: the job would wait for pool threads
 * its own callers hold. Every action calls it first; em__run_job and em__run_stage too. */
bool em__driver_only(const char *action, GError **err);
/* The same for one stage, without looking at the shuffles below rdd. */
bool em__run_stage(em_rdd *rdd, const int *parts, int n, em_task_fn fn, void *ud, GError **err);
/* Runs the map stages of every shuffle below rdd that has no outputs yet, deepest first. */
bool em__prepare_lineage(em_rdd *rdd, GError **err);
/* A new stage id, unique within the context. */
int em__next_stage_id(em_context *sc);
/* Runs a job counting the records of partitions parts[0..n) of rdd (all when parts is NULL)
 * into counts[partition], an array of rdd->num_partitions (count, zipWithIndex). */
bool em__count_partitions(em_rdd *rdd, const int *parts, int n, int64_t *counts, GError **err);

/* ---- Shuffles ---- */

typedef enum em_partitioner {
    EM_PART_HASH,        /* by em_value_hash() of the key (the record for non-pair records) */
    EM_PART_RANGE,       /* by key against sorted bounds */
    EM_PART_ROUND_ROBIN, /* record by record, for repartition */
} em_partitioner;

/* How values meet per key: a new key's combiner is create(v), or merge_value(zero, v) when
 * has_zero, or v itself when neither; merge_value(c, v) adds a value, merge_combiners(c1, c2)
 * joins two combiners (on the reduce side, after a map-side combine). */
typedef struct em_aggregator {
    em_map_fn create;
    em_reduce_fn merge_value;
    em_reduce_fn merge_combiners;
    void *ud;
    bool has_zero;
    em_value zero; /* owned by the shuffle (copied into its arena) */
} em_aggregator;

typedef struct em_map_output {
    em_arena *arena;    /* payload of every bucket */
    em_value **buckets; /* [num_reducers] arrays of records */
    size_t *counts;
} em_map_output;

struct em_shuffle {
    int id;
    em_rdd *parent; /* the map side (referenced) */
    int num_reducers;
    em_partitioner partitioner;
    em_value *bounds; /* EM_PART_RANGE: num_reducers - 1 keys, ascending */
    em_arena *arena;  /* bounds and the aggregator's zero */
    bool descending;  /* EM_PART_RANGE: partition 0 holds the largest keys */
    bool has_agg;     /* combine on the map side with agg */
    em_aggregator agg;
    const em_rdd *owner; /* the RDD reading this shuffle (not referenced): names failures */
    bool spark_order;    /* EM_PART_HASH: Spark's HashPartitioner, map outputs by hashCode */
    GMutex lock;         /* held while the map stage runs */
    bool ready;          /* outputs complete */
    int num_maps;
    em_map_output *outputs; /* [num_maps] */
};

/* A shuffle of parent into num_reducers partitions, combining on the map side with agg when
 * agg is not NULL (its zero is deep-copied). Attach it with em__rdd_add_shuffle(), which sets
 * the owner. */
em_shuffle *em__shuffle_new(em_rdd *parent, int num_reducers, em_partitioner partitioner,
                            const em_aggregator *agg);
void em__shuffle_free(em_shuffle *shuffle);
/* Runs the map stage if it has not run. Driver thread only. */
bool em__shuffle_prepare(em_shuffle *shuffle, GError **err);
/* The partition of a key with this hash under the hash partitioner of n partitions. The high
 * half of the hash: hash tables index with the low bits. */
static inline int em__hash_partition(uint64_t hash, int n)
{
    return (int)((hash >> 32) % (uint64_t)n);
}
/* The partition of key among n under sc's hash partitioner, as its hash shuffles place it:
 * Spark's HashPartitioner when sc keeps Spark's order, em__hash_partition() otherwise. For
 * code that keeps per-partition data of its own beside a shuffle (mapWithState's tables). */
int em__key_partition(const em_context *sc, em_value key, int n);
/* A ShuffledRDD over parent: READ_PLAIN without agg (records pass through), the aggregation
 * with agg (combined on the map side too when map_side), values grouped into CompactBuffers
 * when group. num_partitions 0: the parent's count. */
em_rdd *em__shuffled_new(em_rdd *parent, const char *op, int num_partitions,
                         em_partitioner partitioner, const em_aggregator *agg, bool map_side,
                         bool group);
/* Frees the map outputs of every shuffle in rdd's lineage (not the shuffles: a job that needs
 * them again runs their map stages again). For data read once, as a streaming batch's. */
void em__rdd_release_shuffles(em_rdd *rdd);
/* Calls fn(record, ud) for each record sent to reducer r, map outputs in order. */
void em__shuffle_read(em_shuffle *shuffle, int r, void (*fn)(em_value v, void *ud), void *ud);
/* The reducer of key under shuffle's partitioner (not for round robin). */
int em__shuffle_partition_of(const em_shuffle *shuffle, em_value key);

/* ---- Growable lists (the hash table is table.h) ---- */

/* Appends v to *list, a growable CompactBuffer (kind EM_BUFFER) allocated in arena whose
 * capacity is *cap (0 for a list not started: *list is then made one). */
void em__list_append(em_value *list, uint32_t *cap, em_value v, em_arena *arena);

/* ---- Context internals ---- */

struct em_context {
    char *master;
    char *app_name;
    int parallelism;
    GThreadPool *pool;
    gint next_rdd_id;
    gint next_stage_id;
    gint next_shuffle_id;
    bool spark_order; /* hash shuffles use Spark's partitioner and record order (spark-order.c) */
    /* Task slots (context.c): tasks running now, on the pool or on a driver thread (a lone
     * task), at most parallelism; pool tasks waiting for one, now and ever (tests read it);
     * slot_cond signals a slot given back and a task starting to wait. */
    GMutex slot_lock;
    GCond slot_cond;
    int slots_busy;
    int slots_waiting;
    int slot_waits;
};

#endif
