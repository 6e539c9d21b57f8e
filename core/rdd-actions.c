/* Actions: the jobs that bring results to the driver — collect, count, reduce, fold, first,
 * take, takeOrdered, top, countByKey, countByValue, foreach, foreachPartition, isEmpty.
 * Each runs tasks whose sinks keep only what the action needs. */
#include "core-private.h"

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
    count_sink sink = {{count_push, task}, 0};
    em__compute(job->rdd, task, task->partition, &sink.base);
    job->counts[task->partition] = sink.n;
}

int64_t em_rdd_count(em_rdd *rdd, GError **err)
{
    count_job job = {rdd, g_new0(int64_t, rdd->num_partitions)};
    int64_t total = -1;
    if (em__run_job(rdd, NULL, 0, count_task, &job, err)) {
        total = 0;
        for (int i = 0; i < rdd->num_partitions; i++)
            total += job.counts[i];
    }
    g_free(job.counts);
    return total;
}
