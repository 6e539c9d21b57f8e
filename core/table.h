/* em_table: the one open-addressing hash table of the engine (core). Map-side combine and
 * reduce-side aggregation, grouping, cogroup and subtract use it, and so can the streaming
 * rooms (mapWithState's state, window cogroups): keys and values are em_values, hashed and
 * compared as em_value_hash()/em_value_equal() do.
 *
 * Layout. Entries live in one array by id, in insertion order (ids of removed entries are
 * reused first), each an em_table_entry (key, value) followed by whatever the caller's entry
 * struct adds (entry_size: embed em_table_entry first, as an RDD kind embeds em_rdd). The
 * index is a separate array of 8-byte slots, linear probing at load <= 1/2: the low 32 bits of
 * the key's hash and the entry id + 1 (0: empty). So
 *   - a probe rejects most other keys on the slot alone, without touching their entries;
 *   - growing rebuilds the index from the slots alone: no key is hashed again, no entry moved;
 *   - only the index is zeroed (calloc: fresh pages come zeroed from the kernel); the entry
 *     array grows by realloc, uninitialised past what is used;
 *   - string keys of up to 8 bytes are stored in the entry itself (no arena copy, no second
 *     cache miss on a hit); longer keys are deep-copied into the keys arena when one is given.
 * Removal shifts the probe run back (no tombstones). Iteration is by id, so its order depends
 * only on the keys inserted and removed and their order, never on thread timing.
 * Not thread-safe: one table per task or per state partition. */
#ifndef EMBER_CORE_TABLE_H
#define EMBER_CORE_TABLE_H

#include <ember/value.h>

#include <string.h>

typedef struct em_table_entry {
    em_value key;   /* stored form: read it with em__table_key() */
    em_value value; /* the caller's, updated in place; null in a new entry */
} em_table_entry;

typedef struct em_table {
    char *entries;     /* [cap] entries of entry_size bytes, by id */
    size_t entry_size; /* sizeof(em_table_entry) or the caller's struct embedding it */
    uint32_t n;        /* ids handed out (live and removed) */
    uint32_t cap;      /* entries allocated */
    uint32_t live;     /* entries present */
    uint32_t free_ids; /* removed ids to reuse: id + 1, chained through value.as.i; 0 none */
    uint64_t *index;   /* [mask + 1] slots: hash low 32 bits | (id + 1) << 32; 0 empty */
    size_t mask;
    em_arena *keys;    /* where long keys are copied (borrowed), or NULL: kept as given */
} em_table;

/* Initialises an empty table (no allocation until the first insert). entry_size is
 * sizeof(em_table_entry) or the size of a struct that embeds it first. keys: the arena long
 * keys are deep-copied into on insert, borrowed; NULL keeps keys as given (the caller keeps
 * them alive as long as the table). */
void em__table_init(em_table *t, size_t entry_size, em_arena *keys);
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
/* Removes key's entry if present (returns whether it was); its id is reused later. */
bool em__table_remove(em_table *t, em_value key, uint64_t hash);
/* Removes an entry got from this table (hashing its key again). */
void em__table_remove_entry(em_table *t, em_table_entry *e);

/* The key of an entry as an ordinary value. A short string's bytes are inside the entry: the
 * value is valid as long as the entry pointer; copy it (em_value_copy) to keep it longer. */
static inline em_value em__table_key(const em_table_entry *e)
{
    if (e->key.kind == 0xfe) /* inline string */
        return em_strn((const char *)&e->key.as, e->key.len);
    return e->key;
}

/* The entry with this id (0 <= id < t->n), live or not. */
static inline em_table_entry *em__table_at(const em_table *t, uint32_t id)
{
    return (em_table_entry *)(t->entries + (size_t)id * t->entry_size);
}

/* Iteration in id order: the next live entry at or after *pos (start at 0), advancing *pos
 * past it; NULL at the end. Do not insert or remove while iterating. */
static inline em_table_entry *em__table_next(const em_table *t, uint32_t *pos)
{
    while (*pos < t->n) {
        em_table_entry *e = em__table_at(t, (*pos)++);
        if (e->key.kind != 0xff)
            return e;
    }
    return NULL;
}

/* Iteration in index order (the order of the keys' hashes, as a HashMap's): the next entry of
 * the index at or after slot *pos (start at 0), advancing *pos past it; NULL at the end. The
 * order depends only on the keys inserted and removed and their order. Map-side combine emits
 * in it, as Spark's map-side AppendOnlyMap does. */
static inline em_table_entry *em__table_next_in_index(const em_table *t, size_t *pos)
{
    for (; t->index && *pos <= t->mask; (*pos)++) {
        uint64_t s = t->index[*pos];
        if (s) {
            (*pos)++;
            return em__table_at(t, (uint32_t)(s >> 32) - 1);
        }
    }
    return NULL;
}

#endif
