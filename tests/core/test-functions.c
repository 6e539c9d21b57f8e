/* The stock functions: word splitting (both rules), pairing, sums, min/max, counting, concat. */
#include <criterion/criterion.h>

#include "rdd-fixture.h"

static char *words_of(em_value (*split)(em_value, void *), const char *bytes, size_t n)
{
    em_value list = split(em_strn(bytes, n), NULL);
    cr_assert_eq(em_type_of(list), EM_T_LIST);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < em_list_len(list); i++) {
        em_value w = em_list_get(list, i);
        g_string_append_c(out, '[');
        for (size_t k = 0; k < em_str_len(w); k++) /* a NUL shows as \0 */
            em_str_ptr(w)[k] ? (void)g_string_append_c(out, em_str_ptr(w)[k])
                             : (void)g_string_append(out, "\\0");
        g_string_append_c(out, ']');
    }
    em_scratch_reset();
    return g_string_free(out, FALSE);
}

#define WORDS(split, literal) words_of((split), (literal), sizeof(literal) - 1)

Test(functions, split_words_splits_on_runs_of_ascii_whitespace)
{
    const struct {
        const char *text;
        size_t n;
        const char *words;
    } cases[] = {
#define C(t, w) {t, sizeof(t) - 1, w}
        C("", ""),
        C("   ", ""),
        C("one", "[one]"),
        C("  a  b\tc\n", "[a][b][c]"),
        C("x\r\ny\vz\fw", "[x][y][z][w]"),
        C("abcdefghijklmnopqrstuvwxyz twentysixletters",
          "[abcdefghijklmnopqrstuvwxyz][twentysixletters]"),
        C("eightchr eightchr", "[eightchr][eightchr]"),
        C("ctl\x01inside\x1fword ok", "[ctl\x01inside\x1fword][ok]"),
        C("nul\0in word", "[nul\\0in][word]"),
        C("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
          "[caf\xc3\xa9][\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e]"),
        C("trailing   ", "[trailing]"),
#undef C
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = words_of(em_split_words, cases[i].text, cases[i].n);
        cr_assert_str_eq(got, cases[i].words, "case %zu", i);
    }
}

/* The word-at-a-time scanner against a byte loop, on random bytes heavy in blanks and
 * control characters, at every alignment and length. */
