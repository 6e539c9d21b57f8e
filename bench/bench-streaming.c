/* bench-streaming: the streaming core's figures, measured on Spark's NetworkWordCount over
 * loopback TCP. An application of the public library (<ember.h> only); bench/run-streaming runs
 * it and compares it with the shared baseline. Figures are printed, never judged pass/fail.
 *
 *   bench-streaming throughput CORPUS [START_WPS]  highest rate with a flat scheduling delay
 *   bench-streaming short CORPUS [BATCHES]         empty 10 ms batches: processing, scheduling
 *   bench-streaming startup CORPUS [RUNS]          em_ssc_start to the first completed batch
 *   bench-streaming rss CORPUS [WPS] [BATCHES]     VmRSS / VmHWM of NetworkWordCount at WPS
 *   bench-streaming serve CORPUS WPS               the feeder alone (prints port=N), for
 *                                                  bench/run-vs-spark
 *
 * A feeder process forked first (so that its copy of the corpus is not in the figures) serves
 * CORPUS's lines on an ephemeral 127.0.0.1 port, over and over, at a rate in words/s the
 * benchmark sets through a shared page. Each command prints key=value lines. */
#include <ember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK_BYTES ((size_t)64 << 10) /* the feeder's largest send */
#define FEED_PAUSED 0                  /* feed_ctl.rate: hold the connection, send nothing */
#define WAIT_SLACK_MS 10000            /* waits for batches allow this much beyond their time */

/* ---- The feeder: a child process sharing this page with the benchmark ---- */

typedef struct {
    _Atomic int64_t rate; /* words/s, or FEED_PAUSED */
    _Atomic int ready;    /* 1: the corpus is loaded; -1: it could not be */
    int64_t corpus_words, corpus_lines;
} feed_ctl;

typedef struct {
    const char *text;
    size_t *off;  /* off[i]: where line i starts; off[n]: the end of the last whole line */
    int64_t *cum; /* cum[i]: words in the lines before line i */
    size_t n;
} corpus;

/* Indexes the corpus's whole lines; words are runs of bytes other than space, tab and \r (the
 * baseline's definition). A last line without '\n' is left out. */
static void corpus_index(corpus *c, const char *text, size_t len)
{
    size_t lines = 0;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        lines++;
    c->text = text;
    c->off = g_new(size_t, lines + 1);
    c->cum = g_new(int64_t, lines + 1);
    c->n = lines;
    c->off[0] = 0;
    c->cum[0] = 0;
    size_t i = 0;
    bool in_word = false;
    int64_t words = 0;
    for (size_t k = 0; i < lines; k++) {
        char ch = text[k];
        bool space = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
        words += !space && !in_word;
        in_word = !space;
        if (ch == '\n') {
            i++;
            c->off[i] = k + 1;
            c->cum[i] = words;
        }
    }
}

/* Sends all n bytes; false once the peer has gone. */
static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t sent = send(fd, p, n, MSG_NOSIGNAL);
        if (sent < 0 && errno != EINTR)
            return false;
        if (sent > 0)
            p += sent, n -= (size_t)sent;
    }
    return true;
}

/* Serves one connection until the peer goes: whole lines from the corpus, wrapping around, so
 * that the words sent follow ctl->rate since it last changed (a sender that fell behind catches
 * up in chunks of at most CHUNK_BYTES). The peer never writes: a readable socket means it went. */
static void feed_connection(int fd, const corpus *c, feed_ctl *ctl)
{
    size_t line = 0;
    int64_t rate = -1, base = 0, sent = 0;
    gint64 t0 = 0;
    for (;;) {
        int64_t want_rate = atomic_load(&ctl->rate);
        gint64 now = g_get_monotonic_time();
        if (want_rate != rate)
            rate = want_rate, base = sent, t0 = now;
        int64_t due = base + (int64_t)((double)rate * (double)(now - t0) / 1e6);
        if (due <= sent) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, rate > 0 ? 1 : 10) > 0)
                return;
            continue;
        }
        size_t end = line;
        do
            end++;
        while (end < c->n && c->cum[end] - c->cum[line] < due - sent &&
               c->off[end] - c->off[line] < CHUNK_BYTES);
        if (!send_all(fd, c->text + c->off[line], c->off[end] - c->off[line]))
            return;
        sent += c->cum[end] - c->cum[line];
        line = end == c->n ? 0 : end;
    }
}

