/* The file source (Spark's FileStreamSource): a directory whose new files each trigger reads.
 * Its offsets are the batches of its file log: each trigger that finds new files (oldest first
 * by modification time, at most maxFilesPerTrigger) adds a log batch, and the batch of offsets
 * (start, end] reads the files of log batches start + 1 .. end. A file is new when no log batch
 * took it and it is not older than maxFileAge before the newest file taken (Spark's
 * SeenFilesMap). With a checkpoint every log batch is written to sources/0/<n> in Spark's format
 * before its files are read (every 10th as <n>.compact holding all entries, as Spark's
 * FileStreamSourceLog), so a restart, Ember's or Spark's, knows each file it took. Also the
 * static reader of a file sink's committed output. */
#include "table-private.h"

#include <dirent.h>
#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

/* Spark's FileStreamOptions.maxFileAgeMs default: a week. */
#define DEFAULT_MAX_FILE_AGE_MS ((int64_t)7 * 24 * 3600 * 1000)

typedef struct {
    char *path; /* absolute */
    gint64 mtime_ms;
} found_file;

typedef struct {
    em__offset_stream base;
    char *dir; /* absolute */
    int max_files;
    bool latest_first;
    int64_t max_age_ms; /* INT64_MAX when latestFirst with maxFilesPerTrigger */
    /* SeenFilesMap: absolute path -> its modification time (a g_malloc'd gint64), for the
     * files taken that are not older than last_purge_ms; latest_ms the newest taken. */
    GHashTable *seen;
    int64_t latest_ms, last_purge_ms;
    GPtrArray *batches; /* logOffset -> GArray of found_file */
    char *log_dir;      /* sources/0 with a checkpoint, else NULL */
} file_stream;

static void found_clear(gpointer p) { g_free(((found_file *)p)->path); }

static bool is_hidden(const char *name)
{
    return name[0] == '.' || name[0] == '_' || g_str_has_suffix(name, "._COPYING_");
}

/* SeenFilesMap.add: path taken at mtime_ms. */
static void seen_add(file_stream *fs, const char *path, int64_t mtime_ms)
{
    gint64 *t = g_new(gint64, 1);
    *t = mtime_ms;
    g_hash_table_insert(fs->seen, g_strdup(path), t);
    if (mtime_ms > fs->latest_ms)
        fs->latest_ms = mtime_ms;
}

static gboolean aged(gpointer key, gpointer value, gpointer ud)
{
    (void)key;
    return *(gint64 *)value < *(int64_t *)ud;
}

/* SeenFilesMap.purge: forgets the files older than max_age before the newest; from now on
 * such files are not new. */
static void seen_purge(file_stream *fs)
{
    fs->last_purge_ms = fs->max_age_ms == INT64_MAX ? INT64_MIN : fs->latest_ms - fs->max_age_ms;
    g_hash_table_foreach_remove(fs->seen, aged, &fs->last_purge_ms);
}

/* SeenFilesMap.isNewFile: not taken yet and not older than the last purge's limit. */
static bool is_new(const file_stream *fs, const char *path, int64_t mtime_ms)
{
    return mtime_ms >= fs->last_purge_ms && !g_hash_table_contains(fs->seen, path);
}

/* The files of dir no log batch took yet. */
static GArray *new_files(const file_stream *fs, GError **err)
{
    DIR *d = opendir(fs->dir);
    if (!d) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "file source: cannot list %s: %s", fs->dir,
                    g_strerror(errno));
        return NULL;
    }
    GArray *found = g_array_new(FALSE, FALSE, sizeof(found_file));
    g_array_set_clear_func(found, found_clear);
    for (struct dirent *de; (de = readdir(d));) {
        const char *name = de->d_name;
        if (is_hidden(name)) /* . and .. too */
            continue;
        g_autofree char *path = g_build_filename(fs->dir, name, NULL);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        gint64 mtime_ms = (gint64)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (!is_new(fs, path, mtime_ms))
            continue;
        found_file f = {g_steal_pointer(&path), mtime_ms};
        g_array_append_val(found, f);
    }
    closedir(d);
    return found;
}

