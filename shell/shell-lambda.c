/* ember-shell's lambdas: a function's syntax tree compiled once into a small tree of sh_expr
 * nodes, each with its evaluator, over em_value records; no code generation. The adapters at
 * the end (sh_fn_map, sh_fn_reduce, ...) are what Ember calls as em_map_fn etc., with the
 * compiled lambda as user data. Parameters and local vals live in slots of a frame on the
 * calling thread's stack; results are allocated in em_scratch(), as Ember's stock functions
 * do, so evaluating a record costs no malloc. A record a lambda cannot handle (a String added
 * to a tuple, a division by zero) fails its batch through em_fail(), naming the place in the
 * source. */
#include "shell.h"

#include <math.h>
#include <string.h>

#define MAX_SLOTS 64
#define MAX_INLINE_DEPTH 8

typedef struct sh_frame {
    em_value *slots;
    em_state *state;
    bool in_task;
    bool failed;
    char *error; /* outside tasks: the first failure, with its place */
} sh_frame;

typedef struct sh_expr sh_expr;
typedef em_value (*sh_eval_fn)(const sh_expr *e, sh_frame *f);

struct sh_expr {
    sh_eval_fn eval;
    const sh_node *node; /* for the place in errors */
    int slot;            /* a parameter or local; a nested function's first parameter */
    int n;               /* a nested function's parameters; an index */
    em_value k;          /* a constant */
    sh_expr *a, *b, *c;
    sh_expr **args;
    int nargs;
    GRegex *re;
    const char *name;
};

struct sh_lambda {
    sh_expr *body;
    sh_role role;
    int nparams;
    int nslots;
    em_arena *arena; /* the sh_expr nodes and constants */
    GPtrArray *regexes;
    char *text;
};

/* ---- Failing a record ---- */

static em_value fail(const sh_expr *e, sh_frame *f, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static em_value fail(const sh_expr *e, sh_frame *f, const char *fmt, ...)
{
    if (f->failed) return em_null();
    f->failed = true;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *where = sh_pos_where(&e->node->pos);
    char *text = sh_pos_text(&e->node->pos);
    if (f->in_task) {
        em_fail("%s: %s (in `%s`)", where, msg, text);
    } else {
        GError *err = NULL;
        sh_error_at(&err, SH_ERROR_EVAL, &e->node->pos, "%s", msg);
        f->error = g_strdup(err->message);
        g_error_free(err);
    }
    g_free(text);
    g_free(where);
    g_free(msg);
    return em_null();
}

static const char *type_name(em_value v)
{
    switch (em_type_of(v)) {
    case EM_T_NULL:
        return "Null";
    case EM_T_BOOL:
        return "Boolean";
    case EM_T_INT:
        return "Int";
    case EM_T_DOUBLE:
        return "Double";
    case EM_T_STR:
        return "String";
    case EM_T_TUPLE:
        return "Tuple";
    case EM_T_LIST:
        return "Seq";
    case EM_T_SOME:
        return "Some";
    case EM_T_NONE:
        return "None";
    }
    return "?";
}

/* A value for messages, cut short. */
static char *show(em_value v)
{
    char *s = em_value_to_string(v);
    if (strlen(s) > 40) strcpy(s + 37, "...");
    if (em_is_str(v)) {
        char *q = g_strdup_printf("\"%s\"", s);
        g_free(s);
        return q;
    }
    return s;
}

#define TYPE_FAIL(e, f, what, v)                                                                   \
    do {                                                                                           \
        char *shown_ = show(v);                                                                    \
        fail((e), (f), "%s is not defined for %s %s", (what), type_name(v), shown_);               \
        g_free(shown_);                                                                            \
        return em_null();                                                                          \
    } while (0)

/* ---- A per-thread text buffer for string building ---- */

static void free_gstring(gpointer s)
{
    g_string_free(s, TRUE);
}
static GPrivate text_buf = G_PRIVATE_INIT(free_gstring);

static GString *buffer(void)
{
    GString *s = g_private_get(&text_buf);
    if (!s) {
        s = g_string_sized_new(128);
        g_private_set(&text_buf, s);
    }
    g_string_truncate(s, 0);
    return s;
}

static em_value buffer_value(GString *s)
{
    return em_str_dup(s->str, s->len);
}

/* Scala's toString of v, appended: strings raw, everything else as Spark prints it. */
static void append_text(GString *out, em_value v)
{
    em_value_format(v, out);
}

/* ---- Leaves ---- */

static em_value ev_const(const sh_expr *e, sh_frame *f)
{
    (void)f;
    return e->k;
}
static em_value ev_slot(const sh_expr *e, sh_frame *f)
{
    return f->slots[e->slot];
}

/* ---- Arithmetic and comparison ---- */

static bool is_num(em_value v)
{
    return v.type == EM_T_INT || v.type == EM_T_DOUBLE;
}
static double num(em_value v)
{
    return v.type == EM_T_INT ? (double)v.as.i : v.as.d;
}

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

static em_value arith(const sh_expr *e, sh_frame *f, int op, em_value a, em_value b)
{
    if (a.type == EM_T_INT && b.type == EM_T_INT) {
        uint64_t x = (uint64_t)a.as.i, y = (uint64_t)b.as.i;
        switch (op) {
        case OP_ADD:
            return em_int((int64_t)(x + y));
        case OP_SUB:
            return em_int((int64_t)(x - y));
        case OP_MUL:
            return em_int((int64_t)(x * y));
        case OP_DIV:
        case OP_MOD:
            if (b.as.i == 0) return fail(e, f, "/ by zero");
            if (b.as.i == -1) /* Java wraps INT64_MIN / -1 */
                return em_int(op == OP_DIV ? (int64_t)(0 - x) : 0);
            return em_int(op == OP_DIV ? a.as.i / b.as.i : a.as.i % b.as.i);
        }
    }
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        switch (op) {
        case OP_ADD:
            return em_double(x + y);
        case OP_SUB:
            return em_double(x - y);
        case OP_MUL:
            return em_double(x * y);
        case OP_DIV:
            return em_double(x / y);
        case OP_MOD:
            return em_double(fmod(x, y));
        }
    }
    if (op == OP_MUL && em_is_str(a) && b.type == EM_T_INT && b.as.i >= 0 &&
        (uint64_t)b.as.i * em_str_len(a) <= (1u << 30)) { /* "ab" * 3, as Scala's StringOps */
        GString *s = buffer();
        for (int64_t i = 0; i < b.as.i; i++)
            g_string_append_len(s, em_str_ptr(a), (gssize)em_str_len(a));
        return buffer_value(s);
    }
    if (op == OP_ADD && (em_is_str(a) || em_is_str(b))) {
        GString *s = buffer();
        append_text(s, a);
        append_text(s, b);
        return buffer_value(s);
    }
    static const char *const names[] = {"+", "-", "*", "/", "%"};
    char *sa = show(a), *sb = show(b);
    fail(e, f, "%s is not defined for %s %s and %s %s", names[op], type_name(a), sa, type_name(b),
         sb);
    g_free(sa);
    g_free(sb);
    return em_null();
}

static em_value ev_add(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    if (a.type == EM_T_INT && b.type == EM_T_INT) /* the word count's `_ + _` */
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    return arith(e, f, OP_ADD, a, b);
}

