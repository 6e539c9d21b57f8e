/* Against Apache Kafka itself (kafka-real.h): interop with kcat both ways, and exactly-once
 * through kill -9 at 20 random points of a Kafka-to-Kafka word count. */
#include "../examples/example-fixture.h"
#include "kafka-real.h"

#define PIPELINE EMBER_BUILD_ROOT "/tests/kafka_eos_pipeline"

static char *run_capture(const char *cmd)
{
    char *out = NULL;
    int status = -1;
    GError *err = NULL;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                           NULL, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "%s failed", cmd);
    return out;
}

static void kcat_interop(const char *brokers)
{
    g_autofree char *kcat = g_find_program_in_path("kcat");
    if (!kcat)
        REAL_KAFKA_UNAVAILABLE("no kcat in PATH (scripts/dev installs it)");
    /* kcat writes, Ember reads. */
    g_autofree char *produce = g_strdup_printf(
        "printf 'a:one\\nb:two\\nc:three\\n' | kcat -b %s -P -t from-kcat -p 0 -K:", brokers);
    g_free(run_capture(produce));
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        em_kafka_direct_stream(ssc,
                               &(em_kafka_opts){.brokers = brokers,
                                                .group_id = "interop",
                                                .assign = (em_kafka_tp[]){{"from-kcat", 0, 0}},
                                                .n_assign = 1});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    /* Ember writes, kcat reads. */
    GError *err = NULL;
    cr_assert(em_kafka_save(ds, "from-ember", &(em_kafka_save_opts){.brokers = brokers}, &err),
              "%s", err ? err->message : "");
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    em_ssc_free(ssc);
    cr_assert_str_eq(l.text[0], "[(a,one), (b,two), (c,three)]");
    kafka_log_clear(&l);
    g_autofree char *consume =
        g_strdup_printf("kcat -b %s -C -t from-ember -o beginning -c 3 -e -f '%%k=%%s\\n' | sort",
                        brokers);
    g_autofree char *got = run_capture(consume);
    cr_assert_str_eq(got, "a=one\nb=two\nc=three\n");
}

Test(kafka_real, kcat_and_ember_read_each_other_on_the_mock_broker)
{
    mock_broker b = mock_broker_start((const char *[]){"from-kcat:1", "from-ember:1", NULL});
    kcat_interop(b.bootstrap);
    mock_broker_stop(&b);
}

Test(kafka_real, kcat_and_ember_read_each_other_on_apache_kafka)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "from-kcat", 1);
    real_kafka_create_topic(&k, "from-ember", 1);
    kcat_interop(k.bootstrap);
    real_kafka_stop(&k);
}

/* Holds the first batch for 2.5 s: more than twice max.poll.interval.ms (1 s). The wait is
 * the behaviour under test: wall-clock time passing while a batch runs. */
static bool slow_first_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud, (void)err;
    if (t == EM_SECONDS(1))
        g_usleep(2500 * 1000);
    return true;
}

Test(kafka_real, a_batch_longer_than_max_poll_interval_keeps_the_group)
{
    real_kafka b = {0};
    real_kafka_start(&b);
    real_kafka_create_topic(&b, "t", 1);
    produce_range(b.bootstrap, "t", 0, "v", 0, 2);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        em_kafka_direct_stream(ssc,
                               &(em_kafka_opts){.brokers = b.bootstrap,
                                                .group_id = "g",
                                                .topics = "t",
                                                .start = EM_KAFKA_EARLIEST,
                                                .params =
                                                    (const char *[]){"max.poll.interval.ms",
                                                                     "1000", "session.timeout.ms",
                                                                     "1000",
                                                                     "heartbeat.interval.ms",
                                                                     "100", NULL}});
    em_foreach_rdd(ds, slow_first_batch);
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(1));
    produce_range(b.bootstrap, "t", 0, "v", 2, 3);
    kafka_run_batch(ssc, ds, 1, EM_SECONDS(2));
    em_kafka_stream_stats s;
    cr_assert(em_kafka_stream_stats_get(ds, &s));
    em_ssc_free(ssc);
    cr_assert_eq(s.assignments, 1);
    cr_assert_eq(s.revocations, 0);
    cr_assert_str_eq(l.ranges[1], "t[0]:2-3/1");
    kafka_log_clear(&l);
    real_kafka_stop(&b);
}