static int oldest_first(gconstpointer a, gconstpointer b)
{
    const found_file *x = a, *y = b;
    if (x->mtime_ms != y->mtime_ms)
        return x->mtime_ms < y->mtime_ms ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int newest_first(gconstpointer a, gconstpointer b) { return oldest_first(b, a); }

/* One line of Spark's FileStreamSourceLog: {"path":"file:///...","timestamp":ms,"batchId":n}
 * (Spark 3.5 keys its seen files by that URI text: a log it resumes must spell paths so). */
static void log_line(GString *out, const found_file *f, int64_t batch)
{
    g_autofree char *uri = g_filename_to_uri(f->path, NULL, NULL);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, uri ? uri : f->path);
    json_builder_set_member_name(b, "timestamp");
    json_builder_add_int_value(b, f->mtime_ms);
    json_builder_set_member_name(b, "batchId");
    json_builder_add_int_value(b, batch);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *json = json_to_string(root, FALSE);
    g_string_append_printf(out, "\n%s", json);
}

static void file_array_free(gpointer files)
{
    if (files)
        g_array_unref(files);
}

static GArray *file_array(void)
{
    GArray *files = g_array_new(FALSE, FALSE, sizeof(found_file));
    g_array_set_clear_func(files, found_clear);
    return files;
}

/* Writes log batch id (of fs->batches): "N", or for every 10th batch "N.compact" holding the
 * entries of all batches up to it (CompactibleFileStreamLog.compact; a source log keeps every
 * entry). */
static bool write_log_batch(const file_stream *fs, int64_t id, GError **err)
{
    bool compact = em__log_is_compaction(id);
    g_autoptr(GString) text = g_string_new("v1");
    for (int64_t b = compact ? 0 : id; b <= id; b++) {
        GArray *files = fs->batches->pdata[b];
        for (guint i = 0; i < files->len; i++)
            log_line(text, &g_array_index(files, found_file, i), b);
    }
    g_autofree char *path = g_strdup_printf("%s/%" G_GINT64_FORMAT "%s", fs->log_dir, (gint64)id,
                                            compact ? EM_LOG_COMPACT_SUFFIX : "");
    return em__write_file_atomic(path, text->str, text->len, false, err);
}

/* Adds a log batch of files[0..n) (logged first, with a checkpoint), then purges the seen
 * files as Spark's fetchMaxOffset does. */
