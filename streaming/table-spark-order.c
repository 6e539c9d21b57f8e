/* The row order of a streaming aggregation's complete-mode result as Spark 3.5 prints it (with
 * the context's spark order on): groups are shuffled into 200 partitions by
 * pmod(Murmur3Hash(keys, 42), 200), each partition keeps them in an HDFSBackedStateStore whose
 * map is a java.util.concurrent.ConcurrentHashMap keyed by the key's UnsafeRow, rebuilt every
 * batch by putAll(previous version) and then a put of each of the batch's keys in order of first
 * appearance; the result is every partition's map in its iteration order. A small simulator
 * of those maps (table sizes, bins, resizes) is kept per query, in memory. */
#include "table-private.h"

#include <string.h>

#define PARTITIONS 200 /* spark.sql.shuffle.partitions' default */
#define SEED 42

/* ---- Murmur3_x86_32 as Spark's unsafe/hash/Murmur3_x86_32.java has it ---- */

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t mix_k1(uint32_t k1)
{
    k1 *= 0xcc9e2d51u;
    k1 = rotl32(k1, 15);
    return k1 * 0x1b873593u;
}

static uint32_t mix_h1(uint32_t h1, uint32_t k1)
{
    h1 ^= k1;
    h1 = rotl32(h1, 13);
    return h1 * 5 + 0xe6546b64u;
}

static uint32_t fmix(uint32_t h1, uint32_t length)
{
    h1 ^= length;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    return h1 ^ (h1 >> 16);
}

static uint32_t read_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t hash_by_int(const unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t h1 = seed;
    for (size_t i = 0; i + 4 <= n; i += 4)
        h1 = mix_h1(h1, mix_k1(read_le32(p + i)));
    return h1;
}

/* hashUnsafeBytes: the legacy variant, tail bytes mixed one at a time, sign-extended. */
static uint32_t hash_unsafe_bytes(const unsigned char *p, size_t n, uint32_t seed)
{
    size_t aligned = n - n % 4;
    uint32_t h1 = hash_by_int(p, aligned, seed);
    for (size_t i = aligned; i < n; i++)
        h1 = mix_h1(h1, mix_k1((uint32_t)(int32_t)(signed char)p[i]));
    return fmix(h1, (uint32_t)n);
}

static uint32_t hash_long(int64_t v, uint32_t seed)
{
    uint64_t u = (uint64_t)v;
    uint32_t h1 = mix_h1(seed, mix_k1((uint32_t)u));
    h1 = mix_h1(h1, mix_k1((uint32_t)(u >> 32)));
    return fmix(h1, 8);
}

/* ---- the key as an UnsafeRow ---- */

/* Whether Spark's hash of every key field is reproduced here: strings, longs, nulls. */
static bool key_supported(em_value key)
{
    for (size_t i = 0; i < key.len; i++) {
        em_type t = key.as.items[i].type;
        if (t != EM_T_STR && t != EM_T_INT && t != EM_T_NULL)
            return false;
    }
    return true;
}

/* HashPartitioning: pmod(Murmur3Hash(keys, 42), n), the seed chained through the keys. */
static size_t key_partition(em_value key)
{
    uint32_t h = SEED;
    for (size_t i = 0; i < key.len; i++) {
        em_value v = key.as.items[i];
        if (v.type == EM_T_STR)
            h = hash_unsafe_bytes((const unsigned char *)em_str_ptr(v), em_str_len(v), h);
        else if (v.type == EM_T_INT)
            h = hash_long(v.as.i, h);
    }
    int32_t m = (int32_t)h % PARTITIONS;
    return (size_t)(m < 0 ? m + PARTITIONS : m);
}

static void put_le64(GByteArray *b, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->data[at + (size_t)i] = (guint8)(v >> (8 * i));
}

/* The key's UnsafeRow bytes: null bits, an 8-byte slot per field (a string's holds
 * offset << 32 | size), then the strings' bytes, each padded with zeros to 8. */
static GBytes *key_row(em_value key)
{
    size_t bits = (key.len + 63) / 64 * 8, fixed = bits + key.len * 8;
    GByteArray *b = g_byte_array_sized_new((guint)fixed);
    g_byte_array_set_size(b, (guint)fixed);
    memset(b->data, 0, fixed);
    for (size_t i = 0; i < key.len; i++) {
        em_value v = key.as.items[i];
        size_t slot = bits + i * 8;
        if (v.type == EM_T_NULL) {
            b->data[i / 8] |= (guint8)(1u << (i % 8));
        } else if (v.type == EM_T_INT) {
            put_le64(b, slot, (uint64_t)v.as.i);
        } else {
            size_t at = b->len, n = em_str_len(v), padded = (n + 7) / 8 * 8;
            g_byte_array_set_size(b, (guint)(at + padded));
            memcpy(b->data + at, em_str_ptr(v), n);
            memset(b->data + at + n, 0, padded - n);
            put_le64(b, slot, (uint64_t)at << 32 | n);
        }
    }
    return g_byte_array_free_to_bytes(b);
}

