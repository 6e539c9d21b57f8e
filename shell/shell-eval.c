/* ember-shell's evaluator: one function per kind of node of a compiled lambda (shell-eval.h),
 * over em_value records, and the methods of records (String, numbers, Seq, Option, tuples,
 * mapWithState's State) with Scala's semantics. Results are allocated in em_scratch(), so a
 * record costs no malloc; a record a function cannot handle fails through sh_fail_record. */
#include "shell-eval.h"

#include <math.h>
#include <string.h>

/* ---- Failing a record ---- */

em_value sh_fail_record(const sh_expr *e, sh_frame *f, const char *fmt, ...)
{
    if (f->failed)
        return em_null();
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

const char *sh_type_name(em_value v)
{
    switch (em_type_of(v)) {
    case EM_T_NULL: return "Null";
    case EM_T_BOOL: return "Boolean";
    case EM_T_INT: return "Int";
    case EM_T_DOUBLE: return "Double";
    case EM_T_STR: return "String";
    case EM_T_TUPLE: return "Tuple";
    case EM_T_LIST: return "Seq";
    case EM_T_SOME: return "Some";
    case EM_T_NONE: return "None";
    }
    return "?";
}

/* A value for messages, cut short. */
char *sh_show(em_value v)
{
    char *s = em_value_to_string(v);
    if (strlen(s) > 40)
        strcpy(s + 37, "...");
    if (em_is_str(v)) {
        char *q = g_strdup_printf("\"%s\"", s);
        g_free(s);
        return q;
    }
    return s;
}

#define TYPE_FAIL(e, f, what, v)                                                                  \
    do {                                                                                          \
        char *shown_ = sh_show(v);                                                                \
        sh_fail_record((e), (f), "%s is not defined for %s %s", (what), sh_type_name(v), shown_); \
        g_free(shown_);                                                                           \
        return em_null();                                                                         \
    } while (0)

/* ---- A per-thread text buffer for string building ---- */

static void free_gstring(gpointer s) { g_string_free(s, TRUE); }
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

static em_value buffer_value(GString *s) { return em_str_dup(s->str, s->len); }

/* Scala's toString of v, appended: strings raw, everything else as Spark prints it. */
static void append_text(GString *out, em_value v) { em_value_format(v, out); }

/* ---- Leaves ---- */

em_value sh_ev_const(const sh_expr *e, sh_frame *f)
{
    (void)f;
    return e->k;
}
em_value sh_ev_slot(const sh_expr *e, sh_frame *f) { return f->slots[e->slot]; }

/* ---- Arithmetic and comparison ---- */

static bool is_num(em_value v) { return v.type == EM_T_INT || v.type == EM_T_DOUBLE; }
static double num(em_value v) { return v.type == EM_T_INT ? (double)v.as.i : v.as.d; }

static em_value arith(const sh_expr *e, sh_frame *f, int op, em_value a, em_value b)
{
    if (a.type == EM_T_INT && b.type == EM_T_INT) {
        uint64_t x = (uint64_t)a.as.i, y = (uint64_t)b.as.i;
        switch (op) {
        case OP_ADD: return em_int((int64_t)(x + y));
        case OP_SUB: return em_int((int64_t)(x - y));
        case OP_MUL: return em_int((int64_t)(x * y));
        case OP_DIV:
        case OP_MOD:
            if (b.as.i == 0)
                return sh_fail_record(e, f, "/ by zero");
            if (b.as.i == -1) /* Java wraps INT64_MIN / -1 */
                return em_int(op == OP_DIV ? (int64_t)(0 - x) : 0);
            return em_int(op == OP_DIV ? a.as.i / b.as.i : a.as.i % b.as.i);
        }
    }
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        switch (op) {
        case OP_ADD: return em_double(x + y);
        case OP_SUB: return em_double(x - y);
        case OP_MUL: return em_double(x * y);
        case OP_DIV: return em_double(x / y);
        case OP_MOD: return em_double(fmod(x, y));
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
    char *sa = sh_show(a), *sb = sh_show(b);
    sh_fail_record(e, f, "%s is not defined for %s %s and %s %s", names[op], sh_type_name(a), sa,
                   sh_type_name(b), sb);
    g_free(sa);
    g_free(sb);
    return em_null();
}

em_value sh_ev_add(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    if (a.type == EM_T_INT && b.type == EM_T_INT) /* the word count's `_ + _` */
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    return arith(e, f, OP_ADD, a, b);
}

/* a + b over two parameters: `_ + _`, the word count's reduce. */
em_value sh_ev_add_slots(const sh_expr *e, sh_frame *f)
{
    em_value a = f->slots[e->slot], b = f->slots[e->n];
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    return arith(e, f, OP_ADD, a, b);
}

em_value sh_ev_arith(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    return arith(e, f, e->n, a, b);
}

/* Scala's ==: numbers by value across Int and Double, everything else structurally. */
static bool values_equal(em_value a, em_value b)
{
    if (is_num(a) && is_num(b) && a.type != b.type)
        return num(a) == num(b);
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

em_value sh_ev_compare(const sh_expr *e, sh_frame *f)
{
    em_value a = e->a->eval(e->a, f), b = e->b->eval(e->b, f);
    switch (e->n) {
    case OP_EQ: return em_bool(values_equal(a, b));
    case OP_NE: return em_bool(!values_equal(a, b));
    }
    bool comparable = (is_num(a) && is_num(b)) || (a.type == b.type && a.type != EM_T_NULL);
    if (!comparable) {
        char *sa = sh_show(a), *sb = sh_show(b);
        sh_fail_record(e, f, "%s cannot be compared with %s (%s and %s)", sh_type_name(a),
                       sh_type_name(b), sa, sb);
        g_free(sa);
        g_free(sb);
        return em_null();
    }
    int c = values_compare(a, b);
    switch (e->n) {
    case OP_LT: return em_bool(c < 0);
    case OP_LE: return em_bool(c <= 0);
    case OP_GT: return em_bool(c > 0);
    default: return em_bool(c >= 0);
    }
}

bool sh_truth(const sh_expr *e, sh_frame *f, em_value v)
{
    if (v.type != EM_T_BOOL) {
        char *s = sh_show(v);
        sh_fail_record(e, f, "expected a Boolean, got %s %s", sh_type_name(v), s);
        g_free(s);
        return false;
    }
    return v.as.i != 0;
}

em_value sh_ev_and(const sh_expr *e, sh_frame *f)
{
    if (!sh_truth(e->a, f, e->a->eval(e->a, f)))
        return em_bool(false);
    return em_bool(sh_truth(e->b, f, e->b->eval(e->b, f)));
}

em_value sh_ev_or(const sh_expr *e, sh_frame *f)
{
    if (sh_truth(e->a, f, e->a->eval(e->a, f)))
        return em_bool(true);
    return em_bool(sh_truth(e->b, f, e->b->eval(e->b, f)));
}

em_value sh_ev_not(const sh_expr *e, sh_frame *f)
{
    return em_bool(!sh_truth(e->a, f, e->a->eval(e->a, f)));
}

em_value sh_ev_neg(const sh_expr *e, sh_frame *f)
{
    em_value v = e->a->eval(e->a, f);
    if (v.type == EM_T_INT)
        return em_int((int64_t)(0 - (uint64_t)v.as.i));
    if (v.type == EM_T_DOUBLE)
        return em_double(-v.as.d);
    TYPE_FAIL(e, f, "unary -", v);
}

em_value sh_ev_if(const sh_expr *e, sh_frame *f)
{
    if (sh_truth(e->a, f, e->a->eval(e->a, f)))
        return e->b->eval(e->b, f);
    return e->c ? e->c->eval(e->c, f) : em_null();
}

/* ---- Constructors ---- */

em_value sh_ev_pair(const sh_expr *e, sh_frame *f)
{
    em_value k = e->a->eval(e->a, f);
    return em_pair(k, e->b->eval(e->b, f));
}

/* (x, 1): a parameter and a constant, the word count's pair, without two evaluator calls. */
em_value sh_ev_pair_slot_const(const sh_expr *e, sh_frame *f)
{
    return em_pair(f->slots[e->slot], e->k);
}

em_value sh_ev_tuple(const sh_expr *e, sh_frame *f)
{
    em_value *items = em_arena_alloc(em_scratch(), sizeof(em_value) * (size_t)e->nargs);
    for (int i = 0; i < e->nargs; i++)
        items[i] = e->args[i]->eval(e->args[i], f);
    return (em_value){.type = EM_T_TUPLE, .len = (uint32_t)e->nargs, .as.items = items};
}

em_value sh_ev_list(const sh_expr *e, sh_frame *f)
{
    em_value *items = em_arena_alloc(em_scratch(), sizeof(em_value) * (size_t)(e->nargs + 1));
    for (int i = 0; i < e->nargs; i++)
        items[i] = e->args[i]->eval(e->args[i], f);
    return (em_value){.type = EM_T_LIST,
                      .kind = (uint8_t)e->n,
                      .len = (uint32_t)e->nargs,
                      .as.items = items};
}

em_value sh_ev_some(const sh_expr *e, sh_frame *f) { return em_some(e->a->eval(e->a, f)); }

em_value sh_ev_block(const sh_expr *e, sh_frame *f)
{
    em_value v = em_null();
    for (int i = 0; i < e->nargs && !f->failed; i++)
        v = e->args[i]->eval(e->args[i], f);
    return v;
}

em_value sh_ev_set_slot(const sh_expr *e, sh_frame *f)
{
    f->slots[e->slot] = e->a->eval(e->a, f);
    return em_null();
}

em_value sh_ev_interp(const sh_expr *e, sh_frame *f)
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

em_value sh_ev_println(const sh_expr *e, sh_frame *f)
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
em_value sh_ev_call_fn(const sh_expr *e, sh_frame *f)
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
em_value sh_ev_untuple(const sh_expr *e, sh_frame *f)
{
    em_value t = f->slots[e->slot];
    if (t.type != EM_T_TUPLE || t.len != (uint32_t)e->n) {
        char *s = sh_show(t);
        sh_fail_record(e, f, "this function takes a tuple of %d fields, not %s %s", e->n,
                       sh_type_name(t), s);
        g_free(s);
        return em_null();
    }
    for (int i = 0; i < e->n; i++)
        f->slots[e->slot + 1 + i] = t.as.items[i];
    return e->a->eval(e->a, f);
}

/* ---- Methods ---- */

const method_info sh_methods[] = {
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

const size_t sh_n_methods = G_N_ELEMENTS(sh_methods);

const method_info sh_state_methods[] = {
    {"getOption", M_STATE_GET_OPTION, 0, 0, 0}, {"get", M_STATE_GET, 0, 0, 0},
    {"exists", M_STATE_EXISTS, 0, 0, 0},        {"update", M_STATE_UPDATE, 1, 1, 0},
    {"remove", M_STATE_REMOVE, 0, 0, 0},        {"isTimingOut", M_STATE_TIMING_OUT, 0, 0, 0},
};
const size_t sh_n_state_methods = G_N_ELEMENTS(sh_state_methods);

const char *const *sh_value_method_names(void)
{
    static const char *names[G_N_ELEMENTS(sh_methods) + 1];
    static gsize done;
    if (g_once_init_enter(&done)) {
        for (size_t i = 0; i < G_N_ELEMENTS(sh_methods); i++)
            names[i] = sh_methods[i].name;
        g_once_init_leave(&done, 1);
    }
    return names;
}

const char *const *sh_state_method_names(void)
{
    static const char *names[G_N_ELEMENTS(sh_state_methods) + 1];
    static gsize done;
    if (g_once_init_enter(&done)) {
        for (size_t i = 0; i < G_N_ELEMENTS(sh_state_methods); i++)
            names[i] = sh_state_methods[i].name;
        g_once_init_leave(&done, 1);
    }
    return names;
}

em_value sh_make_list(em_value *items, size_t n)
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
#define PUSH_ITEM(from, to)                                                                       \
    do {                                                                                          \
        if (count == cap) {                                                                       \
            em_value *bigger = em_arena_alloc(scratch, sizeof(em_value) * cap * 2);               \
            memcpy(bigger, items, sizeof(em_value) * cap);                                        \
            items = bigger;                                                                       \
            cap *= 2;                                                                             \
        }                                                                                         \
        items[count++] = em_strn(p + (from), (to) - (from));                                      \
    } while (0)
    if (n == 0) {
        PUSH_ITEM(0, 0); /* "".split(x) is Array("") */
        return sh_make_list(items, count);
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
    return sh_make_list(items, count);
}

em_value sh_ev_split_space(const sh_expr *e, sh_frame *f)
{
    em_value s = e->a->eval(e->a, f);
    if (!em_is_str(s))
        TYPE_FAIL(e, f, "split", s);
    return em_split_space(s, NULL);
}

static bool number_text(em_value s, em_value *out, bool want_int)
{
    char buf[64];
    size_t n = em_str_len(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, em_str_ptr(s), n);
    buf[n] = '\0';
    char *end;
    if (want_int) {
        gint64 v;
        if (!g_ascii_string_to_signed(buf, 10, G_MININT64, G_MAXINT64, &v, NULL))
            return false;
        *out = em_int(v);
        return true;
    }
    double d = g_ascii_strtod(buf, &end);
    if (*end)
        return false;
    *out = em_double(d);
    return true;
}

static em_value to_text(em_value v)
{
    if (em_is_str(v))
        return v;
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
        if (!em_is_str(a[0]))
            TYPE_FAIL(e, f, "split's separator", a[0]);
        return split_with(e, s, a[0]);
    case M_LENGTH:
    case M_SIZE: return em_int((int64_t)g_utf8_strlen(p, (gssize)n));
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
            char *sh = sh_show(s);
            sh_fail_record(e, f, "NumberFormatException: For input string: %s", sh);
            g_free(sh);
            return em_null();
        }
        return r;
    }
    case M_IS_EMPTY: return em_bool(n == 0);
    case M_NON_EMPTY: return em_bool(n != 0);
    case M_CONTAINS:
    case M_STARTS:
    case M_ENDS:
    case M_INDEX_OF: {
        em_value t = to_text(a[0]);
        const char *q = em_str_ptr(t);
        size_t m = em_str_len(t);
        if (e->n == M_STARTS)
            return em_bool(m <= n && memcmp(p, q, m) == 0);
        if (e->n == M_ENDS)
            return em_bool(m <= n && memcmp(p + n - m, q, m) == 0);
        for (size_t i = 0; i + m <= n; i++)
            if (memcmp(p + i, q, m) == 0)
                return e->n == M_CONTAINS ? em_bool(true) : em_int((int64_t)i);
        return e->n == M_CONTAINS ? em_bool(false) : em_int(-1);
    }
    case M_SUBSTRING: {
        if (a[0].type != EM_T_INT || (e->nargs > 1 && a[1].type != EM_T_INT))
            return sh_fail_record(e, f, "substring takes Int positions");
        int64_t from = a[0].as.i, to = e->nargs > 1 ? a[1].as.i : (int64_t)n;
        if (from < 0 || to > (int64_t)n || from > to)
            return sh_fail_record(e, f,
                                  "StringIndexOutOfBoundsException: begin %lld, end %lld, length "
                                  "%zu",
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
    case M_TO_STRING: return s;
    case M_REVERSE: {
        char *r = g_utf8_strreverse(p, (gssize)n);
        em_value v = em_str_dup(r, strlen(r));
        g_free(r);
        return v;
    }
    default: break;
    }
    const char *name = e->name;
    TYPE_FAIL(e, f, name, s);
}

static em_value number_method(const sh_expr *e, sh_frame *f, em_value x, const em_value *a)
{
    switch ((method)e->n) {
    case M_TO_INT: return em_int(x.type == EM_T_INT ? x.as.i : (int64_t)x.as.d);
    case M_TO_DOUBLE: return em_double(num(x));
    case M_TO_STRING: return to_text(x);
    case M_ABS:
        return x.type == EM_T_INT ? em_int(x.as.i < 0 ? -x.as.i : x.as.i)
                                  : em_double(fabs(x.as.d));
    case M_MAX:
    case M_MIN:
        if (e->nargs == 1) {
            if (!is_num(a[0]))
                TYPE_FAIL(e, f, e->name, a[0]);
            bool first = values_compare(x, a[0]) >= 0;
            return (e->n == M_MAX) == first ? x : a[0];
        }
        break;
    default: break;
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
    case M_SIZE: return em_int((int64_t)n);
    case M_IS_EMPTY: return em_bool(n == 0);
    case M_NON_EMPTY: return em_bool(n != 0);
    case M_SUM: return list_sum(e, f, l);
    case M_HEAD:
    case M_LAST:
        if (n == 0)
            return sh_fail_record(e, f, "%s of an empty Seq", e->name);
        return it[e->n == M_HEAD ? 0 : n - 1];
    case M_MAX:
    case M_MIN: {
        if (n == 0)
            return sh_fail_record(e, f, "%s of an empty Seq", e->name);
        em_value best = it[0];
        for (size_t k = 1; k < n; k++) {
            int c = values_compare(it[k], best);
            if (e->n == M_MAX ? c > 0 : c < 0)
                best = it[k];
        }
        return best;
    }
    case M_MK_STRING: {
        em_value sep = e->nargs == 1 ? a[0] : e->nargs == 3 ? a[1] : em_strn("", 0);
        em_value *parts = em_arena_alloc(scratch, sizeof(em_value) * (e->nargs == 3 ? 3 : 1));
        parts[0] = to_text(sep);
        if (e->nargs == 3)
            parts[1] = to_text(a[0]), parts[2] = to_text(a[2]);
        GString *s = buffer();
        if (e->nargs == 3)
            append_text(s, parts[1]);
        for (size_t k = 0; k < n; k++) {
            if (k)
                append_text(s, parts[0]);
            append_text(s, it[k]);
        }
        if (e->nargs == 3)
            append_text(s, parts[2]);
        return buffer_value(s);
    }
    case M_CONTAINS:
        for (size_t k = 0; k < n; k++)
            if (values_equal(it[k], a[0]))
                return em_bool(true);
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
            if (e->n == M_TAKE && (int64_t)k >= k0)
                break;
            if (e->n == M_DROP && (int64_t)k < k0)
                continue;
            if (e->n == M_DISTINCT) {
                bool seen = false;
                for (size_t j = 0; j < m && !seen; j++)
                    seen = values_equal(out[j], it[k]);
                if (seen)
                    continue;
            }
            out[m++] = e->n == M_REVERSE ? it[n - 1 - k] : it[k];
        }
        if (e->n == M_SORTED)
            qsort(out, m, sizeof *out, sort_cmp);
        return sh_make_list(out, m);
    }
    case M_TO_SEQ: return sh_make_list((em_value *)it, n);
    case M_APPLY:
        if (a[0].type != EM_T_INT || a[0].as.i < 0 || (size_t)a[0].as.i >= n) {
            char *s = sh_show(a[0]);
            sh_fail_record(e, f, "index %s out of bounds for length %zu", s, n);
            g_free(s);
            return em_null();
        }
        return it[a[0].as.i];
    default: break;
    }
    TYPE_FAIL(e, f, e->name, l);
}

/* Methods taking a function: e->b is the nested function (slot, n parameters, body a). */
em_value sh_ev_higher(const sh_expr *e, sh_frame *f)
{
    em_value l = e->a->eval(e->a, f);
    const sh_expr *fn = e->b;
    if (e->n == M_MAP && (l.type == EM_T_SOME || l.type == EM_T_NONE))
        return l.type == EM_T_NONE ? l : em_some(call1(fn, f, l.as.items[0]));
    if (l.type != EM_T_LIST)
        TYPE_FAIL(e, f, e->name, l);
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
                if (sh_truth(fn->a, f, r))
                    out[m++] = it[k];
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
        return sh_make_list(out, m);
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
            c += sh_truth(fn->a, f, call1(fn, f, it[k]));
        if (e->n == M_COUNT)
            return em_int(c);
        return em_bool(e->n == M_EXISTS ? c > 0 : c == (int64_t)n);
    }
    case M_REDUCE: {
        if (n == 0)
            return sh_fail_record(e, f, "reduce of an empty Seq");
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
    default: break;
    }
    TYPE_FAIL(e, f, e->name, l);
}

