/* structured_network_wordcount runs as the built program it is, reading from the example
 * line_server on 127.0.0.1 (--once: the text once, then it closes). Which lines fall in which
 * trigger depends on timing, so the check is exact on every printed batch's frame (Batch: 0,
 * 1, ... in order, Spark's console format) and on the last batch: the whole count table, its
 * rows in Spark 3.5's order. */
#include "../examples/example-fixture.h"

#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (30 * G_USEC_PER_SEC)
#define DASHES "-------------------------------------------"

static const char text[] = "to be or not to be\nthat is the question\n";

Test(structured_examples, network_wordcount_prints_the_complete_counts_in_console_format)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("ember-structured-XXXXXX", &path, NULL);
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
    const char *argv[] = {EXAMPLES "structured_network_wordcount", "127.0.0.1", port_text, "3",
                          NULL};
    proc wc = spawn(argv);
    GString *out = g_string_new(NULL);
    cr_assert(read_until(wc.out, out, NULL, g_get_monotonic_time() + TIMEOUT_US));
    int status = wait_exit(&wc, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    wait_exit(&server, g_get_monotonic_time() + TIMEOUT_US);
    unlink(path);

    /* Every batch: the banner, a table whose borders and header are exact, an empty line. */
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    size_t i = 0, last_rows = 0, last_end = 0;
    int batch = 0;
    while (lines[i] && lines[i][0]) {
        cr_assert_str_eq(lines[i], DASHES);
        g_autofree char *banner = g_strdup_printf("Batch: %d", batch++);
        cr_assert_str_eq(lines[i + 1], banner);
        cr_assert_str_eq(lines[i + 2], DASHES);
        const char *border = lines[i + 3];
        cr_assert(g_str_has_prefix(border, "+") && g_str_has_suffix(border, "-----+"), "%s",
                  border);
        cr_assert_str_eq(lines[i + 5], border);
        size_t j = i + 6;
        while (lines[j] && strcmp(lines[j], border) != 0)
            j++;
        cr_assert_not_null(lines[j], "a table without its last border:\n%s", out->str);
        cr_assert_str_eq(lines[j + 1], "");
        last_rows = i + 6;
        last_end = j;
        i = j + 2;
    }
    cr_assert_geq(batch, 1, "no batch printed:\n%s", out->str);
    cr_assert_null(lines[i + 1], "trailing output:\n%s", out->str);
    /* The last trigger's table holds every word of the text (complete mode). */
    cr_assert_str_eq(lines[last_rows - 3], "+--------+-----+");
    cr_assert_str_eq(lines[last_rows - 2], "|    word|count|");
    /* In Spark 3.5's order, whichever trigger each line fell in: the eight words hash to eight
     * different partitions of the 200 (not 18, be 56, is 81, the 110, question 147, that 160,
     * or 187, to 188), printed in partition order. */
    GString *rows = g_string_new(NULL);
    for (size_t k = last_rows; k < last_end; k++)
        g_string_append_printf(rows, "%s\n", lines[k]);
    cr_assert_str_eq(rows->str, "|     not|    1|\n"
                                "|      be|    2|\n"
                                "|      is|    1|\n"
                                "|     the|    1|\n"
                                "|question|    1|\n"
                                "|    that|    1|\n"
                                "|      or|    1|\n"
                                "|      to|    2|\n");
    g_string_free(rows, TRUE);
    g_string_free(out, TRUE);
}
