/* em_value: constructors, hashing, equality, order and deep copy (core, the record type).
 * Text formatting and parsing live in value-format.c, the binary codec in value-codec.c. */
#include "core-private.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(em - error - quark, em_error)

em_value em_str(const char *cstr) { return em_strn(cstr, strlen(cstr)); }

em_value em_pair_in(em_arena *arena, em_value k, em_value v)
{
    em_value *f = em_arena_alloc(arena, 2 * sizeof *f);
    f[0] = k;
    f[1] = v;
    return (em_value){.type = EM_T_TUPLE, .len = 2, .as.items = f};
}

em_value em_pair(em_value k, em_value v) { return em_pair_in(em_scratch(), k, v); }

em_value em_tuple_in(em_arena *arena, const em_value *fields, size_t n)
{
    g_return_val_if_fail(n >= 2, em_null());
    em_value *f = em_arena_memdup(arena, fields, n * sizeof *f);
    return (em_value){.type = EM_T_TUPLE, .len = (uint32_t)n, .as.items = f};
}

em_value em_some_in(em_arena *arena, em_value x)
{
    em_value *f = em_arena_alloc(arena, sizeof *f);
    *f = x;
    return (em_value){.type = EM_T_SOME, .as.items = f};
}

em_value em_some(em_value x) { return em_some_in(em_scratch(), x); }

em_value em_list_in(em_arena *arena, const em_value *items, size_t n, em_list_kind kind)
{
    em_value *f = n ? em_arena_memdup(arena, items, n * sizeof *f) : NULL;
    return (em_value){.type = EM_T_LIST, .kind = (uint8_t)kind, .len = (uint32_t)n, .as.items = f};
}

em_value em_list(const em_value *items, size_t n, em_list_kind kind)
{
    return em_list_in(em_scratch(), items, n, kind);
}

em_value em_str_dup_in(em_arena *arena, const char *bytes, size_t n)
{
    return em_strn(em_arena_memdup(arena, bytes, n), n);
}

em_value em_str_dup(const char *bytes, size_t n) { return em_str_dup_in(em_scratch(), bytes, n); }

em_value em_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return em_strn("", 0);
    }
    char *buf = em_arena_alloc(em_scratch(), (size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(buf, small, (size_t)n + 1);
    else
        vsnprintf(buf, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return em_strn(buf, (size_t)n);
}

double em_as_number(em_value v)
{
    switch (v.type) {
    case EM_T_INT: return (double)v.as.i;
    case EM_T_DOUBLE: return v.as.d;
    default: return 0;
    }
}

/* ---- Hashing ---- */

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Eight bytes at a time, murmur3-style rounds. The last 1..8 bytes are read with fixed-size
 * loads (two overlapping ones, or three single bytes, as wyhash does) so that short strings,
 * the common keys, cost no call and no loop. */
uint64_t em__hash_bytes(const void *bytes, size_t n)
{
    const uint8_t *p = bytes;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0x87c37b91114253d5ULL);
    size_t left = n;
    while (left > 8) {
        h ^= rotl64(load64(p) * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
        h = rotl64(h, 27) * 5 + 0x52dce729;
        p += 8;
        left -= 8;
    }
    uint64_t w;
    if (left >= 4)
        w = load32(p) | (load32(p + left - 4) << 32);
    else if (left > 0)
        w = ((uint64_t)p[0] << 16) | ((uint64_t)p[left / 2] << 8) | p[left - 1];
    else
        w = 0;
    h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
    return fmix64(h);
}

static uint64_t hash_items(uint64_t seed, const em_value *items, size_t n)
{
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++)
        h = fmix64(h * 31 + em_value_hash(items[i]));
    return h;
}

uint64_t em_value_hash(em_value v)
{
    switch ((em_type)v.type) {
    case EM_T_NULL: return 0x6e756c6cULL;
    case EM_T_NONE: return 0x4e6f6e65ULL;
    case EM_T_BOOL: return fmix64(0xb001ULL + (uint64_t)v.as.i);
    case EM_T_INT: return fmix64((uint64_t)v.as.i ^ 0x1a7e6e4ULL);
    case EM_T_DOUBLE: {
        double d = v.as.d;
        if (d == 0)
            d = 0; /* -0.0 equals 0.0 */
        if (isnan(d))
            d = NAN;
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return fmix64(bits ^ 0xd0bb1eULL);
    }
    case EM_T_STR: return em__hash_bytes(v.as.s, v.len);
    case EM_T_TUPLE: return hash_items(0x7e91eULL + v.len, v.as.items, v.len);
    case EM_T_LIST: return hash_items(0x1157ULL, v.as.items, v.len);
    case EM_T_SOME: return hash_items(0x50e, v.as.items, 1);
    }
    return 0;
}

/* ---- Equality and order ---- */

static int type_rank(em_type t)
{
    switch (t) {
    case EM_T_NULL: return 0;
    case EM_T_BOOL: return 1;
    case EM_T_INT: return 2;
    case EM_T_DOUBLE: return 3;
    case EM_T_STR: return 4;
    case EM_T_TUPLE: return 5;
    case EM_T_LIST: return 6;
    case EM_T_NONE: return 7;
    case EM_T_SOME: return 8;
    }
    return 9;
}

static bool items_equal(const em_value *a, const em_value *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!em_value_equal(a[i], b[i]))
            return false;
    return true;
}

