/* The Kafka direct stream against ember-kafka-broker (librdkafka's mock cluster, a process of
 * its own on 127.0.0.1): strategies, starting offsets, offset ranges, records and their
 * coordinates, commits, rate limits, out-of-range policies and faults. Batches run on the
 * manual clock; before each, the test waits until the stream has fetched what it produced. */
#include "kafka-fixture.h"

#include <glib/gstdio.h>

#define TOPIC2 "words:2"

static em_dstream *stream(em_ssc *ssc, const em_kafka_opts *opts)
{
    GError *err = NULL;
    em_dstream *ds = em_kafka_direct_stream_full(ssc, opts, &err);
    cr_assert_not_null(ds, "%s", err ? err->message : "");
    return ds;
}

Test(kafka_direct, subscribe_gives_one_partition_per_kafka_partition_with_fixed_ranges)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "a", 0, 3);
    produce_range(b.bootstrap, "words", 1, "b", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g1",
                                                  .topics = "words",
                                                  .start = EM_KAFKA_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 5, EM_SECONDS(1));
    produce_range(b.bootstrap, "words", 0, "a", 3, 5);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(2));
    kafka_run_batch(ssc, ds, 0, EM_SECONDS(3));
    em_ssc_free(ssc);

    cr_assert_str_eq(l.text[0], "[(k0,a0), (k0,b0), (k1,a1), (k1,b1), (k2,a2)]");
    cr_assert_eq(l.parts[0], 2);
    cr_assert_str_eq(l.ranges[0], "words[0]:0-3/3 words[1]:0-2/2");
    /* Batch 2 starts where batch 1 ended; partition 1 had nothing: an empty range. */
    cr_assert_str_eq(l.text[1], "[(k3,a3), (k4,a4)]");
    cr_assert_str_eq(l.ranges[1], "words[0]:3-5/2 words[1]:2-2/0");
    cr_assert_str_eq(l.text[2], "[]");
    cr_assert_str_eq(l.ranges[2], "words[0]:5-5/0 words[1]:2-2/0");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, null_keys_and_values_are_none)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    rd_kafka_t *rk = raw_producer(b.bootstrap, NULL);
    produce(rk, "t", 0, NULL, "v");
    produce(rk, "t", 0, "k", NULL);
    produce(rk, "t", 0, NULL, NULL);
    produce_flush(rk);
    rd_kafka_destroy(rk);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k,None), (None,v), (None,None)]");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* The coordinates of each record, as user code sees them inside map. */
static em_value with_coordinates(em_value kv, void *ud)
{
    (void)ud;
    em_kafka_record r;
    cr_assert(em_kafka_record_current(&r));
    cr_assert_gt(r.timestamp, 0);
    return em_str_printf("%s/%d/%" G_GINT64_FORMAT "=%.*s", r.topic, r.partition, r.offset,
                         (int)em_str_len(em_val(kv)), em_str_ptr(em_val(kv)));
}

