/* DStream transformations: each one applies the RDD operation of the same name to its parents'
 * RDDs at every batch time (Spark's MappedDStream, FlatMappedDStream, ShuffledDStream,
 * TransformedDStream, UnionDStream...). Each kind is its own struct embedding em_dstream, its
 * function typed there; the base owns the user data, the stream's RDDs borrow it. */
#include "streaming-private.h"

#include <string.h>

/* The parents' RDDs at t into in[0..n_parents): false when one has none (then *err says why,
 * if anything failed). */
static bool parents_at(em_dstream *ds, em_time t, em_rdd **in, GError **err)
{
    for (int i = 0; i < ds->n_parents; i++) {
        in[i] = em__dstream_get_or_compute(ds->parents[i], t, err);
        if (!in[i])
            return false;
    }
    return true;
}

/* As parents_at, but a parent without an RDD at t fails the batch, as Spark's UnionDStream
 * and TransformedDStream do ("could not generate RDD from a parent"). */
static bool all_parents_at(em_dstream *ds, em_time t, em_rdd **in, GError **err)
{
    if (parents_at(ds, t, in, err))
        return true;
    if (!(err && *err))
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s: Could not generate RDD from a parent for %s at time %" G_GINT64_FORMAT
                    " ms",
                    ds->op, strcmp(ds->op, "union") == 0 ? "unifying" : "transforming", (gint64)t);
    return false;
}

/* The one parent's RDD at t, or NULL. */
static em_rdd *parent_at(em_dstream *ds, em_time t, GError **err)
{
    return em__dstream_get_or_compute(ds->parents[0], t, err);
}

static em_dstream *derive(em_dstream *const *parents, int n, const em_dstream_class *klass,
                          const char *op)
{
    for (int i = 0; i < n; i++)
        if (!em__dstream_check(parents[i], op))
            return NULL;
    return em__dstream_new(parents[0]->ssc, klass, op, parents, n);
}

static em_dstream *derive1(em_dstream *parent, const em_dstream_class *klass, const char *op)
{
    return derive(&parent, 1, klass, op);
}

/* Hands ud to ds (or, when ds could not be made, destroys it now: exactly once either way). */
static em_dstream *own(em_dstream *ds, void *ud, GDestroyNotify destroy, const char *name)
{
    if (!ds) {
        if (destroy)
            destroy(ud);
        return NULL;
    }
    em__dstream_own(ds, ud, destroy, name);
    return ds;
}

/* Spark's PairDStreamFunctions.defaultPartitioner: the context's default parallelism, not the
 * parent's partition count. */
static int by_key_partitions(const em_dstream *ds, int num_partitions)
{
    return num_partitions > 0 ? num_partitions : ds->ssc->sc->parallelism;
}

/* ---- One-to-one: map, flatMap, mapValues, flatMapValues (an em_map_fn each) ---- */

typedef struct {
    em_dstream base;
    em_map_fn fn;
} map_dstream;

typedef em_rdd *(*rdd_map_op)(em_rdd *, em_map_fn, void *, GDestroyNotify, const char *);

/* Each class names the RDD operation it applies. */
typedef struct {
    em_dstream_class klass;
    rdd_map_op apply;
} map_class;

static em_rdd *map_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    if (!in)
        return NULL;
    const map_class *mc = (const map_class *)ds->klass;
    return mc->apply(in, ((map_dstream *)ds)->fn, ds->ud, NULL, ds->fn_name);
}

#define MAP_CLASS(var, type, rdd_op)                                                              \
    static const map_class var = {{.type_name = type,                                             \
                                   .instance_size = sizeof(map_dstream),                          \
                                   .compute = map_compute},                                       \
                                  rdd_op}
MAP_CLASS(mapped_class, "MappedDStream", em_rdd_map_full);
MAP_CLASS(flat_mapped_class, "FlatMappedDStream", em_rdd_flat_map_full);
MAP_CLASS(map_valued_class, "MapValuedDStream", em_rdd_map_values_full);
MAP_CLASS(flat_map_valued_class, "FlatMapValuedDStream", em_rdd_flat_map_values_full);

static em_dstream *map_stream(em_dstream *ds, const map_class *mc, const char *op, em_map_fn fn,
                              void *ud, GDestroyNotify destroy, const char *name)
{
    em_dstream *out = own(derive1(ds, &mc->klass, op), ud, destroy, name);
    if (out)
        ((map_dstream *)out)->fn = fn;
    return out;
}

