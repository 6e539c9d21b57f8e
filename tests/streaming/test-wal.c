/* The receivers' write-ahead log on real directories: what a killed process appended is
 * replayed, a torn tail is cut, damage elsewhere is an error naming the segment, a checkpoint's
 * position skips and deletes what it covers, and a full disk refuses the append. */
#include <criterion/criterion.h>

#include "wal.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount-fixture.h"

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-wal-XXXXXX", NULL);
    cr_assert(tmp);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
}

TestSuite(wal, .init = setup, .fini = teardown);

static em_wal *open_log(const em_wal_opts *opts)
{
    GError *err = NULL;
    em_wal *wal = em__wal_open(tmp, opts, &err);
    cr_assert_not_null(wal, "%s", err ? err->message : "");
    return wal;
}

static void append(em_wal *wal, const char *text, uint64_t want_seq)
{
    uint64_t seq = 0;
    GError *err = NULL;
    cr_assert(em__wal_append(wal, text, strlen(text), &seq, &err), "%s", err ? err->message : "");
    cr_assert_eq(seq, want_seq);
}

static bool collect(uint64_t seq, const void *data, size_t n, void *ud)
{
    g_string_append_printf(ud, "%" G_GUINT64_FORMAT ":%.*s ", (guint64)seq, (int)n,
                           (const char *)data);
    return true;
}

/* "seq:payload " for every record after `after`. */
static char *replayed(em_wal *wal, uint64_t after)
{
    GString *out = g_string_new(NULL);
    GError *err = NULL;
    cr_assert(em__wal_replay(wal, after, collect, out, &err), "%s", err ? err->message : "");
    return g_string_free(out, FALSE);
}

static char *only_segment(void)
{
    em_wal *wal = open_log(NULL);
    g_autoptr(GPtrArray) segs = em__wal_segments(wal);
    cr_assert_eq(segs->len, 1);
    char *path = g_strdup(g_ptr_array_index(segs, 0));
    em__wal_close(wal);
    return path;
}

Test(wal, what_a_killed_process_appended_is_replayed_in_order)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        em_wal *wal = em__wal_open(tmp, NULL, NULL);
        for (int i = 1; i <= 5; i++) {
            char block[16];
            g_snprintf(block, sizeof block, "block%d", i);
            if (!wal || !em__wal_append(wal, block, strlen(block), NULL, NULL))
                _exit(1);
        }
        raise(SIGKILL); /* no close, no flush: only what append made durable survives */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    em_wal *wal = open_log(NULL);
    cr_assert_eq(em__wal_last_seq(wal), 5);
    g_autofree char *all = replayed(wal, 0);
    cr_assert_str_eq(all, "1:block1 2:block2 3:block3 4:block4 5:block5 ");
    g_autofree char *after3 = replayed(wal, 3);
    cr_assert_str_eq(after3, "4:block4 5:block5 ");
    append(wal, "block6", 6); /* numbering goes on across restarts */
    em__wal_close(wal);
}

static em_wal *open_in(const char *dir)
{
    GError *err = NULL;
    em_wal *wal = em__wal_open(dir, NULL, &err);
    cr_assert_not_null(wal, "%s", err ? err->message : "");
    return wal;
}

static char *replayed_in(const char *dir)
{
    em_wal *wal = open_in(dir);
    char *got = replayed(wal, 0);
    em__wal_close(wal);
    return got;
}

Test(wal, a_torn_tail_is_cut_off_and_the_log_goes_on)
{
    enum { LAST = 5 + 16 };                 /* "three" and the record's length, number and CRC */
    for (int cut = 1; cut <= LAST; cut++) { /* every tear inside the last record */
        g_autofree char *name = g_strdup_printf("cut-%d", cut);
        g_autofree char *dir = g_build_filename(tmp, name, NULL);
        em_wal *wal = open_in(dir);
        append(wal, "one", 1);
        append(wal, "two", 2);
        append(wal, "three", 3);
        g_autoptr(GPtrArray) segs = em__wal_segments(wal);
        em__wal_close(wal);
        const char *seg = g_ptr_array_index(segs, 0);
        struct stat st;
        cr_assert_eq(stat(seg, &st), 0);
        cr_assert_eq(truncate(seg, st.st_size - cut), 0);
        wal = open_in(dir);
        cr_assert_eq(em__wal_last_seq(wal), 2, "torn %d bytes before the end", cut);
        struct stat now;
        cr_assert_eq(stat(seg, &now), 0);
        cr_assert_eq(now.st_size, st.st_size - LAST, "the torn record is cut off");
        append(wal, "three again", 3); /* the torn record was never acknowledged */
        em__wal_close(wal);
        g_autofree char *got = replayed_in(dir);
        cr_assert_str_eq(got, "1:one 2:two 3:three again ");
    }
}

Test(wal, a_flipped_bit_in_the_last_record_is_a_torn_tail)
{
    em_wal *wal = open_log(NULL);
    append(wal, "one", 1);
    append(wal, "two", 2);
    em__wal_close(wal);
    g_autofree char *seg = only_segment();
    char *bytes;
    gsize len;
    cr_assert(g_file_get_contents(seg, &bytes, &len, NULL));
    bytes[len - 6] ^= 0x01; /* a payload byte of "two" */
    cr_assert(g_file_set_contents(seg, bytes, (gssize)len, NULL));
    g_free(bytes);
    wal = open_log(NULL);
    g_autofree char *got = replayed(wal, 0);
    cr_assert_str_eq(got, "1:one ");
    em__wal_close(wal);
}

