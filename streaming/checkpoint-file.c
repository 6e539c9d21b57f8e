/* Checkpoint files (streaming, under the checkpoint writer): the on-disk layout, the atomic
 * write (temporary file, fsync, rename, directory fsync), keeping the last K, and reading the
 * newest good one back, falling back past corrupt files and refusing another program's.
 *
 * Layout, integers little-endian:
 *   header  "EMBRCKPT" | u32 version | u64 fingerprint | i64 time | u32 records |
 *           u16 program length | program bytes | u32 CRC32 of everything before it
 *   record  u16 name length | u32 raw length | u32 stored length | name | stored bytes (deflate,
 *           zlib-wrapped) | u32 CRC32 of the record before it
 *   end     "EMBREND!" | u32 CRC32 of every record CRC, so a file cut between records fails. */
#include "checkpoint-file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char HEAD_MAGIC[8] = {'E', 'M', 'B', 'R', 'C', 'K', 'P', 'T'};
static const char END_MAGIC[8] = {'E', 'M', 'B', 'R', 'E', 'N', 'D', '!'};
/* A record's raw size is bounded so a corrupt length cannot ask for absurd memory. */
enum { MAX_RECORD = 1u << 30 };

struct em_ckpt {
    char *program;
    uint64_t fingerprint;
    em_time time;
    char *path;
    GPtrArray *names;    /* char *, in order */
    GHashTable *records; /* name (borrowed from names) -> GBytes */
    em_time keep_from;   /* files of this time or later outlive it (em__ckpt_keep_from) */
    GArray *needs;       /* em_time: the files its records build on, oldest first */
    GHashTable *needed;  /* em_time * -> em_ckpt *: those read (em__ckpt_needed) */
    GArray *builders;    /* deferred: the writer builds records (em__ckpt_defer) */
    bool built;
};

typedef struct {
    const em_ckpt_builder *builder;
    void *data;
} deferred;

/* The record listing the files a checkpoint needs. */
#define NEEDS_RECORD "needs"

/* ---- In memory ---- */

em_ckpt *em__ckpt_new(const char *program, uint64_t fingerprint, em_time time)
{
    em_ckpt *ck = g_new0(em_ckpt, 1);
    ck->program = g_strdup(program ? program : "");
    ck->fingerprint = fingerprint;
    ck->time = time;
    ck->keep_from = G_MAXINT64;
    ck->names = g_ptr_array_new_with_free_func(g_free);
    ck->records =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_bytes_unref);
    ck->needs = g_array_new(FALSE, FALSE, sizeof(em_time));
    ck->builders = g_array_new(FALSE, FALSE, sizeof(deferred));
    return ck;
}

void em__ckpt_free(em_ckpt *ck)
{
    if (!ck)
        return;
    for (guint i = 0; i < ck->builders->len; i++) {
        deferred *d = &g_array_index(ck->builders, deferred, i);
        if (d->builder->free)
            d->builder->free(d->data);
    }
    g_array_unref(ck->builders);
    g_array_unref(ck->needs);
    if (ck->needed)
        g_hash_table_unref(ck->needed);
    g_hash_table_unref(ck->records);
    g_ptr_array_unref(ck->names);
    g_free(ck->program);
    g_free(ck->path);
    g_free(ck);
}

em_time em__ckpt_time(const em_ckpt *ck) { return ck->time; }
const char *em__ckpt_program(const em_ckpt *ck) { return ck->program; }
uint64_t em__ckpt_fingerprint(const em_ckpt *ck) { return ck->fingerprint; }
const char *em__ckpt_path(const em_ckpt *ck) { return ck->path; }
const GPtrArray *em__ckpt_names(const em_ckpt *ck) { return ck->names; }

void em__ckpt_needs(em_ckpt *ck, em_time t)
{
    guint i = 0;
    while (i < ck->needs->len && g_array_index(ck->needs, em_time, i) < t)
        i++;
    if (i < ck->needs->len && g_array_index(ck->needs, em_time, i) == t)
        return;
    g_array_insert_val(ck->needs, i, t);
}

const GArray *em__ckpt_needed_times(const em_ckpt *ck) { return ck->needs; }

