/* The checkpoint's time in the batch figures: em_batch_info.checkpoint_time is what the batch
 * thread spent copying the batch's checkpoint (-1 for batches that take none), and the progress
 * record of a batch gets the whole time (copy plus the writer's encode, compress, fsync and
 * rename) once the file is written, in the struct and the JSON. */
#include "queue-fixture.h"

#include <ember/ui.h>

#include <ftw.h>
#include <stdio.h>

static char *tmp;

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-ckfig-XXXXXX", NULL);
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

TestSuite(checkpoint_figures, .init = setup, .fini = teardown);

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

/* em_batch_info.checkpoint_time of batches 1..4 s. */
static int64_t seen[4];

static void note(const em_batch_info *info, void *ud)
{
    (void)ud;
    seen[info->batch_time / 1000 - 1] = info->checkpoint_time;
}

static char *json_of(const em_batch_progress *p) { return em_batch_progress_to_json(p); }

Test(checkpoint_figures, the_batch_and_its_record_carry_the_checkpoint_time)
{
    const char *batches[] = {"a", "a b", "b", "c"};
    queue_fixture f = queue_fixture_new(batches, 4);
    em_ssc_checkpoint(f.ssc, tmp);
    em_dstream *counts =
        em_update_state_by_key(em_map(em_flat_map(f.input, em_split_space), em_pair_one),
                               running_sum);
    em_dstream_checkpoint(counts, EM_SECONDS(2)); /* checkpoints at 2 s and 4 s */
    em_foreach_rdd(counts, ignore_rdd);
    em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = note}, NULL);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 4);
    em_ssc_stop(f.ssc, EM_STOP_DEFAULT); /* the writer finishes the checkpoints it was given */
    em_checkpoint_figures fig;
    em_ssc_checkpoint_figures(f.ssc, &fig);
    cr_assert_eq(fig.written, 2);
    cr_assert_eq(fig.last_time, 4000);

    cr_assert_eq(seen[0], -1);
    cr_assert_geq(seen[1], 0);
    cr_assert_eq(seen[2], -1);
    cr_assert_eq(seen[3], fig.last_snapshot_us / 1000, "the batch thread's copy of batch 4 s");

    g_autoptr(GPtrArray) recent = em_ssc_recent_progress(f.ssc, 4);
    cr_assert_eq(recent->len, 4);
    const em_batch_progress *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = recent->pdata[i];
        cr_assert_eq(p[i]->batch_time, (i + 1) * 1000);
    }
    cr_assert_eq(p[0]->checkpoint_time, -1);
    cr_assert_eq(p[2]->checkpoint_time, -1);
    cr_assert_geq(p[1]->checkpoint_time, seen[1], "the copy and the write");
    cr_assert_eq(p[3]->checkpoint_time, (fig.last_snapshot_us + fig.last_write_us) / 1000);
    /* The replaced record keeps the rest of the batch's figures. */
    cr_assert_eq(p[3]->n_output_ops, 1);
    cr_assert_eq(p[3]->n_states, 1);
    cr_assert_eq(p[3]->states[0].keys, 3, "a, b and c");
    g_autoptr(em_batch_progress) last = em_ssc_last_progress(f.ssc);
    cr_assert_eq(last, p[3]);

    g_autofree char *none = json_of(p[0]);
    cr_assert(strstr(none, "\"checkpointTime\":null"), "%s", none);
    g_autofree char *written = json_of(p[3]);
    g_autofree char *want =
        g_strdup_printf("\"checkpointTime\":%" G_GINT64_FORMAT, (gint64)p[3]->checkpoint_time);
    cr_assert(strstr(written, want), "%s", written);
    queue_fixture_free(&f);
}
