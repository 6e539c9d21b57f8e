/* Stock functions for classic programs (core): split words, pair with one, sum, min, max,
 * count, concat, so a word count needs no user function at all. */
#include "core-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const bool is_blank[256] =
    {[' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true, ['\v'] = true, ['\f'] = true};

/* The end of the word starting at p: eight bytes at a time, a byte <= 0x20 marks a candidate
 * (the first set bit of the borrow trick is exact) that the table then confirms; control
 * characters that are not blanks fall back to the byte loop from there. */
static inline const char *word_end(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t below = (w - ones * 0x21) & ~w & highs; /* bytes < 0x21 */
        if (!below) {
            p += 8;
            continue;
        }
        p += __builtin_ctzll(below) / 8;
        if (is_blank[(uint8_t)*p])
            return p;
        p++;
    }
    while (p < end && !is_blank[(uint8_t)*p])
        p++;
    return p;
}

/* The first ' ' at or after p, or end: eight bytes at a time (the borrow trick's first set bit is
 * exact). */
static inline const char *space_at(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= ones * ' ';
        uint64_t zero = (w - ones) & ~w & highs;
        if (zero)
            return p + __builtin_ctzll(zero) / 8;
        p += 8;
    }
    while (p < end && *p != ' ')
        p++;
    return p;
}

/* Calls emit(word, ctx) for each word of em_split_words (space_only false: runs of blanks
 * separate words) or em_split_space (true: Java's line.split(" "): every ' ' separates, the
 * trailing empty strings dropped, and "" splits to [""]). Returns false once emit does. */
static inline bool split_each(const char *p, uint32_t len, bool space_only,
                              bool (*emit)(em_value word, void *ctx), void *ctx)
{
    const char *end = p + len;
    if (!space_only) {
        while (p < end) {
            while (p < end && is_blank[(uint8_t)*p])
                p++;
            if (p >= end)
                break;
            const char *start = p;
            p = word_end(p, end);
            if (!emit(em_strn(start, (size_t)(p - start)), ctx))
                return false;
        }
        return true;
    }
    if (len == 0)
        return emit(em_strn(p, 0), ctx);
    /* Empty strings wait until a word follows them: trailing ones are dropped. */
    uint32_t empties = 0;
    for (const char *start = p;; start = p + 1) {
        p = space_at(start, end);
        if (p == start) {
            empties++;
        } else {
            for (; empties; empties--)
                if (!emit(em_strn(start, 0), ctx))
                    return false;
            if (!emit(em_strn(start, (size_t)(p - start)), ctx))
                return false;
        }
        if (p == end)
            return true;
    }
}

typedef struct {
    em_value *words;
    uint32_t n;
} word_list;

static bool add_word(em_value word, void *ctx)
{
    word_list *l = ctx;
    l->words[l->n++] = word;
    return true;
}

static em_value split_list(em_value line, bool space_only)
{
    /* At most one word per byte and one more: one allocation, no growth. */
    word_list l = {em_arena_alloc(em_scratch(), ((size_t)line.len + 1) * sizeof *l.words), 0};
    split_each(line.as.s, line.len, space_only, add_word, &l);
    return (em_value){.type = EM_T_LIST, .kind = EM_ARRAY, .len = l.n, .as.items = l.words};
}

em_value em_split_words(em_value line, void *ud)
{
    (void)ud;
    if (line.type != EM_T_STR)
        return em_fail("em_split_words: record is not a string");
    return split_list(line, false);
}

em_value em_split_space(em_value line, void *ud)
{
    (void)ud;
    if (line.type != EM_T_STR)
        return em_fail("em_split_space: record is not a string");
    return split_list(line, true);
}

static bool push_word(em_value word, void *ctx)
{
    em_sink *out = ctx;
    if (G_UNLIKELY(out->task->stop))
        return false;
    out->push(out, word);
    return true;
}

void em__push_split(em_value line, bool space_only, em_sink *out)
{
    split_each(line.as.s, line.len, space_only, push_word, out);
}

em_value em_pair_one(em_value v, void *ud)
{
    (void)ud;
    return em_pair(v, em_int(1));
}

