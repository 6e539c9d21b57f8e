/* bench-shell-lambda: what an ember-shell lambda costs next to the C callback it stands for,
 * on the word count. Two measures, on the same text:
 *   - the word count job (cached lines -> flatMap -> map -> reduceByKey -> collect), once with
 *     Ember's stock callbacks (em_split_space, em_pair_one, em_sum) and once with the compiled
 *     lambdas `_.split(" ")`, `x => (x, 1)` and `_ + _`;
 *   - each callback alone, called over every line / word / count in a loop on one thread.
 * Prints best-of-N seconds, the ratios lambda / C, and checks both give the same counts.
 *
 *   bench-shell-lambda FILE MASTER [REPEATS]
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct fns {
    em_map_fn split, pair;
    em_reduce_fn sum;
    void *split_ud, *pair_ud, *sum_ud;
} fns;

static sh_lambda *compile(const char *text, sh_role role)
{
    sh_source src = {.name = "bench", .text = (char *)text, .len = strlen(text), .first_line = 1};
    em_arena *arena = em_arena_new();
    GPtrArray *stmts = g_ptr_array_new();
    GError *err = NULL;
    sh_env *env = sh_env_new(NULL);
    if (!sh_parse(&src, arena, stmts, &err) || stmts->len != 1) {
        fprintf(stderr, "%s\n", err ? err->message : "one statement expected");
        exit(1);
    }
    sh_lambda *lam = sh_lambda_compile(stmts->pdata[0], env, role, "bench", &err);
    if (!lam) {
        fprintf(stderr, "%s\n", err->message);
        exit(1);
    }
    /* The compiled tree keeps no pointer into the syntax tree but for error places; keep the
     * arena (and src's text, a literal) alive for the whole run anyway. */
    g_ptr_array_free(stmts, TRUE);
    sh_env_unref(env);
    return lam;
}

/* One word count job; the distinct words and the sum of counts into *distinct, *total. */
static double word_count(em_rdd *lines, const fns *f, size_t *distinct, int64_t *total)
{
    GError *err = NULL;
    double start = now();
    em_rdd *words = em_rdd_flat_map_full(lines, f->split, f->split_ud, NULL, "split");
    em_rdd *pairs = em_rdd_map_full(words, f->pair, f->pair_ud, NULL, "pair");
    em_rdd *counts = em_rdd_reduce_by_key_full(pairs, f->sum, f->sum_ud, NULL, "sum", 0);
    em_values *out = em_rdd_collect(counts, &err);
    double secs = now() - start;
    if (!out) {
        fprintf(stderr, "%s\n", err->message);
        exit(1);
    }
    *distinct = out->n;
    *total = 0;
    for (size_t i = 0; i < out->n; i++)
        *total += em_as_int(em_val(out->items[i]));
    em_values_free(out);
    em_rdd_unref(counts);
    em_rdd_unref(pairs);
    em_rdd_unref(words);
    return secs;
}

/* Each callback alone on this thread, each in one timed loop: split every line, pair every
 * word, sum a 1 per word into an accumulator. Returns the seconds of each in t[0..3). */
