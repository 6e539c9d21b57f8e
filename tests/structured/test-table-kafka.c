/* The Kafka source and sink of tables against a real broker process (ember-kafka-broker on
 * 127.0.0.1): Spark's columns and offsets, starting offsets, a batch run again after a restart
 * reading exactly its records, and rows written to topics by their value, key and topic. */
#include "../kafka/kafka-real.h"
#include "file-fixture.h"
#include "table-private.h"

static em_df *kafka_source(em_ssc *ssc, const char *brokers, const char *topics, bool earliest)
{
    GError *err = NULL;
    return ok(em_df_read_kafka(ssc,
                               &(em_kafka_source_opts){.brokers = brokers,
                                                       .subscribe = topics,
                                                       .earliest = earliest},
                               &err),
              err);
}

/* The rows without their timestamps (the broker's clock), sorted. */
static char *rows_without_time(em_query *q)
{
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < rows->n; i++) {
        em_value r = rows->items[i];
        cr_assert_eq(r.len, 7);
        cr_assert(em_is_int(r.as.items[5]), "a record without a timestamp");
        em_value f[6] = {r.as.items[0], r.as.items[1], r.as.items[2],
                         r.as.items[3], r.as.items[4], r.as.items[6]};
        g_ptr_array_add(lines, em_value_to_string(em_row_in(NULL, f, 6)));
    }
    g_ptr_array_sort(lines, fixture_by_name);
    g_ptr_array_add(lines, NULL);
    char *text = g_strjoinv(" ", (char **)lines->pdata);
    g_ptr_array_unref(lines);
    return text;
}

static char *offsets_of(const char *json)
{
    g_autofree char *start = source_member(json, "startOffset");
    g_autofree char *end = source_member(json, "endOffset");
    g_autofree char *latest = source_member(json, "latestOffset");
    return g_strdup_printf("%s %s %s", start, end, latest);
}

Test(table_kafka, reads_each_partition_to_its_end_offset_with_spark_columns_and_offsets)
{
    const char *topics[] = {"in:2", NULL};
    mock_broker b = mock_broker_start(topics);
    produce_range(b.bootstrap, "in", 0, "v", 0, 3);
    produce_range(b.bootstrap, "in", 1, "w", 0, 2);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = kafka_source(ssc, b.bootstrap, "in", true);
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(df));
    cr_assert_str_eq(ddl, "key string, value string, topic string, partition bigint, "
                          "offset bigint, timestamp timestamp, timestampType bigint");
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    g_autofree char *first = rows_without_time(q);
    cr_assert_str_eq(first, "(k0,v0,in,0,0,0) (k0,w0,in,1,0,0) (k1,v1,in,0,1,0) "
                            "(k1,w1,in,1,1,0) (k2,v2,in,0,2,0)");
    produce_range(b.bootstrap, "in", 1, "w", 2, 4);
    run_batches(ssc, 2); /* the second brings nothing: no batch */
    g_autofree char *all = rows_without_time(q);
    cr_assert(strstr(all, "(k2,w2,in,1,2,0) (k3,w3,in,1,3,0)"), "%s", all);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 2);
    g_autofree char *desc = source_member(progress[0], "description");
    cr_assert_str_eq(desc, "\"KafkaV2[Subscribe[in]]\"");
    g_autofree char *o0 = offsets_of(progress[0]);
    g_autofree char *o1 = offsets_of(progress[1]);
    cr_assert_str_eq(o0, "null {\"in\":{\"0\":3,\"1\":2}} {\"in\":{\"0\":3,\"1\":2}}");
    cr_assert_str_eq(o1, "{\"in\":{\"0\":3,\"1\":2}} {\"in\":{\"0\":3,\"1\":4}} "
                         "{\"in\":{\"0\":3,\"1\":4}}");
    em_ssc_free(ssc);
    mock_broker_stop(&b);
}

Test(table_kafka, latest_starting_offsets_skip_the_records_already_there)
{
    const char *topics[] = {"in:1", NULL};
    mock_broker b = mock_broker_start(topics);
    produce_range(b.bootstrap, "in", 0, "old", 0, 2);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = kafka_source(ssc, b.bootstrap, "in", false);
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1); /* batch 0: from the end offsets to the end offsets, no rows */
    produce_range(b.bootstrap, "in", 0, "new", 2, 3);
    run_batches(ssc, 1);
    g_autofree char *rows = rows_without_time(q);
    cr_assert_str_eq(rows, "(k2,new2,in,0,2,0)");
    cr_assert_eq(em_query_batches(q), 2);
    em_ssc_free(ssc);
    mock_broker_stop(&b);
}

