/* A stateful word count fed from a socket with the receivers' write-ahead log on, for
 * test-wal-kill.c: socketTextStream(127.0.0.1:PORT) -> words -> updateStateByKey (checkpointed
 * every batch) -> saveAsTextFiles(PREFIX), recovered from CHECKPOINT-DIR. Its clock is manual
 * and driven by the test on stdin: "stored N" waits until N lines of this run are in the log
 * and answers "stored N"; "advance N" waits the same, runs the next batch and answers
 * "done <ms>". It prints "start <recovered batch ms, or -1>" first; at the end of its input it
 * stops gracefully. */
#include <ember.h>

#include <stdlib.h>

typedef struct {
    int port;
    const char *prefix;
    em_dstream *lines;
} child_args;

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_ssc *create(bool recovering, void *ud)
{
    (void)recovering;
    child_args *a = ud;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "WalWordCount",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true,
                                                 .receiver_wal = true},
                                  NULL);
    a->lines = em_socket_text_stream(ssc, "127.0.0.1", a->port);
    em_dstream *words = em_flat_map(a->lines, em_split_space);
    em_dstream *counts =
        em_update_state_by_key_full(em_map(words, em_pair_one),
                                    &(em_update_state_spec){.fn = running_sum,
                                                            .name = "word_counts"});
    em_dstream_checkpoint(counts, EM_SECONDS(1));
    em_save_as_text_files(counts, a->prefix, NULL);
    return ssc;
}

/* Waits until n lines of this run are logged; false after a minute. */
static bool wait_stored(const child_args *a, int64_t n)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (em_receiver_stream_records(a->lines) < n) {
        if (g_get_monotonic_time() > deadline) {
            fprintf(stderr,
                    "wal-child: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                    " lines stored after a minute\n",
                    (gint64)em_receiver_stream_records(a->lines), (gint64)n);
            return false;
        }
        g_usleep(500);
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: wal-child PORT CHECKPOINT-DIR PREFIX\n");
        return 2;
    }
    child_args a = {atoi(argv[1]), argv[3], NULL};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(argv[2], create, &a, NULL, &err);
    if (!ssc || !em_ssc_start(ssc, &err)) {
        fprintf(stderr, "wal-child: %s\n", err->message);
        return 1;
    }
    printf("start %" G_GINT64_FORMAT "\n", (gint64)em_ssc_recovered_time(ssc));
    fflush(stdout);
    char line[64];
    long long n;
    while (fgets(line, sizeof line, stdin)) {
        bool advance = sscanf(line, "advance %lld", &n) == 1;
        if (!advance && sscanf(line, "stored %lld", &n) != 1) {
            fprintf(stderr, "wal-child: unknown command %s", line);
            return 2;
        }
        if (!wait_stored(&a, n))
            return 1;
        if (!advance) {
            printf("stored %lld\n", n);
            fflush(stdout);
            continue;
        }
        em_time t = em_ssc_clock_time(ssc) + EM_SECONDS(1);
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        if (!em_ssc_wait_for_batch(ssc, t, 60000)) {
            fprintf(stderr, "wal-child: batch %" G_GINT64_FORMAT " ms did not end\n", (gint64)t);
            return 1;
        }
        if (em_ssc_await_termination_or_timeout(ssc, 0, &err) < 0) {
            fprintf(stderr, "wal-child: %s\n", err->message);
            return 1;
        }
        printf("done %" G_GINT64_FORMAT "\n", (gint64)t);
        fflush(stdout);
    }
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    bool ok = em_ssc_await_termination(ssc, &err);
    em_ssc_free(ssc);
    return ok ? 0 : 1;
}
