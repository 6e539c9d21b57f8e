/* The page's server over real TCP on 127.0.0.1: the REST endpoints against the listener's
 * figures for the same batches, /metrics against em_ssc_metrics_text, the pages' tables, and
 * 4xx for malformed paths, unknown batches and methods other than GET and HEAD. */
#include <criterion/criterion.h>

#include "../streaming/queue-fixture.h"
#include "counted-input.h"
#include "http-client.h"
#include "log-capture.h"
#include "ui-private.h"

#include <inttypes.h>

typedef struct {
    GMutex lock;
    em_batch_info done[8];
    int n;
} seen_batches;

static void remember_batch(const em_batch_info *info, void *ud)
{
    seen_batches *s = ud;
    g_mutex_lock(&s->lock);
    s->done[s->n] = *info;
    s->done[s->n].input_records = NULL;
    s->done[s->n].failure = NULL;
    s->n++;
    g_mutex_unlock(&s->lock);
}

static const char *const texts[] = {"a, b, c", "d, e", ""};
static em_ssc *ssc;
static seen_batches seen;
static int port;

/* Three batches (3, 2 and 0 records) with two output operations, the page on a free port. */
static void serve_three_batches(void)
{
    GError *err = NULL;
    ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                         .app_name = "PageTest",
                                         .batch_interval = EM_SECONDS(1),
                                         .manual_clock = true,
                                         .ui_address = "127.0.0.1:0"},
                          &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    port = em_ssc_ui_port(ssc);
    cr_assert_gt(port, 0);
    em_dstream *input = counted_input(ssc, texts, 3);
    em_foreach_rdd(input, ignore_rdd);
    em_foreach_rdd(em_count(input), ignore_rdd);
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = remember_batch}, &seen);
    cr_assert(em_ssc_start(ssc, NULL));
    run_batches(ssc, 3);
}

static void stop_serving(void) { em_ssc_free(ssc); }

TestSuite(ui_server, .init = serve_three_batches, .fini = stop_serving);

/* Spark's BatchInfo for the listener's figures of batch i. */
static char *expected_batch_info(int i, int64_t records)
{
    const em_batch_info *b = &seen.done[i];
    return g_strdup_printf("{\"batchId\":%d000,\"batchTime\":\"1970-01-01T00:00:0%d.000GMT\","
                           "\"status\":\"COMPLETED\",\"batchDuration\":1000,\"inputSize\":%" PRId64
                           ",\"schedulingDelay\":%" PRId64 ",\"processingTime\":%" PRId64
                           ",\"totalDelay\":%" PRId64 ",\"numActiveOutputOps\":0,"
                           "\"numCompletedOutputOps\":2,\"numFailedOutputOps\":0,"
                           "\"numTotalOutputOps\":2}",
                           i + 1, i + 1, records, b->scheduling_delay, b->processing_delay,
                           b->total_delay);
}

Test(ui_server, batches_endpoint_lists_completed_batches_newest_first_as_the_listener_saw_them)
{
    http_reply r = http_get(port, "/api/v1/streaming/batches");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "content-type: application/json"), "%s", r.headers);
    g_autofree char *b0 = expected_batch_info(0, 3), *b1 = expected_batch_info(1, 2),
                    *b2 = expected_batch_info(2, 0);
    g_autofree char *want = g_strdup_printf("[%s,%s,%s]", b2, b1, b0);
    cr_assert_str_eq(r.body, want);
    http_reply_clear(&r);
    http_reply one = http_get(port, "/api/v1/streaming/batches/2000");
    cr_assert_eq(one.status, 200);
    cr_assert_str_eq(one.body, b1);
    http_reply_clear(&one);
    http_reply done = http_get(port, "/api/v1/streaming/batches?status=COMPLETED");
    cr_assert_str_eq(done.body, want);
    http_reply_clear(&done);
    http_reply running = http_get(port, "/api/v1/streaming/batches?status=PROCESSING");
    cr_assert_str_eq(running.body, "[]", "nothing is running between batches");
    http_reply_clear(&running);
}

