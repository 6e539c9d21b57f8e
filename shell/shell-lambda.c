/* ember-shell's lambdas: a function's syntax tree compiled once into a small tree of sh_expr
 * nodes, each with its evaluator (shell-eval.c), over em_value records; no code generation.
 * The adapters at the end (sh_fn_map, sh_fn_reduce, ...) are what Ember calls as em_map_fn
 * etc., with the compiled lambda as user data. Parameters and local vals live in slots of a
 * frame on the calling thread's stack. A record a lambda cannot handle (a String added to a
 * tuple, a division by zero) fails its batch through em_fail(), naming the place. */
#include "shell-eval.h"

#include <string.h>

#define MAX_INLINE_DEPTH 8

struct sh_lambda {
    sh_expr *body;
    sh_role role;
    int nparams;
    int nslots;
    em_arena *arena; /* the sh_expr nodes and constants */
    GPtrArray *regexes;
    char *text;
};

/* ---- The compiler ---- */

typedef struct scope {
    const char *name;
    int slot;
    bool state; /* mapWithState's State parameter */
    struct scope *next;
} scope;

typedef struct compiler {
    sh_lambda *lam;
    sh_env *env;
    GError **err;
    bool failed;
    int depth;             /* named lambdas inlined */
    sh_driver_eval driver; /* at the driver: evaluates what only the driver can */
    void *ctx;
} compiler;

static sh_expr *cx_new(compiler *c, sh_eval_fn eval, const sh_node *node)
{
    sh_expr *e = em_arena_alloc(c->lam->arena, sizeof *e);
    memset(e, 0, sizeof *e);
    e->eval = eval;
    e->node = node;
    return e;
}

static sh_expr *cx_fail(compiler *c, const sh_pos *pos, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static sh_expr *cx_fail(compiler *c, const sh_pos *pos, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        sh_error_at(c->err, SH_ERROR_EVAL, pos, "%s", msg);
        g_free(msg);
        c->failed = true;
    }
    return NULL;
}

static int new_slot(compiler *c, const sh_node *at)
{
    if (c->lam->nslots >= MAX_SLOTS) {
        cx_fail(c, &at->pos, "this function needs more than %d parameters and local values",
                MAX_SLOTS);
        return 0;
    }
    return c->lam->nslots++;
}

static sh_expr *compile(compiler *c, const sh_node *n, scope *sc);

static sh_expr *konst(compiler *c, const sh_node *n, em_value v)
{
    sh_expr *e = cx_new(c, sh_ev_const, n);
    e->k = em_value_copy(v, c->lam->arena);
    return e;
}

static const scope *find(const scope *sc, const char *name)
{
    for (; sc; sc = sc->next)
        if (!strcmp(sc->name, name))
            return sc;
    return NULL;
}

/* A member position for errors: the member's name in `recv.name`. */
static sh_pos member_pos(const sh_node *sel)
{
    sh_pos p = sel->pos;
    if (sel->kind == N_SELECT) {
        p.off = (uint32_t)sel->i;
        p.end = p.off + (uint32_t)strlen(sel->name);
    }
    return p;
}

/* A function argument (lambda, named lambda, println) of nparams parameters, as a nested
 * function: its parameters take fresh slots. */
