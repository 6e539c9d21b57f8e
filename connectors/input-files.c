/* textFileStream: a directory watched for new files (Spark's FileInputDStream). At each batch
 * time the generator's seal lists the directory and selects the names not seen within the
 * remember window (no user code); compute, on the scheduler thread, turns that selection into
 * textFile RDDs, one partition per small file. With checkpoints, the names seen are its
 * position, and each batch's selection is journaled when sealed (see files_checkpoint_save). */
#include "checkpoint-file.h"
#include "recovery.h"
#include "wal.h"

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
    bool recovered;  /* seen came from a checkpoint: start marks nothing seen */
    /* With checkpoints, each batch's selection is logged (fsynced) when sealed: after a crash
     * the batches sealed since the newest checkpoint get exactly the same files again. */
    em_wal *journal;
    GArray *logged;     /* journal_mark: what the journal holds, ascending time */
    GHashTable *replay; /* em_time * -> GPtrArray of names: selections to seal again */
} files_stream;

typedef struct {
    em_time time;
    uint64_t seq;
} journal_mark;

static void journal_open(em_dstream *ds, files_stream *st);

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
    g_mutex_lock(&st->lock);
    journal_open(ds, st);
    g_mutex_unlock(&st->lock);
    /* Files a journal replays belong to their batches, not to what was there at start. */
    if (!st->new_files_only || st->recovered || (st->replay && g_hash_table_size(st->replay)))
        return true;
    g_autoptr(GPtrArray) present = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    bool ok = select_new_files(st, em_ssc_clock_time(ds->ssc) - st->remember, present, err);
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Listing at the batch time, as Spark's generator does, makes a batch hold the files that had
 * appeared by its time however late the scheduler runs it. */
static void journal_append(em_dstream *ds, files_stream *st, em_time t, const GPtrArray *paths)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    GArray *values = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_value v = em_int(t);
    g_array_append_val(values, v);
    for (guint i = 0; i < paths->len; i++) {
        char *name = g_path_get_basename(paths->pdata[i]);
        g_ptr_array_add(names, name);
        v = em_str(name);
        g_array_append_val(values, v);
    }
    GByteArray *rec = g_byte_array_new();
    em_values_encode((const em_value *)values->data, values->len, rec);
    g_array_unref(values);
    GError *err = NULL;
    journal_mark mark = {.time = t};
    if (em__wal_append(st->journal, rec->data, rec->len, &mark.seq, &err)) {
        g_array_append_val(st->logged, mark);
    } else {
        g_warning("textFileStream %s: the files of batch %" G_GINT64_FORMAT " ms are not "
                  "logged, a crash now may give them to another batch: %s",
                  st->dir, (gint64)t, err->message);
        g_error_free(err);
    }
    g_byte_array_unref(rec);
    /* What the newest written checkpoint covers is not needed any more. */
    em_time covered = em__recovery_last_written(ds->ssc);
    uint64_t upto = 0;
    guint drop = 0;
    while (drop < st->logged->len && g_array_index(st->logged, journal_mark, drop).time <= covered)
        upto = g_array_index(st->logged, journal_mark, drop++).seq;
    if (drop && em__wal_clean(st->journal, upto, NULL) >= 0)
        g_array_remove_range(st->logged, 0, drop);
}

/* Journaled selections of times before t will never be sealed again (a restart on the system
 * clock has other batch times): their files stop counting as seen, so the listing takes them
 * (at least once) instead of losing them. The caller holds st->lock. */
static void release_stale_replays(files_stream *st, em_time t)
{
    if (!st->replay)
        return;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, st->replay);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (*(em_time *)key >= t)
            continue;
        GPtrArray *names = value;
        for (guint i = 0; i < names->len; i++)
            g_hash_table_remove(st->seen, names->pdata[i]);
        g_hash_table_iter_remove(&it);
    }
}

static void files_seal(em_dstream *ds, em_time t)
{
    files_stream *st = (files_stream *)ds;
    selection *sel = g_new0(selection, 1);
    sel->time = t;
    sel->paths = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&st->lock);
    release_stale_replays(st, t);
    GPtrArray *again = st->replay ? g_hash_table_lookup(st->replay, &t) : NULL;
    if (again) {
        for (guint i = 0; i < again->len; i++)
            g_ptr_array_add(sel->paths, g_build_filename(st->dir, again->pdata[i], NULL));
        g_hash_table_remove(st->replay, &t);
    } else {
        select_new_files(st, t - st->remember, sel->paths, &sel->error);
        if (st->journal && !sel->error)
            journal_append(ds, st, t, sel->paths);
    }
    g_queue_push_tail(&st->selected, sel);
    g_mutex_unlock(&st->lock);
}

/* Marks name seen with its file's modification time (the newest possible when it is gone, so
 * that it is never forgotten and read again). The caller holds st->lock. */
static void mark_seen(files_stream *st, const char *name)
{
    g_autofree char *path = g_build_filename(st->dir, name, NULL);
    struct stat sb;
    gint64 mtime = stat(path, &sb) == 0 ? mtime_ms(&sb) : G_MAXINT64;
    g_hash_table_insert(st->seen, g_strdup(name), g_memdup2(&mtime, sizeof mtime));
}

