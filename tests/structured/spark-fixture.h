/* What the tests comparing Ember with PySpark 3.5 share: whether python3 can import pyspark
 * (a differential test is skipped, saying so, when it cannot), and console output with each
 * table's rows sorted, for tables Spark prints in its aggregation's hash order. */
#ifndef EMBER_TESTS_SPARK_FIXTURE_H
#define EMBER_TESTS_SPARK_FIXTURE_H

#include <glib.h>

#include <string.h>

/* True when `python3 -c "import pyspark"` succeeds. */
static inline bool have_pyspark(void)
{
    const char *argv[] = {"python3", "-c", "import pyspark", NULL};
    int status = -1;
    return g_spawn_sync(NULL, (char **)argv, NULL,
                        G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                            G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL) &&
           g_spawn_check_wait_status(status, NULL);
}

static inline gint spark_fixture_compare_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The console text with each table's rows (border, header, border, rows..., border) sorted,
 * everything else as it was. g_free() it. */
static inline char *rows_sorted(const char *console)
{
    g_auto(GStrv) lines = g_strsplit(console, "\n", -1);
    size_t n = g_strv_length(lines);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < n;) {
        if (g_str_has_prefix(lines[i], "+") && i + 2 < n && g_str_has_prefix(lines[i + 2], "+")) {
            for (size_t k = i; k <= i + 2; k++)
                g_string_append_printf(out, "%s\n", lines[k]);
            size_t end = i + 3;
            while (end < n && !g_str_has_prefix(lines[end], "+"))
                end++;
            GPtrArray *rows = g_ptr_array_new();
            for (size_t k = i + 3; k < end; k++)
                g_ptr_array_add(rows, lines[k]);
            g_ptr_array_sort(rows, spark_fixture_compare_lines);
            for (size_t k = 0; k < rows->len; k++)
                g_string_append_printf(out, "%s\n", (char *)rows->pdata[k]);
            g_ptr_array_free(rows, TRUE);
            i = end;
            continue;
        }
        g_string_append(out, lines[i]);
        if (++i < n)
            g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

#endif
