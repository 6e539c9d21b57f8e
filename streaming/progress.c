/* Progress records: the monitor every ssc carries, a listener that turns batch and output-op
 * events into one immutable em_batch_progress per batch (Spark's BatchUIData), and the JSON of
 * a record. Records are reference counted so readers (the page's thread, user code) take them
 * under a short lock and use them after releasing it. */
#include "ui-private.h"

#include <string.h>

/* A record and what it owns. pub comes first: the public pointer is the record's. */
typedef struct record {
    em_batch_progress pub;
    gint refs;
    GStringChunk *strings;
    em_input_progress *inputs;
    em_input_offset_range *offsets; /* every input's, one after the other */
    em_output_op_progress *ops;
    em_state_progress *states;
    em_batch_progress *base; /* a record this one copies with a new figure, or NULL */
} record;

/* The batch under way, on the scheduler thread. */
typedef struct em__builder {
    em_batch_info info; /* scalars only */
    int64_t *records;
    char *failure;
    GArray *ops; /* em_output_op_progress, strings g_strdup'ed */
} em__builder;

em_batch_progress *em_batch_progress_ref(em_batch_progress *p)
{
    g_atomic_int_inc(&((record *)p)->refs);
    return p;
}

void em_batch_progress_unref(em_batch_progress *p)
{
    record *r = (record *)p;
    if (!r || !g_atomic_int_dec_and_test(&r->refs))
        return;
    em_batch_progress_unref(r->base);
    if (r->strings)
        g_string_chunk_free(r->strings);
    g_free(r->inputs);
    g_free(r->offsets);
    g_free(r->ops);
    g_free(r->states);
    g_free(r);
}

static const char *keep(record *r, const char *s)
{
    return s ? g_string_chunk_insert(r->strings, s) : NULL;
}

static double per_second(int64_t records, int64_t ms)
{
    return ms > 0 ? (double)records * 1000.0 / (double)ms : 0.0;
}

/* Each input's offset ranges for batch t (Kafka's), copied into the record. */
static void attach_offsets(em__monitor *m, record *r, em_time t)
{
    GPtrArray *inputs = em__ui_inputs(m->ssc);
    em_input_offset_range *got[m->n_inputs > 0 ? m->n_inputs : 1];
    size_t n[m->n_inputs > 0 ? m->n_inputs : 1], total = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        got[i] = i < (int)inputs->len ? em__ui_input_offsets(inputs->pdata[i], t, &n[i]) : NULL;
        total += got[i] ? n[i] : 0;
    }
    r->offsets = g_new0(em_input_offset_range, total ? total : 1);
    size_t at = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        if (!got[i])
            continue;
        r->inputs[i].offset_ranges = r->offsets + at;
        r->inputs[i].n_offset_ranges = n[i];
        for (size_t j = 0; j < n[i]; j++, at++) {
            r->offsets[at] = got[i][j];
            r->offsets[at].topic = keep(r, got[i][j].topic);
            g_free((char *)got[i][j].topic);
        }
        g_free(got[i]);
    }
}

