/* em_table (table.h): the engine's open-addressing hash table (core). */
#include "core-private.h"

#include <string.h>

enum {
    FIRST_SLOTS = 1024,
    KIND_INLINE = 0xfe,  /* key.kind of a string of up to 8 bytes stored in as */
    KIND_REMOVED = 0xff, /* key.kind of a removed entry */
};

static inline uint64_t make_slot(uint64_t hash, uint32_t id)
{
    return (uint64_t)(uint32_t)hash | (uint64_t)(id + 1) << 32;
}

static inline uint32_t slot_id(uint64_t slot) { return (uint32_t)(slot >> 32) - 1; }

/* A string of up to 8 bytes as one word, zero-padded: fixed-size copies, no call. */
static inline uint64_t short_word(const char *p, uint32_t n)
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

void em__table_init(em_table *t, size_t entry_size, em_arena *keys)
{
    g_assert(entry_size >= sizeof(em_table_entry));
    memset(t, 0, sizeof *t);
    t->entry_size = entry_size;
    t->keys = keys;
}

void em__table_clear(em_table *t)
{
    g_free(t->entries);
    g_free(t->index);
    em__table_init(t, t->entry_size, t->keys);
}

/* A new index of slots slots, filled from the old one's slots: no key is hashed again. */
static void rebuild_index(em_table *t, size_t slots)
{
    uint64_t *old = t->index;
    size_t old_slots = old ? t->mask + 1 : 0;
    t->index = g_new0(uint64_t, slots);
    t->mask = slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        uint64_t s = old[i];
        if (!s)
            continue;
        size_t j = (uint32_t)s & t->mask;
        while (t->index[j])
            j = (j + 1) & t->mask;
        t->index[j] = s;
    }
    g_free(old);
}

static void grow_entries(em_table *t, size_t want)
{
    if (want <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < want)
        cap *= 2;
    g_assert(cap <= G_MAXUINT32 - 1);
    t->entries = g_realloc_n(t->entries, cap, t->entry_size);
    t->cap = (uint32_t)cap;
}

void em__table_reserve(em_table *t, size_t n)
{
    size_t slots = t->index ? t->mask + 1 : FIRST_SLOTS;
    while (slots < 2 * n)
        slots *= 2;
    if (!t->index || slots > t->mask + 1)
        rebuild_index(t, slots);
    grow_entries(t, n);
}

/* Whether the stored key of e is key; word is key's bytes as short_word() when key is a
 * string of up to 8 bytes. */
static inline bool same_key(const em_table_entry *e, em_value key, bool short_str, uint64_t word)
{
    if (short_str)
        return e->key.kind == KIND_INLINE && e->key.len == key.len &&
               (uint64_t)e->key.as.i == word;
    return e->key.kind != KIND_INLINE && em__key_equal(e->key, key);
}

static inline bool is_short_str(em_value key) { return key.type == EM_T_STR && key.len <= 8; }

em_table_entry *em__table_find(const em_table *t, em_value key, uint64_t hash)
{
    if (!t->index)
        return NULL;
    bool short_str = is_short_str(key);
    uint64_t word = short_str ? short_word(key.as.s, key.len) : 0;
    uint32_t tag = (uint32_t)hash;
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->index[i];
        if (!s)
            return NULL;
        if ((uint32_t)s != tag)
            continue;
        em_table_entry *e = em__table_at(t, slot_id(s));
        if (same_key(e, key, short_str, word))
            return e;
    }
}

em_table_entry *em__table_upsert(em_table *t, em_value key, uint64_t hash, bool *is_new)
{
    if (!t->index)
        rebuild_index(t, FIRST_SLOTS);
    bool short_str = is_short_str(key);
    uint64_t word = short_str ? short_word(key.as.s, key.len) : 0;
    uint32_t tag = (uint32_t)hash;
    size_t i = hash & t->mask;
    for (;; i = (i + 1) & t->mask) {
        uint64_t s = t->index[i];
        if (!s)
            break;
        if ((uint32_t)s != tag)
            continue;
        em_table_entry *e = em__table_at(t, slot_id(s));
        if (same_key(e, key, short_str, word)) {
            *is_new = false;
            return e;
        }
    }
    if (G_UNLIKELY((size_t)(t->live + 1) * 2 > t->mask + 1)) {
        rebuild_index(t, (t->mask + 1) * 2);
        for (i = hash & t->mask; t->index[i]; i = (i + 1) & t->mask)
            ;
    }
    uint32_t id;
    if (t->free_ids) {
        id = t->free_ids - 1;
        t->free_ids = (uint32_t)em__table_at(t, id)->value.as.i;
    } else {
        if (t->n == t->cap)
            grow_entries(t, (size_t)t->n + 1);
        id = t->n++;
    }
    em_table_entry *e = em__table_at(t, id);
    if (t->entry_size > sizeof *e)
        memset(e + 1, 0, t->entry_size - sizeof *e);
    if (short_str)
        e->key = (em_value){.type = EM_T_STR, .kind = KIND_INLINE, .len = key.len,
                            .as.i = (int64_t)word};
    else
        e->key = t->keys ? em__value_copy(key, t->keys) : key;
    e->value = em_null();
    t->index[i] = make_slot(hash, id);
    t->live++;
    *is_new = true;
    return e;
}

/* Empties slot i and shifts the run after it back so that every key stays reachable from its
 * home slot (Knuth's algorithm R). */
static void delete_slot(em_table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        t->index[i] = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            uint64_t s = t->index[j];
            if (!s)
                return;
            size_t home = (uint32_t)s & t->mask;
            /* The slot at j may move to i unless its home lies cyclically in (i, j]. */
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        t->index[i] = t->index[j];
        i = j;
    }
}

bool em__table_remove(em_table *t, em_value key, uint64_t hash)
{
    if (!t->index)
        return false;
    bool short_str = is_short_str(key);
    uint64_t word = short_str ? short_word(key.as.s, key.len) : 0;
    uint32_t tag = (uint32_t)hash;
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->index[i];
        if (!s)
            return false;
        if ((uint32_t)s != tag)
            continue;
        uint32_t id = slot_id(s);
        em_table_entry *e = em__table_at(t, id);
        if (!same_key(e, key, short_str, word))
            continue;
        delete_slot(t, i);
        e->key = (em_value){.type = EM_T_NULL, .kind = KIND_REMOVED};
        e->value = em_int(t->free_ids);
        t->free_ids = id + 1;
        t->live--;
        return true;
    }
}

void em__table_remove_entry(em_table *t, em_table_entry *e)
{
    em_value key = em__table_key(e);
    /* An inline key's bytes are in e, which removal overwrites: remove by a copy. */
    em_table_entry copy = *e;
    if (e->key.kind == KIND_INLINE)
        key = em__table_key(&copy);
    bool removed = em__table_remove(t, key, em_value_hash(key));
    g_assert(removed);
}
