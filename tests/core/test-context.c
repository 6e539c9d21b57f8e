/* The executor: masters, thread use, and how a failing task fails its job. */
#include <criterion/criterion.h>

#include "core-private.h"

Test(context, parses_local_masters)
{
    const struct {
        const char *master;
        int threads;
    } cases[] = {{"local", 1},
                 {"local[1]", 1},
                 {"local[3]", 3},
                 {"local[*]", (int)g_get_num_processors()}};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        em_context *sc = em_context_new(cases[i].master, "app", &err);
        cr_assert_not_null(sc, "%s", cases[i].master);
        cr_assert_eq(em_context_default_parallelism(sc), cases[i].threads, "%s", cases[i].master);
        cr_assert_str_eq(em_context_master(sc), cases[i].master);
        cr_assert_str_eq(em_context_app_name(sc), "app");
        em_context_free(sc);
    }
}

Test(context, rejects_unknown_masters_naming_them)
{
    const char *bad[] = {"yarn",      "local[0]",       "local[-2]", "local[2",
                         "local[2]x", "spark://h:7077", ""};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        cr_assert_null(em_context_new(bad[i], "app", &err), "%s", bad[i]);
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_INVALID));
        g_autofree char *quoted = g_strdup_printf("\"%s\"", bad[i]);
        cr_assert(strstr(err->message, quoted), "%s", err->message);
        g_error_free(err);
    }
}

/* Two tasks of one stage wait for each other: this only finishes if they run at once. */
typedef struct {
    GMutex lock;
    GCond cond;
    int arrived;
    int concurrent;
} rendezvous;

static bool meet(em_value v, void *ud)
{
    (void)v;
    rendezvous *r = ud;
    g_mutex_lock(&r->lock);
    r->arrived++;
    g_cond_broadcast(&r->cond);
    gint64 deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    while (r->arrived < 2)
        if (!g_cond_wait_until(&r->cond, &r->lock, deadline))
            break;
    if (r->arrived >= 2)
        r->concurrent = 1;
    g_mutex_unlock(&r->lock);
    return true;
}

Test(context, runs_tasks_of_a_stage_concurrently)
{
    em_context *sc = em_context_new("local[2]", "app", NULL);
    rendezvous r = {0};
    g_mutex_init(&r.lock);
    g_cond_init(&r.cond);
    em_value one[] = {em_int(1), em_int(2)};
    g_autoptr(em_rdd) nums = em_parallelize(sc, one, 2, 2);
    g_autoptr(em_rdd) met = em_rdd_filter_full(nums, meet, &r, NULL, "meet");
    cr_assert_eq(em_rdd_count(met, NULL), 2);
    cr_assert_eq(r.concurrent, 1, "the two partitions did not run at the same time");
    g_mutex_clear(&r.lock);
    g_cond_clear(&r.cond);
    em_rdd_unref(g_steal_pointer(&met));
    em_rdd_unref(g_steal_pointer(&nums));
    em_context_free(sc);
}

static em_value fail_on_three(em_value v, void *ud)
{
    (void)ud;
    if (em_as_int(v) == 3)
        return em_fail("cannot take %lld", (long long)em_as_int(v));
    return v;
}

Test(context, failing_user_function_fails_job_naming_operator_stage_and_partition)
{
    em_context *sc = em_context_new("local[2]", "app", NULL);
    GError *err = NULL;
    em_rdd *nums = em_parallelize_text(sc, "1, 2, 3, 4", 2, &err);
    em_rdd *mapped = em_rdd_map(nums, fail_on_three);
    cr_assert_null(em_rdd_collect(mapped, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    /* 3 is in the second slice; this is the context's first stage. */
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 1: map (fail_on_three) "
                                   "failed: cannot take 3");
    g_clear_error(&err);
    /* The context stays usable after a failed job. */
    cr_assert_eq(em_rdd_count(nums, &err), 4);
    em_rdd_unref(mapped);
    em_rdd_unref(nums);
    em_context_free(sc);
}

Test(context, failure_in_map_stage_names_the_map_side_stage)
{
    em_context *sc = em_context_new("local[1]", "app", NULL);
    GError *err = NULL;
    em_rdd *nums = em_parallelize_text(sc, "(a,1), (b,3)", 1, &err);
    em_rdd *mapped = em_rdd_map_values(nums, fail_on_three);
    em_rdd *sums = em_rdd_reduce_by_key(mapped, em_sum);
    cr_assert_eq(em_rdd_count(sums, &err), -1);
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 0: mapValues "
                                   "(fail_on_three) failed: cannot take 3");
    g_clear_error(&err);
    em_rdd_unref(sums);
    em_rdd_unref(mapped);
    em_rdd_unref(nums);
    em_context_free(sc);
}

