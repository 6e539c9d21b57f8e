/* Kafka offsets in checkpoints (issue 10): a direct stream recovered from a checkpoint resumes
 * at the checkpointed offsets, not at its group's committed ones, and a batch generated before
 * a kill -9 runs again with exactly the offset range it had (Spark's
 * DirectKafkaInputDStreamCheckpointData), whether the checkpoint or the stream's journal
 * recorded it. The stream commits nothing (commit NONE) and starts at the log end: without the
 * checkpoint every restart would skip what was produced before it. */
#include "checkpoint-file.h"
#include "kafka-real.h"

#include <glib/gstdio.h>
#include <sys/prctl.h>

typedef struct ckpt_app {
    const char *brokers;
    const char *dir;
    bool subscribe; /* else assign t[0] (at the committed offset, else the log end) */
    em_dstream *ds;
    kafka_log *log; /* the parent's run logs its batches */
    /* The child's run: batch 1's output waits for gate_open, batch 2's output reports "ready"
     * on ready_fd once checkpoint `ready_after` is written, then waits to be killed. */
    int ready_fd;
    em_time ready_after;
    GMutex gate_lock;
    GCond gate_cond;
    bool gate_open;
} ckpt_app;

static bool child_output(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)err;
    ckpt_app *a = ud;
    if (t == EM_SECONDS(1)) {
        g_mutex_lock(&a->gate_lock);
        while (!a->gate_open)
            g_cond_wait(&a->gate_cond, &a->gate_lock);
        g_mutex_unlock(&a->gate_lock);
        return true;
    }
    em_ssc *ssc = em_dstream_ssc(a->ds);
    em_checkpoint_figures f;
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    do
        em_ssc_checkpoint_figures(ssc, &f);
    while (f.last_time < a->ready_after && g_get_monotonic_time() < deadline &&
           (g_usleep(1000), true));
    if (write(a->ready_fd, f.last_time >= a->ready_after ? "ready\n" : "late\n", 6) != 6)
        _exit(3);
    for (;;)
        pause(); /* killed here, in the middle of batch 2 */
}

static em_ssc *create(bool recovering, void *ud)
{
    (void)recovering;
    ckpt_app *a = ud;
    em_ssc *ssc = manual_ssc();
    em_ssc_checkpoint(ssc, a->dir);
    GError *err = NULL;
    /* A member killed with SIGKILL stays in its group for session.timeout.ms: kept short. */
    static const char *const params[] = {"session.timeout.ms", "1000", "heartbeat.interval.ms",
                                         "100", NULL};
    static const em_kafka_tp t0[] = {{"t", 0, -1}};
    em_kafka_opts o = {.brokers = a->brokers,
                       .group_id = "ckpt",
                       .start = EM_KAFKA_LATEST,
                       .commit = EM_KAFKA_COMMIT_NONE};
    if (a->subscribe) {
        o.topics = "t";
        o.params = params;
    } else {
        o.assign = t0;
        o.n_assign = 1;
    }
    a->ds = em_kafka_direct_stream_full(ssc, &o, &err);
    g_assert_no_error(err);
    if (a->log)
        kafka_log_attach(a->log, a->ds);
    else
        em_foreach_rdd_full(a->ds, child_output, a, NULL, "log");
    return ssc;
}

static em_ssc *open_app(ckpt_app *a)
{
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(a->dir, create, a, NULL, &err);
    cr_assert_not_null(ssc, "%s", err ? err->message : "");
    return ssc;
}

/* In the forked child, a failed check ends it at once with status 2 (the test then sees no
 * "ready" and fails). */
#define CHILD_CHECK(cond)                                                                         \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            g_printerr("%s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
            _exit(2);                                                                             \
        }                                                                                         \
    } while (0)

static void child_produce(const char *brokers, int from, int to)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHILD_CHECK(!rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    CHILD_CHECK(rk);
    for (int i = from; i < to; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        CHILD_CHECK(!rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY(k, strlen(k)),
                                       RD_KAFKA_V_VALUE(v, strlen(v)), RD_KAFKA_V_END));
    }
    CHILD_CHECK(rd_kafka_flush(rk, KAFKA_TIMEOUT_MS) == 0);
    rd_kafka_destroy(rk);
}

/* Waits until the stream has sealed batch t (its ranges are fixed). */
static void child_wait_sealed(em_dstream *ds, em_time t)
{
    em_kafka_offset_range *r = NULL;
    size_t n = 0;
    gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
    while (!em__kafka_stream_batch_ranges(ds, t, &r, &n)) {
        CHILD_CHECK(g_get_monotonic_time() < deadline);
        g_usleep(1000);
    }
    g_free(r);
}

