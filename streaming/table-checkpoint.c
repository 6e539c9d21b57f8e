/* A streaming query's checkpointLocation in Spark's layout (MicroBatchExecution's offsetLog,
 * commitLog and StreamMetadata): what lets a query killed at any point resume after its last
 * committed batch, with its event-time watermark. Files are written whole or not at all
 * (temporary file, fsync, rename). Each stateful operator's state goes, through its save/load
 * hook (em__state_op), into Ember checkpoint files (checkpoint-file.h) under state/<opId>/. */
#include "checkpoint-file.h"
#include "table-private.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

void (*em__table_fault_hook)(const char *point, int64_t batch_id);

/* The header of every log file Spark 3.5 writes (HDFSMetadataLog's VERSION). */
#define LOG_VERSION "v1"

/* The settings Spark records with each batch's offsets, so a restarted query keeps them;
 * Ember's are the values of Spark 3.5's defaults (shuffle partitions: 2 as local[2] runs). */
#define OFFSET_CONF                                                                               \
    "{\"spark.sql.streaming.stateStore.providerClass\":\"org.apache.spark.sql.execution."         \
    "streaming.state.HDFSBackedStateStoreProvider\",\"spark.sql.streaming.join."                  \
    "stateFormatVersion\":\"2\",\"spark.sql.streaming.stateStore.compression.codec\":\"lz4\","    \
    "\"spark.sql.optimizer.pruneFiltersCanPruneStreamingSubplan\":\"false\",\"spark.sql."         \
    "streaming.stateStore.rocksdb.formatVersion\":\"5\",\"spark.sql.streaming."                   \
    "statefulOperator.useStrictDistribution\":\"true\",\"spark.sql.streaming."                    \
    "flatMapGroupsWithState.stateFormatVersion\":\"2\",\"spark.sql.streaming."                    \
    "multipleWatermarkPolicy\":\"min\",\"spark.sql.streaming.aggregation."                        \
    "stateFormatVersion\":\"2\",\"spark.sql.shuffle.partitions\":\"2\"}"

static bool io_error(GError **err, const char *what, const char *path)
{
    int errnum = errno;
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "%s %s: %s", what, path, g_strerror(errnum));
    return false;
}

static bool fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

bool em__write_file_atomic(const char *path, const char *text, size_t n, bool replace,
                           GError **err)
{
    if (!replace && g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s exists already: another query wrote this batch (one query per "
                    "checkpoint location)",
                    path);
        return false;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    if (g_mkdir_with_parents(dir, 0755) != 0)
        return io_error(err, "cannot create directory", dir);
    g_autofree char *tmp = g_strdup_printf("%s/.%s.%d.tmp", dir, base, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_error(err, "cannot create", tmp);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            io_error(err, "cannot write", tmp);
            close(fd);
            unlink(tmp);
            return false;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        io_error(err, "cannot sync", tmp);
        unlink(tmp);
        return false;
    }
    if (rename(tmp, path) != 0) {
        io_error(err, "cannot rename into", path);
        unlink(tmp);
        return false;
    }
    if (!fsync_dir(dir))
        return io_error(err, "cannot sync directory", dir);
    return true;
}

static int by_value(gconstpointer a, gconstpointer b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

GArray *em__log_batch_ids(const char *dir, GError **err)
{
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
        return ids;
    GError *dir_err = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &dir_err);
    if (!d) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot list %s: %s", dir, dir_err->message);
        g_error_free(dir_err);
        g_array_unref(ids);
        return NULL;
    }
    for (const char *name; (name = g_dir_read_name(d));) {
        char *end = NULL;
        gint64 id = g_ascii_strtoll(name, &end, 10);
        if (end != name && (*end == '\0' || strcmp(end, ".compact") == 0) && id >= 0 &&
            g_ascii_isdigit(name[0]))
            g_array_append_val(ids, id);
    }
    g_array_sort(ids, by_value);
    return ids;
}

/* The newest id of dir's log, -1 when it has none. */
static bool newest_id(const char *dir, int64_t *newest, GError **err)
{
    GArray *ids = em__log_batch_ids(dir, err);
    if (!ids)
        return false;
    *newest = ids->len ? g_array_index(ids, int64_t, ids->len - 1) : -1;
    g_array_unref(ids);
    return true;
}