Test(table_kafka, a_batch_run_again_after_a_restart_reads_exactly_its_records)
{
    const char *topics[] = {"in:1", NULL};
    mock_broker b = mock_broker_start(topics);
    char *root = tmp_dir();
    g_autofree char *ck = g_build_filename(root, "ck", NULL);
    produce_range(b.bootstrap, "in", 0, "v", 0, 3);
    for (int run = 0; run < 2; run++) {
        em_ssc *ssc = table_ssc();
        g_autoptr(em_df) df = kafka_source(ssc, b.bootstrap, "in", true);
        g_autoptr(em_query) q =
            started(df, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = ck});
        run_batches(ssc, run == 0 ? 1 : 2);
        g_autofree char *rows = rows_without_time(q);
        g_auto(GStrv) progress = em_query_recent_progress(q);
        if (run == 0) {
            cr_assert_str_eq(rows, "(k0,v0,in,0,0,0) (k1,v1,in,0,1,0) (k2,v2,in,0,2,0)");
            /* As if killed before batch 0's commit; more records arrive meanwhile. */
            g_autofree char *commit = g_build_filename(ck, "commits", "0", NULL);
            cr_assert_eq(g_unlink(commit), 0);
            produce_range(b.bootstrap, "in", 0, "v", 3, 5);
        } else {
            /* Batch 0 again, to its logged end (3), then batch 1 with the rest. */
            cr_assert_str_eq(rows, "(k0,v0,in,0,0,0) (k1,v1,in,0,1,0) (k2,v2,in,0,2,0) "
                                   "(k3,v3,in,0,3,0) (k4,v4,in,0,4,0)");
            cr_assert_eq(g_strv_length(progress), 2);
            g_autofree char *o0 = offsets_of(progress[0]);
            cr_assert_str_eq(o0, "null {\"in\":{\"0\":3}} {\"in\":{\"0\":3}}");
            g_autofree char *o1 = offsets_of(progress[1]);
            cr_assert_str_eq(o1, "{\"in\":{\"0\":3}} {\"in\":{\"0\":5}} {\"in\":{\"0\":5}}");
        }
        em_ssc_free(ssc);
    }
    g_autofree char *initial = file_text(ck, "sources/0/0");
    cr_assert_str_eq(initial, "v1\n{\"in\":{\"0\":0}}");
    tmp_dir_free(root);
    mock_broker_stop(&b);
}

Test(table_kafka, the_sink_writes_rows_by_their_value_key_and_topic_columns)
{
    const char *topics[] = {"in:1", "out:1", "other:1", NULL};
    mock_broker b = mock_broker_start(topics);
    produce_range(b.bootstrap, "in", 0, "v", 0, 3);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = kafka_source(ssc, b.bootstrap, "in", true);
    GError *err = NULL;
    const char *kv[] = {"key", "value"};
    g_autoptr(em_df) pairs = ok(em_df_select(df, kv, 2, &err), err);
    const char *v[] = {"value"};
    g_autoptr(em_df) values = ok(em_df_select(df, v, 1, &err), err);
    const char *k[] = {"key"};
    g_autoptr(em_df) keys = ok(em_df_select(df, k, 1, &err), err);
    cr_assert_null(em_query_start(keys,
                                  &(em_query_opts){.sink = EM_SINK_KAFKA,
                                                   .kafka_brokers = b.bootstrap,
                                                   .kafka_topic = "out"},
                                  &err));
    cr_assert_str_eq(err->message, "Required attribute 'value' not found");
    g_clear_error(&err);
    cr_assert_null(
        em_query_start(values,
                       &(em_query_opts){.sink = EM_SINK_KAFKA, .kafka_brokers = b.bootstrap},
                       &err));
    cr_assert_str_eq(err->message, "topic option required when no 'topic' attribute is "
                                   "present. Use the topic option for setting a topic.");
    g_clear_error(&err);
    g_autoptr(em_query) q = started(pairs, &(em_query_opts){.sink = EM_SINK_KAFKA,
                                                            .kafka_brokers = b.bootstrap,
                                                            .kafka_topic = "out",
                                                            .defer_ssc_start = true});
    g_autoptr(em_query) q2 = started(values, &(em_query_opts){.sink = EM_SINK_KAFKA,
                                                              .kafka_brokers = b.bootstrap,
                                                              .kafka_topic = "other"});
    run_batches(ssc, 1);
    cr_assert_eq(em_query_batches(q), 1);
    cr_assert_eq(em_query_batches(q2), 1);
    g_autofree char *out = consume_sorted(b.bootstrap, "out", 1, 3, "read_uncommitted");
    cr_assert_str_eq(out, "k0=v0 k1=v1 k2=v2");
    g_autofree char *other = consume_sorted(b.bootstrap, "other", 1, 3, "read_uncommitted");
    cr_assert_str_eq(other, "-=v0 -=v1 -=v2");
    em_ssc_free(ssc);
    g_clear_pointer(&q, em_query_unref); /* their producers, before the broker goes */
    g_clear_pointer(&q2, em_query_unref);
    mock_broker_stop(&b);
}

