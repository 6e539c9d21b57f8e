/* The Kafka source and sink of tables against a real broker process (ember-kafka-broker on
 * 127.0.0.1): Spark's columns and offsets, starting offsets, a batch run again after a restart
 * reading exactly its records, and rows written to topics by their value, key and topic. */
#include "../kafka/kafka-real.h"
#include "file-fixture.h"

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
