/* The Kafka examples as the built programs they are: ember-kafka-broker in its own process,
 * kafka_word_producer writing its built-in text, direct_kafka_wordcount counting it for three
 * batches. When the group's join lands decides which batch holds the words, so the check is
 * exact on the frame of every batch and on the word totals over all of them. */
#include "../examples/example-fixture.h"
#include "kafka-fixture.h"

#define DASHES "-------------------------------------------"

static gint compare_words(gconstpointer a, gconstpointer b, gpointer ud)
{
    (void)ud;
    return strcmp(a, b);
}

/* Checks that printed is n batches framed as em_print frames them, 2 s apart; returns the
 * totals of their (word,count) records as "word=n ..." sorted by word. */
static char *totals_of(const char *printed, int n)
{
    char **lines = g_strsplit(printed, "\n", -1);
    GTree *totals = g_tree_new_full(compare_words, NULL, g_free, NULL);
    long long last = 0;
    size_t i = 0;
    for (int b = 0; b < n; b++) {
        long long t = 0;
        cr_assert_str_eq(lines[i++], DASHES);
        cr_assert_eq(sscanf(lines[i++], "Time: %lld ms", &t), 1);
        cr_assert(b == 0 || t == last + 2000, "batch at %lld after %lld", t, last);
        last = t;
        cr_assert_str_eq(lines[i++], DASHES);
        for (; lines[i] && lines[i][0]; i++) {
            char word[64];
            int count;
            cr_assert_eq(sscanf(lines[i], "(%63[^,],%d)", word, &count), 2, "%s", lines[i]);
            gpointer old = g_tree_lookup(totals, word);
            g_tree_replace(totals, g_strdup(word), GINT_TO_POINTER(GPOINTER_TO_INT(old) + count));
        }
        cr_assert(lines[i], "batch %d is not closed by an empty line", b + 1);
        i++;
    }
    cr_assert(!lines[i] || !lines[i][0], "more output than %d batches: %s", n, lines[i]);
    GString *out = g_string_new(NULL);
    GTreeNode *node = g_tree_node_first(totals);
    for (; node; node = g_tree_node_next(node))
        g_string_append_printf(out, "%s%s=%d", out->len ? " " : "", (char *)g_tree_node_key(node),
                               GPOINTER_TO_INT(g_tree_node_value(node)));
    g_tree_unref(totals);
    g_strfreev(lines);
    return g_string_free(out, FALSE);
}

Test(kafka_examples, direct_kafka_wordcount_counts_what_kafka_word_producer_wrote)
{
    mock_broker b = mock_broker_start((const char *[]){"words:3", NULL});
    proc producer =
        spawn((const char *[]){EXAMPLES "kafka_word_producer", b.bootstrap, "words", NULL});
    int status = wait_exit(&producer, g_get_monotonic_time() + 30 * G_USEC_PER_SEC);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "producer status %d", status);

    proc counter = spawn((const char *[]){EXAMPLES "direct_kafka_wordcount", b.bootstrap,
                                          "example-group", "words", "3", NULL});
    GString *out = g_string_new(NULL);
    cr_assert(read_until(counter.out, out, NULL, g_get_monotonic_time() + 60 * G_USEC_PER_SEC));
    status = wait_exit(&counter, g_get_monotonic_time() + 30 * G_USEC_PER_SEC);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out->str);
    g_autofree char *totals = totals_of(out->str, 3);
    cr_assert_str_eq(totals, "age=2 best=1 foolishness=1 it=4 of=4 the=4 times=2 was=4 wisdom=1 "
                             "worst=1");
    g_string_free(out, TRUE);
    mock_broker_stop(&b);
}

Test(kafka_examples, direct_kafka_wordcount_explains_its_arguments)
{
    proc counter = spawn((const char *[]){EXAMPLES "direct_kafka_wordcount", "127.0.0.1:9", NULL});
    int status = wait_exit(&counter, g_get_monotonic_time() + 10 * G_USEC_PER_SEC);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
}