static char *sibling_path(const em_ckpt *ck, em_time t)
{
    g_autofree char *dir = g_path_get_dirname(ck->path ? ck->path : ".");
    g_autofree char *file = g_strdup_printf("checkpoint-%" G_GINT64_FORMAT, (gint64)t);
    return g_build_filename(dir, file, NULL);
}

const em_ckpt *em__ckpt_needed(const em_ckpt *ck, em_time t, GError **err)
{
    em_ckpt *self = (em_ckpt *)ck; /* only the cache of files read changes */
    if (!self->needed)
        self->needed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                             (GDestroyNotify)em__ckpt_free);
    em_ckpt *got = g_hash_table_lookup(self->needed, &t);
    if (got)
        return got;
    if (!ck->path) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "a checkpoint made in memory needs checkpoint-%" G_GINT64_FORMAT
                    ", which it cannot read",
                    (gint64)t);
        return NULL;
    }
    g_autofree char *path = sibling_path(ck, t);
    GError *why = NULL;
    got = em__ckpt_read_file(path, &why);
    if (got && em__ckpt_time(got) != t) {
        g_set_error(&why, EM_ERROR, EM_ERROR_CORRUPT, "it holds batch time %" G_GINT64_FORMAT,
                    (gint64)em__ckpt_time(got));
        g_clear_pointer(&got, em__ckpt_free);
    }
    if (!got) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s builds on %s, which cannot be read: %s", ck->path, path,
                    why->message);
        g_error_free(why);
        return NULL;
    }
    em_time *key = g_new(em_time, 1);
    *key = t;
    g_hash_table_insert(self->needed, key, got);
    return got;
}

void em__ckpt_defer(em_ckpt *ck, const em_ckpt_builder *builder, void *data)
{
    deferred d = {builder, data};
    g_array_append_val(ck->builders, d);
}

void em__ckpt_put_bytes(em_ckpt *ck, const char *name, GBytes *bytes)
{
    g_return_if_fail(strlen(name) <= UINT16_MAX);
    char *key = NULL;
    if (g_hash_table_lookup_extended(ck->records, name, (gpointer *)&key, NULL)) {
        g_hash_table_insert(ck->records, key, bytes);
        return;
    }
    key = g_strdup(name);
    g_ptr_array_add(ck->names, key);
    g_hash_table_insert(ck->records, key, bytes);
}

void em__ckpt_put(em_ckpt *ck, const char *name, const void *bytes, size_t n)
{
    em__ckpt_put_bytes(ck, name, g_bytes_new(bytes, n));
}

GBytes *em__ckpt_get(const em_ckpt *ck, const char *name)
{
    return g_hash_table_lookup(ck->records, name);
}

/* ---- Encoding ---- */

static void put_u16(GByteArray *out, uint16_t x)
{
    uint8_t b[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
    g_byte_array_append(out, b, 2);
}

static void put_u32(GByteArray *out, uint32_t x)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(x >> (8 * i));
    g_byte_array_append(out, b, 4);
}

static void put_u64(GByteArray *out, uint64_t x)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(x >> (8 * i));
    g_byte_array_append(out, b, 8);
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
}

/* The record's bytes deflated at the fastest level: checkpoints are written every few batches,
 * and level 1 already shrinks repetitive state keys several times over. */
static void encode_record(GByteArray *out, const char *name, GBytes *bytes, uint32_t *crc_chain)
{
    size_t raw_len = 0, start = out->len, name_len = strlen(name);
    const uint8_t *raw = g_bytes_get_data(bytes, &raw_len);
    uLongf stored = compressBound(raw_len);
    put_u16(out, (uint16_t)name_len);
    put_u32(out, (uint32_t)raw_len);
    size_t len_at = out->len;
    put_u32(out, 0);
    g_byte_array_append(out, (const guint8 *)name, (guint)name_len);
    size_t data_at = out->len;
    g_byte_array_set_size(out, (guint)(data_at + stored));
    int rc = compress2(out->data + data_at, &stored, raw_len ? raw : (const Bytef *)"", raw_len,
                       Z_BEST_SPEED);
    g_assert(rc == Z_OK); /* only out-of-memory fails with a compressBound() buffer */
    g_byte_array_set_size(out, (guint)(data_at + stored));
    for (int i = 0; i < 4; i++)
        out->data[len_at + i] = (uint8_t)(stored >> (8 * i));
    uint32_t crc = crc_of(out->data + start, out->len - start);
    put_u32(out, crc);
    *crc_chain = (uint32_t)crc32_z(*crc_chain, out->data + out->len - 4, 4);
}