static _Noreturn void feed_main(int lfd, const char *path, feed_ctl *ctl)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
    char *text = NULL;
    size_t len = 0;
    GError *err = NULL;
    corpus c = {0};
    if (!g_file_get_contents(path, &text, &len, &err) || (corpus_index(&c, text, len), !c.n)) {
        fprintf(stderr, "bench-streaming: %s\n", err ? err->message : "no whole line in corpus");
        atomic_store(&ctl->ready, -1);
        _exit(1);
    }
    ctl->corpus_words = c.cum[c.n];
    ctl->corpus_lines = (int64_t)c.n;
    atomic_store(&ctl->ready, 1);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        feed_connection(fd, &c, ctl);
        close(fd);
    }
}

typedef struct {
    pid_t pid;
    int port;
    feed_ctl *ctl;
    double words_per_line;
} feeder;

/* Forks the feeder; call before any thread exists. Exits on failure. */
static void feeder_start(feeder *f, const char *path)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    f->ctl = mmap(NULL, sizeof *f->ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &len) < 0 || f->ctl == MAP_FAILED) {
        fprintf(stderr, "bench-streaming: cannot listen on 127.0.0.1: %s\n", g_strerror(errno));
        exit(1);
    }
    f->port = ntohs(addr.sin_port);
    atomic_store(&f->ctl->rate, FEED_PAUSED);
    fflush(NULL);
    f->pid = fork();
    if (f->pid == 0)
        feed_main(lfd, path, f->ctl);
    close(lfd);
    while (f->pid > 0 && atomic_load(&f->ctl->ready) == 0 && waitpid(f->pid, NULL, WNOHANG) == 0)
        g_usleep(1000);
    if (f->pid < 0 || atomic_load(&f->ctl->ready) != 1)
        exit(1); /* the feeder said why */
    f->words_per_line = (double)f->ctl->corpus_words / (double)f->ctl->corpus_lines;
}

static void feeder_stop(feeder *f)
{
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    munmap(f->ctl, sizeof *f->ctl);
}

/* ---- The listener: one record per completed batch ---- */

typedef struct {
    em_time time;
    int64_t records;
    int64_t sched_ms, proc_ms;
    gint64 proc_us; /* batch_started to batch_completed, monotonic */
    gint64 late_us; /* batch_started, wall clock, after the batch time */
    gint64 done_us; /* monotonic time of batch_completed */
    int64_t rss_kb, hwm_kb;
    int64_t cpu_us; /* the process's CPU time (user + system, all threads; not the feeder's) */
} batch_rec;

typedef struct {
    GMutex lock;
    GCond cond;
    GArray *recs; /* batch_rec */
    gint64 started_us;
    bool read_rss;
} recorder;

/* VmRSS and VmHWM from /proc/self/status, in kB (0 when unreadable). */
static void read_rss(int64_t *rss_kb, int64_t *hwm_kb)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    *rss_kb = *hwm_kb = 0;
    while (f && fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, "VmRSS:", 6) == 0)
            *rss_kb = strtoll(buf + 6, NULL, 10);
        else if (strncmp(buf, "VmHWM:", 6) == 0)
            *hwm_kb = strtoll(buf + 6, NULL, 10);
    }
    if (f)
        fclose(f);
}

static void on_batch_started(const em_batch_info *info, void *ud)
{
    (void)info;
    recorder *rec = ud;
    rec->started_us = g_get_monotonic_time(); /* batches run one at a time on one thread */
}

static void on_batch_completed(const em_batch_info *info, void *ud)
{
    recorder *rec = ud;
    gint64 now = g_get_monotonic_time();
    gint64 late = g_get_real_time() - (now - rec->started_us) - info->batch_time * 1000;
    batch_rec r = {.time = info->batch_time,
                   .records = info->num_records,
                   .sched_ms = info->scheduling_delay,
                   .proc_ms = info->processing_delay,
                   .proc_us = now - rec->started_us,
                   .late_us = late,
                   .done_us = now};
    if (rec->read_rss)
        read_rss(&r.rss_kb, &r.hwm_kb);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        r.cpu_us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    g_mutex_lock(&rec->lock);
    g_array_append_val(rec->recs, r);
    g_cond_broadcast(&rec->cond);
    g_mutex_unlock(&rec->lock);
}