em_value em_identity(em_value v, void *ud)
{
    (void)ud;
    return v;
}

em_value em_swap(em_value kv, void *ud)
{
    (void)ud;
    if (!em_is_pair(kv))
        return em_fail("em_swap: record is not a pair");
    return em_pair(em_val(kv), em_key(kv));
}

static bool is_number(em_value v) { return v.type == EM_T_INT || v.type == EM_T_DOUBLE; }

em_value em_sum(em_value a, em_value b, void *ud)
{
    (void)ud;
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    if (is_number(a) && is_number(b))
        return em_double(em_as_number(a) + em_as_number(b));
    return em_fail("em_sum: cannot add non-numbers");
}

em_value em_subtract(em_value a, em_value b, void *ud)
{
    (void)ud;
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return em_int((int64_t)((uint64_t)a.as.i - (uint64_t)b.as.i));
    if (is_number(a) && is_number(b))
        return em_double(em_as_number(a) - em_as_number(b));
    return em_fail("em_subtract: cannot subtract non-numbers");
}

bool em_filter_nonzero(em_value kv, void *ud)
{
    (void)ud;
    em_value v = em_is_pair(kv) ? em_val(kv) : kv;
    return em_as_number(v) != 0;
}

em_value em_min(em_value a, em_value b, void *ud)
{
    (void)ud;
    return em_value_compare(b, a) < 0 ? b : a;
}

em_value em_max(em_value a, em_value b, void *ud)
{
    (void)ud;
    return em_value_compare(b, a) > 0 ? b : a;
}

em_value em_increment(em_value acc, em_value v, void *ud)
{
    (void)v, (void)ud;
    if (acc.type != EM_T_INT)
        return em_fail("em_increment: the accumulator is not an int");
    return em_int(acc.as.i + 1);
}

em_value em_concat(em_value a, em_value b, void *ud)
{
    (void)ud;
    if (a.type == EM_T_STR && b.type == EM_T_STR) {
        char *bytes = em_arena_alloc(em_scratch(), (size_t)a.len + b.len + 1);
        memcpy(bytes, a.as.s, a.len);
        memcpy(bytes + a.len, b.as.s, b.len);
        return em_strn(bytes, (size_t)a.len + b.len);
    }
    if (a.type == EM_T_LIST && b.type == EM_T_LIST) {
        em_value *items = em_arena_alloc(em_scratch(), ((size_t)a.len + b.len) * sizeof *items);
        if (a.len)
            memcpy(items, a.as.items, a.len * sizeof *items);
        if (b.len)
            memcpy(items + a.len, b.as.items, b.len * sizeof *items);
        return (
            em_value){.type = EM_T_LIST, .kind = a.kind, .len = a.len + b.len, .as.items = items};
    }
    return em_fail("em_concat: records are not two strings or two lists");
}

/* ---- Parameterised functions ---- */

em_value em_split_on(em_value line, void *ud)
{
    const char *sep = ud;
    size_t seplen = sep ? strlen(sep) : 0;
    if (line.type != EM_T_STR)
        return em_fail("em_split_on: record is not a string");
    if (seplen == 0)
        return em_fail("em_split_on: the separator is empty");
    const char *p = line.as.s, *end = p + line.len;
    em_value *fields =
        em_arena_alloc(em_scratch(), ((size_t)line.len / seplen + 1) * sizeof *fields);
    uint32_t n = 0;
    const char *start = p;
    while ((size_t)(end - p) >= seplen) {
        if (memcmp(p, sep, seplen) == 0) {
            fields[n++] = em_strn(start, (size_t)(p - start));
            p += seplen;
            start = p;
        } else
            p++;
    }
    fields[n++] = em_strn(start, (size_t)(end - start));
    /* Java's String.split drops trailing empty strings ("" splits to [""]). */
    while (n > 0 && fields[n - 1].len == 0)
        n--;
    if (n == 0 && line.len == 0)
        n = 1;
    return (em_value){.type = EM_T_LIST, .kind = EM_ARRAY, .len = n, .as.items = fields};
}