/* a + b over two parameters: `_ + _`, the word count's reduce. */
static em_value ev_add_slots(const sh_expr *e, sh_frame *f)
{
    em_value a = f->slots[e->slot], b = f->slots[e->n];
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    return arith(e, f, OP_ADD, a, b);
}

static em_value ev_arith(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    return arith(e, f, e->n, a, b);
}

/* Scala's ==: numbers by value across Int and Double, everything else structurally. */
static bool values_equal(em_value a, em_value b)
{
    if (is_num(a) && is_num(b) && a.type != b.type) return num(a) == num(b);
    return em_value_equal(a, b);
}

static int values_compare(em_value a, em_value b)
{
    if (is_num(a) && is_num(b) && a.type != b.type) {
        double x = num(a), y = num(b);
        return x < y ? -1 : x > y;
    }
    return em_value_compare(a, b);
}

static em_value ev_compare(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    switch (e->n) {
    case OP_EQ:
        return em_bool(values_equal(a, b));
    case OP_NE:
        return em_bool(!values_equal(a, b));
    }
    bool comparable = (is_num(a) && is_num(b)) || (a.type == b.type && a.type != EM_T_NULL);
    if (!comparable) {
        char *sa = show(a), *sb = show(b);
        fail(e, f, "%s cannot be compared with %s (%s and %s)", type_name(a), type_name(b), sa, sb);
        g_free(sa);
        g_free(sb);
        return em_null();
    }
    int c = values_compare(a, b);
    switch (e->n) {
    case OP_LT:
        return em_bool(c < 0);
    case OP_LE:
        return em_bool(c <= 0);
    case OP_GT:
        return em_bool(c > 0);
    default:
        return em_bool(c >= 0);
    }
}

static bool truth(const sh_expr *e, sh_frame *f, em_value v)
{
    if (v.type != EM_T_BOOL) {
        char *s = show(v);
        fail(e, f, "expected a Boolean, got %s %s", type_name(v), s);
        g_free(s);
        return false;
    }
    return v.as.i != 0;
}

static em_value ev_and(const sh_expr *e, sh_frame *f)
{
    if (!truth(e->a, f, e->a->eval(e->a, f))) return em_bool(false);
    return em_bool(truth(e->b, f, e->b->eval(e->b, f)));
}

static em_value ev_or(const sh_expr *e, sh_frame *f)
{
    if (truth(e->a, f, e->a->eval(e->a, f))) return em_bool(true);
    return em_bool(truth(e->b, f, e->b->eval(e->b, f)));
}

static em_value ev_not(const sh_expr *e, sh_frame *f)
{
    return em_bool(!truth(e->a, f, e->a->eval(e->a, f)));
}

static em_value ev_neg(const sh_expr *e, sh_frame *f)
{
    em_value v = e->a->eval(e->a, f);
    if (v.type == EM_T_INT) return em_int((int64_t)(0 - (uint64_t)v.as.i));
    if (v.type == EM_T_DOUBLE) return em_double(-v.as.d);
    TYPE_FAIL(e, f, "unary -", v);
}

static em_value ev_if(const sh_expr *e, sh_frame *f)
{
    if (truth(e->a, f, e->a->eval(e->a, f))) return e->b->eval(e->b, f);
    return e->c ? e->c->eval(e->c, f) : em_null();
}

/* ---- Constructors ---- */

static em_value ev_pair(const sh_expr *e, sh_frame *f)
{
    em_value k = e->a->eval(e->a, f);
    return em_pair(k, e->b->eval(e->b, f));
}

/* (x, 1): a parameter and a constant, the word count's pair, without two evaluator calls. */
static em_value ev_pair_slot_const(const sh_expr *e, sh_frame *f)
{
    return em_pair(f->slots[e->slot], e->k);
}

static em_value ev_tuple(const sh_expr *e, sh_frame *f)
{
    em_value *items = em_arena_alloc(em_scratch(), sizeof(em_value) * (size_t)e->nargs);
    for (int i = 0; i < e->nargs; i++)
        items[i] = e->args[i]->eval(e->args[i], f);
    return (em_value){.type = EM_T_TUPLE, .len = (uint32_t)e->nargs, .as.items = items};
}

static em_value ev_list(const sh_expr *e, sh_frame *f)
{
    em_value *items = em_arena_alloc(em_scratch(), sizeof(em_value) * (size_t)(e->nargs + 1));
    for (int i = 0; i < e->nargs; i++)
        items[i] = e->args[i]->eval(e->args[i], f);
    return (em_value){
        .type = EM_T_LIST, .kind = (uint8_t)e->n, .len = (uint32_t)e->nargs, .as.items = items};
}

static em_value ev_some(const sh_expr *e, sh_frame *f)
{
    return em_some(e->a->eval(e->a, f));
}

static em_value ev_block(const sh_expr *e, sh_frame *f)
{
    em_value v = em_null();
    for (int i = 0; i < e->nargs && !f->failed; i++)
        v = e->args[i]->eval(e->args[i], f);
    return v;
}

static em_value ev_set_slot(const sh_expr *e, sh_frame *f)
{
    f->slots[e->slot] = e->a->eval(e->a, f);
    return em_null();
}

static em_value ev_interp(const sh_expr *e, sh_frame *f)
{
    /* Parts are evaluated before the buffer is taken: they may build strings themselves. */
    em_value *parts = em_arena_alloc(em_scratch(), sizeof(em_value) * (size_t)e->nargs);
    for (int i = 0; i < e->nargs; i++)
        parts[i] = e->args[i]->eval(e->args[i], f);
    GString *s = buffer();
    for (int i = 0; i < e->nargs; i++)
        append_text(s, parts[i]);
    return buffer_value(s);
}

static GMutex print_lock;

static em_value ev_println(const sh_expr *e, sh_frame *f)
{
    em_value v = e->a ? e->a->eval(e->a, f) : em_strn("", 0);
    GString *s = buffer();
    append_text(s, v);
    g_string_append_c(s, '\n');
    g_mutex_lock(&print_lock);
    fwrite(s->str, 1, s->len, stdout);
    g_mutex_unlock(&print_lock);
    return em_null();
}

/* ---- Nested functions: map(f), filter(f), foldLeft(z)(f) on Seqs ---- */

static em_value call1(const sh_expr *fn, sh_frame *f, em_value x)
{
    f->slots[fn->slot] = x;
    return fn->a->eval(fn->a, f);
}

static em_value call2(const sh_expr *fn, sh_frame *f, em_value x, em_value y)
{
    f->slots[fn->slot] = x;
    f->slots[fn->slot + 1] = y;
    return fn->a->eval(fn->a, f);
}

/* Calls a named lambda: its arguments into its slots, then its body. */
static em_value ev_call_fn(const sh_expr *e, sh_frame *f)
{
    em_value args[MAX_SLOTS];
    for (int i = 0; i < e->nargs; i++)
        args[i] = e->args[i]->eval(e->args[i], f);
    for (int i = 0; i < e->nargs; i++)
        f->slots[e->a->slot + i] = args[i];
    return e->a->a->eval(e->a->a, f);
}

/* A function of n parameters over tuple records of n fields: the record in e->slot taken
 * apart into the n slots after it. */
static em_value ev_untuple(const sh_expr *e, sh_frame *f)
{
    em_value t = f->slots[e->slot];
    if (t.type != EM_T_TUPLE || t.len != (uint32_t)e->n) {
        char *s = show(t);
        fail(e, f, "this function takes a tuple of %d fields, not %s %s", e->n, type_name(t), s);
        g_free(s);
        return em_null();
    }
    for (int i = 0; i < e->n; i++)
        f->slots[e->slot + 1 + i] = t.as.items[i];
    return e->a->eval(e->a, f);
}

