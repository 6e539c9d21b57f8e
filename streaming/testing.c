/* The testOperation harness (<ember/testing.h>): a test input stream that serves given batches,
 * a collector output, and a manual clock advanced one batch at a time (streaming). */
#include "streaming-private.h"

#include <ember/testing.h>

/* ---- The test input stream (Spark's TestInputStream) ---- */

typedef struct {
    GPtrArray *batches; /* em_values* per batch (parsed or copied) */
    int partitions;
} test_input_state;

static em_rdd *test_input_compute(em_dstream *ds, em_time t, GError **err)
{
    (void)err;
    test_input_state *st = ds->state;
    gint64 index = (t - ds->zero_time) / ds->slide - 1;
    if (index >= 0 && index < (gint64)st->batches->len) {
        em_values *b = st->batches->pdata[index];
        ds->last_records = (int64_t)b->n;
        return em_parallelize(ds->ssc->sc, b->items, b->n, st->partitions);
    }
    return em_parallelize(ds->ssc->sc, NULL, 0, st->partitions);
}

static void test_input_finalize(em_dstream *ds)
{
    test_input_state *st = ds->state;
    g_ptr_array_unref(st->batches);
    g_free(st);
}

static const em_dstream_class test_input_class = {.type_name = "TestInputStream",
                                                  .compute = test_input_compute,
                                                  .finalize = test_input_finalize};

static em_values *batch_values(const em_test_batch *b, GError **err)
{
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
    GMutex lock;
} collector;

static bool collect_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    collector *c = ud;
    em_values *vals = em_rdd_collect(rdd, err);
    if (!vals)
        return false;
    size_t index = (size_t)((t - c->zero) / c->out->batch_interval - 1);
    g_mutex_lock(&c->lock);
    if (index < c->out->n_batches && !c->out->batches[index])
        c->out->batches[index] = vals;
    else
        em_values_free(vals);
    g_mutex_unlock(&c->lock);
    return true;
}

em_test_output *em_test_run(const em_test_input *inputs, size_t n_inputs, em_test_op_fn op,
                            void *ud, const em_test_opts *opts, GError **err)
{
    em_test_opts o = opts ? *opts : (em_test_opts){0};
    if (!o.master)
        o.master = "local[2]";
    if (o.batch_interval <= 0)
        o.batch_interval = EM_SECONDS(1);
    if (o.input_partitions <= 0)
        o.input_partitions = 2;
    if (!o.num_batches)
        for (size_t i = 0; i < n_inputs; i++)
            o.num_batches = MAX(o.num_batches, inputs[i].n);

    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = o.master, .context = o.context,
                                                 .app_name = "test",
                                                 .batch_interval = o.batch_interval,
                                                 .manual_clock = true},
                                  err);
    if (!ssc)
        return NULL;
    em_dstream **streams = g_new0(em_dstream *, n_inputs ? n_inputs : 1);
    for (size_t i = 0; i < n_inputs; i++) {
        test_input_state *st = g_new0(test_input_state, 1);
        st->batches = g_ptr_array_new_with_free_func((GDestroyNotify)em_values_free);
        st->partitions = o.input_partitions;
        streams[i] = em__input_new(ssc, &test_input_class, "testInputStream");
        streams[i]->state = st;
        for (size_t b = 0; b < inputs[i].n; b++) {
            em_values *vals = batch_values(&inputs[i].batches[b], err);
            if (!vals) {
                g_prefix_error(err, "em_test_run: input %zu, batch %zu: ", i, b);
                g_free(streams);
                em_ssc_free(ssc);
                return NULL;
            }
            g_ptr_array_add(st->batches, vals);
        }
    }
    em_dstream *result = op(streams, ud);
    g_free(streams);
    em_test_output *out = g_new0(em_test_output, 1);
    out->n_batches = o.num_batches;
    out->batches = g_new0(em_values *, o.num_batches ? o.num_batches : 1);
    out->batch_interval = o.batch_interval;
    collector c = {.out = out};
    g_mutex_init(&c.lock);
    bool ok = result != NULL;
    if (!ok)
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "em_test_run: the operation gave no stream");
    if (ok) {
        em_foreach_rdd_full(result, collect_batch, &c, NULL, "testOutputStream");
        ok = em_ssc_start(ssc, err);
    }
    if (ok) {
        c.zero = ssc->zero_time;
        for (size_t b = 0; b < o.num_batches && ok; b++) {
            em_time t = ssc->zero_time + (em_time)(b + 1) * o.batch_interval;
            em_ssc_advance_clock(ssc, o.batch_interval);
            if (!em_ssc_wait_for_batch(ssc, t, 60000)) {
                g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                            "em_test_run: batch %" G_GINT64_FORMAT " ms did not complete in 60 s",
                            (gint64)t);
                ok = false;
            }
            g_mutex_lock(&ssc->lock);
            if (ssc->failure && ok) {
                g_propagate_error(err, g_error_copy(ssc->failure));
                ok = false;
            }
            g_mutex_unlock(&ssc->lock);
        }
    }
    em_ssc_free(ssc);
    g_mutex_clear(&c.lock);
    if (!ok) {
        em_test_output_free(out);
        return NULL;
    }
    return out;
}

void em_test_output_free(em_test_output *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->n_batches; i++)
        em_values_free(out->batches[i]);
    g_free(out->batches);
    g_free(out);
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
                        size_t n_input2, em_test_op_fn op, void *ud,
                        const char *const *expected, size_t n_expected, bool use_set,
                        GError **err)
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

bool em_test_operation(const char *const *input, size_t n_input, em_test_op_fn op, void *ud,
                       const char *const *expected, size_t n_expected, bool use_set,
                       GError **err)
{
    return em_test_operation2(input, n_input, NULL, 0, op, ud, expected, n_expected, use_set,
                              err);
}
