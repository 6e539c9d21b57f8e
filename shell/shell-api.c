/* ember-shell's calls into Ember: every StreamingContext, DStream, RDD and queue operation the
 * shell offers is made here, with the same public calls a C program makes (<ember.h> only).
 * Functions over records are compiled lambdas passed as user data to shell-lambda.c's
 * adapters; foreachRDD and transform functions are driver-side closures run on the scheduler
 * thread. Keeping all of it in this file keeps an API change a change of one file. */
#include "shell.h"

#include <string.h>

/* ---- Function sets: Ember operators that take several functions share one user data ---- */

typedef struct fnset {
    sh_lambda *fn[3];
} fnset;

static void fnset_free(void *p)
{
    fnset *set = p;
    for (int i = 0; i < 3; i++)
        sh_lambda_free(set->fn[i]);
    g_free(set);
}

static em_value fnset_map0(em_value v, void *ud) { return sh_fn_map(v, ((fnset *)ud)->fn[0]); }
static em_value fnset_reduce0(em_value a, em_value b, void *ud)
{
    return sh_fn_reduce(a, b, ((fnset *)ud)->fn[0]);
}
static em_value fnset_reduce1(em_value a, em_value b, void *ud)
{
    return sh_fn_reduce(a, b, ((fnset *)ud)->fn[1]);
}
static em_value fnset_reduce2(em_value a, em_value b, void *ud)
{
    return sh_fn_reduce(a, b, ((fnset *)ud)->fn[2]);
}
static bool fnset_filter2(em_value v, void *ud) { return sh_fn_filter(v, ((fnset *)ud)->fn[2]); }

/* ---- Ember's refusals: a critical message, then NULL. While a statement runs, the shell
 *      catches those messages on its thread, to put them under a caret instead. ---- */

static void free_capture(gpointer p)
{
    if (p)
        g_string_free(p, TRUE);
}
static GPrivate capture = G_PRIVATE_INIT(free_capture);

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer ud)
{
    GString *buf = g_private_get(&capture);
    if (buf && (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))) {
        for (gsize i = 0; i < n; i++)
            if (!strcmp(fields[i].key, "MESSAGE")) {
                if (buf->len)
                    g_string_append_c(buf, '\n');
                g_string_append_len(buf, fields[i].value,
                                    fields[i].length < 0 ? (gssize)strlen(fields[i].value)
                                                         : fields[i].length);
                return G_LOG_WRITER_HANDLED;
            }
    }
    return g_log_writer_default(level, fields, n, ud);
}

void sh_api_install_log_writer(void) { g_log_set_writer_func(log_writer, NULL, NULL); }

void sh_api_capture_begin(void) { g_private_replace(&capture, g_string_new(NULL)); }

char *sh_api_capture_end(void)
{
    GString *buf = g_private_get(&capture);
    char *text = buf && buf->len ? g_strdup(buf->str) : NULL;
    g_private_replace(&capture, NULL);
    return text;
}

/* What Ember said when it refused the call just made (newly allocated), or NULL. */
static char *refusal(void)
{
    GString *buf = g_private_get(&capture);
    if (!buf || !buf->len)
        return NULL;
    char *text = g_strdup(buf->str);
    g_string_truncate(buf, 0);
    return text;
}

/* ---- StreamingContext ---- */

static const char *state_name(em_ssc_state st)
{
    switch (st) {
    case EM_SSC_INITIALIZED: return "INITIALIZED";
    case EM_SSC_ACTIVE: return "ACTIVE";
    case EM_SSC_STOPPED: return "STOPPED";
    }
    return "?";
}

/* Spark logs a failed batch's error and goes on: so does the shell, on stderr. */
static void on_batch_completed(const em_batch_info *info, void *ud)
{
    (void)ud;
    if (info->failed)
        fprintf(stderr, "[batch %" G_GINT64_FORMAT " ms failed] %s\n", (gint64)info->batch_time,
                info->failure ? info->failure : "");
}

static void on_receiver_error(const em_receiver_info *info, void *ud)
{
    (void)ud;
    fprintf(stderr, "[receiver %s] %s\n", info->name, info->last_error ? info->last_error : "");
}

sh_ssc *sh_api_ssc_new(em_context *sc, const char *master, const char *app, int64_t interval,
                       bool manual, GError **err)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.context = sc,
                                                 .master = sc ? NULL : master,
                                                 .app_name = app,
                                                 .batch_interval = interval,
                                                 .manual_clock = manual},
                                  err);
    if (!ssc)
        return NULL;
    em_ssc_add_listener(ssc,
                        &(em_listener){.batch_completed = on_batch_completed,
                                       .receiver_error = on_receiver_error},
                        NULL);
    sh_ssc *s = g_new0(sh_ssc, 1);
    s->ssc = ssc;
    s->interval = interval;
    s->manual = manual;
    s->graph = g_ptr_array_new();
    g_mutex_init(&s->lock);
    return s;
}

static void gnode_free(gpointer p)
{
    sh_gnode *g = p;
    g_free(g->binding);
    g_free(g->what);
    g_free(g);
}

void sh_api_ssc_free(sh_ssc *s)
{
    em_ssc_free(s->ssc);
    g_ptr_array_set_free_func(s->graph, gnode_free);
    g_ptr_array_free(s->graph, TRUE);
    g_mutex_clear(&s->lock);
    g_free(s);
}

bool sh_api_step(sh_ssc *s, GError **err)
{
    if (!s->manual) {
        g_set_error(err, SH_ERROR, SH_ERROR_EVAL,
                    "error: :step needs a manual clock: start ember-shell with --manual-clock, or "
                    "type :manual before new StreamingContext(...)");
        return false;
    }
    if (em_ssc_get_state(s->ssc) != EM_SSC_ACTIVE) {
        g_set_error(err, SH_ERROR, SH_ERROR_EVAL,
                    "error: :step needs a started StreamingContext "
                    "(it is %s): ssc.start()",
                    state_name(em_ssc_get_state(s->ssc)));
        return false;
    }
    em_ssc_advance_clock(s->ssc, s->interval);
    em_time t = em_ssc_clock_time(s->ssc);
    if (!em_ssc_wait_for_batch(s->ssc, t, 60000)) {
        g_set_error(err, SH_ERROR, SH_ERROR_EVAL,
                    "error: the batch at %" G_GINT64_FORMAT " ms did not complete", (gint64)t);
        return false;
    }
    return true;
}

char *sh_api_graph(sh_ssc *s)
{
    GString *out = g_string_new(NULL);
    g_string_append_printf(out,
                           "StreamingContext: batch interval %" G_GINT64_FORMAT " ms, %s "
                           "clock, %s\n",
                           s->interval, s->manual ? "manual" : "system",
                           state_name(em_ssc_get_state(s->ssc)));
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->graph->len; i++) {
        sh_gnode *g = s->graph->pdata[i];
        if (g->output)
            g_string_append(out, "  output ");
        else
            g_string_append_printf(out, "  [%d] ", g->id);
        if (g->binding)
            g_string_append_printf(out, "%s = ", g->binding);
        g_string_append(out, g->what);
        for (int k = 0; k < g->n_parents; k++)
            g_string_append_printf(out, "%s[%d]", k ? ", " : " <- ", g->parents[k]);
        g_string_append_c(out, '\n');
    }
    g_mutex_unlock(&s->lock);
    return g_string_free(out, FALSE);
}

static int add_gnode(sh_ssc *s, char *what, const sh_obj *p1, const sh_obj *p2, bool output)
{
    sh_gnode *g = g_new0(sh_gnode, 1);
    g->what = what;
    g->output = output;
    if (p1)
        g->parents[g->n_parents++] = p1->u.ds.gid;
    if (p2)
        g->parents[g->n_parents++] = p2->u.ds.gid;
    g_mutex_lock(&s->lock);
    int id = 0;
    for (guint i = 0; i < s->graph->len; i++)
        if (!((sh_gnode *)s->graph->pdata[i])->output)
            id++;
    g->id = output ? -1 : id;
    g_ptr_array_add(s->graph, g);
    g_mutex_unlock(&s->lock);
    return g->id;
}

void sh_api_name_stream(sh_obj *o, const char *name)
{
    sh_ssc *s = o->u.ds.ssc;
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->graph->len; i++) {
        sh_gnode *g = s->graph->pdata[i];
        if (!g->output && g->id == o->u.ds.gid && !g->binding)
            g->binding = g_strdup(name);
    }
    g_mutex_unlock(&s->lock);
}

