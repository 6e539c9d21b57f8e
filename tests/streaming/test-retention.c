/* What streams keep between batches, by Spark's remember rules: a stream remembers its own
 * slide (or em_ssc_remember's duration), a window makes its parent remember the window's
 * length more, and after batch t every RDD at t - remember or older is forgotten. Checked
 * through em_batch_info.retained_batches for every kind of pipeline, then over 10,000 batches
 * with windows and state: the figures and the heap stay flat. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <malloc.h>

#ifdef __SANITIZE_ADDRESS__
/* libasan's allocator statistics (the sanitizer's allocator_interface.h, not shipped by gcc). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* ---- A generated input: batch k (from 1) is a function of k, computed on demand ---- */

static const char *const words[] = {"a", "b", "c", "d", "e", "f", "g",
                                    "h", "i", "j", "k", "l", "m"};
#define N_WORDS G_N_ELEMENTS(words)

/* Batch k of the varying input: k % 5 words (none every fifth batch), a pattern of period 65. */
static size_t varying_batch(int64_t k, int *word)
{
    size_t n = (size_t)(k % 5);
    for (size_t i = 0; i < n; i++)
        word[i] = (int)((k * 3 + (int64_t)i * 5) % (int64_t)N_WORDS);
    return n;
}

/* The constant input: "a, b, c" every batch. */
static em_rdd *constant_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)t, (void)err;
    em_value v[3] = {em_str("a"), em_str("b"), em_str("c")};
    ds->last_records = 3;
    return em_parallelize(ds->ssc->sc, v, 3, 2);
}

static em_rdd *varying_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    int word[8];
    size_t n = varying_batch((t - ds->zero_time) / ds->slide, word);
    em_value v[8];
    for (size_t i = 0; i < n; i++)
        v[i] = em_str(words[word[i]]);
    ds->last_records = (int64_t)n;
    return em_parallelize(ds->ssc->sc, v, n, 2);
}

static const em_dstream_class constant_class = {.type_name = "GeneratedInputStream",
                                                .compute = constant_compute};
static const em_dstream_class varying_class = {.type_name = "GeneratedInputStream",
                                               .compute = varying_compute};

static em_dstream *generated_input(em_ssc *ssc, bool varying)
{
    return em__input_new(ssc, varying ? &varying_class : &constant_class, "generatedInput");
}

static em_ssc *manual_ssc(em_duration batch)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = batch,
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    return ssc;
}

/* An output that computes the whole batch. */
static bool count_rdd(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    return em_rdd_count(rdd, err) >= 0;
}

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_value running_count(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)ud;
    if (em_state_is_timing_out(state))
        return key;
    int64_t sum = em_as_int(value) + (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_state_update(state, em_int(sum));
    return em_none();
}

/* ---- Retained batches, pipeline by pipeline ---- */

#define N_RUN 12

typedef struct {
    int n, failed;
    int64_t batches[N_RUN];
    int64_t bytes[N_RUN];
} retention_log;

/* On the scheduler thread: it records, the test thread asserts. */
static void log_retention(const em_batch_info *info, void *ud)
{
    retention_log *l = ud;
    l->failed += info->failed;
    if (l->n < N_RUN) {
        l->batches[l->n] = info->retained_batches;
        l->bytes[l->n] = info->retained_bytes;
        l->n++;
    }
}

typedef em_dstream *(*pipeline_fn)(em_ssc *ssc, em_dstream *in);

/* Runs the pipeline over the constant input for N_RUN one-second batches, with remember (0 for
 * none), and checks retained_batches after every batch, and that the retained bytes of the
 * last few batches (the same data every batch) are flat. */