static bool add_batch(file_stream *fs, const found_file *files, size_t n, GError **err)
{
    int64_t id = fs->batches->len;
    GArray *batch = file_array();
    for (size_t i = 0; i < n; i++) {
        found_file f = {g_strdup(files[i].path), files[i].mtime_ms};
        g_array_append_val(batch, f);
    }
    g_ptr_array_add(fs->batches, batch);
    if (fs->log_dir && !write_log_batch(fs, id, err)) {
        g_ptr_array_set_size(fs->batches, (guint)id);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        seen_add(fs, files[i].path, files[i].mtime_ms);
    seen_purge(fs);
    return true;
}

static char *log_offset(int64_t batch)
{
    return batch < 0 ? NULL
                     : g_strdup_printf("{\"logOffset\":%" G_GINT64_FORMAT "}", (gint64)batch);
}

static bool parse_log_offset(const char *text, int64_t *batch, GError **err)
{
    *batch = -1;
    return !text || em__offset_parse_int(text, "{\"logOffset\":", "}", batch, err);
}

static bool file_latest(em__offset_stream *os, em_time t, const char *start, char **end,
                        char **available, GError **err)
{
    (void)t;
    (void)start;
    file_stream *fs = (file_stream *)os;
    g_autoptr(GArray) found = new_files(fs, err);
    if (!found)
        return false;
    if (found->len) {
        g_array_sort(found, fs->latest_first ? newest_first : oldest_first);
        size_t n = fs->max_files > 0 ? MIN(found->len, (guint)fs->max_files) : found->len;
        if (!add_batch(fs, (const found_file *)found->data, n, err))
            return false;
    }
    *end = log_offset((int64_t)fs->batches->len - 1);
    *available = g_strdup(*end);
    return true;
}

/* The lines of paths[0..n) (each a text file RDD, cached: the batch counts them, then the query
 * reads them). */
static em_rdd *read_lines(em_context *sc, char *const *paths, size_t n, GError **err)
{
    if (n == 0)
        return em_empty_rdd(sc);
    em_rdd **parts = g_new0(em_rdd *, n);
    em_rdd *all = NULL;
    size_t made = 0;
    for (; made < n; made++)
        if (!(parts[made] = em_text_file(sc, paths[made], 1, err)))
            break;
    if (made == n)
        all = em_rdd_cache(em_rdd_union_n(parts, n));
    for (size_t i = 0; i < made; i++)
        em_rdd_unref(parts[i]);
    g_free(parts);
    return all;
}

static em_rdd *file_read(em__offset_stream *os, const char *start_text, const char *end_text,
                         GError **err)
{
    file_stream *fs = (file_stream *)os;
    int64_t start, end;
    if (!parse_log_offset(start_text, &start, err) || !parse_log_offset(end_text, &end, err))
        return NULL;
    g_autoptr(GPtrArray) paths = g_ptr_array_new();
    for (int64_t b = start + 1; b <= end && b < (int64_t)fs->batches->len; b++) {
        GArray *files = fs->batches->pdata[b];
        for (guint i = 0; i < files->len; i++)
            g_ptr_array_add(paths, g_array_index(files, found_file, i).path);
    }
    return read_lines(os->base.ssc->sc, (char *const *)paths->pdata, paths->len, err);
}

/* The JSON objects of a metadata log file after its "v1" line, or NULL with err (what names
 * the log for the message). */
static GPtrArray *log_entries(const char *path, const char *what, GError **err)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, err))
        return NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    if (!lines[0] || strcmp(lines[0], "v1") != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "%s: not a %s (no \"v1\")", path, what);
        return NULL;
    }
    GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
    for (size_t i = 1; lines[i]; i++) {
        if (!lines[i][0])
            continue;
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonNode *root = json_parser_load_from_data(parser, lines[i], -1, NULL)
                             ? json_parser_get_root(parser)
                             : NULL;
        JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
        const char *uri = o ? json_object_get_string_member_with_default(o, "path", NULL) : NULL;
        if (!uri || !g_str_has_prefix(uri, "file:")) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "%s line %zu: not a file entry ({\"path\":\"file:///...\",...})", path,
                        i + 1);
            g_ptr_array_unref(entries);
            return NULL;
        }
        g_ptr_array_add(entries, json_object_ref(o));
    }
    return entries;
}

/* An entry's local path: file:/a, file:///a and file://localhost/a alike. */
static char *entry_path(JsonObject *entry)
{
    return g_filename_from_uri(json_object_get_string_member(entry, "path"), NULL, NULL);
}

/* Reads log batch id of a file sink's log dir: its files, as paths. */
static GPtrArray *read_log_batch(const char *dir, int64_t id, GError **err)
{
    g_autofree char *path = em__log_batch_path(dir, id);
    g_autoptr(GPtrArray) entries = log_entries(path, "file sink log", err);
    if (!entries)
        return NULL;
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < entries->len; i++) {
        char *file = entry_path(entries->pdata[i]);
        if (!file) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "%s: %s is not a local file", path,
                        json_object_get_string_member(entries->pdata[i], "path"));
            g_ptr_array_unref(paths);
            return NULL;
        }
        g_ptr_array_add(paths, file);
    }
    return paths;
}

/* Puts the entries of source log file path (of log batch id; a compaction's hold earlier
 * batches too, by their batchId) into fs->batches. */