/* A stream object for ds (NULL: Ember refused it, having logged why). */
static sh_obj *stream(sh_call *c, sh_ssc *s, em_dstream *ds, const sh_obj *p1, const sh_obj *p2)
{
    if (!ds) {
        char *why = refusal();
        sh_call_fail(c, -1, "%s", why ? why : "Ember refused it");
        g_free(why);
        return NULL;
    }
    sh_obj *o = sh_obj_new(O_DSTREAM);
    o->u.ds.ds = ds;
    o->u.ds.ssc = s;
    o->u.ds.gid = add_gnode(s, sh_call_text(c), p1, p2, false);
    return o;
}

static sh_obj *output_done(sh_call *c, sh_obj *recv)
{
    add_gnode(recv->u.ds.ssc, sh_call_text(c), recv, NULL, true);
    return sh_obj_new(O_UNIT);
}

static sh_obj *unit(void) { return sh_obj_new(O_UNIT); }

static sh_obj *value_obj(em_value v) { return sh_obj_value(v); }

/* ---- Driver closures Ember calls ---- */

/* Set while a foreachRDD or transform closure runs on this (the scheduler) thread: waiting
 * there for the context to end would wait for itself. */
static _Thread_local bool in_callback;

static bool foreach_rdd_cb(em_rdd *rdd, em_time time, void *ud, GError **err)
{
    sh_closure *cl = ud;
    sh_obj *args[2] = {sh_obj_new(O_RDD), sh_obj_new(O_TIME)};
    args[0]->u.rdd = em_rdd_ref(rdd);
    args[1]->u.ms = time;
    in_callback = true;
    sh_obj *r = sh_closure_call(cl, args, cl->nparams, err);
    in_callback = false;
    sh_obj_unref(args[0]);
    sh_obj_unref(args[1]);
    fflush(stdout);
    bool ok = r != NULL;
    sh_obj_unref(r);
    em_scratch_reset(); /* what the closure's expressions built on this thread */
    return ok;
}

/* The closure's result as transform's: an RDD, or NULL with err set (the batch fails). */
static em_rdd *transform_result(sh_obj *r, GError **err)
{
    em_rdd *out = NULL;
    if (r && r->kind == O_RDD)
        out = em_rdd_ref(r->u.rdd);
    else if (r)
        g_set_error(err, SH_ERROR, SH_ERROR_EVAL,
                    "error: transform's function must return an RDD, not %s %s",
                    sh_article(sh_obj_type_name(r)), sh_obj_type_name(r));
    sh_obj_unref(r);
    em_scratch_reset(); /* what the closure's expressions built on this thread */
    return out;
}

static em_rdd *transform_cb(em_rdd *rdd, em_time time, void *ud, GError **err)
{
    sh_closure *cl = ud;
    sh_obj *args[2] = {sh_obj_new(O_RDD), sh_obj_new(O_TIME)};
    args[0]->u.rdd = em_rdd_ref(rdd);
    args[1]->u.ms = time;
    in_callback = true;
    sh_obj *r = sh_closure_call(cl, args, cl->nparams, err);
    in_callback = false;
    sh_obj_unref(args[0]);
    sh_obj_unref(args[1]);
    return transform_result(r, err);
}

static em_rdd *transform_with_cb(em_rdd *a, em_rdd *b, em_time time, void *ud, GError **err)
{
    sh_closure *cl = ud;
    sh_obj *args[3] = {sh_obj_new(O_RDD), sh_obj_new(O_RDD), sh_obj_new(O_TIME)};
    args[0]->u.rdd = em_rdd_ref(a);
    args[1]->u.rdd = em_rdd_ref(b);
    args[2]->u.ms = time;
    in_callback = true;
    sh_obj *r = sh_closure_call(cl, args, cl->nparams, err);
    in_callback = false;
    for (int i = 0; i < 3; i++)
        sh_obj_unref(args[i]);
    return transform_result(r, err);
}

/* ---- Arguments ---- */

/* Whether argument i is written as a function (so that reduceByKeyAndWindow(f, inv, ...) can
 * be told from reduceByKeyAndWindow(f, window, ...)). */
static bool arg_is_fn(sh_call *c, int i)
{
    const sh_node *a = c->args[i];
    if (a->kind == N_LAMBDA || a->kind == N_ETA)
        return true;
    if (a->kind != N_IDENT)
        return false;
    sh_obj *o = sh_env_lookup(c->env, a->name);
    bool fn = o && o->kind == O_LAMBDA;
    sh_obj_unref(o);
    return fn;
}

static bool opt_int(sh_call *c, int i, int64_t *out, int64_t dflt)
{
    *out = dflt;
    return c->nargs <= i || sh_arg_int(c, i, out);
}

static sh_obj *other_stream(sh_call *c, int i, sh_obj *recv)
{
    sh_obj *o = sh_arg_obj(c, i, O_DSTREAM);
    if (o && o->u.ds.ssc != recv->u.ds.ssc) {
        sh_call_fail(c, i, "the two streams belong to different StreamingContexts");
        sh_obj_unref(o);
        return NULL;
    }
    return o;
}

/* ---- DStream methods ---- */

typedef sh_obj *(*method_fn)(sh_call *c, sh_obj *recv);
typedef struct method_entry {
    const char *name;
    method_fn fn;
} method_entry;

#define DS(recv) ((recv)->u.ds.ds)
#define SSC(recv) ((recv)->u.ds.ssc)

static sh_obj *ds_one_fn(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    const char *n = c->name;
    bool filter = !strcmp(n, "filter");
    sh_lambda *lam = sh_arg_fn(c, 0, filter ? R_FILTER : !strcmp(n, "reduce") ? R_REDUCE : R_MAP);
    if (!lam)
        return NULL;
    const char *text = sh_lambda_text(lam);
    em_dstream *ds = DS(recv), *out;
    if (!strcmp(n, "map"))
        out = em_map_full(ds, sh_fn_map, lam, sh_lambda_free, text);
    else if (!strcmp(n, "flatMap"))
        out = em_flat_map_full(ds, sh_fn_map, lam, sh_lambda_free, text);
    else if (filter)
        out = em_filter_full(ds, sh_fn_filter, lam, sh_lambda_free, text);
    else if (!strcmp(n, "mapValues"))
        out = em_map_values_full(ds, sh_fn_map, lam, sh_lambda_free, text);
    else if (!strcmp(n, "flatMapValues"))
        out = em_flat_map_values_full(ds, sh_fn_map, lam, sh_lambda_free, text);
    else
        out = em_reduce_full(ds, sh_fn_reduce, lam, sh_lambda_free, text);
    return stream(c, SSC(recv), out, recv, NULL);
}

static sh_obj *ds_map_partitions(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_MAP);
    if (!lam)
        return NULL;
    em_dstream *ds = em_map_partitions_full(DS(recv), sh_fn_partition, lam, sh_lambda_free,
                                            sh_lambda_text(lam));
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_glom(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return stream(c, SSC(recv), em_glom(DS(recv)), recv, NULL);
}

static sh_obj *ds_repartition(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_int(c, 0, &n))
        return NULL;
    if (n < 1 || n > 100000)
        return sh_call_fail(c, 0, "repartition takes a number of partitions from 1 to 100000");
    return stream(c, SSC(recv), em_repartition(DS(recv), (int)n), recv, NULL);
}

static sh_obj *ds_count(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return stream(c, SSC(recv), em_count(DS(recv)), recv, NULL);
}

static sh_obj *ds_count_by_value(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 0, 1) || !opt_int(c, 0, &n, 0))
        return NULL;
    return stream(c, SSC(recv), em_count_by_value_n(DS(recv), (int)n), recv, NULL);
}

static sh_obj *ds_union(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_obj *other = other_stream(c, 0, recv);
    if (!other)
        return NULL;
    sh_obj *r = stream(c, SSC(recv), em_union(DS(recv), DS(other)), recv, other);
    sh_obj_unref(other);
    return r;
}

