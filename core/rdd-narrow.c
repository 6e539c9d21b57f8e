/* Narrow operators that work on whole partitions or several parents: mapPartitionsWithIndex,
 * glom, union, sample, zipWithIndex and coalesce (core; the per-record ones are in rdd-map.c).
 * Each computes its partition by asking parents to push into a sink of its own, as rdd-map.c. */
#include "core-private.h"

#include <math.h>

/* ---- mapPartitionsWithIndex ---- */

struct em_iter {
    const em_value *items;
    size_t n, pos;
    em_task *task;
};

struct em_emitter {
    em_sink *out;
    em_task *task;
    const em_rdd *rdd;
};

/* Ends early once the task stopped (a failure, or an action that has enough records). */
bool em_iter_next(em_iter *it, em_value *out)
{
    if (it->pos >= it->n || it->task->stop)
        return false;
    *out = it->items[it->pos++];
    return true;
}

void em_emit(em_emitter *out, em_value v)
{
    if (out->task->stop)
        return;
    out->out->push(out->out, v);
    /* Downstream operators name themselves; the user function continues as this one. */
    out->task->cur_rdd = out->rdd;
}

typedef struct {
    em_rdd base;
    em_partition_fn fn;
} map_partitions_rdd;

/* The parent partition is materialized so the function can pull at its own pace. Scratch is
 * not reset per emit, as the function may hold scratch values across emits; it is reset once
 * the function returns. */
static void map_partitions_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    em_values *in = em__materialize(rdd->parents[0], task, index);
    if (!in)
        return;
    em_iter it = {in->items, in->n, 0, task};
    em_emitter emitter = {out, task, rdd};
    task->cur_rdd = rdd;
    ((const map_partitions_rdd *)rdd)->fn(index, &it, &emitter, rdd->ud);
    em_arena_reset(task->scratch);
    em_values_free(in);
}

static const em_rdd_class map_partitions_class = {
    .type_name = "MapPartitionsRDD",
    .compute = map_partitions_compute,
};

em_rdd *em_rdd_map_partitions_full(em_rdd *rdd, em_partition_fn fn, void *ud,
                                   GDestroyNotify destroy, const char *name)
{
    map_partitions_rdd *out = EM__RDD_NEW(map_partitions_rdd, rdd->sc, &map_partitions_class,
                                          "mapPartitions", rdd->num_partitions, &rdd, 1);
    out->fn = fn;
    em__rdd_own(&out->base, ud, destroy, name);
    return &out->base;
}

/* ---- glom ---- */

static void glom_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    em_values *in = em__materialize(rdd->parents[0], task, index);
    if (!in)
        return;
    /* The list borrows the materialized items: downstream copies what it keeps. */
    out->push(out, (em_value){.type = EM_T_LIST,
                              .kind = EM_ARRAY,
                              .len = (uint32_t)in->n,
                              .as.items = in->items});
    em_arena_reset(task->scratch);
    em_values_free(in);
}

static const em_rdd_class glom_class = {.type_name = "MapPartitionsRDD", .compute = glom_compute};

em_rdd *em_rdd_glom(em_rdd *rdd)
{
    return em__rdd_new(rdd->sc, &glom_class, "glom", rdd->num_partitions, &rdd, 1);
}

/* ---- union ---- */

static void union_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    for (int i = 0; i < rdd->n_parents; i++) {
        if (index < rdd->parents[i]->num_partitions) {
            em__compute(rdd->parents[i], task, index, out);
            return;
        }
        index -= rdd->parents[i]->num_partitions;
    }
}

static const em_rdd_class union_class = {.type_name = "UnionRDD", .compute = union_compute};

em_rdd *em_rdd_union_n(em_rdd *const *rdds, size_t n)
{
    g_return_val_if_fail(rdds != NULL && n >= 1 && n <= G_MAXINT, NULL);
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        if (rdds[i]->sc != rdds[0]->sc) {
            g_critical("em_rdd_union_n: RDD %zu of the list belongs to another em_context "
                       "than the first; union only RDDs made from one context",
                       i);
            return NULL;
        }
        total += rdds[i]->num_partitions;
    }
    return em__rdd_new(rdds[0]->sc, &union_class, "union", total, rdds, (int)n);
}

em_rdd *em_rdd_union(em_rdd *rdd, em_rdd *other)
{
    return em_rdd_union_n((em_rdd *const[]){rdd, other}, 2);
}