static void on_receiver_error(const em_receiver_info *info, void *ud)
{
    (void)info, (void)ud; /* the feeder's connection closing at a stop: expected */
}

static const em_listener recorder_listener = {.batch_started = on_batch_started,
                                              .batch_completed = on_batch_completed,
                                              .receiver_error = on_receiver_error};

static void recorder_init(recorder *rec, bool rss)
{
    g_mutex_init(&rec->lock);
    g_cond_init(&rec->cond);
    rec->recs = g_array_new(FALSE, TRUE, sizeof(batch_rec));
    rec->read_rss = rss;
}

static void recorder_clear(recorder *rec)
{
    g_array_unref(rec->recs);
    g_mutex_clear(&rec->lock);
    g_cond_clear(&rec->cond);
}

/* Waits until n batches have completed; false after timeout_ms. */
static bool recorder_wait(recorder *rec, guint n, int64_t timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    g_mutex_lock(&rec->lock);
    bool ok = true;
    while (ok && rec->recs->len < n)
        ok = g_cond_wait_until(&rec->cond, &rec->lock, deadline);
    g_mutex_unlock(&rec->lock);
    return ok || rec->recs->len >= n;
}

/* A copy of batch i's record (the scheduler thread may be appending: the array may move). */
static batch_rec rec_at(recorder *rec, guint i)
{
    g_mutex_lock(&rec->lock);
    batch_rec r = g_array_index(rec->recs, batch_rec, i);
    g_mutex_unlock(&rec->lock);
    return r;
}

/* ---- The programs ---- */

static FILE *devnull;

static em_ssc *ssc_new(em_duration interval)
{
    em_ssc *ssc = em_ssc_new("local[2]", "NetworkWordCount", interval);
    if (!ssc)
        exit(1);
    return ssc;
}

/* Spark's NetworkWordCount, as examples/network_wordcount.c, printing to /dev/null. */
static em_ssc *network_wordcount(em_duration interval, int port, recorder *rec)
{
    em_ssc *ssc = ssc_new(interval);
    em_dstream *lines = em_socket_text_stream(ssc, "127.0.0.1", port);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *word_counts = em_reduce_by_key(em_map(words, em_pair_one), em_sum);
    em_print_to(word_counts, 10, devnull);
    em_ssc_add_listener(ssc, &recorder_listener, rec);
    return ssc;
}

static void start_or_die(em_ssc *ssc)
{
    GError *err = NULL;
    if (!em_ssc_start(ssc, &err)) {
        fprintf(stderr, "bench-streaming: %s\n", err->message);
        exit(1);
    }
}

/* A hard stop (what was received and not processed is dropped) and free. */
static void stop_and_free(em_ssc *ssc)
{
    em_ssc_stop(ssc, EM_STOP_CONTEXT);
    em_ssc_free(ssc);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of v[0..n), sorting v. */
static int64_t quantile(int64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank > 0 ? rank - 1 : 0];
}

/* ---- throughput: the highest rate at which the scheduling delay stays flat ---- */

#define TP_INTERVAL EM_SECONDS(1)
#define TP_WARMUP 3  /* batches left out: the first is partial, the next ones warm up */
#define TP_WINDOW 10 /* batches judged */

typedef struct {
    bool stable;
    double received_wps, capacity_wps;
} trial_result;

/* One NetworkWordCount run at rate: stable when the window's batches received at least 95% of
 * the rate and none of them waited more than a tenth of the interval to start (a delay growing
 * by more than 10 ms a batch crosses that within the window). The run ends at the first batch
 * that waited longer. */
