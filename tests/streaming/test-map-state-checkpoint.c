/* mapWithState's incremental checkpoints: between full copies a checkpoint holds only the keys
 * changed since the stream's previous one, and recovery walks back to the full copy. The
 * property: for random updates, removals and idle timeouts, a run stopped after any batch and
 * recovered from its checkpoints gives exactly the state (and the mapped records) of a run
 * never stopped, which is what a full copy at every checkpoint gives. */
#include <criterion/criterion.h>

#include "checkpoint-file.h"
#include "streaming-private.h"

#include <ember/testing.h>

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-mscp-XXXXXX", NULL);
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

TestSuite(map_state_checkpoint, .init = setup, .fini = teardown);

/* A record (key, action): 0 removes the key's state, 1-7 adds the action to it, 8 only reads
 * it (under a timeout that still resets the key's idle time). A timing-out key emits
 * (key, -state). */
static em_value apply_action(em_time t, em_value key, em_value value, em_state *state, void *ud)
{
    (void)t, (void)ud;
    int64_t now = em_state_exists(state) ? em_as_int(em_state_get(state)) : 0;
    if (em_state_is_timing_out(state))
        return em_pair(key, em_int(-now));
    int64_t action = em_as_int(value);
    if (action == 0 && em_state_exists(state))
        em_state_remove(state);
    else if (action >= 1 && action <= 7)
        em_state_update(state, em_int(now + action));
    return em_pair(key, em_int(action));
}

/* The mapped records and every batch's full state, in one stream. */
static em_dstream *op_state(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *mapped = em_map_with_state(in[0], &(em_state_spec){.fn = apply_action,
                                                                   .name = "apply_action",
                                                                   .num_partitions = 3,
                                                                   .timeout = EM_SECONDS(6)});
    em_dstream_checkpoint(mapped, EM_SECONDS(1)); /* every batch */
    em_dstream *snapshots = em_map(em_state_snapshots(mapped), em_identity);
    return em_union(mapped, snapshots);
}

enum { BATCHES = 24, KEYS = 100 };

typedef struct {
    em_arena *arena;
    em_value *records[BATCHES];
    em_test_batch batches[BATCHES];
} random_input;

static void make_input(random_input *in, guint32 seed)
{
    GRand *rand = g_rand_new_with_seed(seed);
    in->arena = em_arena_new();
    for (int b = 0; b < BATCHES; b++) {
        int n = g_rand_int_range(rand, 0, 12); /* some batches touch nothing */
        in->records[b] = g_new(em_value, n ? n : 1);
        for (int i = 0; i < n; i++) {
            char *name = g_strdup_printf("k%d", g_rand_int_range(rand, 0, KEYS));
            em_value key = em_strn(em_arena_memdup(in->arena, name, strlen(name)), strlen(name));
            g_free(name);
            in->records[b][i] = em_pair_in(in->arena, key, em_int(g_rand_int_range(rand, 0, 9)));
        }
        in->batches[b] = (em_test_batch){.values = in->records[b], .n = (size_t)n};
    }
    g_rand_free(rand);
}

static void free_input(random_input *in)
{
    for (int b = 0; b < BATCHES; b++)
        g_free(in->records[b]);
    em_arena_free(in->arena);
}

/* Which of the run's checkpoints hold a full copy ("F") and which only changes ("d"). */
static char *kinds(const char *dir, int from, int to)
{
    GString *s = g_string_new(NULL);
    for (int k = from; k <= to; k++) {
        g_autofree char *path = g_strdup_printf("%s/checkpoint-%d", dir, k * 1000);
        GError *err = NULL;
        em_ckpt *ck = em__ckpt_read_file(path, &err);
        cr_assert_not_null(ck, "%s", err ? err->message : "");
        bool full = em__ckpt_get(ck, "state/apply_action") != NULL;
        bool delta = em__ckpt_get(ck, "state-delta/apply_action") != NULL;
        cr_assert(full != delta, "checkpoint-%d holds one form of the state", k * 1000);
        g_string_append_c(s, full ? 'F' : 'd');
        em__ckpt_free(ck);
    }
    return g_string_free(s, FALSE);
}

