/* The stateful network examples run as the built programs they are (subprocesses of the test)
 * against line_server --once on an ephemeral port of 127.0.0.1. Batch boundaries depend on
 * timing, so the checks are on what does not: the frame of every printed batch, each word's
 * running counts in the order printed (stateful), and each word's counts summed over all
 * windows and its final 0 once every line has left the window (windowed). */
#include "example-fixture.h"

#include <glib.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------"

static char *text_path;

/* Writes text (at most ten records in all, so that print never cuts a batch) to a temp file. */
static void write_text(const char *text)
{
    int fd = g_file_open_tmp("ember-stateful-XXXXXX", &text_path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void remove_text(void)
{
    if (text_path)
        unlink(text_path);
    g_free(text_path);
}

/* Runs the example against line_server --once serving the text, for the given batches, and
 * returns what it printed. */
static char *run_example(const char *example, const char *batches)
{
    const char *server_argv[] = {EXAMPLES "line_server", "--once", "0", text_path, NULL};
    proc server = spawn(server_argv);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", deadline));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);

    char port_text[16];
    g_snprintf(port_text, sizeof port_text, "%d", port);
    const char *argv[] = {example, "127.0.0.1", port_text, batches, NULL};
    proc counter = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(counter.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&counter, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert(WIFEXITED(wait_exit(&server, deadline)));
    return g_string_free(printed, FALSE);
}

/* One printed (word,n) record. */
typedef struct {
    char word[64];
    int n;
} record;

/* Checks that printed is a sequence of batches exactly as em_print frames them, one second
 * apart, of (word,n) records; returns the records of each batch (a GArray of record per batch,
 * in a GPtrArray the caller unrefs). */
static GPtrArray *parse_batches(const char *printed)
{
    GPtrArray *batches = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    char **lines = g_strsplit(printed, "\n", -1);
    long long last = 0;
    size_t i = 0;
    while (lines[i] && lines[i][0]) {
        long long t;
        cr_assert_str_eq(lines[i], DASHES);
        cr_assert(lines[i + 1] && sscanf(lines[i + 1], "Time: %lld ms", &t) == 1, "%s", printed);
        cr_assert(last == 0 || t == last + 1000, "batch %lld after %lld", t, last);
        cr_assert_str_eq(lines[i + 2], DASHES);
        last = t;
        GArray *records = g_array_new(FALSE, FALSE, sizeof(record));
        for (i += 3; lines[i] && lines[i][0]; i++) {
            record r;
            int used = 0;
            cr_assert(sscanf(lines[i], "(%63[^,],%d)%n", r.word, &r.n, &used) == 2 &&
                          lines[i][used] == '\0',
                      "not a count: %s", lines[i]);
            g_array_append_val(records, r);
        }
        cr_assert_not_null(lines[i], "a batch without its closing blank line");
        g_ptr_array_add(batches, records);
        i++;
    }
    cr_assert(!lines[i] || (lines[i][0] == '\0' && !lines[i + 1]), "trailing output");
    g_strfreev(lines);
    return batches;
}

TestSuite(stateful_examples, .fini = remove_text);

Test(stateful_examples, stateful_wordcount_prints_each_words_running_count_from_the_initial_state)
{
    /* hello and world start at 1 (the initial state RDD); each occurrence prints its word's
     * count so far, so every word's printed counts, in order, are known whatever the batches. */
    write_text("hello world\nhello ember\nworld\n");
    g_autofree char *printed = run_example(EXAMPLES "stateful_network_wordcount", "2");
    g_autoptr(GPtrArray) batches = parse_batches(printed);
    cr_assert_geq(batches->len, 2, "%s", printed);
    GHashTable *counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *seq = NULL;
    for (guint b = 0; b < batches->len; b++) {
        GArray *records = batches->pdata[b];
        for (guint i = 0; i < records->len; i++) {
            record *r = &g_array_index(records, record, i);
            seq = g_hash_table_lookup(counts, r->word);
            if (!seq) {
                seq = g_string_new(NULL);
                g_hash_table_insert(counts, g_strdup(r->word), seq);
            }
            g_string_append_printf(seq, "%s%d", seq->len ? " " : "", r->n);
        }
    }
    cr_assert_eq(g_hash_table_size(counts), 3, "%s", printed);
    const struct {
        const char *word, *counts;
    } want[] = {{"hello", "2 3"}, {"world", "2 3"}, {"ember", "1"}};
    for (size_t w = 0; w < G_N_ELEMENTS(want); w++) {
        seq = g_hash_table_lookup(counts, want[w].word);
        cr_assert_not_null(seq, "%s never printed: %s", want[w].word, printed);
        cr_assert_str_eq(seq->str, want[w].counts, "%s: %s", want[w].word, printed);
        g_string_free(seq, TRUE);
    }
    g_hash_table_unref(counts);
}

Test(stateful_examples, windowed_wordcount_counts_each_line_in_three_windows_then_zero)
{
    /* Eight distinct words: every window prints all of them (print shows ten). Each batch is in
     * the windows at its time and the two seconds after, so over all windows a word sums to 3x
     * its count, once the last line has left; the lines come in the first second or two, so
     * the sixth window holds none of them: every word at 0, kept as Spark keeps keys without a
     * filter function. */
    write_text("to be or not to be\nthat is the question\n");
    g_autofree char *printed = run_example(EXAMPLES "windowed_network_wordcount", "6");
    g_autoptr(GPtrArray) batches = parse_batches(printed);
    cr_assert_geq(batches->len, 6, "%s", printed);
    GHashTable *sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint b = 0; b < batches->len; b++) {
        GArray *records = batches->pdata[b];
        for (guint i = 0; i < records->len; i++) {
            record *r = &g_array_index(records, record, i);
            cr_assert_geq(r->n, 0, "%s", printed);
            gpointer sum = g_hash_table_lookup(sums, r->word);
            g_hash_table_insert(sums, g_strdup(r->word),
                                GINT_TO_POINTER(GPOINTER_TO_INT(sum) + r->n));
        }
    }
    const struct {
        const char *word;
        int count;
    } want[] = {{"to", 2},   {"be", 2}, {"or", 1},  {"not", 1},
                {"that", 1}, {"is", 1}, {"the", 1}, {"question", 1}};
    cr_assert_eq(g_hash_table_size(sums), G_N_ELEMENTS(want), "%s", printed);
    for (size_t w = 0; w < G_N_ELEMENTS(want); w++)
        cr_assert_eq(GPOINTER_TO_INT(g_hash_table_lookup(sums, want[w].word)), 3 * want[w].count,
                     "%s: %s", want[w].word, printed);
    GArray *last = batches->pdata[batches->len - 1];
    cr_assert_eq(last->len, G_N_ELEMENTS(want), "%s", printed);
    for (guint i = 0; i < last->len; i++)
        cr_assert_eq(g_array_index(last, record, i).n, 0, "%s", printed);
    g_hash_table_unref(sums);
}