em_dstream *em_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                        const char *name)
{
    return map_stream(ds, &mapped_class, "map", fn, ud, destroy, name);
}

em_dstream *em_flat_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                             const char *name)
{
    return map_stream(ds, &flat_mapped_class, "flatMap", fn, ud, destroy, name);
}

em_dstream *em_map_values_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name)
{
    return map_stream(ds, &map_valued_class, "mapValues", fn, ud, destroy, name);
}

em_dstream *em_flat_map_values_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                    const char *name)
{
    return map_stream(ds, &flat_map_valued_class, "flatMapValues", fn, ud, destroy, name);
}

typedef struct {
    em_dstream base;
    em_filter_fn fn;
} filter_dstream;

static em_rdd *filter_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    return in ? em_rdd_filter_full(in, ((filter_dstream *)ds)->fn, ds->ud, NULL, ds->fn_name)
              : NULL;
}

static const em_dstream_class filtered_class = {.type_name = "FilteredDStream",
                                                .instance_size = sizeof(filter_dstream),
                                                .compute = filter_compute};

em_dstream *em_filter_full(em_dstream *ds, em_filter_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    em_dstream *out = own(derive1(ds, &filtered_class, "filter"), ud, destroy, name);
    if (out)
        ((filter_dstream *)out)->fn = fn;
    return out;
}

typedef struct {
    em_dstream base;
    em_partition_fn fn;
} partitions_dstream;

static em_rdd *map_partitions_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    return in ? em_rdd_map_partitions_full(in, ((partitions_dstream *)ds)->fn, ds->ud, NULL,
                                           ds->fn_name)
              : NULL;
}

static const em_dstream_class map_partitioned_class = {.type_name = "MapPartitionedDStream",
                                                       .instance_size = sizeof(partitions_dstream),
                                                       .compute = map_partitions_compute};

em_dstream *em_map_partitions_full(em_dstream *ds, em_partition_fn fn, void *ud,
                                   GDestroyNotify destroy, const char *name)
{
    em_dstream *out = own(derive1(ds, &map_partitioned_class, "mapPartitions"), ud, destroy, name);
    if (out)
        ((partitions_dstream *)out)->fn = fn;
    return out;
}

static em_rdd *glom_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    return in ? em_rdd_glom(in) : NULL;
}

static const em_dstream_class glommed_class = {.type_name = "GlommedDStream",
                                               .compute = glom_compute};

em_dstream *em_glom(em_dstream *ds) { return derive1(ds, &glommed_class, "glom"); }

/* ---- Streams with a partition count of their own ---- */

typedef struct {
    em_dstream base;
    int partitions; /* as given: 0 for the default */
} sized_dstream;

static int partitions_of(const em_dstream *ds) { return ((const sized_dstream *)ds)->partitions; }

static em_dstream *sized(em_dstream *ds, int partitions)
{
    if (ds)
        ((sized_dstream *)ds)->partitions = partitions;
    return ds;
}

static em_rdd *repartition_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    return in ? em_rdd_repartition(in, partitions_of(ds)) : NULL;
}

static const em_dstream_class repartitioned_class = {.type_name = "RepartitionedDStream",
                                                     .instance_size = sizeof(sized_dstream),
                                                     .compute = repartition_compute};

em_dstream *em_repartition(em_dstream *ds, int num_partitions)
{
    if (num_partitions <= 0) {
        g_critical("repartition: %d partitions asked for; give a count >= 1", num_partitions);
        return NULL;
    }
    return sized(derive1(ds, &repartitioned_class, "repartition"), num_partitions);
}

static em_value null_one(em_value v, void *ud)
{
    (void)v, (void)ud;
    return em_pair(em_null(), em_int(1));
}

static em_rdd *count_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    if (!in)
        return NULL;
    /* map(_ => (null, 1L)).transform(_.union(makeRDD(Seq((null, 0L)), 1)))
     *   .reduceByKey(_ + _).map(_._2): an empty batch counts 0. */
    em_arena *arena = em_arena_new();
    em_value zero = em_pair_in(arena, em_null(), em_int(0));
    g_autoptr(em_rdd) ones = em_rdd_map_full(in, null_one, NULL, NULL, "count");
    g_autoptr(em_rdd) zero_rdd = em_parallelize(in->sc, &zero, 1, 1);
    em_arena_free(arena);
    g_autoptr(em_rdd) all = em_rdd_union(ones, zero_rdd);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key_full(all, em_sum, NULL, NULL, "em_sum", 0);
    return em_rdd_values(counts);
}

