/* Output operations: print (byte for byte as Spark's DStream.print), foreachRDD and
 * saveAsTextFiles. They run on the scheduler thread, in registration order, batch by batch. */
#include "streaming-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

typedef struct {
    int num;
    FILE *out;
} print_state;

static bool run_print(em_output_op *op, em_rdd *rdd, em_time t, GError **err)
{
    const print_state *ps = op->ud;
    /* rdd.take(num + 1): one more than shown tells whether to print "...". */
    g_autoptr(em_values) first = em_rdd_take(rdd, (size_t)ps->num + 1, err);
    if (!first)
        return false;
    GString *text = g_string_new(NULL);
    g_string_append_printf(text,
                           "-------------------------------------------\n"
                           "Time: %" G_GINT64_FORMAT " ms\n"
                           "-------------------------------------------\n",
                           (gint64)t);
    for (size_t i = 0; i < first->n && i < (size_t)ps->num; i++) {
        em_value_format(first->items[i], text);
        g_string_append_c(text, '\n');
    }
    if (first->n > (size_t)ps->num)
        g_string_append(text, "...\n");
    g_string_append_c(text, '\n');
    fwrite(text->str, 1, text->len, ps->out);
    fflush(ps->out);
    g_string_free(text, TRUE);
    return true;
}

void em_print_to(em_dstream *ds, int num, FILE *out)
{
    print_state *ps = g_new(print_state, 1);
    ps->num = num < 0 ? 0 : num;
    ps->out = out;
    em__output_add(ds, "print", run_print, ps, g_free, NULL);
}

void em_print_num(em_dstream *ds, int num) { em_print_to(ds, num, stdout); }
void em_print(em_dstream *ds) { em_print_to(ds, 10, stdout); }

typedef struct {
    em_foreach_rdd_fn fn;
    void *ud;
    GDestroyNotify destroy;
} foreach_state;

static void foreach_state_free(void *p)
{
    foreach_state *fs = p;
    if (fs->destroy)
        fs->destroy(fs->ud);
    g_free(fs);
}

static bool run_foreach(em_output_op *op, em_rdd *rdd, em_time t, GError **err)
{
    const foreach_state *fs = op->ud;
    GError *local = NULL;
    if (fs->fn(rdd, t, fs->ud, &local))
        return true;
    if (!local)
        g_set_error(&local, EM_ERROR, EM_ERROR_TASK, "foreachRDD (%s) failed without a message",
                    op->fn_name ? op->fn_name : "?");
    g_propagate_error(err, local);
    return false;
}

void em_foreach_rdd_full(em_dstream *ds, em_foreach_rdd_fn fn, void *ud, GDestroyNotify destroy,
                         const char *name)
{
    foreach_state *fs = g_new(foreach_state, 1);
    *fs = (foreach_state){fn, ud, destroy};
    em__output_add(ds, "foreachRDD", run_foreach, fs, foreach_state_free, name);
}

typedef struct {
    char *prefix;
    char *suffix;
} save_state;

static void save_state_free(void *p)
{
    save_state *ss = p;
    g_free(ss->prefix);
    g_free(ss->suffix);
    g_free(ss);
}

/* Spark's rddToFileName: prefix-<ms>[.suffix]. */
/* Removes a directory saveAsTextFile wrote (or began to write, with whatever it holds), if it
 * exists. */
static void remove_saved(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (!dir)
        return;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            remove_saved(child);
        else
            g_remove(child);
    }
    g_dir_close(dir);
    g_rmdir(path);
}

/* A batch run again after a restart replaces its earlier output, never adds to it (Spark turns
 * Hadoop's output check off in streaming jobs for this reason): the batch is saved beside the
 * target under a hidden name, then renamed over it, so the target holds one whole run's
 * output at any time but the instant between the two renames. */
static bool save_replacing(em_rdd *rdd, const char *path, GError **err)
{
    g_autofree char *dir = g_path_get_dirname(path), *base = g_path_get_basename(path);
    g_autofree char *saving_name = g_strdup_printf(".%s.saving", base);
    g_autofree char *old_name = g_strdup_printf(".%s.old", base);
    g_autofree char *saving = g_build_filename(dir, saving_name, NULL);
    g_autofree char *old = g_build_filename(dir, old_name, NULL);
    remove_saved(saving);
    if (!em_rdd_save_as_text_file(rdd, saving, EM_COMPRESS_NONE, err))
        return false;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return g_rename(saving, path) == 0 || (g_set_error(err, EM_ERROR, EM_ERROR_IO,
                                                           "saveAsTextFiles: cannot rename %s to "
                                                           "%s: %s",
                                                           saving, path, g_strerror(errno)),
                                               false);
    remove_saved(old);
    if (g_rename(path, old) != 0 || g_rename(saving, path) != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "saveAsTextFiles: cannot replace %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    remove_saved(old);
    return true;
}

static bool run_save(em_output_op *op, em_rdd *rdd, em_time t, GError **err)
{
    const save_state *ss = op->ud;
    g_autofree char *path =
        ss->suffix && *ss->suffix
            ? g_strdup_printf("%s-%" G_GINT64_FORMAT ".%s", ss->prefix, (gint64)t, ss->suffix)
            : g_strdup_printf("%s-%" G_GINT64_FORMAT, ss->prefix, (gint64)t);
    return save_replacing(rdd, path, err);
}

void em_save_as_text_files(em_dstream *ds, const char *prefix, const char *suffix)
{
    save_state *ss = g_new(save_state, 1);
    ss->prefix = g_strdup(prefix);
    ss->suffix = g_strdup(suffix);
    em__output_add(ds, "saveAsTextFiles", run_save, ss, save_state_free, NULL);
}
