/* Actions: the jobs that bring results to the driver — collect, count, reduce, fold, first,
 * take, takeOrdered, top, countByKey, countByValue, foreach, foreachPartition, isEmpty.
 * Each runs tasks whose sinks keep only what the action needs. */
#include "core-private.h"

#include <math.h>
#include <string.h>

/* ---- collect ---- */

typedef struct {
    em_rdd *rdd;
    em_values **parts; /* by partition */
} collect_job;

static void collect_task(em_task *task, void *ud)
{
    collect_job *job = ud;
    job->parts[task->partition] = em__materialize(job->rdd, task, task->partition);
}

/* Concatenates parts[0..n) into one em_values (adopting their arenas) and frees them. */
static em_values *concat_parts(em_values **parts, int n)
{
    em_values *all = em__values_new();
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += parts[i] ? parts[i]->n : 0;
    all->items = g_new(em_value, total > 16 ? total : 16);
    for (int i = 0; i < n; i++) {
        em_values *p = parts[i];
        if (!p)
            continue;
        if (p->n)
            memcpy(all->items + all->n, p->items, p->n * sizeof *p->items);
        all->n += p->n;
        em__arena_adopt(all->arena, p->arena);
        g_free(p->items);
        g_free(p);
    }
    return all;
}

em_values *em_rdd_collect(em_rdd *rdd, GError **err)
{
    if (!em__driver_only("collect", err))
        return NULL;
    collect_job job = {rdd, g_new0(em_values *, rdd->num_partitions)};
    bool ok = em__run_job(rdd, NULL, 0, collect_task, &job, err);
    em_values *all = NULL;
    if (ok)
        all = concat_parts(job.parts, rdd->num_partitions);
    else
        for (int i = 0; i < rdd->num_partitions; i++)
            em_values_free(job.parts[i]);
    g_free(job.parts);
    return all;
}

/* ---- count ---- */

typedef struct {
    em_sink base;
    int64_t n;
} count_sink;

static void count_push(em_sink *s, em_value v)
{
    (void)v;
    ((count_sink *)s)->n++;
}

typedef struct {
    em_rdd *rdd;
    int64_t *counts;
} count_job;

static void count_task(em_task *task, void *ud)
{
    count_job *job = ud;
    count_sink sink = {{count_push, task, NULL}, 0};
    em__compute(job->rdd, task, task->partition, &sink.base);
    job->counts[task->partition] = sink.n;
}

bool em__count_partitions(em_rdd *rdd, const int *parts, int n, int64_t *counts, GError **err)
{
    count_job job = {rdd, counts};
    return em__run_job(rdd, parts, n, count_task, &job, err);
}

int64_t em_rdd_count(em_rdd *rdd, GError **err)
{
    if (!em__driver_only("count", err))
        return -1;
    int64_t *counts = g_new0(int64_t, rdd->num_partitions);
    int64_t total = -1;
    if (em__count_partitions(rdd, NULL, 0, counts, err)) {
        total = 0;
        for (int i = 0; i < rdd->num_partitions; i++)
            total += counts[i];
    }
    g_free(counts);
    return total;
}

/* ---- reduce and fold ----
 * Each task reduces its partition; one more task then merges the partition results in partition
 * order, so that a user function failing there fails the job like any other. */

/* Actions call user functions outside any RDD: these name them in failures. */
static const em_rdd reduce_action = {.op = "reduce"};
static const em_rdd fold_action = {.op = "fold"};
static const em_rdd foreach_action = {.op = "foreach"};

/* A running reduction. Results of fn may point into scratch (reset after each record) or into
 * the accumulator itself, so each one is copied into the arena the accumulator is not in. */
typedef struct {
    em_reduce_fn fn;
    void *ud;
    const em_rdd *action;
    em_arena *arenas[2];
    int cur; /* the arena acc lives in */
    bool has;
    em_value acc;
} reducer;

typedef struct {
    em_rdd *rdd;
    em_reduce_fn fn;
    void *ud;
    const em_rdd *action;
    bool has_zero;
    em_value zero;     /* borrowed from the caller: read, never written */
    em_values **parts; /* each partition's result; NULL for an empty partition */
    em_arena *arena;   /* the caller's, for the merged result */
    em_value *out;
} reduce_job;