/* ---- kill -9 of a query writing to the exactly-once sink (table-child.c), on Apache Kafka
 *      itself: aborted transactions hidden from read_committed readers are what is tested ---- */

#include <sys/wait.h>

#define CHILD EMBER_BUILD_ROOT "/tests/table-child"

/* The values a read_committed consumer finds in topic's partition 0 up to its end, sorted. */
static char *committed_values(const char *brokers, const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers",
                        brokers,
                        "group.id",
                        "test-committed",
                        "isolation.level",
                        "read_committed",
                        "enable.partition.eof",
                        "true",
                        NULL};
    for (size_t i = 0; kv[i]; i += 2)
        cr_assert_eq(rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK, "%s", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
    bool eof = false;
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    while (!eof && g_get_monotonic_time() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = true;
        else if (!m->err)
            g_ptr_array_add(values, g_strndup(m->payload, m->len));
        rd_kafka_message_destroy(m);
    }
    cr_assert(eof, "%s: the end of the partition was not reached", topic);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    g_ptr_array_sort(values, fixture_by_name);
    g_ptr_array_add(values, NULL);
    char *text = g_strjoinv(" ", (char **)values->pdata);
    g_ptr_array_unref(values);
    return text;
}

Test(table_kafka, an_exactly_once_sink_holds_each_row_once_whatever_point_a_kill_hits)
{
    static const char *const points[] = {"offsets", "parts", "sink", "state", "commit"};
    real_kafka b = {0};
    real_kafka_start(&b);
    for (size_t p = 0; p < G_N_ELEMENTS(points); p++) {
        for (int batch = 0; batch < 2; batch++) {
            char *root = tmp_dir();
            g_autofree char *in = g_build_filename(root, "in", NULL);
            g_autofree char *ck = g_build_filename(root, "ck", NULL);
            cr_assert_eq(g_mkdir(in, 0755), 0);
            put_file(in, "1.txt", "a\nb\n", 100);
            put_file(in, "2.txt", "c\n", 200);
            put_file(in, "3.txt", "d\n", 300);
            g_autofree char *topic = g_strdup_printf("out-%s-%d", points[p], batch);
            real_kafka_create_topic(&b, topic, 1);
            g_autofree char *out = g_strdup_printf("%s/%s", b.bootstrap, topic);
            g_autofree char *at = g_strdup_printf("%d", batch);
            const char *kill[] = {CHILD, "kafka", in, ck, out, points[p], at, NULL};
            int status = -1;
            GError *err = NULL;
            cr_assert(g_spawn_sync(NULL, (char **)kill, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                   NULL, NULL, NULL, &status, &err),
                      "%s", err ? err->message : "");
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "%s of batch %d: not killed (status %d)", points[p], batch, status);
            const char *again[] = {CHILD, "kafka", in, ck, out, NULL};
            g_autofree char *errors = NULL;
            cr_assert(g_spawn_sync(NULL, (char **)again, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                   NULL, NULL, &errors, &status, &err),
                      "%s", err ? err->message : "");
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "restart failed: %s", errors);
            g_autofree char *values = committed_values(b.bootstrap, topic);
            cr_assert_str_eq(values, "a b c d", "killed at %s of batch %d: %s", points[p], batch,
                             values);
            tmp_dir_free(root);
        }
    }
    real_kafka_stop(&b);
}

/* ---- Spark's source options, on Apache Kafka itself ---- */

static em_df *kafka_source_with(em_ssc *ssc, const em_kafka_source_opts *opts)
{
    GError *err = NULL;
    return ok(em_df_read_kafka(ssc, opts, &err), err);
}

/* The offsets (start end latest) of every progress of q, one line each. */
static char *all_offsets(em_query *q)
{
    g_auto(GStrv) progress = em_query_recent_progress(q);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; progress[i]; i++) {
        g_autofree char *o = offsets_of(progress[i]);
        g_autofree char *n = source_member(progress[i], "numInputRows");
        g_string_append_printf(out, "%s %s\n", o, n);
    }
    return g_string_free(out, FALSE);
}