static GByteArray *encode(const em_ckpt *ck)
{
    GByteArray *out = g_byte_array_new();
    size_t plen = strlen(ck->program);
    g_byte_array_append(out, (const guint8 *)HEAD_MAGIC, sizeof HEAD_MAGIC);
    put_u32(out, EM_CKPT_FORMAT_VERSION);
    put_u64(out, ck->fingerprint);
    put_u64(out, (uint64_t)ck->time);
    put_u32(out, ck->names->len);
    put_u16(out, (uint16_t)MIN(plen, UINT16_MAX));
    g_byte_array_append(out, (const guint8 *)ck->program, (guint)MIN(plen, UINT16_MAX));
    put_u32(out, crc_of(out->data, out->len));
    uint32_t chain = (uint32_t)crc32_z(0, Z_NULL, 0);
    for (guint i = 0; i < ck->names->len; i++) {
        const char *name = g_ptr_array_index(ck->names, i);
        encode_record(out, name, em__ckpt_get(ck, name), &chain);
    }
    g_byte_array_append(out, (const guint8 *)END_MAGIC, sizeof END_MAGIC);
    put_u32(out, chain);
    return out;
}

/* ---- Decoding: trusts nothing it reads ---- */

typedef struct reader {
    const uint8_t *buf;
    size_t len, pos;
    const char *path;
    GError **err;
} reader;

static bool G_GNUC_PRINTF(3, 4) corrupt(reader *r, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(r->err, EM_ERROR, EM_ERROR_CORRUPT, "checkpoint %s is corrupt: %s (at byte %zu)",
                r->path, what, at);
    return false;
}

static bool need(reader *r, size_t n, const char *what)
{
    if (r->len - r->pos < n)
        return corrupt(r, r->pos, "truncated in %s", what);
    return true;
}

static uint64_t get_le(reader *r, int bytes)
{
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)r->buf[r->pos++] << (8 * i);
    return x;
}

static bool decode_header(reader *r, em_ckpt **out, uint32_t *n_records)
{
    if (!need(r, sizeof HEAD_MAGIC, "the header"))
        return false;
    if (memcmp(r->buf, HEAD_MAGIC, sizeof HEAD_MAGIC) != 0)
        return corrupt(r, 0, "not a checkpoint (wrong magic)");
    r->pos = sizeof HEAD_MAGIC;
    if (!need(r, 4 + 8 + 8 + 4 + 2, "the header"))
        return false;
    uint32_t version = (uint32_t)get_le(r, 4);
    if (version != EM_CKPT_FORMAT_VERSION)
        return corrupt(r, r->pos - 4, "format version %u, this Ember reads version %d", version,
                       EM_CKPT_FORMAT_VERSION);
    uint64_t fingerprint = get_le(r, 8);
    em_time time = (em_time)get_le(r, 8);
    *n_records = (uint32_t)get_le(r, 4);
    size_t plen = (size_t)get_le(r, 2);
    if (!need(r, plen + 4, "the header"))
        return false;
    g_autofree char *program = g_strndup((const char *)r->buf + r->pos, plen);
    r->pos += plen;
    uint32_t want = crc_of(r->buf, r->pos), got = (uint32_t)get_le(r, 4);
    if (want != got)
        return corrupt(r, r->pos - 4, "header CRC32 mismatch");
    /* Each record takes 14 bytes at least: a count beyond that is corrupt, not a reason to
     * loop for long. */
    if (*n_records > (r->len - r->pos) / 14)
        return corrupt(r, r->pos, "truncated: %u records cannot fit in the bytes left",
                       *n_records);
    *out = em__ckpt_new(program, fingerprint, time);
    (*out)->path = g_strdup(r->path);
    return true;
}