static sh_obj *ds_transform(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_closure *cl = sh_arg_closure(c, 0, 1, 2);
    if (!cl)
        return NULL;
    char *text = sh_pos_text(&c->args[0]->pos);
    em_dstream *ds = em_transform_full(DS(recv), transform_cb, cl, sh_closure_free, text);
    g_free(text);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_transform_with(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 2, 2))
        return NULL;
    sh_obj *other = other_stream(c, 0, recv);
    if (!other)
        return NULL;
    sh_closure *cl = sh_arg_closure(c, 1, 2, 3);
    if (!cl) {
        sh_obj_unref(other);
        return NULL;
    }
    char *text = sh_pos_text(&c->args[1]->pos);
    em_dstream *ds =
        em_transform_with_full(DS(recv), DS(other), transform_with_cb, cl, sh_closure_free, text);
    g_free(text);
    sh_obj *r = stream(c, SSC(recv), ds, recv, other);
    sh_obj_unref(other);
    return r;
}

static sh_obj *ds_reduce_by_key(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_REDUCE);
    if (!lam)
        return NULL;
    em_dstream *ds = em_reduce_by_key_full(DS(recv), sh_fn_reduce, lam, sh_lambda_free,
                                           sh_lambda_text(lam), (int)n);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_group_by_key(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 0, 1) || !opt_int(c, 0, &n, 0))
        return NULL;
    return stream(c, SSC(recv), em_group_by_key_n(DS(recv), (int)n), recv, NULL);
}

static sh_obj *ds_combine_by_key(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 3, 4) || !opt_int(c, 3, &n, 0))
        return NULL;
    fnset *set = g_new0(fnset, 1);
    static const sh_role roles[] = {R_MAP, R_REDUCE, R_REDUCE};
    for (int i = 0; i < 3; i++)
        if (!(set->fn[i] = sh_arg_fn(c, i, roles[i]))) {
            fnset_free(set);
            return NULL;
        }
    char *name = g_strdup(sh_lambda_text(set->fn[0]));
    em_dstream *ds = em_combine_by_key_full(DS(recv), &(em_combine_spec){
                                                          .create = fnset_map0,
                                                          .merge_value = fnset_reduce1,
                                                          .merge_combiners = fnset_reduce2,
                                                          .ud = set,
                                                          .destroy = fnset_free,
                                                          .name = name,
                                                          .num_partitions = (int)n,
                                                      });
    g_free(name);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_join(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    sh_obj *other = other_stream(c, 0, recv);
    if (!other)
        return NULL;
    em_dstream *a = DS(recv), *b = DS(other), *ds;
    const char *k = c->name;
    if (!strcmp(k, "join"))
        ds = em_join_n(a, b, (int)n);
    else if (!strcmp(k, "leftOuterJoin"))
        ds = em_left_outer_join_n(a, b, (int)n);
    else if (!strcmp(k, "rightOuterJoin"))
        ds = em_right_outer_join_n(a, b, (int)n);
    else if (!strcmp(k, "fullOuterJoin"))
        ds = em_full_outer_join_n(a, b, (int)n);
    else
        ds = em_cogroup_n(a, b, (int)n);
    sh_obj *r = stream(c, SSC(recv), ds, recv, other);
    sh_obj_unref(other);
    return r;
}

/* Window and slide from arguments i and i + 1 (the slide defaults to the stream's). */
static bool window_args(sh_call *c, sh_obj *recv, int i, bool slide_required, int64_t *w,
                        int64_t *s)
{
    if (c->nargs <= i)
        return sh_call_fail(c, -1, "%s needs a window duration", c->name) != NULL;
    if (!sh_arg_duration(c, i, w))
        return false;
    *s = em_dstream_slide(DS(recv));
    if (c->nargs > i + 1)
        return sh_arg_duration(c, i + 1, s);
    if (slide_required)
        return sh_call_fail(c, -1, "%s needs a window and a slide duration", c->name) != NULL;
    return true;
}

static sh_obj *ds_window(sh_call *c, sh_obj *recv)
{
    int64_t w, s;
    if (!sh_call_arity(c, 1, 2) || !window_args(c, recv, 0, false, &w, &s))
        return NULL;
    return stream(c, SSC(recv), em_window(DS(recv), w, s), recv, NULL);
}

static sh_obj *ds_reduce_by_key_and_window(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 2, 6))
        return NULL;
    bool inv = c->nargs >= 3 && arg_is_fn(c, 1);
    int di = inv ? 2 : 1;
    int64_t w, s, n = 0;
    if (!window_args(c, recv, di, inv, &w, &s) || !opt_int(c, di + 2, &n, 0))
        return NULL;
    if (!inv && c->nargs > 4)
        return sh_call_fail(c, 4,
                            "reduceByKeyAndWindow(f, window, slide, numPartitions) takes "
                            "4 arguments at most; with an inverse function: (f, inv, "
                            "window, slide, numPartitions, filterFunc)");
    fnset *set = g_new0(fnset, 1);
    set->fn[0] = sh_arg_fn(c, 0, R_REDUCE);
    if (set->fn[0] && inv)
        set->fn[1] = sh_arg_fn(c, 1, R_REDUCE);
    if (set->fn[0] && (!inv || set->fn[1]) && inv && c->nargs > 5)
        set->fn[2] = sh_arg_fn(c, 5, R_FILTER);
    if (!set->fn[0] || (inv && !set->fn[1]) || (inv && c->nargs > 5 && !set->fn[2])) {
        fnset_free(set);
        return NULL;
    }
    char *name = g_strdup(sh_lambda_text(set->fn[0]));
    em_dstream *ds =
        em_reduce_by_key_and_window_full(DS(recv),
                                         &(em_reduce_window_spec){.fn = fnset_reduce0,
                                                                  .inv =
                                                                      inv ? fnset_reduce1 : NULL,
                                                                  .window = w,
                                                                  .slide = s,
                                                                  .num_partitions = (int)n,
                                                                  .filter = set->fn[2]
                                                                                ? fnset_filter2
                                                                                : NULL,
                                                                  .ud = set,
                                                                  .destroy = fnset_free,
                                                                  .name = name});
    g_free(name);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_reduce_by_window(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 3, 4))
        return NULL;
    bool inv = c->nargs == 4;
    int64_t w, s;
    if (!window_args(c, recv, inv ? 2 : 1, true, &w, &s))
        return NULL;
    fnset *set = g_new0(fnset, 1);
    set->fn[0] = sh_arg_fn(c, 0, R_REDUCE);
    if (set->fn[0] && inv)
        set->fn[1] = sh_arg_fn(c, 1, R_REDUCE);
    if (!set->fn[0] || (inv && !set->fn[1])) {
        fnset_free(set);
        return NULL;
    }
    char *name = g_strdup(sh_lambda_text(set->fn[0]));
    em_dstream *ds =
        em_reduce_by_window_full(DS(recv),
                                 &(em_reduce_window_spec){.fn = fnset_reduce0,
                                                          .inv = inv ? fnset_reduce1 : NULL,
                                                          .window = w,
                                                          .slide = s,
                                                          .ud = set,
                                                          .destroy = fnset_free,
                                                          .name = name});
    g_free(name);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_count_by_window(sh_call *c, sh_obj *recv)
{
    int64_t w, s;
    if (!sh_call_arity(c, 2, 2) || !window_args(c, recv, 0, true, &w, &s))
        return NULL;
    return stream(c, SSC(recv), em_count_by_window(DS(recv), w, s), recv, NULL);
}

static sh_obj *ds_group_by_key_and_window(sh_call *c, sh_obj *recv)
{
    int64_t w, s, n;
    if (!sh_call_arity(c, 1, 3) || !window_args(c, recv, 0, false, &w, &s) ||
        !opt_int(c, 2, &n, 0))
        return NULL;
    return stream(c, SSC(recv), em_group_by_key_and_window_n(DS(recv), w, s, (int)n), recv, NULL);
}

static sh_obj *ds_count_by_value_and_window(sh_call *c, sh_obj *recv)
{
    int64_t w, s, n;
    if (!sh_call_arity(c, 2, 3) || !window_args(c, recv, 0, true, &w, &s) || !opt_int(c, 2, &n, 0))
        return NULL;
    return stream(c, SSC(recv), em_count_by_value_and_window_n(DS(recv), w, s, (int)n), recv,
                  NULL);
}

