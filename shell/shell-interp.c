/* ember-shell's interpreter, the driver side: statements, bindings and the objects a Spark
 * program handles at the driver (contexts, streams, RDDs, queues, durations, functions).
 * Methods of those objects are in shell-api.c, where every Ember call is; expressions over
 * records are compiled by shell-lambda.c. The global bindings are shared with the scheduler
 * thread (foreachRDD and transform functions run there), so they are locked. */
#include "shell.h"

#include <stdarg.h>
#include <string.h>

volatile int sh_interrupted;

struct sh_shell {
    sh_opts opts;
    sh_env *globals;
    GPtrArray *sources; /* sh_source*, kept for errors and lambda texts */
    GPtrArray *arenas;  /* the syntax trees */
    GPtrArray *sscs;    /* sh_ssc*, freed at the end, before the queues */
    GPtrArray *queues;  /* em_rdd_queue* */
    sh_ssc *current;
    em_context *sc;
    int res_count;
    GMutex lock; /* sscs, queues, current */
};

/* ---- Objects ---- */

sh_obj *sh_obj_new(sh_obj_kind kind)
{
    sh_obj *o = g_new0(sh_obj, 1);
    o->kind = kind;
    o->refs = 1;
    return o;
}

sh_obj *sh_obj_ref(sh_obj *o)
{
    g_atomic_int_inc(&o->refs);
    return o;
}

void sh_obj_unref(sh_obj *o)
{
    if (!o || !g_atomic_int_dec_and_test(&o->refs))
        return;
    switch (o->kind) {
    case O_VALUE:
        em_arena_free(o->u.val.arena);
        em_values_free(o->u.val.owner);
        break;
    case O_CONF:
        g_free(o->u.conf.master);
        g_free(o->u.conf.app);
        break;
    case O_RDD: em_rdd_unref(o->u.rdd); break;
    case O_LAMBDA:
        if (o->u.lambda.env)
            sh_env_unref(o->u.lambda.env);
        break;
    case O_STATESPEC:
        sh_obj_unref(o->u.spec.fn);
        sh_obj_unref(o->u.spec.initial);
        break;
    default: break;
    }
    g_free(o);
}

sh_obj *sh_obj_value(em_value v)
{
    sh_obj *o = sh_obj_new(O_VALUE);
    o->u.val.arena = em_arena_new();
    o->u.val.v = em_value_copy(v, o->u.val.arena);
    return o;
}

const char *sh_article(const char *type_name)
{
    return strchr("AEIOaeio", type_name[0]) || !strcmp(type_name, "RDD") ? "an" : "a";
}

const char *sh_obj_type_name(const sh_obj *o)
{
    switch (o->kind) {
    case O_UNIT: return "Unit";
    case O_VALUE:
        switch (em_type_of(o->u.val.v)) {
        case EM_T_NULL: return "Null";
        case EM_T_BOOL: return "Boolean";
        case EM_T_INT: return "Int";
        case EM_T_DOUBLE: return "Double";
        case EM_T_STR: return "String";
        case EM_T_TUPLE: return "Tuple";
        case EM_T_LIST: return o->u.val.v.kind == EM_ARRAY ? "Array" : "Seq";
        case EM_T_SOME:
        case EM_T_NONE: return "Option";
        }
        return "value";
    case O_DURATION: return "Duration";
    case O_TIME: return "Time";
    case O_CONF: return "SparkConf";
    case O_SC: return "SparkContext";
    case O_SSC: return "StreamingContext";
    case O_DSTREAM: return "DStream";
    case O_RDD: return "RDD";
    case O_QUEUE: return "Queue";
    case O_LAMBDA: return "function";
    case O_STATESPEC: return "StateSpec";
    case O_BUILTIN: return "function";
    case O_STORAGE: return "StorageLevel";
    }
    return "object";
}

/* ---- Bindings ---- */

typedef struct binding {
    sh_obj *obj;
    bool is_var;
} binding;

struct sh_env {
    GHashTable *vars; /* name -> binding* */
    sh_env *parent;
    int refs;
    GMutex lock;
};

static void binding_free(gpointer p)
{
    binding *b = p;
    sh_obj_unref(b->obj);
    g_free(b);
}

sh_env *sh_env_new(sh_env *parent)
{
    sh_env *env = g_new0(sh_env, 1);
    env->vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, binding_free);
    env->parent = parent ? sh_env_ref(parent) : NULL;
    env->refs = 1;
    g_mutex_init(&env->lock);
    return env;
}

