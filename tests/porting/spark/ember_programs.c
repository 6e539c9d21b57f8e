/* The differential suite's Ember side: SparkPrograms.java's DStream programs on Ember, same
 * input batches (one queued RDD per batch, two slices), local[2], 1 s batches on the manual
 * clock, printed with em_print. spark-diff compares the two outputs byte for byte (batch times
 * taken relative to the first batch). Usage: ember_programs (prints BATCHES batches). */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

#define BATCHES 5

static const char *const line_batches[][2] = {
    {"apple banana apple", "cherry apple banana orange apple"},
    {"banana kiwi", "apple kiwi kiwi pear"},
    {"pear plum", "plum apple"},
};
static const char *const color_batches[] = {
    "(apple,red), (banana,yellow), (orange,orange), (grape,purple)",
    "(kiwi,green), (apple,green), (pear,green)",
    "(plum,purple)",
};

/* updateStateByKey((vs, s) => Some(s.getOrElse(0) + vs.sum)). */
static em_value running_sum(em_value key, const em_value *values, size_t n, em_value state,
                            em_time time, void *ud)
{
    (void)key, (void)time, (void)ud;
    int64_t sum = em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

int main(void)
{
    GError *err = NULL;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .app_name = "EmberDiff",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  &err);
    if (!ssc) {
        fprintf(stderr, "ember_programs: %s\n", err->message);
        return EXIT_FAILURE;
    }
    em_context *sc = em_ssc_context(ssc);
    em_rdd_queue *line_queue = em_rdd_queue_new(), *color_queue = em_rdd_queue_new();
    for (size_t b = 0; b < G_N_ELEMENTS(line_batches); b++) {
        em_value lines[2] = {em_str(line_batches[b][0]), em_str(line_batches[b][1])};
        em_rdd *rdd = em_parallelize(sc, lines, 2, 2);
        em_rdd_queue_push(line_queue, rdd);
        em_rdd_unref(rdd);
        rdd = em_parallelize_text(sc, color_batches[b], 2, &err);
        em_rdd_queue_push(color_queue, rdd);
        em_rdd_unref(rdd);
    }
    em_dstream *lines = em_queue_stream(ssc, line_queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *colors = em_queue_stream(ssc, color_queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *words = em_flat_map(lines, em_split_space);
    em_dstream *pairs = em_map(words, em_pair_one);

    em_dstream *counts = em_reduce_by_key(pairs, em_sum);
    em_print(counts);
    em_print(em_count_by_value(words));
    em_print(em_join(counts, colors));
    em_print(em_reduce_by_key_and_window(pairs, em_sum, EM_SECONDS(2), EM_SECONDS(1)));
    em_print(em_update_state_by_key(pairs, running_sum));

    bool ok = em_ssc_start(ssc, &err);
    for (int b = 1; ok && b <= BATCHES; b++) {
        em_ssc_advance_clock(ssc, EM_SECONDS(1));
        ok = em_ssc_wait_for_batch(ssc, (em_time)b * 1000, EM_SECONDS(60));
        fflush(stdout);
    }
    if (!ok)
        fprintf(stderr, "ember_programs: %s\n", err ? err->message : "a batch did not complete");
    printf("END\n");
    em_ssc_stop(ssc, EM_STOP_DEFAULT);
    g_clear_error(&err);
    em_ssc_free(ssc);
    em_rdd_queue_free(line_queue);
    em_rdd_queue_free(color_queue);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