static const em_dstream_class counted_class = {.type_name = "CountedDStream",
                                               .compute = count_compute};

em_dstream *em_count(em_dstream *ds) { return derive1(ds, &counted_class, "count"); }

static em_rdd *count_by_value_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    if (!in)
        return NULL;
    g_autoptr(em_rdd) ones = em_rdd_map(in, em_pair_one);
    return em_rdd_reduce_by_key_full(ones, em_sum, NULL, NULL, "em_sum",
                                     by_key_partitions(ds, partitions_of(ds)));
}

static const em_dstream_class counted_by_value_class = {.type_name = "ShuffledDStream",
                                                        .instance_size = sizeof(sized_dstream),
                                                        .compute = count_by_value_compute};

em_dstream *em_count_by_value_n(em_dstream *ds, int num_partitions)
{
    return sized(derive1(ds, &counted_by_value_class, "countByValue"), num_partitions);
}

static em_rdd *group_by_key_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    return in ? em_rdd_group_by_key_n(in, by_key_partitions(ds, partitions_of(ds))) : NULL;
}

static const em_dstream_class grouped_class = {.type_name = "ShuffledDStream",
                                               .instance_size = sizeof(sized_dstream),
                                               .compute = group_by_key_compute};

em_dstream *em_group_by_key_n(em_dstream *ds, int num_partitions)
{
    return sized(derive1(ds, &grouped_class, "groupByKey"), num_partitions);
}

/* ---- Reductions: reduce (the whole batch) and reduceByKey ---- */

typedef struct {
    em_dstream base;
    em_reduce_fn fn;
    int partitions;
} reduce_dstream;

static em_value pair_with_null(em_value v, void *ud)
{
    (void)ud;
    return em_pair(em_null(), v);
}

static em_rdd *reduce_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    if (!in)
        return NULL;
    /* this.map((null, _)).reduceByKey(f, 1).map(_._2) */
    g_autoptr(em_rdd) keyed = em_rdd_map_full(in, pair_with_null, NULL, NULL, "reduce");
    g_autoptr(em_rdd) reduced =
        em_rdd_reduce_by_key_full(keyed, ((reduce_dstream *)ds)->fn, ds->ud, NULL, ds->fn_name, 1);
    return em_rdd_values(reduced);
}

static const em_dstream_class reduced_class = {.type_name = "ReducedDStream",
                                               .instance_size = sizeof(reduce_dstream),
                                               .compute = reduce_compute};

em_dstream *em_reduce_full(em_dstream *ds, em_reduce_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    em_dstream *out = own(derive1(ds, &reduced_class, "reduce"), ud, destroy, name);
    if (out)
        ((reduce_dstream *)out)->fn = fn;
    return out;
}

static em_rdd *reduce_by_key_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    const reduce_dstream *r = (const reduce_dstream *)ds;
    return in ? em_rdd_reduce_by_key_full(in, r->fn, ds->ud, NULL, ds->fn_name,
                                          by_key_partitions(ds, r->partitions))
              : NULL;
}

static const em_dstream_class reduced_by_key_class = {.type_name = "ShuffledDStream",
                                                      .instance_size = sizeof(reduce_dstream),
                                                      .compute = reduce_by_key_compute};

em_dstream *em_reduce_by_key_full(em_dstream *ds, em_reduce_fn fn, void *ud,
                                  GDestroyNotify destroy, const char *name, int num_partitions)
{
    em_dstream *out = own(derive1(ds, &reduced_by_key_class, "reduceByKey"), ud, destroy, name);
    if (out) {
        ((reduce_dstream *)out)->fn = fn;
        ((reduce_dstream *)out)->partitions = num_partitions;
    }
    return out;
}

typedef struct {
    em_dstream base;
    em_combine_spec spec; /* ud, destroy and name moved to the base */
} combine_dstream;

static em_rdd *combine_by_key_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in = parent_at(ds, t, err);
    const em_combine_spec *c = &((const combine_dstream *)ds)->spec;
    return in ? em_rdd_combine_by_key_full(in, c->create, c->merge_value, c->merge_combiners,
                                           ds->ud, NULL, ds->fn_name,
                                           by_key_partitions(ds, c->num_partitions))
              : NULL;
}

static const em_dstream_class combined_class = {.type_name = "ShuffledDStream",
                                                .instance_size = sizeof(combine_dstream),
                                                .compute = combine_by_key_compute};

