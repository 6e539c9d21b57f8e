/* em_value as text (core, the record type): formatting exactly as Spark's Scala toString prints
 * records, and a parser reading that text back. Doubles print as Java's Double.toString; the
 * parser is recursive descent with one growable item stack shared by all nesting levels. */
#include "core-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper text is refused so hostile input cannot exhaust the C stack; the codec has the same
 * limit, so whatever parses can also be encoded and decoded. */
enum { MAX_DEPTH = 64 };

/* ---- Formatting ---- */

/* The decimal of n significant digits closest to d that reads back as d, if there is one, as
 * digits D1..Dn and exponent: D1.D2..Dn x 10^exp. printf's correctly rounded choice misses only
 * when d is a power of two (the gap below d is half the gap above) and it fell below d: the
 * decimal one unit up may then read back, as Java's shortest form expects (2^-24 is
 * 5.960464477539063E-8). */
static bool decimal_digits(double d, int n, char *digits, int *exp)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE], fmt[16];
    snprintf(fmt, sizeof fmt, "%%.%de", n - 1);
    g_ascii_formatd(buf, sizeof buf, fmt, d); /* "D.DDDe+XX", or "De+XX" for one digit */
    const char *p = buf;
    for (int i = 0; *p != 'e'; p++)
        if (*p != '.')
            digits[i++] = *p;
    *exp = (int)strtol(p + 1, NULL, 10);
    double back = g_ascii_strtod(buf, NULL);
    if (back >= d)
        return back == d;
    int i = n - 1;
    while (i >= 0 && digits[i] == '9')
        digits[i--] = '0';
    if (i < 0) {
        digits[0] = '1';
        ++*exp;
    } else
        digits[i]++;
    snprintf(buf, sizeof buf, "%.*se%d", n, digits, *exp - (n - 1));
    return g_ascii_strtod(buf, NULL) == d;
}

/* Double.toString's layout of digits D1..Dn x 10^exp (n >= 1, no trailing zeros but D1): plain
 * notation in [1e-3, 1e7), otherwise D.DDDE<exp>; always a digit after the point. */
void em__java_layout(const char *digits, int nd, int exp, GString *out)
{
    if (exp >= -3 && exp < 7) {
        if (exp < 0) {
            g_string_append(out, "0.");
            for (int i = exp + 1; i < 0; i++)
                g_string_append_c(out, '0');
            g_string_append_len(out, digits, nd);
            return;
        }
        for (int i = 0; i <= exp; i++)
            g_string_append_c(out, i < nd ? digits[i] : '0');
        g_string_append_c(out, '.');
        if (nd > exp + 1)
            g_string_append_len(out, digits + exp + 1, nd - exp - 1);
        else
            g_string_append_c(out, '0');
        return;
    }
    g_string_append_c(out, digits[0]);
    g_string_append_c(out, '.');
    if (nd > 1)
        g_string_append_len(out, digits + 1, nd - 1);
    else
        g_string_append_c(out, '0');
    g_string_append_printf(out, "E%d", exp);
}

/* Java's Double.toString (JDK 19+): the shortest decimal that reads back as d; when one digit
 * suffices, the closest of at most two digits (4.9E-324, not 5.0E-324). Plain notation in
 * [1e-3, 1e7), otherwise D.DDDE<exp>; always a digit after the point. */