/* ---- Methods ---- */

typedef enum method {
    M_SPLIT,
    M_LENGTH,
    M_UPPER,
    M_LOWER,
    M_TRIM,
    M_TO_INT,
    M_TO_DOUBLE,
    M_TO_STRING,
    M_IS_EMPTY,
    M_NON_EMPTY,
    M_CONTAINS,
    M_STARTS,
    M_ENDS,
    M_SUBSTRING,
    M_REPLACE,
    M_INDEX_OF,
    M_GET_OR_ELSE,
    M_GET,
    M_IS_DEFINED,
    M_SUM,
    M_HEAD,
    M_LAST,
    M_MAX,
    M_MIN,
    M_MK_STRING,
    M_MAP,
    M_FILTER,
    M_FOLD_LEFT,
    M_REDUCE,
    M_FOREACH,
    M_COUNT,
    M_EXISTS,
    M_FORALL,
    M_SORTED,
    M_REVERSE,
    M_TAKE,
    M_DROP,
    M_TO_SEQ,
    M_APPLY,
    M_FIELD,
    M_SWAP,
    M_ABS,
    M_DISTINCT,
    M_FLAT_MAP,
    M_SIZE,
    M_STATE_GET_OPTION,
    M_STATE_GET,
    M_STATE_EXISTS,
    M_STATE_UPDATE,
    M_STATE_REMOVE,
    M_STATE_TIMING_OUT,
} method;

typedef struct method_info {
    const char *name;
    method m;
    int min_args, max_args; /* -1: no argument list */
    int fn_arity;           /* > 0: the (last) argument is a function of this many parameters */
} method_info;

static const method_info methods[] = {
    {"split", M_SPLIT, 1, 1, 0},
    {"length", M_LENGTH, 0, 0, 0},
    {"size", M_SIZE, 0, 0, 0},
    {"toUpperCase", M_UPPER, 0, 0, 0},
    {"toLowerCase", M_LOWER, 0, 0, 0},
    {"trim", M_TRIM, 0, 0, 0},
    {"toInt", M_TO_INT, 0, 0, 0},
    {"toLong", M_TO_INT, 0, 0, 0},
    {"toDouble", M_TO_DOUBLE, 0, 0, 0},
    {"toFloat", M_TO_DOUBLE, 0, 0, 0},
    {"toString", M_TO_STRING, 0, 0, 0},
    {"isEmpty", M_IS_EMPTY, 0, 0, 0},
    {"nonEmpty", M_NON_EMPTY, 0, 0, 0},
    {"contains", M_CONTAINS, 1, 1, 0},
    {"startsWith", M_STARTS, 1, 1, 0},
    {"endsWith", M_ENDS, 1, 1, 0},
    {"substring", M_SUBSTRING, 1, 2, 0},
    {"replace", M_REPLACE, 2, 2, 0},
    {"indexOf", M_INDEX_OF, 1, 1, 0},
    {"getOrElse", M_GET_OR_ELSE, 1, 1, 0},
    {"get", M_GET, 0, 0, 0},
    {"isDefined", M_IS_DEFINED, 0, 0, 0},
    {"sum", M_SUM, 0, 0, 0},
    {"head", M_HEAD, 0, 0, 0},
    {"last", M_LAST, 0, 0, 0},
    {"max", M_MAX, 0, 1, 0},
    {"min", M_MIN, 0, 1, 0},
    {"mkString", M_MK_STRING, 0, 3, 0},
    {"map", M_MAP, 1, 1, 1},
    {"flatMap", M_FLAT_MAP, 1, 1, 1},
    {"filter", M_FILTER, 1, 1, 1},
    {"foldLeft", M_FOLD_LEFT, 1, 1, 2},
    {"reduce", M_REDUCE, 1, 1, 2},
    {"foreach", M_FOREACH, 1, 1, 1},
    {"count", M_COUNT, 1, 1, 1},
    {"exists", M_EXISTS, 1, 1, 1},
    {"forall", M_FORALL, 1, 1, 1},
    {"sorted", M_SORTED, 0, 0, 0},
    {"reverse", M_REVERSE, 0, 0, 0},
    {"take", M_TAKE, 1, 1, 0},
    {"drop", M_DROP, 1, 1, 0},
    {"distinct", M_DISTINCT, 0, 0, 0},
    {"toList", M_TO_SEQ, 0, 0, 0},
    {"toSeq", M_TO_SEQ, 0, 0, 0},
    {"toArray", M_TO_SEQ, 0, 0, 0},
    {"toVector", M_TO_SEQ, 0, 0, 0},
    {"toIterator", M_TO_SEQ, 0, 0, 0},
    {"iterator", M_TO_SEQ, 0, 0, 0},
    {"apply", M_APPLY, 1, 1, 0},
    {"swap", M_SWAP, 0, 0, 0},
    {"abs", M_ABS, 0, 0, 0},
};

static const method_info state_methods[] = {
    {"getOption", M_STATE_GET_OPTION, 0, 0, 0}, {"get", M_STATE_GET, 0, 0, 0},
    {"exists", M_STATE_EXISTS, 0, 0, 0},        {"update", M_STATE_UPDATE, 1, 1, 0},
    {"remove", M_STATE_REMOVE, 0, 0, 0},        {"isTimingOut", M_STATE_TIMING_OUT, 0, 0, 0},
};

const char *const *sh_value_method_names(void)
{
    static const char *names[G_N_ELEMENTS(methods) + 1];
    static gsize done;
    if (g_once_init_enter(&done)) {
        for (size_t i = 0; i < G_N_ELEMENTS(methods); i++)
            names[i] = methods[i].name;
        g_once_init_leave(&done, 1);
    }
    return names;
}

const char *const *sh_state_method_names(void)
{
    static const char *names[G_N_ELEMENTS(state_methods) + 1];
    static gsize done;
    if (g_once_init_enter(&done)) {
        for (size_t i = 0; i < G_N_ELEMENTS(state_methods); i++)
            names[i] = state_methods[i].name;
        g_once_init_leave(&done, 1);
    }
    return names;
}

static em_value make_list(em_value *items, size_t n)
{
    return (em_value){.type = EM_T_LIST, .kind = EM_LIST, .len = (uint32_t)n, .as.items = items};
}

/* Java's String.split(regex): a literal separator (or a regex), leading empty strings kept
 * (except before a zero-width match at 0), trailing ones dropped. */