sh_env *sh_env_ref(sh_env *env)
{
    g_atomic_int_inc(&env->refs);
    return env;
}

void sh_env_unref(sh_env *env)
{
    if (!env || !g_atomic_int_dec_and_test(&env->refs))
        return;
    g_hash_table_unref(env->vars);
    if (env->parent)
        sh_env_unref(env->parent);
    g_mutex_clear(&env->lock);
    g_free(env);
}

sh_obj *sh_env_lookup(sh_env *env, const char *name)
{
    for (; env; env = env->parent) {
        g_mutex_lock(&env->lock);
        binding *b = g_hash_table_lookup(env->vars, name);
        sh_obj *o = b ? sh_obj_ref(b->obj) : NULL;
        g_mutex_unlock(&env->lock);
        if (o)
            return o;
    }
    return NULL;
}

static void env_bind(sh_env *env, const char *name, sh_obj *o, bool is_var)
{
    binding *b = g_new(binding, 1);
    *b = (binding){o, is_var};
    g_mutex_lock(&env->lock);
    g_hash_table_insert(env->vars, g_strdup(name), b);
    g_mutex_unlock(&env->lock);
}

void sh_env_bind(sh_env *env, const char *name, sh_obj *o) { env_bind(env, name, o, false); }

/* Rebinds a var; false when name is not a var anywhere up the chain. */
static int env_assign(sh_env *env, const char *name, sh_obj *o)
{
    for (; env; env = env->parent) {
        g_mutex_lock(&env->lock);
        binding *b = g_hash_table_lookup(env->vars, name);
        int r = -1;
        if (b && b->is_var) {
            sh_obj_unref(b->obj);
            b->obj = o;
            r = 1;
        } else if (b) {
            r = 0;
        }
        g_mutex_unlock(&env->lock);
        if (r >= 0)
            return r;
    }
    return -1;
}

GPtrArray *sh_env_names(sh_env *env)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (; env; env = env->parent) {
        g_mutex_lock(&env->lock);
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, env->vars);
        while (g_hash_table_iter_next(&it, &k, NULL))
            g_ptr_array_add(names, g_strdup(k));
        g_mutex_unlock(&env->lock);
    }
    return names;
}

/* ---- Evaluation ---- */

static sh_obj *driver_cb(const sh_node *expr, sh_env *env, void *ctx, GError **err)
{
    return sh_eval(ctx, expr, env, err);
}

static sh_obj *value_of(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    return sh_eval_value(n, env, driver_cb, sh, err);
}

static sh_obj *unit(void) { return sh_obj_new(O_UNIT); }

static sh_obj *duration(int64_t ms)
{
    sh_obj *o = sh_obj_new(O_DURATION);
    o->u.ms = ms;
    return o;
}

/* Prints o at the driver as Scala's println would. */
static void print_obj(const sh_obj *o)
{
    GString *s = g_string_new(NULL);
    switch (o->kind) {
    case O_VALUE: em_value_format(o->u.val.v, s); break;
    case O_UNIT: g_string_append(s, "()"); break;
    case O_DURATION:
    case O_TIME: g_string_append_printf(s, "%" G_GINT64_FORMAT " ms", o->u.ms); break;
    default: {
        char *d = sh_api_describe(o);
        g_string_append(s, d);
        g_free(d);
    }
    }
    g_string_append_c(s, '\n');
    fwrite(s->str, 1, s->len, stdout);
    g_string_free(s, TRUE);
}

static bool is_ident(const sh_node *n, const char *name)
{
    return n->kind == N_IDENT && !strcmp(n->name, name);
}

static const char *const duration_fns[] = {"Milliseconds", "Seconds", "Minutes", NULL};
static const int64_t duration_ms[] = {1, 1000, 60000};

