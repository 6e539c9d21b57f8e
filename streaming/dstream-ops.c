/* DStream transformations: each one applies the RDD operation of the same name to its parents'
 * RDDs at every batch time (Spark's MappedDStream, FlatMappedDStream, ShuffledDStream,
 * TransformedDStream, UnionDStream...). The stream owns the user data; its RDDs borrow it. */
#include "streaming-private.h"

#include <string.h>

/* How a stream makes its RDD at t from its parents' RDDs there (all present). */
typedef em_rdd *(*apply_fn)(em_dstream *ds, em_rdd *const *in, em_time t, GError **err);

static em_rdd *derived_compute(em_dstream *ds, em_time t, GError **err)
{
    em_rdd *in[8];
    int n = ds->n_parents;
    g_assert(n <= (int)G_N_ELEMENTS(in));
    for (int i = 0; i < n; i++) {
        in[i] = em__dstream_get_or_compute(ds->parents[i], t, err);
        if (!in[i]) {
            /* A parent with no RDD (Spark's None) gives none, except to union and transform,
             * which Spark fails: they cannot stand in an empty batch for a missing one. */
            bool unifies = strcmp(ds->op, "union") == 0;
            if ((unifies || g_str_has_prefix(ds->op, "transform")) && !(err && *err))
                g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                            "%s: Could not generate RDD from a parent for %s at time "
                            "%" G_GINT64_FORMAT " ms",
                            ds->op, unifies ? "unifying" : "transforming", (gint64)t);
            return NULL;
        }
    }
    return ((apply_fn)ds->apply)(ds, in, t, err);
}

static const em_dstream_class derived_class = {.type_name = "DStream",
                                               .compute = derived_compute};

static em_dstream *derive(em_dstream *const *parents, int n, const char *op, apply_fn apply)
{
    for (int i = 0; i < n; i++)
        if (!em__dstream_check(parents[i], op))
            return NULL;
    em_dstream *ds = em__dstream_new(parents[0]->ssc, &derived_class, op, parents, n);
    if (ds)
        ds->apply = EM_ANY_FN(apply);
    return ds;
}

static em_dstream *derive1(em_dstream *parent, const char *op, apply_fn apply)
{
    return derive(&parent, 1, op, apply);
}

static em_dstream *with_fn(em_dstream *ds, em_any_fn call, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    if (!ds) {
        if (destroy)
            destroy(ud);
        return NULL;
    }
    em__dstream_set_fn(ds, call, ud, destroy, name);
    return ds;
}

#define FN(ds) ((ds)->fn.call)
#define UD(ds) ((ds)->fn.ud)

/* Spark's PairDStreamFunctions.defaultPartitioner: the context's default parallelism. */
static int by_key_partitions(const em_dstream *ds)
{
    return ds->num_partitions > 0 ? ds->num_partitions : ds->ssc->sc->parallelism;
}

/* ---- One-to-one ---- */

static em_rdd *apply_map(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_map_full(in[0], (em_map_fn)FN(ds), UD(ds), NULL, ds->fn_name);
}

em_dstream *em_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                        const char *name)
{
    return with_fn(derive1(ds, "map", apply_map), EM_ANY_FN(fn), ud, destroy, name);
}

static em_rdd *apply_flat_map(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_flat_map_full(in[0], (em_map_fn)FN(ds), UD(ds), NULL, ds->fn_name);
}

em_dstream *em_flat_map_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                             const char *name)
{
    return with_fn(derive1(ds, "flatMap", apply_flat_map), EM_ANY_FN(fn), ud, destroy, name);
}

static em_rdd *apply_filter(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_filter_full(in[0], (em_filter_fn)FN(ds), UD(ds), NULL, ds->fn_name);
}

em_dstream *em_filter_full(em_dstream *ds, em_filter_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    return with_fn(derive1(ds, "filter", apply_filter), EM_ANY_FN(fn), ud, destroy, name);
}

static em_rdd *apply_map_partitions(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_map_partitions_full(in[0], (em_partition_fn)FN(ds), UD(ds), NULL,
                                      ds->fn_name);
}

em_dstream *em_map_partitions_full(em_dstream *ds, em_partition_fn fn, void *ud,
                                   GDestroyNotify destroy, const char *name)
{
    return with_fn(derive1(ds, "mapPartitions", apply_map_partitions), EM_ANY_FN(fn), ud,
                   destroy, name);
}

static em_rdd *apply_map_values(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_map_values_full(in[0], (em_map_fn)FN(ds), UD(ds), NULL, ds->fn_name);
}

