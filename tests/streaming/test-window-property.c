/* Window operators against recomputation from scratch, on random streams (seeded, so every run
 * is the same): the incremental forms (an inverse function, a filter) must give, batch after
 * batch, exactly what summing each window's batches directly gives, for windows of 2, 3 and 5
 * batches sliding by 1 or 2, and for slides longer than the window. */
#include <criterion/criterion.h>

#include "streaming-private.h"

#include <ember/testing.h>

#define BATCH EM_SECONDS(1)
#define N_BATCHES 30
#define N_SEEDS 5

static const char *const alphabet[] = {"a", "b", "c", "d", "e"};
#define N_KEYS G_N_ELEMENTS(alphabet)

/* ---- Random streams ---- */

typedef struct {
    em_arena *arena;
    em_test_batch batches[N_BATCHES];
    int keys[N_BATCHES][8]; /* alphabet index of each record */
    int64_t values[N_BATCHES][8];
} random_stream;

/* Batches of 0 to 6 records: (key, value) pairs, or keys alone, keys from the alphabet, values
 * in [lo, hi]. About one batch in six is empty, and a run of 2 to 5 empty batches now and then
 * lets every key leave the window. */
static random_stream *random_stream_new(guint32 seed, bool pairs, int lo, int hi)
{
    random_stream *rs = g_new0(random_stream, 1);
    rs->arena = em_arena_new();
    GRand *rand = g_rand_new_with_seed(seed);
    int quiet = 0;
    for (size_t b = 0; b < N_BATCHES; b++) {
        if (quiet == 0 && g_rand_int_range(rand, 0, 10) == 0)
            quiet = g_rand_int_range(rand, 2, 6);
        int n = quiet > 0 || g_rand_int_range(rand, 0, 6) == 0 ? 0 : g_rand_int_range(rand, 1, 7);
        quiet = MAX(quiet - 1, 0);
        em_value *records = em_arena_alloc(rs->arena, sizeof(em_value) * 8);
        for (int i = 0; i < n; i++) {
            rs->keys[b][i] = g_rand_int_range(rand, 0, N_KEYS);
            rs->values[b][i] = g_rand_int_range(rand, lo, hi + 1);
            em_value key = em_str(alphabet[rs->keys[b][i]]);
            records[i] = pairs ? em_pair_in(rs->arena, key, em_int(rs->values[b][i])) : key;
        }
        rs->batches[b] = (em_test_batch){.values = records, .n = (size_t)n};
    }
    g_rand_free(rand);
    return rs;
}

static void random_stream_free(random_stream *rs)
{
    em_arena_free(rs->arena);
    g_free(rs);
}

/* ---- The operations under test ---- */

typedef enum {
    RBKW_NAIVE,      /* reduceByKeyAndWindow(_ + _, W, S) */
    RBKW_INV,        /* reduceByKeyAndWindow(_ + _, _ - _, W, S) */
    RBKW_INV_FILTER, /* ... with filterFunc _._2 != 0 */
    RBKW_FILTER,     /* reduceByKeyAndWindow(_ + _, W, S) with filterFunc _._2 != 0 */
    RBW_NAIVE,       /* map(_._2).reduceByWindow(_ + _, W, S) */
    RBW_INV,         /* map(_._2).reduceByWindow(_ + _, _ - _, W, S) */
    COUNT_BY_WINDOW, /* countByWindow(W, S) */
    COUNT_BY_VALUE,  /* countByValueAndWindow(W, S) */
} op_kind;

typedef struct {
    op_kind kind;
    em_duration window, slide;
    int partitions; /* of the by-key operators (0: the default) */
} op_args;

static em_value value_of(em_value kv, void *ud) { return (void)ud, em_val(kv); }

static em_dstream *op_window(em_dstream *const *in, void *ud)
{
    const op_args *a = ud;
    bool filtered = a->kind == RBKW_INV_FILTER || a->kind == RBKW_FILTER;
    em_filter_fn filter = filtered ? em_filter_nonzero : NULL;
    em_reduce_fn inv = a->kind == RBKW_NAIVE || a->kind == RBKW_FILTER ? NULL : em_subtract;
    switch (a->kind) {
    case RBKW_NAIVE:
    case RBKW_INV:
    case RBKW_INV_FILTER:
    case RBKW_FILTER:
        return em_reduce_by_key_and_window_full(in[0],
                                                &(em_reduce_window_spec){.fn = em_sum,
                                                                         .inv = inv,
                                                                         .window = a->window,
                                                                         .slide = a->slide,
                                                                         .num_partitions =
                                                                             a->partitions,
                                                                         .filter = filter,
                                                                         .name = "sum"});
    case RBW_NAIVE:
        return em_reduce_by_window(em_map(in[0], value_of), em_sum, a->window, a->slide);
    case RBW_INV:
        return em_reduce_by_window_inv(em_map(in[0], value_of), em_sum, em_subtract, a->window,
                                       a->slide);
    case COUNT_BY_WINDOW: return em_count_by_window(in[0], a->window, a->slide);
    case COUNT_BY_VALUE:
        return em_count_by_value_and_window_n(in[0], a->window, a->slide, a->partitions);
    }
    return NULL;
}