/* The first run, in a child process killed with SIGKILL during batch 2: messages 0..3 go to
 * batch 1 and 3..5 to batch 2. With pending_in_checkpoint, batch 2 is generated before batch 1
 * completes, so checkpoint 1 lists it as pending; otherwise it is generated after checkpoint 1
 * is written and only the journal has its range. Returns when the child is dead. */
static void crashed_first_run(const char *brokers, const char *dir, bool pending_in_checkpoint,
                              bool subscribe)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* The child never returns to Criterion: it reports through the pipe or dies, and
         * dies with the test if the test fails first. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        ckpt_app a = {.brokers = brokers, .dir = dir, .subscribe = subscribe, .ready_fd = fds[1]};
        g_mutex_init(&a.gate_lock);
        g_cond_init(&a.gate_cond);
        a.gate_open = !pending_in_checkpoint;
        a.ready_after = EM_SECONDS(1);
        GError *err = NULL;
        em_ssc *ssc = em_ssc_get_or_create(a.dir, create, &a, NULL, &err);
        CHILD_CHECK(ssc && em_ssc_start(ssc, NULL));
        em_kafka_stream_stats s = {0};
        gint64 deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
        while (em_kafka_stream_stats_get(a.ds, &s) && s.assigned != 1) {
            CHILD_CHECK(g_get_monotonic_time() < deadline);
            g_usleep(1000);
        }
        child_produce(brokers, 0, 3);
        CHILD_CHECK(em__kafka_stream_wait_buffered(a.ds, 3, KAFKA_TIMEOUT_MS));
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        child_wait_sealed(a.ds, EM_SECONDS(1));
        if (!pending_in_checkpoint) { /* checkpoint 1 is written before batch 2 exists */
            em_checkpoint_figures f;
            deadline = g_get_monotonic_time() + KAFKA_TIMEOUT_MS * 1000;
            for (em_ssc_checkpoint_figures(ssc, &f); f.last_time < EM_SECONDS(1);
                 em_ssc_checkpoint_figures(ssc, &f)) {
                CHILD_CHECK(g_get_monotonic_time() < deadline);
                g_usleep(1000);
            }
        }
        child_produce(brokers, 3, 5);
        CHILD_CHECK(em__kafka_stream_wait_buffered(a.ds, 2, KAFKA_TIMEOUT_MS));
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        child_wait_sealed(a.ds, EM_SECONDS(2));
        g_mutex_lock(&a.gate_lock);
        a.gate_open = true;
        g_cond_broadcast(&a.gate_cond);
        g_mutex_unlock(&a.gate_lock);
        for (;;)
            pause();
    }
    close(fds[1]);
    char line[16] = "";
    cr_assert(fixture_read_line(fds[0], line, sizeof line, 3 * KAFKA_TIMEOUT_MS),
              "the first run never reached batch 2");
    cr_assert_str_eq(line, "ready");
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(fds[0]);
}

/* After the crash: batch 2 runs again with [3, 5) although 5..8 were produced meanwhile, and
 * batch 3 takes [5, 8). */
static void recovered_run(const char *brokers, const char *dir, bool subscribe)
{
    produce_range(brokers, "t", 0, "v", 5, 8);
    kafka_log l = {0};
    ckpt_app a = {.brokers = brokers, .dir = dir, .subscribe = subscribe, .log = &l};
    em_ssc *ssc = open_app(&a);
    cr_assert_eq(em_ssc_recovered_time(ssc), EM_SECONDS(1));
    ssc_start(ssc);
    kafka_run_batch(ssc, a.ds, 0, EM_SECONDS(2));
    kafka_run_batch(ssc, a.ds, 3, EM_SECONDS(3));
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    em_ssc_free(ssc);
    cr_assert_null(l.text[0], "batch 1 completed before the crash: it is not run again");
    cr_assert_str_eq(l.ranges[1], "t[0]:3-5/2");
    cr_assert_str_eq(l.text[1], "[(k3,v3), (k4,v4)]");
    cr_assert_str_eq(l.ranges[2], "t[0]:5-8/3");
    cr_assert_str_eq(l.text[2], "[(k5,v5), (k6,v6), (k7,v7)]");
    kafka_log_clear(&l);
}

static char *remove_tree(char *dir)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    g_free(dir);
    return NULL;
}

