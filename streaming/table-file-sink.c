/* The file sink (Spark's FileStreamSink): each non-empty partition of a batch writes its rows
 * to a new part file under the output directory (on the executor, as Spark's write tasks do),
 * then the batch's entry in <path>/_spark_metadata lists them all. Readers go by
 * that log (em_df_read_path, Spark's spark.read), so a batch killed between its part file and
 * its log entry is never seen, and a batch already in the log is skipped when a restarted
 * query runs it again: exactly once, with the query's checkpoint. Rows are written as Spark's
 * JSON and CSV writers write them. */
#include "table-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct em__file_sink {
    char *path; /* absolute */
    char *log_dir;
    em_file_format format;
    int64_t last_committed; /* the newest batch in the log, -1 none */
};

/* ---- Rows as text ---- */

/* Jackson's escaping: quote, backslash and control characters; the rest as it is. */
static void json_string(GString *out, const char *s, size_t n)
{
    g_string_append_c(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        default:
            if (c < 0x20)
                g_string_append_printf(out, "\\u%04X", c);
            else
                g_string_append_c(out, (char)c);
        }
    }
    g_string_append_c(out, '"');
}

/* Spark's JSON and CSV timestampFormat, in UTC: 2024-01-02T03:04:05.000Z. */
static void timestamp_text(int64_t us, GString *out)
{
    int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(s);
    g_autofree char *base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    g_string_append_printf(out, "%s.%03dZ", base, (int)(ms - s * 1000));
}

/* A non-null field's text (strings raw). */
static void field_text(em_value v, em_col_type type, GString *out)
{
    if (type == EM_COL_TIMESTAMP)
        timestamp_text(v.as.i, out);
    else if (type == EM_COL_STRING)
        g_string_append_len(out, v.as.s, (gssize)v.len);
    else
        em__cell_format(v, type, out);
}

void em__row_to_json(em_value row, const em_schema *schema, GString *out)
{
    g_string_append_c(out, '{');
    bool first = true;
    for (size_t i = 0; i < schema->n; i++) {
        em_value v = row.as.items[i];
        if (em_is_null(v))
            continue; /* Spark's ignoreNullFields */
        if (!first)
            g_string_append_c(out, ',');
        first = false;
        json_string(out, schema->names[i], strlen(schema->names[i]));
        g_string_append_c(out, ':');
        if (schema->types[i] == EM_COL_STRING) {
            json_string(out, v.as.s, v.len);
        } else if (schema->types[i] == EM_COL_TIMESTAMP) {
            g_string_append_c(out, '"');
            timestamp_text(v.as.i, out);
            g_string_append_c(out, '"');
        } else if (schema->types[i] == EM_COL_WINDOW) { /* the struct, as Spark writes it */
            g_string_append(out, "{\"start\":\"");
            timestamp_text(v.as.items[0].as.i, out);
            g_string_append(out, "\",\"end\":\"");
            timestamp_text(v.as.items[1].as.i, out);
            g_string_append(out, "\"}");
        } else {
            field_text(v, schema->types[i], out);
        }
    }
    g_string_append_c(out, '}');
}

/* univocity as Spark configures it for writing: leading and trailing white space dropped, a
 * field quoted when it holds the separator, a quote or a line break (quotes inside escaped
 * with a backslash), an empty string as "", null as nothing. */
static void csv_field(GString *out, const char *s, size_t n)
{
    while (n && g_ascii_isspace(*s))
        s++, n--;
    while (n && g_ascii_isspace(s[n - 1]))
        n--;
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        g_string_append_len(out, s, (gssize)n);
        return;
    }
    g_string_append_c(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, s[i]);
    }
    g_string_append_c(out, '"');
}

void em__row_to_csv(em_value row, const em_schema *schema, GString *out)
{
    g_autoptr(GString) field = g_string_new(NULL);
    for (size_t i = 0; i < schema->n; i++) {
        if (i)
            g_string_append_c(out, ',');
        em_value v = row.as.items[i];
        if (em_is_null(v))
            continue;
        g_string_truncate(field, 0);
        field_text(v, schema->types[i], field);
        csv_field(out, field->str, field->len);
    }
}

/* ---- The sink ---- */

static const char *const extensions[] = {"txt", "json", "csv"};

em__file_sink *em__file_sink_new(const char *path, em_file_format format, GError **err)
{
    em__file_sink *sink = g_new0(em__file_sink, 1);
    sink->path = g_canonicalize_filename(path, NULL);
    sink->log_dir = g_build_filename(sink->path, "_spark_metadata", NULL);
    sink->format = format;
    GArray *ids = g_mkdir_with_parents(sink->log_dir, 0755) == 0
                      ? em__log_batch_ids(sink->log_dir, err)
                      : NULL;
    if (!ids) {
        if (err && !*err)
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "file sink: cannot create %s: %s",
                        sink->log_dir, g_strerror(errno));
        em__file_sink_free(sink);
        return NULL;
    }
    sink->last_committed = ids->len ? g_array_index(ids, int64_t, ids->len - 1) : -1;
    g_array_unref(ids);
    return sink;
}

void em__file_sink_free(em__file_sink *sink)
{
    if (!sink)
        return;
    g_free(sink->path);
    g_free(sink->log_dir);
    g_free(sink);
}

/* A row's line of the part file. */
static void row_line(const em__file_sink *sink, em_value row, const em_schema *schema,
                     GString *text)
{
    if (sink->format == EM_FILE_JSON) {
        em__row_to_json(row, schema, text);
    } else if (sink->format == EM_FILE_CSV) {
        em__row_to_csv(row, schema, text);
    } else {
        em_value v = row.as.items[0];
        if (!em_is_null(v))
            g_string_append_len(text, v.as.s, (gssize)v.len);
    }
    g_string_append_c(text, '\n');
}

