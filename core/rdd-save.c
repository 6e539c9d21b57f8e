/* saveAsTextFile: the action writing one text file per partition in Hadoop's output layout.
 * Each task writes path/_temporary/part-NNNNN (gzip-deflated when asked), fsyncs it and renames
 * it into place; the driver writes _SUCCESS after every task has, and only then. */
#include "core-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { FLUSH_AT = 64 << 10, ZCHUNK = 64 << 10 };

typedef struct {
    em_rdd *rdd;
    const char *path;
    char *tmp_dir;
    em_compression compression;
} save_job;

typedef struct {
    em_sink base;
    int fd;
    const char *file; /* the temporary file: failures name it */
    GString *buf;     /* formatted lines not yet written */
    z_stream *z;      /* gzip; NULL for plain text */
    Bytef *zout;
} part_writer;

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno != EINTR)
            return false;
        if (w > 0)
            p += w, n -= (size_t)w;
    }
    return true;
}

/* Fails the task naming the file and errno's reason. Returns false. */
static bool write_failed(part_writer *w)
{
    em__task_fail(w->base.task, NULL, "saveAsTextFile: cannot write %s: %s", w->file,
                  g_strerror(errno));
    return false;
}

/* Writes out the buffered lines (deflated when gzip); finish ends the gzip stream. */
static bool flush(part_writer *w, bool finish)
{
    bool ok = true;
    if (!w->z) {
        ok = write_all(w->fd, w->buf->str, w->buf->len);
    } else {
        z_stream *z = w->z;
        z->next_in = (Bytef *)w->buf->str;
        z->avail_in = (uInt)w->buf->len;
        int rc;
        do {
            z->next_out = w->zout;
            z->avail_out = ZCHUNK;
            rc = deflate(z, finish ? Z_FINISH : Z_NO_FLUSH);
            ok = write_all(w->fd, (const char *)w->zout, ZCHUNK - z->avail_out);
        } while (ok && (finish ? rc == Z_OK : z->avail_out == 0));
    }
    g_string_truncate(w->buf, 0);
    return ok || write_failed(w);
}

static void writer_push(em_sink *s, em_value v)
{
    part_writer *w = (part_writer *)s;
    em_value_format(v, w->buf);
    g_string_append_c(w->buf, '\n');
    if (w->buf->len >= FLUSH_AT)
        flush(w, false);
}

static void save_task(em_task *task, void *ud)
{
    const save_job *job = ud;
    char name[32];
    snprintf(name, sizeof name, "part-%05d%s", task->partition,
             job->compression == EM_COMPRESS_GZIP ? ".gz" : "");
    g_autofree char *tmp = g_build_filename(job->tmp_dir, name, NULL);
    g_autofree char *final = g_build_filename(job->path, name, NULL);
    part_writer w = {{writer_push, task, NULL}, -1, tmp, NULL, NULL, NULL};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (w.fd < 0) {
        write_failed(&w);
        return;
    }
    w.buf = g_string_sized_new(FLUSH_AT + 4096);
    z_stream z = {0};
    if (job->compression == EM_COMPRESS_GZIP) {
        /* windowBits 15 + 16: a gzip header and trailer, as Hadoop's GzipCodec writes. */
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            g_error("saveAsTextFile: deflateInit2 failed: out of memory");
        w.z = &z;
        w.zout = g_malloc(ZCHUNK);
    }
    em__compute(job->rdd, task, task->partition, &w.base);
    /* Synced before the rename, so that _SUCCESS never stands beside a part still in flight. */
    bool ok = !task->stop && flush(&w, true);
    if (ok && fsync(w.fd) != 0)
        ok = write_failed(&w);
    if (close(w.fd) != 0 && ok)
        ok = write_failed(&w);
    if (ok && rename(tmp, final) != 0)
        em__task_fail(task, NULL, "saveAsTextFile: cannot rename %s to %s: %s", tmp, final,
                      g_strerror(errno));
    if (w.z) {
        deflateEnd(&z);
        g_free(w.zout);
    }
    g_string_free(w.buf, TRUE);
}

/* Removes _temporary and whatever failed tasks left in it. */
static void remove_tmp_dir(const char *tmp_dir)
{
    DIR *dir = opendir(tmp_dir);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)))
            if (de->d_name[0] != '.') {
                g_autofree char *file = g_build_filename(tmp_dir, de->d_name, NULL);
                unlink(file);
            }
        closedir(dir);
    }
    rmdir(tmp_dir);
}

bool em_rdd_save_as_text_file(em_rdd *rdd, const char *path, em_compression compression,
                              GError **err)
{
    g_return_val_if_fail(rdd != NULL && path != NULL, false);
    if (!em__driver_only("saveAsTextFile", err))
        return false;
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_EXISTS,
                    "saveAsTextFile: output directory %s already exists", path);
        return false;
    }
    save_job job = {rdd, path, g_build_filename(path, "_temporary", NULL), compression};
    bool ok = g_mkdir_with_parents(job.tmp_dir, 0777) == 0;
    if (!ok)
        g_set_error(err, EM_ERROR, EM_ERROR_IO, "saveAsTextFile: cannot create directory %s: %s",
                    job.tmp_dir, g_strerror(errno));
    else
        ok = em__run_job(rdd, NULL, 0, save_task, &job, err);
    remove_tmp_dir(job.tmp_dir);
    if (ok) {
        g_autofree char *success = g_build_filename(path, "_SUCCESS", NULL);
        int fd = open(success, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 || close(fd) != 0) {
            g_set_error(err, EM_ERROR, EM_ERROR_IO, "saveAsTextFile: cannot write %s: %s", success,
                        g_strerror(errno));
            ok = false;
        }
    }
    g_free(job.tmp_dir);
    return ok;
}
