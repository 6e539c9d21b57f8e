/* bench-overload: a socket fed at full speed, faster than Ember can count its words, for a
 * while; prints peak RSS and the scheduling delay, the figures the receiver's memory bound and
 * backpressure exist for. An application of the public library (<ember.h> only); figures are
 * printed, never judged pass/fail.
 *
 *   bench-overload [SECONDS] [--backpressure] [--max-pending-mb N]
 *
 * A feeder process forked first serves the same lines over and over on an ephemeral
 * 127.0.0.1 port, as fast as the socket takes them. The job is NetworkWordCount (split, pair,
 * reduceByKey, count) with 1 s batches on local[2]. Prints key=value lines. */
#include <ember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The feeder: accepts one connection and writes lines to it until the peer goes away. */
static void feed(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        _exit(1);
    static char buf[1 << 16];
    static const char line[] = "the quick brown fox jumps over the lazy dog again and again\n";
    size_t n = 0;
    while (n + sizeof line - 1 <= sizeof buf) {
        memcpy(buf + n, line, sizeof line - 1);
        n += sizeof line - 1;
    }
    for (;;) {
        ssize_t sent = send(fd, buf, n, MSG_NOSIGNAL);
        if (sent < 0 && errno != EINTR)
            _exit(0);
    }
}

static int64_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char row[256];
    int64_t kb = -1;
    size_t len = strlen(key);
    while (f && fgets(row, sizeof row, f))
        if (strncmp(row, key, len) == 0 && row[len] == ':')
            kb = strtoll(row + len + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

typedef struct {
    GMutex lock;
    int64_t batches, records, blocked, max_sched, last_sched, max_rss_kb;
} figures;

static void batch_completed(const em_batch_info *info, void *ud)
{
    figures *f = ud;
    int64_t rss = status_kb("VmRSS");
    g_mutex_lock(&f->lock);
    f->batches++;
    f->records += info->num_records;
    f->blocked += info->blocked_inputs > 0;
    f->max_sched = MAX(f->max_sched, info->scheduling_delay);
    f->last_sched = info->scheduling_delay;
    f->max_rss_kb = MAX(f->max_rss_kb, rss);
    g_mutex_unlock(&f->lock);
}

static bool count_output(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    return em_rdd_count(rdd, err) >= 0;
}

int main(int argc, char **argv)
{
    int seconds = 60;
    bool backpressure = false;
    int64_t max_pending_mb = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backpressure") == 0)
            backpressure = true;
        else if (strcmp(argv[i], "--max-pending-mb") == 0 && i + 1 < argc)
            max_pending_mb = strtoll(argv[++i], NULL, 10);
        else
            seconds = atoi(argv[i]);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        fprintf(stderr, "bench-overload: cannot listen on 127.0.0.1: %s\n", g_strerror(errno));
        return 1;
    }
    pid_t feeder = fork();
    if (feeder == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        feed(lfd);
    }
    close(lfd);

    figures f = {0};
    g_mutex_init(&f.lock);
    em_ssc *ssc = em_ssc_new("local[2]", "bench-overload", EM_SECONDS(1));
    em_socket_opts opts = {
        .receiver = {.backpressure = backpressure, .max_pending_bytes = max_pending_mb << 20}};
    em_dstream *lines =
        em_socket_stream_full(ssc, "127.0.0.1", ntohs(a.sin_port), NULL, NULL, NULL, &opts);
    em_dstream *counts =
        em_reduce_by_key(em_map(em_flat_map(lines, em_split_space), em_pair_one), em_sum);
    em_foreach_rdd_full(counts, count_output, NULL, NULL, "count");
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = batch_completed}, &f);
    int64_t rss_start = status_kb("VmRSS");
    GError *err = NULL;
    if (!em_ssc_start(ssc, &err)) {
        fprintf(stderr, "bench-overload: %s\n", err->message);
        return 1;
    }
    gint64 t0 = g_get_monotonic_time();
    em_ssc_await_termination_or_timeout(ssc, (int64_t)seconds * 1000, NULL);
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    double elapsed = (double)(g_get_monotonic_time() - t0) / 1e6;
    kill(feeder, SIGKILL);
    waitpid(feeder, NULL, 0);

    printf("seconds=%.1f backpressure=%s max_pending_mb=%" PRId64 "\n", elapsed,
           backpressure ? "on" : "off", max_pending_mb ? max_pending_mb : 64);
    printf("batches=%" PRId64 " records=%" PRId64 " records_per_s=%.0f blocked_batches=%" PRId64
           "\n",
           f.batches, f.records, (double)f.records / elapsed, f.blocked);
    printf("rss_start_mb=%.1f peak_rss_mb=%.1f max_batch_rss_mb=%.1f\n", rss_start / 1024.0,
           status_kb("VmHWM") / 1024.0, f.max_rss_kb / 1024.0);
    printf("max_scheduling_delay_ms=%" PRId64 " last_scheduling_delay_ms=%" PRId64 "\n",
           f.max_sched, f.last_sched);
    em_ssc_free(ssc);
    g_mutex_clear(&f.lock);
    return 0;
}
