/* textFile: a source RDD (Spark's HadoopRDD over TextInputFormat) reading a file or a
 * directory's files in byte-range splits, one string record per line pointing into the task's
 * read buffer. Splits and line ownership follow Hadoop's FileInputFormat and LineRecordReader. */
#include "core-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Hadoop's local file system block size (fs.local.block.size) caps a split, and a file's last
 * split may be up to SPLIT_SLOP times the split size. */
#define BLOCK_SIZE ((int64_t)32 << 20)
#define SPLIT_SLOP 1.1
enum { READ_CHUNK = 1 << 20 };

typedef struct {
    int file;
    int64_t start, length; /* a .gz file is one split read whole */
} text_split;

typedef struct {
    em_rdd base;
    GPtrArray *files; /* paths, in name order */
    GArray *splits;   /* text_split */
} text_rdd;

typedef struct {
    const char *path;
    int fd;    /* plain files */
    gzFile gz; /* .gz files */
} reader;

static bool is_gz(const char *path) { return g_str_has_suffix(path, ".gz"); }

static bool reader_open(reader *r, const char *path)
{
    r->path = path;
    r->fd = -1;
    r->gz = NULL;
    if (is_gz(path)) {
        r->gz = gzopen(path, "rb");
        if (r->gz)
            gzbuffer(r->gz, READ_CHUNK / 4);
        return r->gz != NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    return r->fd >= 0;
}

/* Reads up to n bytes at file offset off (gzip streams read on from where they are): the byte
 * count, 0 at the end, -1 on error (with the failure in task). */
static ssize_t reader_read(reader *r, char *dst, size_t n, int64_t off, em_task *task,
                           const em_rdd *rdd)
{
    if (r->gz) {
        int got = gzread(r->gz, dst, (unsigned)n);
        int errnum = Z_OK;
        const char *msg = got <= 0 ? gzerror(r->gz, &errnum) : NULL;
        /* A truncated stream ends with Z_BUF_ERROR: as Hadoop, that is an error, not an end. */
        if (got < 0 || errnum != Z_OK) {
            em__task_fail(task, rdd, "cannot read %s: %s", r->path,
                          errnum == Z_ERRNO ? g_strerror(errno) : msg);
            return -1;
        }
        return got;
    }
    ssize_t got;
    do
        got = pread(r->fd, dst, n, (off_t)off);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        em__task_fail(task, rdd, "cannot read %s: %s", r->path, g_strerror(errno));
    return got;
}

static void reader_close(reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    if (r->fd >= 0)
        close(r->fd);
}

/* Pushes the lines of one split. As Hadoop's LineRecordReader, a line belongs to the split where
 * it starts, where a split [start, end] also owns a line starting exactly at end: a split that
 * does not start at 0 drops everything up to its first '\n' (the previous split read that line
 * to its end), and the last line starting within the split is read past end to its '\n'. */
static void text_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const text_rdd *st = (const text_rdd *)rdd;
    const text_split *sp = &g_array_index(st->splits, text_split, index);
    reader r;
    if (!reader_open(&r, g_ptr_array_index(st->files, sp->file))) {
        em__task_fail(task, rdd, "cannot read %s: %s", r.path, g_strerror(errno));
        return;
    }
    int64_t end = r.gz ? INT64_MAX : sp->start + sp->length;
    int64_t base = sp->start; /* offset in the (uncompressed) stream of buf[0] */
    size_t cap = READ_CHUNK, len = 0, pos = 0;
    char *buf = g_malloc(cap);
    bool skip = sp->start > 0, eof = false;
    while (!task->stop) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl && !eof) {
            /* Keep the partial line at the front (or drop it when skipping it), read more. */
            size_t keep = skip ? 0 : len - pos;
            memmove(buf, buf + len - keep, keep);
            base += (int64_t)(len - keep);
            len = keep;
            pos = 0;
            if (len == cap)
                buf = g_realloc(buf, cap *= 2);
            ssize_t got = reader_read(&r, buf + len, cap - len, base + (int64_t)len, task, rdd);
            if (got < 0)
                break;
            eof = got == 0;
            len += (size_t)got;
            continue;
        }
        size_t line_end = nl ? (size_t)(nl - buf) : len;
        int64_t line_start = base + (int64_t)pos;
        if ((!nl && line_end == pos) || line_start > end)
            break;
        if (skip) {
            skip = false;
        } else {
            const char *p = buf + pos;
            size_t n = line_end - pos;
            if (n && p[n - 1] == '\r')
                n--;
            /* Hadoop drops a UTF-8 byte order mark at the start of a file. */
            if (line_start == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3, n -= 3;
            out->push(out, em_strn(p, n));
            em_arena_reset(task->scratch);
        }
        pos = nl ? line_end + 1 : len;
    }
    g_free(buf);
    reader_close(&r);
}