static reducer reducer_start(const reduce_job *job)
{
    return (reducer){job->fn, job->ud,       job->action, {em_arena_new(), em_arena_new()},
                     0,       job->has_zero, job->zero};
}

static void reducer_add(reducer *r, em_task *task, em_value v)
{
    if (!r->has) {
        r->acc = em__value_copy(v, r->arenas[r->cur]);
        r->has = true;
        return;
    }
    task->cur_rdd = r->action;
    em_value next = r->fn(r->acc, v, r->ud);
    if (G_UNLIKELY(task->stop))
        return;
    r->cur = !r->cur;
    em_arena_reset(r->arenas[r->cur]);
    r->acc = em__value_copy(next, r->arenas[r->cur]);
}

static void reducer_end(reducer *r)
{
    em_arena_free(r->arenas[0]);
    em_arena_free(r->arenas[1]);
}

typedef struct {
    em_sink base;
    reducer r;
} reduce_sink;

static void push_reduce(em_sink *s, em_value v)
{
    reducer_add(&((reduce_sink *)s)->r, s->task, v);
}

static void reduce_task(em_task *task, void *ud)
{
    reduce_job *job = ud;
    reduce_sink sink = {{push_reduce, task, NULL}, reducer_start(job)};
    em__compute(job->rdd, task, task->partition, &sink.base);
    if (sink.r.has && !task->stop) {
        job->parts[task->partition] = em__values_new();
        em__values_append_copy(job->parts[task->partition], sink.r.acc);
    }
    reducer_end(&sink.r);
}

static void merge_task(em_task *task, void *ud)
{
    reduce_job *job = ud;
    reducer r = reducer_start(job);
    for (int i = 0; i < job->rdd->num_partitions && !task->stop; i++)
        if (job->parts[i])
            reducer_add(&r, task, job->parts[i]->items[0]);
    if (!task->stop)
        *job->out = em_value_copy(r.acc, job->arena);
    reducer_end(&r);
}

/* The result from the partition results: a merge task unless there is nothing to merge. */
static bool merge_results(reduce_job *job, GError **err)
{
    int np = job->rdd->num_partitions, nonempty = 0, last = -1;
    for (int i = 0; i < np; i++)
        if (job->parts[i])
            nonempty++, last = i;
    if (!job->has_zero && nonempty == 0) {
        g_set_error_literal(err, EM_ERROR, EM_ERROR_INVALID, "reduce of an empty RDD");
        return false;
    }
    if (job->has_zero ? np == 0 : nonempty == 1) {
        *job->out =
            em_value_copy(job->has_zero ? job->zero : job->parts[last]->items[0], job->arena);
        return true;
    }
    return em__run_stage(job->rdd, (const int[]){0}, 1, merge_task, job, err);
}

static bool run_reduce(reduce_job *job, GError **err)
{
    job->parts = g_new0(em_values *, job->rdd->num_partitions);
    bool ok = em__run_job(job->rdd, NULL, 0, reduce_task, job, err) && merge_results(job, err);
    for (int i = 0; i < job->rdd->num_partitions; i++)
        em_values_free(job->parts[i]);
    g_free(job->parts);
    return ok;
}

bool em_rdd_reduce(em_rdd *rdd, em_reduce_fn fn, void *ud, em_arena *arena, em_value *out,
                   GError **err)
{
    if (!em__driver_only("reduce", err))
        return false;
    reduce_job job =
        {.rdd = rdd, .fn = fn, .ud = ud, .action = &reduce_action, .arena = arena, .out = out};
    return run_reduce(&job, err);
}

bool em_rdd_fold(em_rdd *rdd, em_value zero, em_reduce_fn fn, void *ud, em_arena *arena,
                 em_value *out, GError **err)
{
    if (!em__driver_only("fold", err))
        return false;
    reduce_job job = {.rdd = rdd,
                      .fn = fn,
                      .ud = ud,
                      .action = &fold_action,
                      .has_zero = true,
                      .zero = zero,
                      .arena = arena,
                      .out = out};
    return run_reduce(&job, err);
}

/* ---- take and first ---- */

typedef struct {
    em_sink base;
    em_values *vals;
    size_t limit;
} limit_sink;

/* Stopping the task without an error means "enough": sources stop pushing, the job succeeds. */
static void push_limit(em_sink *s, em_value v)
{
    limit_sink *l = (limit_sink *)s;
    em__values_append_copy(l->vals, v);
    if (l->vals->n >= l->limit)
        s->task->stop = 1;
}