static sh_obj *eval_call_ident(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    const sh_node *callee = n->kids[0];
    int nargs = n->n_kids - 1;
    sh_obj *bound = sh_env_lookup(env, callee->name);
    if (bound && bound->kind != O_LAMBDA) {
        /* xs(i) on a value, or something that cannot be called. */
        if (bound->kind == O_VALUE) {
            sh_obj_unref(bound);
            return value_of(sh, n, env, err);
        }
        sh_error_at(err, SH_ERROR_EVAL, &callee->pos, "%s is %s %s: it cannot be called",
                    callee->name, sh_article(sh_obj_type_name(bound)), sh_obj_type_name(bound));
        sh_obj_unref(bound);
        return NULL;
    }
    if (bound)
        sh_obj_unref(bound);
    for (int i = 0; duration_fns[i]; i++)
        if (!strcmp(callee->name, duration_fns[i]) && !bound) {
            if (nargs != 1) {
                sh_error_at(err, SH_ERROR_EVAL, &n->pos, "%s takes 1 argument", callee->name);
                return NULL;
            }
            sh_obj *v = value_of(sh, n->kids[1], env, err);
            if (!v)
                return NULL;
            if (em_type_of(v->u.val.v) != EM_T_INT || em_as_int(v->u.val.v) < 0) {
                sh_error_at(err, SH_ERROR_EVAL, &n->kids[1]->pos, "%s takes a whole number >= 0",
                            callee->name);
                sh_obj_unref(v);
                return NULL;
            }
            sh_obj *d = duration(em_as_int(v->u.val.v) * duration_ms[i]);
            sh_obj_unref(v);
            return d;
        }
    if (!strcmp(callee->name, "println") && !bound) {
        if (nargs > 1) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "println takes 1 argument");
            return NULL;
        }
        sh_obj *v = nargs ? sh_eval(sh, n->kids[1], env, err) : NULL;
        if (nargs && !v)
            return NULL;
        if (v)
            print_obj(v);
        else
            fputc('\n', stdout);
        sh_obj_unref(v);
        return unit();
    }
    return value_of(sh, n, env, err);
}

/* Names usable before a '.' that are not bindings: StateSpec.function, StorageLevel.X, ... */
static const char *const static_objects[] = {"StateSpec", "StorageLevel", "Durations", NULL};

static sh_obj *eval_method(sh_shell *sh, const sh_node *n, const sh_node *sel, sh_env *env,
                           GError **err)
{
    sh_call c = {.sh = sh,
                 .env = env,
                 .node = n ? n : sel,
                 .sel = sel,
                 .name = sel->name,
                 .args = n ? (const sh_node *const *)n->kids + 1 : NULL,
                 .nargs = n ? n->n_kids - 1 : -1,
                 .err = err};
    const sh_node *recv_node = sel->kids[0];
    if (recv_node->kind == N_IDENT) {
        sh_obj *bound = sh_env_lookup(env, recv_node->name);
        if (!bound && g_strv_contains(static_objects, recv_node->name))
            return sh_api_static(&c, recv_node->name);
        if (!bound && (is_ident(recv_node, "math") || is_ident(recv_node, "Math")))
            return value_of(sh, n ? n : sel, env, err);
        if (bound)
            sh_obj_unref(bound);
    }
    for (int i = 0; i < c.nargs; i++)
        if (c.args[i]->kind == N_ASSIGN && strcmp(sel->name, "stop")) {
            sh_error_at(err, SH_ERROR_EVAL, &c.args[i]->pos,
                        "named arguments are read by ssc.stop only; give %s's arguments in order",
                        sel->name);
            return NULL;
        }
    sh_obj *recv = sh_eval(sh, recv_node, env, err);
    if (!recv)
        return NULL;
    sh_obj *r;
    if (recv->kind == O_VALUE)
        r = sh_eval_value_method(recv->u.val.v, n ? n : sel, env, driver_cb, sh, err);
    else
        r = sh_api_method(&c, recv);
    sh_obj_unref(recv);
    return r;
}

static sh_obj *eval_block(sh_shell *sh, const sh_node *n, sh_env *env, GError **err);
static sh_obj *exec_stmt(sh_shell *sh, const sh_node *s, sh_env *env, bool top, GError **err);

