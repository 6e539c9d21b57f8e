/* Checkpoint files in real directories: the round trip, the atomic write keeping the last K,
 * and every way a file can be bad (cut short, a bit flipped, another program's) or a write can
 * fail (a full disk, a read-only directory): a clear error, and the previous checkpoint left
 * intact and still read. Then what the records hold: state rows, window partials, positions
 * and the clock. */
#include <criterion/criterion.h>

#include "checkpoint-file.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mount-fixture.h"

#define PROGRAM "WordCount"
#define FP UINT64_C(0x1234abcd5678ef00)

static char *tmp;
static em_arena *arena;
static GString *warnings;

static GLogWriterOutput keep_warnings(GLogLevelFlags level, const GLogField *fields, gsize n,
                                      gpointer ud)
{
    if (!(level & G_LOG_LEVEL_WARNING))
        return g_log_writer_default(level, fields, n, ud);
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_string_append_printf(warnings, "%s\n", (const char *)fields[i].value);
    return G_LOG_WRITER_HANDLED;
}

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-ckpt-XXXXXX", NULL);
    cr_assert(tmp);
    arena = em_arena_new();
    warnings = g_string_new(NULL);
    g_log_set_writer_func(keep_warnings, NULL, NULL);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    umount2(tmp, MNT_DETACH); /* a test's tmpfs, if it mounted one outside a namespace */
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
    em_arena_free(arena);
    g_string_free(warnings, TRUE);
}

TestSuite(checkpoint_file, .init = setup, .fini = teardown);

/* ---- Helpers ---- */

/* A checkpoint at time t whose records say which one it is. */
static em_ckpt *sample(em_time t)
{
    em_ckpt *ck = em__ckpt_new(PROGRAM, FP, t);
    g_autofree char *text = g_strdup_printf("state at %" G_GINT64_FORMAT, t);
    em__ckpt_put(ck, "state/counts", text, strlen(text));
    em__ckpt_put(ck, "empty", "", 0);
    return ck;
}

static char *write_sample(const char *dir, em_time t)
{
    g_autoptr(em_ckpt) ck = sample(t);
    em_ckpt_write_info info;
    GError *err = NULL;
    cr_assert(em__ckpt_write(ck, dir, 0, &info, &err), "%s", err ? err->message : "");
    return info.path;
}

static char *record_text(const em_ckpt *ck, const char *name)
{
    GBytes *b = em__ckpt_get(ck, name);
    cr_assert_not_null(b, "no record %s", name);
    size_t n;
    const char *p = g_bytes_get_data(b, &n);
    return g_strndup(p, n);
}

static GByteArray *read_bytes(const char *path)
{
    char *contents;
    gsize len;
    cr_assert(g_file_get_contents(path, &contents, &len, NULL));
    return g_byte_array_new_take((guint8 *)contents, len);
}

static void write_bytes(const char *path, const guint8 *p, size_t n)
{
    cr_assert(g_file_set_contents(path, (const char *)p, (gssize)n, NULL));
}

static em_ckpt *read_latest(const char *dir, GError **skipped, GError **err)
{
    return em__ckpt_read_latest(dir, PROGRAM, FP, skipped, err);
}

static void assert_latest_is(const char *dir, em_time t)
{
    GError *err = NULL;
    g_autoptr(em_ckpt) ck = read_latest(dir, NULL, &err);
    cr_assert_not_null(ck, "%s", err ? err->message : "no checkpoint");
    cr_assert_eq(em__ckpt_time(ck), t);
    g_autofree char *text = record_text(ck, "state/counts");
    g_autofree char *want = g_strdup_printf("state at %" G_GINT64_FORMAT, t);
    cr_assert_str_eq(text, want);
}

/* ---- The round trip and the directory ---- */