static void check_retention(pipeline_fn pipeline, em_duration remember,
                            const int64_t *want_batches, int steady_from)
{
    em_ssc *ssc = manual_ssc(EM_SECONDS(1));
    em_foreach_rdd(pipeline(ssc, generated_input(ssc, false)), count_rdd);
    if (remember)
        em_ssc_remember(ssc, remember);
    retention_log l = {0};
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = log_retention}, &l);
    cr_assert(em_ssc_start(ssc, NULL));
    for (int i = 1; i <= N_RUN; i++) {
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        cr_assert(em_ssc_wait_for_batch(ssc, EM_SECONDS(i), 10000));
    }
    em_ssc_free(ssc);
    cr_assert_eq(l.failed, 0);
    GString *got = g_string_new(NULL), *want = g_string_new(NULL);
    for (int i = 0; i < N_RUN; i++) {
        g_string_append_printf(got, " %lld", (long long)l.batches[i]);
        g_string_append_printf(want, " %lld", (long long)want_batches[i]);
    }
    cr_assert_str_eq(got->str, want->str, "retained batches:%s, expected:%s", got->str, want->str);
    /* Steady state: the pattern repeats every two batches (slides of 1 or 2 s). */
    for (int i = steady_from + 2; i < N_RUN; i++)
        cr_assert_eq(l.bytes[i], l.bytes[i - 2], "retained bytes at %d s: %lld, at %d s: %lld",
                     i + 1, (long long)l.bytes[i], i - 1, (long long)l.bytes[i - 2]);
    cr_assert_gt(l.bytes[N_RUN - 1], 0);
    g_string_free(got, TRUE);
    g_string_free(want, TRUE);
}

static em_dstream *pairs_of(em_dstream *in) { return em_map(in, em_pair_one); }

static em_dstream *plain_map(em_ssc *ssc, em_dstream *in) { return (void)ssc, pairs_of(in); }

Test(retention, a_map_keeps_only_the_newest_batch_of_each_stream)
{
    /* input 1 + map 1. */
    const int64_t want[N_RUN] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    check_retention(plain_map, 0, want, 0);
}

Test(retention, remember_keeps_that_long_of_every_stream)
{
    /* remember 5 s: input 5 + map 5, once 5 batches have run. */
    const int64_t want[N_RUN] = {2, 4, 6, 8, 10, 10, 10, 10, 10, 10, 10, 10};
    check_retention(plain_map, EM_SECONDS(5), want, 4);
}

static em_dstream *window_3_1(em_ssc *ssc, em_dstream *in)
{
    return (void)ssc, em_window(in, EM_SECONDS(3), EM_SECONDS(1));
}