static sh_obj *ds_update_state_by_key(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 3) || !opt_int(c, 1, &n, 0))
        return NULL;
    sh_obj *initial = c->nargs > 2 ? sh_arg_obj(c, 2, O_RDD) : NULL;
    if (c->nargs > 2 && !initial)
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_UPDATE);
    if (!lam) {
        sh_obj_unref(initial);
        return NULL;
    }
    em_dstream *ds =
        em_update_state_by_key_full(DS(recv),
                                    &(em_update_state_spec){.fn = sh_fn_update,
                                                            .ud = lam,
                                                            .destroy = sh_lambda_free,
                                                            .name = sh_lambda_text(lam),
                                                            .num_partitions = (int)n,
                                                            .initial_state =
                                                                initial ? initial->u.rdd : NULL});
    sh_obj_unref(initial);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_map_with_state(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_obj *spec = sh_arg_obj(c, 0, O_STATESPEC);
    if (!spec)
        return NULL;
    sh_statespec *sp = &spec->u.spec;
    GError *inner = NULL;
    sh_lambda *lam = sh_lambda_compile(sp->fn->u.lambda.node, sp->fn->u.lambda.env, R_MAPPING,
                                       "StateSpec.function", &inner);
    if (!lam) {
        g_propagate_error(c->err, inner);
        sh_obj_unref(spec);
        return NULL;
    }
    em_dstream *ds =
        em_map_with_state(DS(recv), &(em_state_spec){.fn = sh_fn_mapping,
                                                     .ud = lam,
                                                     .destroy = sh_lambda_free,
                                                     .name = sh_lambda_text(lam),
                                                     .num_partitions = sp->num_partitions,
                                                     .initial_state =
                                                         sp->initial ? sp->initial->u.rdd : NULL,
                                                     .timeout = sp->timeout});
    sh_obj_unref(spec);
    return stream(c, SSC(recv), ds, recv, NULL);
}

static sh_obj *ds_state_snapshots(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return stream(c, SSC(recv), em_state_snapshots(DS(recv)), recv, NULL);
}

static sh_obj *ds_cache(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 1))
        return NULL;
    em_cache(DS(recv));
    return sh_obj_ref(recv);
}

static sh_obj *ds_print(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 0, 1) || !opt_int(c, 0, &n, 10))
        return NULL;
    if (n < 0 || n > G_MAXINT)
        return sh_call_fail(c, 0, "print takes a number of records >= 0");
    em_print_num(DS(recv), (int)n);
    return output_done(c, recv);
}

static sh_obj *ds_foreach_rdd(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_closure *cl = sh_arg_closure(c, 0, 1, 2);
    if (!cl)
        return NULL;
    char *text = sh_pos_text(&c->args[0]->pos);
    em_foreach_rdd_full(DS(recv), foreach_rdd_cb, cl, sh_closure_free, text);
    g_free(text);
    return output_done(c, recv);
}

static sh_obj *ds_save_as_text_files(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 2))
        return NULL;
    char *prefix = sh_arg_string(c, 0);
    char *suffix = prefix && c->nargs > 1 ? sh_arg_string(c, 1) : NULL;
    if (!prefix || (c->nargs > 1 && !suffix)) {
        g_free(prefix);
        return NULL;
    }
    em_save_as_text_files(DS(recv), prefix, suffix);
    g_free(prefix);
    g_free(suffix);
    return output_done(c, recv);
}

static sh_obj *ds_slide(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    sh_obj *d = sh_obj_new(O_DURATION);
    d->u.ms = em_dstream_slide(DS(recv));
    return d;
}

static const method_entry dstream_methods[] = {
    {"map", ds_one_fn},
    {"flatMap", ds_one_fn},
    {"filter", ds_one_fn},
    {"mapValues", ds_one_fn},
    {"flatMapValues", ds_one_fn},
    {"reduce", ds_one_fn},
    {"mapPartitions", ds_map_partitions},
    {"glom", ds_glom},
    {"repartition", ds_repartition},
    {"count", ds_count},
    {"countByValue", ds_count_by_value},
    {"union", ds_union},
    {"transform", ds_transform},
    {"transformWith", ds_transform_with},
    {"reduceByKey", ds_reduce_by_key},
    {"groupByKey", ds_group_by_key},
    {"combineByKey", ds_combine_by_key},
    {"join", ds_join},
    {"leftOuterJoin", ds_join},
    {"rightOuterJoin", ds_join},
    {"fullOuterJoin", ds_join},
    {"cogroup", ds_join},
    {"window", ds_window},
    {"reduceByKeyAndWindow", ds_reduce_by_key_and_window},
    {"reduceByWindow", ds_reduce_by_window},
    {"countByWindow", ds_count_by_window},
    {"groupByKeyAndWindow", ds_group_by_key_and_window},
    {"countByValueAndWindow", ds_count_by_value_and_window},
    {"updateStateByKey", ds_update_state_by_key},
    {"mapWithState", ds_map_with_state},
    {"stateSnapshots", ds_state_snapshots},
    {"cache", ds_cache},
    {"persist", ds_cache},
    {"print", ds_print},
    {"foreachRDD", ds_foreach_rdd},
    {"saveAsTextFiles", ds_save_as_text_files},
    {"slideDuration", ds_slide},
    {NULL, NULL},
};

/* ---- StreamingContext methods ---- */

#define S(recv) ((recv)->u.ssc)

static sh_obj *input(sh_call *c, sh_obj *recv, em_dstream *ds)
{
    return stream(c, S(recv), ds, NULL, NULL);
}

static bool not_started(sh_call *c, sh_obj *recv)
{
    em_ssc_state st = em_ssc_get_state(S(recv)->ssc);
    if (st == EM_SSC_INITIALIZED)
        return true;
    sh_call_fail(c, -1,
                 "streams cannot be added to a StreamingContext that is %s; make a new "
                 "one: val ssc = new StreamingContext(sc, Seconds(1))",
                 state_name(st));
    return false;
}

static sh_obj *ssc_socket_text_stream(sh_call *c, sh_obj *recv)
{
    int64_t port;
    if (!sh_call_arity(c, 2, 3) || !not_started(c, recv))
        return NULL;
    char *host = sh_arg_string(c, 0);
    if (!host)
        return NULL;
    if (!sh_arg_int(c, 1, &port)) {
        g_free(host);
        return NULL;
    }
    if (port < 1 || port > 65535) {
        g_free(host);
        return sh_call_fail(c, 1, "a port is a number from 1 to 65535");
    }
    if (c->nargs > 2) { /* a StorageLevel: records are kept in memory whatever it says */
        sh_obj *level = sh_arg_obj(c, 2, O_STORAGE);
        if (!level) {
            g_free(host);
            return NULL;
        }
        sh_obj_unref(level);
    }
    sh_obj *r = input(c, recv, em_socket_text_stream(S(recv)->ssc, host, (int)port));
    g_free(host);
    return r;
}

static sh_obj *ssc_text_file_stream(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1) || !not_started(c, recv))
        return NULL;
    char *dir = sh_arg_string(c, 0);
    if (!dir)
        return NULL;
    GError *error = NULL;
    em_dstream *ds = em_text_file_stream_full(S(recv)->ssc, dir, NULL, &error);
    g_free(dir);
    if (!ds) {
        sh_call_fail(c, 0, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return input(c, recv, ds);
}

static sh_obj *ssc_queue_stream(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 3) || !not_started(c, recv))
        return NULL;
    sh_obj *q = sh_arg_obj(c, 0, O_QUEUE);
    if (!q)
        return NULL;
    bool one = true;
    sh_obj *dflt = NULL;
    if ((c->nargs > 1 && !sh_arg_bool(c, 1, &one)) ||
        (c->nargs > 2 && !(dflt = sh_arg_obj(c, 2, O_RDD)))) {
        sh_obj_unref(q);
        return NULL;
    }
    em_dstream *ds = em_queue_stream(S(recv)->ssc, q->u.queue,
                                     one ? EM_QUEUE_ONE_AT_A_TIME : EM_QUEUE_ALL_AT_ONCE,
                                     dflt ? dflt->u.rdd : NULL);
    sh_obj_unref(q);
    sh_obj_unref(dflt);
    return input(c, recv, ds);
}

static bool has_output(sh_ssc *s)
{
    bool any = false;
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->graph->len && !any; i++)
        any = ((sh_gnode *)s->graph->pdata[i])->output;
    g_mutex_unlock(&s->lock);
    return any;
}

