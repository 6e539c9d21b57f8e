/* sortByKey (Spark's OrderedRDDFunctions over a RangePartitioner): a sampling job over the
 * parent's keys picks range bounds when the RDD is made, a range shuffle sends each key range
 * to one reducer, and each reducer sorts its records by key (stably) before pushing them. */
#include "core-private.h"

#include <math.h>
#include <string.h>

typedef struct {
    em_rdd base;
    bool ascending;
    GError *error; /* the sampling job's failure: every task of the RDD fails with it */
} sorted_rdd;

/* ---- The sketch: a bounded reservoir sample of each parent partition's keys ---- */

typedef struct {
    em_sink base;
    const em_rdd *rdd; /* the sortByKey RDD: names a record that is not a pair */
    em_values *sample; /* copies of the sampled keys */
    size_t cap;
    uint64_t seen;
    GRand *rand;
} sample_sink;

static void sample_push(em_sink *s, em_value v)
{
    sample_sink *ss = (sample_sink *)s;
    if (!em__require_pair(s->task, ss->rdd, v))
        return;
    em_value key = em_key(v);
    if (ss->sample->n < ss->cap) {
        em__values_append_copy(ss->sample, key);
    } else {
        uint64_t r = (uint64_t)g_rand_int(ss->rand) << 32 | g_rand_int(ss->rand);
        uint64_t j = r % (ss->seen + 1);
        if (j < ss->cap)
            ss->sample->items[j] = em_value_copy(key, ss->sample->arena);
    }
    ss->seen++;
}

typedef struct {
    em_rdd *parent;
    const em_rdd *rdd;
    size_t cap;
    em_values **samples; /* by parent partition */
    uint64_t *counts;    /* records seen by parent partition */
} sketch_job;

static void sketch_task(em_task *task, void *ud)
{
    sketch_job *job = ud;
    /* A fixed seed per partition: the same bounds on every run, whatever the thread count. */
    sample_sink sink = {{sample_push, task, NULL},
                        job->rdd,
                        em__values_new(),
                        job->cap,
                        0,
                        g_rand_new_with_seed((guint32)task->partition * 2654435761u)};
    em__compute(job->parent, task, task->partition, &sink.base);
    g_rand_free(sink.rand);
    job->samples[task->partition] = sink.sample;
    job->counts[task->partition] = sink.seen;
}

typedef struct {
    em_value key;
    double weight; /* records this sampled key stands for */
} candidate;

static int compare_candidates(const void *a, const void *b)
{
    return em_value_compare(((const candidate *)a)->key, ((const candidate *)b)->key);
}

/* Spark's RangePartitioner.determineBounds: walk the weighted candidates in key order and
 * close a range each time the cumulative weight passes another 1/partitions of the total,
 * skipping keys equal to the previous bound. Returns the number of bounds (< partitions). */
static int determine_bounds(candidate *cands, size_t n, int partitions, em_value *bounds,
                            em_arena *arena)
{
    qsort(cands, n, sizeof *cands, compare_candidates);
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += cands[i].weight;
    double step = total / partitions, cum = 0, target = step;
    int j = 0;
    for (size_t i = 0; i < n && j < partitions - 1; i++) {
        cum += cands[i].weight;
        if (cum >= target && (j == 0 || em_value_compare(cands[i].key, bounds[j - 1]) > 0)) {
            bounds[j++] = em_value_copy(cands[i].key, arena);
            target += step;
        }
    }
    return j;
}

/* Runs the sketch job and stores partitions - 1 ascending bounds in sh. With fewer distinct
 * keys than that, the last bound (null for none) is repeated: the ranges past it are empty. */