Test(kafka_checkpoint, a_restart_resumes_at_the_checkpointed_offsets_not_the_groups)
{
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    capture_warnings();
    char *dir = g_dir_make_tmp("ember-kafka-ckpt-XXXXXX", NULL);
    kafka_log l1 = {0}, l2 = {0};
    ckpt_app a = {.brokers = b.bootstrap, .dir = dir, .log = &l1};
    em_ssc *ssc = open_app(&a);
    ssc_start(ssc);
    wait_assigned(a.ds, 1);
    produce_range(b.bootstrap, "t", 0, "v", 0, 3);
    kafka_run_batch(ssc, a.ds, 3, EM_SECONDS(1));
    produce_range(b.bootstrap, "t", 0, "v", 3, 5);
    kafka_run_batch(ssc, a.ds, 2, EM_SECONDS(2));
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    em_ssc_free(ssc);
    cr_assert_str_eq(l1.ranges[1], "t[0]:3-5/2");
    /* Produced while the program is down: a start at the log end would skip them. */
    produce_range(b.bootstrap, "t", 0, "v", 5, 8);
    a = (ckpt_app){.brokers = b.bootstrap, .dir = dir, .log = &l2};
    ssc = open_app(&a);
    cr_assert_eq(em_ssc_recovered_time(ssc), EM_SECONDS(2));
    ssc_start(ssc);
    kafka_run_batch(ssc, a.ds, 3, EM_SECONDS(3));
    em_ssc_free(ssc);
    cr_assert_str_eq(l2.ranges[2], "t[0]:5-8/3");
    cr_assert_str_eq(l2.text[2], "[(k5,v5), (k6,v6), (k7,v7)]");
    /* Nothing was committed: the position came from the checkpoint alone. */
    cr_assert_eq(committed_offset(b.bootstrap, "ckpt", "t", 0), RD_KAFKA_OFFSET_INVALID);
    kafka_log_clear(&l1);
    kafka_log_clear(&l2);
    dir = remove_tree(dir);
    mock_broker_stop(&b);
}

Test(kafka_checkpoint, kill_9_reruns_the_checkpoints_pending_batch_with_its_exact_range)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "t", 1);
    char *dir = g_dir_make_tmp("ember-kafka-ckpt-XXXXXX", NULL);
    crashed_first_run(k.bootstrap, dir, true, false);
    /* Without the journal, the checkpoint's record of the pending batch is all there is. */
    g_autofree char *inputs = g_build_filename(dir, "inputs", NULL);
    inputs = remove_tree(g_steal_pointer(&inputs));
    recovered_run(k.bootstrap, dir, false);
    dir = remove_tree(dir);
    real_kafka_stop(&k);
}

/* Subscribed: the restarted member is assigned the partition by the group, and the
 * checkpoint's position still wins over the group's (absent) commit. */
Test(kafka_checkpoint, kill_9_reruns_a_batch_generated_after_the_checkpoint_from_the_journal)
{
    real_kafka k = {0};
    real_kafka_start(&k);
    real_kafka_create_topic(&k, "t", 1);
    char *dir = g_dir_make_tmp("ember-kafka-ckpt-XXXXXX", NULL);
    crashed_first_run(k.bootstrap, dir, false, true);
    recovered_run(k.bootstrap, dir, true);
    dir = remove_tree(dir);
    real_kafka_stop(&k);
}

Test(kafka_checkpoint, a_corrupt_position_is_refused_naming_the_stream)
{
    /* A checkpoint whose Kafka position is not offsets: recovery fails, it does not guess. */
    mock_broker b = mock_broker_start((const char *[]){"t:1", NULL});
    em_ssc *ssc = manual_ssc();
    em_dstream *ds = em_kafka_direct_stream(ssc, &(em_kafka_opts){.brokers = b.bootstrap,
                                                                  .group_id = "g",
                                                                  .topics = "t"});
    em_ckpt *ck = em__ckpt_new("x", 1, EM_SECONDS(1));
    em__ckpt_put_position(ck, "createDirectStream-0", "\x01\x02\x03", 3);
    GError *err = NULL;
    cr_assert_not(
        ds->klass->checkpoint_restore(ds, ck, "createDirectStream-0", EM_SECONDS(1), &err));
    cr_assert_not_null(err);
    cr_assert(strstr(err->message, "Kafka direct stream") != NULL, "%s", err->message);
    g_error_free(err);
    em__ckpt_free(ck);
    em_ssc_free(ssc);
    mock_broker_stop(&b);
}