Test(retention, a_window_makes_its_parent_keep_window_plus_slide)
{
    /* The window remembers its slide (1 s): 1 RDD. Its parent remembers 1 + 3 s: 4 RDDs. */
    const int64_t want[N_RUN] = {2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    check_retention(window_3_1, 0, want, 3);
}

static em_dstream *window_3_2(em_ssc *ssc, em_dstream *in)
{
    return (void)ssc, em_window(in, EM_SECONDS(3), EM_SECONDS(2));
}

Test(retention, a_window_sliding_by_two_batches_keeps_window_plus_two)
{
    /* Windows only at even seconds: nothing runs at 1 s. The parent remembers 2 + 3 s: after
     * an even t it holds (t - 5, t], 5 RDDs; after an odd t nothing newer than t - 1 exists
     * yet, 4. The window holds its newest RDD, 1. */
    const int64_t want[N_RUN] = {0, 3, 3, 5, 5, 6, 5, 6, 5, 6, 5, 6};
    check_retention(window_3_2, 0, want, 5);
}

static em_dstream *window_of_window(em_ssc *ssc, em_dstream *in)
{
    (void)ssc;
    return em_window(em_window(in, EM_SECONDS(2), EM_SECONDS(1)), EM_SECONDS(2), EM_SECONDS(1));
}

Test(retention, windows_of_windows_add_up_their_lengths)
{
    /* outer 1; inner 1 + 2 s = 3; input 3 + 2 s = 5. */
    const int64_t want[N_RUN] = {3, 5, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9};
    check_retention(window_of_window, 0, want, 4);
}

static em_dstream *inverse_window(em_ssc *ssc, em_dstream *in)
{
    (void)ssc;
    return em_reduce_by_key_and_window_inv(pairs_of(in), em_sum, em_subtract, EM_SECONDS(3),
                                           EM_SECONDS(1));
}

Test(retention, inverse_reduce_keeps_window_plus_slide_of_reduced_batches_and_one_window)
{
    /* The window stream keeps its newest window (the next one starts from it): 1. The batches
     * reduced per key remember 1 + 3 s: 4; so do the map and the input under them, as Spark's
     * remember rule passes the duration down. 4 + 4 + 4 + 1 = 13. */
    const int64_t want[N_RUN] = {4, 7, 10, 13, 13, 13, 13, 13, 13, 13, 13, 13};
    check_retention(inverse_window, 0, want, 3);
}

static em_dstream *inverse_window_4_2(em_ssc *ssc, em_dstream *in)
{
    (void)ssc;
    return em_reduce_by_key_and_window_inv(pairs_of(in), em_sum, em_subtract, EM_SECONDS(4),
                                           EM_SECONDS(2));
}

Test(retention, inverse_reduce_sliding_by_two_batches)
{
    /* Below the window 2 + 4 s: 6 RDDs each after an even second, 5 after an odd one (the
     * batch at t is computed with the window at t + 1 s); plus the window's newest: 1. */
    const int64_t want[N_RUN] = {0, 7, 7, 13, 13, 19, 16, 19, 16, 19, 16, 19};
    check_retention(inverse_window_4_2, 0, want, 7);
}

static em_dstream *naive_window(em_ssc *ssc, em_dstream *in)
{
    (void)ssc;
    return em_reduce_by_key_and_window(pairs_of(in), em_sum, EM_SECONDS(3), EM_SECONDS(1));
}

Test(retention, naive_reduce_by_key_and_window_keeps_the_same_plus_its_union)
{
    /* reduceByKey 1 + window 1 + (reduceByKey, map, input) 4 each = 14. */
    const int64_t want[N_RUN] = {5, 8, 11, 14, 14, 14, 14, 14, 14, 14, 14, 14};
    check_retention(naive_window, 0, want, 3);
}

static em_dstream *update_state(em_ssc *ssc, em_dstream *in)
{
    return (void)ssc, em_update_state_by_key(pairs_of(in), running_sum);
}

Test(retention, update_state_by_key_keeps_one_state_rdd)
{
    /* state 1 (its lineage is cut each batch) + map 1 + input 1. */
    const int64_t want[N_RUN] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    check_retention(update_state, 0, want, 0);
}

static em_dstream *map_with_state(em_ssc *ssc, em_dstream *in)
{
    (void)ssc;
    return em_map_with_state(pairs_of(in), &(em_state_spec){.fn = running_count});
}

Test(retention, map_with_state_keeps_one_mapped_rdd)
{
    const int64_t want[N_RUN] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    check_retention(map_with_state, 0, want, 0);
}

static em_dstream *state_snapshots(em_ssc *ssc, em_dstream *in)
{
    return em_state_snapshots(map_with_state(ssc, in));
}

Test(retention, state_snapshots_keep_one_snapshot)
{
    const int64_t want[N_RUN] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    check_retention(state_snapshots, 0, want, 0);
}

/* ---- Spark's "rdd cleanup" cases: which batch times each stream still holds ---- */

static void assert_times(em_dstream *ds, const em_time *want, size_t n)
{
    g_mutex_lock(&ds->lock);
    GString *got = g_string_new(NULL), *exp = g_string_new(NULL);
    for (guint i = 0; i < ds->generated->len; i++)
        g_string_append_printf(got, " %lld",
                               (long long)g_array_index(ds->generated, em_generated, i).time);
    g_mutex_unlock(&ds->lock);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(exp, " %lld", (long long)want[i]);
    cr_assert_str_eq(got->str, exp->str, "%s keeps%s, expected%s", ds->op, got->str, exp->str);
    g_string_free(got, TRUE);
    g_string_free(exp, TRUE);
}

static void run_seconds(em_ssc *ssc, int n)
{
    cr_assert(em_ssc_start(ssc, NULL));
    for (int i = 1; i <= n; i++) {
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        cr_assert(em_ssc_wait_for_batch(ssc, EM_SECONDS(i), 10000));
    }
}

Test(retention, map_and_two_windows_remember_as_spark_rdd_cleanup_test)
{
    /* s.map(...).window(2 s, 1 s).window(4 s, 2 s) with ssc.remember(3 s), after 10 s. */
    em_ssc *ssc = manual_ssc(EM_SECONDS(1));
    em_dstream *mapped = pairs_of(generated_input(ssc, false));
    em_dstream *window1 = em_window(mapped, EM_SECONDS(2), EM_SECONDS(1));
    em_dstream *window2 = em_window(window1, EM_SECONDS(4), EM_SECONDS(2));
    em_foreach_rdd(window2, count_rdd);
    em_ssc_remember(ssc, EM_SECONDS(3));
    run_seconds(ssc, 10);
    cr_assert_eq(window2->remember, EM_SECONDS(3));
    cr_assert_eq(window1->remember, EM_SECONDS(3 + 4));
    cr_assert_eq(mapped->remember, EM_SECONDS(3 + 4 + 2));
    /* window2 till 8 s (its RDDs are at even times), window1 till 4 s, mapped till 2 s. */
    const em_time w2[] = {8000, 10000};
    const em_time w1[] = {4000, 5000, 6000, 7000, 8000, 9000, 10000};
    const em_time m[] = {2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000};
    assert_times(window2, w2, G_N_ELEMENTS(w2));
    assert_times(window1, w1, G_N_ELEMENTS(w1));
    assert_times(mapped, m, G_N_ELEMENTS(m));
    em_ssc_free(ssc);
}

Test(retention, update_state_by_key_keeps_only_its_newest_state)
{
    /* Spark keeps state RDDs for two checkpoint intervals, for recovery from its checkpoints;
     * Ember cuts the lineage in memory at each batch, and keeps the newest state only. */
    em_ssc *ssc = manual_ssc(EM_SECONDS(1));
    em_dstream *state = em_update_state_by_key(pairs_of(generated_input(ssc, false)), running_sum);
    em_foreach_rdd(state, count_rdd);
    run_seconds(ssc, 10);
    const em_time kept[] = {10000};
    assert_times(state, kept, 1);
    em_ssc_free(ssc);
}

Test(retention, windows_and_state_cut_their_lineage_every_batch)
{
    /* What keeps a chain of windows or states from holding every batch before it: the newest
     * window, state and mapped RDD stand alone, their data cached. */
    em_ssc *ssc = manual_ssc(EM_SECONDS(1));
    em_dstream *pairs = pairs_of(generated_input(ssc, false));
    em_dstream *streams[] = {
        em_reduce_by_key_and_window_inv(pairs, em_sum, em_subtract, EM_SECONDS(3), EM_SECONDS(1)),
        em_update_state_by_key(pairs, running_sum),
        em_map_with_state(pairs, &(em_state_spec){.fn = running_count}),
    };
    for (size_t i = 0; i < G_N_ELEMENTS(streams); i++)
        em_foreach_rdd(streams[i], count_rdd);
    run_seconds(ssc, 5);
    for (size_t i = 0; i < G_N_ELEMENTS(streams); i++) {
        g_autoptr(GPtrArray) rdds = em_slice(streams[i], 5000, 5000);
        cr_assert_eq(rdds->len, 1, "%s", streams[i]->op);
        em_rdd *newest = rdds->pdata[0];
        if (i == 0) {
            /* The window emits from its state, which keeps one level of lineage (for the
             * lineage dump) over the previous window, which stands alone. */
            cr_assert_eq(newest->n_parents, 1);
            em_rdd *state = newest->parents[0];
            cr_assert_eq(state->n_parents, 3, "the window at 4 s, batches 2 s and 5 s");
            newest = state->parents[0];
        }
        cr_assert_eq(newest->n_parents, 0, "%s keeps its parents", streams[i]->op);
        cr_assert_eq(newest->n_shuffles, 0, "%s keeps its shuffles", streams[i]->op);
        cr_assert(newest->checkpointed);
    }
    em_ssc_free(ssc);
}

/* ---- Soak: 10,000 batches of windows and state on the manual clock ---- */

#define SOAK_BATCHES 10000
#define SOAK_BATCH EM_MILLIS(10)

/* Bytes the process has allocated and not freed. */
static size_t heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

typedef struct {
    int64_t *batches, *bytes; /* [SOAK_BATCHES] */
    int failed;
} soak_log;

static void log_soak(const em_batch_info *info, void *ud)
{
    soak_log *l = ud;
    int64_t k = info->batch_time / SOAK_BATCH - 1;
    l->failed += info->failed;
    if (k >= 0 && k < SOAK_BATCHES) {
        l->batches[k] = info->retained_batches;
        l->bytes[k] = info->retained_bytes;
    }
}

static int64_t max_over(const int64_t *v, int from, int to)
{
    int64_t m = G_MININT64;
    for (int i = from; i < to; i++)
        m = MAX(m, v[i]);
    return m;
}

typedef struct {
    GMutex lock;
    char *last_window; /* the newest window, sorted */
    char *last_state;
} soak_results;

static bool keep_text(em_rdd *rdd, char **slot, GMutex *lock, GError **err)
{
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    char *text = em_values_to_string(em_values_sort(vals));
    em_values_free(vals);
    g_mutex_lock(lock);
    g_free(*slot);
    *slot = text;
    g_mutex_unlock(lock);
    return true;
}

static bool keep_window(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    soak_results *r = ud;
    return (void)t, keep_text(rdd, &r->last_window, &r->lock, err);
}

static bool keep_state(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    soak_results *r = ud;
    return (void)t, keep_text(rdd, &r->last_state, &r->lock, err);
}

/* "[(a,n), ...]" for the words counted over batches from..to (1-based, inclusive), words with
 * no count left out. */
static char *counts_text(int64_t from, int64_t to)
{
    int64_t count[N_WORDS] = {0};
    for (int64_t k = MAX(from, 1); k <= to; k++) {
        int word[8];
        size_t n = varying_batch(k, word);
        for (size_t i = 0; i < n; i++)
            count[word[i]]++;
    }
    GString *text = g_string_new("[");
    for (size_t w = 0; w < N_WORDS; w++)
        if (count[w])
            g_string_append_printf(text, "%s(%s,%lld)", text->len > 1 ? ", " : "", words[w],
                                   (long long)count[w]);
    g_string_append_c(text, ']');
    return g_string_free(text, FALSE);
}

Test(retention, ten_thousand_batches_of_windows_and_state_keep_figures_and_heap_flat)
{
    em_ssc *ssc = manual_ssc(SOAK_BATCH);
    em_dstream *pairs = pairs_of(generated_input(ssc, true));
    /* Words over the last 50 ms, every 10 ms, incrementally; running totals; running counts
     * per word that time out after 40 ms idle (and come back). */
    em_dstream *window =
        em_reduce_by_key_and_window_full(pairs,
                                         &(em_reduce_window_spec){.fn = em_sum,
                                                                  .inv = em_subtract,
                                                                  .window = EM_MILLIS(50),
                                                                  .slide = SOAK_BATCH,
                                                                  .filter = em_filter_nonzero,
                                                                  .name = "sum"});
    em_dstream *totals = em_update_state_by_key(pairs, running_sum);
    em_dstream *counts =
        em_map_with_state(pairs, &(em_state_spec){.fn = running_count, .timeout = EM_MILLIS(40)});
    soak_results r = {0};
    g_mutex_init(&r.lock);
    em_foreach_rdd_full(window, keep_window, &r, NULL, "keepWindow");
    em_foreach_rdd_full(totals, keep_state, &r, NULL, "keepState");
    em_foreach_rdd(counts, count_rdd);
    soak_log l = {g_new0(int64_t, SOAK_BATCHES), g_new0(int64_t, SOAK_BATCHES), 0};
    em_ssc_add_listener(ssc, &(em_listener){.batch_completed = log_soak}, &l);
    cr_assert(em_ssc_start(ssc, NULL));

    /* The heap after batch 2,000 and after batch 10,000, less what the mapWithState tables
     * hold: their arenas collect the garbage of keys that timed out and came back until the
     * table compacts (at 256 KiB more than twice the live payload), a bounded sawtooth. */
    int64_t keys, table_bytes_2000 = 0, table_bytes_end = 0;
    size_t heap_2000 = 0, heap_end = 0;
    for (int k = 100; k <= SOAK_BATCHES; k += 100) {
        em_ssc_advance_clock(ssc, 100 * SOAK_BATCH);
        cr_assert(em_ssc_wait_for_batch(ssc, k * SOAK_BATCH, 60000), "batch %d", k);
        if (k == 2000) {
            em_map_with_state_size(counts, &keys, &table_bytes_2000);
            heap_2000 = heap_in_use();
        }
    }
    em_map_with_state_size(counts, &keys, &table_bytes_end);
    heap_end = heap_in_use();
    cr_assert_eq(l.failed, 0);

    /* Spark's rule: the input, the map and the reduced batches remember 10 + 50 ms (6 batches);
     * the window, the state and the mapWithState stream their newest RDD: 6 * 3 + 3 = 21. */
    cr_assert_eq(max_over(l.batches, 1000, 2000), 21);
    cr_assert_eq(max_over(l.batches, 9000, SOAK_BATCHES), 21);
    cr_assert_eq(max_over(l.bytes, 9000, SOAK_BATCHES), max_over(l.bytes, 1000, 2000),
                 "retained bytes grew: %lld then %lld", (long long)max_over(l.bytes, 1000, 2000),
                 (long long)max_over(l.bytes, 9000, SOAK_BATCHES));
    /* A leak of one small allocation per batch would add 256 KiB over 8,000 batches. */
    int64_t growth =
        ((int64_t)heap_end - table_bytes_end) - ((int64_t)heap_2000 - table_bytes_2000);
    cr_assert_lt(growth, 64 << 10, "the heap grew by %lld bytes (%zu then %zu)", (long long)growth,
                 heap_2000, heap_end);
    /* Two tables, each compacting before its arena passes 2 x 256 KiB (chunks double). */
    cr_assert_lt(table_bytes_end, 2 * (512 << 10) + (64 << 10));

    /* And the results are right after 10,000 batches: the last window holds batches
     * 9,996..10,000, the totals every batch, the tables the words seen in the last 40 ms. */
    g_autofree char *window_want = counts_text(SOAK_BATCHES - 4, SOAK_BATCHES);
    g_autofree char *totals_want = counts_text(1, SOAK_BATCHES);
    cr_assert_str_eq(r.last_window, window_want);
    cr_assert_str_eq(r.last_state, totals_want);
    bool live[N_WORDS] = {false};
    int64_t live_keys = 0;
    for (int64_t k = SOAK_BATCHES - 3; k <= SOAK_BATCHES; k++) {
        int word[8];
        size_t n = varying_batch(k, word);
        for (size_t i = 0; i < n; i++)
            live_keys += !live[word[i]], live[word[i]] = true;
    }
    cr_assert_eq(keys, live_keys);

    em_ssc_free(ssc);
    g_free(r.last_window);
    g_free(r.last_state);
    g_mutex_clear(&r.lock);
    g_free(l.batches);
    g_free(l.bytes);
}
