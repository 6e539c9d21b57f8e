/* bench-wordcount: the classic word count on Ember, timed the way the shared baseline times
 * itself: the text is already in memory (a cached RDD of lines), only the counting is timed.
 *
 *   bench-wordcount FILE MASTER [REPEATS]
 *
 * Prints one line a run, in the baseline's shape, plus the best run, peak RSS and the checksum
 * the baseline defines (sum over words of count * FNV-1a 64 of the word), so the two can be
 * compared exactly. */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (every worker thread): on a shared machine the wall clock
 * measures the other tenants as much as Ember. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv1a64(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-wordcount FILE MASTER [REPEATS]\n");
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    GError *err = NULL;
    em_context *sc = em_context_new(argv[2], "bench-wordcount", &err);
    if (!sc) {
        fprintf(stderr, "%s\n", err->message);
        return 2;
    }
    int parallelism = em_context_default_parallelism(sc);
    em_rdd *file = em_text_file(sc, argv[1], parallelism, &err);
    if (!file) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    /* Spark's textFile splits at the local file system's 32 MiB blocks (6 splits here); the
     * lines are cached in one partition per worker thread, as one would for local[N]. */
    em_rdd *lines = em_rdd_cache(em_rdd_coalesce(file, parallelism, false));
    em_rdd_unref(file);
    double t0 = now();
    int64_t nlines = em_rdd_count(lines, &err);
    if (nlines < 0) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    /* Peak RSS once the lines are cached, before any counting: what caching the text costs. */
    struct rusage loaded;
    getrusage(RUSAGE_SELF, &loaded);
    printf("master=%s partitions=%d lines=%lld load_seconds=%.3f cached_peak_rss_mb=%.1f\n",
           argv[2], em_rdd_num_partitions(lines), (long long)nlines, now() - t0,
           (double)loaded.ru_maxrss / 1024.0);

    double best = 1e300, best_cpu = 1e300;
    for (int r = 0; r < repeats; r++) {
        double start = now(), cpu_start = cpu_now();
        em_rdd *words = em_rdd_flat_map(lines, em_split_words);
        em_rdd *pairs = em_rdd_map(words, em_pair_one);
        em_rdd *counts = em_rdd_reduce_by_key(pairs, em_sum);
        em_values *out = em_rdd_collect(counts, &err);
        double secs = now() - start, cpu = cpu_now() - cpu_start;
        if (!out) {
            fprintf(stderr, "%s\n", err->message);
            return 1;
        }
        int64_t total = 0;
        uint64_t checksum = 0;
        for (size_t i = 0; i < out->n; i++) {
            em_value w = em_key(out->items[i]);
            int64_t c = em_as_int(em_val(out->items[i]));
            total += c;
            checksum += fnv1a64(em_str_ptr(w), em_str_len(w)) * (uint64_t)c;
        }
        if (secs < best)
            best = secs;
        if (cpu < best_cpu)
            best_cpu = cpu;
        printf("words=%lld distinct=%zu seconds=%.4f words_per_s=%.0f cpu_seconds=%.4f "
               "checksum=%llu\n",
               (long long)total, out->n, secs, (double)total / secs, cpu,
               (unsigned long long)checksum);
        if (r == repeats - 1)
            printf("best_words_per_s=%.0f best_cpu_seconds=%.4f\n", (double)total / best,
                   best_cpu);
        em_values_free(out);
        em_rdd_unref(counts);
        em_rdd_unref(pairs);
        em_rdd_unref(words);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mb=%.1f\n", (double)ru.ru_maxrss / 1024.0);
    em_rdd_unref(lines);
    em_context_free(sc);
    return 0;
}
