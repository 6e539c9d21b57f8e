/* Captures the critical messages Ember logs on misuse, so tests can assert on them. Criticals go
 * through the structured-log writer (G_LOG_USE_STRUCTURED), which can be set once per process;
 * Criterion runs each test in a process of its own. */
#ifndef EMBER_TESTS_CRITICALS_H
#define EMBER_TESTS_CRITICALS_H

#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

static GString *criticals;
static GMutex criticals_lock;

static inline GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields,
                                              gsize n, gpointer ud)
{
    if (!(level & G_LOG_LEVEL_CRITICAL))
        return g_log_writer_default(level, fields, n, ud);
    g_mutex_lock(&criticals_lock);
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_string_append_printf(criticals, "%s\n", (const char *)fields[i].value);
    g_mutex_unlock(&criticals_lock);
    return G_LOG_WRITER_HANDLED;
}

/* From now on, criticals are kept rather than printed. */
static inline void capture_criticals(void)
{
    criticals = g_string_new(NULL);
    g_log_set_writer_func(capture_writer, NULL, NULL);
}

/* The criticals logged since the last call; the caller g_free()s them. */
static inline char *take_criticals(void)
{
    g_mutex_lock(&criticals_lock);
    char *text = g_strdup(criticals->str);
    g_string_truncate(criticals, 0);
    g_mutex_unlock(&criticals_lock);
    return text;
}

/* Asserts a critical containing needle was logged since the last check, and forgets them. */
static inline void assert_critical(const char *needle)
{
    g_autofree char *logged = take_criticals();
    cr_assert(strstr(logged, needle), "expected a critical containing \"%s\", got: %s", needle,
              logged);
}

#endif