static trial_result throughput_trial(feeder *f, int64_t rate)
{
    recorder rec;
    recorder_init(&rec, false);
    em_ssc *ssc = network_wordcount(TP_INTERVAL, f->port, &rec);
    atomic_store(&f->ctl->rate, rate);
    start_or_die(ssc);
    int64_t records = 0, proc_sum = 0, proc_max = 0, sched_max = 0;
    guint judged = 0;
    bool waited_too_long = false;
    while (judged < TP_WINDOW && !waited_too_long &&
           recorder_wait(&rec, TP_WARMUP + judged + 1, 2 * TP_INTERVAL + WAIT_SLACK_MS)) {
        batch_rec r = rec_at(&rec, TP_WARMUP + judged++);
        records += r.records;
        proc_sum += r.proc_us;
        proc_max = MAX(proc_max, r.proc_ms);
        sched_max = MAX(sched_max, r.sched_ms);
        waited_too_long = r.sched_ms > TP_INTERVAL / 10;
    }
    atomic_store(&f->ctl->rate, FEED_PAUSED);
    stop_and_free(ssc);
    double secs = judged * TP_INTERVAL / 1000.0;
    trial_result res = {.received_wps = judged ? (double)records * f->words_per_line / secs : 0};
    /* What the processing could take: the words of a batch over its mean processing time. */
    res.capacity_wps = proc_sum ? (double)records * f->words_per_line * 1e6 / (double)proc_sum : 0;
    res.stable =
        judged == TP_WINDOW && !waited_too_long && res.received_wps >= 0.95 * (double)rate;
    printf("trial rate=%" PRId64 " batches=%u received_wps=%.0f proc_mean_ms=%.0f"
           " proc_max_ms=%" PRId64 " sched_max_ms=%" PRId64 " capacity_wps=%.0f stable=%s\n",
           rate, judged, res.received_wps, judged ? (double)proc_sum / 1000.0 / judged : 0,
           proc_max, sched_max, res.capacity_wps, res.stable ? "yes" : "no");
    fflush(stdout);
    recorder_clear(&rec);
    return res;
}

/* Doubles the rate from start while stable, then bisects three times between the last stable
 * rate and the first unstable one. */
static int cmd_throughput(feeder *f, int argc, char **argv)
{
    int64_t rate = argc > 0 ? g_ascii_strtoll(argv[0], NULL, 10) : 1000000;
    int64_t lo = 0, hi = 0;
    double lo_capacity = 0;
    if (rate <= 0)
        return 2;
    printf("corpus_words_per_line=%.2f interval_ms=%d warmup_batches=%d window_batches=%d\n",
           f->words_per_line, (int)TP_INTERVAL, TP_WARMUP, TP_WINDOW);
    while (!hi) {
        trial_result r = throughput_trial(f, rate);
        if (r.stable)
            lo = rate, lo_capacity = r.capacity_wps, rate *= 2;
        else
            hi = rate;
    }
    for (int i = 0; i < 3; i++) {
        rate = (lo + hi) / 2;
        trial_result r = throughput_trial(f, rate);
        if (r.stable)
            lo = rate, lo_capacity = r.capacity_wps;
        else
            hi = rate;
    }
    printf("sustained_words_per_s=%" PRId64 " first_unstable_words_per_s=%" PRId64
           " capacity_at_sustained_words_per_s=%.0f\n",
           lo, hi, lo_capacity);
    return 0;
}

/* ---- short: empty batches every 10 ms ---- */

#define SHORT_INTERVAL EM_MILLIS(10)
#define SHORT_WARMUP 10

/* Prints the figures of batches [SHORT_WARMUP, SHORT_WARMUP + n) under label. */
static void short_report(const char *label, recorder *rec, guint n)
{
    int64_t *proc = g_new(int64_t, n), *sched = g_new(int64_t, n), *late = g_new(int64_t, n);
    int64_t records = 0;
    for (guint i = 0; i < n; i++) {
        batch_rec r = rec_at(rec, SHORT_WARMUP + i);
        proc[i] = r.proc_us, sched[i] = r.sched_ms, late[i] = r.late_us;
        records += r.records;
    }
    printf("short input=%s batches=%u records=%" PRId64 " proc_us_p50=%" PRId64
           " proc_us_p99=%" PRId64 " proc_us_max=%" PRId64 " sched_ms_p50=%" PRId64
           " sched_ms_p99=%" PRId64 " sched_ms_max=%" PRId64 " start_late_us_p50=%" PRId64
           " start_late_us_p99=%" PRId64 " start_late_us_max=%" PRId64 "\n",
           label, n, records, quantile(proc, n, 0.5), quantile(proc, n, 0.99),
           quantile(proc, n, 1), quantile(sched, n, 0.5), quantile(sched, n, 0.99),
           quantile(sched, n, 1), quantile(late, n, 0.5), quantile(late, n, 0.99),
           quantile(late, n, 1));
    fflush(stdout);
    g_free(proc), g_free(sched), g_free(late);
}

