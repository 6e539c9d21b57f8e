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

static inline bool key_equal(em_value a, em_value b)
{
    if (a.type == EM_T_STR && b.type == EM_T_STR)
        return a.len == b.len && (a.len == 0 || memcmp(a.as.s, b.as.s, a.len) == 0);
    if (a.type == EM_T_INT && b.type == EM_T_INT)
        return a.as.i == b.as.i;
    return em_value_equal(a, b);
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
        if (entry->hash == hash && key_equal(entry->key, key))
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
        if (entry->hash == hash && key_equal(entry->key, key)) {
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