em_dstream *em_combine_by_key_full(em_dstream *ds, const em_combine_spec *spec)
{
    if (!spec || !spec->create || !spec->merge_value || !spec->merge_combiners) {
        g_critical("combineByKey: the spec needs create, merge_value and merge_combiners");
        if (spec && spec->destroy)
            spec->destroy(spec->ud);
        return NULL;
    }
    const char *name = spec->name ? spec->name : "combineByKey";
    em_dstream *out =
        own(derive1(ds, &combined_class, "combineByKey"), spec->ud, spec->destroy, name);
    if (out) {
        combine_dstream *c = (combine_dstream *)out;
        c->spec = *spec;
        c->spec.ud = NULL, c->spec.destroy = NULL, c->spec.name = NULL;
    }
    return out;
}

/* ---- Union and transform ---- */

/* The parents' RDDs at t in a buffer of n (freed with g_free when not stack): any number. */
typedef struct {
    em_rdd *stack[8];
    em_rdd **in;
} rdd_buffer;

static em_rdd **buffer_for(rdd_buffer *b, int n)
{
    b->in = n <= (int)G_N_ELEMENTS(b->stack) ? b->stack : g_new(em_rdd *, (gsize)n);
    return b->in;
}

static void buffer_free(rdd_buffer *b)
{
    if (b->in != b->stack)
        g_free(b->in);
}

static em_rdd *union_compute(em_dstream *ds, em_time t, GError **err)
{
    rdd_buffer b;
    em_rdd **in = buffer_for(&b, ds->n_parents);
    em_rdd *out = NULL;
    if (all_parents_at(ds, t, in, err))
        out = em_rdd_union_n(in, (size_t)ds->n_parents);
    buffer_free(&b);
    return out;
}

static const em_dstream_class union_class = {.type_name = "UnionDStream",
                                             .compute = union_compute};

em_dstream *em_ssc_union(em_ssc *ssc, em_dstream *const *streams, size_t n)
{
    if (n == 0 || n > G_MAXINT || !streams) {
        g_critical("em_ssc_union: give one stream or more (got %zu)", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (streams[i] && streams[i]->ssc != ssc) {
            g_critical("union: the streams belong to different StreamingContexts (stream %zu is "
                       "not of the one given)",
                       i);
            return NULL;
        }
    return derive(streams, (int)n, &union_class, "union");
}

em_dstream *em_union(em_dstream *ds, em_dstream *other)
{
    em_dstream *both[] = {ds, other};
    if (!em__dstream_check(ds, "union"))
        return NULL;
    return em_ssc_union(ds->ssc, both, 2);
}

/* A user function's RDD, or NULL with err set (its own message, or one naming the stream). */
static em_rdd *checked_user_rdd(em_dstream *ds, em_rdd *rdd, GError *local, em_time t,
                                GError **err)
{
    if (rdd) {
        if (local) /* a result and an error: the result wins, the error is dropped */
            g_error_free(local);
        return rdd;
    }
    if (local)
        g_propagate_prefixed_error(err, local, "%s (%s): ", ds->op,
                                   ds->fn_name ? ds->fn_name : "?");
    else
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s (%s) returned no RDD for batch %" G_GINT64_FORMAT " ms", ds->op,
                    ds->fn_name ? ds->fn_name : "?", (gint64)t);
    return NULL;
}

typedef struct {
    em_dstream base;
    em_transform_fn fn;
} transform_dstream;

static em_rdd *transform_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in;
    if (!all_parents_at(ds, t, &in, err))
        return NULL;
    GError *local = NULL;
    em_rdd *rdd = ((transform_dstream *)ds)->fn(in, t, ds->ud, &local);
    return checked_user_rdd(ds, rdd, local, t, err);
}

static const em_dstream_class transformed_class = {.type_name = "TransformedDStream",
                                                   .instance_size = sizeof(transform_dstream),
                                                   .compute = transform_compute};

em_dstream *em_transform_full(em_dstream *ds, em_transform_fn fn, void *ud, GDestroyNotify destroy,
                              const char *name)
{
    em_dstream *out = own(derive1(ds, &transformed_class, "transform"), ud, destroy, name);
    if (out)
        ((transform_dstream *)out)->fn = fn;
    return out;
}

typedef struct {
    em_dstream base;
    em_transform2_fn fn;
} transform_with_dstream;

static em_rdd *transform_with_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in[2];
    if (!all_parents_at(ds, t, in, err))
        return NULL;
    GError *local = NULL;
    em_rdd *rdd = ((transform_with_dstream *)ds)->fn(in[0], in[1], t, ds->ud, &local);
    return checked_user_rdd(ds, rdd, local, t, err);
}