Test(kafka_direct, records_carry_topic_partition_offset_and_timestamp)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 1, "x", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "words",
                                                  .start = EM_KAFKA_EARLIEST});
    em_dstream *mapped = em_map(ds, with_coordinates);
    kafka_log l = {0};
    kafka_log_attach(&l, mapped);
    /* The log reads ranges off the mapped RDD: that is refused, as Spark's cast would be. */
    ssc_start(ssc);
    capture_warnings();
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[words/1/0=x0, words/1/1=x1]");
    cr_assert(strstr(kafka_warnings->str, "not a Kafka direct stream's batch (MapPartitionsRDD)"),
              "%s", kafka_warnings->str);
    cr_assert_not(em_kafka_record_current(&(em_kafka_record){0}));
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, latest_start_skips_what_was_there_and_given_offsets_win)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "old", 0, 4);
    produce_range(b.bootstrap, "words", 1, "old", 0, 4);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "words",
                                                  .offsets = (em_kafka_tp[]){{"words", 1, 2}},
                                                  .n_offsets = 1});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    wait_assigned(ds, 2);
    produce_range(b.bootstrap, "words", 0, "new", 4, 5);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    em_ssc_free(ssc);
    /* Partition 0 starts at its end (latest), partition 1 at the given offset 2. */
    cr_assert_str_eq(l.text[0], "[(k2,old2), (k3,old3), (k4,new4)]");
    cr_assert_str_eq(l.ranges[0], "words[0]:4-5/1 words[1]:2-4/2");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, assign_reads_only_the_given_partitions_from_their_offsets)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "a", 0, 3);
    produce_range(b.bootstrap, "words", 1, "b", 0, 3);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .assign = (em_kafka_tp[]){{"words", 1, 1}},
                                                  .n_assign = 1});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k1,b1), (k2,b2)]");
    cr_assert_str_eq(l.ranges[0], "words[1]:1-3/2");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, pattern_subscribes_to_every_matching_topic)
{
    mock_broker b = mock_broker_start((const char *[]){"logs-a:1", "logs-b:1", "other:1", NULL});
    produce_range(b.bootstrap, "logs-a", 0, "a", 0, 1);
    produce_range(b.bootstrap, "logs-b", 0, "b", 0, 1);
    produce_range(b.bootstrap, "other", 0, "o", 0, 1);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .pattern = "logs-.*",
                                                  .start = EM_KAFKA_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k0,a0), (k0,b0)]");
    cr_assert_str_eq(l.ranges[0], "logs-a[0]:0-1/1 logs-b[0]:0-1/1");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* ---- Commits ---- */

typedef struct {
    GMutex lock;
    GCond cond;
    int commits;
    char text[512];
} commit_log;

static void on_commit(const em_kafka_commit_info *info, void *ud)
{
    commit_log *c = ud;
    g_mutex_lock(&c->lock);
    size_t len = strlen(c->text);
    for (size_t i = 0; i < info->n_ranges; i++)
        len += (size_t)snprintf(c->text + len, sizeof c->text - len,
                                "%" G_GINT64_FORMAT ":%s[%d]=%" G_GINT64_FORMAT "%s ",
                                info->batch_time, info->ranges[i].topic, info->ranges[i].partition,
                                info->ranges[i].until, info->error ? "!" : "");
    c->commits++;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

static void on_input_committed(const em_input_commit_info *info, void *ud)
{
    commit_log *c = ud;
    g_mutex_lock(&c->lock);
    size_t len = strlen(c->text);
    for (size_t i = 0; i < info->n_ranges; i++)
        len += (size_t)snprintf(c->text + len, sizeof c->text - len,
                                "%" G_GINT64_FORMAT ":%s[%d]=%" G_GINT64_FORMAT "%s ",
                                info->batch_time, info->ranges[i].topic, info->ranges[i].partition,
                                info->ranges[i].until, info->error ? "!" : "");
    c->commits++;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

static void wait_commits(commit_log *c, int n)
{
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    g_mutex_lock(&c->lock);
    while (c->commits < n && g_cond_wait_until(&c->cond, &c->lock, deadline))
        ;
    int got = c->commits;
    g_mutex_unlock(&c->lock);
    cr_assert_eq(got, n, "%d commits, expected %d", got, n);
}

static bool fail_second_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud;
    if (t == EM_SECONDS(2)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "output failed on purpose");
        return false;
    }
    return true;
}

/* Issue 9: "commit results reach the listeners": every listener hears each commit, with its
 * batch and ranges, as on_commit does. */