static bool corrupt(GError **err, const char *path, const char *what)
{
    g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "%s %s", path, what);
    return false;
}

/* The whole-number member name of the JSON object text (absent: 0, as Spark's
 * OffsetSeqMetadata and CommitMetadata default it); false when text is not such an object. */
static bool json_ms(const char *text, const char *name, int64_t *out)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root =
        json_parser_load_from_data(parser, text, -1, NULL) ? json_parser_get_root(parser) : NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return false;
    JsonNode *member = json_object_get_member(json_node_get_object(root), name);
    *out = 0;
    if (!member)
        return true;
    if (!JSON_NODE_HOLDS_VALUE(member) || json_node_get_value_type(member) != G_TYPE_INT64)
        return false;
    *out = json_node_get_int(member);
    return true;
}

/* Spark's SERIALIZED_VOID_OFFSET: the line of a source that has no offset yet. */
#define VOID_OFFSET "-"

/* offsets/<id>: its source offsets (the lines after v1 and the batch metadata, one per source,
 * "-" read as NULL) and the metadata's batchWatermarkMs. */
static bool read_offset(const char *dir, int64_t id, char **offsets, size_t *n,
                        int64_t *watermark_ms, GError **err)
{
    g_autofree char *path = g_strdup_printf("%s/offsets/%" G_GINT64_FORMAT, dir, (gint64)id);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n_lines = g_strv_length(lines);
    /* a trailing newline ends the last line rather than starting an empty one */
    if (n_lines > 3 && !lines[n_lines - 1][0])
        n_lines--;
    bool lines_ok =
        n_lines >= 3 && n_lines - 2 <= EM_LOG_MAX_SOURCES && strcmp(lines[0], LOG_VERSION) == 0;
    for (guint i = 2; lines_ok && i < n_lines; i++)
        lines_ok = lines[i][0] != '\0';
    if (!lines_ok)
        return corrupt(err, path,
                       "is not an offsets log entry (expected \"" LOG_VERSION
                       "\", the batch metadata and one offset per source (at most 2, "
                       "\"" VOID_OFFSET "\" for none), one a line)");
    if (!json_ms(lines[1], "batchWatermarkMs", watermark_ms))
        return corrupt(err, path,
                       "holds no batch metadata on its second line (a JSON object with a "
                       "whole-number batchWatermarkMs)");
    *n = n_lines - 2;
    for (size_t i = 0; i < *n; i++)
        offsets[i] = strcmp(lines[2 + i], VOID_OFFSET) == 0 ? NULL : g_strdup(lines[2 + i]);
    return true;
}

/* commits/<id>'s nextBatchWatermarkMs: the watermark the batch after it starts from. */
static bool read_commit(const char *dir, int64_t id, int64_t *watermark_ms, GError **err)
{
    g_autofree char *path = g_strdup_printf("%s/commits/%" G_GINT64_FORMAT, dir, (gint64)id);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    if (g_strv_length(lines) < 2 || strcmp(lines[0], LOG_VERSION) != 0 ||
        !json_ms(lines[1], "nextBatchWatermarkMs", watermark_ms))
        return corrupt(err, path,
                       "is not a commit log entry (expected \"" LOG_VERSION
                       "\", then a JSON object with a whole-number nextBatchWatermarkMs)");
    return true;
}

/* metadata: the query id, written once when the checkpoint is new. */
static bool open_metadata(em__query_log *log, GError **err)
{
    g_autofree char *path = g_build_filename(log->dir, "metadata", NULL);
    g_autofree char *text = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        log->id = g_uuid_string_random();
        g_autofree char *json = g_strdup_printf("{\"id\":\"%s\"}", log->id);
        return em__write_file_atomic(path, json, strlen(json), false, err);
    }
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root =
        json_parser_load_from_data(parser, text, -1, NULL) ? json_parser_get_root(parser) : NULL;
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    const char *id = obj ? json_object_get_string_member_with_default(obj, "id", NULL) : NULL;
    if (!id) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "%s holds no query id ({\"id\":\"...\"}): not a query's checkpoint", path);
        return false;
    }
    log->id = g_strdup(id);
    return true;
}