Test(checkpoint_file, round_trips_the_header_and_every_record)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new(PROGRAM, FP, 3000);
    GByteArray *big = g_byte_array_new(); /* a record larger than a compression window */
    for (int i = 0; i < 50000; i++)
        g_byte_array_append(big, (const guint8 *)(i % 7 ? "word " : "other "), i % 7 ? 5 : 6);
    em__ckpt_put(ck, "big", big->data, big->len);
    em__ckpt_put(ck, "small", "abc", 3);
    em__ckpt_put(ck, "small", "replaced", 8);
    em_ckpt_write_info info;
    GError *err = NULL;
    cr_assert(em__ckpt_write(ck, tmp, 0, &info, &err), "%s", err ? err->message : "");
    g_autofree char *want_path = g_build_filename(tmp, "checkpoint-3000", NULL);
    cr_assert_str_eq(info.path, want_path);
    cr_assert_lt(info.bytes, big->len / 10, "deflate shrinks the repetitive record");
    g_autoptr(em_ckpt) back = em__ckpt_read_file(info.path, &err);
    cr_assert_not_null(back, "%s", err ? err->message : "");
    cr_assert_eq(em__ckpt_time(back), 3000);
    cr_assert_str_eq(em__ckpt_program(back), PROGRAM);
    cr_assert_eq(em__ckpt_fingerprint(back), FP);
    cr_assert_str_eq(em__ckpt_path(back), want_path);
    const GPtrArray *names = em__ckpt_names(back);
    cr_assert_eq(names->len, 2);
    cr_assert_str_eq(g_ptr_array_index(names, 0), "big");
    cr_assert_str_eq(g_ptr_array_index(names, 1), "small");
    cr_assert(
        g_bytes_compare(em__ckpt_get(back, "big"), g_bytes_new_static(big->data, big->len)) == 0);
    g_autofree char *small = record_text(back, "small");
    cr_assert_str_eq(small, "replaced");
    g_free(info.path);
    g_byte_array_unref(big);
}

Test(checkpoint_file, keeps_the_newest_ten_and_leaves_no_temporary_file)
{
    for (em_time t = 1000; t <= 12000; t += 1000)
        g_free(write_sample(tmp, t));
    g_autoptr(GPtrArray) paths = em__ckpt_list(tmp, NULL);
    cr_assert_eq(paths->len, 10, "12 written, the 2 oldest deleted");
    g_autofree char *newest = g_build_filename(tmp, "checkpoint-12000", NULL);
    g_autofree char *oldest = g_build_filename(tmp, "checkpoint-3000", NULL);
    cr_assert_str_eq(g_ptr_array_index(paths, 0), newest);
    cr_assert_str_eq(g_ptr_array_index(paths, 9), oldest);
    g_autoptr(GDir) dir = g_dir_open(tmp, 0, NULL);
    const char *name;
    int files = 0;
    while ((name = g_dir_read_name(dir))) {
        files++;
        cr_assert(g_str_has_prefix(name, "checkpoint-"), "stray file %s", name);
    }
    cr_assert_eq(files, 10);
    assert_latest_is(tmp, 12000);
}

Test(checkpoint_file, keeps_as_many_as_asked)
{
    for (em_time t = 1000; t <= 5000; t += 1000) {
        g_autoptr(em_ckpt) ck = sample(t);
        em_ckpt_write_info info;
        cr_assert(em__ckpt_write(ck, tmp, 2, &info, NULL));
        cr_assert_eq(info.removed, t >= 3000 ? 1 : 0);
        g_free(info.path);
    }
    g_autoptr(GPtrArray) paths = em__ckpt_list(tmp, NULL);
    cr_assert_eq(paths->len, 2);
}

Test(checkpoint_file, files_a_checkpoint_builds_on_outlive_the_newest_kept)
{
    for (em_time t = 1000; t <= 5000; t += 1000) {
        g_autoptr(em_ckpt) ck = sample(t);
        em__ckpt_keep_from(ck, 4000);
        em__ckpt_keep_from(ck, 2000); /* the smallest wins */
        em_ckpt_write_info info;
        cr_assert(em__ckpt_write(ck, tmp, 2, &info, NULL));
        cr_assert_eq(info.removed, t == 3000 ? 1 : 0, "only checkpoint-1000 goes");
        g_free(info.path);
    }
    g_autoptr(GPtrArray) paths = em__ckpt_list(tmp, NULL);
    cr_assert_eq(paths->len, 4);
    g_autofree char *oldest = g_build_filename(tmp, "checkpoint-2000", NULL);
    cr_assert_str_eq(g_ptr_array_index(paths, 3), oldest);
}

Test(checkpoint_file, an_empty_or_missing_directory_holds_no_checkpoint)
{
    GError *err = NULL;
    g_autofree char *missing = g_build_filename(tmp, "nothing-here", NULL);
    cr_assert_null(read_latest(missing, NULL, &err));
    cr_assert_null(err);
    cr_assert_null(read_latest(tmp, NULL, &err));
    cr_assert_null(err);
}

