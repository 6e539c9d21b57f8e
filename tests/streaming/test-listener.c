/* Streaming listeners (em_ssc_add_listener): the order of batch and output-operation events,
 * exactly one completion per batch, failures, and the batch figures (records per input,
 * delays, retained RDDs), as Spark's StreamingListenerSuite checks them. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include "queue-fixture.h"

#include <ember/testing.h>

#include <inttypes.h>

/* ---- An event log: one word per event ---- */

typedef struct {
    GMutex lock;
    GString *log;
    GArray *completed;      /* em_batch_info copies (pointers cleared) */
    GPtrArray *failures;    /* batch_completed failure messages (NULL for none) */
    GPtrArray *op_failures; /* output_op_completed failure messages, in order */
    em_ssc *ssc;
    void *late; /* a recorder to add as a listener from batch_completed at 1 s */
} recorder;

static void recorder_init(recorder *r)
{
    *r = (recorder){.log = g_string_new(NULL)};
    g_mutex_init(&r->lock);
    r->completed = g_array_new(FALSE, FALSE, sizeof(em_batch_info));
    r->failures = g_ptr_array_new_with_free_func(g_free);
    r->op_failures = g_ptr_array_new_with_free_func(g_free);
}

static void recorder_clear(recorder *r)
{
    g_string_free(r->log, TRUE);
    g_array_unref(r->completed);
    g_ptr_array_unref(r->failures);
    g_ptr_array_unref(r->op_failures);
    g_mutex_clear(&r->lock);
}

static void log_event(recorder *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void log_event(recorder *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_mutex_lock(&r->lock);
    if (r->log->len)
        g_string_append_c(r->log, ' ');
    g_string_append_vprintf(r->log, fmt, ap);
    g_mutex_unlock(&r->lock);
    va_end(ap);
}

static void on_submitted(const em_batch_info *info, void *ud)
{
    log_event(ud, "S%" PRId64 "/%" PRId64, info->batch_time, info->num_records);
}

static void on_started(const em_batch_info *info, void *ud)
{
    log_event(ud, "B%" PRId64, info->batch_time);
}

static void on_completed(const em_batch_info *info, void *ud)
{
    recorder *r = ud;
    log_event(r, "C%" PRId64 "%s", info->batch_time, info->failed ? "!" : "");
    g_mutex_lock(&r->lock);
    em_batch_info copy = *info;
    copy.input_records = NULL;
    copy.failure = NULL;
    g_array_append_val(r->completed, copy);
    g_ptr_array_add(r->failures, g_strdup(info->failure));
    g_mutex_unlock(&r->lock);
}

static void on_op_started(const em_output_op_info *info, void *ud)
{
    cr_assert_eq(info->end_time, -1);
    log_event(ud, "+%d%s", info->id, info->name);
}

static void on_op_completed(const em_output_op_info *info, void *ud)
{
    recorder *r = ud;
    cr_assert_geq(info->end_time, info->start_time);
    log_event(r, "-%d%s", info->id, info->failure ? "!" : "");
    g_mutex_lock(&r->lock);
    g_ptr_array_add(r->op_failures, g_strdup(info->failure));
    g_mutex_unlock(&r->lock);
}

static const em_listener full_listener = {
    .batch_submitted = on_submitted,
    .batch_started = on_started,
    .batch_completed = on_completed,
    .output_op_started = on_op_started,
    .output_op_completed = on_op_completed,
};

/* ---- Event order, on the harness ---- */

typedef struct {
    recorder rec;
    FILE *print_out;
} order_case;

static em_dstream *op_three_outputs(em_dstream *const *in, void *ud)
{
    order_case *c = ud;
    em_ssc_add_listener(em_dstream_ssc(in[0]), &full_listener, &c->rec);
    em_print_to(in[0], 10, c->print_out); /* output op 0 */
    em_foreach_rdd(in[0], ignore_rdd);    /* output op 1; the harness's collector is 2 */
    return in[0];
}

Test(listener, batch_and_output_op_events_come_in_order_once_per_batch)
{
    order_case c;
    recorder_init(&c.rec);
    char *printed = NULL;
    size_t len = 0;
    c.print_out = open_memstream(&printed, &len);
    em_test_batch batches[] = {{.text = "a, b"}, {.text = ""}, {.text = "c"}};
    em_test_input in = {batches, 3};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_three_outputs, &c, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    fclose(c.print_out);
    free(printed);
    cr_assert_str_eq(c.rec.log->str,
                     "S1000/2 B1000 +0print -0 +1foreachRDD -1 +2foreachRDD -2 C1000 "
                     "S2000/0 B2000 +0print -0 +1foreachRDD -1 +2foreachRDD -2 C2000 "
                     "S3000/1 B3000 +0print -0 +1foreachRDD -1 +2foreachRDD -2 C3000");
    recorder_clear(&c.rec);
}

/* ---- Figures: records per input, delays, retained RDDs ---- */

static em_dstream *op_union_remember(em_dstream *const *in, void *ud)
{
    em_ssc *ssc = em_dstream_ssc(in[0]);
    em_ssc_add_listener(ssc, &full_listener, ud);
    em_ssc_remember(ssc, EM_SECONDS(2));
    return em_union(in[0], in[1]);
}

typedef struct {
    GMutex lock;
    GArray *records; /* input_records[0], input_records[1], num_records per completed batch */
} input_figures;

static void on_completed_inputs(const em_batch_info *info, void *ud)
{
    input_figures *f = ud;
    cr_assert_eq(info->n_inputs, 2);
    g_mutex_lock(&f->lock);
    g_array_append_vals(f->records, info->input_records, 2);
    g_array_append_val(f->records, info->num_records);
    g_mutex_unlock(&f->lock);
}

static em_dstream *op_union_figures(em_dstream *const *in, void *ud)
{
    void **both = ud;
    em_ssc *ssc = em_dstream_ssc(in[0]);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = on_completed_inputs}, both[1]);
    return op_union_remember(in, both[0]);
}

