/* Ember's log: GLib structured logging (domain "ember") filtered by Spark's levels, set with
 * em_set_log_level() as Spark's setLogLevel; and the falling-behind rule the monitor warns by. */
#include "ui-private.h"

#include <stdarg.h>

static const char *const level_names[] = {"ALL",  "TRACE", "DEBUG", "INFO",
                                          "WARN", "ERROR", "FATAL", "OFF"};
static gint threshold = EM_LOG_WARN;

bool em_set_log_level(const char *level)
{
    for (int i = 0; level && i < (int)G_N_ELEMENTS(level_names); i++) {
        if (g_ascii_strcasecmp(level, level_names[i]) != 0)
            continue;
        g_atomic_int_set(&threshold, i);
        /* GLib's default writer drops debug and info unless asked to show them. */
        g_log_set_debug_enabled(i < EM_LOG_WARN);
        return true;
    }
    g_critical("em_set_log_level: unknown level \"%s\"; use one of ALL, TRACE, DEBUG, INFO, WARN, "
               "ERROR, FATAL, OFF",
               level ? level : "(null)");
    return false;
}

em_log_level em_get_log_level(void) { return (em_log_level)g_atomic_int_get(&threshold); }

/* Spark's levels on GLib's: ERROR and FATAL are criticals (GLib's own error level aborts). */
static GLogLevelFlags glib_level(em_log_level level)
{
    switch (level) {
    case EM_LOG_ALL:
    case EM_LOG_TRACE:
    case EM_LOG_DEBUG: return G_LOG_LEVEL_DEBUG;
    case EM_LOG_INFO: return G_LOG_LEVEL_INFO;
    case EM_LOG_WARN: return G_LOG_LEVEL_WARNING;
    default: return G_LOG_LEVEL_CRITICAL;
    }
}

void em__log(em_log_level level, const char *fmt, ...)
{
    if (level < em_get_log_level() || level >= EM_LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    const GLogField fields[] = {
        {"GLIB_DOMAIN", G_LOG_DOMAIN, -1},
        {"EMBER_LEVEL", level_names[level], -1},
        {"MESSAGE", message, -1},
    };
    g_log_structured_array(glib_level(level), fields, G_N_ELEMENTS(fields));
    g_free(message);
}

/* A batch counts as growing when its scheduling delay is above the interval and above the one
 * before; EM_FALLING_BEHIND_BATCHES of them in a row mean the stream is falling behind. One
 * warning per episode: the next needs a batch back within the interval first. */
bool em__behind_update(em__behind *b, int64_t scheduling_delay, em_duration interval)
{
    bool above = scheduling_delay > interval;
    bool grew = above && scheduling_delay > b->last_delay;
    b->last_delay = scheduling_delay;
    if (!above) {
        b->growing = 0;
        b->warned = false;
        return false;
    }
    b->growing = grew ? b->growing + 1 : 0;
    if (b->growing < EM_FALLING_BEHIND_BATCHES || b->warned)
        return false;
    b->warned = true;
    return true;
}