/* A record of the builder's batch as it stands, with states (may be NULL) after completion. */
static em_batch_progress *freeze(em__monitor *m, const em__builder *b, bool completed,
                                 const GArray *states)
{
    record *r = g_new0(record, 1);
    r->refs = 1;
    r->strings = g_string_chunk_new(256);
    em_batch_progress *p = &r->pub;
    const em_batch_info *info = &b->info;
    p->batch_time = info->batch_time;
    p->batch_interval = m->interval;
    p->completed = completed;
    p->failed = completed && info->failed;
    p->failure = completed ? keep(r, b->failure) : NULL;
    p->n_inputs = m->n_inputs;
    r->inputs = g_new0(em_input_progress, m->n_inputs > 0 ? m->n_inputs : 1);
    for (int i = 0; i < m->n_inputs; i++)
        r->inputs[i] = (em_input_progress){.stream_id = m->input_ids[i],
                                           .name = keep(r, m->input_names[i]),
                                           .records = i < info->n_inputs ? b->records[i] : 0};
    attach_offsets(m, r, info->batch_time);
    p->inputs = r->inputs;
    p->num_records = info->num_records;
    p->input_rate = per_second(info->num_records, m->interval);
    p->submission_time = info->submission_time;
    p->processing_start = info->processing_start;
    p->processing_end = completed ? info->processing_end : -1;
    p->scheduling_delay = info->scheduling_delay;
    p->processing_delay = completed ? info->processing_delay : -1;
    p->total_delay = completed ? info->total_delay : -1;
    if (completed)
        p->processing_rate = per_second(info->num_records, MAX(info->processing_delay, 1));
    p->n_output_ops = (int)b->ops->len;
    r->ops = g_new0(em_output_op_progress, b->ops->len ? b->ops->len : 1);
    for (guint i = 0; i < b->ops->len; i++) {
        const em_output_op_progress *o = &g_array_index(b->ops, em_output_op_progress, i);
        r->ops[i] = *o;
        r->ops[i].name = keep(r, o->name);
        r->ops[i].description = keep(r, o->description);
        r->ops[i].failure = keep(r, o->failure);
        r->ops[i].lineage = keep(r, o->lineage);
    }
    p->output_ops = r->ops;
    p->n_states = states ? (int)states->len : 0;
    r->states = g_new0(em_state_progress, p->n_states ? p->n_states : 1);
    for (int i = 0; i < p->n_states; i++) {
        r->states[i] = g_array_index(states, em_state_progress, i);
        r->states[i].name = keep(r, r->states[i].name);
    }
    p->states = r->states;
    p->retained_batches = completed ? info->retained_batches : 0;
    p->retained_bytes = completed ? info->retained_bytes : 0;
    p->checkpoint_time = -1; /* until the checkpoint is written: em__monitor_checkpoint_written */
    return p;
}

/* ---- The listener (scheduler thread, receiver events on receiver threads) ---- */

static void clear_ops(GArray *ops)
{
    for (guint i = 0; i < ops->len; i++) {
        em_output_op_progress *o = &g_array_index(ops, em_output_op_progress, i);
        g_free((char *)o->description);
        g_free((char *)o->failure);
        g_free((char *)o->lineage);
    }
    g_array_set_size(ops, 0);
}

/* The inputs' names, once: the graph is fixed by the first batch. */
static void learn_inputs(em__monitor *m, int n_inputs)
{
    if (m->input_ids)
        return;
    GPtrArray *inputs = em__ui_inputs(m->ssc);
    int n = MIN(n_inputs, (int)inputs->len);
    int *ids = g_new0(int, n ? n : 1);
    char **names = g_new0(char *, n ? n : 1);
    for (int i = 0; i < n; i++) {
        ids[i] = em__ui_input_id(inputs->pdata[i]);
        names[i] = em__ui_input_name(inputs->pdata[i]);
    }
    g_mutex_lock(&m->lock);
    m->n_inputs = n;
    m->input_ids = ids;
    m->input_names = names;
    m->input_totals = g_new0(int64_t, n ? n : 1);
    g_mutex_unlock(&m->lock);
}

static void publish_active(em__monitor *m)
{
    em_batch_progress *p = freeze(m, m->building, false, NULL);
    g_mutex_lock(&m->lock);
    em_batch_progress *old = m->active;
    m->active = p;
    g_mutex_unlock(&m->lock);
    em_batch_progress_unref(old);
}

static void on_batch_started(const em_batch_info *info, void *ud)
{
    em__monitor *m = ud;
    em__builder *b = m->building;
    learn_inputs(m, info->n_inputs);
    b->info = *info;
    b->records = g_renew(int64_t, b->records, info->n_inputs > 0 ? info->n_inputs : 1);
    for (int i = 0; i < info->n_inputs; i++)
        b->records[i] = info->input_records[i];
    b->info.input_records = NULL;
    b->info.failure = NULL;
    g_clear_pointer(&b->failure, g_free);
    clear_ops(b->ops);
    publish_active(m);
}

static em_output_op_progress *op_row(em__builder *b, int id)
{
    for (guint i = 0; i < b->ops->len; i++)
        if (g_array_index(b->ops, em_output_op_progress, i).id == id)
            return &g_array_index(b->ops, em_output_op_progress, i);
    return NULL;
}

static void on_op_started(const em_output_op_info *info, void *ud)
{
    em__monitor *m = ud;
    em_output_op_progress o = {.id = info->id,
                               .name = info->name,
                               .start_time = info->start_time,
                               .end_time = -1,
                               .duration = -1};
    o.description = info->id < em__ui_n_outputs(m->ssc)
                        ? em__ui_output_description(m->ssc, info->id)
                        : g_strdup(info->name);
    g_array_append_val(m->building->ops, o);
    publish_active(m);
}

