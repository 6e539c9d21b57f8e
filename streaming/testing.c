/* The testOperation harness (<ember/testing.h>): a test input stream that serves given batches,
 * a collector output, and a manual clock advanced one batch at a time (streaming). */
#include "streaming-private.h"

#include <ember/testing.h>

#include <glib/gstdio.h>

/* ---- The test input stream (Spark's TestInputStream) ---- */

typedef struct {
    em_dstream base;
    GPtrArray *batches; /* em_values* per batch (parsed or copied) */
    int partitions;
} test_input_stream;

static em_rdd *test_input_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    test_input_stream *st = (test_input_stream *)ds;
    /* After a restart from a checkpoint, batches up to it are gone, as a real source's would
     * be: what a window or a state needs of them must come from the checkpoint. */
    em_time recovered = em_ssc_recovered_time(ds->ssc);
    if (recovered >= 0 && t <= recovered)
        return em_parallelize(ds->ssc->sc, NULL, 0, st->partitions);
    gint64 index = (t - ds->zero_time) / ds->slide - 1;
    if (index >= 0 && index < (gint64)st->batches->len) {
        em_values *b = st->batches->pdata[index];
        if (!b)
            return NULL; /* a batch given as none: no RDD at this time */
        ds->last_records = (int64_t)b->n;
        return em_parallelize(ds->ssc->sc, b->items, b->n, st->partitions);
    }
    return em_parallelize(ds->ssc->sc, NULL, 0, st->partitions);
}

static void test_input_finalize(em_dstream *ds)
{
    test_input_stream *st = (test_input_stream *)ds;
    g_ptr_array_unref(st->batches);
}

static const em_dstream_class test_input_class = {.type_name = "TestInputStream",
                                                  .instance_size = sizeof(test_input_stream),
                                                  .compute = test_input_compute,
                                                  .finalize = test_input_finalize};

/* The batch's records, or NULL with *none set for a batch given as none (NULL and err set
 * when the text does not parse). */
static em_values *batch_values(const em_test_batch *b, bool *none, GError **err)
{
    *none = b->none;
    if (b->none)
        return NULL;
    em_values *vals = em__values_new();
    if (b->text) {
        em_value *items = NULL;
        size_t n = 0;
        if (!em_values_parse(b->text, vals->arena, &items, &n, err)) {
            em_values_free(vals);
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            em__values_append(vals, items[i]);
        g_free(items);
    } else {
        for (size_t i = 0; i < b->n; i++)
            em__values_append_copy(vals, b->values[i]);
    }
    return vals;
}

/* ---- The collector (Spark's TestOutputStream) ---- */

typedef struct {
    em_test_output *out;
    em_time zero;
    GMutex *lock;
} collector;

static bool collect_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    collector *c = ud;
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    size_t index = (size_t)((t - c->zero) / c->out->batch_interval - 1);
    g_mutex_lock(c->lock);
    if (index < c->out->n_batches && !c->out->batches[index])
        c->out->batches[index] = vals;
    else
        em_values_free(vals);
    g_mutex_unlock(c->lock);
    return true;
}

/* The run: the collectors, and which batches failed (from the listener bus). */
typedef struct {
    GMutex lock;
    collector *collectors;
    size_t n;
    em_time zero;
    em_duration interval;
} test_run;

static void note_batch(const em_batch_info *info, void *ud)
{
    test_run *r = ud;
    size_t index = (size_t)((info->batch_time - r->zero) / r->interval - 1);
    g_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        em_test_output *out = r->collectors[i].out;
        if (index >= out->n_batches)
            continue;
        if (info->failed) {
            out->status[index] = EM_TEST_FAILED;
            out->failures[index] = g_strdup(info->failure);
        } else {
            out->status[index] = out->batches[index] ? EM_TEST_OUTPUT : EM_TEST_NO_RDD;
        }
    }
    g_mutex_unlock(&r->lock);
}

static em_test_output *output_new(size_t n_batches, em_duration interval)
{
    em_test_output *out = g_new0(em_test_output, 1);
    out->n_batches = n_batches;
    out->batches = g_new0(em_values *, n_batches ? n_batches : 1);
    out->status = g_new0(em_test_batch_status, n_batches ? n_batches : 1);
    out->failures = g_new0(char *, n_batches ? n_batches : 1);
    out->batch_interval = interval;
    return out;
}

/* em_test_run's single operation as an em_test_ops_fn. */
typedef struct {
    em_test_op_fn op;
    void *ud;
} single_op;