em_value sh_ev_method(const sh_expr *e, sh_frame *f)
{
    em_value recv = e->a->eval(e->a, f);
    em_value a[3];
    for (int i = 0; i < e->nargs; i++)
        a[i] = e->args[i]->eval(e->args[i], f);
    if (f->failed)
        return em_null();
    if (e->n == M_TO_STRING)
        return to_text(recv);
    switch (em_type_of(recv)) {
    case EM_T_STR: return string_method(e, f, recv, a);
    case EM_T_INT:
    case EM_T_DOUBLE: return number_method(e, f, recv, a);
    case EM_T_LIST: return list_method(e, f, recv, a);
    case EM_T_SOME:
    case EM_T_NONE:
        switch ((method)e->n) {
        case M_GET_OR_ELSE: return recv.type == EM_T_SOME ? recv.as.items[0] : a[0];
        case M_GET:
            if (recv.type == EM_T_NONE)
                return sh_fail_record(e, f, "None.get");
            return recv.as.items[0];
        case M_IS_DEFINED:
        case M_NON_EMPTY: return em_bool(recv.type == EM_T_SOME);
        case M_IS_EMPTY: return em_bool(recv.type == EM_T_NONE);
        case M_SUM: return recv.type == EM_T_SOME ? recv.as.items[0] : em_int(0);
        default: break;
        }
        break;
    case EM_T_TUPLE:
        if (e->n == M_SWAP && recv.len == 2)
            return em_pair(recv.as.items[1], recv.as.items[0]);
        break;
    default: break;
    }
    TYPE_FAIL(e, f, e->name, recv);
}

