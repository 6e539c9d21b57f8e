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