static sh_expr *compile_fn_arg(compiler *c, const sh_node *arg, int nparams, scope *sc,
                               const char *what)
{
    sh_expr *fn = cx_new(c, NULL, arg);
    fn->n = nparams;
    fn->slot = c->lam->nslots;
    for (int i = 0; i < nparams; i++)
        new_slot(c, arg);
    if (c->failed)
        return NULL;
    if (arg->kind == N_IDENT && !strcmp(arg->name, "println") && !find(sc, "println")) {
        if (nparams != 1)
            return cx_fail(c, &arg->pos, "%s takes a function of %d parameters; println takes 1",
                           what, nparams);
        sh_expr *p = cx_new(c, sh_ev_println, arg);
        p->a = cx_new(c, sh_ev_slot, arg);
        p->a->slot = fn->slot;
        fn->a = p;
        return fn;
    }
    const sh_node *lam = arg;
    sh_obj *bound = NULL;
    if (arg->kind == N_IDENT && !find(sc, arg->name) && c->env) {
        bound = sh_env_lookup(c->env, arg->name);
        if (bound && bound->kind == O_LAMBDA)
            lam = bound->u.lambda.node;
    }
    if (lam->kind == N_ETA)
        lam = lam->kids[0];
    if (lam->kind != N_LAMBDA && lam->kind != N_DEF) {
        if (bound)
            sh_obj_unref(bound);
        return cx_fail(c, &arg->pos, "%s takes a function here, like x => ...", what);
    }
    /* xs.map { case (k, v) => ... } over tuples: the one record taken apart. */
    bool untuple = nparams == 1 && lam->n_params >= 2 && lam->n_params <= 8;
    if (lam->n_params != nparams && !untuple) {
        if (bound)
            sh_obj_unref(bound);
        return cx_fail(c, &arg->pos, "%s takes a function of %d parameter%s; this one takes %d",
                       what, nparams, nparams == 1 ? "" : "s", lam->n_params);
    }
    if (++c->depth > MAX_INLINE_DEPTH) {
        if (bound)
            sh_obj_unref(bound);
        return cx_fail(c, &arg->pos, "functions nested or called more than %d deep",
                       MAX_INLINE_DEPTH);
    }
    /* A named lambda sees only its own parameters and the driver's bindings. */
    scope *inner = bound ? NULL : sc;
    scope params[MAX_SLOTS];
    int first = fn->slot + (untuple ? 1 : 0);
    for (int i = 0; untuple && i < lam->n_params; i++)
        new_slot(c, arg);
    for (int i = 0; i < lam->n_params; i++) {
        params[i] = (scope){.name = lam->params[i].name, .slot = first + i, .next = inner};
        inner = &params[i];
    }
    fn->a = compile(c, lam->kids[0], inner);
    if (untuple && !c->failed) {
        sh_expr *u = cx_new(c, sh_ev_untuple, lam);
        u->slot = fn->slot;
        u->n = lam->n_params;
        u->a = fn->a;
        fn->a = u;
    }
    c->depth--;
    if (bound)
        sh_obj_unref(bound);
    return c->failed ? NULL : fn;
}

static const method_info *find_method(const method_info *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

static bool is_tuple_field(const char *name, int *index)
{
    if (name[0] != '_' || !g_ascii_isdigit(name[1]))
        return false;
    char *end;
    long k = strtol(name + 1, &end, 10);
    if (*end || k < 1 || k > 22)
        return false;
    *index = (int)k - 1;
    return true;
}

/* recv.name(args) or recv.name; call is the N_CALL (or NULL), sel the N_SELECT. */
static sh_expr *compile_method(compiler *c, const sh_node *call, const sh_node *sel, scope *sc,
                               sh_expr *recv_done)
{
    const sh_node *recv = sel->kids[0];
    const char *name = sel->name;
    const sh_node *const *args = call ? (const sh_node *const *)call->kids + 1 : NULL;
    int nargs = call ? call->n_kids - 1 : -1;
    const sh_node *at = call ? call : sel;
    sh_pos mpos = member_pos(sel);

    /* State's sh_methods, on mapWithState's State parameter. */
    const scope *st = recv->kind == N_IDENT && !recv_done ? find(sc, recv->name) : NULL;
    if (st && st->state) {
        const method_info *m = find_method(sh_state_methods, sh_n_state_methods, name);
        if (!m)
            return cx_fail(c, &mpos,
                           "%s is not a method of State (it has getOption, get, exists, "
                           "update, remove, isTimingOut)",
                           name);
        int given = nargs < 0 ? 0 : nargs;
        if (given < m->min_args || given > m->max_args)
            return cx_fail(c, &at->pos, "State.%s takes %d argument%s", name, m->min_args,
                           m->min_args == 1 ? "" : "s");
        sh_expr *e = cx_new(c, sh_ev_state, at);
        e->n = m->m;
        e->name = m->name;
        if (m->m == M_STATE_UPDATE)
            e->a = compile(c, args[0], sc);
        return c->failed ? NULL : e;
    }
    /* math.max(a, b) and friends. */
    if (recv->kind == N_IDENT && (!strcmp(recv->name, "math") || !strcmp(recv->name, "Math")) &&
        !find(sc, recv->name)) {
        static const char *const fns[] = {"max",   "min",  "abs",   "sqrt", "pow",
                                          "floor", "ceil", "round", NULL};
        int want = !strcmp(name, "max") || !strcmp(name, "min") || !strcmp(name, "pow") ? 2 : 1;
        if (!g_strv_contains(fns, name))
            return cx_fail(c, &mpos, "math.%s is not supported by ember-shell", name);
        if (nargs != want)
            return cx_fail(c, &at->pos, "math.%s takes %d argument%s", name, want,
                           want == 1 ? "" : "s");
        sh_expr *e = cx_new(c, sh_ev_math, at);
        e->name = name;
        e->nargs = nargs;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * 2);
        for (int i = 0; i < nargs; i++)
            e->args[i] = compile(c, args[i], sc);
        return c->failed ? NULL : e;
    }

    int field;
    if (is_tuple_field(name, &field)) {
        if (nargs >= 0)
            return cx_fail(c, &at->pos, "%s takes no arguments", name);
        sh_expr *e = cx_new(c, sh_ev_field, sel);
        e->a = recv_done ? recv_done : compile(c, recv, sc);
        e->n = field;
        return c->failed ? NULL : e;
    }
    const method_info *m = find_method(sh_methods, sh_n_methods, name);
    if (!m)
        return cx_fail(c, &mpos, "%s is not a method ember-shell knows (try :help values)", name);
    int given = nargs < 0 ? 0 : nargs;
    if (given < m->min_args || given > m->max_args) {
        if (m->min_args == m->max_args)
            return cx_fail(c, &at->pos, "%s takes %d argument%s, not %d", name, m->min_args,
                           m->min_args == 1 ? "" : "s", given);
        return cx_fail(c, &at->pos, "%s takes %d to %d arguments, not %d", name, m->min_args,
                       m->max_args, given);
    }
    sh_expr *r = recv_done ? recv_done : compile(c, recv, sc);
    if (c->failed)
        return NULL;
    if (m->fn_arity > 0) {
        sh_expr *e = cx_new(c, sh_ev_higher, at);
        e->a = r;
        e->n = m->m;
        e->name = m->name;
        if (m->m == M_FOLD_LEFT)
            return cx_fail(c, &at->pos,
                           "foldLeft takes two argument lists: xs.foldLeft(0)(_ + _)");
        e->b = compile_fn_arg(c, args[0], m->fn_arity, sc, name);
        return c->failed ? NULL : e;
    }
    /* split(" "): Scala's split on one space, Ember's stock em_split_space. */
    if (m->m == M_SPLIT && args[0]->kind == N_STRING && args[0]->slen == 1 &&
        args[0]->s[0] == ' ') {
        sh_expr *e = cx_new(c, sh_ev_split_space, at);
        e->a = r;
        e->name = name;
        return e;
    }
    sh_expr *e = cx_new(c, sh_ev_method, at);
    e->a = r;
    e->n = m->m;
    e->name = m->name;
    e->nargs = given;
    e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * 3);
    for (int i = 0; i < given; i++)
        e->args[i] = compile(c, args[i], sc);
    if (m->m == M_SPLIT && args[0]->kind == N_STRING) {
        /* A separator with regex characters is a regex, as Java's split. */
        if (strpbrk(args[0]->s, "\\[](){}.*+?^$|")) {
            GError *re_err = NULL;
            e->re = g_regex_new(args[0]->s, G_REGEX_OPTIMIZE, 0, &re_err);
            if (!e->re) {
                cx_fail(c, &args[0]->pos, "invalid regex in split: %s", re_err->message);
                g_error_free(re_err);
                return NULL;
            }
            g_ptr_array_add(c->lam->regexes, e->re);
        }
    } else if (m->m == M_SPLIT && !c->failed) {
        return cx_fail(c, &args[0]->pos, "split takes a string literal separator here");
    }
    return c->failed ? NULL : e;
}

