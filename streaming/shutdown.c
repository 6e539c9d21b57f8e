/* Graceful shutdown on SIGTERM/SIGINT (streaming, beside the context's lifecycle): Spark's
 * spark.streaming.stopGracefullyOnShutdown. GLib's unix signal sources turn the signal into a
 * callback on a thread of our own running its own main context, never in a signal handler, so
 * the callback may lock, log and stop the ssc like any other caller. Signals belong to the
 * process: one hook serves the one active ssc. */
#include "recovery.h"

#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

typedef struct {
    GMutex lock;
    em_ssc *ssc; /* NULL once forgotten */
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    guint sources[2];
    int received; /* signals seen */
} shutdown_hook;

static shutdown_hook hook = {0};
static GMutex hook_lock; /* guards installing and removing the hook */

static gboolean on_signal(gpointer data)
{
    int signum = GPOINTER_TO_INT(data);
    g_mutex_lock(&hook.lock);
    em_ssc *ssc = hook.ssc;
    int seen = ++hook.received;
    g_mutex_unlock(&hook.lock);
    if (seen > 1) {
        /* A second signal while the graceful stop runs: the user insists. */
        g_warning("received %s again while stopping gracefully: exiting at once",
                  g_strsignal(signum));
        _exit(128 + signum);
    }
    if (ssc) {
        g_message("received %s: stopping the streaming context gracefully (send it again to "
                  "exit at once)",
                  g_strsignal(signum));
        em_ssc_stop(ssc, EM_STOP_GRACEFUL); /* returns once every received batch is processed */
    }
    return G_SOURCE_CONTINUE;
}

static gpointer hook_main(gpointer data)
{
    (void)data;
    g_main_context_push_thread_default(hook.context);
    g_main_loop_run(hook.loop);
    g_main_context_pop_thread_default(hook.context);
    return NULL;
}

static void add_source(int index, int signum)
{
    GSource *src = g_unix_signal_source_new(signum);
    g_source_set_callback(src, on_signal, GINT_TO_POINTER(signum), NULL);
    hook.sources[index] = g_source_attach(src, hook.context);
    g_source_unref(src);
}

bool em_ssc_stop_gracefully_on_shutdown(em_ssc *ssc, GError **err)
{
    g_return_val_if_fail(ssc, false);
    g_mutex_lock(&hook_lock);
    g_mutex_lock(&hook.lock);
    bool taken = hook.ssc && hook.ssc != ssc;
    g_mutex_unlock(&hook.lock);
    if (taken) {
        g_mutex_unlock(&hook_lock);
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_stop_gracefully_on_shutdown: another streaming context handles "
                    "SIGTERM and SIGINT already; free it first");
        return false;
    }
    if (!hook.thread) {
        hook.context = g_main_context_new();
        hook.loop = g_main_loop_new(hook.context, FALSE);
        add_source(0, SIGTERM);
        add_source(1, SIGINT);
        hook.received = 0;
        hook.thread = g_thread_new("ember-shutdown", hook_main, NULL);
    }
    g_mutex_lock(&hook.lock);
    hook.ssc = ssc;
    g_mutex_unlock(&hook.lock);
    g_mutex_unlock(&hook_lock);
    return true;
}

void em__shutdown_forget(em_ssc *ssc)
{
    g_mutex_lock(&hook_lock);
    g_mutex_lock(&hook.lock);
    bool mine = hook.ssc == ssc && hook.thread;
    if (mine)
        hook.ssc = NULL;
    g_mutex_unlock(&hook.lock);
    if (mine) {
        /* Remove the sources (the default dispositions come back) and end the thread. */
        for (int i = 0; i < 2; i++) {
            GSource *src = g_main_context_find_source_by_id(hook.context, hook.sources[i]);
            if (src)
                g_source_destroy(src);
        }
        g_main_loop_quit(hook.loop);
        if (g_thread_self() != hook.thread)
            g_thread_join(hook.thread);
        else
            g_thread_unref(hook.thread);
        hook.thread = NULL;
        g_main_loop_unref(hook.loop);
        g_main_context_unref(hook.context);
        hook.loop = NULL, hook.context = NULL;
    }
    g_mutex_unlock(&hook_lock);
}
