/* The receivers' write-ahead log (em_ssc_opts.receiver_wal) in one process: records count as
 * stored once logged, a restart gives the batches generated but not completed their blocks
 * again and the next batch the blocks no batch took, covered segments are deleted, and damaged
 * segments are reported naming the file. The kill -9 proof with a socket is test-wal-kill.c. */
#include "receiver-fixture.h"
#include "wal.h"

#include <fcntl.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <unistd.h>

/* A receiver that stores the records the test pushes (em_value_parse's text); "!commit" makes
 * them durable; "" (from on_stop) wakes it to see the stop. */
typedef struct pushed {
    GAsyncQueue *cmds;
    gint handled; /* commands done */
} pushed;

static void pushed_start(em_receiver *r, void *ud)
{
    pushed *p = ud;
    while (!em_receiver_is_stopped(r)) {
        char *cmd = g_async_queue_pop(p->cmds);
        em_value v;
        bool ok = true;
        if (strcmp(cmd, "!commit") == 0)
            ok = em_receiver_commit(r, NULL);
        else if (*cmd && em_value_parse(cmd, em_scratch(), &v, NULL))
            em_receiver_store(r, v);
        cr_assert(ok, "the commit failed");
        em_scratch_reset();
        if (*cmd)
            g_atomic_int_inc(&p->handled);
        g_free(cmd);
    }
}

static void pushed_stop(em_receiver *r, void *ud)
{
    (void)r;
    g_async_queue_push(((pushed *)ud)->cmds, g_strdup(""));
}

static const em_receiver_funcs pushed_funcs = {.name = "PushedReceiver",
                                               .on_start = pushed_start,
                                               .on_stop = pushed_stop};

static char *tmp;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static GString *warnings;
static GMutex warnings_lock;

static GLogWriterOutput keep_warnings(GLogLevelFlags level, const GLogField *fields, gsize n,
                                      gpointer ud)
{
    if (!(level & G_LOG_LEVEL_WARNING))
        return g_log_writer_default(level, fields, n, ud);
    g_mutex_lock(&warnings_lock);
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_string_append_printf(warnings, "%s\n", (const char *)fields[i].value);
    g_mutex_unlock(&warnings_lock);
    return G_LOG_WRITER_HANDLED;
}

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-rwal-XXXXXX", NULL);
    cr_assert(tmp);
    warnings = g_string_new(NULL);
    g_log_set_writer_func(keep_warnings, NULL, NULL);
}

static void teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
}

TestSuite(receiver_wal, .init = setup, .fini = teardown);

/* One run of the program: the receiver's batches and a running count of its records (a
 * state checkpointed every 2 s, so batch 3000 is never in a checkpoint), recovered from ck. */
typedef struct run {
    em_ssc *ssc;
    em_dstream *ds;
    pushed p;
    collected out;
} run;

static em_value count_records(em_value key, const em_value *values, size_t n, em_value state,
                              em_time t, void *ud)
{
    (void)key, (void)values, (void)t, (void)ud;
    return em_int((em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state)) + (int64_t)n);
}

static em_value to_one_key(em_value v, void *ud)
{
    (void)v, (void)ud;
    return em_pair(em_str("n"), em_int(1));
}

static em_ssc *create(bool recovering, void *ud)
{
    (void)recovering;
    run *r = ud;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "ReceiverWal",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .receiver_wal = true},
                                  NULL);
    r->ds = em_receiver_stream(ssc, &pushed_funcs, &r->p, NULL);
    collect(r->ds, &r->out);
    em_dstream *count = em_update_state_by_key(em_map(r->ds, to_one_key), count_records);
    em_dstream_checkpoint(count, EM_SECONDS(2));
    em_print(count);
    return ssc;
}

static char *ck_dir(void) { return g_build_filename(tmp, "ck", NULL); }

static char *log_dir(void)
{
    return g_build_filename(tmp, "ck", "inputs", "receiverStream-0", NULL);
}

/* Builds (or recovers) the program; err gets a failed start. */
static bool begin(run *r, GError **err)
{
    *r = (run){0};
    r->p.cmds = g_async_queue_new_full(g_free);
    collected_init(&r->out);
    g_autofree char *dir = ck_dir();
    r->ssc = em_ssc_get_or_create(dir, create, r, NULL, err);
    cr_assert(r->ssc, "%s", err && *err ? (*err)->message : "");
    return em_ssc_start(r->ssc, err);
}