static sh_obj *eval_binop(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    const char *op = n->name;
    if (!strcmp(op, "+=")) {
        sh_obj *lhs = sh_eval(sh, n->kids[0], env, err);
        if (!lhs)
            return NULL;
        if (lhs->kind != O_QUEUE) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "+= is supported on a Queue of RDDs only");
            sh_obj_unref(lhs);
            return NULL;
        }
        sh_obj *rhs = sh_eval(sh, n->kids[1], env, err);
        if (rhs && rhs->kind != O_RDD) {
            sh_error_at(err, SH_ERROR_EVAL, &n->kids[1]->pos,
                        "a queue for queueStream holds RDDs; this is %s %s",
                        sh_article(sh_obj_type_name(rhs)), sh_obj_type_name(rhs));
            sh_obj_unref(rhs);
            rhs = NULL;
        }
        if (rhs)
            em_rdd_queue_push(lhs->u.queue, rhs->u.rdd);
        sh_obj_unref(lhs);
        sh_obj_unref(rhs);
        return rhs ? unit() : NULL;
    }
    /* Ranges at the driver, for sc.parallelize(1 to 1000): a Seq of Ints. */
    if (!strcmp(op, "to") || !strcmp(op, "until")) {
        sh_obj *a = value_of(sh, n->kids[0], env, err);
        sh_obj *b = a ? value_of(sh, n->kids[1], env, err) : NULL;
        sh_obj *r = NULL;
        if (b && em_is_int(a->u.val.v) && em_is_int(b->u.val.v)) {
            int64_t from = em_as_int(a->u.val.v), to = em_as_int(b->u.val.v) - (op[0] == 'u');
            if (to - from >= 10000000) {
                sh_error_at(err, SH_ERROR_EVAL, &n->pos, "ranges hold at most 10000000 numbers");
            } else {
                size_t len = to >= from ? (size_t)(to - from + 1) : 0;
                em_value *items = g_new(em_value, len ? len : 1);
                for (size_t i = 0; i < len; i++)
                    items[i] = em_int(from + (int64_t)i);
                r = sh_obj_new(O_VALUE);
                r->u.val.arena = em_arena_new();
                r->u.val.v = em_list_in(r->u.val.arena, items, len, EM_LIST);
                g_free(items);
            }
        } else if (b) {
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "a range (%s) is made of two Ints", op);
        }
        sh_obj_unref(a);
        sh_obj_unref(b);
        return r;
    }
    /* Durations: Seconds(1) * 3, Seconds(2) + Seconds(1). */
    if (!strcmp(op, "*") || !strcmp(op, "+") || !strcmp(op, "-")) {
        const sh_node *l = n->kids[0];
        bool maybe = l->kind == N_CALL && l->kids[0]->kind == N_IDENT &&
                     g_strv_contains(duration_fns, l->kids[0]->name);
        sh_obj *lo = !maybe && l->kind == N_IDENT ? sh_env_lookup(env, l->name) : NULL;
        maybe = maybe || (lo && lo->kind == O_DURATION);
        sh_obj_unref(lo);
        if (maybe) {
            sh_obj *a = sh_eval(sh, l, env, err);
            sh_obj *b = a ? sh_eval(sh, n->kids[1], env, err) : NULL;
            sh_obj *r = NULL;
            if (b) {
                bool b_dur = b->kind == O_DURATION;
                bool b_int = b->kind == O_VALUE && em_is_int(b->u.val.v);
                if (op[0] == '*' && b_int)
                    r = duration(a->u.ms * em_as_int(b->u.val.v));
                else if (op[0] != '*' && b_dur)
                    r = duration(op[0] == '+' ? a->u.ms + b->u.ms : a->u.ms - b->u.ms);
                else
                    sh_error_at(err, SH_ERROR_EVAL, &n->kids[1]->pos,
                                op[0] == '*' ? "a Duration is multiplied by an Int"
                                             : "a Duration is added to a Duration");
            }
            sh_obj_unref(a);
            sh_obj_unref(b);
            return r;
        }
    }
    return value_of(sh, n, env, err);
}

sh_obj *sh_eval(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    switch (n->kind) {
    case N_IDENT: {
        sh_obj *o = sh_env_lookup(env, n->name);
        if (o)
            return o;
        if (!strcmp(n->name, "println")) {
            o = sh_obj_new(O_BUILTIN);
            o->builtin = "println";
            return o;
        }
        return value_of(sh, n, env, err); /* None, Nil, or "not found" */
    }
    case N_SELECT: return eval_method(sh, NULL, n, env, err);
    case N_CALL:
        if (n->kids[0]->kind == N_SELECT)
            return eval_method(sh, n, n->kids[0], env, err);
        if (n->kids[0]->kind == N_IDENT)
            return eval_call_ident(sh, n, env, err);
        return value_of(sh, n, env, err);
    case N_BINOP: return eval_binop(sh, n, env, err);
    case N_LAMBDA:
    case N_DEF: {
        sh_obj *o = sh_obj_new(O_LAMBDA);
        o->u.lambda.node = n;
        o->u.lambda.env = sh_env_ref(env);
        return o;
    }
    case N_ETA: return sh_eval(sh, n->kids[0], env, err);
    case N_NEW: return sh_api_new(sh, n, env, err);
    case N_BLOCK: return eval_block(sh, n, env, err);
    case N_IF: {
        sh_obj *c = value_of(sh, n->kids[0], env, err);
        if (!c)
            return NULL;
        if (em_type_of(c->u.val.v) != EM_T_BOOL) {
            sh_error_at(err, SH_ERROR_EVAL, &n->kids[0]->pos, "expected a Boolean condition");
            sh_obj_unref(c);
            return NULL;
        }
        bool yes = em_as_bool(c->u.val.v);
        sh_obj_unref(c);
        if (yes)
            return sh_eval(sh, n->kids[1], env, err);
        return n->kids[2] ? sh_eval(sh, n->kids[2], env, err) : unit();
    }
    case N_VAL:
    case N_ASSIGN:
    case N_IMPORT: return exec_stmt(sh, n, env, false, err);
    case N_UNIT: return unit();
    case N_PLACEHOLDER: {
        /* transform(_.sortByKey()): the closure binds its placeholder parameter "_$0". */
        sh_obj *o = n->name ? sh_env_lookup(env, n->name) : NULL;
        if (!o)
            sh_error_at(err, SH_ERROR_EVAL, &n->pos, "unbound placeholder parameter _");
        return o;
    }
    default: return value_of(sh, n, env, err);
    }
}