/* ---- Bad files ---- */

Test(checkpoint_file, every_truncation_is_caught_and_the_previous_checkpoint_read)
{
    g_free(write_sample(tmp, 1000));
    g_autofree char *newest = write_sample(tmp, 2000);
    GByteArray *whole = read_bytes(newest);
    for (guint len = 0; len < whole->len; len++) {
        write_bytes(newest, whole->data, len);
        GError *err = NULL;
        cr_assert_null(em__ckpt_read_file(newest, &err), "cut at %u bytes of %u", len, whole->len);
        cr_assert_eq(err->code, EM_ERROR_CORRUPT);
        cr_assert(strstr(err->message, newest), "%s", err->message);
        g_error_free(err);
    }
    write_bytes(newest, whole->data, whole->len / 2);
    GError *skipped = NULL, *err = NULL;
    g_autoptr(em_ckpt) ck = read_latest(tmp, &skipped, &err);
    cr_assert_not_null(ck, "%s", err ? err->message : "");
    cr_assert_eq(em__ckpt_time(ck), 1000);
    cr_assert_not_null(skipped);
    cr_assert(strstr(skipped->message, newest), "%s", skipped->message);
    cr_assert(strstr(skipped->message, "truncated"), "%s", skipped->message);
    g_autofree char *warned = g_strdup_printf("skipping checkpoint %s", newest);
    cr_assert(strstr(warnings->str, warned), "warnings: %s", warnings->str);
    g_error_free(skipped);
    g_byte_array_unref(whole);
}

Test(checkpoint_file, every_flipped_bit_is_caught)
{
    g_autofree char *path = write_sample(tmp, 1000);
    GByteArray *whole = read_bytes(path);
    for (guint at = 0; at < whole->len; at++) {
        for (int bit = 0; bit < 8; bit++) {
            whole->data[at] ^= (guint8)(1u << bit);
            write_bytes(path, whole->data, whole->len);
            whole->data[at] ^= (guint8)(1u << bit);
            GError *err = NULL;
            em_ckpt *ck = em__ckpt_read_file(path, &err);
            cr_assert_null(ck, "bit %d of byte %u flipped went unnoticed", bit, at);
            cr_assert_eq(err->code, EM_ERROR_CORRUPT, "%s", err->message);
            g_error_free(err);
        }
    }
    g_byte_array_unref(whole);
}

Test(checkpoint_file, a_flipped_bit_in_the_newest_falls_back_and_names_the_record)
{
    g_free(write_sample(tmp, 1000));
    g_autofree char *newest = write_sample(tmp, 2000);
    GByteArray *whole = read_bytes(newest);
    whole->data[whole->len - 20] ^= 0x10; /* inside the last record, "empty" */
    write_bytes(newest, whole->data, whole->len);
    GError *skipped = NULL;
    g_autoptr(em_ckpt) ck = read_latest(tmp, &skipped, NULL);
    cr_assert_not_null(ck);
    cr_assert_eq(em__ckpt_time(ck), 1000);
    cr_assert(strstr(skipped->message, "CRC32 mismatch in record 1 (\"empty\")"), "%s",
              skipped->message);
    g_error_free(skipped);
    g_byte_array_unref(whole);
}

