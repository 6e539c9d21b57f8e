/* Spark's order (core): JVM hashCodes of keys, HashPartitioner, and the iteration order of
 * Spark's AppendOnlyMap, so that shuffled outputs can come out in exactly Spark's order. The
 * shuffle uses these when the context asks for it; users see em_jvm_hash_code and
 * em_spark_partition. */
#include "spark-order.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* Scala's MurmurHash3.mix / mixLast / finalizeHash (the same steps as Guava's murmur3_32). */
static inline uint32_t mix_k(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = rotl32(k, 15);
    return k * 0x1b873593u;
}

static inline uint32_t mix(uint32_t h, uint32_t data)
{
    h ^= mix_k(data);
    h = rotl32(h, 13);
    return h * 5 + 0xe6546b64u;
}

static inline uint32_t avalanche(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

int32_t em__murmur3_hash_int(int32_t h) { return (int32_t)avalanche(mix(0, (uint32_t)h) ^ 4); }

#define PRODUCT_SEED 0xcafebabeu

int32_t em__scala_product_hash(const int32_t *field_hashes, size_t n)
{
    uint32_t h = PRODUCT_SEED;
    for (size_t i = 0; i < n; i++)
        h = mix(h, (uint32_t)field_hashes[i]);
    return (int32_t)avalanche(h ^ (uint32_t)n);
}

/* String.hashCode over UTF-16 code units of UTF-8 bytes: s = 31 * s + unit. */
static uint32_t string_hash(const uint8_t *p, size_t n)
{
    uint32_t h = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) {
            h = 31 * h + b;
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t len = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
        bool ok = len > 0 && i + len <= n;
        if (ok) {
            cp = len == 2 ? b & 0x1fu : len == 3 ? b & 0x0fu : b & 0x07u;
            for (size_t k = 1; k < len && ok; k++) {
                ok = (p[i + k] & 0xc0) == 0x80;
                cp = (cp << 6) | (p[i + k] & 0x3fu);
            }
            ok = ok && !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) &&
                 !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
        }
        if (!ok) {
            h = 31 * h + 0xfffd;
            i++;
            continue;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else
            h = 31 * h + cp;
        i += len;
    }
    return h;
}

static int32_t long_hash(int64_t v)
{
    return (int32_t)(uint32_t)((uint64_t)v ^ ((uint64_t)v >> 32));
}

/* Scala's ## (what product and sequence hashes mix): as hashCode, except that numbers hash
 * by value (a Long or a whole Double in Int range hashes as the Int). */
static int32_t scala_hash(em_value v);

static int32_t double_hash(double d)
{
    if (isnan(d))
        return long_hash(0x7ff8000000000000LL);
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return long_hash((int64_t)bits);
}

int32_t em_jvm_hash_code(em_value key)
{
    switch ((em_type)key.type) {
    case EM_T_NULL: return 0;
    case EM_T_BOOL: return key.as.i ? 1231 : 1237;
    case EM_T_INT:
        return key.as.i >= INT32_MIN && key.as.i <= INT32_MAX ? (int32_t)key.as.i
                                                              : long_hash(key.as.i);
    case EM_T_DOUBLE: return double_hash(key.as.d);
    case EM_T_STR: return (int32_t)string_hash((const uint8_t *)key.as.s, key.len);
    case EM_T_TUPLE:
    case EM_T_SOME: {
        size_t n = key.type == EM_T_SOME ? 1 : key.len;
        uint32_t h = PRODUCT_SEED;
        for (size_t i = 0; i < n; i++)
            h = mix(h, (uint32_t)scala_hash(key.as.items[i]));
        return (int32_t)avalanche(h ^ (uint32_t)n);
    }
    case EM_T_LIST: {
        uint32_t h = string_hash((const uint8_t *)"Seq", 3);
        for (size_t i = 0; i < key.len; i++)
            h = mix(h, (uint32_t)scala_hash(key.as.items[i]));
        return (int32_t)avalanche(h ^ key.len);
    }
    case EM_T_NONE: return (int32_t)string_hash((const uint8_t *)"None", 4);
    }
    return 0;
}