/* ---- Recomputation from scratch ---- */

/* The window at batch j (time (j + 1) s): sums and counts per key, and its record count. */
typedef struct {
    int64_t sum[N_KEYS];
    int64_t count[N_KEYS];
    int64_t records;
} window_totals;

static window_totals totals_of(const random_stream *rs, size_t j, const op_args *a)
{
    window_totals w = {0};
    em_time t = (em_time)(j + 1) * BATCH;
    for (size_t b = 0; b <= j; b++) {
        em_time u = (em_time)(b + 1) * BATCH;
        if (u <= t - a->window)
            continue;
        for (size_t i = 0; i < rs->batches[b].n; i++) {
            w.sum[rs->keys[b][i]] += rs->values[b][i];
            w.count[rs->keys[b][i]]++;
            w.records++;
        }
    }
    return w;
}

static void append(em_values *vals, em_value v) { em__values_append_copy(vals, v); }

/* What the operation must give at batch j, by Spark's definitions. seen[k] (and *any_seen) say
 * whether key k (any record) has been in some window so far: the inverse forms keep such keys
 * at the identity (0) once they have left, as Spark does without a filter. */
static em_values *expected_at(const random_stream *rs, size_t j, const op_args *a, bool *seen,
                              bool *any_seen)
{
    window_totals w = totals_of(rs, j, a);
    for (size_t k = 0; k < N_KEYS; k++)
        seen[k] = seen[k] || w.count[k] > 0;
    *any_seen = *any_seen || w.records > 0;
    em_values *vals = em__values_new();
    for (size_t k = 0; k < N_KEYS; k++) {
        em_value key = em_str(alphabet[k]);
        switch (a->kind) {
        case RBKW_NAIVE:
            if (w.count[k] > 0)
                append(vals, em_pair(key, em_int(w.sum[k])));
            break;
        case RBKW_INV_FILTER:
        case RBKW_FILTER: /* the keys of the window whose values do not sum to 0 */
            if (w.count[k] > 0 && w.sum[k] != 0)
                append(vals, em_pair(key, em_int(w.sum[k])));
            break;
        case RBKW_INV:
            if (seen[k])
                append(vals, em_pair(key, em_int(w.sum[k])));
            break;
        case COUNT_BY_VALUE:
            if (w.count[k] > 0)
                append(vals, em_pair(key, em_int(w.count[k])));
            break;
        default: break;
        }
    }
    int64_t total = 0;
    for (size_t k = 0; k < N_KEYS; k++)
        total += w.sum[k];
    if ((a->kind == RBW_NAIVE && w.records > 0) || (a->kind == RBW_INV && *any_seen))
        append(vals, em_int(total));
    if (a->kind == COUNT_BY_WINDOW && *any_seen)
        append(vals, em_int(w.records));
    em_scratch_reset();
    return vals;
}

static const char *const kind_names[] = {"reduceByKeyAndWindow",
                                         "reduceByKeyAndWindow(inv)",
                                         "reduceByKeyAndWindow(inv, filter)",
                                         "reduceByKeyAndWindow(filter)",
                                         "reduceByWindow",
                                         "reduceByWindow(inv)",
                                         "countByWindow",
                                         "countByValueAndWindow"};

/* Runs the operation over the stream and compares every batch with the recomputation: no RDD
 * between slides, exactly the expected records at each slide. */
static void check_against_recomputation(const random_stream *rs, const op_args *a, guint32 seed)
{
    em_test_input in = {rs->batches, N_BATCHES};
    em_test_opts opts = {.batch_interval = BATCH, .input_partitions = 1 + (int)(seed % 3)};
    GError *err = NULL;
    g_autoptr(em_test_output) out = em_test_run(&in, 1, op_window, (void *)a, &opts, &err);
    cr_assert_not_null(out, "%s W=%lld S=%lld seed %u: %s", kind_names[a->kind],
                       (long long)a->window, (long long)a->slide, seed, err ? err->message : "");
    bool seen[N_KEYS] = {false}, any_seen = false;
    for (size_t j = 0; j < N_BATCHES; j++) {
        em_time t = (em_time)(j + 1) * BATCH;
        if (t % a->slide != 0) {
            cr_assert_null(out->batches[j], "%s W=%lld S=%lld: an RDD at %lld ms, between slides",
                           kind_names[a->kind], (long long)a->window, (long long)a->slide,
                           (long long)t);
            continue;
        }
        cr_assert_not_null(out->batches[j]);
        em_values *want = expected_at(rs, j, a, seen, &any_seen);
        g_autofree char *want_text = em_values_to_string(em_values_sort(want));
        g_autofree char *got_text = em_values_to_string(em_values_sort(out->batches[j]));
        cr_assert_str_eq(got_text, want_text,
                         "%s W=%lld S=%lld seed %u, window at %lld ms: expected %s, got %s",
                         kind_names[a->kind], (long long)a->window, (long long)a->slide, seed,
                         (long long)t, want_text, got_text);
        em_values_free(want);
    }
}