static size_t run_single(em_dstream *const *inputs, em_dstream **out, size_t max, void *ud)
{
    (void)max;
    const single_op *s = ud;
    out[0] = s->op(inputs, s->ud);
    return out[0] ? 1 : 0;
}

em_test_output *em_test_run(const em_test_input *inputs, size_t n_inputs, em_test_op_fn op,
                            void *ud, const em_test_opts *opts, GError **err)
{
    single_op s = {op, ud};
    size_t n = 0;
    em_test_output **outs = em_test_run_multi(inputs, n_inputs, run_single, 1, &s, opts, &n, err);
    if (!outs)
        return NULL;
    em_test_output *out = outs[0];
    g_free(outs);
    return out;
}

/* What building the graph needs, for em_ssc_get_or_create()'s create function. */
typedef struct {
    const em_test_input *inputs;
    size_t n_inputs;
    em_test_ops_fn op;
    size_t max_outputs;
    void *ud;
    const em_test_opts *o;
    em_dstream **results; /* [max_outputs], what op built */
    size_t n;
    GError *error;
} test_build;

static em_ssc *build_graph(bool recovering, void *data)
{
    (void)recovering;
    test_build *b = data;
    const em_test_opts *o = b->o;
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = o->master,
                                                 .context = o->context,
                                                 .app_name = "test",
                                                 .batch_interval = o->batch_interval,
                                                 .manual_clock = true},
                                  &b->error);
    if (!ssc)
        return NULL;
    em_dstream **streams = g_new0(em_dstream *, b->n_inputs ? b->n_inputs : 1);
    for (size_t i = 0; i < b->n_inputs; i++) {
        streams[i] = em__input_new(ssc, &test_input_class, "testInputStream");
        test_input_stream *st = (test_input_stream *)streams[i];
        st->batches = g_ptr_array_new_with_free_func((GDestroyNotify)em_values_free);
        st->partitions = o->input_partitions;
        for (size_t k = 0; k < b->inputs[i].n; k++) {
            bool none = false;
            em_values *vals = batch_values(&b->inputs[i].batches[k], &none, &b->error);
            if (!vals && !none) {
                g_prefix_error(&b->error, "em_test_run: input %zu, batch %zu: ", i, k);
                g_free(streams);
                em_ssc_free(ssc);
                return NULL;
            }
            g_ptr_array_add(st->batches, vals);
        }
    }
    b->results = g_new0(em_dstream *, b->max_outputs ? b->max_outputs : 1);
    b->n = b->max_outputs ? b->op(streams, b->results, b->max_outputs, b->ud) : 0;
    g_free(streams);
    return ssc;
}