static void text_finalize(em_rdd *rdd)
{
    text_rdd *st = (text_rdd *)rdd;
    g_ptr_array_unref(st->files);
    g_array_unref(st->splits);
}

static const em_rdd_class text_class = {
    .type_name = "HadoopRDD",
    .compute = text_compute,
    .finalize = text_finalize,
};

static int compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool io_error(const char *path, GError **err)
{
    g_set_error(err, EM_ERROR, EM_ERROR_IO, "textFile: cannot read %s: %s", path,
                g_strerror(errno));
    return false;
}

/* The input files with their sizes: path itself, or the regular files of directory path whose
 * names do not start with '.' or '_' (Hadoop's hidden files), in name order. */
static bool list_inputs(const char *path, GPtrArray *files, GArray *sizes, GError **err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return io_error(path, err);
    if (!S_ISDIR(sb.st_mode)) {
        g_ptr_array_add(files, g_strdup(path));
        g_array_append_val(sizes, sb.st_size);
        return true;
    }
    DIR *dir = opendir(path);
    if (!dir)
        return io_error(path, err);
    struct dirent *de;
    while ((de = readdir(dir)))
        if (de->d_name[0] != '.' && de->d_name[0] != '_')
            g_ptr_array_add(files, g_build_filename(path, de->d_name, NULL));
    closedir(dir);
    g_ptr_array_sort(files, compare_paths);
    for (guint i = 0; i < files->len;) {
        if (stat(g_ptr_array_index(files, i), &sb) == 0 && S_ISREG(sb.st_mode)) {
            g_array_append_val(sizes, sb.st_size);
            i++;
        } else {
            g_ptr_array_remove_index(files, i);
        }
    }
    return true;
}

em_rdd *em_text_file(em_context *sc, const char *path, int min_partitions, GError **err)
{
    g_return_val_if_fail(path != NULL, NULL);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(off_t));
    if (!list_inputs(path, files, sizes, err)) {
        g_ptr_array_unref(files);
        return NULL;
    }
    if (min_partitions <= 0)
        min_partitions = MIN(2, sc->parallelism);
    /* Hadoop's FileInputFormat.getSplits: goal = total / min_partitions, capped by the block;
     * an empty file still makes one (empty) split. */
    int64_t total = 0;
    for (guint i = 0; i < sizes->len; i++)
        total += g_array_index(sizes, off_t, i);
    int64_t split_size = MAX(1, MIN(total / min_partitions, BLOCK_SIZE));
    GArray *splits = g_array_new(FALSE, FALSE, sizeof(text_split));
    for (guint i = 0; i < files->len; i++) {
        int64_t length = g_array_index(sizes, off_t, i), left = length;
        while (!is_gz(g_ptr_array_index(files, i)) &&
               (double)left / (double)split_size > SPLIT_SLOP) {
            text_split sp = {(int)i, length - left, split_size};
            g_array_append_val(splits, sp);
            left -= split_size;
        }
        text_split sp = {(int)i, length - left, left};
        g_array_append_val(splits, sp);
    }
    text_rdd *st = EM__RDD_NEW(text_rdd, sc, &text_class, "textFile", (int)splits->len, NULL, 0);
    st->files = files;
    st->splits = splits;
    /* The path stands where a function name would: the lineage and failures name it. */
    em__rdd_own(&st->base, NULL, NULL, path);
    return &st->base;
}
