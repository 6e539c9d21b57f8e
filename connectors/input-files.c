/* textFileStream: a directory watched for new files (Spark's FileInputDStream). At each batch
 * time the generator's seal lists the directory and selects the names never seen before (no
 * user code); compute, on the scheduler thread, turns that selection into textFile RDDs. */
#include "streaming-private.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* The files selected for one batch time: an entry of Spark's batchTimeToSelectedFiles. */
typedef struct {
    em_time time;
    GPtrArray *paths; /* the new files, in name order */
    GError *error;    /* set when the directory could not be listed */
} selection;

typedef struct {
    char *dir;
    bool new_files_only;
    GMutex lock;      /* seal (generator thread) against compute (scheduler thread) */
    GHashTable *seen; /* names that counted already, never read again: what recovery needs */
    GQueue selected;  /* selection *, ascending time: sealed, not computed yet */
} files_state;

static void selection_free(selection *sel)
{
    g_ptr_array_unref(sel->paths);
    g_clear_error(&sel->error);
    g_free(sel);
}

/* Hidden files (Hadoop's filter) and the names of files still being written. */
static bool is_ignored(const char *name)
{
    return name[0] == '.' || name[0] == '_' || g_str_has_suffix(name, "._COPYING_") ||
           g_str_has_suffix(name, ".tmp");
}

static int compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool list_failed(const files_state *st, GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "textFileStream: cannot list directory %s: %s",
                st->dir, g_strerror(errno));
    return false;
}

/* Adds to paths, in name order, the regular files of the directory whose names are neither
 * ignored nor seen, and marks them seen. On a listing error nothing is marked. The caller
 * holds st->lock. */
static bool select_new_files(files_state *st, GPtrArray *paths, GError **err)
{
    DIR *dir = opendir(st->dir);
    if (!dir)
        return list_failed(st, err);
    struct dirent *de;
    for (errno = 0; (de = readdir(dir)); errno = 0) {
        if (is_ignored(de->d_name) || g_hash_table_contains(st->seen, de->d_name))
            continue;
        char *path = g_build_filename(st->dir, de->d_name, NULL);
        struct stat sb;
        /* A subdirectory is no file; a name gone since readdir may come back and count then. */
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            g_ptr_array_add(paths, path);
        else
            g_free(path);
    }
    if (errno != 0) {
        list_failed(st, err);
        closedir(dir);
        g_ptr_array_set_size(paths, 0);
        return false;
    }
    closedir(dir);
    g_ptr_array_sort(paths, compare_paths);
    for (guint i = 0; i < paths->len; i++)
        g_hash_table_add(st->seen, g_path_get_basename(paths->pdata[i]));
    return true;
}

/* Spark's newFilesOnly: what is there when the stream starts has been seen. */
static bool files_start(em_dstream *ds, GError **err)
{
    files_state *st = ds->state;
    if (!st->new_files_only)
        return true;
    g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    bool ok = select_new_files(st, present, err);
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Listing at the batch time, as Spark's generator does, makes a batch hold the files that had
 * appeared by its time however late the scheduler runs it. */
static void files_seal(em_dstream *ds, em_time t)
{
    files_state *st = ds->state;
    selection *sel = g_new0(selection, 1);
    sel->time = t;
    sel->paths = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    select_new_files(st, sel->paths, &sel->error);
    g_queue_push_tail(&st->selected, sel);
    g_mutex_unlock(&st->lock);
}

/* Spark's filesToRDD: a UnionRDD of one textFile RDD per file. */
static em_rdd *files_to_rdd(em_context *sc, const GPtrArray *paths, GError **err)
{
    if (paths->len == 0)
        return em_empty_rdd(sc);
    g_autoptr(GPtrArray) rdds = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
    for (guint i = 0; i < paths->len; i++) {
        /* A file gone since the listing fails here ("textFile: cannot read <path>: ..."); one
         * gone after this fails the batch's job the same way. */
        em_rdd *rdd = em_text_file(sc, paths->pdata[i], 0, err);
        if (!rdd)
            return NULL;
        g_ptr_array_add(rdds, rdd);
    }
    return em_rdd_union_n((em_rdd *const *)rdds->pdata, rdds->len);
}

static em_rdd *files_compute(em_dstream *ds, em_time t, GError **err)
{
    files_state *st = ds->state;
    selection *sel = NULL;
    g_mutex_lock(&st->lock);
    /* Older selections belong to batches that failed before computing this stream: their files
     * are lost with the batch, as in Spark. */
    while (!sel && !g_queue_is_empty(&st->selected) &&
           ((selection *)g_queue_peek_head(&st->selected))->time <= t) {
        selection *head = g_queue_pop_head(&st->selected);
        if (head->time == t)
            sel = head;
        else
            selection_free(head);
    }
    g_mutex_unlock(&st->lock);
    if (!sel)
        return em_empty_rdd(ds->ssc->sc);
    em_rdd *rdd = NULL;
    if (sel->error)
        g_propagate_error(err, g_steal_pointer(&sel->error));
    else
        rdd = files_to_rdd(ds->ssc->sc, sel->paths, err);
    selection_free(sel);
    return rdd;
}

static void files_finalize(em_dstream *ds)
{
    files_state *st = ds->state;
    g_queue_clear_full(&st->selected, (GDestroyNotify)selection_free);
    g_hash_table_unref(st->seen);
    g_mutex_clear(&st->lock);
    g_free(st->dir);
    g_free(st);
}

static const em_dstream_class files_class = {.type_name = "FileInputDStream",
                                             .compute = files_compute,
                                             .seal = files_seal,
                                             .start = files_start,
                                             .finalize = files_finalize};

em_dstream *em_text_file_stream_full(em_ssc *ssc, const char *dir,
                                     const em_file_stream_opts *opts, GError **err)
{
    if (!ssc || !dir) {
        g_critical("em_text_file_stream: the StreamingContext and the directory must not be "
                   "NULL");
        return NULL;
    }
    /* Spark finds a missing directory only when batches come up empty; fail at once instead. */
    DIR *probe = opendir(dir);
    if (!probe) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "textFileStream: cannot read directory %s: %s",
                    dir, g_strerror(errno));
        return NULL;
    }
    closedir(probe);
    em_dstream *ds = em__input_new(ssc, &files_class, "textFileStream");
    if (!ds)
        return NULL;
    files_state *st = g_new0(files_state, 1);
    st->dir = g_strdup(dir);
    st->new_files_only = opts ? opts->new_files_only : true;
    g_mutex_init(&st->lock);
    st->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_queue_init(&st->selected);
    ds->state = st;
    return ds;
}

em_dstream *em_text_file_stream(em_ssc *ssc, const char *dir)
{
    GError *err = NULL;
    em_dstream *ds = em_text_file_stream_full(ssc, dir, NULL, &err);
    if (err) {
        g_critical("%s", err->message);
        g_error_free(err);
    }
    return ds;
}