/* ---- java.util.concurrent.ConcurrentHashMap (JDK 17), single-threaded ---- */

typedef struct {
    uint32_t hash; /* spread(UnsafeRow.hashCode()) */
    GBytes *row;   /* owned by the order's node table */
} chm_node;

typedef struct {
    size_t n;   /* table length, 0 while there is none */
    int64_t sc; /* sizeCtl */
    size_t count;
    GPtrArray **bins; /* [n] of chm_node* (borrowed), NULL when empty */
} chm;

static void chm_clear(chm *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->bins[i])
            g_ptr_array_free(m->bins[i], TRUE);
    g_free(m->bins);
    *m = (chm){0};
}

static void chm_alloc(chm *m, size_t n)
{
    m->n = n;
    m->bins = g_new0(GPtrArray *, n);
    m->sc = (int64_t)(n - (n >> 2));
}

static void bin_add(GPtrArray **bin, chm_node *node)
{
    if (!*bin)
        *bin = g_ptr_array_new();
    g_ptr_array_add(*bin, node);
}

/* transfer(): each bin splits into a low and a high one; the nodes before the last run of one
 * side keep to their side in reverse order, ahead of that run. */
static void chm_transfer(chm *m)
{
    size_t n = m->n;
    GPtrArray **next = g_new0(GPtrArray *, 2 * n);
    for (size_t i = 0; i < n; i++) {
        GPtrArray *b = m->bins[i];
        if (!b || !b->len)
            continue;
        size_t last = 0;
        uint32_t run = ((chm_node *)b->pdata[0])->hash & (uint32_t)n;
        for (size_t j = 1; j < b->len; j++) {
            uint32_t bit = ((chm_node *)b->pdata[j])->hash & (uint32_t)n;
            if (bit != run) {
                run = bit;
                last = j;
            }
        }
        GPtrArray **lo = &next[i], **hi = &next[i + n];
        for (size_t j = last; j-- > 0;) {
            chm_node *node = b->pdata[j];
            bin_add((node->hash & (uint32_t)n) ? hi : lo, node);
        }
        for (size_t j = last; j < b->len; j++)
            bin_add(run ? hi : lo, b->pdata[j]);
    }
    for (size_t i = 0; i < n; i++)
        if (m->bins[i])
            g_ptr_array_free(m->bins[i], TRUE);
    g_free(m->bins);
    m->bins = next;
    m->n = 2 * n;
    m->sc = (int64_t)((n << 1) - (n >> 1));
}

static size_t table_size_for(size_t c)
{
    size_t n = 1;
    while (n < c)
        n <<= 1;
    return n;
}

static void chm_try_presize(chm *m, size_t size)
{
    size_t c = table_size_for(size + (size >> 1) + 1);
    for (;;) {
        if (!m->n) {
            chm_alloc(m, m->sc > (int64_t)c ? (size_t)m->sc : c);
        } else if ((int64_t)c <= m->sc) {
            break;
        } else {
            chm_transfer(m);
        }
    }
}

static void chm_put(chm *m, chm_node *node)
{
    if (!m->n)
        chm_alloc(m, m->sc > 0 ? (size_t)m->sc : 16);
    GPtrArray **bin = &m->bins[node->hash & (uint32_t)(m->n - 1)];
    if (*bin)
        for (size_t j = 0; j < (*bin)->len; j++)
            if ((*bin)->pdata[j] == node)
                return; /* an existing key: its value replaced in place */
    /* A bin of 8 would become a tree (or make the table grow): not simulated. */
    bin_add(bin, node);
    m->count++;
    while ((int64_t)m->count >= m->sc)
        chm_transfer(m);
}

static void chm_copy(chm *to, const chm *from)
{
    *to = (chm){0};
    chm_try_presize(to, from->count);
    for (size_t i = 0; i < from->n; i++)
        if (from->bins[i])
            for (size_t j = 0; j < from->bins[i]->len; j++)
                chm_put(to, from->bins[i]->pdata[j]);
}

/* ---- the order across batches ---- */

typedef struct em_spark_agg_order {
    GHashTable *nodes; /* GBytes row -> chm_node (owned) */
    bool started;      /* a batch ran */
    bool has_before;   /* `before` is a version's map: `after` starts with its putAll */
    em_time time;      /* the batch `after` is of */
    chm before[PARTITIONS], after[PARTITIONS];
} em_spark_agg_order;

static void node_free(void *p)
{
    chm_node *node = p;
    g_bytes_unref(node->row);
    g_free(node);
}

