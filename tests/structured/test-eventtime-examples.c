/* structured_network_wordcount_windowed and structured_sessionization run as the built programs
 * they are, reading from the example line_server on 127.0.0.1 (--once). Their timestamps are
 * the wall-clock batch times, so the checks are exact on the console format and on what holds
 * whatever the times: windows of 10 s every 5 s holding each word's count twice over, and one
 * 10 s session per word with its number of events. */
#include "../examples/example-fixture.h"

#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------"

static const char text[] = "to be or not to be\nthat is the question\n";

/* Runs example (argv after the program: host, port, then extra) against a line server sending
 * text once; returns the last batch's table rows (between its header border and last border)
 * and sets *header to its header line. Every batch's frame is checked on the way. */
static GPtrArray *last_table(const char *example, const char *const *extra, size_t n_extra,
                             char **header)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("ember-eventtime-XXXXXX", &path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *server_argv[] = {EXAMPLES "line_server", "--once", "0", path, NULL};
    proc server = spawn(server_argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(server.out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    g_autofree char *port_text = g_strdup_printf("%d", port);
    g_autofree char *program = g_strconcat(EXAMPLES, example, NULL);
    const char **argv = g_new0(const char *, n_extra + 4);
    argv[0] = program;
    argv[1] = "127.0.0.1";
    argv[2] = port_text;
    for (size_t i = 0; i < n_extra; i++)
        argv[3 + i] = extra[i];
    proc p = spawn(argv);
    g_free(argv);
    GString *out = g_string_new(NULL);
    cr_assert(read_until(p.out, out, NULL, g_get_monotonic_time() + TIMEOUT_US));
    int status = wait_exit(&p, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    wait_exit(&server, g_get_monotonic_time() + TIMEOUT_US);
    unlink(path);

    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    size_t i = 0, last_from = 0, last_to = 0;
    int batch = 0;
    while (lines[i] && lines[i][0]) {
        cr_assert_str_eq(lines[i], DASHES);
        g_autofree char *banner = g_strdup_printf("Batch: %d", batch++);
        cr_assert_str_eq(lines[i + 1], banner);
        cr_assert_str_eq(lines[i + 2], DASHES);
        const char *border = lines[i + 3];
        cr_assert(g_str_has_prefix(border, "+-") && g_str_has_suffix(border, "-+"), "%s", border);
        cr_assert_str_eq(lines[i + 5], border);
        size_t j = i + 6;
        while (lines[j] && strcmp(lines[j], border) != 0)
            j++;
        cr_assert_not_null(lines[j], "a table without its last border:\n%s", out->str);
        cr_assert_str_eq(lines[j + 1], "");
        g_free(*header);
        *header = g_strdup(lines[i + 4]);
        last_from = i + 6;
        last_to = j;
        i = j + 2;
    }
    cr_assert_geq(batch, 1, "no batch printed:\n%s", out->str);
    cr_assert_null(lines[i + 1], "trailing output:\n%s", out->str);
    GPtrArray *rows = g_ptr_array_new_with_free_func(g_free);
    for (size_t k = last_from; k < last_to; k++)
        g_ptr_array_add(rows, g_strdup(lines[k]));
    g_string_free(out, TRUE);
    return rows;
}

static int word_count(const char *word)
{
    return strcmp(word, "to") == 0 || strcmp(word, "be") == 0 ? 2 : 1;
}

static int64_t parse_time(const char *text)
{
    int y, mo, d, h, mi, s;
    cr_assert_eq(sscanf(text, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s), 6, "%s", text);
    g_autoptr(GDateTime) dt = g_date_time_new_utc(y, mo, d, h, mi, s);
    return g_date_time_to_unix(dt);
}

Test(eventtime_examples, windowed_wordcount_counts_each_word_in_its_two_sliding_windows)
{
    const char *extra[] = {"10", "5", "3"};
    char *header = NULL;
    g_autoptr(GPtrArray) rows =
        last_table("structured_network_wordcount_windowed", extra, 3, &header);
    cr_assert_str_eq(header, "|window                                    |word    |count|");
    GHashTable *totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int64_t previous_start = 0;
    for (guint i = 0; i < rows->len; i++) {
        char start[20], end[20], word[16];
        int count = 0;
        cr_assert_eq(sscanf(rows->pdata[i], "|{%19[^,], %19[^}]}|%15[^ |] |%d", start, end, word,
                            &count),
                     4, "%s", (char *)rows->pdata[i]);
        int64_t s = parse_time(start), e = parse_time(end);
        cr_assert_eq(e - s, 10, "%s", (char *)rows->pdata[i]);
        cr_assert_eq(s % 5, 0, "%s", (char *)rows->pdata[i]);
        cr_assert_geq(s, previous_start, "not ordered by window: %s", (char *)rows->pdata[i]);
        previous_start = s;
        gpointer old = g_hash_table_lookup(totals, word);
        g_hash_table_insert(totals, g_strdup(word), GINT_TO_POINTER(GPOINTER_TO_INT(old) + count));
    }
    /* 8 distinct words, each timestamp in two windows */
    cr_assert_eq(g_hash_table_size(totals), 8);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, totals);
    while (g_hash_table_iter_next(&it, &k, &v))
        cr_assert_eq(GPOINTER_TO_INT(v), 2 * word_count(k), "%s", (char *)k);
    g_hash_table_destroy(totals);
    g_free(header);
}

Test(eventtime_examples, sessionization_prints_one_session_per_word)
{
    const char *extra[] = {"3"};
    char *header = NULL;
    g_autoptr(GPtrArray) rows = last_table("structured_sessionization", extra, 1, &header);
    cr_assert_str_eq(header,
                     "|sessionId|CAST(session.star...|CAST(session.end ...|durationMs|numEvents|");
    cr_assert_eq(rows->len, 8);
    for (guint i = 0; i < rows->len; i++) {
        char word[16];
        long long start = 0, end = 0, duration = 0, events = 0;
        cr_assert_eq(sscanf(rows->pdata[i], "|%*[ ]%15[^|]|%lld|%lld|%lld|%lld|", word, &start,
                            &end, &duration, &events),
                     5, "%s", (char *)rows->pdata[i]);
        /* each word's events arrive together: a session of the gap, 10 s */
        cr_assert_eq(end - start, 10, "%s", (char *)rows->pdata[i]);
        cr_assert_eq(duration, 10, "%s", (char *)rows->pdata[i]);
        cr_assert_eq(events, word_count(word), "%s", (char *)rows->pdata[i]);
    }
    g_free(header);
}