em_test_output **em_test_run_multi(const em_test_input *inputs, size_t n_inputs, em_test_ops_fn op,
                                   size_t max_outputs, void *ud, const em_test_opts *opts,
                                   size_t *n_outputs, GError **err)
{
    em_test_opts o = opts ? *opts : (em_test_opts){0};
    if (!o.master)
        o.master = "local[2]";
    if (o.batch_interval <= 0)
        o.batch_interval = EM_SECONDS(1);
    if (o.input_partitions <= 0)
        o.input_partitions = 2;
    if (o.batch_timeout <= 0)
        o.batch_timeout = EM_SECONDS(60);
    if (!o.num_batches)
        for (size_t i = 0; i < n_inputs; i++)
            o.num_batches = MAX(o.num_batches, inputs[i].n);
    *n_outputs = 0;

    test_build b = {.inputs = inputs,
                    .n_inputs = n_inputs,
                    .op = op,
                    .max_outputs = max_outputs,
                    .ud = ud,
                    .o = &o};
    em_ssc *ssc = NULL;
    if (o.checkpoint_dir) {
        ssc = em_ssc_get_or_create(o.checkpoint_dir, build_graph, &b, NULL, err);
        if (!ssc && b.error) {
            g_clear_error(err);
            g_propagate_error(err, g_steal_pointer(&b.error));
        }
    } else {
        ssc = build_graph(false, &b);
        if (!ssc)
            g_propagate_error(err, g_steal_pointer(&b.error));
    }
    if (!ssc)
        return NULL;
    em_dstream **results = b.results;
    size_t n = b.n;
    test_run run = {.n = MIN(n, max_outputs), .interval = o.batch_interval};
    g_mutex_init(&run.lock);
    run.collectors = g_new0(collector, run.n ? run.n : 1);
    bool ok = run.n > 0;
    for (size_t i = 0; i < run.n && ok; i++)
        ok = results[i] != NULL;
    if (!ok)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "em_test_run: the operation gave no stream");
    for (size_t i = 0; i < run.n; i++)
        run.collectors[i] =
            (collector){.out = output_new(o.num_batches, o.batch_interval), .lock = &run.lock};
    if (ok) {
        for (size_t i = 0; i < run.n; i++)
            em_foreach_rdd_full(results[i], collect_batch, &run.collectors[i], NULL,
                                "testOutputStream");
        em_ssc_add_listener(ssc, &(em_listener){.batch_completed = note_batch}, &run);
        ok = em_ssc_start(ssc, err);
    }
    g_free(results);
    if (ok) {
        run.zero = ssc->zero_time;
        for (size_t i = 0; i < run.n; i++)
            run.collectors[i].zero = ssc->zero_time;
        /* Recovered: the run goes on with the batch after the checkpoint's. */
        em_time recovered = em_ssc_recovered_time(ssc);
        size_t first =
            recovered >= 0 ? (size_t)((recovered - ssc->zero_time) / o.batch_interval) : 0;
        for (size_t k = first; k < o.num_batches && ok; k++) {
            em_time t = ssc->zero_time + (em_time)(k + 1) * o.batch_interval;
            em_ssc_advance_clock(ssc, o.batch_interval);
            if (!em_ssc_wait_for_batch(ssc, t, o.batch_timeout)) {
                /* Said now: the stop below waits for the batch under way. */
                g_warning("em_test_run: batch %" G_GINT64_FORMAT " ms did not complete in "
                          "%" G_GINT64_FORMAT " ms; stopping once it ends",
                          (gint64)t, (gint64)o.batch_timeout);
                g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                            "em_test_run: batch %" G_GINT64_FORMAT
                            " ms did not complete in %" G_GINT64_FORMAT " ms",
                            (gint64)t, (gint64)o.batch_timeout);
                ok = false;
            }
            g_mutex_lock(&ssc->lock);
            if (ssc->failure && ok && !o.keep_going) {
                g_propagate_error(err, g_error_copy(ssc->failure));
                ok = false;
            }
            g_mutex_unlock(&ssc->lock);
        }
    }
    /* With checkpoints, a graceful stop writes the final one: a later run goes on from it. */
    if (ok && o.checkpoint_dir)
        em_ssc_stop(ssc, EM_STOP_GRACEFUL);
    em_ssc_free(ssc);
    g_mutex_clear(&run.lock);
    em_test_output **outs = NULL;
    if (ok) {
        outs = g_new0(em_test_output *, run.n);
        for (size_t i = 0; i < run.n; i++)
            outs[i] = run.collectors[i].out;
        *n_outputs = run.n;
    } else {
        for (size_t i = 0; i < run.n; i++)
            em_test_output_free(run.collectors[i].out);
    }
    g_free(run.collectors);
    return outs;
}

void em_test_outputs_free(em_test_output **outs, size_t n)
{
    if (!outs)
        return;
    for (size_t i = 0; i < n; i++)
        em_test_output_free(outs[i]);
    g_free(outs);
}

void em_test_output_free(em_test_output *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->n_batches; i++) {
        em_values_free(out->batches[i]);
        g_free(out->failures[i]);
    }
    g_free(out->batches);
    g_free(out->status);
    g_free(out->failures);
    g_free(out);
}

em_test_output *em_test_run_checkpointed(const em_test_input *inputs, size_t n_inputs,
                                         em_test_op_fn op, void *ud, const em_test_opts *opts,
                                         size_t stop_after, GError **err)
{
    em_test_opts o = opts ? *opts : (em_test_opts){0};
    g_autofree char *tmp = NULL;
    if (!o.checkpoint_dir) {
        tmp = g_dir_make_tmp("ember-test-checkpoint-XXXXXX", NULL);
        o.checkpoint_dir = tmp;
    }
    em_test_opts before = o;
    before.num_batches = stop_after;
    em_test_output *first = em_test_run(inputs, n_inputs, op, ud, &before, err);
    em_test_output *out = first ? em_test_run(inputs, n_inputs, op, ud, &o, err) : NULL;
    for (size_t k = 0; out && k < stop_after && k < out->n_batches; k++) {
        em_values_free(out->batches[k]);
        g_free(out->failures[k]);
        out->batches[k] = g_steal_pointer(&first->batches[k]);
        out->failures[k] = g_steal_pointer(&first->failures[k]);
        out->status[k] = first->status[k];
    }
    em_test_output_free(first);
    if (tmp) {
        g_autoptr(GDir) dir = g_dir_open(tmp, 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *path = g_build_filename(tmp, name, NULL);
            g_remove(path);
        }
        g_rmdir(tmp);
    }
    return out;
}