/* Reads back one journaled selection: [time, names...]. */
static bool journal_record(uint64_t seq, const void *data, size_t n, void *ud)
{
    (void)seq;
    files_stream *st = ud;
    em_arena *arena = em_arena_new();
    em_value *vals = NULL;
    size_t count = 0;
    if (em_values_decode(data, n, arena, &vals, &count, NULL) && count >= 1 &&
        vals[0].type == EM_T_INT) {
        em_time *t = g_new(em_time, 1);
        *t = vals[0].as.i;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 1; i < count; i++)
            if (vals[i].type == EM_T_STR)
                g_ptr_array_add(names, g_strndup(vals[i].as.s, vals[i].len));
        g_hash_table_replace(st->replay, t, names);
    }
    g_free(vals);
    em_arena_free(arena);
    return true;
}

/* Opens the journal under the checkpoint directory; after a recovery, the selections of the
 * batches after the checkpoint are sealed again as they were, and their files count as seen. */
static void journal_open(em_dstream *ds, files_stream *st)
{
    g_autofree char *dir = em__recovery_input_log(ds);
    if (!dir || st->journal)
        return;
    GError *err = NULL;
    st->journal = em__wal_open(dir, NULL, &err);
    if (!st->journal) {
        g_warning("textFileStream %s: no journal of its batches, a crash may give files to "
                  "other batches on recovery: %s",
                  st->dir, err->message);
        g_error_free(err);
        return;
    }
    st->logged = g_array_new(FALSE, FALSE, sizeof(journal_mark));
    st->replay = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                       (GDestroyNotify)g_ptr_array_unref);
    /* Replayed also when no checkpoint was written yet: a first run killed before its first
     * checkpoint journaled the batches it sealed, and they must get the same files again. */
    em_time recovered = em_ssc_recovered_time(ds->ssc);
    em__wal_replay(st->journal, 0, journal_record, st, NULL);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, st->replay);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (recovered >= 0 && *(em_time *)key <= recovered) {
            g_hash_table_iter_remove(&it);
            continue;
        }
        GPtrArray *names = value;
        for (guint i = 0; i < names->len; i++)
            mark_seen(st, names->pdata[i]);
    }
}

/* ---- Checkpoints: the position is the names seen by batches up to the checkpoint's ----
 * Names selected for batches after it (sealed, not run yet) are left out: those batches are
 * sealed again from the journal after a restart. Each name keeps its modification time, so
 * the remember window goes on forgetting it when it would have. */

static void files_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    files_stream *st = (files_stream *)ds;
    em_arena *arena = em_arena_new();
    g_mutex_lock(&st->lock);
    GHashTable *later = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (GList *l = st->selected.head; l; l = l->next) {
        const selection *sel = l->data;
        for (guint i = 0; sel->time > t && i < sel->paths->len; i++)
            g_hash_table_add(later, g_path_get_basename(sel->paths->pdata[i]));
    }
    GArray *entries = g_array_new(FALSE, FALSE, sizeof(em_value));
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, st->seen);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (g_hash_table_contains(later, key))
            continue;
        em_value e = em_pair_in(arena, em_str(key), em_int(*(gint64 *)value));
        g_array_append_val(entries, e);
    }
    GByteArray *blob = g_byte_array_new();
    em_values_encode((const em_value *)entries->data, entries->len, blob);
    g_mutex_unlock(&st->lock);
    em__ckpt_put_position(ck, name, blob->data, blob->len);
    g_byte_array_unref(blob);
    g_array_unref(entries);
    g_hash_table_unref(later);
    em_arena_free(arena);
}

static bool files_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                     em_time t, GError **err)
{
    (void)t;
    files_stream *st = (files_stream *)ds;
    GBytes *blob = em__ckpt_get_position(ck, name);
    if (!blob)
        return true; /* an input the checkpoint did not know: it starts as a new one */
    em_arena *arena = em_arena_new();
    em_value *entries = NULL;
    size_t n = 0, len = 0;
    const uint8_t *bytes = g_bytes_get_data(blob, &len);
    bool ok = em_values_decode(bytes, len, arena, &entries, &n, err);
    for (size_t i = 0; ok && i < n; i++)
        ok = em_is_pair(entries[i]) && em_key(entries[i]).type == EM_T_STR &&
             em_val(entries[i]).type == EM_T_INT;
    if (ok) {
        g_mutex_lock(&st->lock);
        for (size_t i = 0; i < n; i++) {
            gint64 mtime = em_as_int(em_val(entries[i]));
            em_value key = em_key(entries[i]);
            g_hash_table_insert(st->seen, g_strndup(key.as.s, key.len),
                                g_memdup2(&mtime, sizeof mtime));
        }
        st->recovered = true;
        g_mutex_unlock(&st->lock);
    } else if (err && !*err) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "textFileStream %s: the checkpoint's position is not a list of (name, "
                    "modification time)",
                    st->dir);
    }
    g_free(entries);
    em_arena_free(arena);
    return ok;
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
    em__wal_close(st->journal);
    if (st->logged)
        g_array_unref(st->logged);
    if (st->replay)
        g_hash_table_unref(st->replay);
    g_hash_table_unref(st->seen);
    g_mutex_clear(&st->lock);
    g_free(st->dir);
}

static const em_dstream_class files_class = {.type_name = "FileInputDStream",
                                             .instance_size = sizeof(files_stream),
                                             .compute = files_compute,
                                             .seal = files_seal,
                                             .start = files_start,
                                             .finalize = files_finalize,
                                             .checkpoint_save = files_checkpoint_save,
                                             .checkpoint_restore = files_checkpoint_restore};

em_dstream *em_text_file_stream_full(em_ssc *ssc, const char *dir, const em_file_stream_opts *opts,
                                     GError **err)
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
    em_duration min_remember =
        opts && opts->min_remember > 0 ? opts->min_remember : DEFAULT_MIN_REMEMBER;
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