/* Deletes topic[partition]'s records before offset `before` (the admin API's DeleteRecords)
 * and asserts the partition's log now starts there. */
static void delete_records_before(const char *brokers, const char *topic, int32_t partition,
                                  int64_t before)
{
    rd_kafka_t *rk = raw_producer(brokers, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = before;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_TIMEOUT_MS);
    cr_assert_not_null(ev);
    cr_assert_eq(rd_kafka_event_error(ev), 0, "%s", rd_kafka_event_error_string(ev));
    const rd_kafka_topic_partition_list_t *res =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    cr_assert_eq(res->cnt, 1);
    cr_assert_eq(res->elems[0].err, 0, "%s", rd_kafka_err2str(res->elems[0].err));
    cr_assert_eq(res->elems[0].offset, before);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    int64_t lo = -1, hi = -1;
    cr_assert_eq(rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi,
                                                  KAFKA_TIMEOUT_MS),
                 0);
    cr_assert_eq(lo, before);
    rd_kafka_destroy(rk);
}

Test(table_kafka, max_offsets_per_trigger_splits_each_batch_by_the_partitions_backlog)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "in", 2);
    produce_range(b.bootstrap, "in", 0, "a", 0, 30);
    produce_range(b.bootstrap, "in", 1, "b", 0, 10);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df =
        kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = b.bootstrap,
                                                       .subscribe = "in",
                                                       .starting_offsets = "earliest",
                                                       .max_offsets_per_trigger = 10});
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 6); /* the sixth finds nothing new: no batch */
    /* Each batch shares 10 by backlog, floored: 10*30/40 = 7.5 -> 7 and 10*10/40 = 2.5 -> 2;
     * then 10*23/31 = 7.4 -> 7 and 10*8/31 = 2.6 -> 2; 10*16/22 = 7.3 -> 7 and 10*6/22 = 2.7
     * -> 2; 10*9/13 = 6.9 -> 6 and 10*4/13 = 3.1 -> 3; then 7.5 and 2.5 cut at the ends. The
     * latest offset stays what Kafka holds. */
    g_autofree char *offsets = all_offsets(q);
    cr_assert_str_eq(offsets, "null {\"in\":{\"0\":7,\"1\":2}} {\"in\":{\"0\":30,\"1\":10}} 9\n"
                              "{\"in\":{\"0\":7,\"1\":2}} {\"in\":{\"0\":14,\"1\":4}} "
                              "{\"in\":{\"0\":30,\"1\":10}} 9\n"
                              "{\"in\":{\"0\":14,\"1\":4}} {\"in\":{\"0\":21,\"1\":6}} "
                              "{\"in\":{\"0\":30,\"1\":10}} 9\n"
                              "{\"in\":{\"0\":21,\"1\":6}} {\"in\":{\"0\":27,\"1\":9}} "
                              "{\"in\":{\"0\":30,\"1\":10}} 9\n"
                              "{\"in\":{\"0\":27,\"1\":9}} {\"in\":{\"0\":30,\"1\":10}} "
                              "{\"in\":{\"0\":30,\"1\":10}} 4\n");
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    cr_assert_eq(rows->n, 40);
    /* Batch 3's rows, in the memory sink's order of batches: a21..a26, then b6..b8. */
    GString *third = g_string_new(NULL);
    for (size_t i = 27; i < 36; i++)
        g_string_append_printf(third, "%.*s ", (int)rows->items[i].as.items[1].len,
                               rows->items[i].as.items[1].as.s);
    g_autofree char *third_text = g_string_free(third, FALSE);
    g_auto(GStrv) words = g_strsplit(g_strstrip(third_text), " ", -1);
    qsort(words, g_strv_length(words), sizeof *words, fixture_strcmp);
    g_autofree char *sorted = g_strjoinv(" ", words);
    cr_assert_str_eq(sorted, "a21 a22 a23 a24 a25 a26 b6 b7 b8");
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

Test(table_kafka, rate_limit_rounds_a_share_below_one_up_and_stops_at_each_end)
{
    g_autoptr(GArray) from = em__kafka_offsets_new();
    g_autoptr(GArray) until = em__kafka_offsets_new();
    em__kafka_offsets_set(from, "t", 0, 0);
    em__kafka_offsets_set(from, "t", 1, 5);
    em__kafka_offsets_set(from, "u", 0, 3);
    em__kafka_offsets_set(until, "t", 0, 100);
    em__kafka_offsets_set(until, "t", 1, 6);
    em__kafka_offsets_set(until, "u", 0, 3);
    /* 5*100/101 = 4.95 -> 4; 5*1/101 = 0.05 -> 1 (never starved); u-0 has nothing. */
    g_autoptr(GArray) cut = em__kafka_rate_limit(5, from, until);
    g_autofree char *json = em__kafka_offsets_json(cut);
    cr_assert_str_eq(json, "{\"t\":{\"0\":4,\"1\":6},\"u\":{\"0\":3}}");
    /* A limit above the backlog reads everything. */
    g_autoptr(GArray) all = em__kafka_rate_limit(1000, from, until);
    g_autofree char *all_json = em__kafka_offsets_json(all);
    cr_assert_str_eq(all_json, "{\"t\":{\"0\":100,\"1\":6},\"u\":{\"0\":3}}");
}