static bool has_at(em_value v, const char *needle, bool anywhere, const char *fn)
{
    if (v.type != EM_T_STR) {
        em_fail("%s: record is not a string", fn);
        return false;
    }
    size_t n = needle ? strlen(needle) : 0;
    if (n > v.len)
        return false;
    if (!anywhere || n == 0)
        return memcmp(v.as.s, needle, n) == 0;
    return memmem(v.as.s, v.len, needle, n) != NULL;
}

bool em_contains(em_value v, void *ud) { return has_at(v, ud, true, "em_contains"); }

bool em_starts_with(em_value v, void *ud) { return has_at(v, ud, false, "em_starts_with"); }

em_value em_field_of(em_value tuple, void *ud)
{
    size_t i = GPOINTER_TO_SIZE(ud);
    if (tuple.type != EM_T_TUPLE || i >= tuple.len)
        return em_fail("em_field_of: record has no field _%zu", i + 1);
    return tuple.as.items[i];
}

/* A copy of s's bytes, NUL-terminated, in em_scratch(). */
static em_value scratch_string(const GString *s)
{
    char *bytes = em_arena_alloc(em_scratch(), s->len + 1);
    memcpy(bytes, s->str, s->len + 1);
    return em_strn(bytes, s->len);
}

static em_value change_case(em_value s, bool upper, const char *fn)
{
    if (s.type != EM_T_STR)
        return em_fail("%s: record is not a string", fn);
    if (g_utf8_validate(s.as.s, s.len, NULL)) {
        char *c = upper ? g_utf8_strup(s.as.s, s.len) : g_utf8_strdown(s.as.s, s.len);
        GString view = {.str = c, .len = strlen(c)};
        em_value out = scratch_string(&view);
        g_free(c);
        return out;
    }
    char *bytes = em_arena_alloc(em_scratch(), (size_t)s.len + 1);
    for (uint32_t i = 0; i < s.len; i++)
        bytes[i] = upper ? g_ascii_toupper(s.as.s[i]) : g_ascii_tolower(s.as.s[i]);
    return em_strn(bytes, s.len);
}

em_value em_to_lower(em_value s, void *ud)
{
    (void)ud;
    return change_case(s, false, "em_to_lower");
}

em_value em_to_upper(em_value s, void *ud)
{
    (void)ud;
    return change_case(s, true, "em_to_upper");
}

/* Java's Long.parseLong rules: [+-]digits, nothing else, within [min, max]. */
static em_value parse_integer(em_value s, int64_t min, int64_t max, const char *fn)
{
    if (s.type != EM_T_STR)
        return em_fail("%s: record is not a string", fn);
    const char *p = s.as.s, *end = p + s.len;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    if (p == end)
        return em_fail("%s: For input string: \"%.*s\"", fn, (int)s.len, s.as.s);
    uint64_t limit = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max, v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (limit - (uint64_t)(*p - '0')) / 10)
            return em_fail("%s: For input string: \"%.*s\"", fn, (int)s.len, s.as.s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return em_int(neg ? (int64_t)(0 - v) : (int64_t)v);
}

em_value em_parse_int(em_value s, void *ud)
{
    (void)ud;
    return parse_integer(s, INT32_MIN, INT32_MAX, "em_parse_int");
}

em_value em_parse_long(em_value s, void *ud)
{
    (void)ud;
    return parse_integer(s, INT64_MIN, INT64_MAX, "em_parse_long");
}

