/* Progress records (em_ssc_last_progress, em_ssc_recent_progress, their JSON): what each batch
 * took in per input, its output operations, state sizes and retained RDDs, checked on the manual
 * clock against the listener's own figures; wall-clock figures through hand-fed events. */
#include <criterion/criterion.h>

#include "../streaming/queue-fixture.h"
#include "counted-input.h"
#include "monitor-feed.h"

#include <inttypes.h>

/* A manual-clock ssc (1 s batches) over a counted input serving texts. */
static em_ssc *counted_ssc(const char *const *texts, size_t n, em_dstream **input)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = EM_SECONDS(1),
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    *input = counted_input(ssc, texts, n);
    return ssc;
}

/* The listener's figures for each completed batch, to compare the records with. */
typedef struct {
    GMutex lock;
    em_batch_info done[8];
    int n;
} seen_batches;

static void remember_batch(const em_batch_info *info, void *ud)
{
    seen_batches *s = ud;
    g_mutex_lock(&s->lock);
    s->done[s->n] = *info;
    s->done[s->n].input_records = NULL;
    s->done[s->n].failure = NULL;
    s->n++;
    g_mutex_unlock(&s->lock);
}

Test(progress, records_each_batch_inputs_ops_delays_and_retention)
{
    static const char *const batches[] = {"a, b, c", "d, e", ""};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 3, &f.input);
    em_foreach_rdd(f.input, ignore_rdd);
    em_foreach_rdd(em_count(f.input), ignore_rdd);
    seen_batches seen = {0};
    em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = remember_batch}, &seen);
    cr_assert_null(em_ssc_last_progress(f.ssc), "nothing before the first batch");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 3);

    g_autoptr(GPtrArray) recent = em_ssc_recent_progress(f.ssc, 10);
    cr_assert_eq(recent->len, 3);
    const int64_t want_records[] = {3, 2, 0};
    for (guint i = 0; i < 3; i++) {
        const em_batch_progress *p = recent->pdata[i];
        const em_batch_info *info = &seen.done[i];
        cr_assert_eq(p->batch_time, EM_SECONDS(i + 1));
        cr_assert_eq(p->batch_interval, 1000);
        cr_assert(p->completed && !p->failed && !p->failure);
        cr_assert_eq(p->n_inputs, 1);
        cr_assert_eq(p->inputs[0].stream_id, 0);
        cr_assert_str_eq(p->inputs[0].name, "Counted stream [0]");
        cr_assert_eq(p->inputs[0].records, want_records[i]);
        cr_assert_eq(p->num_records, want_records[i]);
        /* records / 1 s of batch interval */
        cr_assert_float_eq(p->input_rate, (double)want_records[i], 1e-9);
        cr_assert_eq(p->submission_time, info->submission_time);
        cr_assert_eq(p->scheduling_delay, info->scheduling_delay);
        cr_assert_eq(p->processing_delay, info->processing_delay);
        cr_assert_eq(p->total_delay, p->scheduling_delay + p->processing_delay);
        cr_assert_eq(p->retained_batches, info->retained_batches);
        cr_assert_eq(p->retained_bytes, info->retained_bytes);
        cr_assert_eq(p->checkpoint_time, -1, "no checkpoints yet");
        cr_assert_eq(p->n_output_ops, 2);
        cr_assert_str_eq(p->output_ops[0].name, "foreachRDD");
        cr_assert_str_eq(p->output_ops[0].description,
                         "foreachRDD(ignore_rdd) of countedStream [0]");
        cr_assert_str_eq(p->output_ops[1].name, "foreachRDD");
        cr_assert_str_eq(p->output_ops[1].description, "foreachRDD(ignore_rdd) of count [1]");
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(p->output_ops[k].duration,
                         p->output_ops[k].end_time - p->output_ops[k].start_time);
            cr_assert_null(p->output_ops[k].failure);
            cr_assert_not_null(p->output_ops[k].lineage, "op %d has its RDD's lineage", k);
        }
        cr_assert_eq(p->n_states, 0);
    }
    g_autoptr(em_batch_progress) last = em_ssc_last_progress(f.ssc);
    cr_assert_eq(last, recent->pdata[2], "the newest record is the last one");
    em_ssc_free(f.ssc);
}