bool em_value_equal(em_value a, em_value b)
{
    if (a.type != b.type)
        return false;
    switch ((em_type)a.type) {
    case EM_T_NULL:
    case EM_T_NONE: return true;
    case EM_T_BOOL:
    case EM_T_INT: return a.as.i == b.as.i;
    case EM_T_DOUBLE: return a.as.d == b.as.d || (isnan(a.as.d) && isnan(b.as.d));
    case EM_T_STR: return a.len == b.len && em__bytes_equal(a.as.s, b.as.s, a.len);
    case EM_T_TUPLE:
    case EM_T_LIST: return a.len == b.len && items_equal(a.as.items, b.as.items, a.len);
    case EM_T_SOME: return em_value_equal(a.as.items[0], b.as.items[0]);
    }
    return false;
}

static int cmp_double(double x, double y)
{
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return nx - ny; /* NaN sorts after every number, like Java's Double.compare */
    return (x > y) - (x < y);
}

static int cmp_items(const em_value *a, size_t na, const em_value *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        int c = em_value_compare(a[i], b[i]);
        if (c)
            return c;
    }
    return (na > nb) - (na < nb);
}

int em_value_compare(em_value a, em_value b)
{
    if (a.type != b.type) {
        int ra = type_rank((em_type)a.type), rb = type_rank((em_type)b.type);
        return (ra > rb) - (ra < rb);
    }
    switch ((em_type)a.type) {
    case EM_T_NULL:
    case EM_T_NONE: return 0;
    case EM_T_BOOL:
    case EM_T_INT: return (a.as.i > b.as.i) - (a.as.i < b.as.i);
    case EM_T_DOUBLE: return cmp_double(a.as.d, b.as.d);
    case EM_T_STR: {
        size_t n = a.len < b.len ? a.len : b.len;
        int c = n ? memcmp(a.as.s, b.as.s, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return (a.len > b.len) - (a.len < b.len);
    }
    case EM_T_TUPLE:
    case EM_T_LIST: return cmp_items(a.as.items, a.len, b.as.items, b.len);
    case EM_T_SOME: return em_value_compare(a.as.items[0], b.as.items[0]);
    }
    return 0;
}

/* ---- Deep copy ---- */

size_t em_value_payload_size(em_value v)
{
    switch ((em_type)v.type) {
    case EM_T_STR: return (v.len + 7u) & ~(size_t)7u;
    case EM_T_TUPLE:
    case EM_T_LIST:
    case EM_T_SOME: {
        size_t n = v.type == EM_T_SOME ? 1 : v.len;
        size_t total = n * sizeof(em_value);
        for (size_t i = 0; i < n; i++)
            total += em_value_payload_size(v.as.items[i]);
        return total;
    }
    default: return 0;
    }
}

em_value em_value_copy(em_value v, em_arena *arena)
{
    switch ((em_type)v.type) {
    case EM_T_STR:
        if (v.len)
            v.as.s = em_arena_memdup(arena, v.as.s, v.len);
        return v;
    case EM_T_TUPLE:
    case EM_T_LIST:
    case EM_T_SOME: {
        size_t n = v.type == EM_T_SOME ? 1 : v.len;
        if (!n)
            return v;
        em_value *items = em_arena_alloc(arena, n * sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = em_value_copy(v.as.items[i], arena);
        v.as.items = items;
        return v;
    }
    default: return v;
    }
}

/* ---- Growable lists (groupByKey, cogroup) ---- */

void em__list_append(em_value *list, uint32_t *cap, em_value v, em_arena *arena)
{
    if (*cap == 0)
        *list = (em_value){.type = EM_T_LIST, .kind = EM_BUFFER};
    if (list->len == *cap) {
        uint32_t grown = *cap ? *cap * 2 : 4;
        em_value *items = em_arena_alloc(arena, grown * sizeof *items);
        if (list->len)
            memcpy(items, list->as.items, list->len * sizeof *items);
        list->as.items = items;
        *cap = grown;
    }
    ((em_value *)list->as.items)[list->len++] = v;
}