static em_value split_with(const sh_expr *e, em_value s, em_value sep)
{
    const char *p = em_str_ptr(s);
    size_t n = em_str_len(s);
    em_arena *scratch = em_scratch();
    size_t cap = 8, count = 0;
    em_value *items = em_arena_alloc(scratch, sizeof(em_value) * cap);
    size_t start = 0;
#define PUSH_ITEM(from, to)                                                                        \
    do {                                                                                           \
        if (count == cap) {                                                                        \
            em_value *bigger = em_arena_alloc(scratch, sizeof(em_value) * cap * 2);                \
            memcpy(bigger, items, sizeof(em_value) * cap);                                         \
            items = bigger;                                                                        \
            cap *= 2;                                                                              \
        }                                                                                          \
        items[count++] = em_strn(p + (from), (to) - (from));                                       \
    } while (0)
    if (n == 0) {
        PUSH_ITEM(0, 0); /* "".split(x) is Array("") */
        return make_list(items, count);
    }
    if (!e->re) {
        const char *q = em_str_ptr(sep);
        size_t m = em_str_len(sep);
        for (size_t i = 0; m > 0 && i + m <= n;) {
            if (memcmp(p + i, q, m) == 0) {
                PUSH_ITEM(start, i);
                i += m;
                start = i;
            } else {
                i++;
            }
        }
        PUSH_ITEM(start, n);
    } else {
        GMatchInfo *mi = NULL;
        g_regex_match_full(e->re, p, (gssize)n, 0, 0, &mi, NULL);
        while (g_match_info_matches(mi)) {
            int ms, me;
            g_match_info_fetch_pos(mi, 0, &ms, &me);
            if (!(me == 0 && ms == 0) && me > 0) {
                PUSH_ITEM(start, (size_t)ms);
                start = (size_t)me;
            }
            g_match_info_next(mi, NULL);
        }
        g_match_info_free(mi);
        PUSH_ITEM(start, n);
    }
#undef PUSH_ITEM
    while (count > 0 && em_str_len(items[count - 1]) == 0)
        count--;
    return make_list(items, count);
}

static em_value ev_split_space(const sh_expr *e, sh_frame *f)
{
    em_value s = e->a->eval(e->a, f);
    if (!em_is_str(s)) TYPE_FAIL(e, f, "split", s);
    return em_split_space(s, NULL);
}

static bool number_text(em_value s, em_value *out, bool want_int)
{
    char buf[64];
    size_t n = em_str_len(s);
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, em_str_ptr(s), n);
    buf[n] = '\0';
    char *end;
    if (want_int) {
        gint64 v;
        if (!g_ascii_string_to_signed(buf, 10, G_MININT64, G_MAXINT64, &v, NULL)) return false;
        *out = em_int(v);
        return true;
    }
    double d = g_ascii_strtod(buf, &end);
    if (*end) return false;
    *out = em_double(d);
    return true;
}

static em_value to_text(em_value v)
{
    if (em_is_str(v)) return v;
    GString *s = buffer();
    append_text(s, v);
    return buffer_value(s);
}

static em_value string_method(const sh_expr *e, sh_frame *f, em_value s, const em_value *a)
{
    const char *p = em_str_ptr(s);
    size_t n = em_str_len(s);
    switch ((method)e->n) {
    case M_SPLIT:
        if (!em_is_str(a[0])) TYPE_FAIL(e, f, "split's separator", a[0]);
        return split_with(e, s, a[0]);
    case M_LENGTH:
    case M_SIZE:
        return em_int((int64_t)g_utf8_strlen(p, (gssize)n));
    case M_UPPER:
    case M_LOWER: {
        char *c = e->n == M_UPPER ? g_utf8_strup(p, (gssize)n) : g_utf8_strdown(p, (gssize)n);
        em_value r = em_str_dup(c, strlen(c));
        g_free(c);
        return r;
    }
    case M_TRIM: {
        size_t i = 0, j = n;
        while (i < j && (unsigned char)p[i] <= ' ')
            i++;
        while (j > i && (unsigned char)p[j - 1] <= ' ')
            j--;
        return em_strn(p + i, j - i);
    }
    case M_TO_INT:
    case M_TO_DOUBLE: {
        em_value r;
        if (!number_text(s, &r, e->n == M_TO_INT)) {
            char *sh = show(s);
            fail(e, f, "NumberFormatException: For input string: %s", sh);
            g_free(sh);
            return em_null();
        }
        return r;
    }
    case M_IS_EMPTY:
        return em_bool(n == 0);
    case M_NON_EMPTY:
        return em_bool(n != 0);
    case M_CONTAINS:
    case M_STARTS:
    case M_ENDS:
    case M_INDEX_OF: {
        em_value t = to_text(a[0]);
        const char *q = em_str_ptr(t);
        size_t m = em_str_len(t);
        if (e->n == M_STARTS) return em_bool(m <= n && memcmp(p, q, m) == 0);
        if (e->n == M_ENDS) return em_bool(m <= n && memcmp(p + n - m, q, m) == 0);
        for (size_t i = 0; i + m <= n; i++)
            if (memcmp(p + i, q, m) == 0)
                return e->n == M_CONTAINS ? em_bool(true) : em_int((int64_t)i);
        return e->n == M_CONTAINS ? em_bool(false) : em_int(-1);
    }
    case M_SUBSTRING: {
        if (a[0].type != EM_T_INT || (e->nargs > 1 && a[1].type != EM_T_INT))
            return fail(e, f, "substring takes Int positions");
        int64_t from = a[0].as.i, to = e->nargs > 1 ? a[1].as.i : (int64_t)n;
        if (from < 0 || to > (int64_t)n || from > to)
            return fail(e, f, "StringIndexOutOfBoundsException: begin %lld, end %lld, length %zu",
                        (long long)from, (long long)to, n);
        return em_strn(p + from, (size_t)(to - from));
    }
    case M_REPLACE: {
        em_value x = to_text(a[0]), y = to_text(a[1]);
        char *xs = g_strndup(em_str_ptr(x), em_str_len(x));
        GString *out = buffer();
        for (size_t i = 0; i < n;) {
            if (em_str_len(x) > 0 && i + em_str_len(x) <= n &&
                memcmp(p + i, xs, em_str_len(x)) == 0) {
                g_string_append_len(out, em_str_ptr(y), (gssize)em_str_len(y));
                i += em_str_len(x);
            } else {
                g_string_append_c(out, p[i++]);
            }
        }
        g_free(xs);
        return buffer_value(out);
    }
    case M_TO_STRING:
        return s;
    case M_REVERSE: {
        char *r = g_utf8_strreverse(p, (gssize)n);
        em_value v = em_str_dup(r, strlen(r));
        g_free(r);
        return v;
    }
    default:
        break;
    }
    const char *name = e->name;
    TYPE_FAIL(e, f, name, s);
}

static em_value number_method(const sh_expr *e, sh_frame *f, em_value x, const em_value *a)
{
    switch ((method)e->n) {
    case M_TO_INT:
        return em_int(x.type == EM_T_INT ? x.as.i : (int64_t)x.as.d);
    case M_TO_DOUBLE:
        return em_double(num(x));
    case M_TO_STRING:
        return to_text(x);
    case M_ABS:
        return x.type == EM_T_INT ? em_int(x.as.i < 0 ? -x.as.i : x.as.i) : em_double(fabs(x.as.d));
    case M_MAX:
    case M_MIN:
        if (e->nargs == 1) {
            if (!is_num(a[0])) TYPE_FAIL(e, f, e->name, a[0]);
            bool first = values_compare(x, a[0]) >= 0;
            return (e->n == M_MAX) == first ? x : a[0];
        }
        break;
    default:
        break;
    }
    TYPE_FAIL(e, f, e->name, x);
}

static em_value list_sum(const sh_expr *e, sh_frame *f, em_value l)
{
    int64_t i = 0;
    double d = 0;
    bool dbl = false;
    for (size_t k = 0; k < l.len; k++) {
        em_value v = l.as.items[k];
        if (v.type == EM_T_INT)
            i = (int64_t)((uint64_t)i + (uint64_t)v.as.i);
        else if (v.type == EM_T_DOUBLE)
            d += v.as.d, dbl = true;
        else
            TYPE_FAIL(e, f, "sum", v);
    }
    return dbl ? em_double(d + (double)i) : em_int(i);
}