static sh_expr *compile_list(compiler *c, const sh_node *call, int first, em_list_kind kind,
                             scope *sc)
{
    sh_expr *e = cx_new(c, sh_ev_list, call);
    e->nargs = call->n_kids - first;
    e->n = kind;
    e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(e->nargs + 1));
    for (int i = 0; i < e->nargs; i++)
        e->args[i] = compile(c, call->kids[first + i], sc);
    return c->failed ? NULL : e;
}

static sh_expr *compile_call(compiler *c, const sh_node *n, scope *sc)
{
    const sh_node *callee = n->kids[0];
    int nargs = n->n_kids - 1;
    if (callee->kind == N_SELECT)
        return compile_method(c, n, callee, sc, NULL);
    /* xs.foldLeft(z)(f) */
    if (callee->kind == N_CALL && callee->kids[0]->kind == N_SELECT &&
        !strcmp(callee->kids[0]->name, "foldLeft")) {
        if (callee->n_kids != 2 || nargs != 1)
            return cx_fail(c, &n->pos, "foldLeft is written xs.foldLeft(zero)((acc, x) => ...)");
        sh_expr *e = cx_new(c, sh_ev_higher, n);
        e->a = compile(c, callee->kids[0]->kids[0], sc);
        e->c = compile(c, callee->kids[1], sc);
        e->n = M_FOLD_LEFT;
        e->name = "foldLeft";
        if (!c->failed)
            e->b = compile_fn_arg(c, n->kids[1], 2, sc, "foldLeft");
        return c->failed ? NULL : e;
    }
    if (callee->kind == N_IDENT && !find(sc, callee->name)) {
        const char *name = callee->name;
        if (!strcmp(name, "Some")) {
            if (nargs != 1)
                return cx_fail(c, &n->pos, "Some takes 1 argument");
            sh_expr *e = cx_new(c, sh_ev_some, n);
            e->a = compile(c, n->kids[1], sc);
            return c->failed ? NULL : e;
        }
        if (!strcmp(name, "Seq") || !strcmp(name, "List") || !strcmp(name, "Vector") ||
            !strcmp(name, "Array") || !strcmp(name, "Iterator"))
            return compile_list(c, n, 1, !strcmp(name, "Array") ? EM_ARRAY : EM_LIST, sc);
        if (!strcmp(name, "println")) {
            if (nargs > 1)
                return cx_fail(c, &n->pos, "println takes 1 argument");
            sh_expr *e = cx_new(c, sh_ev_println, n);
            e->a = nargs ? compile(c, n->kids[1], sc) : NULL;
            return c->failed ? NULL : e;
        }
        sh_obj *bound = c->env ? sh_env_lookup(c->env, name) : NULL;
        if (bound && bound->kind == O_LAMBDA) {
            const sh_node *lam = bound->u.lambda.node;
            sh_obj_unref(bound);
            if (lam->n_params != nargs)
                return cx_fail(c, &n->pos, "%s takes %d argument%s, not %d", name, lam->n_params,
                               lam->n_params == 1 ? "" : "s", nargs);
            sh_expr *e = cx_new(c, sh_ev_call_fn, n);
            e->nargs = nargs;
            e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(nargs + 1));
            for (int i = 0; i < nargs; i++)
                e->args[i] = compile(c, n->kids[1 + i], sc);
            if (!c->failed)
                e->a = compile_fn_arg(c, callee, nargs, sc, name);
            return c->failed ? NULL : e;
        }
        if (bound)
            sh_obj_unref(bound);
    }
    /* xs(i), t(i): apply on a value. */
    if (nargs == 1) {
        sh_expr *e = cx_new(c, sh_ev_method, n);
        e->a = compile(c, callee, sc);
        e->n = M_APPLY;
        e->name = "apply";
        e->nargs = 1;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *));
        e->args[0] = compile(c, n->kids[1], sc);
        return c->failed ? NULL : e;
    }
    return cx_fail(c, &callee->pos, "this cannot be called here");
}

