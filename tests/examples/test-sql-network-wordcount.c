/* SqlNetworkWordCount as the built program it is: line_server sends a text at once, the example
 * counts its words with SQL for two batches. Batch boundaries depend on timing, so each printed
 * batch is checked byte for byte against Spark's show() layout of the rows it holds (laid out
 * here independently: widths of at least 3, cells right-aligned), and the totals over all
 * batches are exact. */
#include "example-fixture.h"

#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)

static const char text[] = "to be or not to be\nthat is the question\n";
static const char totals_of_text[] = "be=2 is=1 not=1 or=1 question=1 that=1 the=1 to=2";

static char *text_path;

static void write_text(void)
{
    int fd = g_file_open_tmp("ember-sql-XXXXXX", &text_path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
}

static void remove_text(void)
{
    unlink(text_path);
    g_free(text_path);
}

static void append_border(GString *out, size_t w1, size_t w2)
{
    g_string_append_c(out, '+');
    for (size_t i = 0; i < w1; i++)
        g_string_append_c(out, '-');
    g_string_append_c(out, '+');
    for (size_t i = 0; i < w2; i++)
        g_string_append_c(out, '-');
    g_string_append(out, "+\n");
}

/* show() of (word, total) rows as Spark lays it out. */
static char *spark_show(char **words, int *totals, size_t n)
{
    size_t w1 = strlen("word"), w2 = strlen("total");
    for (size_t i = 0; i < n; i++) {
        char num[16];
        w1 = MAX(w1, strlen(words[i]));
        w2 = MAX(w2, (size_t)g_snprintf(num, sizeof num, "%d", totals[i]));
    }
    GString *out = g_string_new(NULL);
    append_border(out, w1, w2);
    g_string_append_printf(out, "|%*s|%*s|\n", (int)w1, "word", (int)w2, "total");
    append_border(out, w1, w2);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "|%*s|%*d|\n", (int)w1, words[i], (int)w2, totals[i]);
    append_border(out, w1, w2);
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}

static gint compare_words(gconstpointer a, gconstpointer b) { return strcmp(a, b); }

TestSuite(sql_network_wordcount, .init = write_text, .fini = remove_text);

Test(sql_network_wordcount, shows_each_batchs_counts_as_spark_and_counts_every_word_once)
{
    const char *server_argv[] =
        {EXAMPLES "line_server", "--once", "--pace", "0", "0", text_path, NULL};
    proc server = spawn(server_argv);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", deadline));
    char port[16];
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%15[0-9]\n", port), 1);
    g_string_free(first, TRUE);
    const char *argv[] = {EXAMPLES "sql_network_wordcount", "127.0.0.1", port, "2", NULL};
    proc counter = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(counter.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&counter, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert(WIFEXITED(wait_exit(&server, deadline)));

    GHashTable *sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *p = printed->str;
    long long last = 0;
    int batches = 0;
    while (*p) {
        long long t;
        int used = 0;
        cr_assert(sscanf(p, "========= %lld ms =========\n%n", &t, &used) == 1 && used > 0,
                  "not a batch header at: %s", p);
        cr_assert(last == 0 || t == last + 2000, "batch %lld after %lld", t, last);
        last = t;
        batches++;
        p += used;
        const char *end = strstr(p, "\n\n");
        cr_assert_not_null(end, "a table without its closing empty line");
        end += 2;
        /* The rows: the lines between the second and the last border. */
        char *got = g_strndup(p, (gsize)(end - p));
        char **lines = g_strsplit(got, "\n", -1);
        size_t n_lines = g_strv_length(lines), n = 0;
        char **words = g_new0(char *, n_lines + 1);
        int *totals = g_new0(int, n_lines + 1);
        for (size_t i = 3; i + 3 < n_lines; i++) {
            char word[64];
            int total;
            cr_assert_eq(sscanf(lines[i], "|%63[^|]|%d|", word, &total), 2, "%s", lines[i]);
            words[n] = g_strdup(g_strchug(word));
            totals[n++] = total;
            gpointer sum = g_hash_table_lookup(sums, words[n - 1]);
            g_hash_table_insert(sums, g_strdup(words[n - 1]),
                                GINT_TO_POINTER(GPOINTER_TO_INT(sum) + total));
        }
        char *expected = spark_show(words, totals, n);
        cr_assert_str_eq(got, expected);
        g_free(got);
        g_free(expected);
        for (size_t i = 0; i < n; i++)
            g_free(words[i]);
        g_free(words);
        g_free(totals);
        g_strfreev(lines);
        p = end;
    }
    cr_assert_eq(batches, 2, "%s", printed->str);

    GList *keys = g_list_sort(g_hash_table_get_keys(sums), compare_words);
    GString *got = g_string_new(NULL);
    for (GList *k = keys; k; k = k->next)
        g_string_append_printf(got, "%s%s=%d", k == keys ? "" : " ", (char *)k->data,
                               GPOINTER_TO_INT(g_hash_table_lookup(sums, k->data)));
    cr_assert_str_eq(got->str, totals_of_text, "%s", printed->str);
    g_list_free(keys);
    g_string_free(got, TRUE);
    g_hash_table_unref(sums);
    g_string_free(printed, TRUE);
}
