/* The executor: em_context ("local[N]"), its glib thread pool, and the job runner that turns an
 * action into stages — shuffle map stages first, then one task per partition of the final RDD.
 * Tasks of one stage run concurrently on the pool; the driver thread waits for them. A stage of
 * one task runs on the driver thread itself when one of the N task slots is free: the same task,
 * without two thread wake-ups (an empty streaming batch is mostly such stages). */
#include "core-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct em_job {
    GMutex lock;
    GCond done;
    int remaining;
    int aborted; /* a task failed: tasks not yet started skip their work */
    em_task_fn fn;
    void *ud;
} em_job;

static _Thread_local em_task *tls_task;

em_task *em__current_task(void) { return tls_task; }

/* ---- Task slots: local[N] runs at most N tasks at once, on the pool or on a driver ---- */

static void slot_take(em_context *sc)
{
    g_mutex_lock(&sc->slot_lock);
    if (sc->slots_busy >= sc->parallelism) {
        /* Only while a driver runs a lone task itself: the pool has N threads. */
        sc->slots_waiting++;
        sc->slot_waits++;
        g_cond_broadcast(&sc->slot_cond);
        while (sc->slots_busy >= sc->parallelism)
            g_cond_wait(&sc->slot_cond, &sc->slot_lock);
        sc->slots_waiting--;
    }
    sc->slots_busy++;
    g_mutex_unlock(&sc->slot_lock);
}

static bool slot_try_take(em_context *sc)
{
    g_mutex_lock(&sc->slot_lock);
    bool free = sc->slots_busy < sc->parallelism;
    if (free)
        sc->slots_busy++;
    g_mutex_unlock(&sc->slot_lock);
    return free;
}

static void slot_give(em_context *sc)
{
    g_mutex_lock(&sc->slot_lock);
    sc->slots_busy--;
    if (sc->slots_waiting > 0)
        g_cond_broadcast(&sc->slot_cond);
    g_mutex_unlock(&sc->slot_lock);
}

/* Runs a task of job on this thread, which holds a slot: its arenas, scratch and tls_task as
 * the user functions see them, then the job's abort flag when it failed. */
static void execute(em_task *task, em_job *job)
{
    if (g_atomic_int_get(&job->aborted))
        return;
    task->scratch = em_arena_new();
    task->arena = em_arena_new();
    em_arena *prev = em__scratch_set(task->scratch);
    tls_task = task;
    job->fn(task, job->ud);
    tls_task = NULL;
    em__scratch_set(prev);
    em_arena_free(task->scratch);
    em_arena_free(task->arena);
    task->scratch = task->arena = NULL;
    if (task->error)
        g_atomic_int_set(&job->aborted, 1);
}

static void run_task(gpointer data, gpointer pool_ud)
{
    (void)pool_ud;
    em_task *task = data;
    em_job *job = task->job;
    slot_take(task->sc);
    execute(task, job);
    slot_give(task->sc);
    g_mutex_lock(&job->lock);
    if (--job->remaining == 0)
        g_cond_signal(&job->done);
    g_mutex_unlock(&job->lock);
}

static int parse_master(const char *master)
{
    if (!master)
        return 0;
    if (strcmp(master, "local") == 0)
        return 1;
    if (strcmp(master, "local[*]") == 0)
        return (int)g_get_num_processors();
    int n = 0, used = 0;
    if (sscanf(master, "local[%d]%n", &n, &used) == 1 && used == (int)strlen(master) && n > 0 &&
        n <= 1024)
        return n;
    return 0;
}

em_context *em_context_new(const char *master, const char *app_name, GError **err)
{
    int n = parse_master(master);
    if (n <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_context_new: master \"%s\" is not \"local\", \"local[N]\" (N >= 1) or "
                    "\"local[*]\"",
                    master ? master : "(null)");
        return NULL;
    }
    em_context *sc = g_new0(em_context, 1);
    sc->master = g_strdup(master);
    sc->app_name = g_strdup(app_name ? app_name : "ember");
    sc->parallelism = n;
    /* Spark's output order: see em_context_set_spark_order() (EMBER_SPARK_ORDER=0: off). */
    sc->spark_order = g_strcmp0(g_getenv("EMBER_SPARK_ORDER"), "0") != 0;
    g_mutex_init(&sc->slot_lock);
    g_cond_init(&sc->slot_cond);
    sc->pool = g_thread_pool_new(run_task, sc, n, TRUE, NULL);
    return sc;
}

void em_context_free(em_context *sc)
{
    if (!sc)
        return;
    g_thread_pool_free(sc->pool, FALSE, TRUE);
    g_mutex_clear(&sc->slot_lock);
    g_cond_clear(&sc->slot_cond);
    g_free(sc->master);
    g_free(sc->app_name);
    g_free(sc);
}

int em_context_default_parallelism(const em_context *sc) { return sc->parallelism; }
const char *em_context_app_name(const em_context *sc) { return sc->app_name; }
const char *em_context_master(const em_context *sc) { return sc->master; }
int em__next_stage_id(em_context *sc) { return g_atomic_int_add(&sc->next_stage_id, 1); }

/* ---- Failures ---- */