static em_spark_agg_order *order_new(void)
{
    em_spark_agg_order *o = g_new0(em_spark_agg_order, 1);
    o->nodes = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, NULL, node_free);
    return o;
}

static void order_free(void *p)
{
    em_spark_agg_order *o = p;
    for (size_t i = 0; i < PARTITIONS; i++) {
        chm_clear(&o->before[i]);
        chm_clear(&o->after[i]);
    }
    g_hash_table_unref(o->nodes);
    g_free(o);
}

static chm_node *node_of(em_spark_agg_order *o, em_value key)
{
    GBytes *row = key_row(key);
    chm_node *node = g_hash_table_lookup(o->nodes, row);
    if (node) {
        g_bytes_unref(row);
        return node;
    }
    node = g_new(chm_node, 1);
    node->row = row;
    gsize n = 0;
    const unsigned char *p = g_bytes_get_data(row, &n);
    uint32_t h = fmix(hash_by_int(p, n, SEED), (uint32_t)n); /* UnsafeRow.hashCode */
    node->hash = (h ^ (h >> 16)) & 0x7fffffffu;              /* spread */
    g_hash_table_insert(o->nodes, row, node);
    return node;
}

static guint value_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean value_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

/* One batch: the maps of the version before it (again when the batch runs again) putAll into
 * new ones, then the batch's keys in order of first appearance. */
static void order_batch(em_spark_agg_order *o, em_time time, const em_values *input)
{
    if (!o->started || time != o->time) {
        for (size_t p = 0; p < PARTITIONS; p++) {
            chm_clear(&o->before[p]);
            o->before[p] = o->after[p];
            o->after[p] = (chm){0};
        }
        o->has_before = o->started;
    }
    for (size_t p = 0; p < PARTITIONS; p++) {
        chm_clear(&o->after[p]);
        if (o->has_before)
            chm_copy(&o->after[p], &o->before[p]);
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(value_hash, value_equal);
    for (size_t i = 0; i < input->n; i++) {
        const em_value *key = &input->items[i].as.items[0]; /* the pair's key */
        if (!g_hash_table_add(seen, (gpointer)key))
            continue; /* a later row of a key: no new put, no new row bytes */
        chm_put(&o->after[key_partition(*key)], node_of(o, *key));
    }
    o->started = true;
    o->time = time;
}

static bool all_supported(const em_values *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (!key_supported(em_key(v->items[i])))
            return false;
    return true;
}

/* transformWith(snapshots, partials): the snapshot's (key, partials) pairs in Spark's order.
 * Pairs the simulated maps do not hold (state restored from a checkpoint before this query
 * ran a batch) follow, in the snapshot's order. */
static em_rdd *order_snapshot(em_rdd *snapshot, em_rdd *partials, em_time time, void *ud,
                              GError **err)
{
    em_spark_agg_order *o = ud;
    em_context *sc = em_rdd_context(snapshot);
    if (!em_context_spark_order(sc))
        return em_rdd_ref(snapshot);
    g_autoptr(em_values) input = em_rdd_collect(partials, err);
    if (!input)
        return NULL;
    g_autoptr(em_values) state = em_rdd_collect(snapshot, err);
    if (!state)
        return NULL;
    if (!all_supported(input) || !all_supported(state))
        return em_rdd_ref(snapshot);
    if (input->n) /* Spark runs no batch without new data */
        order_batch(o, time, input);
    g_autoptr(GHashTable) index = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (size_t i = 0; i < state->n; i++)
        g_hash_table_insert(index, node_of(o, em_key(state->items[i])), GSIZE_TO_POINTER(i + 1));
    em_value *rows = g_new(em_value, state->n ? state->n : 1);
    bool *taken = g_new0(bool, state->n ? state->n : 1);
    size_t n = 0;
    for (size_t p = 0; p < PARTITIONS; p++) {
        const chm *m = &o->after[p];
        for (size_t b = 0; b < m->n; b++)
            for (size_t j = 0; m->bins[b] && j < m->bins[b]->len; j++) {
                size_t at = GPOINTER_TO_SIZE(g_hash_table_lookup(index, m->bins[b]->pdata[j]));
                if (at && !taken[at - 1]) {
                    taken[at - 1] = true;
                    rows[n++] = state->items[at - 1];
                }
            }
    }
    for (size_t i = 0; i < state->n; i++)
        if (!taken[i])
            rows[n++] = state->items[i];
    em_rdd *out = em_parallelize(sc, rows, n, 1);
    g_free(rows);
    g_free(taken);
    return out;
}

em_dstream *em__spark_agg_order(em_dstream *snapshots, em_dstream *partials)
{
    return em_transform_with_full(snapshots, partials, order_snapshot, order_new(), order_free,
                                  "sparkOrder");
}