Test(ui_server, operations_endpoint_gives_each_output_operation_of_a_batch)
{
    g_autoptr(GPtrArray) recent = em_ssc_recent_progress(ssc, 3);
    const em_batch_progress *p = recent->pdata[0];
    http_reply r = http_get(port, "/api/v1/streaming/batches/1000/operations");
    cr_assert_eq(r.status, 200);
    GString *want = g_string_new("[");
    for (int i = 0; i < 2; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        GString *start = g_string_new(NULL), *end = g_string_new(NULL);
        em__json_date(start, op->start_time);
        em__json_date(end, op->end_time);
        g_string_append_printf(want,
                               "%s{\"outputOpId\":%d,\"name\":\"foreachRDD\","
                               "\"description\":\"%s\",\"startTime\":%s,\"endTime\":%s,"
                               "\"duration\":%" PRId64 ",\"jobIds\":[]}",
                               i ? "," : "", i, op->description, start->str, end->str,
                               op->duration);
        g_string_free(start, TRUE);
        g_string_free(end, TRUE);
    }
    g_string_append_c(want, ']');
    cr_assert_str_eq(r.body, want->str);
    cr_assert(strstr(r.body, "foreachRDD(ignore_rdd) of count [1]"));
    g_string_free(want, TRUE);
    http_reply_clear(&r);
}

Test(ui_server, statistics_sum_the_batches)
{
    http_reply r = http_get(port, "/api/v1/streaming/statistics");
    cr_assert_eq(r.status, 200);
    int64_t sched = 0, proc = 0, total = 0;
    for (int i = 0; i < 3; i++) {
        sched += seen.done[i].scheduling_delay;
        proc += seen.done[i].processing_delay;
        total += seen.done[i].total_delay;
    }
    /* 5 records over 3 batches of 1 s: 1.667 records/s; delays averaged as Spark's Longs. */
    g_autofree char *tail = g_strdup_printf(
        "\"batchDuration\":1000,\"numReceivers\":0,\"numActiveReceivers\":0,"
        "\"numInactiveReceivers\":0,\"numTotalCompletedBatches\":3,"
        "\"numRetainedCompletedBatches\":3,\"numActiveBatches\":0,\"numProcessedRecords\":5,"
        "\"numReceivedRecords\":5,\"avgInputRate\":1.667,\"avgSchedulingDelay\":%" PRId64
        ",\"avgProcessingTime\":%" PRId64 ",\"avgTotalDelay\":%" PRId64 "}",
        sched / 3, proc / 3, total / 3);
    cr_assert(g_str_has_prefix(r.body, "{\"startTime\":\""), "%s", r.body);
    cr_assert(g_str_has_suffix(r.body, tail), "%s\nwant the tail %s", r.body, tail);
    http_reply_clear(&r);
    http_reply rec = http_get(port, "/api/v1/streaming/receivers");
    cr_assert_eq(rec.status, 200);
    cr_assert_str_eq(rec.body, "[]", "a counted input is no receiver");
    http_reply_clear(&rec);
}

Test(ui_server, metrics_endpoint_serves_the_prometheus_text)
{
    http_reply r = http_get(port, "/metrics");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "content-type: text/plain; version=0.0.4"), "%s", r.headers);
    g_autofree char *want = em_ssc_metrics_text(ssc);
    cr_assert_str_eq(r.body, want);
    cr_assert(strstr(r.body, "ember_streaming_input_records_total{app=\"PageTest\","
                             "input=\"Counted stream [0]\"} 5\n"));
    http_reply_clear(&r);
}

Test(ui_server, pages_show_the_batch_tables_and_a_batch_with_its_operations)
{
    http_reply r = http_get(port, "/streaming");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<table id=\"completed-batches\">"));
    for (int i = 1; i <= 3; i++) {
        g_autofree char *row = g_strdup_printf("data-batch-time=\"%d000\"", i);
        cr_assert(strstr(r.body, row), "row for batch %d", i);
    }
    cr_assert(strstr(r.body, "<svg id=\"timeline-input-rate\""));
    http_reply_clear(&r);
    http_reply batch = http_get(port, "/streaming/batch?id=1000");
    cr_assert_eq(batch.status, 200);
    cr_assert(strstr(batch.body, "<li>Input data size: 3 records</li>"));
    cr_assert(strstr(batch.body, "foreachRDD(ignore_rdd) of countedStream [0]"));
    cr_assert(strstr(batch.body, "<pre class=\"lineage\">"));
    http_reply_clear(&batch);
    http_reply graph = http_get(port, "/streaming/graph");
    cr_assert_eq(graph.status, 200);
    cr_assert(strstr(graph.body, "<svg id=\"dstream-graph\""));
    cr_assert(strstr(graph.body,
                     "(slide 1000 ms) count [1]\n +-(slide 1000 ms) countedStream [0]"),
              "%s", graph.body);
    http_reply_clear(&graph);
}