static bool decode_record(reader *r, em_ckpt *ck, guint index, uint32_t *chain)
{
    size_t start = r->pos;
    if (!need(r, 2 + 4 + 4, "a record header"))
        return false;
    size_t name_len = (size_t)get_le(r, 2);
    uint32_t raw_len = (uint32_t)get_le(r, 4), stored = (uint32_t)get_le(r, 4);
    if (!need(r, (size_t)name_len + stored + 4, "a record"))
        return false;
    g_autofree char *name = g_strndup((const char *)r->buf + r->pos, name_len);
    const uint8_t *data = r->buf + r->pos + name_len;
    r->pos += name_len + stored;
    uint32_t want = crc_of(r->buf + start, r->pos - start), got = (uint32_t)get_le(r, 4);
    if (want != got)
        return corrupt(r, start, "CRC32 mismatch in record %u (\"%s\")", index, name);
    *chain = (uint32_t)crc32_z(*chain, r->buf + r->pos - 4, 4);
    if (raw_len > MAX_RECORD)
        return corrupt(r, start, "record \"%s\" claims %u bytes", name, raw_len);
    uint8_t *raw = g_malloc(raw_len ? raw_len : 1);
    uLongf out_len = raw_len;
    int rc = uncompress(raw, &out_len, data, stored);
    if (rc != Z_OK || out_len != raw_len) {
        g_free(raw);
        return corrupt(r, start, "record \"%s\" does not inflate (%s)", name,
                       rc == Z_OK ? "wrong length" : zError(rc));
    }
    em__ckpt_put_bytes(ck, name, g_bytes_new_take(raw, raw_len));
    return true;
}

static em_ckpt *decode(const uint8_t *buf, size_t len, const char *path, GError **err)
{
    reader r = {.buf = buf, .len = len, .path = path, .err = err};
    em_ckpt *ck = NULL;
    uint32_t n_records = 0;
    if (!decode_header(&r, &ck, &n_records))
        return NULL;
    uint32_t chain = (uint32_t)crc32_z(0, Z_NULL, 0);
    for (uint32_t i = 0; i < n_records; i++) {
        if (!decode_record(&r, ck, i, &chain)) {
            em__ckpt_free(ck);
            return NULL;
        }
    }
    bool ok = need(&r, sizeof END_MAGIC + 4, "the end marker");
    if (ok && memcmp(r.buf + r.pos, END_MAGIC, sizeof END_MAGIC) != 0)
        ok = corrupt(&r, r.pos, "end marker missing after %u records", n_records);
    if (ok) {
        r.pos += sizeof END_MAGIC;
        if ((uint32_t)get_le(&r, 4) != chain)
            ok = corrupt(&r, r.pos - 4, "end CRC32 mismatch");
    }
    if (ok && r.pos != r.len)
        ok = corrupt(&r, r.pos, "%zu bytes after the end marker", r.len - r.pos);
    if (ok && em__ckpt_get(ck, NEEDS_RECORD)) {
        em_arena *arena = em_arena_new(); /* integers only */
        em_value *times = NULL;
        size_t n = 0;
        ok = em__ckpt_get_values(ck, NEEDS_RECORD, arena, &times, &n, err);
        if (!ok)
            g_prefix_error(err, "checkpoint %s: ", path);
        for (size_t i = 0; ok && i < n; i++) {
            if (times[i].type != EM_T_INT || times[i].as.i >= ck->time)
                ok = corrupt(&r, 0, "record \"" NEEDS_RECORD "\" holds no earlier batch time");
            else
                em__ckpt_needs(ck, times[i].as.i);
        }
        g_free(times);
        em_arena_free(arena);
    }
    if (!ok) {
        em__ckpt_free(ck);
        return NULL;
    }
    return ck;
}

em_ckpt *em__ckpt_read_file(const char *path, GError **err)
{
    g_autofree char *contents = NULL;
    gsize len = 0;
    GError *io = NULL;
    if (!g_file_get_contents(path, &contents, &len, &io)) {
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot read checkpoint %s: %s", path,
                    io->message);
        g_error_free(io);
        return NULL;
    }
    return decode((const uint8_t *)contents, len, path, err);
}

/* ---- Listing ---- */