typedef struct {
    em_rdd *rdd;
    size_t limit;
    em_values **parts;
} take_job;

static void take_task(em_task *task, void *ud)
{
    take_job *job = ud;
    limit_sink sink = {{push_limit, task, NULL}, em__values_new(), job->limit};
    em__compute(job->rdd, task, task->partition, &sink.base);
    job->parts[task->partition] = sink.vals;
}

/* Spark's take: one partition first, then an estimate of how many more are needed from what the
 * scanned ones held (50% over), at most 4x the partitions scanned so far per round. */
em_values *em_rdd_take(em_rdd *rdd, size_t n, GError **err)
{
    if (!em__driver_only("take", err))
        return NULL;
    int total = rdd->num_partitions, scanned = 0;
    take_job job = {rdd, 0, g_new0(em_values *, total)};
    size_t have = 0;
    bool ok = true;
    while (ok && have < n && scanned < total) {
        int64_t want = 1;
        if (scanned > 0) {
            int64_t most = (int64_t)scanned * 4;
            double guess = have ? ceil(1.5 * (double)(n - have) * scanned / (double)have) : 0;
            want = have && guess < (double)most ? (int64_t)guess : most;
        }
        int count = (int)MIN(want, (int64_t)(total - scanned));
        int *parts = g_new(int, count);
        for (int i = 0; i < count; i++)
            parts[i] = scanned + i;
        job.limit = n - have;
        ok = em__run_job(rdd, parts, count, take_task, &job, err);
        for (int i = 0; ok && i < count; i++)
            have += job.parts[scanned + i]->n;
        scanned += count;
        g_free(parts);
    }
    em_values *all = concat_parts(job.parts, scanned);
    g_free(job.parts);
    if (!ok) {
        em_values_free(all);
        return NULL;
    }
    all->n = MIN(all->n, n);
    return all;
}

bool em_rdd_first(em_rdd *rdd, em_arena *arena, em_value *out, GError **err)
{
    if (!em__driver_only("first", err))
        return false;
    g_autoptr(em_values) one = em_rdd_take(rdd, 1, err);
    if (!one)
        return false;
    if (one->n == 0) {
        g_set_error_literal(err, EM_ERROR, EM_ERROR_INVALID, "first of an empty RDD");
        return false;
    }
    *out = em_value_copy(one->items[0], arena);
    return true;
}

int em_rdd_is_empty(em_rdd *rdd, GError **err)
{
    if (!em__driver_only("isEmpty", err))
        return -1;
    if (rdd->num_partitions == 0)
        return 1;
    g_autoptr(em_values) one = em_rdd_take(rdd, 1, err);
    return one ? one->n == 0 : -1;
}

/* ---- takeOrdered and top ---- */

/* Keeps the n best records of a partition: records are buffered up to 2n + 64, then sorted and
 * cut back to the best n, whose worst becomes the bound that rejects later records at once. */
typedef struct {
    em_sink base;
    em_values *best;
    size_t n, cap;
    bool top; /* the largest, not the smallest */
    bool bounded;
    em_value bound; /* the worst record kept, once cut */
} select_sink;

static void select_cut(select_sink *s)
{
    em_values *all = em_values_sort(s->best);
    s->best = em__values_new();
    size_t from = s->top ? all->n - s->n : 0;
    for (size_t i = from; i < from + s->n; i++)
        em__values_append_copy(s->best, all->items[i]);
    em_values_free(all);
    s->bounded = true;
    s->bound = s->best->items[s->top ? 0 : s->n - 1];
}

static void push_select(em_sink *s, em_value v)
{
    select_sink *sel = (select_sink *)s;
    if (sel->bounded) {
        int c = em_value_compare(v, sel->bound);
        if (sel->top ? c <= 0 : c >= 0)
            return;
    }
    em__values_append_copy(sel->best, v);
    if (sel->best->n >= sel->cap)
        select_cut(sel);
}

typedef struct {
    em_rdd *rdd;
    size_t n;
    bool top;
    em_values **parts;
} select_job;

static void select_task(em_task *task, void *ud)
{
    select_job *job = ud;
    size_t cap = job->n < SIZE_MAX / 4 ? 2 * job->n + 64 : SIZE_MAX;
    select_sink sink =
        {{push_select, task, NULL}, em__values_new(), job->n, cap, job->top, false, em_null()};
    em__compute(job->rdd, task, task->partition, &sink.base);
    job->parts[task->partition] = sink.best;
}