/* ssc.union(Seq(a, b, ...)): the Seq is written out, its items are streams. */
static sh_obj *ssc_union(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1) || !not_started(c, recv))
        return NULL;
    const sh_node *seq = c->args[0];
    if (seq->kind != N_CALL || seq->kids[0]->kind != N_IDENT ||
        (strcmp(seq->kids[0]->name, "Seq") && strcmp(seq->kids[0]->name, "List") &&
         strcmp(seq->kids[0]->name, "Array")) ||
        seq->n_kids < 2)
        return sh_call_fail(c, 0, "ssc.union takes the streams written out: Seq(a, b, ...)");
    int n = seq->n_kids - 1;
    sh_obj **objs = g_new0(sh_obj *, n);
    em_dstream **streams = g_new0(em_dstream *, n);
    sh_obj *r = NULL;
    int i;
    for (i = 0; i < n; i++) {
        sh_obj *o = sh_eval(c->sh, seq->kids[1 + i], c->env, c->err);
        if (!o)
            break;
        objs[i] = o;
        if (o->kind != O_DSTREAM || o->u.ds.ssc != S(recv)) {
            sh_error_at(c->err, SH_ERROR_EVAL, &seq->kids[1 + i]->pos,
                        "ssc.union takes streams of this StreamingContext; this is %s %s",
                        sh_article(sh_obj_type_name(o)), sh_obj_type_name(o));
            break;
        }
        streams[i] = o->u.ds.ds;
    }
    if (i == n) {
        r = stream(c, S(recv), em_ssc_union(S(recv)->ssc, streams, (size_t)n), NULL, NULL);
        if (r) {
            g_mutex_lock(&S(recv)->lock);
            sh_gnode *g = g_ptr_array_index(S(recv)->graph, S(recv)->graph->len - 1);
            for (int k = 0; k < n && k < 8; k++)
                g->parents[k] = objs[k]->u.ds.gid;
            g->n_parents = MIN(n, 8);
            g_mutex_unlock(&S(recv)->lock);
        }
    }
    for (int k = 0; k < n; k++)
        sh_obj_unref(objs[k]);
    g_free(objs);
    g_free(streams);
    return r;
}

static sh_obj *ssc_start(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    if (em_ssc_get_state(S(recv)->ssc) == EM_SSC_INITIALIZED && !has_output(S(recv)))
        return sh_call_fail(c, -1,
                            "No output operations registered, so nothing to execute "
                            "(add print(), foreachRDD(...) or saveAsTextFiles(...))");
    GError *error = NULL;
    if (!em_ssc_start(S(recv)->ssc, &error)) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return unit();
}

static sh_obj *ssc_stop(sh_call *c, sh_obj *recv)
{
    bool flags[2] = {true, false}; /* stopSparkContext, stopGracefully */
    static const char *const names[] = {"stopSparkContext", "stopGracefully"};
    if (!sh_call_arity(c, 0, 2))
        return NULL;
    for (int i = 0; i < c->nargs; i++) {
        int k = i;
        const sh_node *arg = c->args[i];
        if (arg->kind == N_ASSIGN) {
            k = !strcmp(arg->name, names[0]) ? 0 : !strcmp(arg->name, names[1]) ? 1 : -1;
            if (k < 0)
                return sh_call_fail(c, i,
                                    "stop has no parameter %s (stopSparkContext, "
                                    "stopGracefully)",
                                    arg->name);
        }
        sh_call one = *c;
        one.args = arg->kind == N_ASSIGN ? (const sh_node *const *)arg->kids : c->args + i;
        one.nargs = 1;
        if (!sh_arg_bool(&one, 0, &flags[k]))
            return NULL;
    }
    bool graceful = flags[1];
    /* The shell's SparkContext (sc) outlives every StreamingContext, so that the next one can
     * use it: stopSparkContext is accepted and has no effect. */
    em_ssc_stop(S(recv)->ssc, graceful ? EM_STOP_GRACEFUL : EM_STOP_DEFAULT);
    fflush(stdout);
    return unit();
}

/* Waits in slices so that Ctrl-C (sh_interrupted) ends the wait. */
static sh_obj *await(sh_call *c, sh_obj *recv, int64_t timeout_ms, bool report)
{
    if (in_callback)
        return sh_call_fail(c, -1,
                            "%s cannot be called inside foreachRDD or transform: the "
                            "batch would wait for itself",
                            c->name);
    gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time() + timeout_ms * 1000;
    GError *error = NULL;
    int r = 0;
    sh_interrupted = 0;
    while (r == 0 && !sh_interrupted) {
        int64_t slice = 100;
        if (deadline >= 0) {
            int64_t left = (deadline - g_get_monotonic_time()) / 1000;
            if (left <= 0)
                break;
            slice = MIN(slice, left);
        }
        r = em_ssc_await_termination_or_timeout(S(recv)->ssc, slice, &error);
    }
    fflush(stdout);
    if (r < 0) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return report ? value_obj(em_bool(r == 1)) : unit();
}

static sh_obj *ssc_await(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return await(c, recv, -1, false);
}

static sh_obj *ssc_await_timeout(sh_call *c, sh_obj *recv)
{
    int64_t ms;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_int(c, 0, &ms))
        return NULL;
    if (ms < 0)
        return sh_call_fail(c, 0, "a timeout is a number of milliseconds >= 0");
    return await(c, recv, ms, true);
}

static sh_obj *ssc_remember(sh_call *c, sh_obj *recv)
{
    int64_t d;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_duration(c, 0, &d))
        return NULL;
    em_ssc_remember(S(recv)->ssc, d);
    return unit();
}

static sh_obj *ssc_spark_context(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    sh_obj *o = sh_obj_new(O_SC);
    o->u.sc = em_ssc_context(S(recv)->ssc);
    return o;
}

static sh_obj *ssc_checkpoint(sh_call *c, sh_obj *recv)
{
    (void)recv;
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    char *dir = sh_arg_string(c, 0);
    if (!dir)
        return NULL;
    fprintf(stderr,
            "warning: ssc.checkpoint(\"%s\"): Ember's shell keeps state in memory; "
            "nothing is checkpointed\n",
            dir);
    g_free(dir);
    return unit();
}

static sh_obj *ssc_get_state(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return value_obj(em_str(state_name(em_ssc_get_state(S(recv)->ssc))));
}

static const method_entry ssc_methods[] = {
    {"socketTextStream", ssc_socket_text_stream},
    {"textFileStream", ssc_text_file_stream},
    {"queueStream", ssc_queue_stream},
    {"union", ssc_union},
    {"start", ssc_start},
    {"stop", ssc_stop},
    {"awaitTermination", ssc_await},
    {"awaitTerminationOrTimeout", ssc_await_timeout},
    {"remember", ssc_remember},
    {"sparkContext", ssc_spark_context},
    {"checkpoint", ssc_checkpoint},
    {"getState", ssc_get_state},
    {NULL, NULL},
};

/* ---- SparkContext ---- */

static sh_obj *rdd_obj(sh_call *c, em_rdd *rdd)
{
    if (!rdd) {
        char *why = refusal();
        sh_call_fail(c, -1, "%s", why ? why : "Ember refused it");
        g_free(why);
        return NULL;
    }
    sh_obj *o = sh_obj_new(O_RDD);
    o->u.rdd = rdd;
    return o;
}

static sh_obj *sc_parallelize(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    if (n < 0 || n > 100000)
        return sh_call_fail(c, 1, "numSlices is a number from 1 to 100000");
    sh_obj *seq = sh_arg_obj(c, 0, O_VALUE);
    if (!seq)
        return NULL;
    em_value v = seq->u.val.v;
    if (em_type_of(v) != EM_T_LIST) {
        sh_obj_unref(seq);
        return sh_call_fail(c, 0, "%s takes a Seq(...), List(...) or a range (1 to 10)", c->name);
    }
    em_rdd *rdd = em_parallelize(recv->u.sc, v.as.items, em_list_len(v), (int)n);
    sh_obj_unref(seq);
    return rdd_obj(c, rdd);
}