/* Windows of 2, 3 and 5 batches sliding by 1 and 2, and slides longer than the window. */
static const struct {
    int window, slide; /* in batches */
} shapes[] = {{2, 1}, {3, 1}, {5, 1}, {2, 2}, {3, 2}, {5, 2}, {1, 2}, {2, 3}};

/* Every shape and seed, on pairs with values in [lo, hi] (or bare keys). */
static void check_all(op_kind kind, bool pairs, int lo, int hi)
{
    for (guint32 seed = 1; seed <= N_SEEDS; seed++) {
        random_stream *rs = random_stream_new(seed * 7919u + (guint32)kind, pairs, lo, hi);
        for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
            op_args a = {kind, shapes[s].window * BATCH, shapes[s].slide * BATCH, (int)(seed % 3)};
            check_against_recomputation(rs, &a, seed);
        }
        random_stream_free(rs);
    }
}

TestSuite(window_property);

Test(window_property, reduce_by_key_and_window_sums_each_window)
{
    check_all(RBKW_NAIVE, true, -3, 3);
}

Test(window_property, inverse_reduce_equals_recomputation_and_keeps_left_keys_at_zero)
{
    check_all(RBKW_INV, true, -3, 3);
}

Test(window_property, inverse_reduce_with_filter_equals_recomputation_exactly)
{
    check_all(RBKW_INV_FILTER, true, 1, 9);
}

/* Issue 8: with values of both signs, keys whose values sum to 0 in a window, and (k, 0)
 * records, the filtered windows still equal the recomputation: the incremental form keeps
 * the unfiltered window as its state. */
Test(window_property, inverse_reduce_with_filter_survives_zero_sums_and_zero_records)
{
    check_all(RBKW_INV_FILTER, true, -3, 3);
    check_all(RBKW_INV_FILTER, true, -1, 1);
    check_all(RBKW_INV_FILTER, true, 0, 0);
}

Test(window_property, naive_reduce_with_filter_drops_the_zero_sums_of_each_window)
{
    check_all(RBKW_FILTER, true, -1, 1);
}

Test(window_property, reduce_by_window_sums_each_nonempty_window)
{
    check_all(RBW_NAIVE, true, -3, 3);
}

Test(window_property, inverse_reduce_by_window_equals_recomputation_and_stays_at_zero)
{
    check_all(RBW_INV, true, -3, 3);
}

Test(window_property, count_by_window_counts_the_records_of_each_window)
{
    check_all(COUNT_BY_WINDOW, false, 0, 0);
}

Test(window_property, count_by_value_and_window_counts_each_value_present)
{
    check_all(COUNT_BY_VALUE, false, 0, 0);
}

/* The inverse path against the naive one directly: equal once the keys at 0 are dropped from
 * both (the inverse path keeps the keys that left at 0; the naive one has keys whose values
 * sum to 0 in the window). */
static void drop_zeros(em_values *vals)
{
    size_t kept = 0;
    for (size_t i = 0; i < vals->n; i++)
        if (em_as_int(em_val(vals->items[i])) != 0)
            vals->items[kept++] = vals->items[i];
    vals->n = kept;
}

Test(window_property, inverse_and_naive_paths_agree_on_nonzero_keys)
{
    for (guint32 seed = 1; seed <= N_SEEDS; seed++) {
        random_stream *rs = random_stream_new(seed, true, -3, 3);
        em_test_input in = {rs->batches, N_BATCHES};
        for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
            op_args naive = {RBKW_NAIVE, shapes[s].window * BATCH, shapes[s].slide * BATCH, 0};
            op_args inv = naive;
            inv.kind = RBKW_INV;
            GError *err = NULL;
            g_autoptr(em_test_output) a = em_test_run(&in, 1, op_window, &naive, NULL, &err);
            cr_assert_not_null(a, "%s", err ? err->message : "");
            g_autoptr(em_test_output) b = em_test_run(&in, 1, op_window, &inv, NULL, &err);
            cr_assert_not_null(b, "%s", err ? err->message : "");
            for (size_t j = 0; j < N_BATCHES; j++) {
                cr_assert_eq(a->batches[j] == NULL, b->batches[j] == NULL);
                if (!a->batches[j])
                    continue;
                drop_zeros(a->batches[j]);
                drop_zeros(b->batches[j]);
                g_autofree char *x = em_values_to_string(em_values_sort(a->batches[j]));
                g_autofree char *y = em_values_to_string(em_values_sort(b->batches[j]));
                cr_assert_str_eq(y, x, "seed %u W=%d S=%d batch %zu: naive %s, inverse %s", seed,
                                 shapes[s].window, shapes[s].slide, j, x, y);
            }
        }
        random_stream_free(rs);
    }
}