static sh_expr *compile_binop(compiler *c, const sh_node *n, scope *sc)
{
    const char *op = n->name;
    sh_pos opos = {n->pos.src, (uint32_t)n->i, (uint32_t)n->i + (uint32_t)strlen(op)};
    static const struct {
        const char *op;
        sh_eval_fn eval;
        int code;
    } ops[] = {
        {"+", sh_ev_add, OP_ADD},     {"-", sh_ev_arith, OP_SUB},   {"*", sh_ev_arith, OP_MUL},
        {"/", sh_ev_arith, OP_DIV},   {"%", sh_ev_arith, OP_MOD},   {"<", sh_ev_compare, OP_LT},
        {"<=", sh_ev_compare, OP_LE}, {">", sh_ev_compare, OP_GT},  {">=", sh_ev_compare, OP_GE},
        {"==", sh_ev_compare, OP_EQ}, {"!=", sh_ev_compare, OP_NE}, {"&&", sh_ev_and, 0},
        {"||", sh_ev_or, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
        if (!strcmp(ops[i].op, op)) {
            sh_expr *e = cx_new(c, ops[i].eval, n);
            e->n = ops[i].code;
            e->a = compile(c, n->kids[0], sc);
            e->b = compile(c, n->kids[1], sc);
            if (!c->failed && e->eval == sh_ev_add && e->a->eval == sh_ev_slot &&
                e->b->eval == sh_ev_slot)
                e->eval = sh_ev_add_slots, e->slot = e->a->slot, e->n = e->b->slot;
            return c->failed ? NULL : e;
        }
    if (!strcmp(op, "->")) {
        sh_expr *e = cx_new(c, sh_ev_pair, n);
        e->a = compile(c, n->kids[0], sc);
        e->b = compile(c, n->kids[1], sc);
        return c->failed ? NULL : e;
    }
    if (!strcmp(op, "max") || !strcmp(op, "min")) {
        sh_expr *e = cx_new(c, sh_ev_method, n);
        e->n = op[1] == 'a' ? M_MAX : M_MIN;
        e->name = op;
        e->a = compile(c, n->kids[0], sc);
        e->nargs = 1;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *));
        e->args[0] = compile(c, n->kids[1], sc);
        return c->failed ? NULL : e;
    }
    if (!strcmp(op, "to") || !strcmp(op, "until"))
        return cx_fail(c, &opos, "ranges (%s) are supported in sc.parallelize(...) only", op);
    return cx_fail(c, &opos, "operator %s is not supported by ember-shell", op);
}

