/* em_dstream_debug_string: the DStream graph as text, one line per stream with its slide (and
 * window), operator, function and id, parents indented below it. */
#include <criterion/criterion.h>

#include "counted-input.h"

static em_ssc *graph_ssc(void)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    return ssc;
}

static const char *const none[] = {""};

Test(graph, debug_string_shows_windows_unions_and_functions)
{
    em_ssc *ssc = graph_ssc();
    em_dstream *a = counted_input(ssc, none, 1);
    em_dstream *b = counted_input(ssc, none, 1);
    em_dstream *words = em_flat_map(em_union(a, b), em_split_words);
    em_dstream *counts = em_reduce_by_key_and_window(em_map(words, em_pair_one), em_sum,
                                                     EM_SECONDS(3), EM_SECONDS(2));
    g_autofree char *text = em_dstream_debug_string(counts);
    /* Spark's reduceByKeyAndWindow without an inverse: reduceByKey, window, reduceByKey. */
    cr_assert_str_eq(text, "(slide 2000 ms) reduceByKey(em_sum) [7]\n"
                           " +-(slide 2000 ms, window 3000 ms) window [6]\n"
                           "    +-(slide 1000 ms) reduceByKey(em_sum) [5]\n"
                           "       +-(slide 1000 ms) map(em_pair_one) [4]\n"
                           "          +-(slide 1000 ms) flatMap(em_split_words) [3]\n"
                           "             +-(slide 1000 ms) union [2]\n"
                           "                +-(slide 1000 ms) countedStream [0]\n"
                           "                +-(slide 1000 ms) countedStream [1]\n");
    em_ssc_free(ssc);
}

Test(graph, debug_string_of_an_input_is_one_line_and_of_null_is_null)
{
    em_ssc *ssc = graph_ssc();
    em_dstream *a = counted_input(ssc, none, 1);
    g_autofree char *text = em_dstream_debug_string(a);
    cr_assert_str_eq(text, "(slide 1000 ms) countedStream [0]\n");
    cr_assert_null(em_dstream_debug_string(NULL));
    em_ssc_free(ssc);
}