em_dstream *em_map_values_full(em_dstream *ds, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name)
{
    return with_fn(derive1(ds, "mapValues", apply_map_values), EM_ANY_FN(fn), ud, destroy,
                   name);
}

static em_rdd *apply_flat_map_values(em_dstream *ds, em_rdd *const *in, em_time t,
                                     GError **err)
{
    (void)t, (void)err;
    return em_rdd_flat_map_values_full(in[0], (em_map_fn)FN(ds), UD(ds), NULL, ds->fn_name);
}

em_dstream *em_flat_map_values_full(em_dstream *ds, em_map_fn fn, void *ud,
                                    GDestroyNotify destroy, const char *name)
{
    return with_fn(derive1(ds, "flatMapValues", apply_flat_map_values), EM_ANY_FN(fn), ud,
                   destroy, name);
}

static em_rdd *apply_glom(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)ds, (void)t, (void)err;
    return em_rdd_glom(in[0]);
}

em_dstream *em_glom(em_dstream *ds) { return derive1(ds, "glom", apply_glom); }

static em_rdd *apply_repartition(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_repartition(in[0], ds->num_partitions);
}

em_dstream *em_repartition(em_dstream *ds, int num_partitions)
{
    if (num_partitions <= 0) {
        g_critical("repartition: %d partitions asked for; give a count >= 1", num_partitions);
        return NULL;
    }
    em_dstream *out = derive1(ds, "repartition", apply_repartition);
    if (out)
        out->num_partitions = num_partitions;
    return out;
}

/* ---- Whole-batch reductions, as Spark builds them from reduceByKey ---- */

static em_value pair_with_null(em_value v, void *ud)
{
    (void)ud;
    return em_pair(em_null(), v);
}

static em_rdd *apply_reduce(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    /* this.map((null, _)).reduceByKey(f, 1).map(_._2) */
    g_autoptr(em_rdd) keyed = em_rdd_map_full(in[0], pair_with_null, NULL, NULL, "reduce");
    g_autoptr(em_rdd) reduced = em_rdd_reduce_by_key_full(keyed, (em_reduce_fn)FN(ds), UD(ds),
                                                          NULL, ds->fn_name, 1);
    return em_rdd_values(reduced);
}

em_dstream *em_reduce_full(em_dstream *ds, em_reduce_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    return with_fn(derive1(ds, "reduce", apply_reduce), EM_ANY_FN(fn), ud, destroy, name);
}

static em_value null_one(em_value v, void *ud)
{
    (void)v, (void)ud;
    return em_pair(em_null(), em_int(1));
}

static em_rdd *apply_count(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)ds, (void)t, (void)err;
    /* map(_ => (null, 1L)).transform(_.union(makeRDD(Seq((null, 0L)), 1)))
     *   .reduceByKey(_ + _).map(_._2): an empty batch counts 0. */
    em_arena *arena = em_arena_new();
    em_value zero = em_pair_in(arena, em_null(), em_int(0));
    g_autoptr(em_rdd) ones = em_rdd_map_full(in[0], null_one, NULL, NULL, "count");
    g_autoptr(em_rdd) zero_rdd = em_parallelize(in[0]->sc, &zero, 1, 1);
    em_arena_free(arena);
    g_autoptr(em_rdd) all = em_rdd_union(ones, zero_rdd);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key_full(all, em_sum, NULL, NULL, "em_sum", 0);
    return em_rdd_values(counts);
}

em_dstream *em_count(em_dstream *ds) { return derive1(ds, "count", apply_count); }

static em_rdd *apply_count_by_value(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    g_autoptr(em_rdd) ones = em_rdd_map(in[0], em_pair_one);
    return em_rdd_reduce_by_key_full(ones, em_sum, NULL, NULL, "em_sum", by_key_partitions(ds));
}

em_dstream *em_count_by_value_n(em_dstream *ds, int num_partitions)
{
    em_dstream *out = derive1(ds, "countByValue", apply_count_by_value);
    if (out)
        out->num_partitions = num_partitions;
    return out;
}

/* ---- Union and transform ---- */

static em_rdd *apply_union(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_union_n(in, (size_t)ds->n_parents);
}

em_dstream *em_union_n(em_dstream *const *streams, size_t n)
{
    if (n == 0 || n > 8) {
        g_critical("em_union: give between 1 and 8 streams (got %zu)", n);
        return NULL;
    }
    return derive(streams, (int)n, "union", apply_union);
}