/* A block's statements: vals take slots, seen by the statements after them. */
static sh_expr *compile_block(compiler *c, const sh_node *n, scope *sc)
{
    sh_expr *e = cx_new(c, sh_ev_block, n);
    e->nargs = n->n_kids;
    e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(n->n_kids + 1));
    scope *locals = em_arena_alloc(c->lam->arena, sizeof(scope) * (size_t)(n->n_kids + 1));
    for (int i = 0; i < n->n_kids && !c->failed; i++) {
        const sh_node *s = n->kids[i];
        if (s->kind == N_VAL) {
            sh_expr *set = cx_new(c, sh_ev_set_slot, s);
            set->a = compile(c, s->kids[0], sc);
            set->slot = new_slot(c, s);
            locals[i] = (scope){.name = s->name, .slot = set->slot, .next = sc};
            sc = &locals[i];
            e->args[i] = set;
        } else if (s->kind == N_ASSIGN) {
            const scope *v = find(sc, s->name);
            if (!v)
                return cx_fail(c, &s->pos, "%s is not a local var of this function", s->name);
            sh_expr *set = cx_new(c, sh_ev_set_slot, s);
            set->a = compile(c, s->kids[0], sc);
            set->slot = v->slot;
            e->args[i] = set;
        } else if (s->kind == N_DEF || s->kind == N_IMPORT) {
            return cx_fail(c, &s->pos, "%s inside a function is not supported by ember-shell",
                           s->kind == N_DEF ? "def" : "import");
        } else {
            e->args[i] = compile(c, s, sc);
        }
    }
    return c->failed ? NULL : e;
}

static sh_expr *compile_ident(compiler *c, const sh_node *n, scope *sc)
{
    const scope *v = find(sc, n->name);
    if (v) {
        if (v->state)
            return cx_fail(c, &n->pos,
                           "a State is used through its sh_methods: %s.getOption, "
                           "%s.update(x), ...",
                           n->name, n->name);
        sh_expr *e = cx_new(c, sh_ev_slot, n);
        e->slot = v->slot;
        return e;
    }
    if (!strcmp(n->name, "None"))
        return konst(c, n, em_none());
    if (!strcmp(n->name, "Nil"))
        return konst(c, n, sh_make_list(NULL, 0));
    sh_obj *o = c->env ? sh_env_lookup(c->env, n->name) : NULL;
    if (!o)
        return cx_fail(c, &n->pos, "not found: value %s", n->name);
    sh_expr *e = NULL;
    if (o->kind == O_VALUE)
        e = konst(c, n, o->u.val.v);
    else if (o->kind == O_DURATION)
        e = konst(c, n, em_int(o->u.ms));
    else if (o->kind == O_TIME) /* Spark's Time prints as "1000 ms" */
        e = konst(c, n, em_str_printf("%" G_GINT64_FORMAT " ms", (gint64)o->u.ms));
    else
        cx_fail(c, &n->pos, "%s is %s %s: it cannot be used inside a function over records",
                n->name, sh_article(sh_obj_type_name(o)), sh_obj_type_name(o));
    sh_obj_unref(o);
    return e;
}

/* At the driver, `rdd.count()` inside an expression is evaluated by the driver, now, and
 * becomes a constant. True when n's receiver chain starts at a driver object. */
static bool driver_only(compiler *c, const sh_node *n, scope *sc)
{
    if (!c->driver || (n->kind != N_SELECT && n->kind != N_CALL))
        return false;
    const sh_node *root = n;
    while ((root->kind == N_SELECT || root->kind == N_CALL) && root->n_kids > 0)
        root = root->kids[0];
    if (root->kind != N_IDENT || find(sc, root->name))
        return false;
    sh_obj *o = sh_env_lookup(c->env, root->name);
    bool driver = o && o->kind != O_VALUE && o->kind != O_LAMBDA && o->kind != O_DURATION;
    if (o)
        sh_obj_unref(o);
    return driver;
}