static sh_obj *sc_text_file(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    char *path = sh_arg_string(c, 0);
    if (!path)
        return NULL;
    GError *error = NULL;
    em_rdd *rdd = em_text_file(recv->u.sc, path, (int)n, &error);
    g_free(path);
    if (!rdd) {
        sh_call_fail(c, 0, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return rdd_obj(c, rdd);
}

static sh_obj *sc_empty_rdd(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return rdd_obj(c, em_empty_rdd(recv->u.sc));
}

static sh_obj *sc_default_parallelism(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    return value_obj(em_int(em_context_default_parallelism(recv->u.sc)));
}

static const method_entry sc_methods[] = {
    {"parallelize", sc_parallelize},
    {"makeRDD", sc_parallelize},
    {"textFile", sc_text_file},
    {"emptyRDD", sc_empty_rdd},
    {"defaultParallelism", sc_default_parallelism},
    {NULL, NULL},
};

/* ---- RDD methods ---- */

#define RDD(recv) ((recv)->u.rdd)

static sh_obj *rdd_one_fn(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    const char *n = c->name;
    bool filter = !strcmp(n, "filter");
    sh_lambda *lam = sh_arg_fn(c, 0, filter ? R_FILTER : R_MAP);
    if (!lam)
        return NULL;
    const char *text = sh_lambda_text(lam);
    em_rdd *rdd = RDD(recv), *out;
    if (!strcmp(n, "map"))
        out = em_rdd_map_full(rdd, sh_fn_map, lam, sh_lambda_free, text);
    else if (!strcmp(n, "flatMap"))
        out = em_rdd_flat_map_full(rdd, sh_fn_map, lam, sh_lambda_free, text);
    else if (filter)
        out = em_rdd_filter_full(rdd, sh_fn_filter, lam, sh_lambda_free, text);
    else if (!strcmp(n, "mapValues"))
        out = em_rdd_map_values_full(rdd, sh_fn_map, lam, sh_lambda_free, text);
    else
        out = em_rdd_flat_map_values_full(rdd, sh_fn_map, lam, sh_lambda_free, text);
    return rdd_obj(c, out);
}

static sh_obj *rdd_map_partitions(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_MAP);
    if (!lam)
        return NULL;
    return rdd_obj(c, em_rdd_map_partitions_full(RDD(recv), sh_fn_partition, lam, sh_lambda_free,
                                                 sh_lambda_text(lam)));
}

static sh_obj *rdd_no_args(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    const char *n = c->name;
    em_rdd *rdd = RDD(recv);
    if (!strcmp(n, "keys"))
        return rdd_obj(c, em_rdd_keys(rdd));
    if (!strcmp(n, "values"))
        return rdd_obj(c, em_rdd_values(rdd));
    if (!strcmp(n, "glom"))
        return rdd_obj(c, em_rdd_glom(rdd));
    if (!strcmp(n, "zipWithIndex"))
        return rdd_obj(c, em_rdd_zip_with_index(rdd));
    if (!strcmp(n, "cache") || !strcmp(n, "persist"))
        return rdd_obj(c, em_rdd_ref(em_rdd_cache(rdd)));
    if (!strcmp(n, "unpersist")) {
        em_rdd_unpersist(rdd);
        return sh_obj_ref(recv);
    }
    if (!strcmp(n, "getNumPartitions"))
        return value_obj(em_int(em_rdd_num_partitions(rdd)));
    if (!strcmp(n, "id"))
        return value_obj(em_int(em_rdd_id(rdd)));
    char *s = em_rdd_debug_string(rdd); /* toDebugString */
    sh_obj *o = value_obj(em_str(s));
    g_free(s);
    return o;
}

static sh_obj *rdd_with_n(sh_call *c, sh_obj *recv)
{
    int64_t n;
    const char *k = c->name;
    bool required = !strcmp(k, "repartition") || !strcmp(k, "coalesce");
    if (!sh_call_arity(c, required ? 1 : 0, 1) || !opt_int(c, 0, &n, 0))
        return NULL;
    if (n < 0 || n > 100000 || (required && n == 0))
        return sh_call_fail(c, 0, "a number of partitions is from 1 to 100000");
    em_rdd *rdd = RDD(recv);
    if (!strcmp(k, "distinct"))
        return rdd_obj(c, em_rdd_distinct_n(rdd, (int)n));
    if (!strcmp(k, "groupByKey"))
        return rdd_obj(c, em_rdd_group_by_key_n(rdd, (int)n));
    if (!strcmp(k, "repartition"))
        return rdd_obj(c, em_rdd_repartition(rdd, (int)n));
    return rdd_obj(c, em_rdd_coalesce(rdd, (int)n, false));
}

static sh_obj *rdd_reduce_by_key(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_REDUCE);
    if (!lam)
        return NULL;
    return rdd_obj(c, em_rdd_reduce_by_key_full(RDD(recv), sh_fn_reduce, lam, sh_lambda_free,
                                                sh_lambda_text(lam), (int)n));
}

static sh_obj *rdd_binary(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 2) || !opt_int(c, 1, &n, 0))
        return NULL;
    sh_obj *other = sh_arg_obj(c, 0, O_RDD);
    if (!other)
        return NULL;
    em_rdd *a = RDD(recv), *b = RDD(other), *out;
    const char *k = c->name;
    if (!strcmp(k, "join"))
        out = em_rdd_join_n(a, b, (int)n);
    else if (!strcmp(k, "leftOuterJoin"))
        out = em_rdd_left_outer_join_n(a, b, (int)n);
    else if (!strcmp(k, "rightOuterJoin"))
        out = em_rdd_right_outer_join_n(a, b, (int)n);
    else if (!strcmp(k, "fullOuterJoin"))
        out = em_rdd_full_outer_join_n(a, b, (int)n);
    else if (!strcmp(k, "cogroup"))
        out = em_rdd_cogroup_n(a, b, (int)n);
    else if (!strcmp(k, "subtractByKey"))
        out = em_rdd_subtract_by_key_n(a, b, (int)n);
    else
        out = em_rdd_union(a, b);
    sh_obj_unref(other);
    return rdd_obj(c, out);
}

static sh_obj *rdd_sort_by_key(sh_call *c, sh_obj *recv)
{
    bool asc = true;
    int64_t n;
    if (!sh_call_arity(c, 0, 2) || (c->nargs > 0 && !sh_arg_bool(c, 0, &asc)) ||
        !opt_int(c, 1, &n, 0))
        return NULL;
    return rdd_obj(c, em_rdd_sort_by_key_n(RDD(recv), asc, (int)n));
}

static sh_obj *values_obj(sh_call *c, em_values *vals, GError *error)
{
    if (!vals) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    sh_obj *o = sh_obj_new(O_VALUE);
    o->u.val.owner = vals;
    o->u.val.v = (em_value){.type = EM_T_LIST,
                            .kind = EM_ARRAY,
                            .len = (uint32_t)vals->n,
                            .as.items = vals->items};
    return o;
}

static sh_obj *rdd_collect(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    GError *error = NULL;
    const char *k = c->name;
    em_values *vals = !strcmp(k, "collect")      ? em_rdd_collect(RDD(recv), &error)
                      : !strcmp(k, "countByKey") ? em_rdd_count_by_key(RDD(recv), &error)
                                                 : em_rdd_count_by_value(RDD(recv), &error);
    return values_obj(c, vals, error);
}

static sh_obj *rdd_take(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_int(c, 0, &n))
        return NULL;
    if (n < 0)
        return sh_call_fail(c, 0, "%s takes a count >= 0", c->name);
    GError *error = NULL;
    const char *k = c->name;
    em_values *vals = !strcmp(k, "take")  ? em_rdd_take(RDD(recv), (size_t)n, &error)
                      : !strcmp(k, "top") ? em_rdd_top(RDD(recv), (size_t)n, &error)
                                          : em_rdd_take_ordered(RDD(recv), (size_t)n, &error);
    return values_obj(c, vals, error);
}

static sh_obj *rdd_count(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    GError *error = NULL;
    if (!strcmp(c->name, "isEmpty")) {
        int r = em_rdd_is_empty(RDD(recv), &error);
        if (r < 0) {
            sh_call_fail(c, -1, "%s", error->message);
            g_error_free(error);
            return NULL;
        }
        return value_obj(em_bool(r == 1));
    }
    int64_t n = em_rdd_count(RDD(recv), &error);
    if (n < 0) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return value_obj(em_int(n));
}