Test(context, em_fail_outside_a_task_only_warns)
{
    em_value v = em_fail("no task here");
    cr_assert(em_is_null(v));
}

/* ---- A stage of one task runs on the calling thread when a task slot is free ---- */

typedef struct {
    GThread *thread; /* where the user function ran */
    int stage, partition;
    bool scratch_is_the_tasks;
    GError *refusal; /* what a nested action said */
    em_rdd *other;   /* for the nested action */
} lone_probe;

static em_value note_thread(em_value v, void *ud)
{
    lone_probe *p = ud;
    em_task *task = em__current_task();
    p->thread = g_thread_self();
    p->stage = task ? task->stage_id : -1;
    p->partition = task ? task->partition : -1;
    p->scratch_is_the_tasks = task && em_scratch() == task->scratch;
    return v;
}

Test(context, lone_task_runs_on_the_calling_thread_as_a_task)
{
    em_context *sc = em_context_new("local[2]", "app", NULL);
    em_arena *own_scratch = em_scratch();
    lone_probe p = {0};
    g_autoptr(em_rdd) nums = em_parallelize(sc, (em_value[]){em_int(5)}, 1, 1);
    g_autoptr(em_rdd) seen = em_rdd_map_full(nums, note_thread, &p, NULL, "note_thread");
    g_autoptr(em_values) out = em_rdd_collect(seen, NULL);
    cr_assert_eq(out->n, 1);
    cr_assert_eq(em_as_int(out->items[0]), 5);
    cr_assert_eq(p.thread, g_thread_self());
    cr_assert_eq(p.stage, 0);
    cr_assert_eq(p.partition, 0);
    cr_assert(p.scratch_is_the_tasks, "the task's user function did not see its scratch arena");
    /* Back on the driver: no task, and this thread's own scratch again. */
    cr_assert_null(em__current_task());
    cr_assert_eq(em_scratch(), own_scratch);
    /* Two partitions go to the pool. */
    g_autoptr(em_rdd) two = em_parallelize(sc, (em_value[]){em_int(1), em_int(2)}, 2, 2);
    g_autoptr(em_rdd) two_seen = em_rdd_map_full(two, note_thread, &p, NULL, "note_thread");
    cr_assert_eq(em_rdd_count(two_seen, NULL), 2);
    cr_assert_neq(p.thread, g_thread_self());
    cr_assert_eq(p.stage, 1);
    em_rdd_unref(g_steal_pointer(&two_seen));
    em_rdd_unref(g_steal_pointer(&two));
    em_rdd_unref(g_steal_pointer(&seen));
    em_rdd_unref(g_steal_pointer(&nums));
    em_context_free(sc);
}

static em_value fail_on_three_noting_thread(em_value v, void *ud)
{
    ((lone_probe *)ud)->thread = g_thread_self();
    return fail_on_three(v, NULL);
}

Test(context, lone_task_failure_on_the_caller_names_stage_and_partition)
{
    em_context *sc = em_context_new("local[2]", "app", NULL);
    lone_probe p = {0};
    GError *err = NULL;
    g_autoptr(em_rdd) nums = em_parallelize(sc, (em_value[]){em_int(3)}, 1, 1);
    g_autoptr(em_rdd) twice = em_rdd_union(nums, nums);
    cr_assert_eq(em_rdd_count(twice, NULL), 2); /* stage 0 */
    g_autoptr(em_rdd) mapped =
        em_rdd_map_full(nums, fail_on_three_noting_thread, &p, NULL, "fail_on_three");
    cr_assert_null(em_rdd_collect(mapped, &err));
    cr_assert_eq(p.thread, g_thread_self());
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_TASK));
    cr_assert_str_eq(err->message, "Job aborted: stage 1, partition 0: map (fail_on_three) "
                                   "failed: cannot take 3");
    g_clear_error(&err);
    /* The failed task left nothing behind on this thread. */
    cr_assert_null(em__current_task());
    cr_assert_eq(em_rdd_count(nums, &err), 1);
    em_rdd_unref(g_steal_pointer(&mapped));
    em_rdd_unref(g_steal_pointer(&twice));
    em_rdd_unref(g_steal_pointer(&nums));
    em_context_free(sc);
}

static em_value count_inside(em_value v, void *ud)
{
    lone_probe *p = ud;
    p->thread = g_thread_self();
    p->stage = (int)em_rdd_count(p->other, &p->refusal); /* -1: refused */
    return v;
}