static bool compute_bounds(em_shuffle *sh, const em_rdd *rdd, GError **err)
{
    em_rdd *parent = sh->parent;
    int R = sh->num_reducers, maps = parent->num_partitions;
    sh->bounds = em_arena_alloc(sh->arena, (size_t)(R - 1) * sizeof *sh->bounds);
    /* Spark's sizes: 20 keys per output partition (at most a million), oversampled 3 times and
     * spread evenly over the input partitions. */
    double sample_size = MIN(20.0 * R, 1e6);
    sketch_job job = {parent, rdd, (size_t)ceil(3.0 * sample_size / MAX(maps, 1)),
                      g_new0(em_values *, maps), g_new0(uint64_t, maps)};
    bool ok = em__run_job(parent, NULL, 0, sketch_task, &job, err);
    int nb = 0;
    if (ok) {
        size_t total = 0;
        for (int m = 0; m < maps; m++)
            total += job.samples[m]->n;
        candidate *cands = g_new(candidate, MAX(total, 1));
        size_t n = 0;
        for (int m = 0; m < maps; m++) {
            const em_values *s = job.samples[m];
            for (size_t i = 0; i < s->n; i++)
                cands[n++] = (candidate){s->items[i], (double)job.counts[m] / (double)s->n};
        }
        nb = determine_bounds(cands, n, R, sh->bounds, sh->arena);
        g_free(cands);
    }
    for (int j = nb; j < R - 1; j++)
        sh->bounds[j] = nb ? sh->bounds[nb - 1] : em_null();
    for (int m = 0; m < maps; m++)
        em_values_free(job.samples[m]);
    g_free(job.samples);
    g_free(job.counts);
    return ok;
}

/* ---- The reduce side: the partition's records, stably sorted by key ---- */

typedef struct {
    em_value *items;
    size_t n;
} gather_ctx;

static void gather(em_value kv, void *ud)
{
    gather_ctx *ctx = ud;
    ctx->items[ctx->n++] = kv;
}

static gint compare_keys(gconstpointer a, gconstpointer b, gpointer descending)
{
    int c = em_value_compare(em_key(*(const em_value *)a), em_key(*(const em_value *)b));
    return *(const bool *)descending ? -c : c;
}

static void sorted_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const sorted_rdd *st = (const sorted_rdd *)rdd;
    if (st->error) {
        if (!task->error)
            task->error = g_error_copy(st->error);
        task->stop = 1;
        return;
    }
    const em_shuffle *sh = rdd->shuffles[0];
    size_t n = 0;
    for (int m = 0; m < sh->num_maps; m++)
        n += sh->outputs[m].counts[index];
    /* The records stay in the map outputs: only the array is new. */
    gather_ctx ctx = {em_arena_alloc(task->arena, n * sizeof(em_value)), 0};
    em__shuffle_read(rdd->shuffles[0], index, gather, &ctx);
    bool descending = !st->ascending;
    g_qsort_with_data(ctx.items, (gint)n, sizeof *ctx.items, compare_keys, &descending);
    em__push_all(task, ctx.items, n, out);
}

static void sorted_finalize(em_rdd *rdd) { g_clear_error(&((sorted_rdd *)rdd)->error); }

static const em_rdd_class sorted_class = {
    .type_name = "ShuffledRDD",
    .compute = sorted_compute,
    .finalize = sorted_finalize,
};

em_rdd *em_rdd_sort_by_key_n(em_rdd *rdd, bool ascending, int num_partitions)
{
    if (num_partitions <= 0)
        num_partitions = MAX(rdd->num_partitions, 1);
    sorted_rdd *st =
        EM__RDD_NEW(sorted_rdd, rdd->sc, &sorted_class, "sortByKey", num_partitions, NULL, 0);
    st->ascending = ascending;
    em_rdd *out = &st->base;
    em_shuffle *sh = em__shuffle_new(rdd, num_partitions, EM_PART_RANGE, NULL);
    sh->descending = !ascending;
    /* As Spark's RangePartitioner, the sketch runs now, on the caller's thread. When it fails,
     * the RDD keeps no shuffle (its map stage would only fail again) and its tasks fail with
     * the sketch's error, given back without the "Job aborted: " the failing job adds again. */
    GError *err = NULL;
    if (num_partitions == 1 || compute_bounds(sh, out, &err)) {
        em__rdd_add_shuffle(out, sh);
        return out;
    }
    em__shuffle_free(sh);
    const char *prefix = "Job aborted: ";
    const char *msg = err->message;
    if (g_str_has_prefix(msg, prefix))
        msg += strlen(prefix);
    st->error = g_error_new(err->domain, err->code, "%s", msg);
    g_error_free(err);
    return out;
}
