/* The DStream graph (Spark's DStreamGraph): the streams, the inputs among them and the output
 * operations; at start it sets zero times and remember durations, at each batch it generates
 * every output's RDD and afterwards forgets what no stream needs. Used by the job generator
 * and the job scheduler (streaming). */
#include "streaming-private.h"

void em__output_add(em_dstream *ds, const char *name, em_output_run_fn run, void *ud,
                    GDestroyNotify destroy, const char *fn_name)
{
    if (!em__dstream_check(ds, name)) {
        if (destroy)
            destroy(ud);
        return;
    }
    em_output_op *op = g_new0(em_output_op, 1);
    op->ds = ds;
    op->id = (int)ds->ssc->outputs->len;
    op->name = name;
    op->fn_name = fn_name ? g_strdup(fn_name) : NULL;
    op->run = run;
    op->ud = ud;
    op->destroy = destroy;
    g_ptr_array_add(ds->ssc->outputs, op);
}

/* A stream remembers at least what its children need from it, plus what its own windows
 * need from its parents. */
static void init_stream(em_dstream *ds, em_time zero, em_duration remember)
{
    ds->zero_time = zero;
    ds->initialized = true;
    if (remember > ds->remember)
        ds->remember = remember;
    em_duration extra =
        ds->klass->parent_remember_extra ? ds->klass->parent_remember_extra(ds) : 0;
    for (int i = 0; i < ds->n_parents; i++)
        init_stream(ds->parents[i], zero, ds->remember + extra);
}

void em__graph_init(em_ssc *ssc, em_time zero)
{
    for (guint i = 0; i < ssc->outputs->len; i++) {
        em_dstream *ds = ((em_output_op *)ssc->outputs->pdata[i])->ds;
        init_stream(ds, zero, MAX(ssc->remember, ds->slide));
    }
}

bool em__graph_start_inputs(em_ssc *ssc, GError **err)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->start && !in->klass->start(in, err)) {
            for (guint j = 0; j < i; j++) {
                em_dstream *started = ssc->inputs->pdata[j];
                if (started->klass->stop)
                    started->klass->stop(started, false);
            }
            return false;
        }
    }
    return true;
}

void em__graph_stop_inputs(em_ssc *ssc, bool graceful)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->stop)
            in->klass->stop(in, graceful);
    }
}

void em__graph_seal_inputs(em_ssc *ssc, em_time t)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->seal)
            in->klass->seal(in, t);
    }
}

bool em__graph_inputs_pending(em_ssc *ssc)
{
    for (guint i = 0; i < ssc->inputs->len; i++) {
        em_dstream *in = ssc->inputs->pdata[i];
        if (in->klass->has_pending && in->klass->has_pending(in))
            return true;
    }
    return false;
}

void em__graph_generate(em_ssc *ssc, em_time t, em_rdd **rdds, GError **errors)
{
    /* Each output is its own job (Spark): one failing to generate does not keep the others
     * from generating, so every stream of the batch computes t once and records the outcome. */
    g_rec_mutex_lock(&ssc->generate_lock);
    for (guint i = 0; i < ssc->outputs->len; i++) {
        em_output_op *op = ssc->outputs->pdata[i];
        errors[i] = NULL;
        rdds[i] = em__dstream_get_or_compute(op->ds, t, &errors[i]);
    }
    g_rec_mutex_unlock(&ssc->generate_lock);
}

void em__graph_clear_metadata(em_ssc *ssc, em_time t, int64_t *batches, int64_t *bytes)
{
    for (guint i = 0; i < ssc->outputs->len; i++)
        em__dstream_clear(((em_output_op *)ssc->outputs->pdata[i])->ds, t);
    int64_t n = 0, size = 0;
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < ssc->outputs->len; i++)
        em__dstream_retained(((em_output_op *)ssc->outputs->pdata[i])->ds, seen, &n, &size);
    g_hash_table_unref(seen);
    if (batches)
        *batches = n;
    if (bytes)
        *bytes = size;
}

void em__graph_batch_done(em_ssc *ssc, em_time t, bool succeeded)
{
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        if (ds->klass->batch_done)
            ds->klass->batch_done(ds, t, succeeded);
    }
}

void em__graph_free(em_ssc *ssc)
{
    for (guint i = 0; i < ssc->outputs->len; i++) {
        em_output_op *op = ssc->outputs->pdata[i];
        if (op->destroy)
            op->destroy(op->ud);
        g_free(op->fn_name);
        g_free(op);
    }
    g_ptr_array_unref(ssc->outputs);
    g_ptr_array_unref(ssc->inputs);
    /* Streams last: output operations and inputs only borrowed them. */
    g_ptr_array_unref(ssc->streams);
}
