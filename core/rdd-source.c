/* Sources of driver data: parallelize (Spark's ParallelCollectionRDD) and the empty RDD.
 * Each slice is deep-copied into an arena of its own when the RDD is made. */
#include "core-private.h"

typedef struct {
    em_rdd base;
    em_values **slices; /* [num_partitions] */
} source_rdd;

static void slice_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const source_rdd *st = (const source_rdd *)rdd;
    em__push_all(task, st->slices[index]->items, st->slices[index]->n, out);
}

static void slice_finalize(em_rdd *rdd)
{
    source_rdd *st = (source_rdd *)rdd;
    for (int i = 0; i < rdd->num_partitions; i++)
        em_values_free(st->slices[i]);
    g_free(st->slices);
}

static size_t slice_bytes(const em_rdd *rdd)
{
    const source_rdd *st = (const source_rdd *)rdd;
    size_t bytes = 0;
    for (int i = 0; i < rdd->num_partitions; i++)
        bytes += em_arena_bytes(st->slices[i]->arena) + st->slices[i]->n * sizeof(em_value);
    return bytes;
}

static const em_rdd_class parallel_class = {
    .type_name = "ParallelCollectionRDD",
    .compute = slice_compute,
    .finalize = slice_finalize,
    .data_bytes = slice_bytes,
};

em_rdd *em_parallelize(em_context *sc, const em_value *values, size_t n, int num_slices)
{
    if (num_slices <= 0)
        num_slices = sc->parallelism;
    source_rdd *st =
        EM__RDD_NEW(source_rdd, sc, &parallel_class, "parallelize", num_slices, NULL, 0);
    st->slices = g_new0(em_values *, num_slices);
    for (int i = 0; i < num_slices; i++) {
        /* Spark's ParallelCollectionRDD.slice: [i*n/k, (i+1)*n/k). */
        size_t from = (size_t)((uint64_t)i * n / (uint64_t)num_slices);
        size_t to = (size_t)((uint64_t)(i + 1) * n / (uint64_t)num_slices);
        st->slices[i] = em__values_new();
        for (size_t j = from; j < to; j++)
            em__values_append_copy(st->slices[i], values[j]);
    }
    return &st->base;
}

em_rdd *em_parallelize_text(em_context *sc, const char *text, int num_slices, GError **err)
{
    em_arena *arena = em_arena_new();
    em_value *values = NULL;
    size_t n = 0;
    em_rdd *rdd = NULL;
    if (em_values_parse(text, arena, &values, &n, err))
        rdd = em_parallelize(sc, values, n, num_slices);
    g_free(values);
    em_arena_free(arena);
    return rdd;
}

static void empty_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    (void)rdd, (void)task, (void)index, (void)out;
}

static const em_rdd_class empty_class = {.type_name = "EmptyRDD", .compute = empty_compute};

em_rdd *em_empty_rdd(em_context *sc)
{
    return em__rdd_new(sc, &empty_class, "emptyRDD", 0, NULL, 0);
}