static void on_op_completed(const em_output_op_info *info, void *ud)
{
    em__monitor *m = ud;
    em_output_op_progress *o = op_row(m->building, info->id);
    if (!o)
        return;
    o->end_time = info->end_time;
    o->duration = info->end_time - o->start_time;
    o->failure = g_strdup(info->failure);
}

static void free_states(GArray *states)
{
    for (guint i = 0; i < states->len; i++)
        g_free((char *)g_array_index(states, em_state_progress, i).name);
    g_array_unref(states);
}

static void warn_about(em__monitor *m, const em_batch_info *info)
{
    if (info->failed) {
        /* The scheduler's message already starts with "batch <t> ms: ". */
        char *prefix =
            g_strdup_printf("batch %" G_GINT64_FORMAT " ms: ", (gint64)info->batch_time);
        const char *why = info->failure ? info->failure : "(no message)";
        if (g_str_has_prefix(why, prefix))
            why += strlen(prefix);
        em__log(EM_LOG_WARN, "Batch %" G_GINT64_FORMAT " ms failed: %s", (gint64)info->batch_time,
                why);
        g_free(prefix);
    }
    if (em__behind_update(&m->behind, info->scheduling_delay, m->interval))
        em__log(EM_LOG_WARN,
                "Falling behind: the scheduling delay grew for %d batches in a row, to "
                "%" G_GINT64_FORMAT " ms at batch %" G_GINT64_FORMAT
                " ms (batch interval %" G_GINT64_FORMAT
                " ms): batches take longer to process than the interval",
                EM_FALLING_BEHIND_BATCHES, (gint64)info->scheduling_delay,
                (gint64)info->batch_time, (gint64)m->interval);
}

static void on_batch_completed(const em_batch_info *info, void *ud)
{
    em__monitor *m = ud;
    em__builder *b = m->building;
    if (b->info.batch_time != info->batch_time || !b->records)
        on_batch_started(info, ud); /* a listener added mid-batch: start from here */
    b->info = *info;
    b->info.input_records = NULL;
    b->info.failure = NULL;
    for (int i = 0; i < info->n_inputs; i++)
        b->records[i] = info->input_records[i];
    b->failure = g_strdup(info->failure);
    for (guint i = 0; i < b->ops->len; i++) {
        em_output_op_progress *o = &g_array_index(b->ops, em_output_op_progress, i);
        o->lineage = em__ui_output_lineage(m->ssc, o->id, info->batch_time);
    }
    GArray *states = em__ui_state_sizes(m->ssc);
    em_batch_progress *p = freeze(m, b, true, states);
    free_states(states);

    g_mutex_lock(&m->lock);
    if (m->checkpoint_batch == p->batch_time) /* not shared yet: it can take the figure */
        p->checkpoint_time = m->checkpoint_ms;
    g_queue_push_tail(&m->completed, p);
    em_batch_progress *dropped =
        m->completed.length > EM_UI_RETAINED_BATCHES ? g_queue_pop_head(&m->completed) : NULL;
    em_batch_progress *active = g_steal_pointer(&m->active);
    m->total_completed++;
    m->total_failed += info->failed;
    m->total_records += info->num_records;
    for (int i = 0; i < m->n_inputs && i < info->n_inputs; i++)
        m->input_totals[i] += info->input_records[i];
    g_mutex_unlock(&m->lock);
    em_batch_progress_unref(dropped);
    em_batch_progress_unref(active);
    warn_about(m, info);
}

/* Records are immutable: the new one shares the old one's strings and arrays. */
static em_batch_progress *with_checkpoint_time(em_batch_progress *old, int64_t ms)
{
    record *r = g_new0(record, 1);
    r->refs = 1;
    r->pub = *old;
    r->pub.checkpoint_time = ms;
    r->base = old; /* takes the caller's reference */
    return &r->pub;
}

void em__monitor_checkpoint_written(em_ssc *ssc, em_time t, int64_t ms)
{
    em__monitor *m = em__monitor_of(ssc);
    em_batch_progress *old = NULL;
    g_mutex_lock(&m->lock);
    for (GList *l = m->completed.tail; l && !old; l = l->prev) {
        if (((em_batch_progress *)l->data)->batch_time == t) {
            old = l->data;
            l->data = with_checkpoint_time(em_batch_progress_ref(old), ms);
        }
    }
    if (!old) {
        m->checkpoint_batch = t;
        m->checkpoint_ms = ms;
    }
    g_mutex_unlock(&m->lock);
    em_batch_progress_unref(old);
}