Test(wal, damage_in_an_older_segment_is_an_error_naming_it)
{
    em_wal *wal = open_log(&(em_wal_opts){.segment_bytes = 16});
    append(wal, "first segment", 1);
    append(wal, "second segment", 2);
    g_autoptr(GPtrArray) segs = em__wal_segments(wal);
    cr_assert_eq(segs->len, 2);
    em__wal_close(wal);
    const char *older = g_ptr_array_index(segs, 0);
    cr_assert_eq(truncate(older, 20), 0);
    GError *err = NULL;
    cr_assert_null(em__wal_open(tmp, NULL, &err));
    cr_assert_eq(err->code, EM_ERROR_CORRUPT);
    g_autofree char *want =
        g_strdup_printf("write-ahead log segment %s is damaged: truncated record at byte 8",
                        older);
    cr_assert_str_eq(err->message, want);
    g_error_free(err);
}

Test(wal, cleaning_deletes_only_segments_a_checkpoint_covers)
{
    em_wal *wal = open_log(&(em_wal_opts){.segment_bytes = 72});
    for (uint64_t i = 1; i <= 6; i++)
        append(wal, "0123456789abcdef", i); /* 8 + 2 * 32 = 72: two records a segment */
    g_autoptr(GPtrArray) before = em__wal_segments(wal);
    cr_assert_eq(before->len, 3);
    GError *err = NULL;
    cr_assert_eq(em__wal_clean(wal, 3, &err), 1, "records 1-2 only are all covered");
    cr_assert_eq(em__wal_clean(wal, 6, &err), 1, "never the segment being written");
    g_autoptr(GPtrArray) after = em__wal_segments(wal);
    cr_assert_eq(after->len, 1);
    cr_assert_str_eq(g_ptr_array_index(after, 0), g_ptr_array_index(before, 2));
    cr_assert_not(g_file_test(g_ptr_array_index(before, 0), G_FILE_TEST_EXISTS));
    g_autofree char *got = replayed(wal, 4);
    cr_assert_str_eq(got, "5:0123456789abcdef 6:0123456789abcdef ");
    em__wal_close(wal);
    wal = open_log(NULL); /* after a restart nothing is being written: all of it goes */
    cr_assert_eq(em__wal_clean(wal, 6, &err), 1);
    append(wal, "next", 7);
    em__wal_close(wal);
}

Test(wal, a_full_disk_refuses_the_append_and_keeps_what_was_stored)
{
    g_autofree char *dir = g_build_filename(tmp, "small", NULL);
    cr_assert(mount_tmpfs(dir, 16 * 1024), "cannot mount a tmpfs: %s", g_strerror(errno));
    GError *err = NULL;
    em_wal *wal = em__wal_open(dir, NULL, &err);
    cr_assert_not_null(wal);
    uint64_t seq;
    cr_assert(em__wal_append(wal, "stored", 6, &seq, &err));
    g_autofree char *big = g_malloc0(64 * 1024);
    cr_assert_not(em__wal_append(wal, big, 64 * 1024, &seq, &err));
    cr_assert_eq(err->code, EM_ERROR_IO);
    cr_assert(strstr(err->message, "cannot append to write-ahead log segment"), "%s",
              err->message);
    cr_assert(strstr(err->message, g_strerror(ENOSPC)), "%s", err->message);
    g_clear_error(&err);
    em__wal_close(wal);
    wal = em__wal_open(dir, NULL, &err);
    cr_assert_not_null(wal, "%s", err ? err->message : "");
    GString *out = g_string_new(NULL);
    cr_assert(em__wal_replay(wal, 0, collect, out, NULL));
    cr_assert_str_eq(out->str, "1:stored ");
    g_string_free(out, TRUE);
    em__wal_close(wal);
    umount2(dir, MNT_DETACH);
}

Test(wal, a_segment_torn_while_it_was_created_is_removed)
{
    em_wal *wal = open_log(NULL);
    append(wal, "kept", 1);
    em__wal_close(wal);
    g_autofree char *torn = g_build_filename(tmp, "log-00000000000000000002", NULL);
    cr_assert(g_file_set_contents(torn, "EMB", 3, NULL)); /* killed inside the header */
    wal = open_log(NULL);
    cr_assert_not(g_file_test(torn, G_FILE_TEST_EXISTS));
    append(wal, "next", 2);
    em__wal_close(wal);
    wal = open_log(NULL);
    g_autofree char *got = replayed(wal, 0);
    cr_assert_str_eq(got, "1:kept 2:next ");
    em__wal_close(wal);
}

Test(wal, an_empty_segment_a_crash_left_is_written_again_and_never_cleaned_under_the_writer)
{
    em_wal *wal = open_log(NULL);
    append(wal, "kept", 1);
    em__wal_close(wal);
    /* Killed after creating its segment (header synced) and before its first record. */
    g_autofree char *empty = g_build_filename(tmp, "log-00000000000000000002", NULL);
    cr_assert(g_file_set_contents(empty, "EMBRWAL1", 8, NULL));
    wal = open_log(NULL);
    append(wal, "next", 2); /* goes to log-...2 again */
    GError *err = NULL;
    cr_assert_eq(em__wal_clean(wal, 1, &err), 1, "log-...1 only");
    g_autoptr(GPtrArray) left = em__wal_segments(wal);
    cr_assert_eq(left->len, 1);
    cr_assert_str_eq(g_ptr_array_index(left, 0), empty);
    cr_assert(g_file_test(empty, G_FILE_TEST_EXISTS), "the segment being written is kept");
    append(wal, "last", 3);
    em__wal_close(wal);
    wal = open_log(NULL);
    g_autofree char *got = replayed(wal, 0);
    cr_assert_str_eq(got, "2:next 3:last ");
    em__wal_close(wal);
}