Test(map_state_checkpoint, recovery_from_any_checkpoint_gives_the_uninterrupted_state)
{
    for (guint32 seed = 1; seed <= 3; seed++) {
        random_input in;
        make_input(&in, seed);
        em_test_input input = {in.batches, BATCHES};
        GError *err = NULL;
        em_test_output *whole = em_test_run(&input, 1, op_state, NULL, NULL, &err);
        cr_assert_not_null(whole, "%s", err ? err->message : "");
        g_autofree char *want = em_test_output_format(whole, true);
        em_test_output_free(whole);
        for (size_t stop = 1; stop < BATCHES; stop++) {
            g_autofree char *dir = g_strdup_printf("%s/seed%u-stop%zu", tmp, seed, stop);
            em_test_output *out =
                em_test_run_checkpointed(&input, 1, op_state, NULL,
                                         &(em_test_opts){.checkpoint_dir = dir}, stop, &err);
            cr_assert_not_null(out, "seed %u, stopped after %zu: %s", seed, stop,
                               err ? err->message : "");
            g_autofree char *got = em_test_output_format(out, true);
            cr_assert_str_eq(got, want, "seed %u, stopped after %zu", seed, stop);
            em_test_output_free(out);
        }
        /* The chains recovered from above hold changes, not only full copies. */
        g_autofree char *dir = g_strdup_printf("%s/seed%u-all", tmp, seed);
        em_test_output *all =
            em_test_run(&input, 1, op_state, NULL, &(em_test_opts){.checkpoint_dir = dir}, &err);
        cr_assert_not_null(all);
        em_test_output_free(all);
        g_autofree char *kept = kinds(dir, BATCHES - 9, BATCHES);
        cr_assert(strchr(kept, 'd'), "seed %u: %s", seed, kept);
        cr_log_info("seed %u, checkpoints %d-%d: %s", seed, BATCHES - 9, BATCHES, kept);
        free_input(&in);
    }
}

/* No timeout: only the keys a batch names change. */
static em_dstream *op_no_timeout(em_dstream *const *in, void *ud)
{
    (void)ud;
    em_dstream *mapped = em_map_with_state(in[0], &(em_state_spec){.fn = apply_action,
                                                                   .name = "apply_action",
                                                                   .num_partitions = 3});
    em_dstream_checkpoint(mapped, EM_SECONDS(1));
    return mapped;
}

