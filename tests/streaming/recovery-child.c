/* A stateful word count fed from files, for test-kill-recovery.c: textFileStream(INPUT) ->
 * words -> updateStateByKey (checkpointed every batch) -> saveAsTextFiles(PREFIX), recovered
 * from CHECKPOINT-DIR through em_ssc_get_or_create(). Its clock is manual and driven by the
 * test: each "advance" line on stdin runs the next batch and answers "done <ms>". It prints
 * "start <recovered batch ms, or -1>" first; at the end of its input it stops gracefully. */
#include <ember.h>

#include <stdlib.h>

typedef struct {
    const char *input;
    const char *prefix;
} child_args;

static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time t, void *ud)
{
    (void)key, (void)t, (void)ud;
    int64_t sum = em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

static em_ssc *create(bool recovering, void *ud)
{
    (void)recovering;
    const child_args *a = ud;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "KillWordCount",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    /* Every file counts, also those there at a fresh start (after a kill before the first
     * checkpoint, the first batch's file is there already). */
    em_dstream *lines =
        em_text_file_stream_full(ssc, a->input, &(em_file_stream_opts){.new_files_only = false},
                                 NULL);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *counts =
        em_update_state_by_key_full(em_map(words, em_pair_one),
                                    &(em_update_state_spec){.fn = running_sum,
                                                            .name = "word_counts"});
    em_dstream_checkpoint(counts, EM_SECONDS(1));
    em_save_as_text_files(counts, a->prefix, NULL);
    return ssc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: recovery-child INPUT CHECKPOINT-DIR PREFIX\n");
        return 2;
    }
    child_args a = {argv[1], argv[3]};
    GError *err = NULL;
    em_ssc *ssc = em_ssc_get_or_create(argv[2], create, &a, NULL, &err);
    if (!ssc || !em_ssc_start(ssc, &err)) {
        fprintf(stderr, "recovery-child: %s\n", err->message);
        return 1;
    }
    printf("start %" G_GINT64_FORMAT "\n", (gint64)em_ssc_recovered_time(ssc));
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        em_time t = em_ssc_clock_time(ssc) + EM_SECONDS(1);
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        if (!em_ssc_wait_for_batch(ssc, t, 60000)) {
            fprintf(stderr, "recovery-child: batch %" G_GINT64_FORMAT " ms did not end\n",
                    (gint64)t);
            return 1;
        }
        if (em_ssc_await_termination_or_timeout(ssc, 0, &err) < 0) {
            fprintf(stderr, "recovery-child: %s\n", err->message);
            return 1;
        }
        printf("done %" G_GINT64_FORMAT "\n", (gint64)t);
        fflush(stdout);
    }
    em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    bool ok = em_ssc_await_termination(ssc, &err);
    em_ssc_free(ssc);
    return ok ? 0 : 1;
}