static em_values *select_n(em_rdd *rdd, size_t n, bool top, GError **err)
{
    if (n == 0)
        return em__values_new();
    select_job job = {rdd, n, top, g_new0(em_values *, rdd->num_partitions)};
    bool ok = em__run_job(rdd, NULL, 0, select_task, &job, err);
    em_values *all = concat_parts(job.parts, rdd->num_partitions);
    g_free(job.parts);
    if (!ok) {
        em_values_free(all);
        return NULL;
    }
    em_values_sort(all);
    if (top)
        for (size_t i = 0, j = all->n; i + 1 < j; i++, j--) {
            em_value t = all->items[i];
            all->items[i] = all->items[j - 1];
            all->items[j - 1] = t;
        }
    all->n = MIN(all->n, n);
    return all;
}

em_values *em_rdd_take_ordered(em_rdd *rdd, size_t n, GError **err)
{
    if (!em__driver_only("takeOrdered", err))
        return NULL;
    return select_n(rdd, n, false, err);
}

em_values *em_rdd_top(em_rdd *rdd, size_t n, GError **err)
{
    if (!em__driver_only("top", err))
        return NULL;
    return select_n(rdd, n, true, err);
}

/* ---- countByKey and countByValue: aggregateByKey(0)(increment, sum), collected, sorted ---- */

static em_values *count_keys(em_rdd *pairs, const char *op, GError **err)
{
    g_autoptr(em_rdd) counts =
        em_rdd_aggregate_by_key_full(pairs, em_int(0), em_increment, em_sum, NULL, NULL, NULL, 0);
    counts->op = op;
    em_values *out = em_rdd_collect(counts, err);
    return out ? em_values_sort(out) : NULL;
}

em_values *em_rdd_count_by_key(em_rdd *rdd, GError **err)
{
    if (!em__driver_only("countByKey", err))
        return NULL;
    return count_keys(rdd, "countByKey", err);
}

em_values *em_rdd_count_by_value(em_rdd *rdd, GError **err)
{
    if (!em__driver_only("countByValue", err))
        return NULL;
    g_autoptr(em_rdd) pairs = em_rdd_map_full(rdd, em_pair_one, NULL, NULL, NULL);
    pairs->op = "countByValue";
    return count_keys(pairs, "countByValue", err);
}

/* ---- foreach and foreachPartition ---- */

typedef struct {
    em_sink base;
    em_foreach_fn fn;
    void *ud;
} foreach_sink;

static void push_foreach(em_sink *s, em_value v)
{
    foreach_sink *f = (foreach_sink *)s;
    s->task->cur_rdd = &foreach_action;
    f->fn(v, f->ud);
}

typedef struct {
    em_rdd *rdd;
    em_foreach_fn fn;
    void *ud;
} foreach_job;

static void foreach_task(em_task *task, void *ud)
{
    foreach_job *job = ud;
    foreach_sink sink = {{push_foreach, task, NULL}, job->fn, job->ud};
    em__compute(job->rdd, task, task->partition, &sink.base);
}

bool em_rdd_foreach(em_rdd *rdd, em_foreach_fn fn, void *ud, GError **err)
{
    if (!em__driver_only("foreach", err))
        return false;
    foreach_job job = {rdd, fn, ud};
    return em__run_job(rdd, NULL, 0, foreach_task, &job, err);
}

typedef struct {
    em_foreach_partition_fn fn;
    void *ud;
} foreach_partition_ctx;

static void foreach_partition_call(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)out;
    const foreach_partition_ctx *ctx = ud;
    ctx->fn(index, in, ctx->ud);
}

/* A mapPartitions that emits nothing, counted: it gives fn its iterator and failures a name. */
bool em_rdd_foreach_partition(em_rdd *rdd, em_foreach_partition_fn fn, void *ud, GError **err)
{
    if (!em__driver_only("foreachPartition", err))
        return false;
    foreach_partition_ctx ctx = {fn, ud};
    g_autoptr(em_rdd) each =
        em_rdd_map_partitions_full(rdd, foreach_partition_call, &ctx, NULL, NULL);
    each->op = "foreachPartition";
    return em_rdd_count(each, err) >= 0;
}