Test(kafka_direct, commit_results_reach_the_listeners)
{
    mock_broker b = mock_broker_start((const char *[]){"t:2", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 3);
    produce_range(b.bootstrap, "t", 1, "w", 0, 1);
    commit_log by_callback = {0}, by_listener = {0};
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                     .group_id = "g",
                                     .assign = (em_kafka_tp[]){{"t", 0, 0}, {"t", 1, 0}},
                                     .n_assign = 2,
                                     .on_commit = on_commit,
                                     .ud = &by_callback});
    em_ssc_add_listener(ssc, &(em_listener){.input_committed = on_input_committed}, &by_listener);
    em_foreach_rdd(ds, fail_second_batch);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 4, EM_SECONDS(1));
    wait_commits(&by_listener, 1);
    produce_range(b.bootstrap, "t", 1, "w", 1, 3);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(2)); /* fails: no commit */
    em_ssc_free(ssc);
    wait_commits(&by_callback, 1);
    cr_assert_str_eq(by_listener.text, "1000:t[0]=3 1000:t[1]=1 ");
    cr_assert_str_eq(by_listener.text, by_callback.text);
    mock_broker_stop(&b);
}

Test(kafka_direct, commits_after_outputs_succeed_and_never_past_a_failed_batch)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 3);
    commit_log c = {0};
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST,
                                                  .on_commit = on_commit,
                                                  .ud = &c});
    em_foreach_rdd(ds, fail_second_batch);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    wait_commits(&c, 1);
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), 3);
    produce_range(b.bootstrap, "t", 0, "v", 3, 5);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(2)); /* fails: offsets 3..5 stay uncommitted */
    produce_range(b.bootstrap, "t", 0, "v", 5, 6);
    kafka_run_batch(ssc, ds, 1, EM_SECONDS(3)); /* succeeds, but after a failed batch */
    em_ssc_free(ssc);
    cr_assert_str_eq(c.text, "1000:t[0]=3 ");
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), 3);

    /* A restart reads from the group's last commit: the failed batch's data again. (It assigns
     * the partition: the mock cluster keeps a member that left in its group's rebalances.) */
    ssc = manual_ssc();
    ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                      .group_id = "g",
                                      .assign = (em_kafka_tp[]){{"t", 0, -1}},
                                      .n_assign = 1,
                                      .commit = EM_KAFKA_COMMIT_NONE});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k3,v3), (k4,v4), (k5,v5)]");
    cr_assert_str_eq(l.ranges[0], "t[0]:3-6/3");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

static bool commit_manually(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)err;
    size_t n = 0;
    const em_kafka_offset_range *r = em_kafka_offset_ranges(rdd, &n);
    if (t == EM_SECONDS(2))
        cr_assert(em_kafka_commit_async(ud, r, n));
    return true;
}

Test(kafka_direct, manual_commits_only_what_the_program_commits)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 2);
    commit_log c = {0};
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST,
                                                  .commit = EM_KAFKA_COMMIT_MANUAL,
                                                  .on_commit = on_commit,
                                                  .ud = &c});
    em_foreach_rdd_full(ds, commit_manually, ds, NULL, "commit_manually");
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), RD_KAFKA_OFFSET_INVALID);
    produce_range(b.bootstrap, "t", 0, "v", 2, 3);
    kafka_run_batch(ssc, ds, 1, EM_SECONDS(2));
    wait_commits(&c, 1);
    em_ssc_free(ssc);
    cr_assert_str_eq(c.text, "-1:t[0]=3 ");
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), 3);
    mock_broker_stop(&b);
}

Test(kafka_direct, commit_none_leaves_the_group_offsets_alone)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST,
                                                  .commit = EM_KAFKA_COMMIT_NONE});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k0,v0), (k1,v1)]");
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), RD_KAFKA_OFFSET_INVALID);
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, graceful_stop_processes_what_was_fetched_and_waits_for_its_commit)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 4);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    cr_assert(em__kafka_stream_wait_buffered(ds, 4, KAFKA_TIMEOUT_MS));
    em_ssc_stop(ssc, EM_STOP_GRACEFUL); /* no clock advance: the stop drains the buffer */
    /* The commit is on record as soon as the stop returns. */
    cr_assert_eq(committed_offset(b.bootstrap, "g", "t", 0), 4);
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k0,v0), (k1,v1), (k2,v2), (k3,v3)]");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* ---- Rate and memory ---- */