static int sort_cmp(const void *a, const void *b)
{
    return values_compare(*(const em_value *)a, *(const em_value *)b);
}

static em_value list_method(const sh_expr *e, sh_frame *f, em_value l, const em_value *a)
{
    size_t n = l.len;
    const em_value *it = l.as.items;
    em_arena *scratch = em_scratch();
    switch ((method)e->n) {
    case M_LENGTH:
    case M_SIZE:
        return em_int((int64_t)n);
    case M_IS_EMPTY:
        return em_bool(n == 0);
    case M_NON_EMPTY:
        return em_bool(n != 0);
    case M_SUM:
        return list_sum(e, f, l);
    case M_HEAD:
    case M_LAST:
        if (n == 0) return fail(e, f, "%s of an empty Seq", e->name);
        return it[e->n == M_HEAD ? 0 : n - 1];
    case M_MAX:
    case M_MIN: {
        if (n == 0) return fail(e, f, "%s of an empty Seq", e->name);
        em_value best = it[0];
        for (size_t k = 1; k < n; k++) {
            int c = values_compare(it[k], best);
            if (e->n == M_MAX ? c > 0 : c < 0) best = it[k];
        }
        return best;
    }
    case M_MK_STRING: {
        em_value sep = e->nargs == 1 ? a[0] : e->nargs == 3 ? a[1] : em_strn("", 0);
        em_value *parts = em_arena_alloc(scratch, sizeof(em_value) * (e->nargs == 3 ? 3 : 1));
        parts[0] = to_text(sep);
        if (e->nargs == 3) parts[1] = to_text(a[0]), parts[2] = to_text(a[2]);
        GString *s = buffer();
        if (e->nargs == 3) append_text(s, parts[1]);
        for (size_t k = 0; k < n; k++) {
            if (k) append_text(s, parts[0]);
            append_text(s, it[k]);
        }
        if (e->nargs == 3) append_text(s, parts[2]);
        return buffer_value(s);
    }
    case M_CONTAINS:
        for (size_t k = 0; k < n; k++)
            if (values_equal(it[k], a[0])) return em_bool(true);
        return em_bool(false);
    case M_SORTED:
    case M_REVERSE:
    case M_DISTINCT:
    case M_TAKE:
    case M_DROP: {
        em_value *out = em_arena_alloc(scratch, sizeof(em_value) * (n ? n : 1));
        size_t m = 0;
        int64_t k0 = e->nargs ? (a[0].type == EM_T_INT ? a[0].as.i : 0) : 0;
        for (size_t k = 0; k < n; k++) {
            if (e->n == M_TAKE && (int64_t)k >= k0) break;
            if (e->n == M_DROP && (int64_t)k < k0) continue;
            if (e->n == M_DISTINCT) {
                bool seen = false;
                for (size_t j = 0; j < m && !seen; j++)
                    seen = values_equal(out[j], it[k]);
                if (seen) continue;
            }
            out[m++] = e->n == M_REVERSE ? it[n - 1 - k] : it[k];
        }
        if (e->n == M_SORTED) qsort(out, m, sizeof *out, sort_cmp);
        return make_list(out, m);
    }
    case M_TO_SEQ:
        return make_list((em_value *)it, n);
    case M_APPLY:
        if (a[0].type != EM_T_INT || a[0].as.i < 0 || (size_t)a[0].as.i >= n) {
            char *s = show(a[0]);
            fail(e, f, "index %s out of bounds for length %zu", s, n);
            g_free(s);
            return em_null();
        }
        return it[a[0].as.i];
    default:
        break;
    }
    TYPE_FAIL(e, f, e->name, l);
}

/* Methods taking a function: e->b is the nested function (slot, n parameters, body a). */
static em_value ev_higher(const sh_expr *e, sh_frame *f)
{
    em_value l = e->a->eval(e->a, f);
    const sh_expr *fn = e->b;
    if (e->n == M_MAP && (l.type == EM_T_SOME || l.type == EM_T_NONE))
        return l.type == EM_T_NONE ? l : em_some(call1(fn, f, l.as.items[0]));
    if (l.type != EM_T_LIST) TYPE_FAIL(e, f, e->name, l);
    size_t n = l.len;
    const em_value *it = l.as.items;
    switch ((method)e->n) {
    case M_MAP:
    case M_FILTER:
    case M_FLAT_MAP: {
        size_t cap = n ? n : 1, m = 0;
        em_value *out = em_arena_alloc(em_scratch(), sizeof(em_value) * cap);
        for (size_t k = 0; k < n && !f->failed; k++) {
            em_value r = call1(fn, f, it[k]);
            if (e->n == M_MAP) {
                out[m++] = r;
            } else if (e->n == M_FILTER) {
                if (truth(fn->a, f, r)) out[m++] = it[k];
            } else {
                size_t add = r.type == EM_T_LIST ? r.len : r.type == EM_T_SOME ? 1 : 0;
                if (m + add > cap) {
                    size_t c2 = (m + add) * 2;
                    em_value *bigger = em_arena_alloc(em_scratch(), sizeof(em_value) * c2);
                    memcpy(bigger, out, sizeof(em_value) * m);
                    out = bigger, cap = c2;
                }
                for (size_t j = 0; j < add; j++)
                    out[m++] = r.as.items[j];
            }
        }
        return make_list(out, m);
    }
    case M_FOREACH:
        for (size_t k = 0; k < n && !f->failed; k++)
            call1(fn, f, it[k]);
        return em_null();
    case M_COUNT:
    case M_EXISTS:
    case M_FORALL: {
        int64_t c = 0;
        for (size_t k = 0; k < n && !f->failed; k++)
            c += truth(fn->a, f, call1(fn, f, it[k]));
        if (e->n == M_COUNT) return em_int(c);
        return em_bool(e->n == M_EXISTS ? c > 0 : c == (int64_t)n);
    }
    case M_REDUCE: {
        if (n == 0) return fail(e, f, "reduce of an empty Seq");
        em_value acc = it[0];
        for (size_t k = 1; k < n && !f->failed; k++)
            acc = call2(fn, f, acc, it[k]);
        return acc;
    }
    case M_FOLD_LEFT: {
        em_value acc = e->c->eval(e->c, f);
        for (size_t k = 0; k < n && !f->failed; k++)
            acc = call2(fn, f, acc, it[k]);
        return acc;
    }
    default:
        break;
    }
    TYPE_FAIL(e, f, e->name, l);
}

static em_value ev_method(const sh_expr *e, sh_frame *f)
{
    em_value recv = e->a->eval(e->a, f);
    em_value a[3];
    for (int i = 0; i < e->nargs; i++)
        a[i] = e->args[i]->eval(e->args[i], f);
    if (f->failed) return em_null();
    if (e->n == M_TO_STRING) return to_text(recv);
    switch (em_type_of(recv)) {
    case EM_T_STR:
        return string_method(e, f, recv, a);
    case EM_T_INT:
    case EM_T_DOUBLE:
        return number_method(e, f, recv, a);
    case EM_T_LIST:
        return list_method(e, f, recv, a);
    case EM_T_SOME:
    case EM_T_NONE:
        switch ((method)e->n) {
        case M_GET_OR_ELSE:
            return recv.type == EM_T_SOME ? recv.as.items[0] : a[0];
        case M_GET:
            if (recv.type == EM_T_NONE) return fail(e, f, "None.get");
            return recv.as.items[0];
        case M_IS_DEFINED:
        case M_NON_EMPTY:
            return em_bool(recv.type == EM_T_SOME);
        case M_IS_EMPTY:
            return em_bool(recv.type == EM_T_NONE);
        case M_SUM:
            return recv.type == EM_T_SOME ? recv.as.items[0] : em_int(0);
        default:
            break;
        }
        break;
    case EM_T_TUPLE:
        if (e->n == M_SWAP && recv.len == 2) return em_pair(recv.as.items[1], recv.as.items[0]);
        break;
    default:
        break;
    }
    TYPE_FAIL(e, f, e->name, recv);
}