em_dstream *em_union(em_dstream *ds, em_dstream *other)
{
    em_dstream *both[] = {ds, other};
    return em_union_n(both, 2);
}

static em_rdd *checked_user_rdd(em_dstream *ds, em_rdd *rdd, em_time t, GError **err)
{
    if (!rdd)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s (%s) returned no RDD for batch %" G_GINT64_FORMAT " ms", ds->op,
                    ds->fn_name ? ds->fn_name : "?", (gint64)t);
    return rdd;
}

static em_rdd *apply_transform(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    return checked_user_rdd(ds, ((em_transform_fn)FN(ds))(in[0], t, UD(ds)), t, err);
}

em_dstream *em_transform_full(em_dstream *ds, em_transform_fn fn, void *ud,
                              GDestroyNotify destroy, const char *name)
{
    return with_fn(derive1(ds, "transform", apply_transform), EM_ANY_FN(fn), ud, destroy,
                   name);
}

static em_rdd *apply_transform_with(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    return checked_user_rdd(ds, ((em_transform2_fn)FN(ds))(in[0], in[1], t, UD(ds)), t, err);
}

em_dstream *em_transform_with_full(em_dstream *ds, em_dstream *other, em_transform2_fn fn,
                                   void *ud, GDestroyNotify destroy, const char *name)
{
    em_dstream *both[] = {ds, other};
    return with_fn(derive(both, 2, "transformWith", apply_transform_with), EM_ANY_FN(fn), ud,
                   destroy, name);
}

/* ---- Key-value streams ---- */

static em_rdd *apply_reduce_by_key(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_reduce_by_key_full(in[0], (em_reduce_fn)FN(ds), UD(ds), NULL, ds->fn_name,
                                     by_key_partitions(ds));
}

em_dstream *em_reduce_by_key_full(em_dstream *ds, em_reduce_fn fn, void *ud,
                                  GDestroyNotify destroy, const char *name, int num_partitions)
{
    em_dstream *out = with_fn(derive1(ds, "reduceByKey", apply_reduce_by_key), EM_ANY_FN(fn),
                              ud, destroy, name);
    if (out)
        out->num_partitions = num_partitions;
    return out;
}

static em_rdd *apply_group_by_key(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return em_rdd_group_by_key_n(in[0], by_key_partitions(ds));
}

em_dstream *em_group_by_key_n(em_dstream *ds, int num_partitions)
{
    em_dstream *out = derive1(ds, "groupByKey", apply_group_by_key);
    if (out)
        out->num_partitions = num_partitions;
    return out;
}

typedef struct {
    em_map_fn create;
    em_reduce_fn merge_value, merge_combiners;
    void *ud;
} combine_fns;

static em_rdd *apply_combine_by_key(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    const combine_fns *f = UD(ds);
    return em_rdd_combine_by_key_full(in[0], f->create, f->merge_value, f->merge_combiners,
                                      f->ud, NULL, ds->fn_name, by_key_partitions(ds));
}

typedef struct {
    combine_fns fns;
    GDestroyNotify destroy;
} combine_owned;

static void combine_owned_free(void *p)
{
    combine_owned *c = p;
    if (c->destroy)
        c->destroy(c->fns.ud);
    g_free(c);
}

em_dstream *em_combine_by_key_full(em_dstream *ds, em_map_fn create, em_reduce_fn merge_value,
                                   em_reduce_fn merge_combiners, void *ud,
                                   GDestroyNotify destroy, const char *name, int num_partitions)
{
    combine_owned *c = g_new0(combine_owned, 1);
    c->fns = (combine_fns){create, merge_value, merge_combiners, ud};
    c->destroy = destroy;
    em_dstream *out = with_fn(derive1(ds, "combineByKey", apply_combine_by_key), NULL, c,
                              combine_owned_free, name);
    if (out)
        out->num_partitions = num_partitions;
    return out;
}

/* Joins: the same RDD operation at every batch of both streams. */
typedef em_rdd *(*join_fn)(em_rdd *, em_rdd *, int);

static em_rdd *apply_join(em_dstream *ds, em_rdd *const *in, em_time t, GError **err)
{
    (void)t, (void)err;
    return ((join_fn)FN(ds))(in[0], in[1], by_key_partitions(ds));
}

static em_dstream *join_stream(em_dstream *ds, em_dstream *other, int n, const char *op,
                               join_fn fn)
{
    em_dstream *both[] = {ds, other};
    em_dstream *out = derive(both, 2, op, apply_join);
    if (out) {
        out->fn.call = EM_ANY_FN(fn);
        out->num_partitions = n;
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