Test(table_kafka, subscribe_pattern_reads_a_matching_topic_created_later_from_its_start)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "in-a", 1);
    real_kafka_create_topic(&b, "other", 1);
    produce_range(b.bootstrap, "in-a", 0, "old", 0, 2);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df =
        kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = b.bootstrap,
                                                       .subscribe_pattern = "in-.*"});
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1); /* latest: from in-a's end */
    produce_range(b.bootstrap, "in-a", 0, "a", 2, 3);
    produce_range(b.bootstrap, "other", 0, "o", 0, 2);
    real_kafka_create_topic(&b, "in-b", 2);
    real_kafka_create_topic(&b, "xin-c", 1); /* matches only in part: not read */
    produce_range(b.bootstrap, "in-b", 0, "b", 0, 2);
    produce_range(b.bootstrap, "in-b", 1, "c", 0, 1);
    produce_range(b.bootstrap, "xin-c", 0, "x", 0, 1);
    run_batches(ssc, 1);
    g_autofree char *rows = rows_without_time(q);
    cr_assert_str_eq(rows, "(k0,b0,in-b,0,0,0) (k0,c0,in-b,1,0,0) (k1,b1,in-b,0,1,0) "
                           "(k2,a2,in-a,0,2,0)");
    g_autofree char *offsets = all_offsets(q);
    cr_assert_str_eq(offsets,
                     "null {\"in-a\":{\"0\":2}} {\"in-a\":{\"0\":2}} 0\n"
                     "{\"in-a\":{\"0\":2}} {\"in-a\":{\"0\":3},\"in-b\":{\"0\":2,\"1\":1}} "
                     "{\"in-a\":{\"0\":3},\"in-b\":{\"0\":2,\"1\":1}} 4\n");
    g_autofree char *progress = em_query_last_progress(q);
    g_autofree char *desc = source_member(progress, "description");
    cr_assert_str_eq(desc, "\"KafkaV2[SubscribePattern[in-.*]]\"");
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

Test(table_kafka, assign_reads_only_the_named_partitions_from_the_given_offsets)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "in", 3);
    for (int p = 0; p < 3; p++)
        produce_range(b.bootstrap, "in", p, p == 0 ? "a" : p == 1 ? "b" : "c", 0, 4);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df =
        kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = b.bootstrap,
                                                       .assign = "{\"in\":[2,0]}",
                                                       .starting_offsets =
                                                           "{\"in\":{\"0\":3,\"2\":-2}}"});
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    g_autofree char *rows = rows_without_time(q);
    cr_assert_str_eq(rows, "(k0,c0,in,2,0,0) (k1,c1,in,2,1,0) (k2,c2,in,2,2,0) "
                           "(k3,a3,in,0,3,0) (k3,c3,in,2,3,0)");
    g_autofree char *progress = em_query_last_progress(q);
    g_autofree char *desc = source_member(progress, "description");
    cr_assert_str_eq(desc, "\"KafkaV2[Assign[in-2, in-0]]\"");
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

Test(table_kafka, starting_offsets_naming_some_partitions_only_fail_the_query_as_spark)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "in", 2);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df =
        kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = b.bootstrap,
                                                       .subscribe = "in",
                                                       .starting_offsets = "{\"in\":{\"1\":0}}"});
    g_autoptr(em_query) q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    GError *err = NULL;
    cr_assert_not(em_query_await_termination(q, &err));
    cr_assert(strstr(err->message,
                     "If startingOffsets contains specific offsets, you must specify all "
                     "TopicPartitions.\nUse -1 for latest, -2 for earliest.\nSpecified: "
                     "Set(in-1) Assigned: Set(in-0, in-1)"),
              "%s", err->message);
    g_error_free(err);
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

/* Batch 0 reads in-0's offsets 0..4; then 5..9 arrive and 0..7 are deleted: batch 1 starts at
 * an offset Kafka no longer has. */
