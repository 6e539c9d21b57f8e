/* em_value in binary (core, the record type): the encoding shuffles, checkpoints and Kafka
 * payloads use. A value is a type byte (type in the low nibble, a list's kind or a bool's value in
 * the high one) then LEB128 varints or raw bytes. Decoding trusts nothing it reads. */
#include "core-private.h"

#include <stdarg.h>
#include <string.h>

/* Deeper values are refused so hostile bytes cannot exhaust the C stack; the text parser has
 * the same limit. */
enum { MAX_DEPTH = 64 };

static const char MAGIC[3] = {'E', 'M', 'V'};

/* ---- Encoding ---- */

static void put_varint(GByteArray *out, uint64_t x)
{
    uint8_t buf[10];
    guint n = 0;
    while (x >= 0x80) {
        buf[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    buf[n++] = (uint8_t)x;
    g_byte_array_append(out, buf, n);
}

void em_value_encode(em_value v, GByteArray *out)
{
    uint8_t info = v.type == EM_T_LIST ? v.kind : v.type == EM_T_BOOL ? (uint8_t)v.as.i : 0;
    uint8_t tag = (uint8_t)(v.type | info << 4);
    g_byte_array_append(out, &tag, 1);
    switch ((em_type)v.type) {
    case EM_T_NULL:
    case EM_T_NONE:
    case EM_T_BOOL: return;
    case EM_T_INT: { /* zigzag: small magnitudes of either sign take few bytes */
        uint64_t u = (uint64_t)v.as.i;
        put_varint(out, (u << 1) ^ (0 - (u >> 63)));
        return;
    }
    case EM_T_DOUBLE: {
        uint64_t bits;
        uint8_t le[8];
        memcpy(&bits, &v.as.d, 8);
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(bits >> (8 * i));
        g_byte_array_append(out, le, 8);
        return;
    }
    case EM_T_STR:
        put_varint(out, v.len);
        g_byte_array_append(out, (const guint8 *)v.as.s, v.len);
        return;
    case EM_T_TUPLE:
    case EM_T_LIST:
        put_varint(out, v.len);
        for (uint32_t i = 0; i < v.len; i++)
            em_value_encode(v.as.items[i], out);
        return;
    case EM_T_SOME: em_value_encode(v.as.items[0], out); return;
    }
}

void em_values_encode(const em_value *values, size_t n, GByteArray *out)
{
    uint8_t version = EM_CODEC_VERSION;
    g_byte_array_append(out, (const guint8 *)MAGIC, sizeof MAGIC);
    g_byte_array_append(out, &version, 1);
    put_varint(out, n);
    for (size_t i = 0; i < n; i++)
        em_value_encode(values[i], out);
}

/* ---- Decoding ---- */

typedef struct decoder {
    const uint8_t *buf;
    size_t len, pos;
    em_arena *arena;
    const char *fn; /* the public function, for error messages */
    GError **err;
} decoder;

static bool G_GNUC_PRINTF(3, 4) fail(decoder *d, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(d->err, EM_ERROR, EM_ERROR_CORRUPT, "%s: at offset %zu: %s", d->fn, at, what);
    g_free(what);
    return false;
}

/* At most ten bytes, the last holding the top bit of 64. */
static bool get_varint(decoder *d, uint64_t *out)
{
    size_t start = d->pos;
    uint64_t x = 0;
    for (int shift = 0;; shift += 7) {
        if (d->pos == d->len)
            return fail(d, d->pos, "truncated varint");
        uint8_t b = d->buf[d->pos++];
        if (shift == 63 && b > 1)
            return fail(d, start, "varint longer than 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *out = x;
    return true;
}

/* A count of items or bytes that follow: each item takes a byte at least, so a count above the
 * bytes remaining is corrupt, which also bounds what the arena is asked for. */
static bool get_count(decoder *d, uint32_t *out)
{
    size_t at = d->pos;
    uint64_t n = 0; /* set by get_varint on success; gcc -O3 cannot tell */
    if (!get_varint(d, &n))
        return false;
    if (n > d->len - d->pos || n > UINT32_MAX)
        return fail(d, at, "length larger than the bytes remaining");
    *out = (uint32_t)n;
    return true;
}

static bool decode(decoder *d, em_value *out, int depth)
{
    size_t at = d->pos;
    if (depth > MAX_DEPTH)
        return fail(d, at, "nesting deeper than 64");
    if (d->pos == d->len)
        return fail(d, at, "truncated value");
    uint8_t tag = d->buf[d->pos++], type = tag & 0xf, info = tag >> 4;
    uint32_t n = 0;
    bool info_ok =
        info == 0 || (type == EM_T_LIST && info <= EM_ARRAY) || (type == EM_T_BOOL && info == 1);
    if (type > EM_T_NONE || !info_ok)
        return fail(d, at, "unknown type byte 0x%02x", tag);
    *out = (em_value){.type = type};
    switch ((em_type)type) {
    case EM_T_NULL:
    case EM_T_NONE: return true;
    case EM_T_BOOL: out->as.i = info; return true;
    case EM_T_INT: {
        uint64_t z = 0; /* as n in get_count */
        if (!get_varint(d, &z))
            return false;
        out->as.i = (int64_t)((z >> 1) ^ (0 - (z & 1)));
        return true;
    }
    case EM_T_DOUBLE: {
        if (d->len - d->pos < 8)
            return fail(d, d->pos, "truncated double");
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits |= (uint64_t)d->buf[d->pos++] << (8 * i);
        memcpy(&out->as.d, &bits, 8);
        return true;
    }
    case EM_T_STR:
        if (!get_count(d, &n))
            return false;
        out->len = n;
        out->as.s = n ? em_arena_memdup(d->arena, d->buf + d->pos, n) : "";
        d->pos += n;
        return true;
    case EM_T_TUPLE:
    case EM_T_LIST:
    case EM_T_SOME: {
        if (type != EM_T_SOME && !get_count(d, &n))
            return false;
        if (type == EM_T_TUPLE && n < 2)
            return fail(d, at, "tuple of fewer than 2 fields");
        size_t count = type == EM_T_SOME ? 1 : n;
        em_value *items = count ? em_arena_alloc(d->arena, count * sizeof *items) : NULL;
        for (size_t i = 0; i < count; i++)
            if (!decode(d, &items[i], depth + 1))
                return false;
        out->kind = info; /* 0 unless a list */
        out->len = n;
        out->as.items = items;
        return true;
    }
    }
    return false;
}

bool em_value_decode(const uint8_t *buf, size_t len, size_t *used, em_arena *arena, em_value *out,
                     GError **err)
{
    g_return_val_if_fail((buf || !len) && arena && out, false);
    decoder d = {.buf = buf, .len = len, .arena = arena, .fn = "em_value_decode", .err = err};
    em_value v;
    if (!decode(&d, &v, 0))
        return false;
    *out = v;
    if (used)
        *used = d.pos;
    return true;
}

bool em_values_decode(const uint8_t *buf, size_t len, em_arena *arena, em_value **out, size_t *n,
                      GError **err)
{
    g_return_val_if_fail((buf || !len) && arena && out && n, false);
    decoder d = {.buf = buf, .len = len, .arena = arena, .fn = "em_values_decode", .err = err};
    uint32_t count = 0;
    em_value *values = NULL;
    *out = NULL;
    *n = 0;
    if (len < sizeof MAGIC || memcmp(buf, MAGIC, sizeof MAGIC) != 0)
        return fail(&d, 0, "expected the magic \"EMV\"");
    d.pos = sizeof MAGIC;
    if (d.pos == len)
        return fail(&d, d.pos, "truncated header");
    if (buf[d.pos] != EM_CODEC_VERSION)
        return fail(&d, d.pos, "unknown codec version %u (expected %d)", buf[d.pos],
                    EM_CODEC_VERSION);
    d.pos++;
    if (!get_count(&d, &count))
        return false;
    values = g_new(em_value, count);
    for (uint32_t i = 0; i < count; i++) {
        if (!decode(&d, &values[i], 0)) {
            g_free(values);
            return false;
        }
    }
    if (d.pos != len) {
        g_free(values);
        return fail(&d, d.pos, "trailing bytes after the last value");
    }
    *out = values;
    *n = count;
    return true;
}
