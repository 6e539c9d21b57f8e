/* textFile and saveAsTextFile on real temporary directories: Hadoop's split and line rules,
 * hidden files, gzip both ways, Spark's output layout, and the failures (missing input, a file
 * gone at run time, an existing output, an unwritable place, a size limit standing in for a
 * full disk, a failing task). */
#include <criterion/criterion.h>

#include "core-private.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static em_context *sc;
static char *dir;

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            rm_rf(child);
        }
        if (d)
            g_dir_close(d);
    }
    remove(path);
}

static void setup(void)
{
    sc = em_context_new("local[2]", "test", NULL);
    dir = g_dir_make_tmp("ember-io-XXXXXX", NULL);
    cr_assert_not_null(dir);
}

static void teardown(void)
{
    rm_rf(dir);
    g_free(dir);
    em_context_free(sc);
}

TestSuite(rdd_io, .init = setup, .fini = teardown);

/* dir/name holding n bytes (-1: a C string); the caller frees the path. */
static char *put(const char *name, const char *bytes, gssize n)
{
    char *path = g_build_filename(dir, name, NULL);
    cr_assert(g_file_set_contents(path, bytes, n, NULL), "cannot write %s", path);
    return path;
}

static char *put_gz(const char *name, const char *bytes, size_t n)
{
    char *path = g_build_filename(dir, name, NULL);
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(gz), Z_OK);
    return path;
}

/* The records of path read with min_partitions, partitions in order, as "[a, b]". */
static char *read_text(const char *path, int min_partitions)
{
    GError *err = NULL;
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, min_partitions, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    return em_values_to_string(out);
}

/* The records of each partition of rdd, as "[Array(a), Array()]". */
static char *partitions_of(em_rdd *rdd)
{
    GError *err = NULL;
    g_autoptr(em_rdd) glom = em_rdd_glom(rdd);
    g_autoptr(em_values) out = em_rdd_collect(glom, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    return em_values_to_string(out);
}

static char *read_gz(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    cr_assert_not_null(gz, "cannot open %s", path);
    GString *text = g_string_new(NULL);
    char buf[4096];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    cr_assert_eq(n, 0, "%s is not valid gzip", path);
    cr_assert_eq(gzclose(gz), Z_OK);
    return g_string_free(text, FALSE);
}

static char *read_plain(const char *path)
{
    char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL), "cannot read %s", path);
    return text;
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory path, sorted and joined with spaces. */
static char *listing(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    cr_assert_not_null(d, "cannot list %s", path);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    char *text = g_strjoinv(" ", (char **)names->pdata);
    g_ptr_array_unref(names);
    return text;
}

/* ---- textFile ---- */

/* Line i of the big fixture: lengths from 0 to 96, a few longer than any split, Unicode and an
 * embedded NUL once, each line distinct so that order and duplicates show. */
static GString *fixture_line(int i)
{
    GString *line = g_string_new(NULL);
    if (i == 123) {
        g_string_append_len(line,
                            "\xc3\xbcn\xc3\xaf\0c\xc3\xb6"
                            "d\xc3\xa9",
                            12);
        return line;
    }
    int len = i % 50 == 7 ? 3000 : (i * 37) % 97;
    g_string_append_printf(line, "%d:", i);
    for (int j = 0; j < len; j++)
        g_string_append_c(line, (char)('a' + (i + j) % 26));
    if (len == 0)
        g_string_truncate(line, 0); /* an empty line */
    return line;
}

Test(rdd_io, text_file_reads_every_line_once_in_order_for_any_split_count)
{
    enum { LINES = 400 };
    /* LF with a final newline, then CRLF without one: the same lines either way. */
    for (int variant = 0; variant < 2; variant++) {
        GString *content = g_string_new(NULL);
        for (int i = 0; i < LINES; i++) {
            g_autoptr(GString) line = fixture_line(i);
            g_string_append_len(content, line->str, (gssize)line->len);
            if (variant == 0 || i < LINES - 1)
                g_string_append(content, variant == 0 ? "\n" : "\r\n");
        }
        g_autofree char *path = put("big.txt", content->str, (gssize)content->len);
        g_string_free(content, TRUE);
        for (int mp = 1; mp <= 17; mp++) {
            GError *err = NULL;
            g_autoptr(em_rdd) rdd = em_text_file(sc, path, mp, &err);
            cr_assert_not_null(rdd, "%s", err ? err->message : "");
            cr_assert_geq(em_rdd_num_partitions(rdd), mp);
            g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
            cr_assert_not_null(out, "%s", err ? err->message : "");
            cr_assert_eq(out->n, LINES, "variant %d, %d partitions: %zu lines", variant, mp,
                         out->n);
            for (int i = 0; i < LINES; i++) {
                g_autoptr(GString) line = fixture_line(i);
                em_value v = out->items[i];
                cr_assert(em_is_str(v) && em_str_len(v) == line->len &&
                              memcmp(em_str_ptr(v), line->str, line->len) == 0,
                          "variant %d, %d partitions: line %d differs", variant, mp, i);
            }
        }
    }
}