static bool take_log_file(file_stream *fs, const char *path, int64_t id, GError **err)
{
    g_autoptr(GPtrArray) entries = log_entries(path, "file source log", err);
    if (!entries)
        return false;
    for (guint i = 0; i < entries->len; i++) {
        JsonObject *e = entries->pdata[i];
        int64_t batch = json_object_get_int_member_with_default(e, "batchId", id);
        char *file = entry_path(e);
        if (!file || batch < 0 || batch > id) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "%s: entry %u (%s, batch %" G_GINT64_FORMAT
                        ") is not a local file of a batch up to %" G_GINT64_FORMAT,
                        path, i + 1, json_object_get_string_member(e, "path"), (gint64)batch,
                        (gint64)id);
            g_free(file);
            return false;
        }
        if (batch >= (int64_t)fs->batches->len) {
            guint from = fs->batches->len;
            g_ptr_array_set_size(fs->batches, (guint)batch + 1);
            for (guint b = from; b < fs->batches->len; b++)
                fs->batches->pdata[b] = NULL;
        }
        if (!fs->batches->pdata[batch])
            fs->batches->pdata[batch] = file_array();
        found_file f = {file, json_object_get_int_member_with_default(e, "timestamp", 0)};
        g_array_append_val((GArray *)fs->batches->pdata[batch], f);
    }
    return true;
}

/* Spark's FileStreamSource start: every entry of the log (from its newest compaction on) into
 * the batches and the seen files, then a purge. */
static bool file_attach(em__offset_stream *os, const char *dir, GError **err)
{
    file_stream *fs = (file_stream *)os;
    fs->log_dir = g_strdup(dir);
    g_autoptr(GArray) ids = em__log_valid_batches(dir, err);
    if (!ids)
        return false;
    for (guint i = 0; i < ids->len; i++) {
        int64_t id = g_array_index(ids, int64_t, i);
        g_autofree char *path = em__log_batch_path(dir, id);
        if (!take_log_file(fs, path, id, err))
            return false;
    }
    for (guint b = 0; b < fs->batches->len; b++) {
        GArray *files = fs->batches->pdata[b];
        if (!files) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "file source log %s: batch %u is missing (the log has %u)", dir, b,
                        fs->batches->len - 1);
            return false;
        }
        for (guint k = 0; k < files->len; k++) {
            const found_file *f = &g_array_index(files, found_file, k);
            seen_add(fs, f->path, f->mtime_ms);
        }
    }
    seen_purge(fs);
    return true;
}

static void file_finalize(em_dstream *ds)
{
    file_stream *fs = (file_stream *)ds;
    em__offset_stream_finalize(&fs->base);
    g_free(fs->dir);
    g_free(fs->log_dir);
    g_hash_table_unref(fs->seen);
    g_ptr_array_unref(fs->batches);
}

static const em__offset_source_class file_class = {
    .base = {.type_name = "FileStreamSource",
             .instance_size = sizeof(file_stream),
             .compute = em__offset_stream_compute,
             .finalize = file_finalize},
    .latest = file_latest,
    .read = file_read,
    .attach = file_attach,
    .no_latest_offset = true,
};

/* Rows of opts' format from a table of lines. */
static em_df *parse_lines(em_df *lines, const em_file_source_opts *opts, GError **err)
{
    if (opts->format == EM_FILE_TEXT)
        return lines;
    em_df *rows = opts->format == EM_FILE_JSON
                      ? em_df_from_json(lines, "value", opts->schema, NULL, err)
                      : em_df_from_csv(lines, "value", opts->schema, NULL, err);
    em_df_free(lines);
    return rows;
}

static bool check_opts(const em_file_source_opts *opts, const char *what, GError **err)
{
    if (opts->format != EM_FILE_TEXT && !opts->schema) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s: the json and csv formats need a schema (Spark's "
                    "readStream.schema(...)); only text has one of its own",
                    what);
        return false;
    }
    return true;
}