/* Sums (word, count) records read_committed from out into totals. */
static void sum_output(const char *brokers, GHashTable *totals, int *records)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "eos-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "counts", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    for (bool eof = false; !eof && g_get_monotonic_time() < deadline;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = true;
        else if (!m->err) {
            char *word = g_strndup(m->key, m->key_len);
            g_autofree char *n = g_strndup(m->payload, m->len);
            int64_t old = GPOINTER_TO_SIZE(g_hash_table_lookup(totals, word));
            g_hash_table_replace(totals, word, GSIZE_TO_POINTER(old + atoll(n)));
            (*records)++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static GPid start_pipeline(const char *brokers)
{
    GPid pid;
    const char *argv[] = {PIPELINE, brokers, "lines", "3", "counts", "eos", "eos-txn", NULL};
    GError *err = NULL;
    cr_assert(g_spawn_async(NULL, (char **)argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                            &pid, &err),
              "%s", err ? err->message : "");
    return pid;
}

Test(kafka_real, kill_9_at_20_points_loses_and_duplicates_nothing)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "lines", 3);
    real_kafka_create_topic(&k, "counts", 1);
    /* 3000 lines over 3 partitions: word w<i % 50> appears 3000 / 50 * 2 = 120 times, and
     * "x" 3000 times. */
    rd_kafka_t *rk = raw_producer(k.bootstrap, NULL);
    for (int i = 0; i < 3000; i++) {
        char line[64];
        snprintf(line, sizeof line, "w%d x w%d", i % 50, i % 50);
        produce(rk, "lines", i % 3, NULL, line);
    }
    produce_flush(rk);
    rd_kafka_destroy(rk);

    GRand *rand = g_rand_new_with_seed(20261203);
    for (int kill_point = 0; kill_point < 20; kill_point++) {
        GPid pid = start_pipeline(k.bootstrap);
        g_usleep(g_rand_int_range(rand, 300, 2500) * 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        g_spawn_close_pid(pid);
    }
    g_rand_free(rand);
    /* The last run finishes the input: run it until the totals are complete. */
    GPid pid = start_pipeline(k.bootstrap);
    GHashTable *totals = NULL;
    int records = 0;
    gint64 deadline = g_get_monotonic_time() + 180 * G_USEC_PER_SEC;
    for (;;) {
        if (totals)
            g_hash_table_unref(totals);
        totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        records = 0;
        sum_output(k.bootstrap, totals, &records);
        if (GPOINTER_TO_SIZE(g_hash_table_lookup(totals, "x")) >= 3000 ||
            g_get_monotonic_time() > deadline)
            break;
        g_usleep(500 * 1000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);
    cr_assert_eq(GPOINTER_TO_SIZE(g_hash_table_lookup(totals, "x")), 3000);
    cr_assert_eq(g_hash_table_size(totals), 51);
    for (int i = 0; i < 50; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        cr_assert_eq(GPOINTER_TO_SIZE(g_hash_table_lookup(totals, w)), 120, "%s", w);
    }
    g_hash_table_unref(totals);
    real_kafka_stop(&k);
}

/* ---- Scale-out: three processes of one group over six partitions ---- */

static GPid start_copier(const char *brokers)
{
    GPid pid;
    const char *argv[] =
        {EMBER_BUILD_ROOT "/tests/kafka_copy_pipeline", brokers, "in6", "out6", "copiers", NULL};
    GError *err = NULL;
    cr_assert(g_spawn_async(NULL, (char **)argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                            &pid, &err),
              "%s", err ? err->message : "");
    return pid;
}

/* Distinct values of out6 (read_uncommitted, from the beginning) after reading until eof. */
static GHashTable *distinct_output(const char *brokers, int *records)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "out-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "out6", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    *records = 0;
    for (bool eof = false; !eof && g_get_monotonic_time() < deadline;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = true;
        else if (!m->err) {
            g_hash_table_add(seen, g_strndup(m->payload, m->len));
            (*records)++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return seen;
}

static void produce_lines(const char *brokers, int from, int to)
{
    rd_kafka_t *rk = raw_producer(brokers, NULL);
    for (int i = from; i < to; i++) {
        char line[32];
        snprintf(line, sizeof line, "line%d", i);
        produce(rk, "in6", i % 6, NULL, line);
    }
    produce_flush(rk);
    rd_kafka_destroy(rk);
}

/* Waits until out6 holds every line in [0, n); returns how many records it holds. */
static int wait_all_lines(const char *brokers, int n)
{
    gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
    for (;;) {
        int records = 0;
        GHashTable *seen = distinct_output(brokers, &records);
        int missing = 0;
        for (int i = 0; i < n; i++) {
            char line[32];
            snprintf(line, sizeof line, "line%d", i);
            missing += !g_hash_table_contains(seen, line);
        }
        g_hash_table_unref(seen);
        if (!missing)
            return records;
        cr_assert_lt(g_get_monotonic_time(), deadline, "%d of %d lines never reached out6",
                     missing, n);
        g_usleep(500 * 1000);
    }
}

Test(kafka_real, three_members_share_six_partitions_and_survive_a_kill_9)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "in6", 6);
    real_kafka_create_topic(&k, "out6", 1);
    GPid pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = start_copier(k.bootstrap);
    produce_lines(k.bootstrap, 0, 600);
    cr_assert_geq(wait_all_lines(k.bootstrap, 600), 600);
    /* One member dies without leaving: after its session times out the other two take its
     * partitions from their committed offsets. */
    kill(pids[1], SIGKILL);
    waitpid(pids[1], NULL, 0);
    g_spawn_close_pid(pids[1]);
    produce_lines(k.bootstrap, 600, 1200);
    int records = wait_all_lines(k.bootstrap, 1200);
    cr_assert_geq(records, 1200);
    for (int i = 0; i < 3; i += 2) {
        kill(pids[i], SIGTERM);
        waitpid(pids[i], NULL, 0);
        g_spawn_close_pid(pids[i]);
    }
    real_kafka_stop(&k);
}