Test(kafka_direct, max_rate_per_partition_caps_each_batch)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "a", 0, 5);
    produce_range(b.bootstrap, "words", 1, "b", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "words",
                                                  .start = EM_KAFKA_EARLIEST,
                                                  .max_rate_per_partition = 2});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 7, EM_SECONDS(1));
    kafka_run_batch(ssc, ds, 0, EM_SECONDS(2));
    kafka_run_batch(ssc, ds, 0, EM_SECONDS(3));
    em_ssc_free(ssc);
    /* 2 messages/s per partition, 1 s batches: 2 + 2, then 2 + 0, then 1 + 0. */
    cr_assert_str_eq(l.ranges[0], "words[0]:0-2/2 words[1]:0-2/2");
    cr_assert_str_eq(l.ranges[1], "words[0]:2-4/2 words[1]:2-2/0");
    cr_assert_str_eq(l.ranges[2], "words[0]:4-5/1 words[1]:2-2/0");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, a_full_buffer_pauses_fetching_and_loses_nothing)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 50);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                     .group_id = "g",
                                     .topics = "t",
                                     .start = EM_KAFKA_EARLIEST,
                                     .max_buffered_per_partition = 10,
                                     .params = (const char *[]){"fetch.max.bytes", "1000",
                                                                "message.max.bytes", "1000",
                                                                "max.partition.fetch.bytes", "200",
                                                                NULL}});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    int64_t read = 0;
    em_kafka_stream_stats s;
    for (int i = 1; read < 50; i++) {
        cr_assert_lt(i, MAX_BATCHES);
        kafka_run_batch(ssc, ds, MIN(10, 50 - read), EM_SECONDS(i));
        cr_assert(em_kafka_stream_stats_get(ds, &s));
        cr_assert_leq(s.buffered, 20, "buffered %" G_GINT64_FORMAT, s.buffered);
        int64_t from, until, count;
        char *r = l.ranges[i - 1];
        cr_assert_eq(sscanf(r, "t[0]:%" SCNd64 "-%" SCNd64 "/%" SCNd64, &from, &until, &count), 3,
                     "%s", r);
        cr_assert_eq(from, read, "%s", r);
        cr_assert_eq(count, until - from);
        read = until;
    }
    em_ssc_free(ssc);
    cr_assert_geq(s.pauses, 1, "fetching never paused");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* ---- Out of range ---- */

Test(kafka_direct, an_offset_out_of_range_fails_the_batch_by_default)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 3);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .assign = (em_kafka_tp[]){{"t", 0, 100}},
                                                  .n_assign = 1});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    capture_warnings();
    ssc_start(ssc);
    cr_assert(wait_warning("topic t [0]: offset 100 is out of range"), "%s", kafka_warnings->str);
    int failed = 0;
    for (int i = 1; i <= 20 && !failed; i++) {
        kafka_run_batch(ssc, ds, 0, EM_SECONDS(i));
        failed = l.failed[i - 1] ? i : 0;
    }
    em_ssc_free(ssc);
    cr_assert(failed, "no batch failed");
    cr_assert(strstr(l.failure[failed - 1], "topic t [0]: offset 100 is out of range (the log "
                                            "holds [0, 3)); set out_of_range"),
              "%s", l.failure[failed - 1]);
    /* Only the batch that met the error fails; the partition stays where it was. */
    cr_assert_eq(l.failed[failed], false);
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, out_of_range_earliest_goes_on_from_the_log_start)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 3);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .assign = (em_kafka_tp[]){{"t", 0, 100}},
                                                  .n_assign = 1,
                                                  .out_of_range = EM_KAFKA_OOR_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    capture_warnings();
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert(wait_warning("topic t [0]: offset 100 is out of range (the log holds [0, 3)): "
                           "going on from 0, 0 messages skipped"),
              "%s", kafka_warnings->str);
    cr_assert_str_eq(l.text[0], "[(k0,v0), (k1,v1), (k2,v2)]");
    cr_assert_str_eq(l.ranges[0], "t[0]:0-3/3");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* ---- Faults ---- */