/* The batch time in a file name "checkpoint-<ms>", or false for any other name. */
static bool parse_name(const char *name, em_time *time)
{
    const char *prefix = "checkpoint-";
    if (!g_str_has_prefix(name, prefix))
        return false;
    const char *digits = name + strlen(prefix);
    if (!*digits)
        return false;
    for (const char *p = digits; *p; p++)
        if (!g_ascii_isdigit(*p))
            return false;
    guint64 t;
    if (!g_ascii_string_to_unsigned(digits, 10, 0, G_MAXINT64, &t, NULL))
        return false;
    *time = (em_time)t;
    return true;
}

typedef struct {
    em_time time;
    char *path;
} listed;

static int newest_first(gconstpointer a, gconstpointer b)
{
    const listed *x = a, *y = b;
    return x->time < y->time ? 1 : x->time > y->time ? -1 : 0;
}

GPtrArray *em__ckpt_list(const char *dir, GError **err)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return paths;
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot list checkpoint directory %s: %s", dir,
                    g_strerror(errno));
        g_ptr_array_unref(paths);
        return NULL;
    }
    GArray *found = g_array_new(FALSE, FALSE, sizeof(listed));
    struct dirent *e;
    while ((e = readdir(d))) {
        listed l;
        if (parse_name(e->d_name, &l.time)) {
            l.path = g_build_filename(dir, e->d_name, NULL);
            g_array_append_val(found, l);
        }
    }
    closedir(d);
    g_array_sort(found, newest_first);
    for (guint i = 0; i < found->len; i++)
        g_ptr_array_add(paths, g_array_index(found, listed, i).path);
    g_array_unref(found);
    return paths;
}

/* ---- Writing ---- */

static bool io_error(GError **err, const char *what, const char *path, int errnum)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "cannot %s checkpoint %s: %s", what, path,
                g_strerror(errnum));
    return false;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        if (w == 0) {
            errno = ENOSPC;
            return false;
        }
        p += w, n -= (size_t)w;
    }
    return true;
}

static bool fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 || errno == EINVAL; /* some file systems cannot sync a directory */
}

/* Writes bytes to tmp, fsyncs it and renames it to path; on failure removes tmp. */
static bool write_atomically(const char *dir, const char *tmp, const char *path,
                             const GByteArray *bytes, GError **err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_error(err, "create", tmp, errno);
    if (!write_all(fd, bytes->data, bytes->len) || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        return io_error(err, "write", tmp, saved);
    }
    if (close(fd) != 0) {
        int saved = errno;
        unlink(tmp);
        return io_error(err, "write", tmp, saved);
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return io_error(err, "rename into place", path, saved);
    }
    if (!fsync_dir(dir))
        return io_error(err, "sync the directory of", path, errno);
    return true;
}

void em__ckpt_keep_from(em_ckpt *ck, em_time t) { ck->keep_from = MIN(ck->keep_from, t); }

/* The batch time in a checkpoint file's name, or -1. */
static em_time time_of(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);
    gint64 t;
    return g_str_has_prefix(base, "checkpoint-") &&
                   g_ascii_string_to_signed(base + 11, 10, G_MININT64, G_MAXINT64, &t, NULL)
               ? t
               : -1;
}

/* Deletes checkpoint files beyond the newest keep, except those of keep_from or later;
 * returns how many it deleted. */
static int prune(const char *dir, int keep, em_time keep_from)
{
    g_autoptr(GPtrArray) paths = em__ckpt_list(dir, NULL);
    int removed = 0;
    for (guint i = (guint)keep; paths && i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        if (time_of(path) >= keep_from)
            continue;
        if (unlink(path) == 0)
            removed++;
        else
            g_warning("cannot delete old checkpoint %s: %s", path, g_strerror(errno));
    }
    return removed;
}

/* Tells every builder whether the file is in place. */
static bool tell_builders(const em_ckpt *ck, bool ok)
{
    for (guint i = 0; i < ck->builders->len; i++) {
        deferred *d = &g_array_index(ck->builders, deferred, i);
        if (d->builder->written)
            d->builder->written(d->data, ck, ok);
    }
    return ok;
}

