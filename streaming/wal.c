/* The receivers' write-ahead log (streaming, under the receiver supervisor): CRC'd,
 * length-prefixed records in segment files, fsynced before a block is acknowledged, replayed
 * after a crash, and deleted once a checkpoint covers them. See wal.h for the layout. */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char SEG_MAGIC[8] = {'E', 'M', 'B', 'R', 'W', 'A', 'L', '1'};
enum {
    REC_HEAD = 4 + 8,            /* length, sequence number */
    REC_OVERHEAD = REC_HEAD + 4, /* and the CRC32 */
    MAX_RECORD = 1u << 30,
    DEFAULT_SEGMENT = 1 << 20,
};

typedef struct segment {
    uint64_t first; /* sequence number of its first record (from the name) */
    uint64_t last;  /* of its last record; first - 1 when empty */
    char *path;
} segment;

struct em_wal {
    char *dir;
    size_t segment_bytes;
    GArray *segments; /* segment, oldest first; the last is the one being written, if open */
    int fd;           /* the current segment, -1 before the first append */
    size_t fd_bytes;
    uint64_t last_seq;
};

static void segment_clear(gpointer p) { g_free(((segment *)p)->path); }

static bool G_GNUC_PRINTF(3, 4) fail(GError **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, EM_ERROR, code, msg);
    return false;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void set_u32(uint8_t *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

/* ---- Reading a segment ---- */

/* Walks the records of one segment's bytes, calling fn for those above after. Stops at the
 * first damaged record: *good gets the offset where the valid records end, *why what is wrong
 * there (NULL when the segment is whole). */
typedef struct walk {
    const uint8_t *buf;
    size_t len;
    size_t good;
    uint64_t last;
    const char *why;
} walk;

static bool walk_segment(walk *w, uint64_t expect_first, uint64_t after, em_wal_replay_fn fn,
                         void *ud, bool *stopped)
{
    w->good = 0, w->why = NULL, w->last = expect_first - 1;
    if (w->len < sizeof SEG_MAGIC || memcmp(w->buf, SEG_MAGIC, sizeof SEG_MAGIC) != 0) {
        w->why = w->len < sizeof SEG_MAGIC ? "truncated header" : "wrong magic";
        return false;
    }
    size_t pos = w->good = sizeof SEG_MAGIC;
    while (pos < w->len) {
        if (w->len - pos < REC_OVERHEAD) {
            w->why = "truncated record";
            return false;
        }
        uint32_t n = get_u32(w->buf + pos);
        uint64_t seq = get_u64(w->buf + pos + 4);
        if (n > MAX_RECORD || w->len - pos - REC_OVERHEAD < n) {
            w->why = "truncated record";
            return false;
        }
        uint32_t crc = (uint32_t)crc32_z(0, w->buf + pos, REC_HEAD + n);
        if (crc != get_u32(w->buf + pos + REC_HEAD + n)) {
            w->why = "CRC32 mismatch";
            return false;
        }
        if (seq != w->last + 1) {
            w->why = "sequence number out of order";
            return false;
        }
        if (fn && seq > after && !*stopped && !fn(seq, w->buf + pos + REC_HEAD, n, ud))
            *stopped = true;
        w->last = seq;
        pos += REC_OVERHEAD + n;
        w->good = pos;
    }
    return true;
}

static bool read_segment(const segment *seg, uint8_t **buf, size_t *len, GError **err)
{
    GError *io = NULL;
    if (!g_file_get_contents(seg->path, (char **)buf, len, &io)) {
        fail(err, EM_ERROR_IO, "cannot read write-ahead log segment %s: %s", seg->path,
             io->message);
        g_error_free(io);
        return false;
    }
    return true;
}

/* ---- Opening ---- */

static int by_first(gconstpointer a, gconstpointer b)
{
    const segment *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static bool list_segments(em_wal *wal, GError **err)
{
    DIR *d = opendir(wal->dir);
    if (!d)
        return fail(err, EM_ERROR_IO, "cannot list write-ahead log %s: %s", wal->dir,
                    g_strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        guint64 first;
        if (!g_str_has_prefix(e->d_name, "log-") ||
            !g_ascii_string_to_unsigned(e->d_name + 4, 10, 1, G_MAXUINT64, &first, NULL))
            continue;
        segment seg = {.first = first,
                       .last = first - 1,
                       .path = g_build_filename(wal->dir, e->d_name, NULL)};
        g_array_append_val(wal->segments, seg);
    }
    closedir(d);
    g_array_sort(wal->segments, by_first);
    return true;
}

/* Reads every segment to learn its last sequence number; cuts a torn tail off the newest. */
static bool scan(em_wal *wal, GError **err)
{
    for (guint i = 0; i < wal->segments->len; i++) {
        segment *seg = &g_array_index(wal->segments, segment, i);
        uint8_t *buf;
        size_t len;
        if (!read_segment(seg, &buf, &len, err))
            return false;
        walk w = {.buf = buf, .len = len};
        bool stopped = false;
        bool whole = walk_segment(&w, seg->first, 0, NULL, NULL, &stopped);
        g_free(buf);
        seg->last = w.last;
        if (whole)
            continue;
        if (i + 1 < wal->segments->len)
            return fail(err, EM_ERROR_CORRUPT,
                        "write-ahead log segment %s is damaged: %s at "
                        "byte %zu",
                        seg->path, w.why, w.good);
        if (w.good == 0) {
            /* Torn while it was being created: it holds no record, it goes. */
            g_warning("write-ahead log segment %s: %s (a crash while it was created): removed",
                      seg->path, w.why);
            if (unlink(seg->path) != 0)
                return fail(err, EM_ERROR_IO, "cannot remove the torn segment %s: %s", seg->path,
                            g_strerror(errno));
            g_array_remove_index(wal->segments, i);
            break;
        }
        g_warning("write-ahead log segment %s: %s at byte %zu (a crash during an append): "
                  "the torn record is cut off",
                  seg->path, w.why, w.good);
        if (truncate(seg->path, (off_t)w.good) != 0)
            return fail(err, EM_ERROR_IO, "cannot cut the torn tail of %s: %s", seg->path,
                        g_strerror(errno));
    }
    if (wal->segments->len)
        wal->last_seq = g_array_index(wal->segments, segment, wal->segments->len - 1).last;
    return true;
}

em_wal *em__wal_open(const char *dir, const em_wal_opts *opts, GError **err)
{
    g_return_val_if_fail(dir, NULL);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fail(err, EM_ERROR_IO, "cannot create write-ahead log %s: %s", dir, g_strerror(errno));
        return NULL;
    }
    em_wal *wal = g_new0(em_wal, 1);
    wal->dir = g_strdup(dir);
    wal->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT;
    wal->segments = g_array_new(FALSE, FALSE, sizeof(segment));
    g_array_set_clear_func(wal->segments, segment_clear);
    wal->fd = -1;
    if (!list_segments(wal, err) || !scan(wal, err)) {
        em__wal_close(wal);
        return NULL;
    }
    return wal;
}

void em__wal_close(em_wal *wal)
{
    if (!wal)
        return;
    if (wal->fd >= 0)
        close(wal->fd);
    g_array_unref(wal->segments);
    g_free(wal->dir);
    g_free(wal);
}

uint64_t em__wal_last_seq(const em_wal *wal) { return wal->last_seq; }

/* ---- Appending ---- */

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return false;
        }
        p += w, n -= (size_t)w;
    }
    return true;
}