static sh_expr *compile(compiler *c, const sh_node *n, scope *sc)
{
    if (c->failed || !n)
        return NULL;
    sh_expr *e;
    if (driver_only(c, n, sc)) {
        sh_obj *o = c->driver(n, c->env, c->ctx, c->err);
        if (!o) {
            c->failed = true;
            return NULL;
        }
        if (o->kind != O_VALUE && o->kind != O_UNIT) {
            char *what = sh_pos_text(&n->pos);
            cx_fail(c, &n->pos, "%s is %s %s, not a value", what, sh_article(sh_obj_type_name(o)),
                    sh_obj_type_name(o));
            g_free(what);
            sh_obj_unref(o);
            return NULL;
        }
        e = konst(c, n, o->kind == O_VALUE ? o->u.val.v : em_null());
        sh_obj_unref(o);
        return e;
    }
    switch (n->kind) {
    case N_INT: return konst(c, n, em_int(n->i));
    case N_DOUBLE: return konst(c, n, em_double(n->d));
    case N_STRING: return konst(c, n, em_strn(n->s, n->slen));
    case N_BOOL: return konst(c, n, em_bool(n->i));
    case N_NULL:
    case N_UNIT: return konst(c, n, em_null());
    case N_IDENT: return compile_ident(c, n, sc);
    case N_PLACEHOLDER: {
        /* Bound by the enclosing placeholder lambda as its parameter "_$i". */
        const scope *v = n->name ? find(sc, n->name) : NULL;
        if (!v)
            return cx_fail(c, &n->pos, "unbound placeholder parameter _");
        e = cx_new(c, sh_ev_slot, n);
        e->slot = v->slot;
        return e;
    }
    case N_SELECT: return compile_method(c, NULL, n, sc, NULL);
    case N_CALL: return compile_call(c, n, sc);
    case N_BINOP: return compile_binop(c, n, sc);
    case N_UNOP:
        e = cx_new(c, n->name[0] == '!' ? sh_ev_not : sh_ev_neg, n);
        e->a = compile(c, n->kids[0], sc);
        if (n->name[0] == '+')
            return e->a;
        return c->failed ? NULL : e;
    case N_TUPLE:
        if (n->n_kids == 2) {
            e = cx_new(c, sh_ev_pair, n);
            e->a = compile(c, n->kids[0], sc);
            e->b = compile(c, n->kids[1], sc);
            if (!c->failed && e->a->eval == sh_ev_slot && e->b->eval == sh_ev_const)
                e->eval = sh_ev_pair_slot_const, e->slot = e->a->slot, e->k = e->b->k;
            return c->failed ? NULL : e;
        }
        e = cx_new(c, sh_ev_tuple, n);
        e->nargs = n->n_kids;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)n->n_kids);
        for (int i = 0; i < n->n_kids; i++)
            e->args[i] = compile(c, n->kids[i], sc);
        return c->failed ? NULL : e;
    case N_BLOCK: return compile_block(c, n, sc);
    case N_IF:
        e = cx_new(c, sh_ev_if, n);
        e->a = compile(c, n->kids[0], sc);
        e->b = compile(c, n->kids[1], sc);
        e->c = n->kids[2] ? compile(c, n->kids[2], sc) : NULL;
        return c->failed ? NULL : e;
    case N_INTERP:
        e = cx_new(c, sh_ev_interp, n);
        e->nargs = n->n_kids;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(n->n_kids + 1));
        for (int i = 0; i < n->n_kids; i++)
            e->args[i] = compile(c, n->kids[i], sc);
        return c->failed ? NULL : e;
    case N_LAMBDA:
        return cx_fail(c, &n->pos,
                       "a function cannot be a record here; call it or pass it to "
                       "map, filter, ...");
    case N_VAL:
    case N_ASSIGN:
        return cx_fail(c, &n->pos, "a definition can only be a statement of a block { ... }");
    case N_NEW:
        return cx_fail(c, &n->pos,
                       "new %s inside a function over records is not supported by "
                       "ember-shell",
                       n->name);
    case N_ETA: return cx_fail(c, &n->pos, "a function cannot be a record here");
    case N_DEF:
    case N_IMPORT: return cx_fail(c, &n->pos, "not allowed here");
    }
    return cx_fail(c, &n->pos, "not supported by ember-shell");
}

/* ---- Public side ---- */

static const char *role_what(sh_role role)
{
    switch (role) {
    case R_UPDATE: return "updateStateByKey";
    case R_MAPPING: return "StateSpec.function";
    default: return NULL;
    }
}

static int role_arity(sh_role role)
{
    switch (role) {
    case R_MAP:
    case R_FILTER:
    case R_FOREACH: return 1;
    case R_REDUCE:
    case R_UPDATE: return 2;
    case R_MAPPING: return 3;
    case R_CONST: return 0;
    }
    return 1;
}

static sh_lambda *lambda_new(sh_role role)
{
    sh_lambda *lam = g_new0(sh_lambda, 1);
    lam->role = role;
    lam->arena = em_arena_new();
    lam->regexes = g_ptr_array_new_with_free_func((GDestroyNotify)g_regex_unref);
    return lam;
}

void sh_lambda_free(void *p)
{
    sh_lambda *lam = p;
    if (!lam)
        return;
    em_arena_free(lam->arena);
    g_ptr_array_unref(lam->regexes);
    g_free(lam->text);
    g_free(lam);
}

