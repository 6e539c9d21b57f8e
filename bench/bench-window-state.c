/* bench-window-state: the cost per batch of windows and state, driven on the manual clock as
 * fast as batches process. Input comes from pre-built RDDs through a queue stream, so only the
 * streaming operators are timed. Prints figures; bench/run-window-state compares them.
 *
 *   bench-window-state window WINDOW_BATCHES inv|noinv|batch RECORDS KEYS [MEASURED] [MASTER]
 *   bench-window-state state KEYS TOUCHED [MEASURED] [MASTER]
 *
 * window: reduceByKeyAndWindow(sum[, subtract], W = WINDOW_BATCHES * S, S) over RECORDS (key, 1)
 * records a batch drawn uniformly from KEYS keys. Warms up for 64 + 8 batches (the window is
 * full), then times MEASURED batches (default 50). The last window is checked key by key.
 * batch: reduceByKey per batch alone, the part of the work both forms share.
 * state: mapWithState (a running count) filled with KEYS keys by a first batch holding each
 * once, then MEASURED batches (default 50, after 5 warm-up) touching TOUCHED random existing
 * keys each. Reports the state's bytes per key and the process RSS growth per key.
 * Each measured batch is timed from the clock advance to its completion, in wall-clock time and
 * in CPU time of all the process's threads; the run prints their median, p90, mean, min, max.
 * With EMBER_BENCH_CHECKPOINT=DIR (state only) a checkpoint follows every batch; the figures
 * then add "own": the process's CPU time minus the checkpoint writer thread's in the same
 * window (the batch's own cost, the hand-over included), and the writer's CPU per checkpoint. */
#include <ember.h>

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MS 1000
#define WARM_WINDOW (64 + 8)
#define WARM_STATE 5
#define N_INPUTS 16 /* distinct pre-built window inputs, used in turn */
#define WAIT_MS (10 * 60 * 1000)

static em_value key_name(em_arena *arena, int64_t k)
{
    char name[16];
    int n = snprintf(name, sizeof name, "k%07lld", (long long)k);
    return em_str_dup_in(arena, name, (size_t)n);
}

/* The index back from "k0001234". */
static int64_t key_index(em_value key)
{
    int64_t k = 0;
    for (size_t i = 1; i < em_str_len(key); i++)
        k = k * 10 + (em_str_ptr(key)[i] - '0');
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One batch's cost in ms: wall clock, and CPU time of all the process's threads (which other
 * processes on a loaded machine disturb less). */
typedef struct {
    double wall, cpu, own;
} batch_time;

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

/* The CPU clock of the checkpoint writer thread ("em-checkpoint"), found by its name among the
 * process's threads; Linux encodes a thread's CPU clock id from its tid as glibc's
 * pthread_getcpuclockid does. false when there is no such thread. */
static bool writer_clock(clockid_t *id)
{
    DIR *d = opendir("/proc/self/task");
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        found = fgets(comm, sizeof comm, f) && strncmp(comm, "em-checkpoint", 13) == 0;
        fclose(f);
        if (found)
            *id = (clockid_t)((~(unsigned)atoi(e->d_name) << 3) | 6); /* per thread, sched */
    }
    if (d)
        closedir(d);
    return found;
}

static bool have_writer;
static clockid_t writer_id;

static double writer_ms(void) { return have_writer ? clock_ms(writer_id) : 0; }

/* Prints median, p90 (nearest rank), mean, min and max of n figures as NAME_median_ms=... */
static void print_stats(const char *name, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    int p90 = (9 * n + 9) / 10 - 1;
    printf(" %s_median_ms=%.3f %s_p90_ms=%.3f %s_mean_ms=%.3f %s_min_ms=%.3f %s_max_ms=%.3f", name,
           median, name, ms[p90], name, sum / n, name, ms[0], name, ms[n - 1]);
}

static void print_times(const batch_time *times, int n)
{
    double *wall = g_new(double, n), *cpu = g_new(double, n), *own = g_new(double, n);
    for (int i = 0; i < n; i++) {
        wall[i] = times[i].wall;
        cpu[i] = times[i].cpu;
        own[i] = times[i].own;
    }
    printf("batches=%d", n);
    print_stats("wall", wall, n);
    print_stats("cpu", cpu, n);
    if (have_writer)
        print_stats("own", own, n);
    printf("\n");
    g_free(wall);
    g_free(cpu);
    g_free(own);
}