static em_query *query_over_deleted_records(real_kafka *b, em_ssc *ssc, bool allow_data_loss)
{
    real_kafka_create_topic(b, "in", 1);
    produce_range(b->bootstrap, "in", 0, "v", 0, 5);
    g_autoptr(em_df) df =
        kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = b->bootstrap,
                                                       .subscribe = "in",
                                                       .starting_offsets = "earliest",
                                                       .allow_data_loss = allow_data_loss});
    em_query *q = started(df, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 1);
    g_autofree char *rows = rows_without_time(q);
    cr_assert_str_eq(rows, "(k0,v0,in,0,0,0) (k1,v1,in,0,1,0) (k2,v2,in,0,2,0) "
                           "(k3,v3,in,0,3,0) (k4,v4,in,0,4,0)");
    produce_range(b->bootstrap, "in", 0, "v", 5, 10);
    delete_records_before(b->bootstrap, "in", 0, 8);
    run_batches(ssc, 1);
    return q;
}

Test(table_kafka, fail_on_data_loss_fails_the_query_naming_the_topic_partition)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_query) q = query_over_deleted_records(&b, ssc, false);
    GError *err = NULL;
    cr_assert_not(em_query_await_termination(q, &err));
    cr_assert(strstr(err->message, "Cannot fetch offset 5 (GroupId: spark-kafka-source-"), "%s",
              err->message);
    cr_assert(strstr(err->message,
                     ", TopicPartition: in-0). Some data may have been lost because they are "
                     "not available in Kafka any more; either the data was aged out by Kafka "
                     "or the topic may have been deleted before all the data in the topic was "
                     "processed. If you don't want your streaming query to fail on such "
                     "cases, set the source option \"failOnDataLoss\" to \"false\"."),
              "%s", err->message);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    cr_assert_eq(rows->n, 5); /* nothing of the failed batch */
    g_error_free(err);
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

Test(table_kafka, without_fail_on_data_loss_a_batch_warns_and_goes_on_from_the_earliest_offset)
{
    capture_warnings();
    real_kafka b = {0};
    real_kafka_start(&b);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_query) q = query_over_deleted_records(&b, ssc, true);
    cr_assert(em_query_is_active(q));
    g_autofree char *rows = rows_without_time(q);
    cr_assert_str_eq(rows, "(k0,v0,in,0,0,0) (k1,v1,in,0,1,0) (k2,v2,in,0,2,0) "
                           "(k3,v3,in,0,3,0) (k4,v4,in,0,4,0) (k8,v8,in,0,8,0) "
                           "(k9,v9,in,0,9,0)");
    g_autofree char *offsets = all_offsets(q);
    cr_assert_str_eq(offsets, "null {\"in\":{\"0\":5}} {\"in\":{\"0\":5}} 5\n"
                              "{\"in\":{\"0\":5}} {\"in\":{\"0\":10}} {\"in\":{\"0\":10}} 2\n");
    cr_assert(wait_warning("Cannot fetch offset 5: the current available offset range is "
                           "AvailableOffsetRange(8,10). Offset 5 is out of range, and records "
                           "in [5, 8) will be skipped (GroupId: spark-kafka-source-"),
              "%s", kafka_warnings->str);
    cr_assert(wait_warning(", TopicPartition: in-0). Some data may have been lost"), "%s",
              kafka_warnings->str);
    em_ssc_free(ssc);
    real_kafka_stop(&b);
}