/* ---- cartesian ---- */

/* Partition i * n + j of the product (n: other's partition count) pairs rdd's i with other's j.
 * Other's side is materialized once; rdd's side streams past it, each x meeting every y before
 * the source resets scratch (so no reset here: x may live in scratch). */
typedef struct {
    em_sink base;
    em_sink *out;
    const em_values *ys;
} cartesian_sink;

static void push_cartesian(em_sink *s, em_value x)
{
    cartesian_sink *c = (cartesian_sink *)s;
    for (size_t j = 0; j < c->ys->n && !s->task->stop; j++)
        c->out->push(c->out, em_pair(x, c->ys->items[j]));
}

static void cartesian_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    em_rdd *left = rdd->parents[0], *right = rdd->parents[1];
    int n = right->num_partitions;
    em_values *ys = em__materialize(right, task, index % n);
    if (!ys)
        return;
    if (ys->n) {
        cartesian_sink sink = {{push_cartesian, task, NULL}, out, ys};
        em__compute(left, task, index / n, &sink.base);
    }
    em_values_free(ys);
}

static const em_rdd_class cartesian_class = {
    .type_name = "CartesianRDD",
    .compute = cartesian_compute,
};

em_rdd *em_rdd_cartesian(em_rdd *rdd, em_rdd *other)
{
    g_return_val_if_fail(rdd != NULL && other != NULL, NULL);
    if (rdd->sc != other->sc) {
        g_critical("em_rdd_cartesian: the two RDDs belong to different em_contexts; make both "
                   "from one context");
        return NULL;
    }
    int64_t n = (int64_t)rdd->num_partitions * other->num_partitions;
    if (n > G_MAXINT) {
        g_critical("em_rdd_cartesian: %d x %d partitions is more than %d", rdd->num_partitions,
                   other->num_partitions, G_MAXINT);
        return NULL;
    }
    em_rdd *parents[2] = {rdd, other};
    return em__rdd_new(rdd->sc, &cartesian_class, "cartesian", (int)n, parents, 2);
}

/* ---- sample ---- */

typedef struct {
    em_rdd base;
    em_sample_flags flags;
    double fraction;
    uint64_t seed;
} sample_rdd;

/* SplitMix64: tiny, fast and the same on every platform, so a seed gives the same sample. */
static inline uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double next_double(uint64_t *state)
{
    return (double)(next_random(state) >> 11) * 0x1.0p-53;
}

typedef struct {
    em_sink base;
    em_sink *out;
    uint64_t rng;
    double fraction;
    double poisson_limit; /* exp(-fraction), with replacement */
} sample_sink;

static void push_bernoulli(em_sink *s, em_value v)
{
    sample_sink *ss = (sample_sink *)s;
    if (next_double(&ss->rng) < ss->fraction)
        ss->out->push(ss->out, v);
}

/* Knuth's Poisson draw: how many uniforms multiply down to exp(-fraction), less one. */
static void push_poisson(em_sink *s, em_value v)
{
    sample_sink *ss = (sample_sink *)s;
    int k = 0;
    for (double p = next_double(&ss->rng); p > ss->poisson_limit; p *= next_double(&ss->rng))
        k++;
    for (int i = 0; i < k && !s->task->stop; i++)
        ss->out->push(ss->out, v);
}

static void sample_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const sample_rdd *st = (const sample_rdd *)rdd;
    /* Each partition draws from a stream of its own, seeded from the seed and its index, so the
     * sample does not depend on which thread computes which partition. */
    uint64_t rng = st->seed ^ ((uint64_t)index * 0xd1b54a32d192ed03u);
    next_random(&rng);
    bool with_replacement = st->flags & EM_SAMPLE_WITH_REPLACEMENT;
    sample_sink sink = {{with_replacement ? push_poisson : push_bernoulli, task, NULL},
                        out,
                        rng,
                        st->fraction,
                        exp(-st->fraction)};
    em__compute(rdd->parents[0], task, index, &sink.base);
}

static const em_rdd_class sample_class = {
    .type_name = "PartitionwiseSampledRDD",
    .compute = sample_compute,
};