Test(checkpoint_file, all_corrupt_is_an_error_naming_the_newest)
{
    g_autofree char *a = write_sample(tmp, 1000);
    g_autofree char *b = write_sample(tmp, 2000);
    write_bytes(a, (const guint8 *)"garbage", 7);
    write_bytes(b, (const guint8 *)"EMBRCKPT", 8);
    GError *err = NULL;
    cr_assert_null(read_latest(tmp, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_CORRUPT);
    cr_assert(strstr(err->message, "all 2 are corrupt"), "%s", err->message);
    cr_assert(strstr(err->message, b), "%s", err->message);
    g_error_free(err);
}

Test(checkpoint_file, another_programs_checkpoint_is_refused_naming_both)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new("OtherApp", 42, 1000);
    cr_assert(em__ckpt_write(ck, tmp, 0, NULL, NULL));
    GError *err = NULL;
    cr_assert_null(read_latest(tmp, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_INVALID);
    g_autofree char *path = g_build_filename(tmp, "checkpoint-1000", NULL);
    cr_assert(strstr(err->message, path), "%s", err->message);
    cr_assert(strstr(err->message, "\"OtherApp\""), "%s", err->message);
    cr_assert(strstr(err->message, "\"" PROGRAM "\""), "%s", err->message);
    g_error_free(err);
}

Test(checkpoint_file, a_file_of_a_newer_format_is_refused_naming_the_version)
{
    g_autofree char *path = write_sample(tmp, 1000);
    GByteArray *whole = read_bytes(path);
    whole->data[8] = 2; /* the version field follows the 8-byte magic */
    write_bytes(path, whole->data, whole->len);
    GError *err = NULL;
    cr_assert_null(em__ckpt_read_file(path, &err));
    cr_assert(strstr(err->message, "format version 2, this Ember reads version 1"), "%s",
              err->message);
    g_error_free(err);
    g_byte_array_unref(whole);
}

/* ---- Failing writes ---- */

/* Fills a checkpoint with n incompressible bytes. */
static em_ckpt *incompressible(em_time t, size_t n)
{
    em_ckpt *ck = em__ckpt_new(PROGRAM, FP, t);
    GRand *rand = g_rand_new_with_seed(7);
    guint8 *bytes = g_malloc(n);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (guint8)g_rand_int(rand);
    em__ckpt_put_bytes(ck, "state/counts", g_bytes_new_take(bytes, n));
    g_rand_free(rand);
    return ck;
}

Test(checkpoint_file, a_full_disk_fails_the_write_and_leaves_the_previous_intact)
{
    g_autofree char *dir = g_build_filename(tmp, "small", NULL);
    bool tmpfs = mount_tmpfs(dir, 64 * 1024);
    if (!tmpfs) {
        /* Without mount rights, a file size limit fails the write the same way (EFBIG). */
        cr_log_warn("cannot mount a tmpfs (%s): limiting the file size instead",
                    g_strerror(errno));
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &(struct rlimit){64 * 1024, 64 * 1024});
    }
    g_free(write_sample(dir, 1000));
    g_autoptr(em_ckpt) big = incompressible(2000, 128 * 1024);
    GError *err = NULL;
    cr_assert_not(em__ckpt_write(big, dir, 0, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_IO);
    g_autofree char *tmp_path = g_build_filename(dir, ".checkpoint-2000.tmp", NULL);
    g_autofree char *want = g_strdup_printf("cannot write checkpoint %s: %s", tmp_path,
                                            g_strerror(tmpfs ? ENOSPC : EFBIG));
    cr_assert_str_eq(err->message, want);
    g_error_free(err);
    cr_assert_not(g_file_test(tmp_path, G_FILE_TEST_EXISTS), "the temporary file is removed");
    assert_latest_is(dir, 1000);
    g_free(write_sample(dir, 3000)); /* the space came back: writing goes on */
    assert_latest_is(dir, 3000);
}

Test(checkpoint_file, a_read_only_directory_fails_the_write_and_keeps_the_previous)
{
    g_autofree char *dir = g_build_filename(tmp, "ro", NULL);
    bool tmpfs = mount_tmpfs(dir, 1024 * 1024);
    cr_assert(tmpfs || geteuid() != 0,
              "cannot mount a tmpfs (%s) and root ignores directory permissions",
              g_strerror(errno));
    g_free(write_sample(dir, 1000));
    cr_assert(tmpfs ? remount_read_only(dir) : chmod(dir, 0555) == 0, "%s", g_strerror(errno));
    g_autoptr(em_ckpt) ck = sample(2000);
    GError *err = NULL;
    cr_assert_not(em__ckpt_write(ck, dir, 0, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_IO);
    g_autofree char *tmp_path = g_build_filename(dir, ".checkpoint-2000.tmp", NULL);
    g_autofree char *want = g_strdup_printf("cannot create checkpoint %s: %s", tmp_path,
                                            g_strerror(tmpfs ? EROFS : EACCES));
    cr_assert_str_eq(err->message, want);
    g_error_free(err);
    assert_latest_is(dir, 1000);
    if (!tmpfs)
        chmod(dir, 0755);
}

/* ---- What the records hold ---- */

static void assert_value_text(em_value v, const char *want)
{
    g_autofree char *text = em_value_to_string(v);
    cr_assert_str_eq(text, want);
}

Test(checkpoint_file, state_rows_keep_keys_states_and_last_updates)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new(PROGRAM, FP, 5000);
    em_ckpt_state_row rows[] = {
        {em_str("apple"), em_int(4), 3000},
        {em_pair(em_str("k"), em_int(-1)),
         em_list((em_value[]){em_double(0.5), em_str("x")}, 2, EM_BUFFER), 5000},
        {em_int(7), em_some(em_null()), 0},
    };
    em__ckpt_put_state(ck, "state/counts", rows, 3);
    cr_assert(em__ckpt_write(ck, tmp, 0, NULL, NULL));
    g_autoptr(em_ckpt) back = read_latest(tmp, NULL, NULL);
    GArray *got = NULL;
    GError *err = NULL;
    cr_assert(em__ckpt_get_state(back, "state/counts", arena, &got, &err), "%s",
              err ? err->message : "");
    cr_assert_eq(got->len, 3);
    em_ckpt_state_row *r = (em_ckpt_state_row *)got->data;
    assert_value_text(r[0].key, "apple");
    assert_value_text(r[0].state, "4");
    cr_assert_eq(r[0].updated, 3000);
    assert_value_text(r[1].key, "(k,-1)");
    assert_value_text(r[1].state, "CompactBuffer(0.5, x)");
    cr_assert_eq(r[1].updated, 5000);
    assert_value_text(r[2].key, "7");
    assert_value_text(r[2].state, "Some(null)");
    cr_assert_eq(r[2].updated, 0);
    g_array_unref(got);
}

Test(checkpoint_file, window_partials_keep_each_batch_in_order)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new(PROGRAM, FP, 4000);
    em_value b1[] = {em_pair(em_str("a"), em_int(1)), em_pair(em_str("b"), em_int(2))};
    em_ckpt_partial parts[] = {{3000, b1, 2}, {4000, NULL, 0}};
    em__ckpt_put_partials(ck, "window/w", parts, 2);
    GArray *got = NULL;
    cr_assert(em__ckpt_get_partials(ck, "window/w", arena, &got, NULL));
    cr_assert_eq(got->len, 2);
    em_ckpt_partial *p = (em_ckpt_partial *)got->data;
    cr_assert_eq(p[0].time, 3000);
    cr_assert_eq(p[0].n, 2);
    assert_value_text(p[0].records[1], "(b,2)");
    cr_assert_eq(p[1].time, 4000);
    cr_assert_eq(p[1].n, 0);
    g_array_unref(got);
}