em_value em_parse_double(em_value s, void *ud)
{
    (void)ud;
    if (s.type != EM_T_STR)
        return em_fail("em_parse_double: record is not a string");
    const char *p = s.as.s, *end = p + s.len;
    while (p < end && (uint8_t)*p <= ' ') /* Java's trim() */
        p++;
    while (end > p && (uint8_t)end[-1] <= ' ')
        end--;
    char buf[128];
    size_t n = (size_t)(end - p);
    if (n > 0 && n < sizeof buf && strchr("dDfF", end[-1]))
        n--; /* the type suffix: 1.5d, 2f */
    if (n == 0 || n >= sizeof buf)
        goto bad;
    memcpy(buf, p, n);
    buf[n] = '\0';
    const char *num = buf + (buf[0] == '+' || buf[0] == '-');
    if (strcmp(num, "NaN") == 0 && num == buf)
        return em_double(NAN);
    if (strcmp(num, "Infinity") == 0)
        return em_double(buf[0] == '-' ? -INFINITY : INFINITY);
    /* Digits, one point, an exponent: no hex, no "inf"/"nan" spellings strtod would take. */
    bool digit = false, point = false;
    const char *q = num;
    for (; *q && *q != 'e' && *q != 'E'; q++) {
        if (*q == '.' && !point)
            point = true;
        else if (*q >= '0' && *q <= '9')
            digit = true;
        else
            goto bad;
    }
    if (!digit)
        goto bad;
    if (*q) {
        q++;
        q += (*q == '+' || *q == '-');
        if (!*q)
            goto bad;
        for (; *q; q++)
            if (*q < '0' || *q > '9')
                goto bad;
    }
    return em_double(g_ascii_strtod(buf, NULL));
bad:
    return em_fail("em_parse_double: For input string: \"%.*s\"", (int)s.len, s.as.s);
}

/* ---- Text as the JVM writes it ---- */

void em_format_double(double d, GString *out) { em_value_format(em_double(d), out); }

/* The n-digit decimal of f that reads back as f, if one does: printf's nearest, or for a
 * power of two the one a unit above (the gap below is half the gap above). */
static bool float_digits(float f, int n, char *digits, int *exp)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", n - 1, (double)f);
    const char *p = buf;
    for (int i = 0; *p != 'e'; p++)
        if (*p != '.')
            digits[i++] = *p;
    *exp = (int)strtol(p + 1, NULL, 10);
    float back = strtof(buf, NULL);
    if (back >= f)
        return back == f;
    int i = n - 1;
    while (i >= 0 && digits[i] == '9')
        digits[i--] = '0';
    if (i < 0) {
        digits[0] = '1';
        ++*exp;
    } else
        digits[i]++;
    snprintf(buf, sizeof buf, "%.*se%d", n, digits, *exp - (n - 1));
    return strtof(buf, NULL) == f;
}