void em__task_fail(em_task *task, const em_rdd *rdd, const char *fmt, ...)
{
    task->stop = 1;
    if (task->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (rdd && rdd->fn_name)
        g_set_error(&task->error, EM_ERROR, EM_ERROR_TASK,
                    "stage %d, partition %d: %s (%s) failed: %s", task->stage_id, task->partition,
                    rdd->op, rdd->fn_name, msg);
    else if (rdd)
        g_set_error(&task->error, EM_ERROR, EM_ERROR_TASK, "stage %d, partition %d: %s failed: %s",
                    task->stage_id, task->partition, rdd->op, msg);
    else
        g_set_error(&task->error, EM_ERROR, EM_ERROR_TASK, "stage %d, partition %d: %s",
                    task->stage_id, task->partition, msg);
    g_free(msg);
}

bool em__fail_not_pair(em_task *task, const em_rdd *rdd, em_value v)
{
    char *text = em_value_to_string(v);
    em__task_fail(task, rdd, "record %s is not a (key, value) pair", text);
    g_free(text);
    return false;
}

em_value em_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    em_task *task = tls_task;
    if (task)
        em__task_fail(task, task->cur_rdd, "%s", msg);
    else
        g_warning("em_fail outside a task: %s", msg);
    g_free(msg);
    return em_null();
}

/* ---- Jobs ---- */

/* A task that waits for a job of its own holds a pool thread that the job's tasks need: with
 * every thread so held, nothing runs again. Spark refuses the same (SPARK-5063). */
bool em__driver_only(const char *action, GError **err)
{
    em_task *task = tls_task;
    if (!task)
        return true;
    const em_rdd *in = task->cur_rdd;
    g_autofree char *where = in && in->fn_name ? g_strdup_printf("%s (%s)", in->op, in->fn_name)
                                               : g_strdup(in ? in->op : "a task");
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                "%s called inside a user function of %s (stage %d, partition %d): actions run "
                "on the driver only, never inside another job's task (it would wait for a pool "
                "thread it holds); compute the value before the job, or use a join",
                action, where, task->stage_id, task->partition);
    /* The enclosing job fails too, even when the user function ignores this error. */
    em__task_fail(task, task->cur_rdd, "%s called inside a task", action);
    return false;
}

/* Prepares every shuffle reachable from rdd without crossing a ready shuffle, parents first. */
bool em__prepare_lineage(em_rdd *rdd, GError **err)
{
    if (rdd->cached) {
        /* A fully cached RDD needs nothing below it, not even its own shuffles' outputs. */
        bool all = true;
        g_mutex_lock(&rdd->cache_lock);
        for (int p = 0; p < rdd->num_partitions && all; p++)
            all = rdd->cache && rdd->cache[p] != NULL;
        g_mutex_unlock(&rdd->cache_lock);
        if (all)
            return true;
    }
    for (int i = 0; i < rdd->n_shuffles; i++)
        if (!em__shuffle_prepare(rdd->shuffles[i], err))
            return false;
    for (int i = 0; i < rdd->n_parents; i++)
        if (!em__prepare_lineage(rdd->parents[i], err))
            return false;
    return true;
}

bool em__run_job(em_rdd *rdd, const int *parts, int n, em_task_fn fn, void *ud, GError **err)
{
    if (!em__driver_only("an action", err) || !em__prepare_lineage(rdd, err))
        return false;
    return em__run_stage(rdd, parts, n, fn, ud, err);
}

/* Runs one stage: fn for each partition, without looking at shuffles. */
bool em__run_stage(em_rdd *rdd, const int *parts, int n, em_task_fn fn, void *ud, GError **err)
{
    if (!em__driver_only("an action", err))
        return false;
    if (!parts)
        n = rdd->num_partitions;
    if (n == 0)
        return true;
    em_context *sc = rdd->sc;
    em_job job = {.remaining = n, .fn = fn, .ud = ud};
    int stage = em__next_stage_id(sc);
    em_task *tasks = g_new0(em_task, n);
    for (int i = 0; i < n; i++)
        tasks[i] =
            (em_task){.sc = sc, .job = &job, .stage_id = stage, .partition = parts ? parts[i] : i};
    if (n == 1 && slot_try_take(sc)) {
        /* A lone task and a free slot: this thread runs it rather than wake a pool thread and
         * wait to be woken. It is a task like any other (em__driver_only sees tls_task). */
        execute(&tasks[0], &job);
        slot_give(sc);
    } else {
        g_mutex_init(&job.lock);
        g_cond_init(&job.done);
        for (int i = 0; i < n; i++)
            g_thread_pool_push(sc->pool, &tasks[i], NULL);
        g_mutex_lock(&job.lock);
        while (job.remaining > 0)
            g_cond_wait(&job.done, &job.lock);
        g_mutex_unlock(&job.lock);
        g_mutex_clear(&job.lock);
        g_cond_clear(&job.done);
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        if (tasks[i].error && ok) {
            g_propagate_prefixed_error(err, tasks[i].error, "Job aborted: ");
            tasks[i].error = NULL;
            ok = false;
        }
        g_clear_error(&tasks[i].error);
    }
    g_free(tasks);
    return ok;
}