/* Runs the batch at t and returns what it took, from the clock advance to its completion. */
static batch_time run_batch(em_ssc *ssc, em_time t)
{
    int64_t start = g_get_monotonic_time();
    double cpu = cpu_ms(), writer = writer_ms();
    em_ssc_advance_clock(ssc, BATCH_MS);
    if (!em_ssc_wait_for_batch(ssc, t, WAIT_MS)) {
        fprintf(stderr, "batch %lld did not complete\n", (long long)t);
        exit(1);
    }
    double used = cpu_ms() - cpu;
    return (batch_time){(double)(g_get_monotonic_time() - start) / 1000.0, used,
                        used - (writer_ms() - writer)};
}

static bool check_failure(em_ssc *ssc)
{
    GError *err = NULL;
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    if (!em_ssc_await_termination(ssc, &err)) {
        fprintf(stderr, "%s\n", err->message);
        g_error_free(err);
        return false;
    }
    return true;
}

static int64_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* ---- reduceByKeyAndWindow ---- */

typedef struct {
    int64_t keys;
    int64_t *counts[N_INPUTS]; /* per input: records of each key */
    int64_t last;              /* batches in the window at the checked batch */
    int first_input;           /* the oldest input in that window */
    bool check, checked;
    int64_t window_keys; /* keys in the checked window (value != 0) */
} window_bench;

static bool on_window(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t;
    window_bench *wb = ud;
    if (!wb->check)
        return em_rdd_count(rdd, err) >= 0;
    g_autoptr(em_values) out = em_rdd_collect(rdd, err);
    if (!out)
        return false;
    g_autofree int64_t *expected = g_new0(int64_t, wb->keys);
    int64_t nonzero = 0, seen = 0;
    for (int64_t b = 0; b < wb->last; b++)
        for (int64_t k = 0; k < wb->keys; k++)
            expected[k] += wb->counts[(wb->first_input + b) % N_INPUTS][k];
    for (int64_t k = 0; k < wb->keys; k++)
        nonzero += expected[k] != 0;
    for (size_t i = 0; i < out->n; i++) {
        int64_t v = em_as_int(em_val(out->items[i]));
        if (v != expected[key_index(em_key(out->items[i]))]) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "window check: key %lld has %lld",
                        (long long)key_index(em_key(out->items[i])), (long long)v);
            return false;
        }
        seen += v != 0;
    }
    wb->window_keys = seen;
    wb->checked = seen == nonzero;
    return true;
}