em__query_log *em__query_log_open(const char *dir, GError **err)
{
    em__query_log *log = g_new0(em__query_log, 1);
    log->dir = g_canonicalize_filename(dir, NULL);
    g_autofree char *offsets = g_build_filename(log->dir, "offsets", NULL);
    g_autofree char *commits = g_build_filename(log->dir, "commits", NULL);
    bool ok = g_mkdir_with_parents(log->dir, 0755) == 0 ||
              io_error(err, "cannot create checkpoint directory", log->dir);
    ok = ok && open_metadata(log, err) && newest_id(offsets, &log->last_offsets, err) &&
         newest_id(commits, &log->last_commit, err);
    for (int i = 0; ok && i < 2; i++) {
        int64_t id = log->last_offsets - 1 + i;
        if (id >= 0)
            ok = read_offset(log->dir, id, log->offsets[i], &log->n_sources[i], &log->watermark[i],
                             err);
    }
    if (ok && log->last_commit >= 0)
        ok = read_commit(log->dir, log->last_commit, &log->next_watermark, err);
    if (ok && log->last_commit > log->last_offsets) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s: batch %" G_GINT64_FORMAT " is committed but its offsets are "
                    "not logged",
                    log->dir, (gint64)log->last_commit);
        ok = false;
    }
    if (!ok) {
        em__query_log_free(log);
        return NULL;
    }
    return log;
}

void em__query_log_free(em__query_log *log)
{
    if (!log)
        return;
    g_free(log->dir);
    g_free(log->id);
    for (int i = 0; i < 2; i++)
        for (size_t s = 0; s < EM_LOG_MAX_SOURCES; s++)
            g_free(log->offsets[i][s]);
    g_free(log);
}

char *em__log_batch_path(const char *dir, int64_t id)
{
    char *compact =
        g_strdup_printf("%s/%" G_GINT64_FORMAT "%s", dir, (gint64)id, EM_LOG_COMPACT_SUFFIX);
    if (em__log_is_compaction(id) && g_file_test(compact, G_FILE_TEST_EXISTS))
        return compact;
    g_free(compact);
    return g_strdup_printf("%s/%" G_GINT64_FORMAT, dir, (gint64)id);
}

GArray *em__log_valid_batches(const char *dir, GError **err)
{
    GArray *ids = em__log_batch_ids(dir, err);
    if (!ids || !ids->len)
        return ids;
    int64_t latest = g_array_index(ids, int64_t, ids->len - 1);
    /* The newest compaction batch at or before latest, when its file is there. */
    int64_t compact = (latest + 1) / EM_LOG_COMPACT_INTERVAL * EM_LOG_COMPACT_INTERVAL - 1;
    g_autofree char *path = compact >= 0 ? g_strdup_printf("%s/%" G_GINT64_FORMAT "%s", dir,
                                                           (gint64)compact, EM_LOG_COMPACT_SUFFIX)
                                         : NULL;
    if (!path || !g_file_test(path, G_FILE_TEST_EXISTS))
        return ids;
    guint keep = 0;
    for (guint i = 0; i < ids->len; i++) {
        int64_t id = g_array_index(ids, int64_t, i);
        if (id >= compact && (keep == 0 || g_array_index(ids, int64_t, keep - 1) != id))
            g_array_index(ids, int64_t, keep++) = id;
    }
    g_array_set_size(ids, keep);
    return ids;
}

bool em__query_log_offsets(em__query_log *log, int64_t batch_id, em_time batch_ms,
                           int64_t watermark_ms, const char *const *offsets, size_t n,
                           bool replace, GError **err)
{
    g_autofree char *path =
        g_strdup_printf("%s/offsets/%" G_GINT64_FORMAT, log->dir, (gint64)batch_id);
    GString *text = g_string_new(LOG_VERSION "\n");
    g_string_append_printf(text,
                           "{\"batchWatermarkMs\":%" G_GINT64_FORMAT
                           ",\"batchTimestampMs\":%" G_GINT64_FORMAT ",\"conf\":" OFFSET_CONF "}",
                           (gint64)watermark_ms, (gint64)batch_ms);
    for (size_t i = 0; i < n; i++) {
        g_string_append_c(text, '\n');
        g_string_append(text, offsets[i] ? offsets[i] : VOID_OFFSET);
    }
    bool ok = em__write_file_atomic(path, text->str, text->len, replace, err);
    g_string_free(text, TRUE);
    if (!ok)
        return false;
    log->last_offsets = batch_id;
    return true;
}