Test(rdd_io, partition_counts_follow_hadoop_split_sizes)
{
    char bytes[100];
    memset(bytes, 'x', sizeof bytes);
    g_autofree char *hundred = put("hundred.txt", bytes, 100);
    g_autofree char *ten = put("ten.txt", bytes, 10);
    g_autofree char *empty = put("empty.txt", "", 0);
    struct {
        const char *path;
        int min_partitions, expected;
    } cases[] = {
        {hundred, 3, 3}, /* 33, 33, 34: the last split may be 1.1 times the goal */
        {hundred, 0, 2}, /* the default: min(2, parallelism) */
        {ten, 4, 5},     /* goal 10 / 4 = 2 bytes: five splits */
        {empty, 3, 1},   /* an empty file is one empty split */
        {dir, 1, 3},     /* one split per file at least */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(em_rdd) rdd = em_text_file(sc, cases[i].path, cases[i].min_partitions, NULL);
        cr_assert_not_null(rdd);
        cr_assert_eq(em_rdd_num_partitions(rdd), cases[i].expected, "case %zu: %d partitions", i,
                     em_rdd_num_partitions(rdd));
    }
}

Test(rdd_io, splits_are_capped_at_the_32_mib_local_block_size)
{
    g_autofree char *path = g_build_filename(dir, "sparse.txt", NULL);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)40 << 20), 0);
    fclose(f);
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 1, NULL);
    cr_assert_not_null(rdd);
    cr_assert_eq(em_rdd_num_partitions(rdd), 2); /* 32 MiB + 8 MiB */
}

Test(rdd_io, a_line_starting_at_a_split_end_belongs_to_the_split_before)
{
    /* Splits [0,3) [3,6) [6,9) begin exactly at line starts; as Hadoop's LineRecordReader, a
     * split reads the line starting at its end and the next split skips it. */
    g_autofree char *path = put("three.txt", "ab\ncd\nef\n", -1);
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 3, NULL);
    g_autofree char *parts = partitions_of(rdd);
    cr_assert_str_eq(parts, "[Array(ab, cd), Array(ef), Array()]");
}

Test(rdd_io, a_line_longer_than_splits_belongs_to_the_split_where_it_starts)
{
    char text[36];
    memcpy(text, "x\n", 2);
    memset(text + 2, 'L', 30);
    memcpy(text + 32, "\ny\n", 3);
    g_autofree char *path = put("long.txt", text, 35);
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 4, NULL);
    cr_assert_eq(em_rdd_num_partitions(rdd), 5);
    g_autofree char *parts = partitions_of(rdd);
    cr_assert_str_eq(parts,
                     "[Array(x, LLLLLLLLLLLLLLLLLLLLLLLLLLLLLL), Array(), Array(), Array(), "
                     "Array(y)]");
}

Test(rdd_io, crlf_endings_lose_their_cr_and_a_lone_cr_stays_in_the_line)
{
    g_autofree char *path = put("crlf.txt", "a\r\nb\r\n\r\nx\ry\r\nc", -1);
    g_autofree char *text = read_text(path, 2);
    cr_assert_str_eq(text, "[a, b, , x\ry, c]");
}

Test(rdd_io, empty_lines_are_kept_and_a_last_line_needs_no_newline)
{
    g_autofree char *a = put("a.txt", "\n\na\n\n", 5);
    g_autofree char *b = put("b.txt", "one\ntwo", 7);
    g_autofree char *ta = read_text(a, 2);
    g_autofree char *tb = read_text(b, 2);
    cr_assert_str_eq(ta, "[, , a, ]");
    cr_assert_str_eq(tb, "[one, two]");
}

Test(rdd_io, a_utf8_byte_order_mark_is_dropped_at_the_start_only)
{
    g_autofree char *path = put("bom.txt",
                                "\xEF\xBB\xBF"
                                "a\n\xEF\xBB\xBF"
                                "b\n",
                                10);
    g_autofree char *text = read_text(path, 1);
    cr_assert_str_eq(text, "[a, \xEF\xBB\xBF"
                           "b]");
}