/* ---- Revocation: what was processed is committed, what was only fetched is dropped ---- */

typedef struct revocation_log {
    GMutex lock;
    GString *text; /* "[R]<batch>:<topic>[<p>]=<until> " per range committed, R: on revocation */
} revocation_log;

static void on_revocation_commit(const em_input_commit_info *info, void *ud)
{
    revocation_log *r = ud;
    g_mutex_lock(&r->lock);
    for (size_t i = 0; i < info->n_ranges; i++)
        g_string_append_printf(r->text, "%s%" G_GINT64_FORMAT ":%s[%d]=%" G_GINT64_FORMAT "%s ",
                               info->on_revocation ? "R" : "", (gint64)info->batch_time,
                               info->ranges[i].topic, info->ranges[i].partition,
                               info->ranges[i].until, info->error ? "!" : "");
    g_mutex_unlock(&r->lock);
}

static bool has_revocation_commit(revocation_log *r, const char *needle)
{
    g_mutex_lock(&r->lock);
    bool found = strstr(r->text->str, needle) != NULL;
    g_mutex_unlock(&r->lock);
    return found;
}

Test(kafka_real, a_revocation_commits_what_was_processed_and_drops_the_rest)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "rv", 2);
    produce_range(k.bootstrap, "rv", 0, "a", 0, 3);
    produce_range(k.bootstrap, "rv", 1, "b", 0, 2);
    revocation_log rl = {.text = g_string_new(NULL)};
    g_mutex_init(&rl.lock);
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = k.bootstrap,
                                                                  .group_id = "rg",
                                                                  .topics = "rv",
                                                                  .start = EM_KAFKA_EARLIEST});
    em_ssc_add_listener(ssc, &(em_listener){.input_committed = on_revocation_commit}, &rl);
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    wait_assigned(ds, 2);
    kafka_run_batch(ssc, ds, 5, EM_SECONDS(1));
    cr_assert_str_eq(l.ranges[0], "rv[0]:0-3/3 rv[1]:0-2/2");
    /* Fetched, never in a batch: dropped when the partitions are revoked. */
    produce_range(k.bootstrap, "rv", 0, "a", 3, 6);
    produce_range(k.bootstrap, "rv", 1, "b", 2, 4);
    cr_assert(em__kafka_stream_wait_buffered(ds, 5, KAFKA_TIMEOUT_MS));

    /* A second member joins: the (eager) rebalance revokes both partitions from the stream,
     * which commits batch 1's offsets synchronously unless their asynchronous commit was
     * confirmed already (which of the two happens is a race: the listener's log tells), then
     * each member gets one. */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", k.bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "rg", errstr, sizeof errstr);
    rd_kafka_t *other = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(other, "%s", errstr);
    rd_kafka_poll_set_consumer(other);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, "rv", RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(other, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
    int32_t other_part = -1;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    /* The other member reads its partition from the committed offset to the end (3 or 2). */
    while (g_get_monotonic_time() < deadline &&
           (other_part < 0 || (int)got->len < (other_part == 0 ? 3 : 2))) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(other, 100);
        if (m && !m->err) {
            other_part = m->partition;
            g_ptr_array_add(got,
                            g_strdup_printf("%d:%" G_GINT64_FORMAT ":%.*s", m->partition,
                                            (gint64)m->offset, (int)m->len, (char *)m->payload));
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    cr_assert_geq(other_part, 0, "the other member read nothing");
    wait_assigned(ds, 1);
    cr_assert(has_revocation_commit(&rl, "1000:rv[0]=3 "), "%s", rl.text->str);
    cr_assert(has_revocation_commit(&rl, "1000:rv[1]=2 "), "%s", rl.text->str);
    cr_assert_null(strstr(rl.text->str, "!"), "a commit failed: %s", rl.text->str);
    /* The stream reads the rest of its own partition again from the commit: nothing it had
     * fetched is lost, nothing it processed is read twice. */
    kafka_run_batch(ssc, ds, other_part == 0 ? 2 : 3, EM_SECONDS(2));
    em_kafka_stream_stats s;
    cr_assert(em_kafka_stream_stats_get(ds, &s));
    em_ssc_free(ssc);
    rd_kafka_consumer_close(other);
    rd_kafka_destroy(other);

    g_ptr_array_add(got, NULL);
    g_autofree char *others = g_strjoinv(" ", (char **)got->pdata);
    if (other_part == 0) {
        cr_assert_str_eq(others, "0:3:a3 0:4:a4 0:5:a5");
        cr_assert_str_eq(l.ranges[1], "rv[1]:2-4/2");
        cr_assert_str_eq(l.text[1], "[(k2,b2), (k3,b3)]");
    } else {
        cr_assert_str_eq(others, "1:2:b2 1:3:b3");
        cr_assert_str_eq(l.ranges[1], "rv[0]:3-6/3");
        cr_assert_str_eq(l.text[1], "[(k3,a3), (k4,a4), (k5,a5)]");
    }
    cr_assert_geq(s.revocations, 1);
    g_ptr_array_unref(got);
    g_string_free(rl.text, TRUE);
    kafka_log_clear(&l);
    real_kafka_stop(&k);
}

/* ---- A topic deleted while the stream runs ---- */

static void real_kafka_delete_topic(real_kafka *k, const char *topic)
{
    rd_kafka_t *rk = raw_producer(k->bootstrap, NULL);
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_TIMEOUT_MS);
    cr_assert_not_null(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), 0, "delete %s: %s", topic,
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_destroy(rk);
}