static void expect_status(const char *method, const char *path, int status, const char *body)
{
    http_reply r = http_request(port, method, path);
    cr_assert_eq(r.status, status, "%s %s: %d %s", method, path, r.status, r.body);
    if (body)
        cr_assert_str_eq(r.body, body, "%s %s", method, path);
    http_reply_clear(&r);
}

Test(ui_server, bad_requests_get_4xx_and_the_server_keeps_serving)
{
    expect_status("GET", "/api/v1/streaming/batches/5000", 404,
                  "no batch at 5000 ms among the 3 kept\n");
    expect_status("GET", "/api/v1/streaming/batches/abc", 400,
                  "expected /api/v1/streaming/batches/<batch time in ms>[/operations]\n");
    expect_status("GET", "/api/v1/streaming/batches/-1000", 400, NULL);
    expect_status("GET", "/api/v1/streaming/batches/1000/jobs", 400, NULL);
    expect_status("GET", "/api/v1/streaming/batches/99999999999999999999", 400, NULL);
    expect_status("GET", "/api/v1/streaming/batches?status=LOST", 400,
                  "status must be COMPLETED or PROCESSING, not \"LOST\"\n");
    expect_status("GET", "/api/v1/streaming/nothing", 404, NULL);
    expect_status("GET", "/streaming/batch?id=zz", 400,
                  "expected /streaming/batch?id=<batch time in ms>\n");
    expect_status("GET", "/streaming/batch", 400, NULL);
    expect_status("GET", "/streaming/batch?id=4000", 404, NULL);
    expect_status("GET", "/no/such/page", 404, NULL);
    expect_status("POST", "/api/v1/streaming/statistics", 405,
                  "POST is not allowed: this page only serves GET and HEAD\n");
    expect_status("DELETE", "/metrics", 405, NULL);
    http_reply put = http_request(port, "PUT", "/streaming");
    cr_assert(strstr(put.headers, "allow: get, head"), "%s", put.headers);
    http_reply_clear(&put);
    /* Not HTTP at all, and a path that is not a path. */
    http_reply garbage = http_raw(port, "GARBAGE\r\n\r\n");
    cr_assert_eq(garbage.status, 400, "%d", garbage.status);
    http_reply_clear(&garbage);
    http_reply encoded =
        http_raw(port, "GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_geq(encoded.status, 400);
    cr_assert_lt(encoded.status, 500);
    http_reply_clear(&encoded);
    /* HEAD: the headers alone. */
    http_reply head = http_request(port, "HEAD", "/metrics");
    cr_assert_eq(head.status, 200);
    cr_assert_str_eq(head.body, "");
    http_reply_clear(&head);
    expect_status("GET", "/api/v1/streaming/batches/3000", 200, NULL);
}

Test(ui_server, a_second_page_or_a_bad_address_is_refused)
{
    GError *err = NULL;
    cr_assert(!em_ssc_ui_start(ssc, "127.0.0.1:0", &err));
    g_autofree char *want =
        g_strdup_printf("em_ssc_ui_start: the page is on already (port %d)", port);
    cr_assert_str_eq(err->message, want);
    g_clear_error(&err);
}

Test(ui_page, an_address_in_use_or_malformed_is_an_error_naming_it)
{
    GError *err = NULL;
    em_ssc *first = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                   .batch_interval = 1000,
                                                   .ui_address = "127.0.0.1:0"},
                                    &err);
    cr_assert_not_null(first);
    g_autofree char *taken = g_strdup_printf("127.0.0.1:%d", em_ssc_ui_port(first));
    em_ssc *second = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                    .batch_interval = 1000,
                                                    .ui_address = taken},
                                     &err);
    cr_assert_null(second);
    cr_assert_eq(err->code, EM_ERROR_IO);
    g_autofree char *prefix = g_strdup_printf("the page cannot listen on %s: ", taken);
    cr_assert(g_str_has_prefix(err->message, prefix), "%s", err->message);
    g_clear_error(&err);
    em_ssc_free(first);
    const char *bad[] = {"127.0.0.1:http", "nohost.example:80", "127.0.0.1:70000", ""};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        em_ssc *s = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                   .batch_interval = 1000,
                                                   .ui_address = bad[i]},
                                    &err);
        cr_assert_null(s, "%s", bad[i]);
        cr_assert_eq(err->code, EM_ERROR_INVALID, "%s", bad[i]);
        g_clear_error(&err);
    }
}

