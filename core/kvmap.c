/* em_kvmap: the open-addressing hash map behind map-side combine, reduce-side aggregation,
 * grouping and joins (core, used by the shuffle rooms). Entries stay in insertion order, so a
 * reduce task's output order depends only on its input order, never on thread timing. */
#include "core-private.h"

#include <string.h>

enum { FIRST_SLOTS = 1024 };

void em__kvmap_init(em_kvmap *map) { memset(map, 0, sizeof *map); }

void em__kvmap_clear(em_kvmap *map)
{
    g_free(map->entries);
    g_free(map->index);
    memset(map, 0, sizeof *map);
}

static void rebuild(em_kvmap *map, size_t slots)
{
    g_free(map->index);
    map->index = g_new0(uint32_t, slots);
    map->mask = slots - 1;
    for (size_t e = 0; e < map->n; e++) {
        size_t i = map->entries[e].hash & map->mask;
        while (map->index[i])
            i = (i + 1) & map->mask;
        map->index[i] = (uint32_t)(e + 1);
    }
}

em_kv_entry *em__kvmap_find(const em_kvmap *map, em_value key, uint64_t hash)
{
    if (!map->index)
        return NULL;
    for (size_t i = hash & map->mask;; i = (i + 1) & map->mask) {
        uint32_t e = map->index[i];
        if (!e)
            return NULL;
        em_kv_entry *entry = &map->entries[e - 1];
        if (entry->hash == hash && em__key_equal(entry->key, key))
            return entry;
    }
}

em_kv_entry *em__kvmap_upsert(em_kvmap *map, em_value key, uint64_t hash, bool *is_new)
{
    if (!map->index)
        rebuild(map, FIRST_SLOTS);
    size_t i = hash & map->mask;
    for (;; i = (i + 1) & map->mask) {
        uint32_t e = map->index[i];
        if (!e)
            break;
        em_kv_entry *entry = &map->entries[e - 1];
        if (entry->hash == hash && em__key_equal(entry->key, key)) {
            *is_new = false;
            return entry;
        }
    }
    if (map->n == map->cap) {
        map->cap = map->cap ? map->cap * 2 : 256;
        map->entries = g_renew(em_kv_entry, map->entries, map->cap);
    }
    em_kv_entry *entry = &map->entries[map->n++];
    memset(entry, 0, sizeof *entry);
    entry->hash = hash;
    entry->key = key;
    map->index[i] = (uint32_t)map->n;
    *is_new = true;
    if (map->n * 2 > map->mask + 1) {
        rebuild(map, (map->mask + 1) * 2);
    }
    return entry;
}

void em__kv_list_append(em_kv_entry *entry, int side, em_value v, em_arena *arena)
{
    em_value *list = &entry->vals[side];
    if (list->type != EM_T_LIST)
        *list = (em_value){.type = EM_T_LIST, .kind = EM_BUFFER};
    if (list->len == entry->caps[side]) {
        uint32_t cap = entry->caps[side] ? entry->caps[side] * 2 : 4;
        em_value *items = em_arena_alloc(arena, cap * sizeof *items);
        if (list->len)
            memcpy(items, list->as.items, list->len * sizeof *items);
        list->as.items = items;
        entry->caps[side] = cap;
    }
    ((em_value *)list->as.items)[list->len++] = v;
}

/* ---- em_combiner ---- */

enum { COMBINER_FIRST_SLOTS = 1024 };

static inline uint16_t hash_tag(uint64_t hash) { return (uint16_t)(hash >> 48); }

static void combiner_alloc(em_combiner *c, size_t slots)
{
    c->slots = g_new(em_value, 2 * slots);
    for (size_t i = 0; i < slots; i++)
        c->slots[2 * i].type = EM__EMPTY;
    c->mask = slots - 1;
}

void em__combiner_init(em_combiner *c) { memset(c, 0, sizeof *c); }

void em__combiner_clear(em_combiner *c)
{
    g_free(c->slots);
    memset(c, 0, sizeof *c);
}

/* A string of up to 8 bytes as one word, zero-padded: fixed-size copies, no call. */
static inline uint64_t short_bytes(const char *p, uint32_t n)
{
    uint64_t w = 0;
    switch (n) {
    case 8: memcpy(&w, p, 8); break;
    case 7: memcpy(&w, p, 7); break;
    case 6: memcpy(&w, p, 6); break;
    case 5: memcpy(&w, p, 5); break;
    case 4: memcpy(&w, p, 4); break;
    case 3: memcpy(&w, p, 3); break;
    case 2: memcpy(&w, p, 2); break;
    case 1: memcpy(&w, p, 1); break;
    default: break;
    }
    return w;
}

static inline bool is_inline(const em_value *slot) { return slot->kind == EM__INLINE; }

/* The hash of a stored key, which em_value_hash() gives for the original. */
static uint64_t stored_hash(const em_value *slot)
{
    if (is_inline(slot))
        return em__hash_bytes(&slot->as.i, slot->len);
    em_value k = slot[0];
    k.pad_ = 0;
    return em_value_hash(k);
}

em_value em__combiner_key(const em_value *slot, em_arena *arena)
{
    if (is_inline(slot))
        return em_str_dup_in(arena, (const char *)&slot->as.i, slot->len);
    em_value k = slot[0];
    k.pad_ = 0;
    return k;
}

static void combiner_grow(em_combiner *c)
{
    em_value *old = c->slots;
    size_t old_slots = c->mask + 1;
    combiner_alloc(c, old_slots * 2);
    for (size_t i = 0; i < old_slots; i++) {
        if (old[2 * i].type == EM__EMPTY)
            continue;
        size_t j = stored_hash(&old[2 * i]) & c->mask;
        while (c->slots[2 * j].type != EM__EMPTY)
            j = (j + 1) & c->mask;
        c->slots[2 * j] = old[2 * i];
        c->slots[2 * j + 1] = old[2 * i + 1];
    }
    g_free(old);
}

em_value *em__combiner_upsert(em_combiner *c, em_value key, uint64_t hash, em_arena *keys,
                              bool *is_new)
{
    if (!c->slots)
        combiner_alloc(c, COMBINER_FIRST_SLOTS);
    uint16_t tag = hash_tag(hash);
    bool short_key = key.type == EM_T_STR && key.len <= 8;
    uint64_t word = short_key ? short_bytes(key.as.s, key.len) : 0;
    size_t i = hash & c->mask;
    for (;; i = (i + 1) & c->mask) {
        em_value *slot = &c->slots[2 * i];
        if (slot->type == EM__EMPTY)
            break;
        if (slot->pad_ != tag || slot->type != key.type || slot->len != key.len)
            continue;
        bool same;
        if (short_key) {
            same = (uint64_t)slot->as.i == word;
        } else {
            em_value k = slot[0];
            k.pad_ = 0;
            same = em__key_equal(k, key);
        }
        if (same) {
            *is_new = false;
            return slot;
        }
    }
    if ((c->n + 1) * 2 > c->mask + 1) {
        combiner_grow(c);
        return em__combiner_upsert(c, key, hash, keys, is_new);
    }
    em_value *slot = &c->slots[2 * i];
    if (short_key)
        slot[0] = (em_value){.type = EM_T_STR, .kind = EM__INLINE, .len = key.len,
                             .as.i = (int64_t)word};
    else
        slot[0] = keys ? em__value_copy(key, keys) : key;
    slot[0].pad_ = tag;
    slot[1] = em_null();
    c->n++;
    *is_new = true;
    return slot;
}