Test(table_kafka, source_options_are_checked_with_spark_messages)
{
    static const char *const reset[] = {"auto.offset.reset", "earliest", NULL};
    const struct {
        em_kafka_source_opts opts;
        const char *message;
    } cases[] = {
        {{.subscribe = "in"},
         "Kafka source: Option 'kafka.bootstrap.servers' must be specified for configuring "
         "Kafka consumer"},
        {{.brokers = "127.0.0.1:1"},
         "Kafka source: One of the following options must be specified for Kafka source: "
         "subscribe, subscribePattern, assign. See the docs for more details."},
        {{.brokers = "127.0.0.1:1", .subscribe = "a", .assign = "{\"a\":[0]}"},
         "Kafka source: Only one of the following options can be specified for Kafka source: "
         "subscribe, subscribePattern, assign. See the docs for more details."},
        {{.brokers = "127.0.0.1:1", .subscribe = " , "},
         "Kafka source: No topics to subscribe to as specified value for option 'subscribe' "
         "is ' , '"},
        {{.brokers = "127.0.0.1:1", .subscribe_pattern = " "},
         "Kafka source: Pattern to subscribe is empty as specified value for option "
         "'subscribePattern' is ' '"},
        {{.brokers = "127.0.0.1:1", .assign = "a-0"},
         "Kafka source: No topicpartitions to assign as specified value for option 'assign' "
         "is 'a-0'"},
        {{.brokers = "127.0.0.1:1", .assign = "{\"a\":0}"},
         "Kafka source: Expected e.g. {\"topicA\":[0,1],\"topicB\":[0,1]}, got {\"a\":0}"},
        {{.brokers = "127.0.0.1:1", .subscribe = "a", .starting_offsets = "{\"a\":[0]}"},
         "Kafka source: Expected e.g. {\"topicA\":{\"0\":23,\"1\":-1},\"topicB\":{\"0\":-2}}, "
         "got {\"a\":[0]}"},
        {{.brokers = "127.0.0.1:1", .subscribe = "a", .ending_offsets = "latest"},
         "Kafka source: ending offset not valid in streaming queries"},
        {{.brokers = "127.0.0.1:1", .subscribe = "a", .max_offsets_per_trigger = -1},
         "Kafka source: maxOffsetsPerTrigger must be positive (0: no limit), not -1"},
        {{.brokers = "127.0.0.1:1", .subscribe = "a", .params = reset},
         "Kafka source: Kafka option 'auto.offset.reset' is not supported: Structured "
         "Streaming manages which offsets are consumed internally (use startingOffsets)"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        em_ssc *ssc = table_ssc();
        GError *err = NULL;
        cr_assert_null(em_df_read_kafka(ssc, &cases[i].opts, &err), "case %zu", i);
        cr_assert_str_eq(err->message, cases[i].message, "case %zu", i);
        g_error_free(err);
        em_ssc_free(ssc);
    }
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = kafka_source_with(ssc, &(em_kafka_source_opts){.brokers = "127.0.0.1:1",
                                                                         .subscribe = "b, a"});
    cr_assert_str_eq(em__offset_stream_of(df->ds)->description, "KafkaV2[Subscribe[b, a]]");
    em_ssc_free(ssc);
}

Test(table_kafka, a_kafka_to_kafka_query_killed_at_any_point_restarts_exactly_once)
{
    static const char *const points[] = {"offsets", "parts", "sink", "state", "commit"};
    real_kafka b = {0};
    real_kafka_start(&b);
    for (size_t p = 0; p < G_N_ELEMENTS(points); p++) {
        char *root = tmp_dir();
        g_autofree char *ck = g_build_filename(root, "ck", NULL);
        g_autofree char *in_topic = g_strdup_printf("in-%s", points[p]);
        g_autofree char *out_topic = g_strdup_printf("out-%s", points[p]);
        real_kafka_create_topic(&b, in_topic, 2);
        real_kafka_create_topic(&b, out_topic, 1);
        produce_range(b.bootstrap, in_topic, 0, "a", 0, 4);
        produce_range(b.bootstrap, in_topic, 1, "b", 0, 2);
        g_autofree char *in = g_strdup_printf("%s/%s", b.bootstrap, in_topic);
        g_autofree char *out = g_strdup_printf("%s/%s", b.bootstrap, out_topic);
        /* maxOffsetsPerTrigger 2 over backlogs 4 and 2: batches of a0 b0, a1 b1, a2 a3. */
        const char *kill[] = {CHILD, "kafka-source", in, ck, out, points[p], "1", NULL};
        int status = -1;
        GError *err = NULL;
        cr_assert(g_spawn_sync(NULL, (char **)kill, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &err),
                  "%s", err ? err->message : "");
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "%s of batch 1: not killed (status %d)", points[p], status);
        const char *again[] = {CHILD, "kafka-source", in, ck, out, NULL};
        g_autofree char *errors = NULL;
        cr_assert(g_spawn_sync(NULL, (char **)again, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &errors, &status, &err),
                  "%s", err ? err->message : "");
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "restart failed: %s", errors);
        g_autofree char *values = committed_values(b.bootstrap, out_topic);
        cr_assert_str_eq(values, "a0 a1 a2 a3 b0 b1", "killed at %s of batch 1: %s", points[p],
                         values);
        g_autofree char *batches = file_text(ck, "offsets/2");
        cr_assert(strstr(batches, "{\"in-") && strstr(batches, "\":{\"0\":4,\"1\":2}}"), "%s",
                  batches);
        tmp_dir_free(root);
    }
    real_kafka_stop(&b);
}