Test(kafka_direct, a_wrong_bootstrap_address_is_reported_naming_it)
{
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = "127.0.0.1:1", .group_id = "g", .topics = "t"});
    em_foreach_rdd(ds, fail_second_batch);
    capture_warnings();
    ssc_start(ssc);
    cr_assert(wait_warning("127.0.0.1:1"), "%s", kafka_warnings->str);
    cr_assert(wait_warning("Connection refused"), "%s", kafka_warnings->str);
    em_ssc_free(ssc);
}

/* librdkafka's own log lines (its "FAIL" for the refused connection) reach GLib's log with
 * the facility named, and none reaches stderr in librdkafka's "%3|<time>|FAIL|..." form. */
Test(kafka_direct, librdkafkas_log_lines_go_to_the_glib_log_not_stderr)
{
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), "ember-kafka-stderr-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    cr_assert_geq(fd, 0);
    int saved = dup(2);
    cr_assert_eq(dup2(fd, 2), 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = "127.0.0.1:1", .group_id = "g", .topics = "t"});
    em_foreach_rdd(ds, fail_second_batch);
    capture_warnings();
    ssc_start(ssc);
    bool logged = wait_warning("librdkafka ember#consumer-");
    bool fail_line = wait_warning(": FAIL: [thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: "
                                  "Connect to ipv4#127.0.0.1:1 failed: Connection refused");
    em_ssc_free(ssc);
    dup2(saved, 2);
    close(saved);
    g_autofree char *err_text = NULL;
    cr_assert(g_file_get_contents(path, &err_text, NULL, NULL));
    close(fd);
    g_unlink(path);
    cr_assert(logged, "%s", kafka_warnings->str);
    cr_assert(fail_line, "%s", kafka_warnings->str);
    cr_assert_null(strstr(err_text, "|FAIL|"), "librdkafka wrote to stderr: %s", err_text);
}

Test(kafka_direct, refuses_options_it_owns_and_contradictory_strategies)
{
    em_ssc *ssc = manual_ssc();
    GError *err = NULL;
    cr_assert_null(
        em_kafka_direct_stream_full(ssc,
                                    &(em_kafka_opts){.brokers = "127.0.0.1:9",
                                                     .group_id = "g",
                                                     .topics = "t",
                                                     .params =
                                                         (const char *[]){"enable.auto.commit",
                                                                          "true", NULL}},
                                    &err));
    cr_assert(strstr(err->message, "enable.auto.commit"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_null(em_kafka_direct_stream_full(ssc,
                                               &(em_kafka_opts){.brokers = "127.0.0.1:9",
                                                                .group_id = "g",
                                                                .topics = "t",
                                                                .pattern = "t.*"},
                                               &err));
    cr_assert(strstr(err->message, "exactly one of topics"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_null(
        em_kafka_direct_stream_full(ssc,
                                    &(em_kafka_opts){.brokers = "127.0.0.1:9",
                                                     .group_id = "g",
                                                     .topics = "t",
                                                     .params = (const char *[]){"no.such.property",
                                                                                "1", NULL}},
                                    &err));
    cr_assert(strstr(err->message, "no.such.property"), "%s", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
}

Test(kafka_direct, a_broker_that_goes_away_and_returns_loses_nothing)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    produce_range(b.bootstrap, "t", 0, "v", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "t",
                                                  .start = EM_KAFKA_EARLIEST});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    capture_warnings();
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    mock_broker_command(&b, "down 1");
    cr_assert(wait_warning("127.0.0.1:"), "%s", kafka_warnings->str);
    kafka_run_batch(ssc, ds, 0, EM_SECONDS(2));
    mock_broker_command(&b, "up 1");
    produce_range(b.bootstrap, "t", 0, "v", 2, 4);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(3));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(k0,v0), (k1,v1)]");
    cr_assert_str_eq(l.text[1], "[]");
    cr_assert_str_eq(l.text[2], "[(k2,v2), (k3,v3)]");
    cr_assert_str_eq(l.ranges[2], "t[0]:2-4/2");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, backpressure_starts_at_the_initial_rate_shared_by_lag)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "a", 0, 10);
    produce_range(b.bootstrap, "words", 1, "b", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                  .group_id = "g",
                                                  .topics = "words",
                                                  .start = EM_KAFKA_EARLIEST,
                                                  .backpressure = true,
                                                  .initial_rate = 3});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 12, EM_SECONDS(1));
    em_ssc_free(ssc);
    /* 3 messages for the batch, by lag: round(10/12 * 3) = 3 and round(2/12 * 3) = 1 (at least
     * one per partition, Spark's minRatePerPartition). */
    cr_assert_str_eq(l.ranges[0], "words[0]:0-3/3 words[1]:0-1/1");
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