Test(checkpoint_file, the_clock_and_positions_round_trip)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new(PROGRAM, FP, 4000);
    em_time pending[] = {5000, 6000};
    em__ckpt_put_clock(ck, &(em_ckpt_clock){.batch_interval = 1000,
                                            .zero_time = 0,
                                            .last_completed = 4000,
                                            .pending = pending,
                                            .n_pending = 2});
    em__ckpt_put_position(ck, "textFileStream-0", "\x01\x02", 2);
    em_ckpt_clock clock;
    cr_assert(em__ckpt_get_clock(ck, &clock, NULL));
    cr_assert_eq(clock.batch_interval, 1000);
    cr_assert_eq(clock.last_completed, 4000);
    cr_assert_eq(clock.n_pending, 2);
    cr_assert_eq(clock.pending[1], 6000);
    g_free(clock.pending);
    GBytes *pos = em__ckpt_get_position(ck, "textFileStream-0");
    cr_assert_eq(g_bytes_get_size(pos), 2);
    cr_assert_null(em__ckpt_get_position(ck, "socket-1"));
}

Test(checkpoint_file, a_missing_or_malformed_record_is_an_error_naming_it)
{
    g_autoptr(em_ckpt) ck = em__ckpt_new(PROGRAM, FP, 4000);
    GArray *rows = NULL;
    GError *err = NULL;
    cr_assert_not(em__ckpt_get_state(ck, "state/gone", arena, &rows, &err));
    cr_assert_str_eq(err->message, "checkpoint (in memory) holds no record \"state/gone\"");
    g_clear_error(&err);
    em__ckpt_put(ck, "state/bad", "\x02\x02\x06", 3); /* version 1, then 1 row, truncated */
    cr_assert_not(em__ckpt_get_state(ck, "state/bad", arena, &rows, &err));
    cr_assert(g_str_has_prefix(err->message, "checkpoint record \"state/bad\": "), "%s",
              err->message);
    g_clear_error(&err);
    em__ckpt_put_values(ck, "clock", (em_value[]){em_int(1)}, 1);
    em_ckpt_clock clock;
    cr_assert_not(em__ckpt_get_clock(ck, &clock, &err));
    cr_assert(strstr(err->message, "\"clock\""), "%s", err->message);
    g_clear_error(&err);
}

