/* em_table: the one open-addressing hash table of the engine (core). Map-side combine and
 * reduce-side aggregation, grouping, cogroup and subtract use it, and so can the streaming
 * rooms (mapWithState's state, window cogroups): keys and values are em_values, hashed and
 * compared as em_value_hash()/em_value_equal() do.
 *
 * Entries are em_table_entry (key, value) followed by whatever the caller's entry struct adds
 * (entry_size: embed em_table_entry first, as an RDD kind embeds em_rdd). Linear probing at
 * load <= 1/2, in one of two layouts chosen at init:
 *   - flat (flags 0): the entries are the probe array. A lookup touches one cache line (16 bits
 *     of the hash ride in the stored key's pad_, so most other keys are rejected on it), which
 *     is what a combiner hit on a table larger than the caches costs. Entries move when the
 *     table grows or a key is removed; iteration is in slot order.
 *   - EM_TABLE_STABLE_IDS: entries stay in one array by id, in insertion order (ids of removed
 *     entries are reused first), and an index of 8-byte slots holds 32 bits of the hash and the
 *     id. Entry ids are stable (callers may link entries by id, as mapWithState's update-order
 *     list does), iteration by id is insertion order, at the cost of a second line per lookup.
 * Both: growing never hashes a key again (flat keeps 32 bits of each hash aside, the index
 * holds them), only what marks slots empty is zeroed (calloc: fresh pages come zeroed from the
 * kernel), string keys of up to 8 bytes are stored in the entry itself (no copy, no second
 * miss on their bytes), longer keys are deep-copied into the keys arena when one is given,
 * em__table_reserve() pre-sizes, and removal shifts the probe run back (no tombstones).
 * String keys of 9 to 12 bytes are stored in the entry too (over its len and as, the length in
 * kind), so a key of up to 12 bytes is matched by comparing two words of the entry.
 * Iteration order depends only on the keys inserted and removed and their order.
 * Not thread-safe: one table per task or per state partition. */
#ifndef EMBER_CORE_TABLE_H
#define EMBER_CORE_TABLE_H

#include <ember/value.h>

#include <string.h>

typedef struct em_table_entry {
    em_value key;   /* stored form: read it with em__table_key() */
    em_value value; /* the caller's, updated in place; null in a new entry */
} em_table_entry;

enum {
    EM_TABLE_STABLE_IDS = 1 << 0, /* the indexed layout: stable ids, insertion order */
};

typedef struct em_table {
    char *entries;     /* flat: [mask + 1] slots; stable: [cap] entries by id */
    size_t entry_size; /* sizeof(em_table_entry) or the caller's struct embedding it */
    unsigned flags;
    uint32_t n;        /* flat: slots; stable: ids handed out (live and removed) */
    uint32_t cap;      /* stable: entries allocated */
    uint32_t live;     /* entries present */
    uint32_t free_ids; /* stable: removed ids to reuse, id + 1 chained through value.as.i */
    uint64_t *index;   /* stable: hash low 32 bits | (id + 1) << 32; 0 empty */
    uint32_t *hashes;  /* flat: low 32 bits of each occupied slot's hash */
    size_t mask;       /* slots - 1 */
    em_arena *keys;    /* where long keys are copied (borrowed), or NULL: kept as given */
} em_table;

/* Initialises an empty table (no allocation until the first insert). entry_size is
 * sizeof(em_table_entry) or the size of a struct that embeds it first; flags 0 or
 * EM_TABLE_STABLE_IDS. keys: the arena long keys are deep-copied into on insert, borrowed;
 * NULL keeps keys as given (the caller keeps them alive as long as the table). */
void em__table_init(em_table *t, size_t entry_size, em_arena *keys, unsigned flags);
/* Frees the table's arrays (not the keys arena); the table is empty and reusable. */
void em__table_clear(em_table *t);
/* Makes room for n entries in all without growing again (pre-sizing a table whose size is
 * known, or guessed from a previous run). */
void em__table_reserve(em_table *t, size_t n);

/* The entry of key (hash = em_value_hash(key)), inserted when missing: then *is_new is set, the
 * key stored, value null and the caller's bytes past em_table_entry zeroed. The pointer is
 * valid until the next insert or remove. */
em_table_entry *em__table_upsert(em_table *t, em_value key, uint64_t hash, bool *is_new);
/* The entry of key, or NULL. Valid until the next insert or remove. */
em_table_entry *em__table_find(const em_table *t, em_value key, uint64_t hash);
/* Removes key's entry if present (returns whether it was). */
bool em__table_remove(em_table *t, em_value key, uint64_t hash);
/* Removes an entry got from this table (hashing its key again). */
void em__table_remove_entry(em_table *t, em_table_entry *e);

/* Hints the CPU to fetch the flat slot a key of this hash probes first, so that an upsert a few
 * records later finds it in cache (the combiner's software pipeline); no effect otherwise. */
static inline void em__table_prefetch(const em_table *t, uint64_t hash)
{
    if (t->entries && !(t->flags & EM_TABLE_STABLE_IDS))
        __builtin_prefetch(t->entries + (hash & t->mask) * t->entry_size, 1, 3);
}

/* The key of an entry as an ordinary value. A short string's bytes are inside the entry: the
 * value is valid as long as the entry pointer; copy it (em_value_copy) to keep it longer. */
static inline em_value em__table_key(const em_table_entry *e)
{
    if (e->key.kind == 0xfe) /* inline string of up to 8 bytes, in as */
        return em_strn((const char *)&e->key.as, e->key.len);
    if ((e->key.kind & 0xf0) == 0xe0) /* inline string of 9 to 12 bytes, from len on */
        return em_strn((const char *)&e->key + 4, e->key.kind & 0x0f);
    em_value k = e->key;
    k.pad_ = 0;
    return k;
}

/* Whether an entry's key bytes are inside the entry (strings of up to 12 bytes): no second
 * cache line to fetch for them. */
static inline bool em__table_key_inline(const em_table_entry *e)
{
    return e->key.kind == 0xfe || (e->key.kind & 0xf0) == 0xe0;
}

/* The entry at position id (0 <= id < t->n: an id, or a slot of a flat table), live or not. */
static inline em_table_entry *em__table_at(const em_table *t, uint32_t id)
{
    return (em_table_entry *)(t->entries + (size_t)id * t->entry_size);
}

/* The id of an entry. With EM_TABLE_STABLE_IDS it is stable while the entry lives, unlike its
 * address, which the next insert may move (links between entries hold ids). */
static inline uint32_t em__table_id(const em_table *t, const em_table_entry *e)
{
    return (uint32_t)(((const char *)e - t->entries) / t->entry_size);
}

/* Iteration: the next live entry at or after position *pos (start at 0), advancing *pos past
 * it; NULL at the end. By id (insertion order) with EM_TABLE_STABLE_IDS, by slot when flat.
 * Do not insert or remove while iterating. */
static inline em_table_entry *em__table_next(const em_table *t, uint32_t *pos)
{
    bool stable = t->flags & EM_TABLE_STABLE_IDS;
    while (*pos < t->n) {
        em_table_entry *e = em__table_at(t, (*pos)++);
        if (stable ? e->key.kind != 0xff : e->key.pad_ != 0)
            return e;
    }
    return NULL;
}

#endif
