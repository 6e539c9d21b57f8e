/* The RDD engine end to end: parallelize, narrow chains, reduceByKey, collect and count. */
#include <criterion/criterion.h>

#include "core-private.h"

static em_context *sc;

static void setup(void) { sc = em_context_new("local[2]", "test", NULL); }
static void teardown(void) { em_context_free(sc); }

TestSuite(rdd_basic, .init = setup, .fini = teardown);

Test(rdd_basic, word_count_counts_every_word)
{
    GError *err = NULL;
    g_autoptr(em_rdd) lines = em_parallelize_text(sc, "\"a b a\", \"c a\", \"b\"", 2, &err);
    cr_assert_not_null(lines, "%s", err ? err->message : "");
    g_autoptr(em_rdd) words = em_rdd_flat_map(lines, em_split_words);
    g_autoptr(em_rdd) pairs = em_rdd_map(words, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key(pairs, em_sum);
    g_autoptr(em_values) out = em_rdd_collect(counts, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    g_autofree char *text = em_values_to_string(em_values_sort(out));
    cr_assert_str_eq(text, "[(a,3), (b,2), (c,1)]");
    cr_assert_eq(em_rdd_count(words, NULL), 6);
}