/* how: "inv", "noinv", or "batch" for reduceByKey per batch alone (the floor of both). */
static int bench_window(int window_batches, const char *how, int64_t records, int64_t keys,
                        int measured, const char *master)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = master,
                                                 .app_name = "bench-window",
                                                 .batch_interval = BATCH_MS,
                                                 .manual_clock = true},
                                  NULL);
    if (!ssc)
        return 2;
    window_bench wb = {.keys = keys};
    em_rdd *inputs[N_INPUTS];
    em_arena *arena = em_arena_new();
    em_value *names = g_new(em_value, keys);
    for (int64_t k = 0; k < keys; k++)
        names[k] = key_name(arena, k);
    em_value *recs = g_new(em_value, records);
    GRand *rand = g_rand_new_with_seed(42);
    for (int i = 0; i < N_INPUTS; i++) {
        wb.counts[i] = g_new0(int64_t, keys);
        for (int64_t r = 0; r < records; r++) {
            int64_t k = g_rand_int_range(rand, 0, (gint32)keys);
            wb.counts[i][k]++;
            recs[r] = em_pair_in(arena, names[k], em_int(1));
        }
        inputs[i] = em_parallelize(em_ssc_context(ssc), recs, (size_t)records, 0);
    }
    g_free(recs);
    em_arena_free(arena);

    em_rdd_queue *queue = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    bool batch_only = strcmp(how, "batch") == 0, inverse = strcmp(how, "inv") == 0;
    if (batch_only)
        window_batches = 1;
    em_dstream *win =
        batch_only
            ? em_reduce_by_key_full(in, em_sum, NULL, NULL, "sum", 0)
            : em_reduce_by_key_and_window_full(in,
                                               &(em_reduce_window_spec){.fn = em_sum,
                                                                        .inv = inverse
                                                                                   ? em_subtract
                                                                                   : NULL,
                                                                        .window =
                                                                            (em_duration)
                                                                                window_batches *
                                                                            BATCH_MS,
                                                                        .slide = BATCH_MS,
                                                                        .name = "sum"});
    em_foreach_rdd_full(win, on_window, &wb, NULL, "count");
    GError *err = NULL;
    if (!em_ssc_start(ssc, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    int total = WARM_WINDOW + measured + 1;
    batch_time *ms = g_new(batch_time, measured);
    for (int b = 1; b <= total; b++) {
        em_rdd_queue_push(queue, inputs[(b - 1) % N_INPUTS]);
        if (b == total) { /* the last batch is checked, not timed */
            wb.check = true;
            wb.last = MIN(b, window_batches);
            wb.first_input = (b - (int)wb.last) % N_INPUTS;
        }
        batch_time t = run_batch(ssc, (em_time)b * BATCH_MS);
        if (b > WARM_WINDOW && b < total)
            ms[b - WARM_WINDOW - 1] = t;
    }
    int status = check_failure(ssc) && wb.checked ? 0 : 1;
    printf("op=%s master=%s window_batches=%d inverse=%s records=%lld keys=%lld "
           "window_keys=%lld check=%s\n",
           batch_only ? "reduceByKey" : "reduceByKeyAndWindow", master, window_batches,
           inverse ? "yes" : "no", (long long)records, (long long)keys, (long long)wb.window_keys,
           status ? "FAILED" : "ok");
    print_times(ms, measured);
    g_free(ms);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
    for (int i = 0; i < N_INPUTS; i++) {
        em_rdd_unref(inputs[i]);
        g_free(wb.counts[i]);
    }
    g_free(names);
    g_rand_free(rand);
    return status;
}

/* ---- mapWithState ---- */

typedef struct {
    int64_t *touched;  /* per key: its records over the whole run, host side */
    int64_t last_keys; /* distinct keys in the last batch */
    bool check, checked;
} state_bench;

/* A running count per key, returned as (key, count). */
static em_value running_count(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)ud;
    int64_t n = em_as_int(value) + (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_state_update(state, em_int(n));
    return em_pair(key, em_int(n));
}

static bool on_mapped(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t;
    state_bench *sb = ud;
    if (!sb->check)
        return em_rdd_count(rdd, err) >= 0;
    g_autoptr(em_values) out = em_rdd_collect(rdd, err);
    if (!out)
        return false;
    /* The last batch: a key's last record carries its total; one touched twice in the batch
     * also reports the count in between. */
    int64_t totals = 0;
    bool in_range = true;
    for (size_t i = 0; i < out->n; i++) {
        int64_t k = key_index(em_key(out->items[i])), v = em_as_int(em_val(out->items[i]));
        in_range = in_range && v >= 2 && v <= sb->touched[k];
        totals += v == sb->touched[k];
    }
    sb->checked = in_range && totals == sb->last_keys;
    return true;
}

static int bench_state(int64_t keys, int64_t touched, int measured, const char *master)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = master,
                                                 .app_name = "bench-state",
                                                 .batch_interval = BATCH_MS,
                                                 .manual_clock = true},
                                  NULL);
    if (!ssc)
        return 2;
    int batches = WARM_STATE + measured;
    state_bench sb = {.touched = g_new(int64_t, keys)};
    em_arena *arena = em_arena_new();
    em_value *names = g_new(em_value, keys);
    em_value *recs = g_new(em_value, keys);
    for (int64_t k = 0; k < keys; k++) {
        names[k] = key_name(arena, k);
        recs[k] = em_pair_in(arena, names[k], em_int(1));
        sb.touched[k] = 1;
    }
    em_rdd *fill = em_parallelize(em_ssc_context(ssc), recs, (size_t)keys, 0);
    em_rdd **inputs = g_new(em_rdd *, batches);
    GRand *rand = g_rand_new_with_seed(7);
    g_autoptr(GHashTable) last = g_hash_table_new(NULL, NULL);
    for (int b = 0; b < batches; b++) {
        for (int64_t r = 0; r < touched; r++) {
            int64_t k = g_rand_int_range(rand, 0, (gint32)keys);
            sb.touched[k]++;
            recs[r] = em_pair_in(arena, names[k], em_int(1));
            if (b == batches - 1)
                g_hash_table_add(last, GINT_TO_POINTER(k + 1));
        }
        inputs[b] = em_parallelize(em_ssc_context(ssc), recs, (size_t)touched, 0);
    }
    g_free(recs);
    sb.last_keys = g_hash_table_size(last);

    em_rdd_queue *queue = em_rdd_queue_new();
    em_dstream *in = em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *mapped =
        em_map_with_state(in, &(em_state_spec){.fn = running_count, .name = "running_count"});
    em_foreach_rdd_full(mapped, on_mapped, &sb, NULL, "count");
    /* EMBER_BENCH_CHECKPOINT=DIR: a checkpoint after every batch, its cost in the batch time
     * (the changed keys are handed over on the batch thread; the writer thread encodes and
     * writes them, and builds the periodic full copy). */
    const char *checkpoint_dir = g_getenv("EMBER_BENCH_CHECKPOINT");
    if (checkpoint_dir && !*checkpoint_dir)
        checkpoint_dir = NULL;
    if (checkpoint_dir) {
        em_ssc_checkpoint(ssc, checkpoint_dir);
        em_dstream_checkpoint(mapped, BATCH_MS);
    }
    GError *err = NULL;
    malloc_trim(0);
    int64_t rss_before = rss_bytes();
    if (!em_ssc_start(ssc, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    em_rdd_queue_push(queue, fill);
    double fill_ms = run_batch(ssc, BATCH_MS).wall;
    /* The writer names itself once it runs. */
    for (int i = 0; checkpoint_dir && !(have_writer = writer_clock(&writer_id)) && i < 1000; i++)
        g_usleep(1000);
    if (checkpoint_dir && !have_writer)
        fprintf(stderr, "no checkpoint writer thread found: no \"own\" figures\n");
    int64_t in_state, bytes;
    em_map_with_state_size(mapped, &in_state, &bytes);
    batch_time *ms = g_new(batch_time, measured);
    for (int b = 0; b < batches; b++) {
        em_rdd_queue_push(queue, inputs[b]);
        sb.check = b == batches - 1;
        batch_time t = run_batch(ssc, (em_time)(b + 2) * BATCH_MS);
        if (b >= WARM_STATE)
            ms[b - WARM_STATE] = t;
    }
    em_map_with_state_size(mapped, &in_state, &bytes);
    malloc_trim(0);
    int64_t rss_after = rss_bytes();
    int status = check_failure(ssc) && sb.checked && in_state == keys ? 0 : 1;
    printf("op=mapWithState master=%s keys=%lld touched=%lld keys_in_state=%lld "
           "state_bytes=%lld bytes_per_key=%.1f rss_delta_bytes_per_key=%.1f fill_ms=%.1f "
           "check=%s\n",
           master, (long long)keys, (long long)touched, (long long)in_state, (long long)bytes,
           (double)bytes / (double)keys, (double)(rss_after - rss_before) / (double)keys, fill_ms,
           status ? "FAILED" : "ok");
    print_times(ms, measured);
    g_free(ms);
    if (checkpoint_dir) {
        em_ssc_stop(ssc, EM_STOP_DEFAULT); /* waits for the writer */
        em_checkpoint_figures f = {0};     /* a library without writer_cpu_us leaves it 0 */
        em_ssc_checkpoint_figures(ssc, &f);
        printf("checkpoints written=%lld failed=%lld last_bytes=%lld last_snapshot_ms=%.3f "
               "last_write_ms=%.1f writer_cpu_ms_per_checkpoint=%.3f\n",
               (long long)f.written, (long long)f.failed, (long long)f.last_bytes,
               f.last_snapshot_us / 1000.0, f.last_write_us / 1000.0,
               f.written ? f.writer_cpu_us / 1000.0 / (double)f.written : 0.0);
    }
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
    em_rdd_unref(fill);
    for (int b = 0; b < batches; b++)
        em_rdd_unref(inputs[b]);
    g_free(inputs);
    g_free(names);
    g_free(sb.touched);
    em_arena_free(arena);
    g_rand_free(rand);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "window") == 0) {
        int measured = argc > 6 ? atoi(argv[6]) : 50;
        return bench_window(atoi(argv[2]), argv[3], atoll(argv[4]), atoll(argv[5]),
                            measured > 0 ? measured : 50, argc > 7 ? argv[7] : "local[2]");
    }
    if (argc >= 4 && strcmp(argv[1], "state") == 0) {
        int measured = argc > 4 ? atoi(argv[4]) : 50;
        return bench_state(atoll(argv[2]), atoll(argv[3]), measured > 0 ? measured : 50,
                           argc > 5 ? argv[5] : "local[2]");
    }
    fprintf(stderr, "usage: bench-window-state window WINDOW_BATCHES inv|noinv|batch RECORDS KEYS "
                    "[MEASURED] [MASTER]\n"
                    "       bench-window-state state KEYS TOUCHED [MEASURED] [MASTER]\n");
    return 2;
}