static char *batch_text(em_values *vals, bool sorted)
{
    if (!vals)
        return g_strdup("none");
    if (sorted)
        em_values_sort(vals);
    return em_values_to_string(vals);
}

char *em_test_output_format(const em_test_output *out, bool sorted)
{
    GString *text = g_string_new(NULL);
    for (size_t i = 0; i < out->n_batches; i++) {
        if (out->status[i] == EM_TEST_FAILED) {
            g_string_append_printf(text, "failed: %s\n", out->failures[i]);
            continue;
        }
        g_autofree char *line = batch_text(out->batches[i], sorted);
        g_string_append_printf(text, "%s\n", line);
    }
    return g_string_free(text, FALSE);
}

static void to_batches(const char *const *text, size_t n, em_test_batch *batches)
{
    for (size_t i = 0; i < n; i++)
        batches[i] = (em_test_batch){.text = text[i]};
}

static bool compare(const em_test_output *out, const char *const *expected, size_t n_expected,
                    bool use_set, GError **err)
{
    for (size_t i = 0; i < n_expected; i++) {
        g_autofree char *want = NULL;
        if (expected[i]) {
            em_values *vals = em__values_new();
            em_value *items = NULL;
            size_t n = 0;
            if (!em_values_parse(expected[i], vals->arena, &items, &n, err)) {
                g_prefix_error(err, "em_test_operation: expected batch %zu: ", i);
                em_values_free(vals);
                return false;
            }
            for (size_t k = 0; k < n; k++)
                em__values_append(vals, items[k]);
            g_free(items);
            want = batch_text(vals, use_set);
            em_values_free(vals);
        } else {
            want = g_strdup("none");
        }
        g_autofree char *got = batch_text(out->batches[i], use_set);
        if (strcmp(want, got) != 0) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "batch %zu (%" G_GINT64_FORMAT " ms): expected %s, got %s", i,
                        (gint64)((em_time)(i + 1) * out->batch_interval), want, got);
            return false;
        }
    }
    return true;
}

bool em_test_operation2(const char *const *input1, size_t n_input1, const char *const *input2,
                        size_t n_input2, em_test_op_fn op, void *ud, const char *const *expected,
                        size_t n_expected, bool use_set, GError **err)
{
    em_test_batch *b1 = g_new0(em_test_batch, n_input1 + 1);
    em_test_batch *b2 = g_new0(em_test_batch, n_input2 + 1);
    to_batches(input1, n_input1, b1);
    to_batches(input2, n_input2, b2);
    em_test_input inputs[] = {{b1, n_input1}, {b2, n_input2}};
    em_test_opts opts = {.num_batches = n_expected};
    em_test_output *out = em_test_run(inputs, input2 ? 2 : 1, op, ud, &opts, err);
    g_free(b1);
    g_free(b2);
    if (!out)
        return false;
    bool ok = compare(out, expected, n_expected, use_set, err);
    em_test_output_free(out);
    return ok;
}

bool em_test_checkpointed_operation(const char *const *input, size_t n_input, em_test_op_fn op,
                                    void *ud, const char *const *expected, size_t n_expected,
                                    size_t stop_after, bool use_set, GError **err)
{
    em_test_batch *batches = g_new0(em_test_batch, n_input + 1);
    to_batches(input, n_input, batches);
    em_test_input in = {batches, n_input};
    em_test_opts opts = {.num_batches = n_expected};
    em_test_output *out = em_test_run_checkpointed(&in, 1, op, ud, &opts, stop_after, err);
    g_free(batches);
    if (!out)
        return false;
    bool ok = compare(out, expected, n_expected, use_set, err);
    em_test_output_free(out);
    return ok;
}

bool em_test_operation(const char *const *input, size_t n_input, em_test_op_fn op, void *ud,
                       const char *const *expected, size_t n_expected, bool use_set, GError **err)
{
    return em_test_operation2(input, n_input, NULL, 0, op, ud, expected, n_expected, use_set, err);
}
