/* wordcount: Spark's classic RDD word count, ported line for line. An application of the public
 * library: it includes <ember.h> only and links libember. Usage: wordcount [FILE]; without FILE
 * it counts the built-in text below. The Scala it ports:
 *
 *   val lines  = if (args.nonEmpty) sc.textFile(args(0)) else sc.parallelize(text)
 *   val words  = lines.flatMap(_.split("\\s+").filter(_.nonEmpty))
 *   val counts = words.map(word => (word, 1)).reduceByKey(_ + _)
 *   counts.collect().sortBy { case (word, n) => (-n, word) }.take(20).foreach(println)
 */
#include <ember.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define TOP 20

/* The opening of A Tale of Two Cities, one clause a line. */
static const char *const text[] = {
    "it was the best of times",           "it was the worst of times",
    "it was the age of wisdom",           "it was the age of foolishness",
    "it was the epoch of belief",         "it was the epoch of incredulity",
    "it was the season of Light",         "it was the season of Darkness",
    "it was the spring of hope",          "it was the winter of despair",
    "we had everything before us",        "we had nothing before us",
    "we were all going direct to Heaven", "we were all going direct the other way",
};

/* sortBy { case (word, n) => (-n, word) }: the most frequent first, ties by word. */
static int by_count_then_word(const void *a, const void *b)
{
    em_value x = *(const em_value *)a, y = *(const em_value *)b;
    int64_t nx = em_as_int(em_val(x)), ny = em_as_int(em_val(y));
    if (nx != ny)
        return nx > ny ? -1 : 1;
    return em_value_compare(em_key(x), em_key(y));
}

static bool word_count(em_context *sc, const char *path, GError **err)
{
    g_autoptr(em_rdd) lines = NULL;
    if (path) {
        lines = em_text_file(sc, path, 0, err);
        if (!lines)
            return false;
    } else {
        em_value records[G_N_ELEMENTS(text)];
        for (size_t i = 0; i < G_N_ELEMENTS(text); i++)
            records[i] = em_str(text[i]);
        lines = em_parallelize(sc, records, G_N_ELEMENTS(text), 0);
    }

    g_autoptr(em_rdd) words = em_rdd_flat_map(lines, em_split_words);
    g_autoptr(em_rdd) pairs = em_rdd_map(words, em_pair_one);
    g_autoptr(em_rdd) counts = em_rdd_reduce_by_key(pairs, em_sum);

    g_autoptr(em_values) out = em_rdd_collect(counts, err);
    if (!out)
        return false;
    qsort(out->items, out->n, sizeof *out->items, by_count_then_word);

    /* println of each (word,n) tuple, then how many words there were in all. */
    g_autoptr(GString) line = g_string_new(NULL);
    int64_t total = 0;
    for (size_t i = 0; i < out->n; i++) {
        total += em_as_int(em_val(out->items[i]));
        if (i < TOP) {
            g_string_truncate(line, 0);
            em_value_format(out->items[i], line);
            g_string_append_c(line, '\n');
            fwrite(line->str, 1, line->len, stdout);
        }
    }
    printf("%" PRId64 " words, %zu distinct\n", total, out->n);
    return true;
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: %s [FILE]\n", argv[0]);
        return 2;
    }
    g_autoptr(GError) err = NULL;
    em_context *sc = em_context_new("local[2]", "WordCount", &err);
    bool ok = sc && word_count(sc, argc == 2 ? argv[1] : NULL, &err);
    em_context_free(sc);
    if (!ok)
        fprintf(stderr, "wordcount: %s\n", err->message);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