static em_value ev_field(const sh_expr *e, sh_frame *f)
{
    em_value t = e->a->eval(e->a, f);
    if (t.type == EM_T_TUPLE && (uint32_t)e->n < t.len) return t.as.items[e->n];
    if (f->failed) return em_null();
    char *s = show(t);
    fail(e, f, "_%d is not defined for %s %s", e->n + 1, type_name(t), s);
    g_free(s);
    return em_null();
}

static em_value ev_state(const sh_expr *e, sh_frame *f)
{
    em_state *st = f->state;
    switch ((method)e->n) {
    case M_STATE_GET_OPTION:
        return em_state_exists(st) ? em_some(em_state_get(st)) : em_none();
    case M_STATE_GET:
        if (!em_state_exists(st))
            return fail(e, f, "State.get: the state does not exist (use getOption)");
        return em_state_get(st);
    case M_STATE_EXISTS:
        return em_bool(em_state_exists(st));
    case M_STATE_TIMING_OUT:
        return em_bool(em_state_is_timing_out(st));
    case M_STATE_REMOVE:
        em_state_remove(st);
        return em_null();
    case M_STATE_UPDATE: {
        em_value v = e->a->eval(e->a, f);
        if (f->failed) return em_null();
        if (em_state_is_timing_out(st))
            return fail(e, f, "cannot update the state of a key that is timing out");
        em_state_update(st, v);
        return em_null();
    }
    default:
        return em_null();
    }
}

static em_value ev_math(const sh_expr *e, sh_frame *f)
{
    em_value a = e->args[0]->eval(e->args[0], f);
    em_value b = e->nargs > 1 ? e->args[1]->eval(e->args[1], f) : em_null();
    if (!is_num(a) || (e->nargs > 1 && !is_num(b))) TYPE_FAIL(e, f, e->name, is_num(a) ? b : a);
    const char *n = e->name;
    if (!strcmp(n, "max") || !strcmp(n, "min")) {
        bool a_wins = (values_compare(a, b) >= 0) == (n[1] == 'a');
        em_value r = a_wins ? a : b;
        return a.type == b.type ? r : em_double(num(r));
    }
    if (!strcmp(n, "abs"))
        return a.type == EM_T_INT ? em_int(a.as.i < 0 ? -a.as.i : a.as.i) : em_double(fabs(a.as.d));
    if (!strcmp(n, "sqrt")) return em_double(sqrt(num(a)));
    if (!strcmp(n, "pow")) return em_double(pow(num(a), num(b)));
    if (!strcmp(n, "floor")) return em_double(floor(num(a)));
    if (!strcmp(n, "ceil")) return em_double(ceil(num(a)));
    if (!strcmp(n, "round")) return em_int((int64_t)llround(num(a)));
    return em_null();
}

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
    sh_expr *e = cx_new(c, ev_const, n);
    e->k = em_value_copy(v, c->lam->arena);
    return e;
}

static const scope *find(const scope *sc, const char *name)
{
    for (; sc; sc = sc->next)
        if (!strcmp(sc->name, name)) return sc;
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
    if (c->failed) return NULL;
    if (arg->kind == N_IDENT && !strcmp(arg->name, "println") && !find(sc, "println")) {
        if (nparams != 1)
            return cx_fail(c, &arg->pos, "%s takes a function of %d parameters; println takes 1",
                           what, nparams);
        sh_expr *p = cx_new(c, ev_println, arg);
        p->a = cx_new(c, ev_slot, arg);
        p->a->slot = fn->slot;
        fn->a = p;
        return fn;
    }
    const sh_node *lam = arg;
    sh_obj *bound = NULL;
    if (arg->kind == N_IDENT && !find(sc, arg->name) && c->env) {
        bound = sh_env_lookup(c->env, arg->name);
        if (bound && bound->kind == O_LAMBDA) lam = bound->u.lambda.node;
    }
    if (lam->kind == N_ETA) lam = lam->kids[0];
    if (lam->kind != N_LAMBDA && lam->kind != N_DEF) {
        if (bound) sh_obj_unref(bound);
        return cx_fail(c, &arg->pos, "%s takes a function here, like x => ...", what);
    }
    /* xs.map { case (k, v) => ... } over tuples: the one record taken apart. */
    bool untuple = nparams == 1 && lam->n_params >= 2 && lam->n_params <= 8;
    if (lam->n_params != nparams && !untuple) {
        if (bound) sh_obj_unref(bound);
        return cx_fail(c, &arg->pos, "%s takes a function of %d parameter%s; this one takes %d",
                       what, nparams, nparams == 1 ? "" : "s", lam->n_params);
    }
    if (++c->depth > MAX_INLINE_DEPTH) {
        if (bound) sh_obj_unref(bound);
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
        sh_expr *u = cx_new(c, ev_untuple, lam);
        u->slot = fn->slot;
        u->n = lam->n_params;
        u->a = fn->a;
        fn->a = u;
    }
    c->depth--;
    if (bound) sh_obj_unref(bound);
    return c->failed ? NULL : fn;
}