Test(table_kafka, options_set_by_spark_name_fill_the_fields)
{
    em_kafka_source_opts opts = {0};
    const char *const kv[] = {"kafka.bootstrap.servers",
                              "127.0.0.1:1",
                              "subscribePattern",
                              "in-.*",
                              "startingOffsets",
                              "earliest",
                              "MAXOFFSETSPERTRIGGER",
                              "10",
                              "failOnDataLoss",
                              "false",
                              NULL};
    GError *err = NULL;
    for (size_t i = 0; kv[i]; i += 2)
        cr_assert(em_kafka_source_option(&opts, kv[i], kv[i + 1], &err), "%s", err->message);
    cr_assert_str_eq(opts.brokers, "127.0.0.1:1");
    cr_assert_str_eq(opts.subscribe_pattern, "in-.*");
    cr_assert_str_eq(opts.starting_offsets, "earliest");
    cr_assert_eq(opts.max_offsets_per_trigger, 10);
    cr_assert(opts.allow_data_loss);
    cr_assert_null(opts.subscribe);
    cr_assert_not(em_kafka_source_option(&opts, "maxOffsetsPerTrigger", "ten", &err));
    cr_assert_str_eq(err->message, "Kafka source: maxOffsetsPerTrigger 'ten' is not a number");
    g_clear_error(&err);
    cr_assert_not(em_kafka_source_option(&opts, "failOnDataLoss", "maybe", &err));
    cr_assert_str_eq(err->message, "Kafka source: failOnDataLoss 'maybe' is not true or false");
    g_clear_error(&err);
    cr_assert_not(em_kafka_source_option(&opts, "kafka.group.id", "g", &err));
    cr_assert_str_eq(err->message, "Kafka source: option 'kafka.group.id' is not an option of "
                                   "Ember's Kafka source (kafka.* properties go in params)");
    g_clear_error(&err);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) df = kafka_source_with(ssc, &opts);
    cr_assert_str_eq(em__offset_stream_of(df->ds)->description,
                     "KafkaV2[SubscribePattern[in-.*]]");
    em_ssc_free(ssc);
}

Test(table_kafka, a_batch_query_reads_between_its_starting_and_ending_offsets)
{
    em_context *sc = em_context_new("local[2]", "load-kafka", NULL);
    cr_assert_not_null(sc);
    static const char *const refused[][3] = {
        {"latest", NULL, "starting offset can't be latest for batch queries on Kafka"},
        {NULL, "earliest", "ending offset can't be earliest for batch queries on Kafka"},
        {"{\"in\":{\"0\":-1}}", NULL,
         "startingOffsets for in-0 can't be latest for batch queries on Kafka"},
        {NULL, "{\"in\":{\"0\":-2}}",
         "ending offset for in-0 can't be earliest for batch queries on Kafka"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        GError *err = NULL;
        cr_assert_null(em_df_load_kafka(sc,
                                        &(em_kafka_source_opts){.brokers = "127.0.0.1:1",
                                                                .subscribe = "in",
                                                                .starting_offsets = refused[i][0],
                                                                .ending_offsets = refused[i][1]},
                                        &err));
        g_autofree char *want = g_strdup_printf("Kafka source: %s", refused[i][2]);
        cr_assert_str_eq(err->message, want);
        g_error_free(err);
    }
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "in", 2);
    produce_range(b.bootstrap, "in", 0, "a", 0, 5);
    produce_range(b.bootstrap, "in", 1, "b", 0, 3);
    GError *err = NULL;
    g_autoptr(em_df) df =
        ok(em_df_load_kafka(sc,
                            &(em_kafka_source_opts){.brokers = b.bootstrap,
                                                    .subscribe = "in",
                                                    .starting_offsets =
                                                        "{\"in\":{\"0\":1,\"1\":-2}}",
                                                    .ending_offsets =
                                                        "{\"in\":{\"0\":3,\"1\":-1}}"},
                            &err),
           err);
    cr_assert_not(em_df_is_streaming(df));
    g_autoptr(em_values) rows = em_df_collect(df, &err);
    cr_assert_not_null(rows, "%s", err ? err->message : "");
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < rows->n; i++) {
        const em_value *f = rows->items[i].as.items;
        g_ptr_array_add(lines, g_strdup_printf("%.*s@%.*s-%lld", (int)f[1].len, f[1].as.s,
                                               (int)f[2].len, f[2].as.s, (long long)f[4].as.i));
    }
    g_ptr_array_sort(lines, fixture_by_name);
    g_ptr_array_add(lines, NULL);
    g_autofree char *text = g_strjoinv(" ", (char **)lines->pdata);
    g_ptr_array_unref(lines);
    cr_assert_str_eq(text, "a1@in-1 a2@in-2 b0@in-0 b1@in-1 b2@in-2");
    em_context_free(sc);
    real_kafka_stop(&b);
}