/* Runs ssc for n batches after the warm-up and reports them. */
static void short_run(const char *label, em_ssc *ssc, recorder *rec, guint n)
{
    start_or_die(ssc);
    guint total = SHORT_WARMUP + n;
    bool done = recorder_wait(rec, total, total * SHORT_INTERVAL + WAIT_SLACK_MS);
    stop_and_free(ssc);
    if (done)
        short_report(label, rec, n);
    else
        printf("short input=%s timed_out_after=%u\n", label, rec->recs->len);
}

static int cmd_short(feeder *f, int argc, char **argv)
{
    guint n = argc > 0 ? (guint)g_ascii_strtoull(argv[0], NULL, 10) : 1000;
    if (n == 0)
        return 2;
    /* A queue stream with nothing queued, printed: an empty RDD every batch. */
    recorder rec;
    recorder_init(&rec, false);
    em_ssc *ssc = ssc_new(SHORT_INTERVAL);
    em_rdd_queue *queue = em_rdd_queue_new();
    em_print_to(em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL), 10, devnull);
    em_ssc_add_listener(ssc, &recorder_listener, &rec);
    short_run("queue", ssc, &rec, n);
    em_rdd_queue_free(queue);
    recorder_clear(&rec);
    /* NetworkWordCount on a connected socket that sends nothing: an empty BlockRDD through
     * flatMap, map, reduceByKey (a shuffle) and print. */
    recorder_init(&rec, false);
    atomic_store(&f->ctl->rate, FEED_PAUSED);
    short_run("socket", network_wordcount(SHORT_INTERVAL, f->port, &rec), &rec, n);
    recorder_clear(&rec);
    return 0;
}

/* ---- startup: em_ssc_start to the first completed batch ---- */

#define STARTUP_WPS 100000 /* the feeder's rate, so that the first batch has records */

static int cmd_startup(feeder *f, int argc, char **argv)
{
    int runs = argc > 0 ? atoi(argv[0]) : 5;
    static const em_duration intervals[] = {EM_SECONDS(1), EM_MILLIS(100)};
    if (runs <= 0)
        return 2;
    atomic_store(&f->ctl->rate, STARTUP_WPS);
    for (size_t k = 0; k < G_N_ELEMENTS(intervals); k++) {
        em_duration interval = intervals[k];
        int64_t *total = g_new(int64_t, runs), *beyond = g_new(int64_t, runs);
        for (int i = 0; i < runs; i++) {
            recorder rec;
            recorder_init(&rec, false);
            em_ssc *ssc = network_wordcount(interval, f->port, &rec);
            gint64 t0 = g_get_monotonic_time(), wall0 = g_get_real_time();
            start_or_die(ssc);
            bool done = recorder_wait(&rec, 1, interval + WAIT_SLACK_MS);
            batch_rec r = done ? rec_at(&rec, 0) : (batch_rec){0};
            /* The first batch time is the next multiple of the interval (Spark's
             * RecurringTimer): beyond is what start-up costs on top of waiting for it. */
            total[i] = done ? r.done_us - t0 : -1;
            beyond[i] = done ? total[i] - (r.time * 1000 - wall0) : -1;
            printf("startup interval_ms=%" PRId64 " run=%d start_to_first_us=%" PRId64
                   " beyond_first_batch_time_us=%" PRId64 " first_records=%" PRId64 "\n",
                   interval, i, total[i], beyond[i], done ? r.records : 0);
            stop_and_free(ssc);
            recorder_clear(&rec);
        }
        printf("startup_summary interval_ms=%" PRId64 " start_to_first_ms_max=%.1f"
               " beyond_first_batch_time_ms_max=%.1f beyond_first_batch_time_ms_p50=%.1f\n",
               interval, (double)quantile(total, (size_t)runs, 1) / 1000.0,
               (double)quantile(beyond, (size_t)runs, 1) / 1000.0,
               (double)quantile(beyond, (size_t)runs, 0.5) / 1000.0);
        fflush(stdout);
        g_free(total), g_free(beyond);
    }
    atomic_store(&f->ctl->rate, FEED_PAUSED);
    return 0;
}

/* ---- rss: NetworkWordCount's memory at a steady rate ---- */