Test(listener, batch_info_counts_records_per_input_and_delays_add_up)
{
    recorder r;
    recorder_init(&r);
    input_figures fig = {.records = g_array_new(FALSE, FALSE, sizeof(int64_t))};
    g_mutex_init(&fig.lock);
    em_test_batch b1[] = {{.text = "1, 2, 3"}, {.text = ""}, {.text = "4"}, {.text = "5"}};
    em_test_batch b2[] = {{.text = "x"}, {.text = "y, z"}, {.text = ""}};
    em_test_input in[] = {{b1, 4}, {b2, 3}};
    void *both[] = {&r, &fig};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(in, 2, op_union_figures, both, NULL, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_test_output_format(out, true);
    cr_assert_str_eq(text, "[1, 2, 3, x]\n[y, z]\n[4]\n[5]\n");

    const int64_t want[] = {3, 1, 4, 0, 2, 2, 1, 0, 1, 1, 0, 1};
    cr_assert_eq(fig.records->len, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        cr_assert_eq(g_array_index(fig.records, int64_t, i), want[i], "figure %zu", i);

    cr_assert_str_eq(r.log->str, "S1000/4 B1000 +0foreachRDD -0 C1000 "
                                 "S2000/2 B2000 +0foreachRDD -0 C2000 "
                                 "S3000/1 B3000 +0foreachRDD -0 C3000 "
                                 "S4000/1 B4000 +0foreachRDD -0 C4000");
    /* Three streams (two inputs and the union), each remembering 2 s. */
    const int64_t retained[] = {3, 6, 6, 6};
    cr_assert_eq(r.completed->len, 4);
    for (guint i = 0; i < r.completed->len; i++) {
        const em_batch_info *info = &g_array_index(r.completed, em_batch_info, i);
        cr_assert_eq(info->batch_time, (em_time)(i + 1) * 1000);
        cr_assert_not(info->failed);
        cr_assert_null(r.failures->pdata[i]);
        cr_assert_geq(info->scheduling_delay, 0);
        cr_assert_geq(info->processing_delay, 0);
        cr_assert_eq(info->scheduling_delay, info->processing_start - info->submission_time);
        cr_assert_eq(info->processing_delay, info->processing_end - info->processing_start);
        cr_assert_eq(info->total_delay, info->scheduling_delay + info->processing_delay);
        cr_assert_eq(info->retained_batches, retained[i], "batch %u retains %" PRId64, i,
                     info->retained_batches);
    }
    recorder_clear(&r);
    g_array_unref(fig.records);
    g_mutex_clear(&fig.lock);
}

/* ---- Failures, on a queue stream (the harness stops at the first failure) ---- */

static void fixture_run(queue_fixture *f, int n)
{
    cr_assert(em_ssc_start(f->ssc, NULL));
    run_batches(f->ssc, n);
}

static em_value fail_on_two(em_value v, void *ud)
{
    (void)ud;
    if (em_as_int(v) == 2)
        return em_fail("two is not allowed");
    return v;
}

static bool count_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    return em_rdd_count(rdd, err) >= 0;
}

Test(listener, a_failed_batch_completes_once_with_its_failure_and_later_ops_still_run)
{
    const char *batches[] = {"1", "2", "3"};
    queue_fixture f = queue_fixture_new(batches, 3);
    recorder r;
    recorder_init(&r);
    em_ssc_add_listener(f.ssc, &full_listener, &r);
    em_foreach_rdd(em_map(f.input, fail_on_two), count_rdd); /* op 0 fails at 2 s */
    em_foreach_rdd(f.input, count_rdd);                      /* op 1 runs anyway, as Spark */
    fixture_run(&f, 3);
    cr_assert_str_eq(r.log->str, "S1000/0 B1000 +0foreachRDD -0 +1foreachRDD -1 C1000 "
                                 "S2000/0 B2000 +0foreachRDD -0! +1foreachRDD -1 C2000! "
                                 "S3000/0 B3000 +0foreachRDD -0 +1foreachRDD -1 C3000");
    cr_assert_null(r.failures->pdata[0]);
    cr_assert_null(r.failures->pdata[2]);
    const char *failure = r.failures->pdata[1];
    cr_assert(g_str_has_prefix(failure, "batch 2000 ms: "), "%s", failure);
    cr_assert(strstr(failure, "map (fail_on_two) failed: two is not allowed"), "%s", failure);
    const char *op_failure = r.op_failures->pdata[2];
    cr_assert(strstr(op_failure, "two is not allowed"), "%s", op_failure);
    cr_assert_null(r.op_failures->pdata[3]);
    cr_assert(g_array_index(r.completed, em_batch_info, 1).failed);
    queue_fixture_free(&f);
    recorder_clear(&r);
}

static bool fail_without_message(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud, (void)err;
    return t != 1000;
}

static bool fail_with_message(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud;
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "sink down at %" PRId64, t);
    return false;
}