/* Starts a new segment whose first record will be next: created, its header written and
 * synced, and the directory synced so the name survives a crash. */
static bool open_segment(em_wal *wal, uint64_t next, GError **err)
{
    if (wal->fd >= 0)
        close(wal->fd), wal->fd = -1;
    /* An empty segment of that name (a crash before its first record) is made anew: one entry
     * for the file, or cleaning would delete it under the writer. */
    if (wal->segments->len &&
        g_array_index(wal->segments, segment, wal->segments->len - 1).first == next)
        g_array_remove_index(wal->segments, wal->segments->len - 1);
    char name[32];
    g_snprintf(name, sizeof name, "log-%020" G_GUINT64_FORMAT, (guint64)next);
    segment seg = {.first = next,
                   .last = next - 1,
                   .path = g_build_filename(wal->dir, name, NULL)};
    int fd = open(seg.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all(fd, (const uint8_t *)SEG_MAGIC, sizeof SEG_MAGIC) || fsync(fd)) {
        int saved = errno;
        if (fd >= 0)
            close(fd), unlink(seg.path);
        fail(err, EM_ERROR_IO, "cannot create write-ahead log segment %s: %s", seg.path,
             g_strerror(saved));
        g_free(seg.path);
        return false;
    }
    int dfd = open(wal->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        fsync(dfd), close(dfd);
    g_array_append_val(wal->segments, seg);
    wal->fd = fd;
    wal->fd_bytes = sizeof SEG_MAGIC;
    return true;
}

bool em__wal_append(em_wal *wal, const void *data, size_t n, uint64_t *seq, GError **err)
{
    g_return_val_if_fail(wal && (data || !n) && n <= MAX_RECORD, false);
    uint64_t next = wal->last_seq + 1;
    if ((wal->fd < 0 || wal->fd_bytes >= wal->segment_bytes) && !open_segment(wal, next, err))
        return false;
    segment *seg = &g_array_index(wal->segments, segment, wal->segments->len - 1);
    uint8_t head[REC_HEAD], tail[4];
    set_u32(head, (uint32_t)n);
    set_u32(head + 4, (uint32_t)next);
    set_u32(head + 8, (uint32_t)(next >> 32));
    uint32_t crc = (uint32_t)crc32_z(0, head, REC_HEAD);
    crc = (uint32_t)crc32_z(crc, data, n);
    set_u32(tail, crc);
    /* One write of the whole record, so a crash tears at most this record. */
    g_autofree uint8_t *rec = g_malloc(REC_OVERHEAD + n);
    memcpy(rec, head, REC_HEAD);
    if (n)
        memcpy(rec + REC_HEAD, data, n);
    memcpy(rec + REC_HEAD + n, tail, 4);
    if (!write_all(wal->fd, rec, REC_OVERHEAD + n) || fdatasync(wal->fd) != 0) {
        int saved = errno;
        /* The segment may end in a partial record now: cut it off and write to a new one. */
        if (ftruncate(wal->fd, (off_t)wal->fd_bytes) != 0)
            g_warning("cannot cut a failed append off %s: %s", seg->path, g_strerror(errno));
        close(wal->fd), wal->fd = -1;
        return fail(err, EM_ERROR_IO, "cannot append to write-ahead log segment %s: %s", seg->path,
                    g_strerror(saved));
    }
    wal->fd_bytes += REC_OVERHEAD + n;
    wal->last_seq = seg->last = next;
    if (seq)
        *seq = next;
    return true;
}

/* ---- Replay and cleaning ---- */

bool em__wal_replay(em_wal *wal, uint64_t after, em_wal_replay_fn fn, void *ud, GError **err)
{
    bool stopped = false;
    for (guint i = 0; i < wal->segments->len && !stopped; i++) {
        const segment *seg = &g_array_index(wal->segments, segment, i);
        if (seg->last <= after || seg->last < seg->first)
            continue;
        uint8_t *buf;
        size_t len;
        if (!read_segment(seg, &buf, &len, err))
            return false;
        walk w = {.buf = buf, .len = len};
        bool whole = walk_segment(&w, seg->first, after, fn, ud, &stopped);
        g_free(buf);
        /* A segment being written may hold a failed append's bytes past seg->last. */
        if (!whole && w.last < seg->last)
            return fail(err, EM_ERROR_CORRUPT,
                        "write-ahead log segment %s is damaged: %s at "
                        "byte %zu",
                        seg->path, w.why, w.good);
    }
    return true;
}

int em__wal_clean(em_wal *wal, uint64_t covered, GError **err)
{
    int removed = 0;
    guint open_index = wal->fd >= 0 ? wal->segments->len - 1 : G_MAXUINT;
    while (wal->segments->len && open_index != 0) {
        const segment *seg = &g_array_index(wal->segments, segment, 0);
        if (seg->last > covered)
            break;
        if (unlink(seg->path) != 0 && errno != ENOENT) {
            fail(err, EM_ERROR_IO, "cannot delete write-ahead log segment %s: %s", seg->path,
                 g_strerror(errno));
            return -1;
        }
        g_array_remove_index(wal->segments, 0);
        removed++;
        if (open_index != G_MAXUINT)
            open_index--;
    }
    return removed;
}

GPtrArray *em__wal_segments(const em_wal *wal)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < wal->segments->len; i++)
        g_ptr_array_add(paths, g_strdup(g_array_index(wal->segments, segment, i).path));
    return paths;
}
