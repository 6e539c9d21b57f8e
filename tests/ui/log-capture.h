/* Captures what Ember logs through GLib's structured writer ("LEVEL message" lines, LEVEL being
 * the EMBER_LEVEL field, or GLib's level for messages without one), so tests assert on exact
 * messages. The writer can be set once per process; Criterion runs each test in its own. */
#ifndef EMBER_TESTS_LOG_CAPTURE_H
#define EMBER_TESTS_LOG_CAPTURE_H

#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

static GString *captured_log;
static GMutex captured_log_lock;

static inline GLogWriterOutput log_capture_writer(GLogLevelFlags level, const GLogField *fields,
                                                  gsize n, gpointer ud)
{
    (void)ud;
    const char *message = "", *ember_level = NULL;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            message = fields[i].value;
        if (strcmp(fields[i].key, "EMBER_LEVEL") == 0)
            ember_level = fields[i].value;
    }
    const char *glib_level = level & G_LOG_LEVEL_CRITICAL  ? "CRITICAL"
                             : level & G_LOG_LEVEL_WARNING ? "WARNING"
                                                           : "OTHER";
    g_mutex_lock(&captured_log_lock);
    g_string_append_printf(captured_log, "%s %s\n", ember_level ? ember_level : glib_level,
                           message);
    g_mutex_unlock(&captured_log_lock);
    return G_LOG_WRITER_HANDLED;
}

static inline void capture_log(void)
{
    captured_log = g_string_new(NULL);
    g_log_set_writer_func(log_capture_writer, NULL, NULL);
}

/* What was logged since the last call; the caller g_free()s it. */
static inline char *take_log(void)
{
    g_mutex_lock(&captured_log_lock);
    char *text = g_strdup(captured_log->str);
    g_string_truncate(captured_log, 0);
    g_mutex_unlock(&captured_log_lock);
    return text;
}

#endif
