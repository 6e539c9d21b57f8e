/* What the receiver and socket suites share: a manual-clock ssc stepped batch by batch, a
 * foreachRDD collector, a listener log of receiver events, and bounded waits for real I/O. */
#ifndef EMBER_TEST_RECEIVER_FIXTURE_H
#define EMBER_TEST_RECEIVER_FIXTURE_H

#include <criterion/criterion.h>

#include "streaming-private.h"

#define IO_TIMEOUT_MS 10000

/* Each batch's records ("[a, b]"), partition count and record count as listeners saw it. */
typedef struct collected {
    GMutex lock;
    GPtrArray *batches; /* char * */
    GArray *partitions; /* int */
    GArray *records;    /* int64_t, em_batch_info.num_records */
    GArray *blocked;    /* int, em_batch_info.blocked_inputs */
    int64_t retained_bytes_max;
    /* Receiver events, one line each: "started TestReceiver#0", "error <message>",
     * "stopped" or "stopped <message>". */
    GString *events;
    int errors;
} collected;

static bool collect_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t;
    collected *c = ud;
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    char *text = em_values_to_string(vals);
    em_values_free(vals);
    int parts = em_rdd_num_partitions(rdd);
    g_mutex_lock(&c->lock);
    g_ptr_array_add(c->batches, text);
    g_array_append_val(c->partitions, parts);
    g_mutex_unlock(&c->lock);
    return true;
}

static void on_batch_completed(const em_batch_info *info, void *ud)
{
    collected *c = ud;
    g_mutex_lock(&c->lock);
    g_array_append_val(c->records, info->num_records);
    g_array_append_val(c->blocked, info->blocked_inputs);
    c->retained_bytes_max = MAX(c->retained_bytes_max, info->retained_bytes);
    g_mutex_unlock(&c->lock);
}

static void log_event(collected *c, const char *what, const em_receiver_info *info)
{
    g_mutex_lock(&c->lock);
    if (strcmp(what, "started") == 0)
        g_string_append_printf(c->events, "started %s#%d%s\n", info->name, info->stream_id,
                               info->active ? "" : " inactive");
    else if (info->last_error)
        g_string_append_printf(c->events, "%s %s\n", what, info->last_error);
    else
        g_string_append_printf(c->events, "%s\n", what);
    if (strcmp(what, "error") == 0)
        c->errors++;
    g_mutex_unlock(&c->lock);
}

static void on_started(const em_receiver_info *info, void *ud) { log_event(ud, "started", info); }
static void on_error(const em_receiver_info *info, void *ud) { log_event(ud, "error", info); }
static void on_stopped(const em_receiver_info *info, void *ud) { log_event(ud, "stopped", info); }

static void collected_init(collected *c)
{
    *c = (collected){0};
    g_mutex_init(&c->lock);
    c->batches = g_ptr_array_new_with_free_func(g_free);
    c->partitions = g_array_new(FALSE, FALSE, sizeof(int));
    c->records = g_array_new(FALSE, FALSE, sizeof(int64_t));
    c->blocked = g_array_new(FALSE, FALSE, sizeof(int));
    c->events = g_string_new(NULL);
}

static void collected_clear(collected *c)
{
    g_ptr_array_unref(c->batches);
    g_array_unref(c->partitions);
    g_array_unref(c->records);
    g_array_unref(c->blocked);
    g_string_free(c->events, TRUE);
    g_mutex_clear(&c->lock);
}

/* Collects ds's batches and the ssc's events into c. */
static void collect(em_dstream *ds, collected *c)
{
    em_foreach_rdd_full(ds, collect_rdd, c, NULL, "collect");
    em_ssc_add_listener(ds->ssc,
                        &(em_listener){.batch_completed = on_batch_completed,
                                       .receiver_started = on_started,
                                       .receiver_error = on_error,
                                       .receiver_stopped = on_stopped},
                        c);
}

G_GNUC_UNUSED static char *events_text(collected *c)
{
    g_mutex_lock(&c->lock);
    char *text = g_strdup(c->events->str);
    g_mutex_unlock(&c->lock);
    return text;
}

/* The batches collected so far, one per line. */
G_GNUC_UNUSED static char *batches_text(collected *c)
{
    g_mutex_lock(&c->lock);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < c->batches->len; i++)
        g_string_append_printf(s, "%s\n", (const char *)c->batches->pdata[i]);
    g_mutex_unlock(&c->lock);
    return g_string_free(s, FALSE);
}

G_GNUC_UNUSED static int errors_seen(collected *c)
{
    g_mutex_lock(&c->lock);
    int n = c->errors;
    g_mutex_unlock(&c->lock);
    return n;
}

G_GNUC_UNUSED static em_ssc *manual_ssc(const char *master)
{
    return em_ssc_new_full(&(em_ssc_opts){.master = master,
                                          .batch_interval = EM_SECONDS(1),
                                          .manual_clock = true},
                           NULL);
}

/* Moves the manual clock one batch on and waits for that batch. */
G_GNUC_UNUSED static void step(em_ssc *ssc)
{
    em_ssc_advance_clock(ssc, ssc->batch);
    cr_assert(em_ssc_wait_for_batch(ssc, em_ssc_clock_time(ssc), IO_TIMEOUT_MS),
              "batch %" G_GINT64_FORMAT " did not complete", (gint64)em_ssc_clock_time(ssc));
}

/* Waits (bounded) until the receiver stream has stored at least n records. */
G_GNUC_UNUSED static void wait_records(em_dstream *ds, int64_t n)
{
    gint64 deadline = g_get_monotonic_time() + IO_TIMEOUT_MS * 1000;
    while (em_receiver_stream_records(ds) < n && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    cr_assert_geq(em_receiver_stream_records(ds), n);
}

/* Waits (bounded) until c has seen n receiver errors. */
G_GNUC_UNUSED static void wait_errors(collected *c, int n)
{
    gint64 deadline = g_get_monotonic_time() + IO_TIMEOUT_MS * 1000;
    while (errors_seen(c) < n && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    cr_assert_geq(errors_seen(c), n);
}

/* A log writer that hides the critical messages of tests that provoke them (Criterion runs
 * each test in a process of its own). */
G_GNUC_UNUSED static GLogWriterOutput
quiet_criticals(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer ud)
{
    return level & G_LOG_LEVEL_CRITICAL ? G_LOG_WRITER_HANDLED
                                        : g_log_writer_default(level, fields, n, ud);
}

#endif