/* A watchdog for a call that must return: if it is not disarmed within the bound, it says
 * what hung, stops the broker (no Java left behind) and aborts the test process, which
 * Criterion reports as a crash of the test. */
typedef struct watchdog {
    GMutex lock;
    GCond cond;
    bool disarmed;
    const char *what;
    int seconds;
    real_kafka *k;
    GThread *thread;
} watchdog;

static gpointer watchdog_main(gpointer data)
{
    watchdog *w = data;
    gint64 deadline = g_get_monotonic_time() + w->seconds * G_USEC_PER_SEC;
    g_mutex_lock(&w->lock);
    while (!w->disarmed && g_cond_wait_until(&w->cond, &w->lock, deadline))
        ;
    bool fired = !w->disarmed;
    g_mutex_unlock(&w->lock);
    if (fired) {
        fprintf(stderr, "watchdog: %s did not return within %d s\n", w->what, w->seconds);
        kill(w->k->pid, SIGKILL);
        abort();
    }
    return NULL;
}

static void watchdog_arm(watchdog *w, real_kafka *k, const char *what, int seconds)
{
    *w = (watchdog){.what = what, .seconds = seconds, .k = k};
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    w->thread = g_thread_new("watchdog", watchdog_main, w);
}

static void watchdog_disarm(watchdog *w)
{
    g_mutex_lock(&w->lock);
    w->disarmed = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    g_thread_join(w->thread);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
}

static int count_occurrences(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *s = strstr(haystack, needle); s; s = strstr(s + 1, needle))
        n++;
    return n;
}

/* The stream warns once naming the deleted topic and goes on with the others (Spark's stream
 * goes on too while its other topics have data); what it processed of the deleted topic
 * stays committed. Then the stream stops and is freed: the consumer closes (committing what
 * the other topic's batches processed) and its handle is destroyed, which librdkafka 2.0's
 * issue 4362 used to hang; the watchdog turns such a hang into a failure. */