static em__receiver_row *receiver_row(em__monitor *m, int stream_id)
{
    for (guint i = 0; i < m->receivers->len; i++)
        if (g_array_index(m->receivers, em__receiver_row, i).stream_id == stream_id)
            return &g_array_index(m->receivers, em__receiver_row, i);
    em__receiver_row row = {.stream_id = stream_id, .last_error_time = -1};
    g_array_append_val(m->receivers, row);
    return &g_array_index(m->receivers, em__receiver_row, m->receivers->len - 1);
}

static void on_receiver(const em_receiver_info *info, em__monitor *m, bool error)
{
    g_mutex_lock(&m->lock);
    em__receiver_row *row = receiver_row(m, info->stream_id);
    if (!row->name && info->name)
        row->name = g_strdup(info->name);
    row->active = info->active;
    if (error || info->last_error) {
        g_free(row->last_error);
        row->last_error = g_strdup(info->last_error ? info->last_error : "(no message)");
        row->last_error_time = em__now_ms();
    }
    g_mutex_unlock(&m->lock);
}

static void on_receiver_started(const em_receiver_info *info, void *ud)
{
    on_receiver(info, ud, false);
}
static void on_receiver_error(const em_receiver_info *info, void *ud)
{
    on_receiver(info, ud, true);
}
static void on_receiver_stopped(const em_receiver_info *info, void *ud)
{
    on_receiver(info, ud, false);
}

const em_listener em__monitor_listener = {
    .batch_started = on_batch_started,
    .batch_completed = on_batch_completed,
    .output_op_started = on_op_started,
    .output_op_completed = on_op_completed,
    .receiver_started = on_receiver_started,
    .receiver_error = on_receiver_error,
    .receiver_stopped = on_receiver_stopped,
};

/* ---- The monitor ---- */

bool em__monitor_attach(em_ssc *ssc, const char *address, GError **err)
{
    em__monitor *m = g_new0(em__monitor, 1);
    m->ssc = ssc;
    m->interval = em_ssc_batch_interval(ssc);
    m->app_name = g_strdup(em__ui_app_name(ssc));
    m->start_time = em__now_ms();
    g_mutex_init(&m->lock);
    g_queue_init(&m->completed);
    m->receivers = g_array_new(FALSE, TRUE, sizeof(em__receiver_row));
    m->building = g_new0(em__builder, 1);
    m->building->info.batch_time = G_MININT64;
    m->checkpoint_batch = G_MININT64;
    m->building->ops = g_array_new(FALSE, TRUE, sizeof(em_output_op_progress));
    ssc->monitor = m;
    em_ssc_add_listener(ssc, &em__monitor_listener, m);
    if (address)
        return em_ssc_ui_start(ssc, address, err);
    const char *env = g_getenv("EMBER_UI");
    if (env && *env) {
        GError *env_err = NULL;
        if (!em_ssc_ui_start(ssc, env, &env_err)) {
            em__log(EM_LOG_WARN, "EMBER_UI=%s: %s; running without the page", env,
                    env_err->message);
            g_error_free(env_err);
        }
    }
    return true;
}

void em__monitor_stop_page(em_ssc *ssc)
{
    em__monitor *m = ssc->monitor;
    if (m && m->server) {
        em__ui_server_stop(m->server);
        m->server = NULL;
    }
}

void em__monitor_free(em_ssc *ssc)
{
    em__monitor *m = ssc->monitor;
    if (!m)
        return;
    em__monitor_stop_page(ssc);
    em__ui_queries_free(m);
    g_queue_clear_full(&m->completed, (GDestroyNotify)em_batch_progress_unref);
    em_batch_progress_unref(m->active);
    for (guint i = 0; i < m->receivers->len; i++) {
        em__receiver_row *row = &g_array_index(m->receivers, em__receiver_row, i);
        g_free(row->name);
        g_free(row->last_error);
    }
    g_array_unref(m->receivers);
    for (int i = 0; i < m->n_inputs; i++)
        g_free(m->input_names[i]);
    g_free(m->input_names);
    g_free(m->input_ids);
    g_free(m->input_totals);
    clear_ops(m->building->ops);
    g_array_unref(m->building->ops);
    g_free(m->building->records);
    g_free(m->building->failure);
    g_free(m->building);
    g_free(m->app_name);
    g_mutex_clear(&m->lock);
    g_free(m);
    ssc->monitor = NULL;
}