static sh_obj *rdd_first_reduce(sh_call *c, sh_obj *recv)
{
    bool first = !strcmp(c->name, "first");
    if (!sh_call_arity(c, first ? 0 : 1, first ? 0 : 1))
        return NULL;
    sh_lambda *lam = first ? NULL : sh_arg_fn(c, 0, R_REDUCE);
    if (!first && !lam)
        return NULL;
    GError *error = NULL;
    em_arena *arena = em_arena_new();
    em_value v;
    bool ok = first ? em_rdd_first(RDD(recv), arena, &v, &error)
                    : em_rdd_reduce(RDD(recv), sh_fn_reduce, lam, arena, &v, &error);
    sh_lambda_free(lam);
    sh_obj *o = ok ? value_obj(v) : sh_call_fail(c, -1, "%s", error->message);
    g_clear_error(&error);
    em_arena_free(arena);
    return o;
}

static sh_obj *rdd_foreach(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_FOREACH);
    if (!lam)
        return NULL;
    GError *error = NULL;
    bool ok = em_rdd_foreach(RDD(recv), sh_fn_foreach, lam, &error);
    sh_lambda_free(lam);
    fflush(stdout);
    if (!ok) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return unit();
}

static sh_obj *rdd_foreach_partition(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_lambda *lam = sh_arg_fn(c, 0, R_FOREACH);
    if (!lam)
        return NULL;
    GError *error = NULL;
    bool ok = em_rdd_foreach_partition(RDD(recv), sh_fn_foreach_partition, lam, &error);
    sh_lambda_free(lam);
    fflush(stdout);
    if (!ok) {
        sh_call_fail(c, -1, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return unit();
}

static sh_obj *rdd_save(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    char *path = sh_arg_string(c, 0);
    if (!path)
        return NULL;
    GError *error = NULL;
    bool ok = em_rdd_save_as_text_file(RDD(recv), path, EM_COMPRESS_NONE, &error);
    g_free(path);
    if (!ok) {
        sh_call_fail(c, 0, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    return unit();
}

static const method_entry rdd_methods[] = {
    {"map", rdd_one_fn},
    {"flatMap", rdd_one_fn},
    {"filter", rdd_one_fn},
    {"mapValues", rdd_one_fn},
    {"flatMapValues", rdd_one_fn},
    {"mapPartitions", rdd_map_partitions},
    {"keys", rdd_no_args},
    {"values", rdd_no_args},
    {"glom", rdd_no_args},
    {"zipWithIndex", rdd_no_args},
    {"cache", rdd_no_args},
    {"persist", rdd_no_args},
    {"unpersist", rdd_no_args},
    {"getNumPartitions", rdd_no_args},
    {"id", rdd_no_args},
    {"toDebugString", rdd_no_args},
    {"distinct", rdd_with_n},
    {"groupByKey", rdd_with_n},
    {"repartition", rdd_with_n},
    {"coalesce", rdd_with_n},
    {"reduceByKey", rdd_reduce_by_key},
    {"join", rdd_binary},
    {"leftOuterJoin", rdd_binary},
    {"rightOuterJoin", rdd_binary},
    {"fullOuterJoin", rdd_binary},
    {"cogroup", rdd_binary},
    {"subtractByKey", rdd_binary},
    {"union", rdd_binary},
    {"sortByKey", rdd_sort_by_key},
    {"collect", rdd_collect},
    {"countByKey", rdd_collect},
    {"countByValue", rdd_collect},
    {"take", rdd_take},
    {"top", rdd_take},
    {"takeOrdered", rdd_take},
    {"count", rdd_count},
    {"isEmpty", rdd_count},
    {"first", rdd_first_reduce},
    {"reduce", rdd_first_reduce},
    {"foreach", rdd_foreach},
    {"foreachPartition", rdd_foreach_partition},
    {"saveAsTextFile", rdd_save},
    {NULL, NULL},
};

/* ---- Queues, StateSpecs, SparkConf ---- */

static sh_obj *queue_enqueue(sh_call *c, sh_obj *recv)
{
    if (c->nargs < 1)
        return sh_call_fail(c, -1, "enqueue takes one or more RDDs");
    for (int i = 0; i < c->nargs; i++) {
        sh_obj *rdd = sh_arg_obj(c, i, O_RDD);
        if (!rdd)
            return NULL;
        em_rdd_queue_push(recv->u.queue, rdd->u.rdd);
        sh_obj_unref(rdd);
    }
    return unit();
}

static sh_obj *queue_size(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 0, 0))
        return NULL;
    size_t n = em_rdd_queue_length(recv->u.queue);
    if (!strcmp(c->name, "isEmpty"))
        return value_obj(em_bool(n == 0));
    return value_obj(em_int((int64_t)n));
}

static const method_entry queue_methods[] = {
    {"enqueue", queue_enqueue}, {"size", queue_size}, {"length", queue_size},
    {"isEmpty", queue_size},    {NULL, NULL},
};

static sh_obj *spec_copy(const sh_obj *recv)
{
    sh_obj *o = sh_obj_new(O_STATESPEC);
    o->u.spec = recv->u.spec;
    sh_obj_ref(o->u.spec.fn);
    if (o->u.spec.initial)
        sh_obj_ref(o->u.spec.initial);
    return o;
}

static sh_obj *spec_initial_state(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_obj *rdd = sh_arg_obj(c, 0, O_RDD);
    if (!rdd)
        return NULL;
    sh_obj *o = spec_copy(recv);
    sh_obj_unref(o->u.spec.initial);
    o->u.spec.initial = rdd;
    return o;
}

static sh_obj *spec_num_partitions(sh_call *c, sh_obj *recv)
{
    int64_t n;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_int(c, 0, &n))
        return NULL;
    if (n < 1 || n > 100000)
        return sh_call_fail(c, 0, "a number of partitions is from 1 to 100000");
    sh_obj *o = spec_copy(recv);
    o->u.spec.num_partitions = (int)n;
    return o;
}

static sh_obj *spec_timeout(sh_call *c, sh_obj *recv)
{
    int64_t d;
    if (!sh_call_arity(c, 1, 1) || !sh_arg_duration(c, 0, &d))
        return NULL;
    sh_obj *o = spec_copy(recv);
    o->u.spec.timeout = d;
    return o;
}

static const method_entry spec_methods[] = {
    {"initialState", spec_initial_state},
    {"numPartitions", spec_num_partitions},
    {"timeout", spec_timeout},
    {NULL, NULL},
};

static sh_obj *conf_set(sh_call *c, sh_obj *recv)
{
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    char *s = sh_arg_string(c, 0);
    if (!s)
        return NULL;
    sh_obj *o = sh_obj_new(O_CONF);
    bool master = !strcmp(c->name, "setMaster");
    o->u.conf.master = master ? s : g_strdup(recv->u.conf.master);
    o->u.conf.app = master ? g_strdup(recv->u.conf.app) : s;
    return o;
}

static const method_entry conf_methods[] = {
    {"setMaster", conf_set},
    {"setAppName", conf_set},
    {NULL, NULL},
};

static const method_entry *table_of(sh_obj_kind kind)
{
    switch (kind) {
    case O_DSTREAM: return dstream_methods;
    case O_SSC: return ssc_methods;
    case O_SC: return sc_methods;
    case O_RDD: return rdd_methods;
    case O_QUEUE: return queue_methods;
    case O_STATESPEC: return spec_methods;
    case O_CONF: return conf_methods;
    default: return NULL;
    }
}

const char *const *sh_api_method_names(sh_obj_kind kind)
{
    static const char **names[O_STORAGE + 1];
    static GMutex lock;
    const method_entry *t = table_of(kind);
    if (!t)
        return NULL;
    g_mutex_lock(&lock);
    if (!names[kind]) {
        size_t n = 0;
        while (t[n].name)
            n++;
        names[kind] = g_new0(const char *, n + 1);
        for (size_t i = 0; i < n; i++)
            names[kind][i] = t[i].name;
    }
    g_mutex_unlock(&lock);
    return names[kind];
}

sh_obj *sh_api_method(sh_call *c, sh_obj *recv)
{
    if (recv->kind == O_DURATION && !strcmp(c->name, "milliseconds") && c->nargs <= 0)
        return value_obj(em_int(recv->u.ms));
    if (recv->kind == O_TIME && !strcmp(c->name, "milliseconds") && c->nargs <= 0)
        return value_obj(em_int(recv->u.ms));
    const method_entry *t = table_of(recv->kind);
    for (; t && t->name; t++)
        if (!strcmp(t->name, c->name))
            return t->fn(c, recv);
    if (recv->kind == O_DSTREAM && (!strcmp(c->name, "mapPartitions") ||
                                    !strcmp(c->name, "slice") || !strcmp(c->name, "checkpoint")))
        return sh_call_fail(c, -1, "DStream.%s is not supported by ember-shell", c->name);
    return sh_call_fail(c, -1, "%s is not a member of %s", c->name, sh_obj_type_name(recv));
}

/* ---- Constructors and static members ---- */

static const char *const queue_classes[] = {"Queue",
                                            "mutable.Queue",
                                            "scala.collection.mutable.Queue",
                                            "SynchronizedQueue",
                                            "mutable.SynchronizedQueue",
                                            NULL};

sh_obj *sh_api_new(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    sh_call c = {.sh = sh,
                 .env = env,
                 .node = n,
                 .sel = n,
                 .name = n->name,
                 .args = (const sh_node *const *)n->kids,
                 .nargs = n->n_kids,
                 .err = err};
    sh_pos name_pos = n->pos;
    if (!strcmp(n->name, "StreamingContext")) {
        if (n->n_kids != 2 && n->n_kids != 3) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos,
                        "new StreamingContext takes (sc, "
                        "Seconds(n)), (conf, Seconds(n)) or (master, "
                        "appName, Seconds(n))");
            return NULL;
        }
        int64_t interval;
        if (!sh_arg_duration(&c, n->n_kids - 1, &interval))
            return NULL;
        if (interval <= 0) {
            sh_call_fail(&c, n->n_kids - 1, "the batch interval must be > 0");
            return NULL;
        }
        em_context *sc = NULL;
        char *master = NULL, *app = NULL;
        if (n->n_kids == 3) {
            master = sh_arg_string(&c, 0);
            app = master ? sh_arg_string(&c, 1) : NULL;
            if (!app) {
                g_free(master);
                return NULL;
            }
        } else {
            sh_obj *first = sh_eval(sh, n->kids[0], env, err);
            if (!first)
                return NULL;
            if (first->kind == O_SC) {
                sc = first->u.sc;
            } else if (first->kind == O_CONF) {
                master = g_strdup(first->u.conf.master);
                app = g_strdup(first->u.conf.app);
            } else {
                sh_call_fail(&c, 0,
                             "new StreamingContext takes a SparkContext (sc) or a "
                             "SparkConf first, not %s %s",
                             sh_article(sh_obj_type_name(first)), sh_obj_type_name(first));
                sh_obj_unref(first);
                return NULL;
            }
            sh_obj_unref(first);
        }
        GError *error = NULL;
        sh_ssc *s = sh_api_ssc_new(sc, master ? master : "local[2]", app ? app : "ember-shell",
                                   interval, sh_shell_manual_clock(sh), &error);
        g_free(master);
        g_free(app);
        if (!s) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "%s", error->message);
            g_error_free(error);
            return NULL;
        }
        sh_shell_set_ssc(sh, s);
        sh_obj *o = sh_obj_new(O_SSC);
        o->u.ssc = s;
        return o;
    }
    if (!strcmp(n->name, "SparkConf")) {
        sh_obj *o = sh_obj_new(O_CONF);
        o->u.conf.master = g_strdup("local[2]");
        o->u.conf.app = g_strdup("ember-shell");
        return o;
    }
    if (g_strv_contains(queue_classes, n->name)) {
        if (n->n_kids != 0) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "new %s takes no arguments", n->name);
            return NULL;
        }
        em_rdd_queue *q = em_rdd_queue_new();
        sh_shell_keep_queue(sh, q);
        sh_obj *o = sh_obj_new(O_QUEUE);
        o->u.queue = q;
        return o;
    }
    name_pos.off += 4;
    name_pos.end = name_pos.off + (uint32_t)strlen(n->name);
    sh_error_at(err, SH_ERROR_EVAL, &name_pos,
                "ember-shell cannot make a new %s (it knows StreamingContext, SparkConf and "
                "mutable.Queue)",
                n->name);
    return NULL;
}