static sh_obj *eval_block(sh_shell *sh, const sh_node *n, sh_env *env, GError **err)
{
    sh_env *local = sh_env_new(env);
    sh_obj *last = unit();
    for (int i = 0; i < n->n_kids && last; i++) {
        sh_obj_unref(last);
        last = exec_stmt(sh, n->kids[i], local, false, err);
    }
    sh_env_unref(local);
    return last;
}

static void echo(sh_shell *sh, const char *name, const sh_obj *o)
{
    if (!sh->opts.echo || o->kind == O_UNIT)
        return;
    char *d = sh_api_describe(o);
    printf("%s: %s\n", name, d);
    g_free(d);
}

static sh_obj *exec_stmt(sh_shell *sh, const sh_node *s, sh_env *env, bool top, GError **err)
{
    switch (s->kind) {
    case N_IMPORT: return unit();
    case N_VAL:
    case N_DEF: {
        sh_obj *o =
            s->kind == N_DEF ? sh_eval(sh, s, env, err) : sh_eval(sh, s->kids[0], env, err);
        if (!o)
            return NULL;
        if (o->kind == O_DSTREAM)
            sh_api_name_stream(o, s->name);
        env_bind(env, s->name, sh_obj_ref(o), s->kind == N_VAL && s->i);
        if (top)
            echo(sh, s->name, o);
        sh_obj_unref(o);
        return unit();
    }
    case N_ASSIGN: {
        sh_obj *o = sh_eval(sh, s->kids[0], env, err);
        if (!o)
            return NULL;
        int r = env_assign(env, s->name, o);
        if (r <= 0) {
            sh_obj_unref(o);
            sh_error_at(err, SH_ERROR_EVAL, &s->pos,
                        r == 0 ? "reassignment to val %s (declare it with var)"
                               : "not found: variable %s",
                        s->name);
            return NULL;
        }
        if (top)
            echo(sh, s->name, o);
        return unit();
    }
    default: {
        sh_obj *o = sh_eval(sh, s, env, err);
        if (o && top && o->kind != O_UNIT && sh->opts.echo) {
            char name[32];
            g_snprintf(name, sizeof name, "res%d", sh->res_count++);
            env_bind(env, name, sh_obj_ref(o), false);
            echo(sh, name, o);
        }
        return o;
    }
    }
}

/* ---- Arguments, for shell-api.c ---- */

sh_obj *sh_call_fail(sh_call *c, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    sh_pos pos = c->sel->pos;
    if (i >= 0 && i < c->nargs) {
        pos = c->args[i]->pos;
    } else {
        pos.off = (uint32_t)c->sel->i;
        pos.end = pos.off + (uint32_t)strlen(c->name);
    }
    sh_error_at(c->err, SH_ERROR_EVAL, &pos, "%s", msg);
    g_free(msg);
    return NULL;
}

bool sh_call_arity(sh_call *c, int min, int max)
{
    int n = c->nargs < 0 ? 0 : c->nargs;
    if (n >= min && n <= max)
        return true;
    if (min == max)
        sh_call_fail(c, -1, "%s takes %d argument%s, not %d", c->name, min, min == 1 ? "" : "s",
                     n);
    else
        sh_call_fail(c, -1, "%s takes %d to %d arguments, not %d", c->name, min, max, n);
    return false;
}