Test(ui_page, ember_ui_in_the_environment_turns_the_page_on)
{
    g_setenv("EMBER_UI", "127.0.0.1:0", TRUE);
    em_ssc *s = em_ssc_new("local[1]", "Env", 1000);
    int on = em_ssc_ui_port(s);
    cr_assert_gt(on, 0);
    http_reply r = http_get(on, "/api/v1/streaming/batches");
    cr_assert_str_eq(r.body, "[]");
    http_reply_clear(&r);
    em_ssc_free(s);
}

Test(ui_page, a_bad_ember_ui_warns_and_the_program_runs_without_the_page)
{
    capture_log();
    g_setenv("EMBER_UI", "localhost:port", TRUE);
    em_ssc *s = em_ssc_new("local[1]", "Env", 1000);
    cr_assert_not_null(s);
    cr_assert_eq(em_ssc_ui_port(s), 0);
    g_autofree char *log = take_log();
    cr_assert_str_eq(log, "WARN EMBER_UI=localhost:port: the page's address \"localhost:port\" "
                          "is not HOST:PORT (an IP address or localhost, and a port 0-65535); "
                          "running without the page\n");
    em_ssc_free(s);
}

/* An output operation that holds batch 1 s until the test lets it go. */
typedef struct {
    GMutex lock;
    GCond cond;
    bool entered, release;
} gate;

static bool hold_first_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)err;
    gate *g = ud;
    if (t != 1000)
        return true;
    g_mutex_lock(&g->lock);
    g->entered = true;
    g_cond_broadcast(&g->cond);
    while (!g->release)
        g_cond_wait(&g->cond, &g->lock);
    g_mutex_unlock(&g->lock);
    return true;
}

Test(ui_page, a_batch_being_processed_is_listed_as_active_with_its_running_operation)
{
    static gate g;
    ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                         .batch_interval = 1000,
                                         .manual_clock = true,
                                         .ui_address = "127.0.0.1:0"},
                          NULL);
    port = em_ssc_ui_port(ssc);
    em_dstream *input = counted_input(ssc, texts, 3);
    em_foreach_rdd_full(input, hold_first_batch, &g, NULL, "hold_first_batch");
    cr_assert(em_ssc_start(ssc, NULL));
    em_ssc_advance_clock(ssc, 1000);
    g_mutex_lock(&g.lock);
    while (!g.entered)
        g_cond_wait(&g.cond, &g.lock);
    g_mutex_unlock(&g.lock);

    http_reply r = http_get(port, "/api/v1/streaming/batches?status=PROCESSING");
    cr_assert(g_str_has_prefix(r.body,
                               "[{\"batchId\":1000,\"batchTime\":\"1970-01-01T00:00:01"
                               ".000GMT\",\"status\":\"PROCESSING\",\"batchDuration\":1000,"
                               "\"inputSize\":3,\"schedulingDelay\":"),
              "%s", r.body);
    cr_assert(g_str_has_suffix(r.body, ",\"numActiveOutputOps\":1,\"numCompletedOutputOps\":0,"
                                       "\"numFailedOutputOps\":0,\"numTotalOutputOps\":1}]"),
              "%s", r.body);
    cr_assert(!strstr(r.body, "processingTime"), "no processing time before it ends");
    http_reply_clear(&r);
    http_reply page = http_get(port, "/streaming");
    const char *active = strstr(page.body, "<table id=\"active-batches\">");
    cr_assert_not_null(active);
    const char *row = strstr(active, "data-batch-time=\"1000\"");
    cr_assert_not_null(row);
    cr_assert(row < strstr(active, "<table id=\"completed-batches\">"),
              "batch 1 s is in the active table");
    http_reply_clear(&page);
    http_reply done = http_get(port, "/api/v1/streaming/batches?status=COMPLETED");
    cr_assert_str_eq(done.body, "[]");
    http_reply_clear(&done);

    g_mutex_lock(&g.lock);
    g.release = true;
    g_cond_broadcast(&g.cond);
    g_mutex_unlock(&g.lock);
    cr_assert(em_ssc_wait_for_batch(ssc, 1000, 10000));
    http_reply after = http_get(port, "/api/v1/streaming/batches/1000");
    cr_assert(strstr(after.body, "\"status\":\"COMPLETED\""), "%s", after.body);
    http_reply_clear(&after);
    em_ssc_free(ssc);
}