Test(listener, every_failing_output_op_reports_its_own_failure)
{
    /* Spark's "onBatchCompleted with failed batch and multiple failed jobs". */
    const char *batches[] = {"1"};
    queue_fixture f = queue_fixture_new(batches, 1);
    recorder r;
    recorder_init(&r);
    em_ssc_add_listener(f.ssc, &full_listener, &r);
    em_foreach_rdd(f.input, fail_without_message);
    em_foreach_rdd(f.input, fail_with_message);
    fixture_run(&f, 1);
    cr_assert_str_eq(r.log->str, "S1000/0 B1000 +0foreachRDD -0! +1foreachRDD -1! C1000!");
    cr_assert_str_eq(r.op_failures->pdata[0],
                     "foreachRDD (fail_without_message) failed without a message");
    cr_assert_str_eq(r.op_failures->pdata[1], "sink down at 1000");
    /* The batch reports the first failure, as await_termination does. */
    cr_assert_str_eq(r.failures->pdata[0],
                     "batch 1000 ms: foreachRDD (fail_without_message) failed without a message");
    GError *err = NULL;
    cr_assert_not(em_ssc_await_termination(f.ssc, &err));
    cr_assert_str_eq(err->message, r.failures->pdata[0]);
    g_clear_error(&err);
    queue_fixture_free(&f);
    recorder_clear(&r);
}

/* ---- Listeners added while running ---- */

static void add_late_listener(const em_batch_info *info, void *ud)
{
    recorder *r = ud;
    if (info->batch_time == 1000)
        em_ssc_add_listener(r->ssc, &full_listener, r->late);
}

Test(listener, a_listener_added_from_a_callback_hears_from_the_next_batch)
{
    const char *batches[] = {"1", "2", "3"};
    queue_fixture f = queue_fixture_new(batches, 3);
    recorder first, late;
    recorder_init(&first);
    recorder_init(&late);
    first.ssc = f.ssc;
    first.late = &late;
    /* Several listeners, so that adding one moves the array in memory. */
    em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = add_late_listener}, &first);
    for (int i = 0; i < 4; i++)
        em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = on_completed}, &first);
    em_foreach_rdd(f.input, count_rdd);
    fixture_run(&f, 3);
    cr_assert_eq(first.completed->len, 12);
    cr_assert_str_eq(late.log->str, "S2000/0 B2000 +0foreachRDD -0 C2000 "
                                    "S3000/0 B3000 +0foreachRDD -0 C3000");
    queue_fixture_free(&f);
    recorder_clear(&first);
    recorder_clear(&late);
}

Test(listener, a_listener_added_from_another_thread_between_batches_hears_the_rest)
{
    const char *batches[] = {"1", "2"};
    queue_fixture f = queue_fixture_new(batches, 2);
    recorder r;
    recorder_init(&r);
    em_foreach_rdd(f.input, count_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(f.ssc, 1000, 10000));
    em_ssc_add_listener(f.ssc, &full_listener, &r);
    em_ssc_advance_clock(f.ssc, EM_SECONDS(1));
    cr_assert(em_ssc_wait_for_batch(f.ssc, 2000, 10000));
    cr_assert_str_eq(r.log->str, "S2000/0 B2000 +0foreachRDD -0 C2000");
    queue_fixture_free(&f);
    recorder_clear(&r);
}