Test(map_state_checkpoint, the_first_checkpoint_is_a_full_copy_then_changes_and_the_chain_is_kept)
{
    /* Batch 1 sets 20 keys; each later batch changes one and removes another. */
    em_arena *arena = em_arena_new();
    em_value first[20], later[12][2];
    em_test_batch batches[12];
    for (int k = 0; k < 20; k++) {
        char *name = g_strdup_printf("k%d", k);
        first[k] =
            em_pair_in(arena, em_strn(em_arena_memdup(arena, name, strlen(name)), strlen(name)),
                       em_int(1));
        g_free(name);
    }
    batches[0] = (em_test_batch){.values = first, .n = 20};
    for (int b = 1; b < 12; b++) {
        later[b][0] = em_pair_in(arena, em_key(first[b]), em_int(2));
        later[b][1] = em_pair_in(arena, em_key(first[(8 + b) % 20]), em_int(0));
        batches[b] = (em_test_batch){.values = later[b], .n = 2};
    }
    em_test_input input = {batches, 12};
    GError *err = NULL;
    em_test_output *out =
        em_test_run(&input, 1, op_no_timeout, NULL, &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    em_test_output_free(out);
    /* The first is full, then only changes: every file since the full one is kept for the
     * chain, beyond the 10 the directory keeps. */
    g_autofree char *got = kinds(tmp, 1, 12);
    cr_assert_str_eq(got, "Fddddddddddd");
    g_autoptr(GPtrArray) files = em__ckpt_list(tmp, NULL);
    cr_assert_eq(files->len, 12);
    /* Batch 12's changes: k11 set again (k19 removed goes to state-removed). */
    g_autofree char *path = g_strdup_printf("%s/checkpoint-12000", tmp);
    em_ckpt *ck = em__ckpt_read_file(path, &err);
    cr_assert_not_null(ck);
    GArray *rows = NULL;
    cr_assert(em__ckpt_get_state(ck, "state-delta/apply_action", arena, &rows, &err));
    cr_assert_eq(rows->len, 1);
    g_autofree char *row = em_value_to_string(g_array_index(rows, em_ckpt_state_row, 0).key);
    cr_assert_str_eq(row, "k11");
    g_array_unref(rows);
    em__ckpt_free(ck);
    em_arena_free(arena);
}

/* ---- A lost or corrupt full copy: recovery falls back to the older chain ---- */

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

/* Chains of *ud files (4 when ud is NULL: a full copy, then 3 of changes), the state of every
 * batch in the output. */
static em_dstream *op_short_chains(em_dstream *const *in, void *ud)
{
    em_dstream *mapped = em_map_with_state(in[0], &(em_state_spec){.fn = apply_action,
                                                                   .name = "apply_action",
                                                                   .num_partitions = 3});
    em__map_with_state_full_every(mapped, ud ? *(int *)ud : 4);
    em_dstream_checkpoint(mapped, EM_SECONDS(1));
    em_dstream *snapshots = em_map(em_state_snapshots(mapped), em_identity);
    return em_union(mapped, snapshots);
}

enum { LONG_BATCHES = 28 };

/* Batch 1 sets 20 keys; each later batch sets one and removes another. */
static void short_chain_input(em_arena *arena, em_value *first, em_value (*later)[2],
                              em_test_batch *batches)
{
    for (int k = 0; k < 20; k++) {
        char *name = g_strdup_printf("k%d", k);
        first[k] =
            em_pair_in(arena, em_strn(em_arena_memdup(arena, name, strlen(name)), strlen(name)),
                       em_int(k % 7 + 1));
        g_free(name);
    }
    batches[0] = (em_test_batch){.values = first, .n = 20};
    for (int b = 1; b < LONG_BATCHES; b++) {
        later[b][0] = em_pair_in(arena, em_key(first[b % 20]), em_int(b % 7 + 1));
        later[b][1] = em_pair_in(arena, em_key(first[(8 + b) % 20]), em_int(0));
        batches[b] = (em_test_batch){.values = later[b], .n = 2};
    }
}

static char **output_lines(const em_test_output *out)
{
    g_autofree char *text = em_test_output_format(out, true);
    return g_strsplit(text, "\n", -1);
}

static void lose_the_newest_full_copy(bool delete_it)
{
    em_arena *arena = em_arena_new();
    em_value first[20], later[LONG_BATCHES][2];
    em_test_batch batches[LONG_BATCHES];
    short_chain_input(arena, first, later, batches);
    em_test_input input = {batches, 16};
    GError *err = NULL;
    em_test_output *whole = em_test_run(&input, 1, op_short_chains, NULL, NULL, &err);
    cr_assert_not_null(whole, "%s", err ? err->message : "");
    g_auto(GStrv) want = output_lines(whole);
    em_test_output_free(whole);

    /* 12 batches: full copies at 1, 5 and 9; the chain of 5 is kept whole beside 9's. */
    em_test_output *before =
        em_test_run(&input, 1, op_short_chains, NULL,
                    &(em_test_opts){.checkpoint_dir = tmp, .num_batches = 12}, &err);
    cr_assert_not_null(before, "%s", err ? err->message : "");
    em_test_output_free(before);
    g_autofree char *got_kinds = kinds(tmp, 5, 12);
    cr_assert_str_eq(got_kinds, "FdddFddd");
    g_autoptr(GPtrArray) files = em__ckpt_list(tmp, NULL);
    cr_assert_eq(files->len, 10, "checkpoints 3-12 (the newest 10)");

    g_autofree char *lost = g_strdup_printf("%s/checkpoint-9000", tmp);
    if (delete_it) {
        cr_assert_eq(remove(lost), 0);
    } else {
        g_autofree char *bytes = NULL;
        gsize len = 0;
        cr_assert(g_file_get_contents(lost, &bytes, &len, NULL));
        bytes[len / 2] ^= 0x20; /* inside the state record */
        cr_assert(g_file_set_contents(lost, bytes, (gssize)len, NULL));
    }

    warnings = g_string_new(NULL);
    g_log_set_writer_func(keep_warnings, NULL, NULL);
    em_test_output *after = em_test_run(&input, 1, op_short_chains, NULL,
                                        &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(after, "%s", err ? err->message : "");
    /* 12, 11 and 10 build on the lost copy and 9 is it: 8, of the older chain, is recovered. */
    for (int t = 10; t <= 12; t++) {
        g_autofree char *skipped =
            g_strdup_printf("skipping checkpoint %s/checkpoint-%d000: checkpoint %s/checkpoint-"
                            "%d000 builds on %s, which cannot be read",
                            tmp, t, tmp, t, lost);
        cr_assert(strstr(warnings->str, skipped), "%s", warnings->str);
    }
    g_autofree char *nine = g_strdup_printf("skipping checkpoint %s:", lost);
    cr_assert_eq(strstr(warnings->str, nine) != NULL, !delete_it, "%s", warnings->str);
    /* Batches up to 8 are not run again; 9 to 16 are, from the state of batch 8 exactly. */
    for (size_t k = 0; k < 8; k++)
        cr_assert_null(after->batches[k], "batch %zu ran again", k + 1);
    g_auto(GStrv) got = output_lines(after);
    for (size_t k = 8; k < 16; k++)
        cr_assert_str_eq(got[k], want[k], "batch %zu", k + 1);
    em_test_output_free(after);
    g_string_free(warnings, TRUE);
    em_arena_free(arena);
}

Test(map_state_checkpoint, a_deleted_newest_full_copy_recovers_from_the_older_chain)
{
    lose_the_newest_full_copy(true);
}

Test(map_state_checkpoint, a_corrupt_newest_full_copy_recovers_from_the_older_chain)
{
    lose_the_newest_full_copy(false);
}

Test(map_state_checkpoint, pruning_keeps_the_previous_chain_whole_beyond_the_newest_ten)
{
    em_arena *arena = em_arena_new();
    em_value first[20], later[LONG_BATCHES][2];
    em_test_batch batches[LONG_BATCHES];
    short_chain_input(arena, first, later, batches);
    em_test_input input = {batches, LONG_BATCHES};
    int full_every = 12;
    GError *err = NULL;
    em_test_output *out = em_test_run(&input, 1, op_short_chains, &full_every,
                                      &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    em_test_output_free(out);
    /* Full copies at 1, 13 and 25: the chain of 13 (12 files) stays beside 25's, the first
     * goes. */
    g_autoptr(GPtrArray) files = em__ckpt_list(tmp, NULL);
    cr_assert_eq(files->len, 16);
    g_autofree char *oldest = g_strdup_printf("%s/checkpoint-13000", tmp);
    cr_assert_str_eq(g_ptr_array_index(files, files->len - 1), oldest);
    g_autofree char *got = kinds(tmp, 13, 28);
    cr_assert_str_eq(got, "FdddddddddddFddd");
    em_arena_free(arena);
}

Test(map_state_checkpoint, changes_whose_file_failed_go_into_the_next_file)
{
    em_arena *arena = em_arena_new();
    em_value first[20], later[LONG_BATCHES][2];
    em_test_batch batches[LONG_BATCHES];
    short_chain_input(arena, first, later, batches);
    em_test_input input = {batches, 12};
    int full_every = 64;
    GError *err = NULL;
    em_test_output *whole = em_test_run(&input, 1, op_short_chains, &full_every, NULL, &err);
    cr_assert_not_null(whole, "%s", err ? err->message : "");
    g_auto(GStrv) want = output_lines(whole);
    em_test_output_free(whole);

    /* The temporary file of batch 5's checkpoint cannot be created: that write fails. */
    g_autofree char *blocker = g_strdup_printf("%s/.checkpoint-5000.tmp", tmp);
    cr_assert_eq(mkdir(blocker, 0755), 0);
    warnings = g_string_new(NULL);
    g_log_set_writer_func(keep_warnings, NULL, NULL);
    em_test_output *before =
        em_test_run(&input, 1, op_short_chains, &full_every,
                    &(em_test_opts){.checkpoint_dir = tmp, .num_batches = 8}, &err);
    cr_assert_not_null(before, "%s", err ? err->message : "");
    em_test_output_free(before);
    cr_assert(strstr(warnings->str, "checkpoint of batch 5000 ms not written"), "%s",
              warnings->str);
    g_string_free(warnings, TRUE);
    g_autofree char *five = g_strdup_printf("%s/checkpoint-5000", tmp);
    cr_assert_not(g_file_test(five, G_FILE_TEST_EXISTS));
    /* Batch 6's file holds the changes of 5 and 6, on top of 4's. */
    g_autofree char *six = g_strdup_printf("%s/checkpoint-6000", tmp);
    em_ckpt *ck = em__ckpt_read_file(six, &err);
    cr_assert_not_null(ck, "%s", err ? err->message : "");
    em_value *base = NULL;
    size_t n = 0;
    cr_assert(em__ckpt_get_values(ck, "state-base/apply_action", arena, &base, &n, &err));
    cr_assert(n == 1 && base[0].as.i == 4000);
    g_free(base);
    GArray *rows = NULL;
    cr_assert(em__ckpt_get_state(ck, "state-delta/apply_action", arena, &rows, &err));
    cr_assert_eq(rows->len, 2, "k5 and k6 set");
    g_array_unref(rows);
    /* It needs its chain back to the full copy, without the file that failed. */
    const GArray *needs = em__ckpt_needed_times(ck);
    cr_assert_eq(needs->len, 4);
    for (guint i = 0; i < 4; i++)
        cr_assert_eq(g_array_index(needs, em_time, i), (em_time)(i + 1) * 1000);
    em__ckpt_free(ck);

    /* Recovered from 6 (7 and 8 gone), batches 7 to 12 go on as in the uninterrupted run. */
    for (int t = 7; t <= 8; t++) {
        g_autofree char *path = g_strdup_printf("%s/checkpoint-%d000", tmp, t);
        cr_assert_eq(remove(path), 0);
    }
    em_test_output *after = em_test_run(&input, 1, op_short_chains, &full_every,
                                        &(em_test_opts){.checkpoint_dir = tmp}, &err);
    cr_assert_not_null(after, "%s", err ? err->message : "");
    cr_assert_null(after->batches[5], "batch 6 ran again");
    g_auto(GStrv) got = output_lines(after);
    for (size_t k = 6; k < 12; k++)
        cr_assert_str_eq(got[k], want[k], "batch %zu", k + 1);
    em_test_output_free(after);
    em_arena_free(arena);
}