static bool write_file(em_ckpt *ck, const char *dir, int keep, em_ckpt_write_info *info,
                       GError **err);

bool em__ckpt_write(em_ckpt *ck, const char *dir, int keep, em_ckpt_write_info *info, GError **err)
{
    g_return_val_if_fail(ck && dir, false);
    int64_t start = g_get_monotonic_time();
    for (guint i = 0; i < ck->builders->len && !ck->built; i++) {
        deferred *d = &g_array_index(ck->builders, deferred, i);
        if (!d->builder->build(d->data, ck, dir, err))
            return tell_builders(ck, false);
    }
    ck->built = true;
    if (ck->needs->len) {
        em_value *times = g_new(em_value, ck->needs->len);
        for (guint i = 0; i < ck->needs->len; i++)
            times[i] = em_int(g_array_index(ck->needs, em_time, i));
        em__ckpt_put_values(ck, NEEDS_RECORD, times, ck->needs->len);
        g_free(times);
    }
    bool ok = write_file(ck, dir, keep, info, err);
    if (ok && info)
        info->duration_us = g_get_monotonic_time() - start;
    return tell_builders(ck, ok);
}

static bool write_file(em_ckpt *ck, const char *dir, int keep, em_ckpt_write_info *info,
                       GError **err)
{
    int64_t start = g_get_monotonic_time();
    if (g_mkdir_with_parents(dir, 0755) != 0)
        return io_error(err, "create the directory for", dir, errno);
    char name[64];
    g_snprintf(name, sizeof name, "checkpoint-%" G_GINT64_FORMAT, (gint64)ck->time);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *tmp_name = g_strdup_printf(".%s.tmp", name);
    g_autofree char *tmp = g_build_filename(dir, tmp_name, NULL);
    GByteArray *bytes = encode(ck);
    size_t size = bytes->len;
    bool ok = write_atomically(dir, tmp, path, bytes, err);
    g_byte_array_unref(bytes);
    if (!ok)
        return false;
    int removed = prune(dir, keep > 0 ? keep : EM_CKPT_KEEP_DEFAULT, ck->keep_from);
    if (info)
        *info = (em_ckpt_write_info){.path = g_steal_pointer(&path),
                                     .bytes = size,
                                     .duration_us = g_get_monotonic_time() - start,
                                     .removed = removed};
    return true;
}

/* ---- Reading the newest ---- */

em_ckpt *em__ckpt_read_latest(const char *dir, const char *program, uint64_t fingerprint,
                              GError **skipped, GError **err)
{
    g_autoptr(GPtrArray) paths = em__ckpt_list(dir, err);
    if (!paths)
        return NULL;
    GError *first = NULL;
    for (guint i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        GError *why = NULL;
        em_ckpt *ck = em__ckpt_read_file(path, &why);
        if (!ck) {
            g_warning("skipping checkpoint %s: %s", path, why->message);
            if (!first)
                first = why;
            else
                g_error_free(why);
            continue;
        }
        if (program && ck->fingerprint != fingerprint) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "checkpoint %s was written by another program (\"%s\", fingerprint "
                        "%016" G_GINT64_MODIFIER
                        "x), not by \"%s\" (fingerprint %016" G_GINT64_MODIFIER
                        "x): give this program its own checkpoint directory",
                        path, ck->program, (guint64)ck->fingerprint, program,
                        (guint64)fingerprint);
            em__ckpt_free(ck);
            g_clear_error(&first);
            return NULL;
        }
        /* Every file it builds on must read too, or an older checkpoint (an older chain) is
         * the newest that can be recovered. */
        for (guint j = 0; j < ck->needs->len && !why; j++)
            em__ckpt_needed(ck, g_array_index(ck->needs, em_time, j), &why);
        if (why) {
            g_warning("skipping checkpoint %s: %s", path, why->message);
            em__ckpt_free(ck);
            if (!first)
                first = why;
            else
                g_error_free(why);
            continue;
        }
        if (first)
            g_propagate_error(skipped, first);
        return ck;
    }
    if (first) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "no readable checkpoint in %s: all %u are corrupt; the newest: %s", dir,
                    paths->len, first->message);
        g_error_free(first);
    }
    return NULL;
}