char *sh_call_text(sh_call *c)
{
    sh_pos pos = c->node->pos;
    pos.off = (uint32_t)c->sel->i;
    char *text = sh_pos_text(&pos);
    /* One line for :graph and echoes: a line break and its indentation become one space. */
    GString *out = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p != '\n') {
            g_string_append_c(out, *p);
            continue;
        }
        while (out->len && out->str[out->len - 1] == ' ')
            g_string_truncate(out, out->len - 1);
        while (p[1] == ' ' || p[1] == '\t')
            p++;
        g_string_append_c(out, ' ');
    }
    g_free(text);
    return g_string_free(out, FALSE);
}

sh_obj *sh_arg_obj(sh_call *c, int i, sh_obj_kind kind)
{
    sh_obj *o = sh_eval(c->sh, c->args[i], c->env, c->err);
    if (!o || o->kind == kind)
        return o;
    sh_obj probe = {.kind = kind};
    if (kind == O_VALUE)
        probe.u.val.v = em_null();
    const char *want = kind == O_VALUE ? "value" : sh_obj_type_name(&probe);
    sh_call_fail(c, i, "%s expects %s %s here, not %s %s", c->name, sh_article(want), want,
                 sh_article(sh_obj_type_name(o)), sh_obj_type_name(o));
    sh_obj_unref(o);
    return NULL;
}

static bool arg_value(sh_call *c, int i, em_type type, const char *what, em_value *out,
                      sh_obj **keep)
{
    sh_obj *o = sh_eval(c->sh, c->args[i], c->env, c->err);
    if (!o)
        return false;
    if (o->kind != O_VALUE || em_type_of(o->u.val.v) != type) {
        sh_call_fail(c, i, "%s expects %s here, not %s %s", c->name, what,
                     sh_article(sh_obj_type_name(o)), sh_obj_type_name(o));
        sh_obj_unref(o);
        return false;
    }
    *out = o->u.val.v;
    *keep = o;
    return true;
}

bool sh_arg_int(sh_call *c, int i, int64_t *out)
{
    em_value v;
    sh_obj *o;
    if (!arg_value(c, i, EM_T_INT, "an Int", &v, &o))
        return false;
    *out = em_as_int(v);
    sh_obj_unref(o);
    return true;
}

bool sh_arg_bool(sh_call *c, int i, bool *out)
{
    em_value v;
    sh_obj *o;
    if (!arg_value(c, i, EM_T_BOOL, "a Boolean", &v, &o))
        return false;
    *out = em_as_bool(v);
    sh_obj_unref(o);
    return true;
}

char *sh_arg_string(sh_call *c, int i)
{
    em_value v;
    sh_obj *o;
    if (!arg_value(c, i, EM_T_STR, "a String", &v, &o))
        return NULL;
    char *s = g_strndup(em_str_ptr(v), em_str_len(v));
    sh_obj_unref(o);
    return s;
}

bool sh_arg_duration(sh_call *c, int i, int64_t *out)
{
    sh_obj *o = sh_eval(c->sh, c->args[i], c->env, c->err);
    if (!o)
        return false;
    bool ok = o->kind == O_DURATION;
    if (ok)
        *out = o->u.ms;
    else
        sh_call_fail(c, i,
                     "%s expects a Duration here (Seconds(n), Minutes(n), "
                     "Milliseconds(n)), not %s %s",
                     c->name, sh_article(sh_obj_type_name(o)), sh_obj_type_name(o));
    sh_obj_unref(o);
    return ok;
}

sh_lambda *sh_arg_fn(sh_call *c, int i, sh_role role)
{
    return sh_lambda_compile(c->args[i], c->env, role, c->name, c->err);
}

sh_closure *sh_arg_closure(sh_call *c, int i, int min_params, int max_params)
{
    sh_obj *o = sh_eval(c->sh, c->args[i], c->env, c->err);
    if (!o)
        return NULL;
    if (o->kind != O_LAMBDA) {
        sh_call_fail(c, i, "%s takes a function here, like rdd => ...", c->name);
        sh_obj_unref(o);
        return NULL;
    }
    int n = o->u.lambda.node->n_params;
    if (n < min_params || n > max_params) {
        if (min_params == max_params)
            sh_call_fail(c, i, "%s takes a function of %d parameter%s; this one takes %d", c->name,
                         min_params, min_params == 1 ? "" : "s", n);
        else
            sh_call_fail(c, i, "%s takes a function of %d or %d parameters; this one takes %d",
                         c->name, min_params, max_params, n);
        sh_obj_unref(o);
        return NULL;
    }
    sh_closure *cl = g_new0(sh_closure, 1);
    cl->sh = c->sh;
    cl->fn = o;
    cl->nparams = n;
    return cl;
}