static const em_dstream_class transformed_with_class = {.type_name = "TransformedDStream",
                                                        .instance_size =
                                                            sizeof(transform_with_dstream),
                                                        .compute = transform_with_compute};

em_dstream *em_transform_with_full(em_dstream *ds, em_dstream *other, em_transform2_fn fn,
                                   void *ud, GDestroyNotify destroy, const char *name)
{
    em_dstream *both[] = {ds, other};
    em_dstream *out =
        own(derive(both, 2, &transformed_with_class, "transformWith"), ud, destroy, name);
    if (out)
        ((transform_with_dstream *)out)->fn = fn;
    return out;
}

typedef struct {
    em_dstream base;
    em_transform_n_fn fn;
} transform_n_dstream;

static em_rdd *transform_n_compute(em_dstream *ds, em_time t, GError **err)
{
    rdd_buffer b;
    em_rdd **in = buffer_for(&b, ds->n_parents);
    em_rdd *rdd = NULL;
    if (all_parents_at(ds, t, in, err)) {
        GError *local = NULL;
        rdd = ((transform_n_dstream *)ds)->fn(in, (size_t)ds->n_parents, t, ds->ud, &local);
        rdd = checked_user_rdd(ds, rdd, local, t, err);
    }
    buffer_free(&b);
    return rdd;
}

static const em_dstream_class transformed_n_class = {.type_name = "TransformedDStream",
                                                     .instance_size = sizeof(transform_n_dstream),
                                                     .compute = transform_n_compute};

em_dstream *em_ssc_transform_full(em_ssc *ssc, em_dstream *const *streams, size_t n,
                                  em_transform_n_fn fn, void *ud, GDestroyNotify destroy,
                                  const char *name)
{
    bool ok = n > 0 && n <= G_MAXINT && streams && fn;
    if (!ok)
        g_critical("em_ssc_transform: give a function and one stream or more (got %zu)", n);
    for (size_t i = 0; ok && i < n; i++)
        if (streams[i] && streams[i]->ssc != ssc) {
            g_critical("transform: the streams belong to different StreamingContexts (stream %zu "
                       "is not of the one given)",
                       i);
            ok = false;
        }
    em_dstream *out = ok ? derive(streams, (int)n, &transformed_n_class, "transform") : NULL;
    out = own(out, ud, destroy, name);
    if (out)
        ((transform_n_dstream *)out)->fn = fn;
    return out;
}

/* ---- Joins: the same RDD operation at every batch of both streams ---- */

typedef em_rdd *(*join_fn)(em_rdd *, em_rdd *, int);

typedef struct {
    em_dstream base;
    join_fn join;
    int partitions;
} join_dstream;

static em_rdd *join_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in[2];
    if (!parents_at(ds, t, in, err))
        return NULL;
    const join_dstream *j = (const join_dstream *)ds;
    return j->join(in[0], in[1], by_key_partitions(ds, j->partitions));
}

static const em_dstream_class joined_class = {.type_name = "TransformedDStream",
                                              .instance_size = sizeof(join_dstream),
                                              .compute = join_compute};

static em_dstream *join_stream(em_dstream *ds, em_dstream *other, int n, const char *op,
                               join_fn fn)
{
    em_dstream *both[] = {ds, other};
    em_dstream *out = derive(both, 2, &joined_class, op);
    if (out) {
        ((join_dstream *)out)->join = fn;
        ((join_dstream *)out)->partitions = n;
    }
    return out;
}

em_dstream *em_join_n(em_dstream *ds, em_dstream *other, int n)
{
    return join_stream(ds, other, n, "join", em_rdd_join_n);
}

em_dstream *em_left_outer_join_n(em_dstream *ds, em_dstream *other, int n)
{
    return join_stream(ds, other, n, "leftOuterJoin", em_rdd_left_outer_join_n);
}

em_dstream *em_right_outer_join_n(em_dstream *ds, em_dstream *other, int n)
{
    return join_stream(ds, other, n, "rightOuterJoin", em_rdd_right_outer_join_n);
}

em_dstream *em_full_outer_join_n(em_dstream *ds, em_dstream *other, int n)
{
    return join_stream(ds, other, n, "fullOuterJoin", em_rdd_full_outer_join_n);
}

em_dstream *em_cogroup_n(em_dstream *ds, em_dstream *other, int n)
{
    return join_stream(ds, other, n, "cogroup", em_rdd_cogroup_n);
}