bool em__query_log_commit(em__query_log *log, int64_t batch_id, int64_t next_watermark_ms,
                          GError **err)
{
    g_autofree char *path =
        g_strdup_printf("%s/commits/%" G_GINT64_FORMAT, log->dir, (gint64)batch_id);
    g_autofree char *text =
        g_strdup_printf(LOG_VERSION "\n{\"nextBatchWatermarkMs\":%" G_GINT64_FORMAT "}",
                        (gint64)next_watermark_ms);
    if (!em__write_file_atomic(path, text, strlen(text), false, err))
        return false;
    log->last_commit = batch_id;
    return true;
}

/* ---- Operator state: state/<opId>/<partition>/checkpoint-<version> ----
 * Spark's StateStore keeps version batchId + 1 of each operator's state per partition; Ember
 * keeps an operator's state on the driver, as one partition (0), in one Ember checkpoint file
 * per version whose program is the operator's name, so a checkpoint restored into a query whose
 * operator at that id is another kind is refused rather than misread. */

static char *state_dir(const em__query_log *log, size_t op_id)
{
    g_autofree char *id = g_strdup_printf("%zu", op_id);
    return g_build_filename(log->dir, "state", id, "0", NULL);
}

bool em__query_log_save_state(em__query_log *log, const em__state_op *ops, size_t n,
                              int64_t batch_id, GError **err)
{
    for (size_t i = 0; i < n; i++) {
        g_autoptr(em_ckpt) ck = em__ckpt_new(ops[i].name, 0, batch_id + 1);
        ops[i].save(ops[i].op, ck);
        g_autofree char *dir = state_dir(log, i);
        if (!em__ckpt_write(ck, dir, 0, NULL, err)) {
            g_prefix_error(err,
                           "the state of operator %zu (%s) after batch %" G_GINT64_FORMAT ": ", i,
                           ops[i].name, (gint64)batch_id);
            return false;
        }
    }
    return true;
}

/* Operator op_id's state after the last committed batch into op. */
static bool restore_op(em__query_log *log, size_t op_id, const em__state_op *op, GError **err)
{
    g_autofree char *dir = state_dir(log, op_id);
    g_autofree char *path =
        g_strdup_printf("%s/checkpoint-%" G_GINT64_FORMAT, dir, (gint64)(log->last_commit + 1));
    g_autoptr(em_ckpt) ck = em__ckpt_read_file(path, err);
    if (ck && strcmp(em__ckpt_program(ck), op->name) != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s holds the state of a %s operator, but operator %zu of this query is %s: "
                    "the query changed since the checkpoint was written (start it on a new "
                    "checkpoint_location)",
                    path, em__ckpt_program(ck), op_id, op->name);
        return false;
    }
    if (ck && op->load(op->op, ck, err))
        return true;
    /* the codec's messages name the record; the path names the file */
    if (!strstr((*err)->message, path))
        g_prefix_error(err, "%s: ", path);
    return false;
}

bool em__query_log_restore_state(em__query_log *log, const em__state_op *ops, size_t n,
                                 GError **err)
{
    for (size_t i = 0; log->last_commit >= 0 && i < n; i++) {
        if (!restore_op(log, i, &ops[i], err)) {
            g_prefix_error(err,
                           "checkpoint %s: the state of operator %zu (%s) after batch "
                           "%" G_GINT64_FORMAT ": ",
                           log->dir, i, ops[i].name, (gint64)log->last_commit);
            return false;
        }
    }
    return true;
}

/* ---- A streaming aggregation without watermark: its mapWithState stream's records ---- */

#define AGG_RECORD "aggregate"

static void agg_save(void *op, em_ckpt *ck)
{
    em_dstream *ds = op;
    /* the state version is the time its incremental chain names its base by */
    ds->klass->checkpoint_save(ds, ck, AGG_RECORD, em__ckpt_time(ck));
}

static bool agg_load(void *op, const em_ckpt *ck, GError **err)
{
    em_dstream *ds = op;
    return ds->klass->checkpoint_restore(ds, ck, AGG_RECORD, em__ckpt_time(ck), err);
}

em__state_op em__agg_state_op(em_dstream *agg_ds)
{
    return (
        em__state_op){.name = "stateStoreSave", .save = agg_save, .load = agg_load, .op = agg_ds};
}
