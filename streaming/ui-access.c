/* The operating rooms' window into the streaming internals: the graph, output operations,
 * lineage and state sizes that listener events do not carry. The only ui file that reads the
 * ssc's and streams' private fields, so that refactors of those touch one place. */
#include "ui-private.h"

#include <string.h>

em__monitor *em__monitor_of(em_ssc *ssc) { return ssc->monitor; }

GPtrArray *em__ui_inputs(em_ssc *ssc) { return ssc->inputs; }
GPtrArray *em__ui_streams(em_ssc *ssc) { return ssc->streams; }
int em__ui_n_outputs(em_ssc *ssc) { return (int)ssc->outputs->len; }
const char *em__ui_app_name(em_ssc *ssc) { return em_context_app_name(ssc->sc); }

em_dstream *em__ui_output_stream(em_ssc *ssc, int id)
{
    if (id < 0 || id >= (int)ssc->outputs->len)
        return NULL;
    return ((em_output_op *)ssc->outputs->pdata[id])->ds;
}

int64_t em__ui_queued_batches(em_ssc *ssc)
{
    if (!em__ui_graph_fixed(ssc) || !ssc->batches)
        return 0;
    return MAX(g_async_queue_length(ssc->batches), 0);
}

bool em__ui_graph_fixed(em_ssc *ssc) { return em_ssc_get_state(ssc) != EM_SSC_INITIALIZED; }

const char *em__ui_stream_op(const em_dstream *ds) { return ds->op; }
int em__ui_stream_id(const em_dstream *ds) { return ds->id; }
int em__ui_input_id(const em_dstream *ds) { return ds->input_id; }
em_input_offset_range *em__ui_input_offsets(em_dstream *ds, em_time t, size_t *n)
{
    *n = 0;
    return ds->klass->offset_ranges ? ds->klass->offset_ranges(ds, t, n) : NULL;
}
bool em__ui_input_is_receiver(const em_dstream *ds)
{
    return strcmp(ds->klass->type_name, "ReceiverInputDStream") == 0;
}
int em__ui_stream_n_parents(const em_dstream *ds) { return ds->n_parents; }
em_dstream *em__ui_stream_parent(const em_dstream *ds, int i) { return ds->parents[i]; }
const char *em__ui_stream_fn_name(const em_dstream *ds) { return ds->fn_name; }
bool em__ui_stream_is_input(const em_dstream *ds) { return ds->input_id >= 0; }

/* Windows report how far back they reach through parent_remember_extra: that is the window. */
em_duration em__ui_stream_window(const em_dstream *ds)
{
    if (!strstr(ds->klass->type_name, "Window") || !ds->klass->parent_remember_extra)
        return 0;
    return ds->klass->parent_remember_extra(ds);
}

/* Spark's InputDStream.name: the class name with "InputDStream" as "Stream", split into words
 * at capitals, lower-cased but the first letter, then " [id]" ("Queue stream [0]"). Receiver
 * streams are named for their operation ("socketTextStream" -> "Socket stream [0]", as
 * Spark's SocketInputDStream). */
char *em__ui_input_name(em_dstream *ds)
{
    GString *word = g_string_new(NULL);
    if (strcmp(ds->klass->type_name, "ReceiverInputDStream") == 0) {
        g_string_append(word, ds->op);
        const char *text = strstr(word->str, "TextStream");
        if (text)
            g_string_erase(word, (gssize)(text - word->str), 4);
    } else {
        g_string_append(word, ds->klass->type_name);
        const char *in = strstr(word->str, "InputDStream");
        if (in)
            g_string_truncate(word, (gsize)(in - word->str));
        g_string_append(word, "Stream");
    }
    GString *name = g_string_new(NULL);
    for (const char *c = word->str; *c; c++) {
        if (g_ascii_isupper(*c) && name->len)
            g_string_append_c(name, ' ');
        g_string_append_c(name, name->len ? g_ascii_tolower(*c) : g_ascii_toupper(*c));
    }
    g_string_append_printf(name, " [%d]", ds->input_id);
    g_string_free(word, TRUE);
    return g_string_free(name, FALSE);
}

char *em__ui_output_description(em_ssc *ssc, int id)
{
    em_output_op *op = ssc->outputs->pdata[id];
    if (op->fn_name)
        return g_strdup_printf("%s(%s) of %s [%d]", op->name, op->fn_name, op->ds->op, op->ds->id);
    return g_strdup_printf("%s of %s [%d]", op->name, op->ds->op, op->ds->id);
}

/* The RDD is looked up in what the stream remembers (it was just generated for t). */
char *em__ui_output_lineage(em_ssc *ssc, int id, em_time t)
{
    em_dstream *ds = em__ui_output_stream(ssc, id);
    if (!ds)
        return NULL;
    em_rdd *rdd = NULL;
    g_mutex_lock(&ds->lock);
    for (guint i = 0; i < ds->generated->len; i++) {
        em_generated *g = &g_array_index(ds->generated, em_generated, i);
        if (g->time == t)
            rdd = em_rdd_ref(g->rdd);
    }
    g_mutex_unlock(&ds->lock);
    if (!rdd)
        return NULL;
    char *text = em_rdd_debug_string(rdd);
    em_rdd_unref(rdd);
    return text;
}

/* updateStateByKey's state is its newest RDD, computed at once and cached (its lineage cut):
 * the keys are its cached records, the bytes what it keeps alive. */
static void update_state_size(em_dstream *ds, int64_t *keys, int64_t *bytes)
{
    em_rdd *rdd = NULL;
    g_mutex_lock(&ds->lock);
    if (ds->generated->len)
        rdd = em_rdd_ref(g_array_index(ds->generated, em_generated, ds->generated->len - 1).rdd);
    g_mutex_unlock(&ds->lock);
    *keys = *bytes = 0;
    if (!rdd)
        return;
    g_mutex_lock(&rdd->cache_lock);
    for (int p = 0; rdd->cache && p < rdd->num_partitions; p++)
        *keys += rdd->cache[p] ? (int64_t)rdd->cache[p]->n : 0;
    g_mutex_unlock(&rdd->cache_lock);
    *bytes = (int64_t)em__rdd_retained_bytes(rdd);
    em_rdd_unref(rdd);
}

GArray *em__ui_state_sizes(em_ssc *ssc)
{
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(em_state_progress));
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        bool map_state = strcmp(ds->op, "mapWithState") == 0;
        if (!map_state && strcmp(ds->op, "updateStateByKey") != 0)
            continue;
        em_state_progress row = {.stream_id = ds->id};
        if (map_state)
            em_map_with_state_size(ds, &row.keys, &row.bytes);
        else
            update_state_size(ds, &row.keys, &row.bytes);
        row.name = g_strdup_printf("%s [%d]", ds->op, ds->id);
        g_array_append_val(rows, row);
    }
    return rows;
}