void em_format_float(float f, GString *out)
{
    if (isnan(f)) {
        g_string_append(out, "NaN");
        return;
    }
    if (signbit(f))
        g_string_append_c(out, '-');
    f = fabsf(f);
    if (isinf(f)) {
        g_string_append(out, "Infinity");
        return;
    }
    if (f == 0) {
        g_string_append(out, "0.0");
        return;
    }
    char digits[12];
    int nd = 1, exp = 0;
    while (nd < 9 && !float_digits(f, nd, digits, &exp))
        nd++;
    if (nd == 9)
        float_digits(f, 9, digits, &exp);
    if (nd == 1) { /* as Java: the closest of two digits when one suffices (1.4E-45) */
        nd = 2;
        float_digits(f, nd, digits, &exp);
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    em__java_layout(digits, nd, exp, out);
}

static em_value number_to_string(em_value v, bool as_float, const char *fn)
{
    if (v.type != EM_T_INT && v.type != EM_T_DOUBLE)
        return em_fail("%s: record is not a number", fn);
    g_autoptr(GString) text = g_string_sized_new(32);
    if (as_float)
        em_format_float((float)em_as_number(v), text);
    else
        em_format_double(em_as_number(v), text);
    return scratch_string(text);
}

em_value em_double_to_string(em_value v, void *ud)
{
    (void)ud;
    return number_to_string(v, false, "em_double_to_string");
}

em_value em_float_to_string(em_value v, void *ud)
{
    (void)ud;
    return number_to_string(v, true, "em_float_to_string");
}

/* Java's %.Nf: the shortest decimal of d (as Double.toString finds it) rounded HALF_UP to
 * prec places. */
static void format_fixed(double d, int prec, GString *out)
{
    if (isnan(d) || isinf(d)) {
        em_format_double(d, out);
        return;
    }
    g_autoptr(GString) shortest = g_string_new(NULL);
    em_format_double(fabs(d), shortest);
    /* Digits and the position of the point in them, from "D.DDD" or "D.DDDE<exp>". */
    char *e = strchr(shortest->str, 'E');
    int exp10 = e ? atoi(e + 1) : 0;
    if (e)
        *e = '\0';
    GString *digits = g_string_new(NULL);
    int point = -1;
    for (const char *p = shortest->str; *p; p++) {
        if (*p == '.')
            point = (int)digits->len;
        else
            g_string_append_c(digits, *p);
    }
    point += exp10; /* digits[0..point) are the integer part; may be <= 0 or > len */
    /* Rounded digit string with exactly point+prec digits (pad with zeros on the left). */
    int lead = point < 1 ? 1 - point : 0;
    for (int i = 0; i < lead; i++)
        g_string_prepend_c(digits, '0');
    point += lead;
    int keep = point + prec;
    while ((int)digits->len < keep + 1)
        g_string_append_c(digits, '0');
    bool up = digits->str[keep] >= '5';
    g_string_truncate(digits, (size_t)keep);
    if (up) {
        int i = keep - 1;
        while (i >= 0 && digits->str[i] == '9')
            digits->str[i--] = '0';
        if (i < 0) {
            g_string_prepend_c(digits, '1');
            point++;
        } else
            digits->str[i]++;
    }
    if (signbit(d)) /* Java keeps the sign of values rounding to zero: -0.00 */
        g_string_append_c(out, '-');
    /* Drop leading zeros of the integer part but one. */
    int skip = 0;
    while (skip < point - 1 && digits->str[skip] == '0')
        skip++;
    g_string_append_len(out, digits->str + skip, point - skip);
    if (prec > 0) {
        g_string_append_c(out, '.');
        g_string_append_len(out, digits->str + point, prec);
    }
    g_string_free(digits, TRUE);
}

em_value em_format_values(const char *fmt, const em_value *args, size_t n)
{
    g_autoptr(GString) out = g_string_sized_new(64);
    size_t used = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            g_string_append_c(out, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            g_string_append_c(out, '%');
            continue;
        }
        if (*p == 'n') {
            g_string_append_c(out, '\n');
            continue;
        }
        int prec = 6;
        if (*p == '.') {
            char *after;
            long v = strtol(p + 1, &after, 10);
            if (after == p + 1 || v < 0 || v > 300 || *after != 'f')
                return em_fail("em_format_values: unsupported conversion in \"%s\"", fmt);
            prec = (int)v;
            p = after;
        }
        if (*p != 's' && *p != 'd' && *p != 'f')
            return em_fail("em_format_values: unsupported conversion %%%c in \"%s\"",
                           *p ? *p : ' ', fmt);
        if (used == n)
            return em_fail("em_format_values: too few arguments for \"%s\"", fmt);
        em_value a = args[used++];
        if (*p == 's')
            em_value_format(a, out);
        else if (*p == 'd') {
            if (a.type != EM_T_INT)
                return em_fail("em_format_values: %%d of a non-int argument %zu in \"%s\"", used,
                               fmt);
            g_string_append_printf(out, "%" G_GINT64_FORMAT, a.as.i);
        } else {
            if (a.type != EM_T_DOUBLE && a.type != EM_T_INT)
                return em_fail("em_format_values: %%f of a non-number argument %zu in \"%s\"",
                               used, fmt);
            format_fixed(em_as_number(a), prec, out);
        }
    }
    if (used != n)
        return em_fail("em_format_values: %zu arguments for %zu conversions in \"%s\"", n, used,
                       fmt);
    return scratch_string(out);
}

const char *em_cstr(em_value s)
{
    if (s.type != EM_T_STR) {
        g_autoptr(GString) text = g_string_new(NULL);
        em_value_format(s, text);
        return scratch_string(text).as.s;
    }
    char *bytes = em_arena_alloc(em_scratch(), (size_t)s.len + 1);
    if (s.len)
        memcpy(bytes, s.as.s, s.len);
    bytes[s.len] = '\0';
    return bytes;
}