static void end(run *r)
{
    em_ssc_stop(r->ssc, EM_STOP_DEFAULT); /* batches not run yet are dropped, as in a crash */
    em_ssc_free(r->ssc);
    collected_clear(&r->out);
    g_async_queue_unref(r->p.cmds);
}

static void push(run *r, const char *cmd) { g_async_queue_push(r->p.cmds, g_strdup(cmd)); }

/* Waits (bounded) until the receiver has done the first n commands pushed in this run. */
static void wait_handled(run *r, int n)
{
    gint64 deadline = g_get_monotonic_time() + IO_TIMEOUT_MS * 1000;
    while (g_atomic_int_get(&r->p.handled) < n && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    cr_assert_eq(g_atomic_int_get(&r->p.handled), n);
}

static void assert_batches(run *r, const char *expected)
{
    g_autofree char *got = batches_text(&r->out);
    cr_assert_str_eq(got, expected);
}

/* The first run: batches 1000 [1, 2] and 2000 [3] (checkpointed), 3000 [4, 5] (generated and
 * completed, in no checkpoint), then 6 and 7 logged and in no batch. */
static void first_run(void)
{
    run r;
    cr_assert(begin(&r, NULL));
    cr_assert_eq(em_ssc_recovered_time(r.ssc), -1);
    push(&r, "1"), push(&r, "2"), push(&r, "!commit");
    wait_handled(&r, 3);
    step(r.ssc);
    push(&r, "3"), push(&r, "!commit");
    wait_handled(&r, 5);
    step(r.ssc);
    push(&r, "4"), push(&r, "5"), push(&r, "!commit");
    wait_handled(&r, 8);
    step(r.ssc);
    push(&r, "6"), push(&r, "!commit"), push(&r, "7"), push(&r, "!commit");
    wait_handled(&r, 12);
    cr_assert_eq(em_receiver_stream_records(r.ds), 7);
    assert_batches(&r, "[1, 2]\n[3]\n[4, 5]\n");
    end(&r);
}

Test(receiver_wal, a_record_counts_as_stored_once_it_is_logged)
{
    run r;
    cr_assert(begin(&r, NULL));
    push(&r, "1"), push(&r, "2"), push(&r, "!commit"), push(&r, "3");
    wait_handled(&r, 4);
    /* "3" is stored in the current block but not logged: it does not count yet. The batch's
     * seal logs it, and then it counts. */
    cr_assert_eq(em_receiver_stream_records(r.ds), 2);
    step(r.ssc);
    cr_assert_eq(em_receiver_stream_records(r.ds), 3);
    assert_batches(&r, "[1, 2, 3]\n");
    g_autofree char *dir = log_dir();
    em_wal *wal = em__wal_open(dir, NULL, NULL);
    cr_assert(wal, "the log is under the checkpoint directory: %s", dir);
    /* Chunk [1, 2], chunk [3], batch 1000's allocation. */
    cr_assert_eq(em__wal_last_seq(wal), 3);
    em__wal_close(wal);
    end(&r);
}

Test(receiver_wal, a_restart_runs_unfinished_batches_on_their_own_blocks_and_loses_none)
{
    first_run();
    run r;
    cr_assert(begin(&r, NULL));
    cr_assert_eq(em_ssc_recovered_time(r.ssc), 2000);
    /* Batch 3000 runs again on exactly [4, 5]; 6 and 7, logged before the crash and in no
     * batch, are batch 4000's with what arrives now. */
    step(r.ssc);
    push(&r, "8"), push(&r, "!commit");
    wait_handled(&r, 2);
    step(r.ssc);
    assert_batches(&r, "[4, 5]\n[6, 7, 8]\n");
    cr_assert_eq(em_receiver_stream_records(r.ds), 1, "replayed records were stored before");
    end(&r);
}

Test(receiver_wal, a_torn_last_record_is_cut_off_with_a_warning_and_nothing_before_it_lost)
{
    first_run();
    g_autofree char *dir = log_dir();
    em_wal *wal = em__wal_open(dir, NULL, NULL);
    GPtrArray *segments = em__wal_segments(wal);
    em__wal_close(wal);
    cr_assert_eq(segments->len, 1);
    const char *segment = segments->pdata[0];
    /* The last record is chunk [7]: a crash in the middle of its append. */
    GStatBuf sb;
    cr_assert_eq(g_stat(segment, &sb), 0);
    cr_assert_eq(truncate(segment, sb.st_size - 3), 0);
    run r;
    cr_assert(begin(&r, NULL));
    step(r.ssc);
    step(r.ssc);
    assert_batches(&r, "[4, 5]\n[6]\n");
    g_mutex_lock(&warnings_lock);
    cr_assert(strstr(warnings->str, segment) && strstr(warnings->str, "truncated record"), "%s",
              warnings->str);
    g_mutex_unlock(&warnings_lock);
    g_ptr_array_unref(segments);
    end(&r);
}

/* Flips one byte of the file at offset from its end. */
static void flip(const char *path, off_t from_end)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    off_t at = lseek(fd, -from_end, SEEK_END);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

Test(receiver_wal, a_damaged_older_segment_fails_the_start_naming_it)
{
    first_run();
    /* A second run writes a segment of its own, then stops before any checkpoint covers the
     * first one's batch 3000. */
    run r;
    cr_assert(begin(&r, NULL));
    push(&r, "8"), push(&r, "!commit");
    wait_handled(&r, 2);
    end(&r);
    g_autofree char *dir = log_dir();
    em_wal *wal = em__wal_open(dir, NULL, NULL);
    GPtrArray *segments = em__wal_segments(wal);
    em__wal_close(wal);
    cr_assert_eq(segments->len, 2);
    flip(segments->pdata[0], 6);
    GError *err = NULL;
    cr_assert_not(begin(&r, &err));
    cr_assert(err && strstr(err->message, segments->pdata[0]) &&
                  strstr(err->message, "CRC32 mismatch"),
              "%s", err ? err->message : "no error");
    g_error_free(err);
    g_ptr_array_unref(segments);
    end(&r);
}

Test(receiver_wal, segments_go_once_a_written_checkpoint_covers_their_batches)
{
    first_run();
    run r;
    cr_assert(begin(&r, NULL));
    g_autofree char *dir = log_dir();
    for (int k = 0; k < 3; k++) {
        push(&r, "9"), push(&r, "!commit");
        wait_handled(&r, 2 * (k + 1));
        step(r.ssc); /* 3000 (replayed), 4000 (checkpointed), 5000 */
    }
    /* The first run's segment holds batches up to 3000 and 6, 7 (batch 4000's): the first seal
     * after the checkpoint of 4000 is written deletes it. */
    em_checkpoint_figures f;
    gint64 deadline = g_get_monotonic_time() + IO_TIMEOUT_MS * 1000;
    for (;;) {
        em_ssc_checkpoint_figures(r.ssc, &f);
        if (f.last_time >= 4000 || g_get_monotonic_time() > deadline)
            break;
        g_usleep(1000);
    }
    cr_assert_eq(f.last_time, 4000);
    step(r.ssc); /* 6000: its seal cleans */
    GDir *d = g_dir_open(dir, 0, NULL);
    cr_assert(d);
    int n = 0;
    while (g_dir_read_name(d))
        n++;
    g_dir_close(d);
    cr_assert_eq(n, 1, "only the segment being written is left");
    assert_batches(&r, "[4, 5]\n[6, 7, 9, 9]\n[9]\n[]\n");
    end(&r);
}

Test(receiver_wal, the_log_needs_a_checkpoint_directory)
{
    pushed p = {.cmds = g_async_queue_new_full(g_free)};
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .receiver_wal = true},
                                  NULL);
    em_print(em_receiver_stream(ssc, &pushed_funcs, &p, NULL));
    GError *err = NULL;
    cr_assert_not(em_ssc_start(ssc, &err));
    cr_assert_str_eq(err->message,
                     "receiverStream: the receivers' write-ahead log (em_ssc_opts.receiver_wal) "
                     "needs a checkpoint directory: call em_ssc_checkpoint() or use "
                     "em_ssc_get_or_create()");
    g_error_free(err);
    em_ssc_free(ssc);
    g_async_queue_unref(p.cmds);
}