Test(kafka_real, a_topic_deleted_while_running_is_named_the_stream_goes_on_and_stops)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "keep", 1);
    real_kafka_create_topic(&k, "gone", 1);
    produce_range(k.bootstrap, "keep", 0, "k", 0, 2);
    produce_range(k.bootstrap, "gone", 0, "g", 0, 2);
    capture_warnings();
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        em_kafka_direct_stream(ssc,
                               &(em_kafka_opts){.brokers = k.bootstrap,
                                                .group_id = "dg",
                                                .topics = "keep,gone",
                                                .start = EM_KAFKA_EARLIEST,
                                                .params =
                                                    (const char
                                                         *[]){"topic.metadata.refresh.interval.ms",
                                                              "500", NULL}});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    wait_assigned(ds, 2);
    kafka_run_batch(ssc, ds, 4, EM_SECONDS(1));
    cr_assert_str_eq(l.ranges[0], "gone[0]:0-2/2 keep[0]:0-2/2");
    /* Batch 1's commit is asynchronous: asked of the broker until it shows (bounded). */
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    while (committed_offset(k.bootstrap, "dg", "gone", 0) != 2 &&
           g_get_monotonic_time() < deadline)
        ;
    cr_assert_eq(committed_offset(k.bootstrap, "dg", "gone", 0), 2);
    real_kafka_delete_topic(&k, "gone");
    cr_assert(wait_warning("topic gone no longer exists"), "%s", kafka_warnings->str);
    wait_assigned(ds, 1);
    produce_range(k.bootstrap, "keep", 0, "k", 2, 4);
    kafka_run_batch(ssc, ds, 2, EM_SECONDS(2));
    produce_range(k.bootstrap, "keep", 0, "k", 4, 5);
    kafka_run_batch(ssc, ds, 1, EM_SECONDS(3));
    watchdog w;
    watchdog_arm(&w, &k, "em_ssc_free after the deletion of topic gone", 60);
    em_ssc_free(ssc);
    watchdog_disarm(&w);
    g_mutex_lock(&kafka_warnings_lock);
    int named = count_occurrences(kafka_warnings->str, "topic gone no longer exists");
    g_mutex_unlock(&kafka_warnings_lock);
    cr_assert_eq(named, 1, "%s", kafka_warnings->str);
    cr_assert_str_eq(l.ranges[1], "keep[0]:2-4/2");
    cr_assert_str_eq(l.text[1], "[(k2,k2), (k3,k3)]");
    cr_assert_not(l.failed[1]);
    cr_assert_str_eq(l.ranges[2], "keep[0]:4-5/1");
    cr_assert_not(l.failed[2]);
    /* The close committed what the last batches processed of the topic that stayed. */
    cr_assert_eq(committed_offset(k.bootstrap, "dg", "keep", 0), 5);
    kafka_log_clear(&l);
    real_kafka_stop(&k);
}

/* The topic is created again while the stream runs: the group assigns its partition again, it
 * is read from its (new) log start (Kafka dropped the group's offsets of the deleted topic),
 * and stop+free still returns: the old partition object's queue is emptied too. */
Test(kafka_real, a_topic_deleted_and_created_again_is_read_again_and_the_stream_stops)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "keep", 1);
    real_kafka_create_topic(&k, "gone", 1);
    produce_range(k.bootstrap, "keep", 0, "k", 0, 1);
    produce_range(k.bootstrap, "gone", 0, "g", 0, 2);
    capture_warnings();
    em_ssc *ssc = manual_ssc();
    em_dstream *ds =
        em_kafka_direct_stream(ssc,
                               &(em_kafka_opts){.brokers = k.bootstrap,
                                                .group_id = "dg",
                                                .topics = "keep,gone",
                                                .start = EM_KAFKA_EARLIEST,
                                                .params =
                                                    (const char
                                                         *[]){"topic.metadata.refresh.interval.ms",
                                                              "500", NULL}});
    kafka_log l = {0};
    kafka_log_attach(&l, ds);
    ssc_start(ssc);
    wait_assigned(ds, 2);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(1));
    cr_assert_str_eq(l.ranges[0], "gone[0]:0-2/2 keep[0]:0-1/1");
    real_kafka_delete_topic(&k, "gone");
    cr_assert(wait_warning("topic gone no longer exists"), "%s", kafka_warnings->str);
    wait_assigned(ds, 1);
    real_kafka_create_topic(&k, "gone", 1);
    produce_range(k.bootstrap, "gone", 0, "n", 0, 3);
    wait_assigned(ds, 2);
    kafka_run_batch(ssc, ds, 3, EM_SECONDS(2));
    watchdog w;
    watchdog_arm(&w, &k, "em_ssc_free after topic gone was deleted and created again", 60);
    em_ssc_free(ssc);
    watchdog_disarm(&w);
    cr_assert_str_eq(l.ranges[1], "gone[0]:0-3/3 keep[0]:1-1/0");
    cr_assert_str_eq(l.text[1], "[(k0,n0), (k1,n1), (k2,n2)]");
    kafka_log_clear(&l);
    real_kafka_stop(&k);
}