static int cmd_rss(feeder *f, int argc, char **argv)
{
    int64_t rate = argc > 0 ? g_ascii_strtoll(argv[0], NULL, 10) : 1000000;
    guint n = argc > 1 ? (guint)g_ascii_strtoull(argv[1], NULL, 10) : 60;
    if (rate <= 0 || n == 0)
        return 2;
    recorder rec;
    recorder_init(&rec, true);
    em_ssc *ssc = network_wordcount(EM_SECONDS(1), f->port, &rec);
    atomic_store(&f->ctl->rate, rate);
    start_or_die(ssc);
    int64_t start_kb, start_hwm_kb;
    read_rss(&start_kb, &start_hwm_kb);
    /* Batch 1 is partial (start-up to the first batch time): count n whole batches after it. */
    bool done = recorder_wait(&rec, n + 1, (n + 1) * EM_SECONDS(1) + WAIT_SLACK_MS);
    atomic_store(&f->ctl->rate, FEED_PAUSED);
    stop_and_free(ssc);
    int64_t records = 0, sched_max = 0;
    for (guint i = 1; i <= n && done; i++) {
        batch_rec r = rec_at(&rec, i);
        records += r.records;
        sched_max = MAX(sched_max, r.sched_ms);
        if (i == 10 || i == 30 || i == n || i % 10 == 0)
            printf("rss batch=%u vmrss_mb=%.1f vmhwm_mb=%.1f sched_ms=%" PRId64 " proc_ms=%" PRId64
                   " records=%" PRId64 "\n",
                   i, (double)r.rss_kb / 1024, (double)r.hwm_kb / 1024, r.sched_ms, r.proc_ms,
                   r.records);
    }
    /* CPU per word received: from batch 1's completion to batch n's (n whole batches). */
    int64_t cpu_us = done ? rec_at(&rec, n).cpu_us - rec_at(&rec, 0).cpu_us : 0;
    double words = (double)records * f->words_per_line;
    if (done)
        printf("cpu_summary batches=%u cpu_s=%.3f words=%.0f cpu_ns_per_word=%.2f\n", n,
               (double)cpu_us / 1e6, words, words > 0 ? (double)cpu_us * 1e3 / words : 0);
    if (done)
        printf("rss_summary rate=%" PRId64 " batches=%u received_wps=%.0f sched_max_ms=%" PRId64
               " vmrss_mb_at_start=%.1f vmrss_mb_at_10=%.1f vmrss_mb_at_30=%.1f"
               " vmrss_mb_at_%u=%.1f vmhwm_mb=%.1f\n",
               rate, n, (double)records * f->words_per_line / n, sched_max,
               (double)start_kb / 1024, (double)rec_at(&rec, MIN(10, n)).rss_kb / 1024,
               (double)rec_at(&rec, MIN(30, n)).rss_kb / 1024, n,
               (double)rec_at(&rec, n).rss_kb / 1024, (double)rec_at(&rec, n).hwm_kb / 1024);
    else
        printf("rss_summary timed_out_after=%u\n", rec.recs->len);
    recorder_clear(&rec);
    return 0;
}

/* ---- serve: the feeder alone, for another program (bench/run-vs-spark) ---- */

/* Prints port=N and serves CORPUS at WPS words/s to whoever connects, until stdin closes. */
static int cmd_serve(feeder *f, int argc, char **argv)
{
    int64_t rate = argc > 0 ? g_ascii_strtoll(argv[0], NULL, 10) : 0;
    if (rate <= 0)
        return 2;
    printf("port=%d corpus_words_per_line=%.4f\n", f->port, f->words_per_line);
    fflush(stdout);
    atomic_store(&f->ctl->rate, rate);
    char buf[256];
    while (fread(buf, 1, sizeof buf, stdin) > 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(feeder *f, int argc, char **argv);
    } commands[] = {{"throughput", cmd_throughput},
                    {"short", cmd_short},
                    {"startup", cmd_startup},
                    {"rss", cmd_rss},
                    {"serve", cmd_serve}};
    for (size_t i = 0; argc >= 3 && i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        feeder f;
        feeder_start(&f, argv[2]); /* first: no thread exists yet */
        devnull = fopen("/dev/null", "w");
        int status = commands[i].run(&f, argc - 3, argv + 3);
        fclose(devnull);
        feeder_stop(&f);
        if (status == 2)
            break;
        return status;
    }
    fprintf(stderr, "usage: bench-streaming throughput|short|startup|rss|serve CORPUS [ARGS]\n"
                    "  throughput CORPUS [START_WPS]   short CORPUS [BATCHES]\n"
                    "  startup CORPUS [RUNS]           rss CORPUS [WPS] [BATCHES]\n"
                    "  serve CORPUS WPS                the feeder alone, until stdin closes\n");
    return 2;
}