em__snapshot *em__monitor_snapshot(em__monitor *m)
{
    em__snapshot *s = g_new0(em__snapshot, 1);
    s->completed = g_ptr_array_new_with_free_func((GDestroyNotify)em_batch_progress_unref);
    s->receivers = g_array_new(FALSE, TRUE, sizeof(em__receiver_row));
    s->input_totals = g_array_new(FALSE, TRUE, sizeof(em_input_progress));
    s->interval = m->interval;
    s->app_name = m->app_name;
    s->start_time = m->start_time;
    s->queued = em__ui_queued_batches(m->ssc);
    g_mutex_lock(&m->lock);
    g_ptr_array_set_size(s->completed, 0);
    for (GList *l = m->completed.head; l; l = l->next)
        g_ptr_array_add(s->completed, em_batch_progress_ref(l->data));
    s->active = m->active ? em_batch_progress_ref(m->active) : NULL;
    for (guint i = 0; i < m->receivers->len; i++) {
        em__receiver_row row = g_array_index(m->receivers, em__receiver_row, i);
        row.name = g_strdup(row.name);
        row.last_error = g_strdup(row.last_error);
        g_array_append_val(s->receivers, row);
    }
    for (int i = 0; i < m->n_inputs; i++) {
        em_input_progress in = {.stream_id = m->input_ids[i],
                                .name = g_strdup(m->input_names[i]),
                                .records = m->input_totals[i]};
        g_array_append_val(s->input_totals, in);
    }
    s->total_completed = m->total_completed;
    s->total_failed = m->total_failed;
    s->total_records = m->total_records;
    g_mutex_unlock(&m->lock);
    return s;
}

void em__snapshot_free(em__snapshot *s)
{
    if (!s)
        return;
    g_ptr_array_unref(s->completed);
    em_batch_progress_unref(s->active);
    for (guint i = 0; i < s->receivers->len; i++) {
        em__receiver_row *row = &g_array_index(s->receivers, em__receiver_row, i);
        g_free(row->name);
        g_free(row->last_error);
    }
    g_array_unref(s->receivers);
    for (guint i = 0; i < s->input_totals->len; i++)
        g_free((char *)g_array_index(s->input_totals, em_input_progress, i).name);
    g_array_unref(s->input_totals);
    g_free(s);
}

em_batch_progress *em__progress_find(const em__snapshot *s, em_time t)
{
    if (s->active && s->active->batch_time == t)
        return s->active;
    for (guint i = 0; i < s->completed->len; i++) {
        em_batch_progress *p = s->completed->pdata[i];
        if (p->batch_time == t)
            return p;
    }
    return NULL;
}

/* ---- Public access ---- */

em_batch_progress *em_ssc_last_progress(em_ssc *ssc)
{
    em__monitor *m = em__monitor_of(ssc);
    g_mutex_lock(&m->lock);
    em_batch_progress *p = g_queue_peek_tail(&m->completed);
    if (p)
        em_batch_progress_ref(p);
    g_mutex_unlock(&m->lock);
    return p;
}

GPtrArray *em_ssc_recent_progress(em_ssc *ssc, int n)
{
    em__monitor *m = em__monitor_of(ssc);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)em_batch_progress_unref);
    g_mutex_lock(&m->lock);
    int have = (int)m->completed.length;
    int skip = n < have ? have - MAX(n, 0) : 0;
    GList *l = m->completed.head;
    for (int i = 0; l; l = l->next, i++)
        if (i >= skip)
            g_ptr_array_add(out, em_batch_progress_ref(l->data));
    g_mutex_unlock(&m->lock);
    return out;
}

/* ---- JSON ---- */

void em__json_string(GString *out, const char *s)
{
    if (!s) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*c < 0x20)
                g_string_append_printf(out, "\\u%04x", *c);
            else
                g_string_append_c(out, (char)*c);
        }
    }
    g_string_append_c(out, '"');
}

void em__json_date(GString *out, int64_t ms)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(ms / 1000);
    char *text = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    g_string_append_printf(out, "\"%s.%03dGMT\"", text, (int)(ms % 1000));
    g_free(text);
    g_date_time_unref(dt);
}

static void json_double(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.3f", v));
}

/* A -1 ("not yet") figure as null. */
static void json_ms(GString *out, int64_t v)
{
    if (v < 0)
        g_string_append(out, "null");
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)v);
}