static void format_double(double d, GString *out)
{
    if (isnan(d)) {
        g_string_append(out, "NaN");
        return;
    }
    if (signbit(d))
        g_string_append_c(out, '-');
    d = fabs(d);
    if (isinf(d)) {
        g_string_append(out, "Infinity");
        return;
    }
    if (d == 0) {
        g_string_append(out, "0.0");
        return;
    }
    /* Some decimal of n digits reads back for every n from the shortest on (pad it with zeros),
     * so the shortest can be found by bisection; 17 digits always read back. */
    char digits[17], probe[17];
    int nd = 17, lo = 1, exp, probe_exp;
    decimal_digits(d, nd, digits, &exp);
    while (lo < nd) {
        int mid = (lo + nd) / 2;
        if (decimal_digits(d, mid, probe, &probe_exp)) {
            nd = mid;
            exp = probe_exp;
            memcpy(digits, probe, (size_t)nd);
        } else
            lo = mid + 1;
    }
    if (nd == 1) { /* a one-digit decimal reads back, so a two-digit one does too */
        nd = 2;
        decimal_digits(d, nd, digits, &exp);
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    em__java_layout(digits, nd, exp, out);
}

static const char *list_prefix(em_list_kind kind)
{
    switch (kind) {
    case EM_BUFFER: return "CompactBuffer(";
    case EM_ARRAY: return "Array(";
    default: return "List(";
    }
}

void em_value_format(em_value v, GString *out)
{
    switch ((em_type)v.type) {
    case EM_T_NULL: g_string_append(out, "null"); return;
    case EM_T_NONE: g_string_append(out, "None"); return;
    case EM_T_BOOL: g_string_append(out, v.as.i ? "true" : "false"); return;
    case EM_T_INT: g_string_append_printf(out, "%" G_GINT64_FORMAT, v.as.i); return;
    case EM_T_DOUBLE: format_double(v.as.d, out); return;
    case EM_T_STR: g_string_append_len(out, v.as.s, v.len); return;
    case EM_T_TUPLE: /* Scala's Tuple.toString: no space after the commas */
        g_string_append_c(out, '(');
        for (uint32_t i = 0; i < v.len; i++) {
            if (i)
                g_string_append_c(out, ',');
            em_value_format(v.as.items[i], out);
        }
        g_string_append_c(out, ')');
        return;
    case EM_T_LIST: /* Scala's mkString(", ") */
        g_string_append(out, list_prefix((em_list_kind)v.kind));
        for (uint32_t i = 0; i < v.len; i++) {
            if (i)
                g_string_append(out, ", ");
            em_value_format(v.as.items[i], out);
        }
        g_string_append_c(out, ')');
        return;
    case EM_T_SOME:
        g_string_append(out, "Some(");
        em_value_format(v.as.items[0], out);
        g_string_append_c(out, ')');
        return;
    }
}

char *em_value_to_string(em_value v)
{
    GString *out = g_string_new(NULL);
    em_value_format(v, out);
    return g_string_free(out, FALSE);
}

/* ---- Parsing ---- */

typedef struct parser {
    const char *text;
    size_t pos;
    em_arena *arena;
    const char *fn; /* the public function, for error messages */
    GError **err;
    /* Items of the containers being parsed, innermost last: the inline buffer serves most
     * records, so a parse mallocs nothing but the result. */
    em_value *stack;
    size_t top, cap;
    em_value inline_stack[32];
} parser;

/* Fails the parse at offset at. Long texts are quoted around the offset only. */
static bool fail(parser *p, size_t at, const char *expected)
{
    size_t len = strlen(p->text), from = 0, n = len;
    if (len > 80) {
        from = at > 40 ? at - 40 : 0;
        n = MIN(len - from, 80);
    }
    char *shown = g_utf8_make_valid(p->text + from, (gssize)n);
    g_set_error(p->err, EM_ERROR, EM_ERROR_PARSE, "%s: at offset %zu: %s in \"%s%s%s\"", p->fn, at,
                expected, from ? "..." : "", shown, from + n < len ? "..." : "");
    g_free(shown);
    return false;
}

static void push(parser *p, em_value v)
{
    if (p->top == p->cap) {
        em_value *grown = g_new(em_value, p->cap * 2);
        memcpy(grown, p->stack, p->top * sizeof *grown);
        if (p->stack != p->inline_stack)
            g_free(p->stack);
        p->stack = grown;
        p->cap *= 2;
    }
    p->stack[p->top++] = v;
}

static void skip_blanks(parser *p)
{
    while (g_ascii_isspace(p->text[p->pos]))
        p->pos++;
}

static bool at_word(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(p->text + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static bool at_list(parser *p, em_list_kind *kind)
{
    for (em_list_kind k = EM_LIST; k <= EM_ARRAY; k++) {
        if (at_word(p, list_prefix(k))) {
            *kind = k;
            return true;
        }
    }
    return false;
}

static bool token_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static bool parse_value(parser *p, em_value *out, int depth);

/* Parses "item, item, ...)" after an opening parenthesis, consuming the ')'; the items are left
 * on the stack from *first on. */
static bool parse_items(parser *p, bool allow_empty, size_t *first, int depth)
{
    *first = p->top;
    skip_blanks(p);
    if (allow_empty && p->text[p->pos] == ')') {
        p->pos++;
        return true;
    }
    for (;;) {
        em_value v;
        if (!parse_value(p, &v, depth + 1))
            return false;
        push(p, v);
        char c = p->text[p->pos];
        if (c != ',' && c != ')')
            return fail(p, p->pos, "expected ',' or ')'");
        p->pos++;
        if (c == ')')
            return true;
    }
}

/* Moves the items from first on off the stack into the arena. */
static const em_value *pop_items(parser *p, size_t first)
{
    size_t n = p->top - first;
    p->top = first;
    return n ? em_arena_memdup(p->arena, p->stack + first, n * sizeof(em_value)) : NULL;
}

static bool parse_quoted(parser *p, em_value *out)
{
    size_t start = p->pos++, end = p->pos;
    while (p->text[end] != '"') {
        if (!p->text[end])
            return fail(p, end, "expected closing '\"'");
        end += p->text[end] == '\\' && p->text[end + 1] ? 2 : 1;
    }
    if (end == start + 1) {
        *out = em_strn("", 0);
        p->pos = end + 1;
        return true;
    }
    char *s = em_arena_alloc(p->arena, end - p->pos), *w = s;
    while (p->pos < end) {
        char c = p->text[p->pos++];
        if (c == '\\') {
            switch (p->text[p->pos++]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            default: return fail(p, p->pos - 2, "expected \\\" \\\\ \\n or \\t");
            }
        }
        *w++ = c;
    }
    p->pos = end + 1;
    *out = em_strn(s, (size_t)(w - s));
    return true;
}

/* An integer token: [+-]digits. Returns false with *overflow set when out of int64's range. */
static bool parse_int(const char *s, size_t n, int64_t *out, bool *overflow)
{
    size_t i = s[0] == '-' || s[0] == '+';
    bool neg = s[0] == '-';
    if (i == n)
        return false;
    uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!g_ascii_isdigit(s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (limit - d) / 10) {
            *overflow = true;
            return false;
        }
        mag = mag * 10 + d;
    }
    *out = !neg ? (int64_t)mag : mag == limit ? INT64_MIN : -(int64_t)mag;
    return true;
}

/* A decimal token: [+-]digits[.digits][(e|E)[+-]digits] with a '.' or an exponent. */
static bool is_decimal(const char *s, size_t n)
{
    size_t i = s[0] == '-' || s[0] == '+', digits = 0;
    bool point = false, exp = false;
    for (; i < n && g_ascii_isdigit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.') {
        point = true;
        for (i++; i < n && g_ascii_isdigit(s[i]); i++)
            digits++;
    }
    if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
        exp = true;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t from = i;
        for (; i < n && g_ascii_isdigit(s[i]); i++)
            ;
        if (i == from)
            return false;
    }
    return digits && i == n && (point || exp);
}

/* A run up to ',' or ')' at this level (parentheses inside the run nest), blanks trimmed: a
 * keyword, a number, or else a string. */
static bool parse_bare(parser *p, em_value *out)
{
    size_t start = p->pos, end;
    int nest = 0;
    for (char c; (c = p->text[p->pos]); p->pos++) {
        if (c == '(')
            nest++;
        else if ((c == ')' || c == ',') && !nest)
            break;
        else if (c == ')')
            nest--;
    }
    for (end = p->pos; end > start && g_ascii_isspace(p->text[end - 1]); end--)
        ;
    const char *s = p->text + start;
    size_t n = end - start;
    bool overflow = false;
    int64_t i;
    if (!n)
        return fail(p, start, "expected a value");
    if (token_is(s, n, "null"))
        *out = em_null();
    else if (token_is(s, n, "None"))
        *out = em_none();
    else if (token_is(s, n, "true") || token_is(s, n, "false"))
        *out = em_bool(s[0] == 't');
    else if (token_is(s, n, "NaN"))
        *out = em_double(NAN);
    else if (token_is(s, n, "Infinity") || token_is(s, n, "-Infinity"))
        *out = em_double(s[0] == '-' ? -INFINITY : INFINITY);
    else if (parse_int(s, n, &i, &overflow))
        *out = em_int(i);
    else if (overflow)
        return fail(p, start, "expected an integer within 64 bits");
    else if (is_decimal(s, n)) {
        double d = g_ascii_strtod(s, NULL); /* stops at the token's end: it is all number */
        if (isinf(d))
            return fail(p, start, "expected a double within range");
        *out = em_double(d);
    } else
        *out = em_str_dup_in(p->arena, s, n);
    return true;
}

static bool parse_value(parser *p, em_value *out, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(p, p->pos, "expected nesting no deeper than 64");
    skip_blanks(p);
    size_t first;
    em_list_kind kind;
    if (p->text[p->pos] == '"') {
        if (!parse_quoted(p, out))
            return false;
    } else if (p->text[p->pos] == '(') {
        p->pos++;
        if (!parse_items(p, false, &first, depth))
            return false;
        uint32_t n = (uint32_t)(p->top - first);
        if (n == 1)
            *out = p->stack[--p->top]; /* (x) is just x */
        else
            *out = (em_value){.type = EM_T_TUPLE, .len = n, .as.items = pop_items(p, first)};
    } else if (at_word(p, "Some(")) {
        em_value *item = em_arena_alloc(p->arena, sizeof *item);
        if (!parse_value(p, item, depth + 1))
            return false;
        if (p->text[p->pos] != ')')
            return fail(p, p->pos, "expected ')'");
        p->pos++;
        *out = (em_value){.type = EM_T_SOME, .as.items = item};
    } else if (at_list(p, &kind)) {
        if (!parse_items(p, true, &first, depth))
            return false;
        uint32_t n = (uint32_t)(p->top - first);
        *out = (em_value){.type = EM_T_LIST, .kind = (uint8_t)kind, .len = n};
        out->as.items = pop_items(p, first);
    } else
        return parse_bare(p, out);
    skip_blanks(p);
    return true;
}

static void parser_init(parser *p, const char *fn, const char *text, em_arena *arena, GError **err)
{
    *p = (parser){.text = text, .arena = arena, .fn = fn, .err = err};
    p->stack = p->inline_stack;
    p->cap = G_N_ELEMENTS(p->inline_stack);
}

static void parser_clear(parser *p)
{
    if (p->stack != p->inline_stack)
        g_free(p->stack);
}

bool em_value_parse(const char *text, em_arena *arena, em_value *out, GError **err)
{
    g_return_val_if_fail(text && arena && out, false);
    parser p;
    parser_init(&p, "em_value_parse", text, arena, err);
    em_value v;
    bool ok = parse_value(&p, &v, 0);
    if (ok && text[p.pos])
        ok = fail(&p, p.pos, "expected end of input");
    parser_clear(&p);
    if (ok)
        *out = v;
    return ok;
}

bool em_values_parse(const char *text, em_arena *arena, em_value **out, size_t *n, GError **err)
{
    g_return_val_if_fail(text && arena && out && n, false);
    parser p;
    parser_init(&p, "em_values_parse", text, arena, err);
    skip_blanks(&p);
    bool ok = true;
    while (text[p.pos]) { /* values separated by ',': a trailing ',' expects one more */
        em_value v;
        if (!(ok = parse_value(&p, &v, 0)))
            break;
        push(&p, v);
        if (text[p.pos] != ',')
            break;
        p.pos++;
        if (!text[p.pos])
            ok = fail(&p, p.pos, "expected a value");
    }
    if (ok && text[p.pos])
        ok = fail(&p, p.pos, "expected ',' or end of input");
    *n = ok ? p.top : 0;
    *out = ok && p.top ? g_memdup2(p.stack, p.top * sizeof(em_value)) : NULL;
    parser_clear(&p);
    return ok;
}