em_rdd *em_rdd_sample(em_rdd *rdd, double fraction, uint64_t seed, em_sample_flags flags)
{
    bool with_replacement = flags & EM_SAMPLE_WITH_REPLACEMENT;
    if (flags & ~EM_SAMPLE_WITH_REPLACEMENT) {
        g_critical("em_rdd_sample: unknown flags 0x%x; give EM_SAMPLE_WITH_REPLACEMENT or 0",
                   (unsigned)flags);
        return NULL;
    }
    if (!(fraction >= 0) || (!with_replacement && fraction > 1)) {
        g_critical("em_rdd_sample: fraction %g is out of range; give 0 <= fraction <= 1 without "
                   "replacement, fraction >= 0 (the expected count of each record) with it",
                   fraction);
        return NULL;
    }
    sample_rdd *out =
        EM__RDD_NEW(sample_rdd, rdd->sc, &sample_class, "sample", rdd->num_partitions, &rdd, 1);
    out->flags = flags;
    out->fraction = fraction;
    out->seed = seed;
    return &out->base;
}

/* ---- zipWithIndex ---- */

typedef struct {
    em_rdd base;
    int64_t *starts; /* the index of each partition's first record */
    char *failure;   /* the counting job's error message, when it failed */
} zip_rdd;

typedef struct {
    em_sink base;
    em_sink *out;
    int64_t next;
} zip_sink;

static void push_zip(em_sink *s, em_value v)
{
    zip_sink *z = (zip_sink *)s;
    z->out->push(z->out, em_pair(v, em_int(z->next++)));
}

static void zip_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const zip_rdd *st = (const zip_rdd *)rdd;
    if (st->failure) {
        em__task_fail(task, rdd, "counting the records of the partitions failed: %s", st->failure);
        return;
    }
    zip_sink sink = {{push_zip, task, NULL}, out, st->starts[index]};
    em__compute(rdd->parents[0], task, index, &sink.base);
}

static void zip_finalize(em_rdd *rdd)
{
    zip_rdd *st = (zip_rdd *)rdd;
    g_free(st->starts);
    g_free(st->failure);
}

static const em_rdd_class zip_class = {
    .type_name = "ZippedWithIndexRDD",
    .compute = zip_compute,
    .finalize = zip_finalize,
};

em_rdd *em_rdd_zip_with_index(em_rdd *rdd)
{
    int n = rdd->num_partitions;
    zip_rdd *st = EM__RDD_NEW(zip_rdd, rdd->sc, &zip_class, "zipWithIndex", n, &rdd, 1);
    st->starts = g_new0(int64_t, n > 0 ? n : 1);
    if (n > 1) {
        /* As Spark: a job at once over every partition but the last. */
        int *parts = g_new(int, n - 1);
        for (int i = 0; i < n - 1; i++)
            parts[i] = i;
        GError *err = NULL;
        if (em__driver_only("zipWithIndex", &err) &&
            em__count_partitions(rdd, parts, n - 1, st->starts, &err)) {
            int64_t next = 0;
            for (int i = 0; i < n; i++) {
                int64_t count = st->starts[i];
                st->starts[i] = next;
                next += count;
            }
        } else {
            /* Kept without the "Job aborted: " the failing job will add again. */
            static const char prefix[] = "Job aborted: ";
            const char *msg = err->message;
            st->failure = g_strdup(g_str_has_prefix(msg, prefix) ? msg + sizeof prefix - 1 : msg);
            g_error_free(err);
        }
        g_free(parts);
    }
    return &st->base;
}

/* ---- coalesce ---- */

/* Group i holds parent partitions [i*n/k, (i+1)*n/k), as Spark's coalescer without locality. */
static void coalesce_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    em_rdd *parent = rdd->parents[0];
    int64_t n = parent->num_partitions, k = rdd->num_partitions;
    int from = (int)(index * n / k), to = (int)((index + 1) * n / k);
    for (int p = from; p < to && !task->stop; p++)
        em__compute(parent, task, p, out);
}

static const em_rdd_class coalesce_class = {
    .type_name = "CoalescedRDD",
    .compute = coalesce_compute,
};

em_rdd *em_rdd_coalesce(em_rdd *rdd, int num_partitions, bool shuffle)
{
    if (num_partitions <= 0) {
        g_critical("em_rdd_coalesce: %d partitions asked for; give a count >= 1", num_partitions);
        return NULL;
    }
    if (shuffle)
        return em_rdd_repartition(rdd, num_partitions);
    int n = MIN(num_partitions, rdd->num_partitions);
    return em__rdd_new(rdd->sc, &coalesce_class, "coalesce", n, &rdd, 1);
}