Test(functions, split_words_matches_a_byte_loop_on_random_bytes)
{
    static const char alphabet[] = "ab \t\n\r\v\f\x01\x1f\x7f\x80\xff!";
    GRand *rand = g_rand_new_with_seed(7);
    char buf[80];
    for (int round = 0; round < 5000; round++) {
        size_t n = (size_t)g_rand_int_range(rand, 0, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[g_rand_int_range(rand, 0, sizeof alphabet - 1)];
        GString *want = g_string_new(NULL);
        size_t i = 0;
        while (i < n) {
            while (i < n && strchr(" \t\n\r\v\f", buf[i]) && buf[i])
                i++;
            size_t start = i;
            while (i < n && !(strchr(" \t\n\r\v\f", buf[i]) && buf[i]))
                i++;
            if (i > start)
                g_string_append_printf(want, "[%.*s]", (int)(i - start), buf + start);
        }
        g_autofree char *got = words_of(em_split_words, buf, n);
        cr_assert_str_eq(got, want->str, "round %d", round);
        g_string_free(want, TRUE);
    }
    g_rand_free(rand);
}

Test(functions, split_space_follows_java_string_split)
{
    g_autofree char *a = WORDS(em_split_space, "a  b");
    cr_assert_str_eq(a, "[a][][b]");
    g_autofree char *b = WORDS(em_split_space, "a b  ");
    cr_assert_str_eq(b, "[a][b]");
    g_autofree char *c = WORDS(em_split_space, " a");
    cr_assert_str_eq(c, "[][a]");
    g_autofree char *d = WORDS(em_split_space, "");
    cr_assert_str_eq(d, "[]");
    g_autofree char *e = WORDS(em_split_space, "   ");
    cr_assert_str_eq(e, "");
}

static char *text(em_value v)
{
    char *s = em_value_to_string(v);
    em_scratch_reset();
    return s;
}

/* The stock functions wrapped, so that the engine cannot recognise them and builds every list
 * and pair as a user function's. */
static em_value split_words_as_user(em_value v, void *ud) { return em_split_words(v, ud); }
static em_value split_space_as_user(em_value v, void *ud) { return em_split_space(v, ud); }
static em_value pair_one_as_user(em_value v, void *ud) { return em_pair_one(v, ud); }

/* flatMap(split) -> map(pair_one) -> reduceByKey(sum), collected in partition order. */
static char *word_count(em_rdd *lines, em_map_fn split, em_map_fn pair)
{
    em_rdd *words = em_rdd_flat_map(lines, split);
    em_rdd *ones = em_rdd_map(words, pair);
    em_rdd *counts = em_rdd_reduce_by_key(ones, em_sum);
    char *out = collected(counts);
    em_rdd_unref(counts);
    em_rdd_unref(ones);
    em_rdd_unref(words);
    return out;
}

Test(functions, stock_word_count_chain_counts_as_the_same_functions_called_as_user_ones)
{
    em_context *sc = em_context_new("local[2]", "t", NULL);
    /* Runs of spaces, leading and trailing ones, an empty line, a line of spaces, tabs (a word
     * byte for split_space), keys of every length around the 8, 12 and 16 byte boundaries. */
    const char *texts[] = {"a  b",
                           " a",
                           "",
                           "   ",
                           "a b  ",
                           "x\ty z\r",
                           "eightchr eightchr",
                           "ninechars twelve_bytes twelve_bytes thirteen_byte",
                           "a",
                           "sixteen_bytes_xx seventeen_bytes_x sixteen_bytes_xx  a"};
    em_value lines[G_N_ELEMENTS(texts)];
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        lines[i] = em_str(texts[i]);
    em_rdd *rdd = em_parallelize(sc, lines, G_N_ELEMENTS(lines), 3);
    g_autofree char *space = word_count(rdd, em_split_space, em_pair_one);
    g_autofree char *space_user = word_count(rdd, split_space_as_user, pair_one_as_user);
    cr_assert_str_eq(space, space_user);
    g_autofree char *words = word_count(rdd, em_split_words, em_pair_one);
    g_autofree char *words_user = word_count(rdd, split_words_as_user, pair_one_as_user);
    cr_assert_str_eq(words, words_user);
    /* The exact counts, whatever the order: Java's split(" ") counts "" between double spaces
     * and before a leading space, never after the last word. */
    em_rdd *space_words = em_rdd_flat_map(rdd, em_split_space);
    em_rdd *space_ones = em_rdd_map(space_words, em_pair_one);
    em_rdd *space_counts = em_rdd_reduce_by_key(space_ones, em_sum);
    g_autofree char *space_sorted = sorted(space_counts);
    cr_assert_str_eq(space_sorted,
                     "[(,4), (a,5), (b,2), (eightchr,2), (ninechars,1), "
                     "(seventeen_bytes_x,1), (sixteen_bytes_xx,2), (thirteen_byte,1), "
                     "(twelve_bytes,2), (x\ty,1), (z\r,1)]");
    em_rdd_unref(space_counts);
    em_rdd_unref(space_ones);
    em_rdd_unref(space_words);
    em_rdd_unref(rdd);
    em_context_free(sc);
}

Test(functions, pair_one_identity_and_swap_shape_records)
{
    g_autofree char *p = text(em_pair_one(em_str("w"), NULL));
    cr_assert_str_eq(p, "(w,1)");
    g_autofree char *i = text(em_identity(em_int(5), NULL));
    cr_assert_str_eq(i, "5");
    g_autofree char *s = text(em_swap(em_pair(em_str("k"), em_int(2)), NULL));
    cr_assert_str_eq(s, "(2,k)");
}

Test(functions, sum_and_subtract_keep_ints_and_widen_to_double)
{
    cr_assert_eq(em_as_int(em_sum(em_int(2), em_int(3), NULL)), 5);
    cr_assert_eq(em_as_int(em_sum(em_int(INT64_MAX), em_int(1), NULL)), INT64_MIN);
    em_value mixed = em_sum(em_int(1), em_double(0.5), NULL);
    cr_assert_eq(em_type_of(mixed), EM_T_DOUBLE);
    cr_assert_float_eq(em_as_double(mixed), 1.5, 1e-12);
    cr_assert_eq(em_as_int(em_subtract(em_int(2), em_int(5), NULL)), -3);
    cr_assert_float_eq(em_as_double(em_subtract(em_double(1), em_int(2), NULL)), -1.0, 1e-12);
}

Test(functions, min_max_increment_and_filter_nonzero)
{
    cr_assert_eq(em_as_int(em_min(em_int(4), em_int(-2), NULL)), -2);
    g_autofree char *m = text(em_max(em_str("apple"), em_str("banana"), NULL));
    cr_assert_str_eq(m, "banana");
    cr_assert_eq(em_as_int(em_increment(em_int(41), em_str("ignored"), NULL)), 42);
    cr_assert(em_filter_nonzero(em_pair(em_str("a"), em_int(1)), NULL));
    cr_assert_not(em_filter_nonzero(em_pair(em_str("a"), em_int(0)), NULL));
    cr_assert_not(em_filter_nonzero(em_pair(em_str("a"), em_double(0.0)), NULL));
    em_scratch_reset();
}

Test(functions, concat_joins_strings_and_lists)
{
    g_autofree char *s = text(em_concat(em_str("ab"), em_str("cd"), NULL));
    cr_assert_str_eq(s, "abcd");
    em_value one[] = {em_int(1)}, two[] = {em_int(2), em_int(3)};
    g_autofree char *l =
        text(em_concat(em_list(one, 1, EM_BUFFER), em_list(two, 2, EM_LIST), NULL));
    cr_assert_str_eq(l, "CompactBuffer(1, 2, 3)");
}

Test(functions, stock_functions_fail_records_of_the_wrong_type_naming_the_function)
{
    em_context *sc = em_context_new("local[1]", "t", NULL);
    em_rdd *pairs = parse(sc, "(a,1), (a,x)", 1);
    em_rdd *sums = em_rdd_reduce_by_key(pairs, em_sum);
    GError *err = NULL;
    cr_assert_null(em_rdd_collect(sums, &err));
    cr_assert(strstr(err->message, "reduceByKey (em_sum) failed: em_sum: cannot add non-numbers"),
              "%s", err->message);
    g_clear_error(&err);
    em_rdd *nums = parse(sc, "1, 2", 1);
    em_rdd *words = em_rdd_flat_map(nums, em_split_words);
    cr_assert_eq(em_rdd_count(words, &err), -1);
    cr_assert(strstr(err->message, "flatMap (em_split_words) failed: em_split_words: record is "
                                   "not a string"),
              "%s", err->message);
    g_clear_error(&err);
    em_rdd_unref(words);
    em_rdd_unref(nums);
    em_rdd_unref(sums);
    em_rdd_unref(pairs);
    em_context_free(sc);
}