Test(kafka_direct, a_message_larger_than_fetch_max_bytes_is_still_read_whole)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    char *big = g_malloc(20001);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    rd_kafka_t *rk = raw_producer(b.bootstrap, NULL);
    produce(rk, "t", 0, "small", "s");
    produce(rk, "t", 0, "big", big);
    produce_flush(rk);
    rd_kafka_destroy(rk);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                     .group_id = "g",
                                     .topics = "t",
                                     .start = EM_KAFKA_EARLIEST,
                                     .params = (const char *[]){"fetch.max.bytes", "1000",
                                                                "message.max.bytes", "1000",
                                                                "max.partition.fetch.bytes",
                                                                "1000", NULL}});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    em_ssc_free(ssc);
    /* The broker returns the first message of a partition whatever its size (KIP-74). */
    g_autofree char *want = g_strdup_printf("[(big,%s), (small,s)]", big);
    cr_assert_str_eq(l.text[0], want);
    cr_assert_str_eq(l.ranges[0], "t[0]:0-2/2");
    g_free(big);
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}

/* Issue 11: a batch's progress record and its JSON carry the stream's offset ranges. */
Test(kafka_direct, progress_records_carry_each_batchs_offset_ranges)
{
    mock_broker b = mock_broker_start((const char *[]){TOPIC2, NULL});
    produce_range(b.bootstrap, "words", 0, "a", 0, 3);
    produce_range(b.bootstrap, "words", 1, "b", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                     .group_id = "g1",
                                     .assign = (em_kafka_tp[]){{"words", 0, 0}, {"words", 1, 0}},
                                     .n_assign = 2});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 5, EM_SECONDS(1));
    produce_range(b.bootstrap, "words", 1, "b", 2, 4);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(2));
    GPtrArray *recent = em_ssc_recent_progress(ssc, 2);
    em_ssc_free(ssc);

    cr_assert_eq(recent->len, 2);
    const em_batch_progress *p1 = recent->pdata[0], *p2 = recent->pdata[1];
    cr_assert_eq(p1->n_inputs, 1);
    cr_assert_eq(p1->inputs[0].records, 5);
    cr_assert_eq(p1->inputs[0].n_offset_ranges, 2);
    const em_input_offset_range *r = p1->inputs[0].offset_ranges;
    cr_assert_str_eq(r[0].topic, "words");
    cr_assert_eq(r[0].partition, 0);
    cr_assert_eq(r[0].from, 0);
    cr_assert_eq(r[0].until, 3);
    cr_assert_str_eq(r[1].topic, "words");
    cr_assert_eq(r[1].partition, 1);
    cr_assert_eq(r[1].from, 0);
    cr_assert_eq(r[1].until, 2);
    g_autofree char *json = em_batch_progress_to_json(p2);
    cr_assert(strstr(json, "\"inputs\":[{\"streamId\":0,\"name\":\"Direct kafka stream [0]\","
                           "\"records\":2,\"offsetRanges\":[{\"topic\":\"words\",\"partition\":"
                           "0,\"fromOffset\":3,\"untilOffset\":3},{\"topic\":\"words\","
                           "\"partition\":1,\"fromOffset\":2,\"untilOffset\":4}]}]") != NULL,
              "%s", json);
    g_ptr_array_unref(recent);
    kafka_log_clear(&l);
    mock_broker_stop(&b);
}
