/* Stock functions for classic programs (core): split words, pair with one, sum, min, max,
 * count, concat, so a word count needs no user function at all. */
#include "core-private.h"

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

em_value em_split_words(em_value line, void *ud)
{
    (void)ud;
    if (line.type != EM_T_STR)
        return em_fail("em_split_words: record is not a string");
    const char *p = line.as.s, *end = p + line.len;
    /* At most one word per two bytes (a byte and a blank): one allocation, no growth. */
    em_value *words = em_arena_alloc(em_scratch(), ((size_t)line.len / 2 + 1) * sizeof *words);
    uint32_t n = 0;
    while (p < end) {
        while (p < end && is_blank[(uint8_t)*p])
            p++;
        if (p >= end)
            break;
        const char *start = p;
        p = word_end(p, end);
        words[n++] = em_strn(start, (size_t)(p - start));
    }
    return (em_value){.type = EM_T_LIST, .kind = EM_ARRAY, .len = n, .as.items = words};
}

em_value em_split_space(em_value line, void *ud)
{
    (void)ud;
    if (line.type != EM_T_STR)
        return em_fail("em_split_space: record is not a string");
    const char *p = line.as.s, *end = p + line.len;
    em_value *words = em_arena_alloc(em_scratch(), ((size_t)line.len + 1) * sizeof *words);
    uint32_t n = 0;
    const char *start = p;
    for (; p <= end; p++) {
        if (p == end || *p == ' ') {
            words[n++] = em_strn(start, (size_t)(p - start));
            start = p + 1;
        }
    }
    /* Java's String.split drops trailing empty strings (but "" splits to [""]). */
    while (n > 1 && words[n - 1].len == 0)
        n--;
    if (n == 1 && words[0].len == 0 && line.len > 0)
        n = 0;
    return (em_value){.type = EM_T_LIST, .kind = EM_ARRAY, .len = n, .as.items = words};
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