Test(rdd_io, an_empty_file_gives_no_records)
{
    g_autofree char *path = put("empty.txt", "", 0);
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 4, NULL);
    cr_assert_not_null(rdd);
    cr_assert_eq(em_rdd_count(rdd, NULL), 0);
}

Test(rdd_io, a_directory_reads_its_visible_files_in_name_order)
{
    g_autofree char *b = put("b.txt", "b1\nb2\n", 6);
    g_autofree char *a = put("a.txt", "a1\n", 3);
    g_autofree char *c = put_gz("c.gz", "c1\nc2", 5);
    g_autofree char *hidden = put(".hidden", "h\n", 2);
    g_autofree char *success = put("_SUCCESS", "", 0);
    g_autofree char *tmp = put("_tmp", "t\n", 2);
    g_autofree char *sub = g_build_filename(dir, "sub", NULL);
    cr_assert_eq(mkdir(sub, 0755), 0);
    g_autofree char *inner = put("sub/s.txt", "s\n", 2);
    g_autofree char *text = read_text(dir, 0);
    cr_assert_str_eq(text, "[a1, b1, b2, c1, c2]");
}

Test(rdd_io, gzip_files_are_one_split_each_and_read_whole)
{
    GString *content = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_printf(content, "line %d\r\n", i);
    g_autofree char *path = put_gz("lines.txt.gz", content->str, content->len);
    g_string_free(content, TRUE);
    GError *err = NULL;
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 8, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    cr_assert_eq(em_rdd_num_partitions(rdd), 1);
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    cr_assert_eq(out->n, 5000);
    g_autofree char *last = em_value_to_string(out->items[4999]);
    cr_assert_str_eq(last, "line 4999");
}

Test(rdd_io, a_truncated_gzip_file_fails_the_job_naming_the_file)
{
    GString *content = g_string_new(NULL);
    for (int i = 0; i < 2000; i++)
        g_string_append_printf(content, "%d\n", i * 7919);
    g_autofree char *path = put_gz("cut.gz", content->str, content->len);
    g_string_free(content, TRUE);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(truncate(path, sb.st_size / 2), 0);
    g_autoptr(em_rdd) rdd = em_text_file(sc, path, 0, NULL);
    GError *err = NULL;
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_null(out);
    cr_assert_eq(err->code, EM_ERROR_TASK);
    cr_assert(strstr(err->message, "textFile") && strstr(err->message, path), "%s", err->message);
    g_error_free(err);
}

Test(rdd_io, a_missing_path_is_an_io_error_naming_it)
{
    g_autofree char *path = g_build_filename(dir, "no-such-file", NULL);
    GError *err = NULL;
    em_rdd *rdd = em_text_file(sc, path, 0, &err);
    cr_assert_null(rdd);
    cr_assert_eq(err->domain, EM_ERROR);
    cr_assert_eq(err->code, EM_ERROR_IO);
    cr_assert(strstr(err->message, path), "%s", err->message);
    g_error_free(err);
}

Test(rdd_io, a_file_gone_at_run_time_fails_the_task_naming_it)
{
    g_autofree char *a = put("a.txt", "a\n", 2);
    g_autofree char *b = put("b.txt", "b\n", 2);
    g_autoptr(em_rdd) rdd = em_text_file(sc, dir, 0, NULL);
    cr_assert_eq(unlink(b), 0);
    GError *err = NULL;
    g_autoptr(em_values) out = em_rdd_collect(rdd, &err);
    cr_assert_null(out);
    cr_assert_eq(err->code, EM_ERROR_TASK);
    cr_assert(strstr(err->message, "partition 1") && strstr(err->message, b), "%s", err->message);
    g_error_free(err);
}

Test(rdd_io, lines_outlive_the_read_buffer_once_cached_and_take_stops_early)
{
    GString *content = g_string_new(NULL);
    for (int i = 0; i < 100000; i++)
        g_string_append_printf(content, "row %d\n", i);
    g_autofree char *path = put("rows.txt", content->str, (gssize)content->len);
    g_string_free(content, TRUE);
    g_autoptr(em_rdd) rdd = em_rdd_cache(em_text_file(sc, path, 3, NULL));
    cr_assert_eq(em_rdd_count(rdd, NULL), 100000);
    g_autoptr(em_values) first = em_rdd_take(rdd, 2, NULL);
    g_autofree char *text = em_values_to_string(first);
    cr_assert_str_eq(text, "[row 0, row 1]");
}

/* ---- saveAsTextFile ---- */