/* A receiver that reports an error, stores three records and returns (its work done). */
static void store_three(em_receiver *r, void *ud)
{
    gate *g = ud;
    em_receiver_report_error(r, "disk on \"fire\"");
    for (int i = 0; i < 3; i++)
        em_receiver_store(r, em_int(i));
    g_mutex_lock(&g->lock);
    g->entered = true;
    g_cond_broadcast(&g->cond);
    g_mutex_unlock(&g->lock);
}

Test(ui_page, receivers_endpoint_gives_state_last_error_and_event_rates)
{
    static gate g;
    ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                         .batch_interval = 1000,
                                         .manual_clock = true,
                                         .ui_address = "127.0.0.1:0"},
                          NULL);
    port = em_ssc_ui_port(ssc);
    /* A stream before the receiver's: its stream id is 2, its input id (Spark's) 1. */
    em_dstream *counted = counted_input(ssc, texts, 3);
    em_foreach_rdd(em_count(counted), ignore_rdd);
    em_dstream *received =
        em_receiver_stream(ssc,
                           &(em_receiver_funcs){.name = "TestReceiver", .on_start = store_three},
                           &g, NULL);
    em_foreach_rdd(received, ignore_rdd);
    cr_assert(em_ssc_start(ssc, NULL));
    g_mutex_lock(&g.lock);
    while (!g.entered)
        g_cond_wait(&g.cond, &g.lock);
    g_mutex_unlock(&g.lock);
    run_batch(ssc, 1000);

    g_autoptr(em_batch_progress) p = em_ssc_last_progress(ssc);
    cr_assert_eq(p->n_inputs, 2);
    cr_assert_str_eq(p->inputs[1].name, "Receiver stream [1]");
    cr_assert_eq(p->inputs[1].stream_id, 1);
    cr_assert_eq(p->inputs[1].records, 3);
    http_reply r = http_get(port, "/api/v1/streaming/receivers");
    cr_assert_eq(r.status, 200);
    const char *time = strstr(r.body, "\"lastErrorTime\":\"");
    cr_assert_not_null(time, "%s", r.body);
    g_autofree char *before = g_strndup(r.body, (gsize)(time - r.body));
    cr_assert_str_eq(before, "[{\"streamId\":1,\"streamName\":\"TestReceiver\",\"isActive\":true,"
                             "\"executorId\":\"driver\",\"executorHost\":\"localhost\",");
    const char *after = strchr(time + strlen("\"lastErrorTime\":\""), '"');
    /* 3 records in a 1 s batch: 3 records/s. */
    cr_assert_str_eq(after, "\",\"lastError\":\"disk on \\\"fire\\\"\",\"lastErrorMessage\":"
                            "\"disk on \\\"fire\\\"\",\"eventRates\":[[1000,3.000]],"
                            "\"avgEventRate\":3.000}]");
    http_reply_clear(&r);
    http_reply page = http_get(port, "/streaming");
    cr_assert(strstr(page.body, "<td class=\"l\">TestReceiver [1]</td><td class=\"l\">ACTIVE"
                                "</td><td class=\"l\">disk on &quot;fire&quot;</td>"),
              "%s", page.body);
    http_reply_clear(&page);
    http_reply stats = http_get(port, "/api/v1/streaming/statistics");
    cr_assert(strstr(stats.body, "\"numReceivers\":1,\"numActiveReceivers\":1,"
                                 "\"numInactiveReceivers\":0,"),
              "%s", stats.body);
    http_reply_clear(&stats);
    em_ssc_free(ssc);
}