Test(progress, recent_gives_the_newest_n_oldest_first)
{
    static const char *const batches[] = {"a", "b", "c"};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 3, &f.input);
    em_foreach_rdd(f.input, ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 3);
    g_autoptr(GPtrArray) two = em_ssc_recent_progress(f.ssc, 2);
    cr_assert_eq(two->len, 2);
    cr_assert_eq(((em_batch_progress *)two->pdata[0])->batch_time, 2000);
    cr_assert_eq(((em_batch_progress *)two->pdata[1])->batch_time, 3000);
    g_autoptr(GPtrArray) none = em_ssc_recent_progress(f.ssc, 0);
    cr_assert_eq(none->len, 0);
    g_autoptr(GPtrArray) negative = em_ssc_recent_progress(f.ssc, -5);
    cr_assert_eq(negative->len, 0);
    /* A record outlives the ssc that made it. */
    em_batch_progress *kept = em_batch_progress_ref(two->pdata[1]);
    em_ssc_free(f.ssc);
    cr_assert_eq(kept->num_records, 1);
    cr_assert_str_eq(kept->inputs[0].name, "Counted stream [0]");
    em_batch_progress_unref(kept);
}

/* (word, running count) with the count kept in state. */
static em_value count_words(em_time time, em_value key, em_value value, em_state *state, void *ud)
{
    (void)time, (void)value, (void)ud;
    int64_t n = (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0) + 1;
    em_state_update(state, em_int(n));
    return em_pair(key, em_int(n));
}

Test(progress, state_keys_and_bytes_per_map_with_state_stream)
{
    static const char *const batches[] = {"a b a", "c", "a"};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 3, &f.input);
    em_dstream *pairs = em_map(em_flat_map(f.input, em_split_words), em_pair_one);
    em_dstream *counts = em_map_with_state(pairs, &(em_state_spec){.fn = count_words});
    em_foreach_rdd(counts, ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    const int64_t want_keys[] = {2, 3, 3}; /* {a, b}, then c, then a again */
    for (int i = 1; i <= 3; i++) {
        run_batch(f.ssc, EM_SECONDS(i));
        g_autoptr(em_batch_progress) p = em_ssc_last_progress(f.ssc);
        cr_assert_eq(p->n_states, 1);
        cr_assert_eq(p->states[0].stream_id, 3);
        cr_assert_str_eq(p->states[0].name, "mapWithState [3]");
        cr_assert_eq(p->states[0].keys, want_keys[i - 1], "batch %d: %" PRId64, i,
                     p->states[0].keys);
        int64_t keys, bytes;
        em_map_with_state_size(counts, &keys, &bytes);
        cr_assert_eq(p->states[0].bytes, bytes, "the stream's own figure");
        cr_assert_gt(bytes, 0);
    }
    em_ssc_free(f.ssc);
}

static bool fail_odd_batches(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)rdd, (void)ud;
    if (t / 1000 % 2 == 0)
        return true;
    g_set_error(err, EM_ERROR, EM_ERROR_TASK, "odd batch %" PRId64, t);
    return false;
}

Test(progress, a_failed_batch_records_its_failure_and_the_op_that_failed)
{
    static const char *const batches[] = {"a", "b"};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 2, &f.input);
    em_foreach_rdd(f.input, fail_odd_batches);
    em_foreach_rdd(f.input, ignore_rdd);
    em_set_log_level("OFF");
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 2);
    g_autoptr(GPtrArray) recent = em_ssc_recent_progress(f.ssc, 2);
    const em_batch_progress *first = recent->pdata[0], *second = recent->pdata[1];
    cr_assert(first->failed);
    cr_assert_str_eq(first->failure, "batch 1000 ms: odd batch 1000");
    cr_assert_str_eq(first->output_ops[0].failure, "odd batch 1000");
    cr_assert_null(first->output_ops[1].failure, "the batch's other op still ran");
    cr_assert_geq(first->output_ops[1].end_time, 0);
    cr_assert(!second->failed);
    em_ssc_free(f.ssc);
}