Test(context, lone_task_on_the_caller_still_refuses_nested_actions)
{
    em_context *sc = em_context_new("local[1]", "app", NULL);
    g_autoptr(em_rdd) nums = em_parallelize(sc, (em_value[]){em_int(1)}, 1, 1);
    g_autoptr(em_rdd) other = em_parallelize(sc, (em_value[]){em_int(7)}, 1, 1);
    lone_probe p = {.other = other};
    g_autoptr(em_rdd) mapped = em_rdd_map_full(nums, count_inside, &p, NULL, "nested");
    GError *err = NULL;
    cr_assert_null(em_rdd_collect(mapped, &err));
    cr_assert_eq(p.thread, g_thread_self());
    cr_assert_eq(p.stage, -1);
    cr_assert_str_eq(p.refusal->message,
                     "count called inside a user function of map (nested) (stage 0, partition "
                     "0): actions run on the driver only, never inside another job's task (it "
                     "would wait for a pool thread it holds); compute the value before the "
                     "job, or use a join");
    cr_assert_str_eq(err->message, "Job aborted: stage 0, partition 0: map (nested) failed: "
                                   "count called inside a task");
    g_clear_error(&p.refusal);
    g_clear_error(&err);
    /* The refused count ran no job: the next stage is 1, and the context still works. */
    cr_assert_eq(em_rdd_count(other, &err), 1);
    em_rdd_unref(g_steal_pointer(&mapped));
    em_rdd_unref(g_steal_pointer(&other));
    em_rdd_unref(g_steal_pointer(&nums));
    em_context_free(sc);
}

/* Three drivers each run a one-partition job on local[2]. The first two run their tasks
 * themselves and hold them until the third's task waits for a slot: it cannot run as a third
 * task at once, and runs on a pool thread once one of the two ends. */
typedef struct {
    em_context *sc;
    GMutex lock;
    GCond cond;
    int running, most, started;
    bool third_started; /* under sc->slot_lock */
    GThread *ran_on[3];
} slot_probe;

typedef struct {
    slot_probe *probe;
    em_rdd *rdd;
    GThread *self;
    int64_t sum;
} driver;

static em_value hold(em_value v, void *ud)
{
    slot_probe *p = ud;
    int i = (int)em_as_int(v);
    g_mutex_lock(&p->lock);
    p->running++;
    p->most = MAX(p->most, p->running);
    p->started++;
    p->ran_on[i] = g_thread_self();
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
    /* The first two hold their slots until the third task has had to wait for one, or (were
     * local[N] not enforced) has started beside them: the context's slot_cond signals both. */
    em_context *sc = p->sc;
    g_mutex_lock(&sc->slot_lock);
    if (i == 2) {
        p->third_started = true;
        g_cond_broadcast(&sc->slot_cond);
    }
    while (i < 2 && sc->slot_waits < 1 && !p->third_started)
        g_cond_wait(&sc->slot_cond, &sc->slot_lock);
    g_mutex_unlock(&sc->slot_lock);
    g_mutex_lock(&p->lock);
    p->running--;
    g_mutex_unlock(&p->lock);
    return v;
}

static gpointer drive(gpointer data)
{
    driver *d = data;
    g_autoptr(em_rdd) held = em_rdd_map_full(d->rdd, hold, d->probe, NULL, "hold");
    g_autoptr(em_values) out = em_rdd_collect(held, NULL);
    d->sum = out && out->n == 1 ? em_as_int(out->items[0]) : -1;
    return NULL;
}

static void wait_started(slot_probe *p, int n)
{
    g_mutex_lock(&p->lock);
    while (p->started < n)
        g_cond_wait(&p->cond, &p->lock);
    g_mutex_unlock(&p->lock);
}

Test(context, tasks_run_by_drivers_and_the_pool_never_exceed_local_n)
{
    slot_probe p = {.sc = em_context_new("local[2]", "app", NULL)};
    g_mutex_init(&p.lock);
    g_cond_init(&p.cond);
    driver d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = (driver){.probe = &p, .rdd = em_parallelize(p.sc, (em_value[]){em_int(i)}, 1, 1)};
        d[i].self = g_thread_new("driver", drive, &d[i]);
        if (i < 2)
            wait_started(&p, i + 1); /* it holds a slot */
    }
    for (int i = 0; i < 3; i++)
        g_thread_join(d[i].self);
    cr_assert_eq(p.most, 2);
    cr_assert_eq(p.ran_on[0], d[0].self);
    cr_assert_eq(p.ran_on[1], d[1].self);
    cr_assert_neq(p.ran_on[2], d[2].self, "the third task ran on its driver, as a third task");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(d[i].sum, i);
        em_rdd_unref(d[i].rdd);
    }
    g_mutex_clear(&p.lock);
    g_cond_clear(&p.cond);
    em_context_free(p.sc);
}