/* One entry of Spark's FileStreamSinkLog (SinkFileStatus as JSON). */
static bool log_entry(const char *file, GString *out, GError **err)
{
    struct stat sb;
    if (stat(file, &sb) != 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "file sink: cannot stat %s: %s", file,
                    g_strerror(errno));
        return false;
    }
    g_autofree char *uri = g_filename_to_uri(file, NULL, NULL);
    g_string_append_printf(out,
                           "\n{\"path\":\"%s\",\"size\":%" G_GINT64_FORMAT
                           ",\"isDir\":false,\"modificationTime\":%" G_GINT64_FORMAT
                           ",\"blockReplication\":1,\"blockSize\":33554432,\"action\":\"add\"}",
                           uri, (gint64)sb.st_size,
                           (gint64)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000);
    return true;
}

/* The tasks of a batch: each non-empty partition writes its part file and its log entry. */
typedef struct {
    const em__file_sink *sink;
    const em_schema *schema;
    int64_t batch_id;
    GMutex lock;
    char **entries; /* by partition: the log entry ("\n{...}"), NULL when empty */
    GError *error;  /* the first task's failure */
} batch_write;

/* Spark's task: FileFormatDataWriter with ManifestFileCommitProtocol's name,
 * part-<partition>-<a uuid per file>.c000.<ext>. */
static void write_part(int index, em_iter *in, void *ud)
{
    batch_write *w = ud;
    em_value row;
    if (!em_iter_next(in, &row))
        return; /* EmptyDirectoryDataWriter: no file */
    g_autoptr(GString) text = g_string_new(NULL);
    do
        row_line(w->sink, row, w->schema, text);
    while (em_iter_next(in, &row));
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *file = g_strdup_printf("%s/part-%05d-%s.c000.%s", w->sink->path, index, uuid,
                                            extensions[w->sink->format]);
    GError *err = NULL;
    g_autoptr(GString) entry = g_string_new(NULL);
    bool ok = em__write_file_atomic(file, text->str, text->len, false, &err) &&
              log_entry(file, entry, &err);
    g_mutex_lock(&w->lock);
    if (ok)
        w->entries[index] = g_string_free(g_steal_pointer(&entry), FALSE);
    else if (!w->error)
        w->error = g_steal_pointer(&err);
    g_mutex_unlock(&w->lock);
    g_clear_error(&err);
}

/* A compaction batch's log holds the entries of every batch before it too: those of the
 * batches a reader goes through now go before the batch's own in log. */
static bool compact(em__file_sink *sink, int64_t batch_id, GString *log, GError **err)
{
    g_autoptr(GArray) ids = em__log_valid_batches(sink->log_dir, err);
    if (!ids)
        return false;
    g_autoptr(GString) before = g_string_new(NULL);
    for (guint i = 0; i < ids->len; i++) {
        int64_t id = g_array_index(ids, int64_t, i);
        if (id >= batch_id)
            break;
        g_autofree char *path = em__log_batch_path(sink->log_dir, id);
        g_autofree char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, err))
            return false;
        if (!g_str_has_prefix(text, "v1")) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "%s: not a file sink log (no \"v1\")",
                        path);
            return false;
        }
        g_string_append(before, text + 2); /* its entries, each after a newline */
    }
    g_string_insert(log, 2, before->str);
    return true;
}

/* The part files of rdd's partitions, their entries appended to log in partition order. */
static bool write_parts(em__file_sink *sink, int64_t batch_id, em_rdd *rdd,
                        const em_schema *schema, GString *log, GError **err)
{
    int n = em_rdd_num_partitions(rdd);
    batch_write w = {.sink = sink,
                     .schema = schema,
                     .batch_id = batch_id,
                     .entries = g_new0(char *, (size_t)n + 1)};
    g_mutex_init(&w.lock);
    bool ok = em_rdd_foreach_partition(rdd, write_part, &w, err);
    if (ok && w.error) {
        g_propagate_prefixed_error(err, g_steal_pointer(&w.error),
                                   "file sink batch %" G_GINT64_FORMAT ": ", (gint64)batch_id);
        ok = false;
    }
    for (int i = 0; i < n; i++) {
        if (w.entries[i])
            g_string_append(log, w.entries[i]);
        g_free(w.entries[i]); /* NULL for an empty partition: not a strv */
    }
    g_clear_error(&w.error);
    g_free(w.entries);
    g_mutex_clear(&w.lock);
    return ok;
}

bool em__file_sink_add_batch(em__file_sink *sink, int64_t batch_id, em_rdd *rdd,
                             const em_schema *schema, GError **err)
{
    if (batch_id <= sink->last_committed)
        return true; /* Spark: "Skipping already committed batch" */
    g_autoptr(GString) log = g_string_new("v1");
    if (rdd && !write_parts(sink, batch_id, rdd, schema, log, err))
        return false;
    em__table_fault("parts", batch_id);
    if (em__log_is_compaction(batch_id) && !compact(sink, batch_id, log, err))
        return false;
    g_autofree char *entry =
        g_strdup_printf("%s/%" G_GINT64_FORMAT "%s", sink->log_dir, (gint64)batch_id,
                        em__log_is_compaction(batch_id) ? EM_LOG_COMPACT_SUFFIX : "");
    if (!em__write_file_atomic(entry, log->str, log->len, false, err))
        return false;
    sink->last_committed = batch_id;
    return true;
}