const char *sh_lambda_text(const sh_lambda *lam) { return lam->text; }

sh_lambda *sh_lambda_compile(const sh_node *fn, sh_env *env, sh_role role, const char *what,
                             GError **err)
{
    const sh_node *lam_node = fn;
    sh_obj *bound = NULL;
    if (fn->kind == N_ETA)
        lam_node = fn = fn->kids[0];
    if (fn->kind == N_IDENT && !strcmp(fn->name, "println") && role == R_FOREACH) {
        sh_lambda *lam = lambda_new(role);
        compiler c = {.lam = lam, .env = env, .err = err};
        lam->nparams = 1;
        lam->nslots = 1;
        lam->body = cx_new(&c, sh_ev_println, fn);
        lam->body->a = cx_new(&c, sh_ev_slot, fn);
        lam->text = g_strdup("println");
        return lam;
    }
    if (fn->kind == N_IDENT) {
        bound = sh_env_lookup(env, fn->name);
        if (bound && bound->kind == O_LAMBDA)
            lam_node = bound->u.lambda.node;
    }
    if (lam_node->kind != N_LAMBDA && lam_node->kind != N_DEF) {
        if (bound)
            sh_obj_unref(bound);
        sh_error_at(err, SH_ERROR_EVAL, &fn->pos, "%s takes a function here, like %s", what,
                    role == R_REDUCE ? "(a, b) => a + b" : "x => ...");
        return NULL;
    }
    int arity = role_arity(role);
    if (role == R_MAPPING && lam_node->n_params == 4)
        arity = 4;
    /* `{ case (k, v) => ... }`, or Scala 3's `(k, v) => ...`, over tuple records. */
    bool untuple = arity == 1 && lam_node->n_params >= 2 && lam_node->n_params <= 8 &&
                   (role == R_MAP || role == R_FILTER || role == R_FOREACH);
    if (lam_node->n_params != arity && !untuple) {
        const char *shape = role == R_UPDATE    ? " (values: Seq[V], state: Option[S])"
                            : role == R_MAPPING ? " (key, value: Option[V], state: State[S])"
                                                : "";
        sh_error_at(err, SH_ERROR_EVAL, &fn->pos,
                    "%s takes a function of %d parameter%s%s; this one takes %d",
                    role_what(role) ? role_what(role) : what, arity, arity == 1 ? "" : "s", shape,
                    lam_node->n_params);
        if (bound)
            sh_obj_unref(bound);
        return NULL;
    }
    sh_lambda *lam = lambda_new(role);
    lam->nparams = arity;
    lam->text = sh_pos_text(&fn->pos);
    int first = untuple ? 1 : 0, n = lam_node->n_params;
    lam->nslots = first + n;
    scope params[8];
    scope *sc = NULL;
    for (int i = 0; i < n; i++) {
        params[i] = (scope){.name = lam_node->params[i].name,
                            .slot = first + i,
                            .next = sc,
                            .state = role == R_MAPPING && i == arity - 1};
        sc = &params[i];
    }
    compiler c = {.lam = lam, .env = env, .err = err};
    lam->body = compile(&c, lam_node->kids[0], sc);
    if (untuple && !c.failed) {
        sh_expr *u = cx_new(&c, sh_ev_untuple, lam_node);
        u->slot = 0;
        u->n = n;
        u->a = lam->body;
        lam->body = u;
    }
    if (bound)
        sh_obj_unref(bound);
    if (c.failed) {
        sh_lambda_free(lam);
        return NULL;
    }
    return lam;
}

static sh_obj *finish_driver(sh_frame *f, em_value v, GError **err)
{
    if (f->failed) {
        g_set_error_literal(err, SH_ERROR, SH_ERROR_EVAL, f->error ? f->error : "error");
        g_free(f->error);
        return NULL;
    }
    return sh_obj_value(v);
}

sh_obj *sh_eval_value(const sh_node *expr, sh_env *env, sh_driver_eval driver, void *ctx,
                      GError **err)
{
    sh_lambda *lam = lambda_new(R_CONST);
    compiler c = {.lam = lam, .env = env, .err = err, .driver = driver, .ctx = ctx};
    lam->body = compile(&c, expr, NULL);
    sh_obj *o = NULL;
    if (!c.failed) {
        em_value slots[MAX_SLOTS];
        sh_frame f = {.slots = slots};
        em_value v = lam->body->eval(lam->body, &f);
        o = finish_driver(&f, v, err);
    }
    sh_lambda_free(lam);
    return o;
}

