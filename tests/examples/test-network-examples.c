/* The network examples run as the built programs they are (subprocesses of the test):
 * line_server serves a small text on an ephemeral port of 127.0.0.1, network_wordcount and
 * custom_receiver count its words for two batches. Batch boundaries depend on timing, so the
 * check is exact on the frame of every printed batch and on the word totals over all batches. */
#include "example-fixture.h"

#include <glib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_US (20 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------"

/* Eight distinct words: every batch prints all of its counts (print shows ten). */
static const char text[] = "to be or not to be\nthat is the question\n";
static const char totals_of_text[] = "be=2 is=1 not=1 or=1 question=1 that=1 the=1 to=2";

static char *text_path;

static void write_text(void)
{
    int fd = g_file_open_tmp("ember-lines-XXXXXX", &text_path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
}

static void remove_text(void)
{
    unlink(text_path);
    g_free(text_path);
}

/* line_server on a free port, --once or not; returns the port, read from its first line. */
static int start_line_server(proc *server, bool once)
{
    const char *argv[] = {EXAMPLES "line_server", "0", text_path, NULL};
    const char *argv_once[] = {EXAMPLES "line_server", "--once", "0", text_path, NULL};
    *server = spawn(once ? argv_once : argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server->out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    return port;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", g_strerror(errno));
    return fd;
}

static gint compare_words(gconstpointer a, gconstpointer b) { return strcmp(a, b); }

/* Checks that printed is a sequence of batches exactly as em_print frames them, one batch
 * interval apart, holding (word,n) records; returns the word totals over all of them as
 * "word=n ..." sorted by word, and the number of batches. */
static char *sum_batches(const char *printed, int *batches)
{
    char **lines = g_strsplit(printed, "\n", -1);
    GHashTable *totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    long long last = 0;
    size_t i = 0;
    *batches = 0;
    while (lines[i] && lines[i][0]) {
        long long t;
        cr_assert_str_eq(lines[i], DASHES);
        cr_assert_eq(sscanf(lines[i + 1], "Time: %lld ms", &t), 1, "%s", lines[i + 1]);
        cr_assert(last == 0 || t == last + 1000, "batch %lld after %lld", t, last);
        cr_assert_str_eq(lines[i + 2], DASHES);
        last = t;
        (*batches)++;
        for (i += 3; lines[i] && lines[i][0]; i++) {
            char word[64];
            int n, used = 0;
            cr_assert(sscanf(lines[i], "(%63[^,],%d)%n", word, &n, &used) == 2 &&
                          lines[i][used] == '\0',
                      "not a count: %s", lines[i]);
            gpointer sum = g_hash_table_lookup(totals, word);
            g_hash_table_insert(totals, g_strdup(word), GINT_TO_POINTER(GPOINTER_TO_INT(sum) + n));
        }
        cr_assert_not_null(lines[i], "a batch without its closing blank line");
        i++;
    }
    cr_assert(!lines[i] || (lines[i][0] == '\0' && !lines[i + 1]), "trailing output");

    GList *words = g_list_sort(g_hash_table_get_keys(totals), compare_words);
    GString *out = g_string_new(NULL);
    for (GList *w = words; w; w = w->next)
        g_string_append_printf(out, "%s%s=%d", w == words ? "" : " ", (char *)w->data,
                               GPOINTER_TO_INT(g_hash_table_lookup(totals, w->data)));
    g_list_free(words);
    g_hash_table_unref(totals);
    g_strfreev(lines);
    return g_string_free(out, FALSE);
}

/* Runs the word count example against line_server --once for two batches and checks the
 * totals: each word of the text counted exactly once. */
static void count_words_with(const char *example)
{
    proc server;
    int port = start_line_server(&server, true);
    char port_text[16];
    g_snprintf(port_text, sizeof port_text, "%d", port);
    const char *argv[] = {example, "127.0.0.1", port_text, "2", NULL};
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    proc counter = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(counter.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&counter, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert(WIFEXITED(wait_exit(&server, deadline)));

    int batches;
    char *totals = sum_batches(printed->str, &batches);
    cr_assert_geq(batches, 2, "%s", printed->str);
    cr_assert_str_eq(totals, totals_of_text, "%s", printed->str);
    g_free(totals);
    g_string_free(printed, TRUE);
}

TestSuite(network_examples, .init = write_text, .fini = remove_text);

Test(network_examples, network_wordcount_counts_every_word_the_server_sent)
{
    count_words_with(EXAMPLES "network_wordcount");
}

Test(network_examples, custom_receiver_counts_every_word_the_server_sent)
{
    count_words_with(EXAMPLES "custom_receiver");
}

Test(network_examples, line_server_once_sends_the_text_to_one_client_and_exits)
{
    proc server;
    int port = start_line_server(&server, true);
    int fd = connect_to(port);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *got = g_string_new(NULL);
    cr_assert(read_until(fd, got, NULL, deadline));
    cr_assert_str_eq(got->str, text);
    int status = wait_exit(&server, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    close(fd);
    g_string_free(got, TRUE);
}

Test(network_examples, line_server_repeats_the_text_until_sigterm)
{
    proc server;
    int port = start_line_server(&server, false);
    int fd = connect_to(port);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *got = g_string_new(NULL);
    char *twice = g_strconcat(text, text, NULL);
    cr_assert(read_until(fd, got, twice, deadline), "%s", got->str);
    cr_assert_str_eq(got->str, twice);
    kill(server.pid, SIGTERM);
    int status = wait_exit(&server, g_get_monotonic_time() + G_USEC_PER_SEC);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    close(fd);
    g_free(twice);
    g_string_free(got, TRUE);
}