static const method_info *find_method(const method_info *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

static bool is_tuple_field(const char *name, int *index)
{
    if (name[0] != '_' || !g_ascii_isdigit(name[1])) return false;
    char *end;
    long k = strtol(name + 1, &end, 10);
    if (*end || k < 1 || k > 22) return false;
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

    /* State's methods, on mapWithState's State parameter. */
    const scope *st = recv->kind == N_IDENT && !recv_done ? find(sc, recv->name) : NULL;
    if (st && st->state) {
        const method_info *m = find_method(state_methods, G_N_ELEMENTS(state_methods), name);
        if (!m)
            return cx_fail(c, &mpos,
                           "%s is not a method of State (it has getOption, get, exists, "
                           "update, remove, isTimingOut)",
                           name);
        int given = nargs < 0 ? 0 : nargs;
        if (given < m->min_args || given > m->max_args)
            return cx_fail(c, &at->pos, "State.%s takes %d argument%s", name, m->min_args,
                           m->min_args == 1 ? "" : "s");
        sh_expr *e = cx_new(c, ev_state, at);
        e->n = m->m;
        e->name = m->name;
        if (m->m == M_STATE_UPDATE) e->a = compile(c, args[0], sc);
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
        sh_expr *e = cx_new(c, ev_math, at);
        e->name = name;
        e->nargs = nargs;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * 2);
        for (int i = 0; i < nargs; i++)
            e->args[i] = compile(c, args[i], sc);
        return c->failed ? NULL : e;
    }

    int field;
    if (is_tuple_field(name, &field)) {
        if (nargs >= 0) return cx_fail(c, &at->pos, "%s takes no arguments", name);
        sh_expr *e = cx_new(c, ev_field, sel);
        e->a = recv_done ? recv_done : compile(c, recv, sc);
        e->n = field;
        return c->failed ? NULL : e;
    }
    const method_info *m = find_method(methods, G_N_ELEMENTS(methods), name);
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
    if (c->failed) return NULL;
    if (m->fn_arity > 0) {
        sh_expr *e = cx_new(c, ev_higher, at);
        e->a = r;
        e->n = m->m;
        e->name = m->name;
        if (m->m == M_FOLD_LEFT)
            return cx_fail(c, &at->pos, "foldLeft takes two argument lists: xs.foldLeft(0)(_ + _)");
        e->b = compile_fn_arg(c, args[0], m->fn_arity, sc, name);
        return c->failed ? NULL : e;
    }
    /* split(" "): Scala's split on one space, Ember's stock em_split_space. */
    if (m->m == M_SPLIT && args[0]->kind == N_STRING && args[0]->slen == 1 &&
        args[0]->s[0] == ' ') {
        sh_expr *e = cx_new(c, ev_split_space, at);
        e->a = r;
        e->name = name;
        return e;
    }
    sh_expr *e = cx_new(c, ev_method, at);
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
    sh_expr *e = cx_new(c, ev_list, call);
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
    if (callee->kind == N_SELECT) return compile_method(c, n, callee, sc, NULL);
    /* xs.foldLeft(z)(f) */
    if (callee->kind == N_CALL && callee->kids[0]->kind == N_SELECT &&
        !strcmp(callee->kids[0]->name, "foldLeft")) {
        if (callee->n_kids != 2 || nargs != 1)
            return cx_fail(c, &n->pos, "foldLeft is written xs.foldLeft(zero)((acc, x) => ...)");
        sh_expr *e = cx_new(c, ev_higher, n);
        e->a = compile(c, callee->kids[0]->kids[0], sc);
        e->c = compile(c, callee->kids[1], sc);
        e->n = M_FOLD_LEFT;
        e->name = "foldLeft";
        if (!c->failed) e->b = compile_fn_arg(c, n->kids[1], 2, sc, "foldLeft");
        return c->failed ? NULL : e;
    }
    if (callee->kind == N_IDENT && !find(sc, callee->name)) {
        const char *name = callee->name;
        if (!strcmp(name, "Some")) {
            if (nargs != 1) return cx_fail(c, &n->pos, "Some takes 1 argument");
            sh_expr *e = cx_new(c, ev_some, n);
            e->a = compile(c, n->kids[1], sc);
            return c->failed ? NULL : e;
        }
        if (!strcmp(name, "Seq") || !strcmp(name, "List") || !strcmp(name, "Vector") ||
            !strcmp(name, "Array") || !strcmp(name, "Iterator"))
            return compile_list(c, n, 1, !strcmp(name, "Array") ? EM_ARRAY : EM_LIST, sc);
        if (!strcmp(name, "println")) {
            if (nargs > 1) return cx_fail(c, &n->pos, "println takes 1 argument");
            sh_expr *e = cx_new(c, ev_println, n);
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
            sh_expr *e = cx_new(c, ev_call_fn, n);
            e->nargs = nargs;
            e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(nargs + 1));
            for (int i = 0; i < nargs; i++)
                e->args[i] = compile(c, n->kids[1 + i], sc);
            if (!c->failed) e->a = compile_fn_arg(c, callee, nargs, sc, name);
            return c->failed ? NULL : e;
        }
        if (bound) sh_obj_unref(bound);
    }
    /* xs(i), t(i): apply on a value. */
    if (nargs == 1) {
        sh_expr *e = cx_new(c, ev_method, n);
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
        {"+", ev_add, OP_ADD},     {"-", ev_arith, OP_SUB},   {"*", ev_arith, OP_MUL},
        {"/", ev_arith, OP_DIV},   {"%", ev_arith, OP_MOD},   {"<", ev_compare, OP_LT},
        {"<=", ev_compare, OP_LE}, {">", ev_compare, OP_GT},  {">=", ev_compare, OP_GE},
        {"==", ev_compare, OP_EQ}, {"!=", ev_compare, OP_NE}, {"&&", ev_and, 0},
        {"||", ev_or, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
        if (!strcmp(ops[i].op, op)) {
            sh_expr *e = cx_new(c, ops[i].eval, n);
            e->n = ops[i].code;
            e->a = compile(c, n->kids[0], sc);
            e->b = compile(c, n->kids[1], sc);
            if (!c->failed && e->eval == ev_add && e->a->eval == ev_slot && e->b->eval == ev_slot)
                e->eval = ev_add_slots, e->slot = e->a->slot, e->n = e->b->slot;
            return c->failed ? NULL : e;
        }
    if (!strcmp(op, "->")) {
        sh_expr *e = cx_new(c, ev_pair, n);
        e->a = compile(c, n->kids[0], sc);
        e->b = compile(c, n->kids[1], sc);
        return c->failed ? NULL : e;
    }
    if (!strcmp(op, "max") || !strcmp(op, "min")) {
        sh_expr *e = cx_new(c, ev_method, n);
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
    sh_expr *e = cx_new(c, ev_block, n);
    e->nargs = n->n_kids;
    e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)(n->n_kids + 1));
    scope *locals = em_arena_alloc(c->lam->arena, sizeof(scope) * (size_t)(n->n_kids + 1));
    for (int i = 0; i < n->n_kids && !c->failed; i++) {
        const sh_node *s = n->kids[i];
        if (s->kind == N_VAL) {
            sh_expr *set = cx_new(c, ev_set_slot, s);
            set->a = compile(c, s->kids[0], sc);
            set->slot = new_slot(c, s);
            locals[i] = (scope){.name = s->name, .slot = set->slot, .next = sc};
            sc = &locals[i];
            e->args[i] = set;
        } else if (s->kind == N_ASSIGN) {
            const scope *v = find(sc, s->name);
            if (!v) return cx_fail(c, &s->pos, "%s is not a local var of this function", s->name);
            sh_expr *set = cx_new(c, ev_set_slot, s);
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
                           "a State is used through its methods: %s.getOption, "
                           "%s.update(x), ...",
                           n->name, n->name);
        sh_expr *e = cx_new(c, ev_slot, n);
        e->slot = v->slot;
        return e;
    }
    if (!strcmp(n->name, "None")) return konst(c, n, em_none());
    if (!strcmp(n->name, "Nil")) return konst(c, n, make_list(NULL, 0));
    sh_obj *o = c->env ? sh_env_lookup(c->env, n->name) : NULL;
    if (!o) return cx_fail(c, &n->pos, "not found: value %s", n->name);
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
    if (!c->driver || (n->kind != N_SELECT && n->kind != N_CALL)) return false;
    const sh_node *root = n;
    while ((root->kind == N_SELECT || root->kind == N_CALL) && root->n_kids > 0)
        root = root->kids[0];
    if (root->kind != N_IDENT || find(sc, root->name)) return false;
    sh_obj *o = sh_env_lookup(c->env, root->name);
    bool driver = o && o->kind != O_VALUE && o->kind != O_LAMBDA && o->kind != O_DURATION;
    if (o) sh_obj_unref(o);
    return driver;
}