static void callbacks_alone(const em_values *lines, const em_value *words, size_t n_words,
                            const fns *f, double t[3], int64_t *check)
{
    em_arena *scratch = em_scratch();
    int64_t split_words = 0;
    double a = now();
    for (size_t i = 0; i < lines->n; i++) {
        split_words += (int64_t)em_list_len(f->split(lines->items[i], f->split_ud));
        if ((i & 255) == 255)
            em_arena_reset(scratch);
    }
    double b = now();
    int64_t keys = 0;
    for (size_t i = 0; i < n_words; i++) {
        keys += (int64_t)em_str_len(em_key(f->pair(words[i], f->pair_ud)));
        if ((i & 1023) == 1023)
            em_arena_reset(scratch);
    }
    double c = now();
    em_value s = em_int(0);
    for (size_t i = 0; i < n_words; i++)
        s = f->sum(s, em_int(1), f->sum_ud);
    double d = now();
    em_arena_reset(scratch);
    t[0] = b - a, t[1] = c - b, t[2] = d - c;
    *check = split_words + keys + em_as_int(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-shell-lambda FILE MASTER [REPEATS]\n");
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    GError *err = NULL;
    em_context *sc = em_context_new(argv[2], "bench-shell-lambda", &err);
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
    em_rdd *lines = em_rdd_cache(em_rdd_coalesce(file, parallelism, false));
    em_rdd_unref(file);
    em_values *collected = em_rdd_collect(lines, &err);
    if (!collected) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }

    sh_lambda *split = compile("_.split(\" \")", R_MAP);
    sh_lambda *pair = compile("x => (x, 1)", R_MAP);
    sh_lambda *sum = compile("_ + _", R_REDUCE);
    fns c_fns = {em_split_space, em_pair_one, em_sum, NULL, NULL, NULL};
    fns lambda_fns = {sh_fn_map, sh_fn_map, sh_fn_reduce, split, pair, sum};

    double best_c = 1e300, best_l = 1e300;
    size_t dc = 0, dl = 0;
    int64_t tc = 0, tl = 0;
    for (int r = 0; r < repeats; r++) {
        best_c = MIN(best_c, word_count(lines, &c_fns, &dc, &tc));
        best_l = MIN(best_l, word_count(lines, &lambda_fns, &dl, &tl));
    }
    if (dc != dl || tc != tl) {
        fprintf(stderr, "MISMATCH: C distinct=%zu total=%lld, lambdas distinct=%zu total=%lld\n",
                dc, (long long)tc, dl, (long long)tl);
        return 1;
    }
    printf("master=%s lines=%zu words=%lld distinct=%zu\n", argv[2], collected->n, (long long)tc,
           dc);
    printf("word count job   C callbacks %.3f s   lambdas %.3f s   ratio %.2fx\n", best_c, best_l,
           best_l / best_c);

    /* Every word of the text, pointing into the collected lines. */
    GArray *words = g_array_new(FALSE, FALSE, sizeof(em_value));
    for (size_t i = 0; i < collected->n; i++) {
        em_value ws = em_split_space(collected->items[i], NULL);
        for (size_t k = 0; k < em_list_len(ws); k++) {
            em_value w = em_list_get(ws, k);
            g_array_append_val(words, w);
        }
        em_arena_reset(em_scratch());
    }
    double tcb[3] = {1e300, 1e300, 1e300}, tlb[3] = {1e300, 1e300, 1e300}, t[3];
    int64_t check_c = 0, check_l = 0;
    for (int r = 0; r < repeats; r++) {
        callbacks_alone(collected, (em_value *)words->data, words->len, &c_fns, t, &check_c);
        for (int k = 0; k < 3; k++)
            tcb[k] = MIN(tcb[k], t[k]);
        callbacks_alone(collected, (em_value *)words->data, words->len, &lambda_fns, t, &check_l);
        for (int k = 0; k < 3; k++)
            tlb[k] = MIN(tlb[k], t[k]);
    }
    if (check_c != check_l) {
        fprintf(stderr, "MISMATCH in the callbacks alone: %lld vs %lld\n", (long long)check_c,
                (long long)check_l);
        return 1;
    }
    static const char *const names[] = {"_.split(\" \")  vs em_split_space",
                                        "x => (x, 1)    vs em_pair_one",
                                        "_ + _          vs em_sum"};
    for (int k = 0; k < 3; k++)
        printf("callback alone   %s   C %.3f s   lambda %.3f s   ratio %.2fx\n", names[k], tcb[k],
               tlb[k], tlb[k] / tcb[k]);
    double all_c = tcb[0] + tcb[1] + tcb[2], all_l = tlb[0] + tlb[1] + tlb[2];
    printf("callbacks alone  all three   C %.3f s   lambdas %.3f s   ratio %.2fx\n", all_c, all_l,
           all_l / all_c);

    g_array_free(words, TRUE);
    sh_lambda_free(split);
    sh_lambda_free(pair);
    sh_lambda_free(sum);
    em_values_free(collected);
    em_rdd_unref(lines);
    em_context_free(sc);
    return 0;
}