void sh_closure_free(void *p)
{
    sh_closure *cl = p;
    if (!cl)
        return;
    sh_obj_unref(cl->fn);
    g_free(cl);
}

sh_obj *sh_closure_call(sh_closure *cl, sh_obj *const *args, int nargs, GError **err)
{
    const sh_node *lam = cl->fn->u.lambda.node;
    sh_env *local = sh_env_new(cl->fn->u.lambda.env);
    for (int i = 0; i < nargs && i < lam->n_params; i++)
        sh_env_bind(local, lam->params[i].name, sh_obj_ref(args[i]));
    sh_obj *r = sh_eval(cl->sh, lam->kids[0], local, err);
    sh_env_unref(local);
    return r;
}

/* ---- The shell ---- */

sh_shell *sh_shell_new(const sh_opts *opts)
{
    sh_shell *sh = g_new0(sh_shell, 1);
    sh->opts = *opts;
    if (!sh->opts.master)
        sh->opts.master = "local[2]";
    sh->globals = sh_env_new(NULL);
    static gsize writer_installed;
    if (g_once_init_enter(&writer_installed)) {
        sh_api_install_log_writer();
        g_once_init_leave(&writer_installed, 1);
    }
    sh->sources = g_ptr_array_new();
    sh->arenas = g_ptr_array_new_with_free_func((GDestroyNotify)em_arena_free);
    sh->sscs = g_ptr_array_new();
    sh->queues = g_ptr_array_new();
    g_mutex_init(&sh->lock);
    GError *err = NULL;
    sh->sc = em_context_new(sh->opts.master, "ember-shell", &err);
    if (!sh->sc) {
        fprintf(stderr, "ember-shell: %s\n", err->message);
        g_error_free(err);
        sh_shell_free(sh);
        return NULL;
    }
    sh_obj *sc = sh_obj_new(O_SC);
    sc->u.sc = sh->sc;
    sh_env_bind(sh->globals, "sc", sc);
    return sh;
}

static void source_free(gpointer p)
{
    sh_source *src = p;
    g_free(src->name);
    g_free(src->text);
    g_free(src);
}

void sh_shell_free(sh_shell *sh)
{
    if (!sh)
        return;
    /* Contexts first (their streams hold lambdas and closures), then the bindings (RDDs,
     * closures over them), then the queues, then the SparkContext everything ran on. */
    for (guint i = 0; i < sh->sscs->len; i++)
        sh_api_ssc_free(sh->sscs->pdata[i]);
    g_ptr_array_free(sh->sscs, TRUE);
    sh_env_unref(sh->globals);
    for (guint i = 0; i < sh->queues->len; i++)
        em_rdd_queue_free(sh->queues->pdata[i]);
    g_ptr_array_free(sh->queues, TRUE);
    em_context_free(sh->sc);
    g_ptr_array_set_free_func(sh->sources, source_free);
    g_ptr_array_free(sh->sources, TRUE);
    g_ptr_array_free(sh->arenas, TRUE);
    g_mutex_clear(&sh->lock);
    g_free(sh);
}

static sh_source *keep_source(sh_shell *sh, const char *name, int first_line, const char *text)
{
    sh_source *src = g_new0(sh_source, 1);
    src->name = g_strdup(name);
    src->text = g_strdup(text);
    src->len = strlen(text);
    src->first_line = first_line;
    g_ptr_array_add(sh->sources, src);
    return src;
}

bool sh_shell_complete(sh_shell *sh, const char *text, GError **err)
{
    (void)sh;
    sh_source src = {.name = "<console>",
                     .text = (char *)text,
                     .len = strlen(text),
                     .first_line = 1};
    em_arena *arena = em_arena_new();
    GPtrArray *stmts = g_ptr_array_new();
    bool ok = sh_parse(&src, arena, stmts, err);
    g_ptr_array_free(stmts, TRUE);
    em_arena_free(arena);
    return ok;
}