static sh_expr *compile(compiler *c, const sh_node *n, scope *sc)
{
    if (c->failed || !n) return NULL;
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
    case N_INT:
        return konst(c, n, em_int(n->i));
    case N_DOUBLE:
        return konst(c, n, em_double(n->d));
    case N_STRING:
        return konst(c, n, em_strn(n->s, n->slen));
    case N_BOOL:
        return konst(c, n, em_bool(n->i));
    case N_NULL:
    case N_UNIT:
        return konst(c, n, em_null());
    case N_IDENT:
        return compile_ident(c, n, sc);
    case N_PLACEHOLDER: {
        /* Bound by the enclosing placeholder lambda as its parameter "_$i". */
        const scope *v = n->name ? find(sc, n->name) : NULL;
        if (!v) return cx_fail(c, &n->pos, "unbound placeholder parameter _");
        e = cx_new(c, ev_slot, n);
        e->slot = v->slot;
        return e;
    }
    case N_SELECT:
        return compile_method(c, NULL, n, sc, NULL);
    case N_CALL:
        return compile_call(c, n, sc);
    case N_BINOP:
        return compile_binop(c, n, sc);
    case N_UNOP:
        e = cx_new(c, n->name[0] == '!' ? ev_not : ev_neg, n);
        e->a = compile(c, n->kids[0], sc);
        if (n->name[0] == '+') return e->a;
        return c->failed ? NULL : e;
    case N_TUPLE:
        if (n->n_kids == 2) {
            e = cx_new(c, ev_pair, n);
            e->a = compile(c, n->kids[0], sc);
            e->b = compile(c, n->kids[1], sc);
            if (!c->failed && e->a->eval == ev_slot && e->b->eval == ev_const)
                e->eval = ev_pair_slot_const, e->slot = e->a->slot, e->k = e->b->k;
            return c->failed ? NULL : e;
        }
        e = cx_new(c, ev_tuple, n);
        e->nargs = n->n_kids;
        e->args = em_arena_alloc(c->lam->arena, sizeof(sh_expr *) * (size_t)n->n_kids);
        for (int i = 0; i < n->n_kids; i++)
            e->args[i] = compile(c, n->kids[i], sc);
        return c->failed ? NULL : e;
    case N_BLOCK:
        return compile_block(c, n, sc);
    case N_IF:
        e = cx_new(c, ev_if, n);
        e->a = compile(c, n->kids[0], sc);
        e->b = compile(c, n->kids[1], sc);
        e->c = n->kids[2] ? compile(c, n->kids[2], sc) : NULL;
        return c->failed ? NULL : e;
    case N_INTERP:
        e = cx_new(c, ev_interp, n);
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
    case N_ETA:
        return cx_fail(c, &n->pos, "a function cannot be a record here");
    case N_DEF:
    case N_IMPORT:
        return cx_fail(c, &n->pos, "not allowed here");
    }
    return cx_fail(c, &n->pos, "not supported by ember-shell");
}

/* ---- Public side ---- */

static const char *role_what(sh_role role)
{
    switch (role) {
    case R_UPDATE:
        return "updateStateByKey";
    case R_MAPPING:
        return "StateSpec.function";
    default:
        return NULL;
    }
}

static int role_arity(sh_role role)
{
    switch (role) {
    case R_MAP:
    case R_FILTER:
    case R_FOREACH:
        return 1;
    case R_REDUCE:
    case R_UPDATE:
        return 2;
    case R_MAPPING:
        return 3;
    case R_CONST:
        return 0;
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
    if (!lam) return;
    em_arena_free(lam->arena);
    g_ptr_array_unref(lam->regexes);
    g_free(lam->text);
    g_free(lam);
}

const char *sh_lambda_text(const sh_lambda *lam)
{
    return lam->text;
}

sh_lambda *sh_lambda_compile(const sh_node *fn, sh_env *env, sh_role role, const char *what,
                             GError **err)
{
    const sh_node *lam_node = fn;
    sh_obj *bound = NULL;
    if (fn->kind == N_ETA) lam_node = fn = fn->kids[0];
    if (fn->kind == N_IDENT && !strcmp(fn->name, "println") && role == R_FOREACH) {
        sh_lambda *lam = lambda_new(role);
        compiler c = {.lam = lam, .env = env, .err = err};
        lam->nparams = 1;
        lam->nslots = 1;
        lam->body = cx_new(&c, ev_println, fn);
        lam->body->a = cx_new(&c, ev_slot, fn);
        lam->text = g_strdup("println");
        return lam;
    }
    if (fn->kind == N_IDENT) {
        bound = sh_env_lookup(env, fn->name);
        if (bound && bound->kind == O_LAMBDA) lam_node = bound->u.lambda.node;
    }
    if (lam_node->kind != N_LAMBDA && lam_node->kind != N_DEF) {
        if (bound) sh_obj_unref(bound);
        sh_error_at(err, SH_ERROR_EVAL, &fn->pos, "%s takes a function here, like %s", what,
                    role == R_REDUCE ? "(a, b) => a + b" : "x => ...");
        return NULL;
    }
    int arity = role_arity(role);
    if (role == R_MAPPING && lam_node->n_params == 4) arity = 4;
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
        if (bound) sh_obj_unref(bound);
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
        sh_expr *u = cx_new(&c, ev_untuple, lam_node);
        u->slot = 0;
        u->n = n;
        u->a = lam->body;
        lam->body = u;
    }
    if (bound) sh_obj_unref(bound);
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

sh_obj *sh_eval_value_method(em_value recv, const sh_node *node, sh_env *env, sh_driver_eval driver,
                             void *ctx, GError **err)
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

#define FRAME(lam)                                                                                 \
    em_value slots_[MAX_SLOTS];                                                                    \
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
    if (f.failed) return false;
    return truth(lam->body, &f, r);
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
    slots_[0] = make_list((em_value *)values, n);
    slots_[1] = state.type == EM_T_NONE ? em_none() : em_some(state);
    em_value r = lam->body->eval(lam->body, &f);
    if (f.failed) return em_none();
    if (r.type == EM_T_SOME) return r.as.items[0];
    if (r.type == EM_T_NONE) return r;
    char *s = show(r);
    fail(lam->body, &f, "the update function must return Some(newState) or None, not %s %s",
         type_name(r), s);
    g_free(s);
    return em_none();
}

em_value sh_fn_mapping(em_time time, em_value key, em_value value, em_state *state, void *ud)
{
    const sh_lambda *lam = ud;
    FRAME(lam);
    f.state = state;
    int k = 0;
    if (lam->nparams == 4) slots_[k++] = em_int(time);
    slots_[k++] = key;
    slots_[k++] = value.type == EM_T_NONE ? em_none() : em_some(value);
    em_value r = lam->body->eval(lam->body, &f);
    if (f.failed) return em_none();
    if (lam->nparams == 4) { /* (Time, K, Option[V], State[S]) => Option[M] */
        if (r.type == EM_T_SOME) return r.as.items[0];
        if (r.type != EM_T_NONE) {
            char *s = show(r);
            fail(lam->body, &f,
                 "this mapping function must return Some(record) or None, not "
                 "%s %s",
                 type_name(r), s);
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
    slots_[0] = make_list((em_value *)items->data, items->len);
    em_value r = lam->body->eval(lam->body, &f);
    if (!f.failed && r.type != EM_T_LIST) {
        char *s = show(r);
        fail(lam->body, &f, "mapPartitions' function must return an Iterator (a Seq), not %s %s",
             type_name(r), s);
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
    slots_[0] = make_list((em_value *)items->data, items->len);
    lam->body->eval(lam->body, &f);
    g_array_free(items, TRUE);
}