Test(rdd_io, save_then_read_gives_back_the_records_in_order)
{
    const char *records = "(a,1), (b,2), c, 3, (x,(y,z)), \"\xe2\x82\xac uro\", 1.5";
    const char *expected = "[(a,1), (b,2), c, 3, (x,(y,z)), \xe2\x82\xac uro, 1.5]";
    for (int gz = 0; gz < 2; gz++) {
        g_autoptr(em_rdd) rdd = em_parallelize_text(sc, records, 3, NULL);
        g_autofree char *out = g_build_filename(dir, gz ? "out-gz" : "out", NULL);
        GError *err = NULL;
        cr_assert(em_rdd_save_as_text_file(rdd, out, gz ? EM_COMPRESS_GZIP : EM_COMPRESS_NONE,
                                           &err),
                  "%s", err ? err->message : "");
        g_autofree char *text = read_text(out, 0);
        cr_assert_str_eq(text, expected);
    }
}

Test(rdd_io, save_writes_one_part_per_partition_empty_ones_too_then_success)
{
    /* Four slices of two values: slices 0 and 2 are empty. */
    g_autoptr(em_rdd) rdd = em_parallelize_text(sc, "1, (k,v)", 4, NULL);
    g_autofree char *out = g_build_filename(dir, "nested", "out", NULL);
    GError *err = NULL;
    cr_assert(em_rdd_save_as_text_file(rdd, out, EM_COMPRESS_NONE, &err), "%s",
              err ? err->message : "");
    g_autofree char *names = listing(out);
    cr_assert_str_eq(names, "_SUCCESS part-00000 part-00001 part-00002 part-00003");
    const char *expected[] = {"", "1\n", "", "(k,v)\n"};
    for (int p = 0; p < 4; p++) {
        g_autofree char *name = g_strdup_printf("part-%05d", p);
        g_autofree char *file = g_build_filename(out, name, NULL);
        g_autofree char *text = read_plain(file);
        cr_assert_str_eq(text, expected[p], "%s", name);
    }
    g_autofree char *success = g_build_filename(out, "_SUCCESS", NULL);
    g_autofree char *flag = read_plain(success);
    cr_assert_str_eq(flag, "");
}

Test(rdd_io, gzip_output_is_readable_by_zlib_empty_parts_included)
{
    GString *records = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append_printf(records, "%s(w%d,%d)", i ? ", " : "", i % 97, i);
    g_autoptr(em_rdd) big = em_parallelize_text(sc, records->str, 2, NULL);
    g_string_free(records, TRUE);
    g_autoptr(em_rdd) empty = em_parallelize_text(sc, "", 1, NULL);
    g_autoptr(em_rdd) rdd = em_rdd_union(big, empty);
    g_autofree char *out = g_build_filename(dir, "out", NULL);
    GError *err = NULL;
    cr_assert(em_rdd_save_as_text_file(rdd, out, EM_COMPRESS_GZIP, &err), "%s",
              err ? err->message : "");
    g_autofree char *names = listing(out);
    cr_assert_str_eq(names, "_SUCCESS part-00000.gz part-00001.gz part-00002.gz");
    for (int p = 0; p < 3; p++) {
        g_autofree char *name = g_strdup_printf("part-%05d.gz", p);
        g_autofree char *file = g_build_filename(out, name, NULL);
        g_autofree char *raw = read_plain(file);
        cr_assert(raw[0] == '\x1f' && raw[1] == '\x8b', "%s lacks the gzip magic", name);
        g_autofree char *text = read_gz(file);
        GString *expected = g_string_new(NULL);
        for (int i = p * 10000; p < 2 && i < (p + 1) * 10000; i++)
            g_string_append_printf(expected, "(w%d,%d)\n", i % 97, i);
        cr_assert_str_eq(text, expected->str, "%s", name);
        g_string_free(expected, TRUE);
    }
}

Test(rdd_io, an_rdd_without_partitions_writes_only_success)
{
    g_autoptr(em_rdd) rdd = em_empty_rdd(sc);
    g_autofree char *out = g_build_filename(dir, "out", NULL);
    GError *err = NULL;
    cr_assert(em_rdd_save_as_text_file(rdd, out, EM_COMPRESS_GZIP, &err), "%s",
              err ? err->message : "");
    g_autofree char *names = listing(out);
    cr_assert_str_eq(names, "_SUCCESS");
}

static gint calls;

static em_value counted(em_value v, void *ud)
{
    (void)ud;
    g_atomic_int_inc(&calls);
    return v;
}