char *em_batch_progress_to_json(const em_batch_progress *p)
{
    GString *o = g_string_new(NULL);
    g_string_append_printf(o,
                           "{\"batchTime\":%" G_GINT64_FORMAT
                           ",\"batchInterval\":%" G_GINT64_FORMAT
                           ",\"status\":\"%s\",\"failureReason\":",
                           (gint64)p->batch_time, (gint64)p->batch_interval,
                           !p->completed ? "PROCESSING"
                           : p->failed   ? "FAILED"
                                         : "COMPLETED");
    em__json_string(o, p->failure);
    g_string_append(o, ",\"inputs\":[");
    for (int i = 0; i < p->n_inputs; i++) {
        g_string_append_printf(o, "%s{\"streamId\":%d,\"name\":", i ? "," : "",
                               p->inputs[i].stream_id);
        em__json_string(o, p->inputs[i].name);
        g_string_append_printf(o, ",\"records\":%" G_GINT64_FORMAT, (gint64)p->inputs[i].records);
        /* Spark's OffsetRange fields, for inputs with offsets only. */
        if (p->inputs[i].offset_ranges) {
            g_string_append(o, ",\"offsetRanges\":[");
            for (size_t j = 0; j < p->inputs[i].n_offset_ranges; j++) {
                const em_input_offset_range * or = &p->inputs[i].offset_ranges[j];
                g_string_append_printf(o, "%s{\"topic\":", j ? "," : "");
                em__json_string(o, or->topic);
                g_string_append_printf(o,
                                       ",\"partition\":%d,\"fromOffset\":%" G_GINT64_FORMAT
                                       ",\"untilOffset\":%" G_GINT64_FORMAT "}",
                                       (int) or->partition, (gint64) or->from, (gint64) or->until);
            }
            g_string_append_c(o, ']');
        }
        g_string_append_c(o, '}');
    }
    g_string_append_printf(o, "],\"numRecords\":%" G_GINT64_FORMAT ",\"inputRate\":",
                           (gint64)p->num_records);
    json_double(o, p->input_rate);
    g_string_append(o, ",\"processingRate\":");
    json_double(o, p->processing_rate);
    const struct {
        const char *key;
        int64_t v;
    } times[] = {{"submissionTime", p->submission_time},
                 {"processingStartTime", p->processing_start},
                 {"processingEndTime", p->processing_end},
                 {"schedulingDelay", p->scheduling_delay},
                 {"processingDelay", p->processing_delay},
                 {"totalDelay", p->total_delay}};
    for (size_t i = 0; i < G_N_ELEMENTS(times); i++) {
        g_string_append_printf(o, ",\"%s\":", times[i].key);
        json_ms(o, times[i].v);
    }
    g_string_append(o, ",\"outputOperations\":[");
    for (int i = 0; i < p->n_output_ops; i++) {
        const em_output_op_progress *op = &p->output_ops[i];
        g_string_append_printf(o, "%s{\"outputOpId\":%d,\"name\":", i ? "," : "", op->id);
        em__json_string(o, op->name);
        g_string_append(o, ",\"description\":");
        em__json_string(o, op->description);
        g_string_append(o, ",\"startTime\":");
        json_ms(o, op->start_time);
        g_string_append(o, ",\"endTime\":");
        json_ms(o, op->end_time);
        g_string_append(o, ",\"duration\":");
        json_ms(o, op->duration);
        g_string_append(o, ",\"failureReason\":");
        em__json_string(o, op->failure);
        g_string_append(o, "}");
    }
    g_string_append(o, "],\"states\":[");
    for (int i = 0; i < p->n_states; i++) {
        g_string_append_printf(o, "%s{\"streamId\":%d,\"name\":", i ? "," : "",
                               p->states[i].stream_id);
        em__json_string(o, p->states[i].name);
        g_string_append_printf(o, ",\"keys\":%" G_GINT64_FORMAT ",\"bytes\":%" G_GINT64_FORMAT "}",
                               (gint64)p->states[i].keys, (gint64)p->states[i].bytes);
    }
    g_string_append_printf(o,
                           "],\"retainedBatches\":%" G_GINT64_FORMAT
                           ",\"retainedBytes\":%" G_GINT64_FORMAT ",\"checkpointTime\":",
                           (gint64)p->retained_batches, (gint64)p->retained_bytes);
    json_ms(o, p->checkpoint_time);
    g_string_append_c(o, '}');
    return g_string_free(o, FALSE);
}