Test(progress, json_of_a_record_is_exact)
{
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("Fed", &queue);
    /* 7 records in a 1 s batch: 7 records/s in; processed in 50 ms: 140 records/s. */
    feed_batch(ssc, &(fed_batch){.time = 1000,
                                 .records = 7,
                                 .submitted = 100,
                                 .sched = 50,
                                 .proc = 50,
                                 .retained_batches = 2,
                                 .retained_bytes = 640});
    g_autoptr(em_batch_progress) p = em_ssc_last_progress(ssc);
    char *json = em_batch_progress_to_json(p);
    cr_assert_str_eq(json,
                     "{\"batchTime\":1000,\"batchInterval\":1000,\"status\":\"COMPLETED\","
                     "\"failureReason\":null,\"inputs\":[{\"streamId\":0,\"name\":\"Queue "
                     "stream [0]\",\"records\":7}],\"numRecords\":7,\"inputRate\":7.000,"
                     "\"processingRate\":140.000,\"submissionTime\":100,"
                     "\"processingStartTime\":150,\"processingEndTime\":200,"
                     "\"schedulingDelay\":50,\"processingDelay\":50,\"totalDelay\":100,"
                     "\"outputOperations\":[{\"outputOpId\":0,\"name\":\"print\","
                     "\"description\":\"print of queueStream [0]\",\"startTime\":150,"
                     "\"endTime\":200,\"duration\":50,\"failureReason\":null}],\"states\":[],"
                     "\"retainedBatches\":2,\"retainedBytes\":640,\"checkpointTime\":null}");
    g_free(json);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

Test(progress, keeps_the_newest_retained_batches_only)
{
    em_rdd_queue *queue;
    em_ssc *ssc = fed_ssc_new("Fed", &queue);
    for (int i = 1; i <= EM_UI_RETAINED_BATCHES + 5; i++)
        feed_batch(ssc, &(fed_batch){.time = i * 1000, .records = i, .submitted = i * 1000});
    g_autoptr(GPtrArray) all = em_ssc_recent_progress(ssc, 5000);
    cr_assert_eq(all->len, EM_UI_RETAINED_BATCHES);
    cr_assert_eq(((em_batch_progress *)all->pdata[0])->batch_time, 6000, "the first 5 went");
    g_autofree char *metrics = em_ssc_metrics_text(ssc);
    cr_assert(strstr(metrics, "ember_streaming_batches_completed_total{app=\"Fed\"} 1005\n"),
              "the run's count keeps them all:\n%s", metrics);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

/* (word, running count) for updateStateByKey. */
static em_value add_counts(em_value key, const em_value *values, size_t n, em_value state,
                           em_time time, void *ud)
{
    (void)key, (void)time, (void)ud;
    int64_t sum = state.type == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

Test(progress, state_keys_per_update_state_by_key_stream)
{
    static const char *const batches[] = {"a b a", "c", "a d"};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 3, &f.input);
    em_dstream *pairs = em_map(em_flat_map(f.input, em_split_words), em_pair_one);
    em_foreach_rdd(em_update_state_by_key(pairs, add_counts), ignore_rdd);
    cr_assert(em_ssc_start(f.ssc, NULL));
    const int64_t want_keys[] = {2, 3, 4}; /* {a, b}, then c, then d */
    for (int i = 1; i <= 3; i++) {
        run_batch(f.ssc, EM_SECONDS(i));
        g_autoptr(em_batch_progress) p = em_ssc_last_progress(f.ssc);
        cr_assert_eq(p->n_states, 1);
        cr_assert_str_eq(p->states[0].name, "updateStateByKey [3]");
        cr_assert_eq(p->states[0].keys, want_keys[i - 1], "batch %d: %" PRId64, i,
                     p->states[0].keys);
        cr_assert_gt(p->states[0].bytes, 0);
    }
    em_ssc_free(f.ssc);
}

typedef struct {
    em_ssc *ssc;
    em_time seen[4];
    int n;
} in_listener;

static void read_progress_in_listener(const em_batch_info *info, void *ud)
{
    in_listener *l = ud;
    (void)info;
    em_batch_progress *p = em_ssc_last_progress(l->ssc);
    l->seen[l->n++] = p ? p->batch_time : -1;
    em_batch_progress_unref(p);
}

Test(progress, a_listener_finds_its_batch_record_already_made)
{
    static const char *const batches[] = {"a", "b"};
    queue_fixture f = {0};
    f.ssc = counted_ssc(batches, 2, &f.input);
    em_foreach_rdd(f.input, ignore_rdd);
    in_listener l = {.ssc = f.ssc};
    em_ssc_add_listener(f.ssc, &(em_listener){.batch_completed = read_progress_in_listener}, &l);
    cr_assert(em_ssc_start(f.ssc, NULL));
    run_batches(f.ssc, 2);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.seen[0], 1000);
    cr_assert_eq(l.seen[1], 2000);
    em_ssc_free(f.ssc);
}