static int32_t scala_hash(em_value v)
{
    if (v.type == EM_T_DOUBLE) {
        double d = v.as.d;
        if (d == floor(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) {
            int64_t l = (int64_t)d;
            return l >= INT32_MIN && l <= INT32_MAX ? (int32_t)l : long_hash(l);
        }
        float f = (float)d; /* BoxesRunTime.hashFromDouble: a Float-exact value as Float */
        if ((double)f == d) {
            uint32_t bits;
            memcpy(&bits, &f, 4);
            return (int32_t)bits;
        }
        return double_hash(d);
    }
    return em_jvm_hash_code(v);
}

int em_spark_partition(em_value key, int num_partitions)
{
    if (key.type == EM_T_NULL || num_partitions <= 1)
        return 0;
    int mod = em_jvm_hash_code(key) % num_partitions;
    return mod < 0 ? mod + num_partitions : mod;
}

/* Inserts key index k with hashCode h into a table of capacity mask + 1 (never full). */
static inline void aom_place(int32_t *slots, uint32_t mask, int32_t h, int32_t k)
{
    uint32_t pos = (uint32_t)em__murmur3_hash_int(h) & mask;
    for (uint32_t delta = 1; slots[pos] >= 0; delta++)
        pos = (pos + delta) & mask;
    slots[pos] = k;
}

void em__aom_order(const int32_t *hashes, size_t n, ssize_t null_index, uint32_t *order,
                   em_arena *scratch)
{
    size_t cap = 64, size = 0;
    int32_t *slots = em_arena_alloc(scratch, cap * sizeof *slots);
    memset(slots, 0xff, cap * sizeof *slots);
    for (size_t k = 0; k < n; k++) {
        if ((ssize_t)k == null_index)
            continue;
        aom_place(slots, (uint32_t)cap - 1, hashes[k], (int32_t)k);
        if (++size > (size_t)(0.7 * (double)cap)) { /* growTable: re-place in slot order */
            int32_t *grown = em_arena_alloc(scratch, 2 * cap * sizeof *grown);
            memset(grown, 0xff, 2 * cap * sizeof *grown);
            for (size_t i = 0; i < cap; i++)
                if (slots[i] >= 0)
                    aom_place(grown, (uint32_t)(2 * cap) - 1, hashes[slots[i]], slots[i]);
            slots = grown;
            cap *= 2;
        }
    }
    size_t out = 0;
    if (null_index >= 0)
        order[out++] = (uint32_t)null_index;
    for (size_t i = 0; i < cap; i++)
        if (slots[i] >= 0)
            order[out++] = (uint32_t)slots[i];
}

typedef struct {
    int32_t hash;
    uint32_t index;
} hashed;

static int compare_hashed(const void *a, const void *b)
{
    const hashed *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts keys[0..n) as compare_hashed does (by hash, then index), given keys in index order:
 * three stable counting passes over 11, 11 and 10 bits of the hash with its sign bit flipped.
 * Returns the sorted array: keys or tmp. */
static hashed *radix_sort_hashed(hashed *keys, hashed *tmp, size_t n)
{
    enum { BITS = 11, BUCKETS = 1 << BITS };
    size_t count[BUCKETS];
    for (int shift = 0; shift < 32; shift += BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[((uint32_t)keys[i].hash ^ 0x80000000u) >> shift & (BUCKETS - 1)]++;
        size_t at = 0;
        for (size_t b = 0; b < BUCKETS; b++) {
            size_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[((uint32_t)keys[i].hash ^ 0x80000000u) >> shift & (BUCKETS - 1)]++] =
                keys[i];
        hashed *t = keys;
        keys = tmp;
        tmp = t;
    }
    return keys;
}

void em__spark_sort_by_hash(em_value *records, size_t n, em_arena *scratch)
{
    if (n < 2)
        return;
    hashed *keys = em_arena_alloc(scratch, n * sizeof *keys);
    em_value *copy = em_arena_alloc(scratch, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        keys[i].hash = em_jvm_hash_code(em_key(records[i]));
        keys[i].index = (uint32_t)i;
    }
    if (n < 1024)
        qsort(keys, n, sizeof *keys, compare_hashed);
    else
        keys = radix_sort_hashed(keys, em_arena_alloc(scratch, n * sizeof *keys), n);
    memcpy(copy, records, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        records[i] = copy[keys[i].index];
}

em_table_entry **em__spark_order_entries(const em_table *t, size_t *n, em_arena *arena)
{
    size_t count = t->live;
    em_table_entry **entries = em_arena_alloc(arena, (count ? count : 1) * sizeof *entries);
    int32_t *hashes = em_arena_alloc(arena, (count ? count : 1) * sizeof *hashes);
    uint32_t *order = em_arena_alloc(arena, (count ? count : 1) * sizeof *order);
    ssize_t null_index = -1;
    uint32_t pos = 0;
    size_t k = 0;
    for (em_table_entry *e; k < count && (e = em__table_next(t, &pos)); k++) {
        em_value key = em__table_key(e);
        entries[k] = e;
        hashes[k] = em_jvm_hash_code(key);
        if (key.type == EM_T_NULL)
            null_index = (ssize_t)k;
    }
    em__aom_order(hashes, k, null_index, order, arena);
    em_table_entry **out = em_arena_alloc(arena, (k ? k : 1) * sizeof *out);
    for (size_t i = 0; i < k; i++)
        out[i] = entries[order[i]];
    *n = k;
    return out;
}

void em_context_set_spark_order(em_context *sc, bool on) { sc->spark_order = on; }

bool em_context_spark_order(const em_context *sc) { return sc->spark_order; }