/* ---- Matching a rebuilt graph ---- */

static const em_ckpt_op saved_ops[] = {
    {"textFileStream", "textFileStream-0", 1000, 0},
    {"updateStateByKey", "running_sum", 1000, 0},
    {"reduceByKeyAndWindow", "sum", 2000, 6000},
};

static em_ckpt *with_graph(void)
{
    em_ckpt *ck = em__ckpt_new(PROGRAM, FP, 5000);
    em__ckpt_put_graph(ck, 1000, saved_ops, 3);
    return ck;
}

Test(checkpoint_file, the_same_graph_in_another_order_matches)
{
    g_autoptr(em_ckpt) ck = with_graph();
    em_ckpt_op now[] = {saved_ops[2], saved_ops[0], saved_ops[1]};
    GError *err = NULL;
    cr_assert(em__ckpt_match_graph(ck, 1000, now, 3, false, NULL, &err), "%s",
              err ? err->message : "");
}

Test(checkpoint_file, a_new_stateful_operator_starts_empty_and_matches)
{
    g_autoptr(em_ckpt) ck = with_graph();
    em_ckpt_op now[] = {saved_ops[0],
                        saved_ops[1],
                        saved_ops[2],
                        {"mapWithState", "track", 1000, 0}};
    cr_assert(em__ckpt_match_graph(ck, 1000, now, 4, false, NULL, NULL));
}

Test(checkpoint_file, a_renamed_stateful_operator_is_an_error_naming_it)
{
    g_autoptr(em_ckpt) ck = with_graph();
    em_ckpt_op now[] = {saved_ops[0],
                        {"updateStateByKey", "running_total", 1000, 0},
                        saved_ops[2]};
    GError *err = NULL;
    cr_assert_not(em__ckpt_match_graph(ck, 1000, now, 3, false, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_INVALID);
    cr_assert_str_eq(err->message,
                     "checkpoint (in memory) holds the state of updateStateByKey \"running_sum\", "
                     "which the program does not define (renamed or removed?): give the "
                     "operator its old name back, or ask recovery to drop unmatched state");
    g_error_free(err);
}

Test(checkpoint_file, dropping_unmatched_state_is_allowed_when_asked)
{
    g_autoptr(em_ckpt) ck = with_graph();
    em_ckpt_op now[] = {saved_ops[0], saved_ops[2]};
    GPtrArray *dropped = NULL;
    GError *err = NULL;
    cr_assert(em__ckpt_match_graph(ck, 1000, now, 2, true, &dropped, &err), "%s",
              err ? err->message : "");
    cr_assert_eq(dropped->len, 1);
    cr_assert_str_eq(g_ptr_array_index(dropped, 0), "running_sum");
    g_ptr_array_unref(dropped);
}

Test(checkpoint_file, a_changed_window_or_batch_interval_is_an_error_naming_both)
{
    g_autoptr(em_ckpt) ck = with_graph();
    em_ckpt_op now[] = {saved_ops[0], saved_ops[1], {"reduceByKeyAndWindow", "sum", 2000, 8000}};
    GError *err = NULL;
    cr_assert_not(em__ckpt_match_graph(ck, 1000, now, 3, true, NULL, &err));
    cr_assert(strstr(err->message, "\"sum\" is reduceByKeyAndWindow (window 8000 ms, slide 2000 "
                                   "ms) in the program but reduceByKeyAndWindow (window 6000 ms, "
                                   "slide 2000 ms) in checkpoint"),
              "%s", err->message);
    g_clear_error(&err);
    cr_assert_not(em__ckpt_match_graph(ck, 500, saved_ops, 3, false, NULL, &err));
    cr_assert(strstr(err->message, "taken with 1000 ms batches, the program uses 500 ms"), "%s",
              err->message);
    g_clear_error(&err);
}