em_df *em_df_read_files(em_ssc *ssc, const char *dir, const em_file_source_opts *opts,
                        GError **err)
{
    g_return_val_if_fail(ssc && dir && opts, NULL);
    if (!check_opts(opts, "file source", err))
        return NULL;
    if (opts->max_file_age_ms < 0) { /* SeenFilesMap's require(maxAgeMs >= 0) */
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "file source %s: maxFileAge must not be negative (%" G_GINT64_FORMAT " ms)",
                    dir, (gint64)opts->max_file_age_ms);
        return NULL;
    }
    g_autofree char *abs = g_canonicalize_filename(dir, NULL);
    g_autofree char *description = g_strdup_printf("FileStreamSource[file:%s]", abs);
    em__offset_stream *os =
        em__offset_stream_new(ssc, &file_class, "FileStreamSource", description);
    if (!os) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "file source %s: the StreamingContext was started already", abs);
        return NULL;
    }
    file_stream *fs = (file_stream *)os;
    fs->dir = g_steal_pointer(&abs);
    fs->max_files = opts->max_files_per_trigger;
    fs->latest_first = opts->latest_first;
    fs->max_age_ms = opts->latest_first && opts->max_files_per_trigger > 0 ? INT64_MAX
                     : opts->max_file_age_ms > 0                           ? opts->max_file_age_ms
                                                 : DEFAULT_MAX_FILE_AGE_MS;
    fs->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    fs->latest_ms = 0;
    fs->batches = g_ptr_array_new_with_free_func(file_array_free);
    seen_purge(fs); /* Spark purges once at start: files before maxFileAge are old */
    return parse_lines(em_df_from_lines(&os->base), opts, err);
}

/* ---- Reading a file sink's output (Spark's MetadataLogFileIndex) ---- */

/* The files _spark_metadata lists ("action":"add" entries of every batch), or NULL with err;
 * *has_log false when path has no such log. */
static GPtrArray *committed_files(const char *path, bool *has_log, GError **err)
{
    g_autofree char *log_dir = g_build_filename(path, "_spark_metadata", NULL);
    *has_log = g_file_test(log_dir, G_FILE_TEST_IS_DIR);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    if (!*has_log)
        return files;
    g_autoptr(GArray) ids = em__log_valid_batches(log_dir, err);
    if (!ids) {
        g_ptr_array_unref(files);
        return NULL;
    }
    for (guint i = 0; i < ids->len; i++) {
        g_autoptr(GPtrArray) batch = read_log_batch(log_dir, g_array_index(ids, int64_t, i), err);
        if (!batch) {
            g_ptr_array_unref(files);
            return NULL;
        }
        for (guint k = 0; k < batch->len; k++)
            g_ptr_array_add(files, g_strdup(batch->pdata[k]));
    }
    return files;
}

static int by_path(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every visible file of path, by name. */
static GPtrArray *visible_files(const char *path, GError **err)
{
    GError *dir_err = NULL;
    g_autoptr(GDir) d = g_dir_open(path, 0, &dir_err);
    if (!d) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot list %s: %s", path, dir_err->message);
        g_error_free(dir_err);
        return NULL;
    }
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; (name = g_dir_read_name(d));)
        if (!is_hidden(name))
            g_ptr_array_add(files, g_build_filename(path, name, NULL));
    g_ptr_array_sort(files, by_path);
    return files;
}

static em_value line_row(em_value line, void *ud)
{
    (void)ud;
    return em_row_in(NULL, &line, 1);
}

em_df *em_df_read_path(em_context *sc, const char *path, const em_file_source_opts *opts,
                       GError **err)
{
    g_return_val_if_fail(sc && path && opts, NULL);
    if (!check_opts(opts, "file reader", err))
        return NULL;
    bool has_log = false;
    g_autoptr(GPtrArray) files = committed_files(path, &has_log, err);
    if (files && !has_log) {
        g_ptr_array_unref(g_steal_pointer(&files));
        files = visible_files(path, err);
    }
    if (!files)
        return NULL;
    g_autoptr(em_rdd) lines = read_lines(sc, (char *const *)files->pdata, files->len, err);
    if (!lines)
        return NULL;
    g_autoptr(em_rdd) rows = em_rdd_map_full(lines, line_row, NULL, NULL, "value");
    g_autoptr(em_schema) text = em_schema_parse("value string", NULL);
    return parse_lines(em_df_from_rdd(rows, text), opts, err);
}