sh_obj *sh_eval_value_method(em_value recv, const sh_node *node, sh_env *env,
                             sh_driver_eval driver, void *ctx, GError **err)
{
    sh_lambda *lam = lambda_new(R_CONST);
    compiler c = {.lam = lam, .env = env, .err = err, .driver = driver, .ctx = ctx};
    const sh_node *sel = node->kind == N_CALL ? node->kids[0] : node;
    sh_expr *r = konst(&c, sel->kids[0], recv);
    lam->body = compile_method(&c, node->kind == N_CALL ? node : NULL, sel, NULL, r);
    sh_obj *o = NULL;
    if (!c.failed) {
        em_value slots[MAX_SLOTS];
        sh_frame f = {.slots = slots};
        em_value v = lam->body->eval(lam->body, &f);
        o = finish_driver(&f, v, err);
    }
    sh_lambda_free(lam);
    return o;
}

/* ---- The adapters Ember calls ---- */

#define FRAME(lam)                                                                                \
    em_value slots_[MAX_SLOTS];                                                                   \
    sh_frame f = {.slots = slots_, .in_task = true}

em_value sh_fn_map(em_value v, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    slots_[0] = v;
    em_value r = lam->body->eval(lam->body, &f);
    return f.failed ? em_null() : r;
}

bool sh_fn_filter(em_value v, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    slots_[0] = v;
    em_value r = lam->body->eval(lam->body, &f);
    if (f.failed)
        return false;
    return sh_truth(lam->body, &f, r);
}

em_value sh_fn_reduce(em_value a, em_value b, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    slots_[0] = a;
    slots_[1] = b;
    em_value r = lam->body->eval(lam->body, &f);
    return f.failed ? em_null() : r;
}

void sh_fn_foreach(em_value v, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    slots_[0] = v;
    lam->body->eval(lam->body, &f);
}

em_value sh_fn_update(em_value key, const em_value *values, size_t n, em_value state, em_time time,
                      void *ud)
{
    (void)key, (void)time;
    const sh_lambda *lam = ud;
    FRAME(lam);
    slots_[0] = sh_make_list((em_value *)values, n);
    slots_[1] = state.type == EM_T_NONE ? em_none() : em_some(state);
    em_value r = lam->body->eval(lam->body, &f);
    if (f.failed)
        return em_none();
    if (r.type == EM_T_SOME)
        return r.as.items[0];
    if (r.type == EM_T_NONE)
        return r;
    char *s = sh_show(r);
    sh_fail_record(lam->body, &f,
                   "the update function must return Some(newState) or None, not %s %s",
                   sh_type_name(r), s);
    g_free(s);
    return em_none();
}

em_value sh_fn_mapping(em_time time, em_value key, em_value value, em_state *state, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    f.state = state;
    int k = 0;
    if (lam->nparams == 4)
        slots_[k++] = em_int(time);
    slots_[k++] = key;
    slots_[k++] = value.type == EM_T_NONE ? em_none() : em_some(value);
    em_value r = lam->body->eval(lam->body, &f);
    if (f.failed)
        return em_none();
    if (lam->nparams == 4) { /* (Time, K, Option[V], State[S]) => Option[M] */
        if (r.type == EM_T_SOME)
            return r.as.items[0];
        if (r.type != EM_T_NONE) {
            char *s = sh_show(r);
            sh_fail_record(lam->body, &f,
                           "this mapping function must return Some(record) or None, not "
                           "%s %s",
                           sh_type_name(r), s);
            g_free(s);
        }
        return em_none();
    }
    return r;
}

void sh_fn_partition(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index;
    const sh_lambda *lam = ud;
    GArray *items = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_value v;
    while (em_iter_next(in, &v))
        g_array_append_val(items, v);
    FRAME(lam);
    slots_[0] = sh_make_list((em_value *)items->data, items->len);
    em_value r = lam->body->eval(lam->body, &f);
    if (!f.failed && r.type != EM_T_LIST) {
        char *s = sh_show(r);
        sh_fail_record(lam->body, &f,
                       "mapPartitions' function must return an Iterator (a Seq), not %s %s",
                       sh_type_name(r), s);
        g_free(s);
    }
    if (!f.failed)
        for (uint32_t i = 0; i < r.len; i++)
            em_emit(out, r.as.items[i]);
    g_array_free(items, TRUE);
}

void sh_fn_foreach_partition(int index, em_iter *in, void *ud)
{
    (void)index;
    const sh_lambda *lam = ud;
    GArray *items = g_array_new(FALSE, FALSE, sizeof(em_value));
    em_value v;
    while (em_iter_next(in, &v))
        g_array_append_val(items, v);
    FRAME(lam);
    slots_[0] = sh_make_list((em_value *)items->data, items->len);
    lam->body->eval(lam->body, &f);
    g_array_free(items, TRUE);
}