Test(rdd_io, an_existing_output_path_is_refused_before_running_anything)
{
    g_autofree char *file = put("taken", "x", 1);
    g_autoptr(em_rdd) src = em_parallelize_text(sc, "1, 2", 2, NULL);
    g_autoptr(em_rdd) rdd = em_rdd_map(src, counted);
    const char *paths[] = {dir, file};
    for (int i = 0; i < 2; i++) {
        GError *err = NULL;
        cr_assert_not(em_rdd_save_as_text_file(rdd, paths[i], EM_COMPRESS_NONE, &err));
        cr_assert_eq(err->code, EM_ERROR_EXISTS);
        g_autofree char *want = g_strdup_printf("output directory %s already exists", paths[i]);
        cr_assert(strstr(err->message, want), "%s", err->message);
        g_error_free(err);
    }
    cr_assert_eq(g_atomic_int_get(&calls), 0);
    g_autofree char *text = read_plain(file);
    cr_assert_str_eq(text, "x");
}

Test(rdd_io, an_unwritable_location_is_an_io_error_naming_it)
{
    /* Root ignores permissions, so use places nobody can create directories in: /proc, and
     * below a regular file. */
    g_autofree char *file = put("plain", "x", 1);
    g_autofree char *below_file = g_build_filename(file, "out", NULL);
    const char *paths[] = {"/proc/self/ember-out", below_file};
    g_autoptr(em_rdd) rdd = em_parallelize_text(sc, "1, 2", 2, NULL);
    for (int i = 0; i < 2; i++) {
        GError *err = NULL;
        cr_assert_not(em_rdd_save_as_text_file(rdd, paths[i], EM_COMPRESS_NONE, &err));
        cr_assert_eq(err->code, EM_ERROR_IO);
        cr_assert(strstr(err->message, paths[i]), "%s", err->message);
        g_error_free(err);
    }
}

/* A file size limit makes write() fail with EFBIG as a full disk makes it fail with ENOSPC, and
 * it works as root. Each Criterion test runs in a process of its own. */
static void limit_file_size(rlim_t bytes)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {bytes, bytes};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void assert_failed_write(const char *out, const GError *err)
{
    cr_assert_not_null(err);
    cr_assert_eq(err->code, EM_ERROR_TASK);
    g_autofree char *tmp = g_build_filename(out, "_temporary", "part-0000", NULL);
    cr_assert(strstr(err->message, "saveAsTextFile: cannot write") && strstr(err->message, tmp) &&
                  strstr(err->message, g_strerror(EFBIG)),
              "%s", err->message);
    g_autofree char *names = listing(out);
    cr_assert_not(strstr(names, "_SUCCESS") || strstr(names, "_temporary"), "left: %s", names);
}

Test(rdd_io, a_write_failure_fails_the_job_naming_the_file_and_leaves_no_success)
{
    GString *records = g_string_new(NULL);
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 4000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* incompressible for the gzip case */
        g_string_append_printf(records, "%sr%016" G_GINT64_MODIFIER "x", i ? ", " : "", x);
    }
    g_autoptr(em_rdd) rdd = em_parallelize_text(sc, records->str, 2, NULL);
    g_string_free(records, TRUE);
    cr_assert_not_null(rdd);
    limit_file_size(8192);
    for (int gz = 0; gz < 2; gz++) {
        g_autofree char *out = g_build_filename(dir, gz ? "out-gz" : "out", NULL);
        GError *err = NULL;
        cr_assert_not(
            em_rdd_save_as_text_file(rdd, out, gz ? EM_COMPRESS_GZIP : EM_COMPRESS_NONE, &err));
        assert_failed_write(out, err);
        g_error_free(err);
    }
}

static em_value fail_on_three(em_value v, void *ud)
{
    (void)ud;
    if (em_is_int(v) && em_as_int(v) == 3)
        return em_fail("no threes");
    return v;
}

Test(rdd_io, a_failing_task_leaves_no_success_and_no_temporary_files)
{
    g_autoptr(em_rdd) src = em_parallelize_text(sc, "1, 2, 3, 4", 2, NULL);
    g_autoptr(em_rdd) rdd = em_rdd_map(src, fail_on_three);
    g_autofree char *out = g_build_filename(dir, "out", NULL);
    GError *err = NULL;
    cr_assert_not(em_rdd_save_as_text_file(rdd, out, EM_COMPRESS_NONE, &err));
    cr_assert_eq(err->code, EM_ERROR_TASK);
    cr_assert(strstr(err->message, "partition 1") && strstr(err->message, "fail_on_three") &&
                  strstr(err->message, "no threes"),
              "%s", err->message);
    g_error_free(err);
    g_autofree char *names = listing(out);
    cr_assert_not(strstr(names, "_SUCCESS") || strstr(names, "_temporary") ||
                      strstr(names, "part-00001"),
                  "left: %s", names);
}