em_value sh_ev_field(const sh_expr *e, sh_frame *f)
{
    em_value t = e->a->eval(e->a, f);
    if (t.type == EM_T_TUPLE && (uint32_t)e->n < t.len)
        return t.as.items[e->n];
    if (f->failed)
        return em_null();
    char *s = sh_show(t);
    sh_fail_record(e, f, "_%d is not defined for %s %s", e->n + 1, sh_type_name(t), s);
    g_free(s);
    return em_null();
}

em_value sh_ev_state(const sh_expr *e, sh_frame *f)
{
    em_state *st = f->state;
    switch ((method)e->n) {
    case M_STATE_GET_OPTION: return em_state_exists(st) ? em_some(em_state_get(st)) : em_none();
    case M_STATE_GET:
        if (!em_state_exists(st))
            return sh_fail_record(e, f, "State.get: the state does not exist (use getOption)");
        return em_state_get(st);
    case M_STATE_EXISTS: return em_bool(em_state_exists(st));
    case M_STATE_TIMING_OUT: return em_bool(em_state_is_timing_out(st));
    case M_STATE_REMOVE: em_state_remove(st); return em_null();
    case M_STATE_UPDATE: {
        em_value v = e->a->eval(e->a, f);
        if (f->failed)
            return em_null();
        if (em_state_is_timing_out(st))
            return sh_fail_record(e, f, "cannot update the state of a key that is timing out");
        em_state_update(st, v);
        return em_null();
    }
    default: return em_null();
    }
}

