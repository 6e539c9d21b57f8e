/* textFileStream: a directory watched for new files (Spark's FileInputDStream). At each batch
 * time the generator's seal lists the directory and selects the names not seen within the
 * remember window (no user code); compute, on the scheduler thread, turns that selection into
 * textFile RDDs, one partition per small file. */
#include "streaming-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Spark's spark.streaming.fileStream.minRememberDuration. */
#define DEFAULT_MIN_REMEMBER EM_SECONDS(60)

/* The files selected for one batch time: an entry of Spark's batchTimeToSelectedFiles. */
typedef struct {
    em_time time;
    GPtrArray *paths; /* the new files, in name order */
    GError *error;    /* set when the directory could not be listed */
} selection;

typedef struct {
    em_dstream base;
    char *dir;
    bool new_files_only;
    em_duration remember; /* Spark's durationToRemember: whole batches, >= min_remember */
    GMutex lock;          /* seal (generator thread) against compute (scheduler thread) */
    /* name -> its modification time (gint64 ms, owned): the names that counted already and
     * are not read again, while their time is within the remember window. */
    GHashTable *seen;
    GQueue selected; /* selection *, ascending time: sealed, not computed yet */
} files_stream;

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

static bool list_failed(const files_stream *st, GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "textFileStream: cannot list directory %s: %s",
                st->dir, g_strerror(errno));
    return false;
}

static gint64 mtime_ms(const struct stat *sb)
{
    return (gint64)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
}

static gboolean is_older(gpointer name, gpointer mtime, gpointer threshold)
{
    (void)name;
    return *(gint64 *)mtime < *(gint64 *)threshold;
}

/* Adds to paths, in name order, the regular files of the directory whose names are neither
 * ignored nor seen and whose modification time is not older than threshold (Spark's
 * modTimeIgnoreThreshold), and marks them seen; forgets the seen names older than threshold,
 * which could not count again anyway. On a listing error nothing is marked. The caller holds
 * st->lock. */
static bool select_new_files(files_stream *st, gint64 threshold, GPtrArray *paths, GError **err)
{
    g_hash_table_foreach_remove(st->seen, is_older, &threshold);
    DIR *dir = opendir(st->dir);
    if (!dir)
        return list_failed(st, err);
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(gint64));
    struct dirent *de;
    for (errno = 0; (de = readdir(dir)); errno = 0) {
        if (is_ignored(de->d_name) || g_hash_table_contains(st->seen, de->d_name))
            continue;
        char *path = g_build_filename(st->dir, de->d_name, NULL);
        struct stat sb;
        /* A subdirectory is no file; a name gone since readdir may come back and count then. */
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && mtime_ms(&sb) >= threshold) {
            g_ptr_array_add(paths, path);
            /* times[i] is paths->pdata[i]'s, until the sort below. */
            gint64 t = mtime_ms(&sb);
            g_array_append_val(times, t);
        } else {
            g_free(path);
        }
    }
    if (errno != 0) {
        list_failed(st, err);
        closedir(dir);
        g_ptr_array_set_size(paths, 0);
        return false;
    }
    closedir(dir);
    for (guint i = 0; i < paths->len; i++)
        g_hash_table_insert(st->seen, g_path_get_basename(paths->pdata[i]),
                            g_memdup2(&g_array_index(times, gint64, i), sizeof(gint64)));
    g_ptr_array_sort(paths, compare_paths);
    return true;
}

/* Spark's newFilesOnly: what is there when the stream starts has been seen. */
static bool files_start(em_dstream *ds, GError **err)
{
    files_stream *st = (files_stream *)ds;
    if (!st->new_files_only)
        return true;
    g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    bool ok = select_new_files(st, em_ssc_clock_time(ds->ssc) - st->remember, present, err);
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Listing at the batch time, as Spark's generator does, makes a batch hold the files that had
 * appeared by its time however late the scheduler runs it. */
static void files_seal(em_dstream *ds, em_time t)
{
    files_stream *st = (files_stream *)ds;
    selection *sel = g_new0(selection, 1);
    sel->time = t;
    sel->paths = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    select_new_files(st, t - st->remember, sel->paths, &sel->error);
    g_queue_push_tail(&st->selected, sel);
    g_mutex_unlock(&st->lock);
}

/* A file named .gz must hold gzip data: zlib would read plain bytes through silently. */
static bool check_gzip(const char *path, GError **err)
{
    if (!g_str_has_suffix(path, ".gz"))
        return true;
    unsigned char magic[2] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "textFileStream: cannot read %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    if (n != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO,
                    "textFileStream: %s is named .gz but does not hold gzip data", path);
        return false;
    }
    return true;
}

/* Spark's filesToRDD: a UnionRDD of one textFile RDD per file, each file one partition unless
 * it is larger than a block (Spark's newer file sources give a small file one partition). */
static em_rdd *files_to_rdd(em_context *sc, const GPtrArray *paths, GError **err)
{
    if (paths->len == 0)
        return em_empty_rdd(sc);
    g_autoptr(GPtrArray) rdds = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
    for (guint i = 0; i < paths->len; i++) {
        if (!check_gzip(paths->pdata[i], err))
            return NULL;
        /* A file gone since the listing fails here ("textFile: cannot read <path>: ..."); one
         * gone after this fails the batch's job the same way. */
        em_rdd *rdd = em_text_file(sc, paths->pdata[i], 1, err);
        if (!rdd)
            return NULL;
        g_ptr_array_add(rdds, rdd);
    }
    return em_rdd_union_n((em_rdd *const *)rdds->pdata, rdds->len);
}

static em_rdd *files_compute(em_dstream *ds, em_time t, GError **err)
{
    files_stream *st = (files_stream *)ds;
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
    files_stream *st = (files_stream *)ds;
    g_queue_clear_full(&st->selected, (GDestroyNotify)selection_free);
    g_hash_table_unref(st->seen);
    g_mutex_clear(&st->lock);
    g_free(st->dir);
}

static const em_dstream_class files_class = {.type_name = "FileInputDStream",
                                             .instance_size = sizeof(files_stream),
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
    files_stream *st = (files_stream *)ds;
    st->dir = g_strdup(dir);
    st->new_files_only = opts ? opts->new_files_only : true;
    /* Spark's FileInputDStream: the remember window is whole batches, at least min_remember. */
    em_duration min_remember = opts && opts->min_remember > 0 ? opts->min_remember
                                                              : DEFAULT_MIN_REMEMBER;
    st->remember = (min_remember + ssc->batch - 1) / ssc->batch * ssc->batch;
    g_mutex_init(&st->lock);
    st->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_queue_init(&st->selected);
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

int64_t em__file_stream_remembered(const em_dstream *ds)
{
    if (!ds || ds->klass != &files_class)
        return -1;
    files_stream *st = (files_stream *)ds;
    g_mutex_lock(&st->lock);
    int64_t n = g_hash_table_size(st->seen);
    g_mutex_unlock(&st->lock);
    return n;
}