sh_obj *sh_api_static(sh_call *c, const char *object)
{
    if (!strcmp(object, "StorageLevel")) {
        if (c->nargs >= 0)
            return sh_call_fail(c, -1, "StorageLevel.%s takes no arguments", c->name);
        return sh_obj_new(O_STORAGE);
    }
    if (!strcmp(object, "Durations")) {
        static const char *const names[] = {"milliseconds", "seconds", "minutes", NULL};
        static const int64_t ms[] = {1, 1000, 60000};
        for (int i = 0; names[i]; i++)
            if (!strcmp(c->name, names[i])) {
                int64_t n;
                if (!sh_call_arity(c, 1, 1) || !sh_arg_int(c, 0, &n))
                    return NULL;
                sh_obj *d = sh_obj_new(O_DURATION);
                d->u.ms = n * ms[i];
                return d;
            }
        return sh_call_fail(c, -1,
                            "Durations.%s is not supported (milliseconds, seconds, "
                            "minutes are)",
                            c->name);
    }
    /* StateSpec.function(f) */
    if (strcmp(c->name, "function"))
        return sh_call_fail(c, -1, "StateSpec.%s is not supported (StateSpec.function is)",
                            c->name);
    if (!sh_call_arity(c, 1, 1))
        return NULL;
    sh_obj *fn = sh_eval(c->sh, c->args[0], c->env, c->err);
    if (!fn)
        return NULL;
    if (fn->kind != O_LAMBDA) {
        sh_call_fail(c, 0, "StateSpec.function takes a function (key, value, state) => ...");
        sh_obj_unref(fn);
        return NULL;
    }
    /* Checked now, so that a wrong function is reported where it is written. */
    GError *inner = NULL;
    sh_lambda *lam = sh_lambda_compile(fn->u.lambda.node, fn->u.lambda.env, R_MAPPING,
                                       "StateSpec.function", &inner);
    if (!lam) {
        g_propagate_error(c->err, inner);
        sh_obj_unref(fn);
        return NULL;
    }
    sh_lambda_free(lam);
    sh_obj *o = sh_obj_new(O_STATESPEC);
    o->u.spec.fn = fn;
    return o;
}

char *sh_api_describe(const sh_obj *o)
{
    switch (o->kind) {
    case O_VALUE: {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "%s = ", sh_obj_type_name(o));
        em_value_format(o->u.val.v, s);
        return g_string_free(s, FALSE);
    }
    case O_DURATION: return g_strdup_printf("Duration = %" G_GINT64_FORMAT " ms", o->u.ms);
    case O_TIME: return g_strdup_printf("Time = %" G_GINT64_FORMAT " ms", o->u.ms);
    case O_CONF:
        return g_strdup_printf("SparkConf(master=%s, appName=%s)", o->u.conf.master,
                               o->u.conf.app);
    case O_SC: return g_strdup_printf("SparkContext(%s)", em_context_master(o->u.sc));
    case O_SSC:
        return g_strdup_printf("StreamingContext(batch interval %" G_GINT64_FORMAT " ms, %s)",
                               o->u.ssc->interval, state_name(em_ssc_get_state(o->u.ssc->ssc)));
    case O_DSTREAM: {
        sh_ssc *s = o->u.ds.ssc;
        char *what = NULL;
        g_mutex_lock(&s->lock);
        for (guint i = 0; i < s->graph->len; i++) {
            sh_gnode *g = s->graph->pdata[i];
            if (!g->output && g->id == o->u.ds.gid)
                what = g_strdup(g->what);
        }
        g_mutex_unlock(&s->lock);
        char *d = g_strdup_printf("DStream[%d] = %s", o->u.ds.gid, what ? what : "?");
        g_free(what);
        return d;
    }
    case O_RDD:
        return g_strdup_printf("RDD[%d] (%d partitions)", em_rdd_id(o->u.rdd),
                               em_rdd_num_partitions(o->u.rdd));
    case O_QUEUE: return g_strdup_printf("Queue of %zu RDDs", em_rdd_queue_length(o->u.queue));
    case O_LAMBDA: {
        char *text = sh_pos_text(&o->u.lambda.node->pos);
        char *d = g_strdup_printf("function of %d parameter%s = %s", o->u.lambda.node->n_params,
                                  o->u.lambda.node->n_params == 1 ? "" : "s", text);
        g_free(text);
        return d;
    }
    case O_STATESPEC: return g_strdup("StateSpec");
    case O_BUILTIN: return g_strdup_printf("function %s", o->builtin);
    case O_STORAGE: return g_strdup("StorageLevel");
    case O_UNIT: return g_strdup("()");
    }
    return g_strdup("?");
}