em_value sh_ev_math(const sh_expr *e, sh_frame *f)
{
    em_value a = e->args[0]->eval(e->args[0], f);
    em_value b = e->nargs > 1 ? e->args[1]->eval(e->args[1], f) : em_null();
    if (!is_num(a) || (e->nargs > 1 && !is_num(b)))
        TYPE_FAIL(e, f, e->name, is_num(a) ? b : a);
    const char *n = e->name;
    if (!strcmp(n, "max") || !strcmp(n, "min")) {
        bool a_wins = (values_compare(a, b) >= 0) == (n[1] == 'a');
        em_value r = a_wins ? a : b;
        return a.type == b.type ? r : em_double(num(r));
    }
    if (!strcmp(n, "abs"))
        return a.type == EM_T_INT ? em_int(a.as.i < 0 ? -a.as.i : a.as.i)
                                  : em_double(fabs(a.as.d));
    if (!strcmp(n, "sqrt"))
        return em_double(sqrt(num(a)));
    if (!strcmp(n, "pow"))
        return em_double(pow(num(a), num(b)));
    if (!strcmp(n, "floor"))
        return em_double(floor(num(a)));
    if (!strcmp(n, "ceil"))
        return em_double(ceil(num(a)));
    if (!strcmp(n, "round"))
        return em_int((int64_t)llround(num(a)));
    return em_null();
}