bool sh_shell_run(sh_shell *sh, const char *name, int first_line, const char *text, GError **err)
{
    sh_source *src = keep_source(sh, name, first_line, text);
    em_arena *arena = em_arena_new();
    g_ptr_array_add(sh->arenas, arena);
    GPtrArray *stmts = g_ptr_array_new();
    bool ok = sh_parse(src, arena, stmts, err);
    for (guint i = 0; ok && i < stmts->len; i++) {
        sh_api_capture_begin();
        sh_obj *o = exec_stmt(sh, stmts->pdata[i], sh->globals, true, err);
        char *unclaimed = sh_api_capture_end();
        if (unclaimed)
            fprintf(stderr, "%s\n", unclaimed);
        g_free(unclaimed);
        ok = o != NULL;
        sh_obj_unref(o);
        em_scratch_reset();
    }
    g_ptr_array_free(stmts, TRUE);
    fflush(stdout);
    return ok;
}

void sh_shell_set_ssc(sh_shell *sh, sh_ssc *s)
{
    g_mutex_lock(&sh->lock);
    g_ptr_array_add(sh->sscs, s);
    sh->current = s;
    g_mutex_unlock(&sh->lock);
}

void sh_shell_keep_queue(sh_shell *sh, em_rdd_queue *q)
{
    g_mutex_lock(&sh->lock);
    g_ptr_array_add(sh->queues, q);
    g_mutex_unlock(&sh->lock);
}

em_context *sh_shell_sc(sh_shell *sh) { return sh->sc; }
bool sh_shell_manual_clock(sh_shell *sh) { return sh->opts.manual_clock; }
void sh_shell_set_manual(sh_shell *sh, bool manual) { sh->opts.manual_clock = manual; }
bool sh_shell_manual(sh_shell *sh) { return sh->opts.manual_clock; }

bool sh_shell_step(sh_shell *sh, int64_t batches, GError **err)
{
    if (!sh->current) {
        g_set_error(err, SH_ERROR, SH_ERROR_EVAL,
                    "error: :step needs a StreamingContext: val ssc = new StreamingContext(sc, "
                    "Seconds(1)) (on a manual clock: ember-shell --manual-clock, or :manual)");
        return false;
    }
    for (int64_t i = 0; i < batches; i++)
        if (!sh_api_step(sh->current, err))
            return false;
    fflush(stdout);
    return true;
}

char *sh_shell_graph(sh_shell *sh)
{
    if (!sh->current)
        return g_strdup("(no StreamingContext yet)\n");
    return sh_api_graph(sh->current);
}

static const char *const keywords[] =
    {"val",       "var",       "def",     "new",     "if",      "else",         "true",
     "false",     "import",    "println", "Seconds", "Minutes", "Milliseconds", "StreamingContext",
     "SparkConf", "StateSpec", "Some",    "None",    "Seq",     "List",         "mutable",
     "Queue",     NULL};

static void add_matching(GPtrArray *out, const char *const *names, const char *word)
{
    for (; names && *names; names++)
        if (g_str_has_prefix(*names, word) &&
            !g_ptr_array_find_with_equal_func(out, *names, g_str_equal, NULL))
            g_ptr_array_add(out, g_strdup(*names));
}

char **sh_shell_completions(sh_shell *sh, const char *line, int word_start, const char *word)
{
    GPtrArray *out = g_ptr_array_new();
    if (word_start > 0 && line[word_start - 1] == '.') {
        /* After "name.": the methods of what name is bound to. */
        int e = word_start - 1, b = e;
        while (b > 0 && (g_ascii_isalnum(line[b - 1]) || line[b - 1] == '_'))
            b--;
        char *recv = g_strndup(line + b, (size_t)(e - b));
        sh_obj *o = *recv ? sh_env_lookup(sh->globals, recv) : NULL;
        if (o && o->kind == O_VALUE)
            add_matching(out, sh_value_method_names(), word);
        else if (o)
            add_matching(out, sh_api_method_names(o->kind), word);
        else if (!strcmp(recv, "StateSpec"))
            add_matching(out, (const char *const[]){"function", NULL}, word);
        else
            for (sh_obj_kind k = O_SC; k <= O_STATESPEC; k++)
                add_matching(out, sh_api_method_names(k), word);
        sh_obj_unref(o);
        g_free(recv);
    } else if (line[0] == ':' && word_start == 0) {
        static const char *const cmds[] = {":step", ":graph", ":load", ":manual",
                                           ":help", ":quit",  NULL};
        add_matching(out, cmds, word);
    } else {
        GPtrArray *names = sh_env_names(sh->globals);
        g_ptr_array_add(names, NULL);
        add_matching(out, (const char *const *)names->pdata, word);
        g_ptr_array_free(names, TRUE);
        add_matching(out, keywords, word);
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}
