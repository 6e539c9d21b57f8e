/* em_table (table.h): the engine's open-addressing hash table, flat or indexed (core). */
#include "core-private.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
    FIRST_SLOTS = 1024,
    KIND_INLINE = 0xfe, /* key.kind of a string of up to 8 bytes stored in as */
    KIND_MEDIUM = 0xe0, /* key.kind | length of a string of 9 to 12 bytes stored from len on */
    MEDIUM_MAX = 12,
    KIND_REMOVED = 0xff, /* key.kind of a removed entry (stable layout) */
};

static inline bool stable(const em_table *t) { return t->flags & EM_TABLE_STABLE_IDS; }

/* Stable layout: an index slot. */
static inline uint64_t make_slot(uint64_t hash, uint32_t id)
{
    return (uint64_t)(uint32_t)hash | (uint64_t)(id + 1) << 32;
}
static inline uint32_t slot_id(uint64_t slot) { return (uint32_t)(slot >> 32) - 1; }

/* Flat layout: the tag in a stored key's pad_, never 0 (0 marks an empty slot). */
static inline uint16_t flat_tag(uint64_t hash) { return (uint16_t)(hash >> 48) | 1; }

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

void em__table_init(em_table *t, size_t entry_size, em_arena *keys, unsigned flags)
{
    g_assert(entry_size >= sizeof(em_table_entry));
    memset(t, 0, sizeof *t);
    t->entry_size = entry_size;
    t->keys = keys;
    t->flags = flags;
}

void em__table_clear(em_table *t)
{
    g_free(t->entries);
    g_free(t->index);
    g_free(t->hashes);
    em__table_init(t, t->entry_size, t->keys, t->flags);
}

/* Slot arrays of 2 MiB and more sit on transparent huge pages (where the kernel gives them on
 * request): their probes land on random pages, and with 4 KiB pages a table of a few MiB misses
 * the TLB on most of them (a page walk per probe, nested under a hypervisor). Freed with
 * g_free. */
static void *slots_alloc(size_t n, size_t size, bool zero)
{
    enum { HUGE = 2 << 20 };
    if (size && n > G_MAXSIZE / size)
        g_error("em_table: %zu slots of %zu bytes overflow", n, size);
    size_t bytes = n * size;
    if (bytes < HUGE)
        return zero ? g_malloc0(bytes) : g_malloc(bytes);
    void *p = NULL;
    size_t rounded = (bytes + HUGE - 1) / HUGE * HUGE;
    if (posix_memalign(&p, HUGE, rounded) != 0)
        g_error("em_table: cannot allocate %zu bytes of slots", rounded);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint: 4 KiB pages where it is refused */
#endif
    if (zero)
        memset(p, 0, bytes);
    return p;
}

/* Stable layout: a new index of slots slots, filled from the old one's slots alone. */
static void rebuild_index(em_table *t, size_t slots)
{
    uint64_t *old = t->index;
    size_t old_slots = old ? t->mask + 1 : 0;
    t->index = slots_alloc(slots, sizeof(uint64_t), true);
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

/* Flat layout: new slot arrays of slots slots, the entries moved by their kept hashes. */
static void rebuild_flat(em_table *t, size_t slots)
{
    char *old = t->entries;
    uint32_t *old_hashes = t->hashes;
    size_t old_slots = old ? t->mask + 1 : 0, size = t->entry_size;
    g_assert(slots <= G_MAXUINT32);
    /* Only the pad_ of each slot is cleared (0: empty), in one sequential pass: faulting the
     * pages in from random probes later costs more, above all with a task per thread. */
    t->entries = slots_alloc(slots, size, false);
    for (size_t i = 0; i < slots; i++)
        ((em_table_entry *)(t->entries + i * size))->key.pad_ = 0;
    t->hashes = slots_alloc(slots, sizeof(uint32_t), false); /* written on insert only */
    t->mask = slots - 1;
    t->n = (uint32_t)slots;
    for (size_t i = 0; i < old_slots; i++) {
        const em_table_entry *e = (const em_table_entry *)(old + i * size);
        if (!e->key.pad_)
            continue;
        size_t j = old_hashes[i] & t->mask;
        while (em__table_at(t, (uint32_t)j)->key.pad_)
            j = (j + 1) & t->mask;
        memcpy(em__table_at(t, (uint32_t)j), e, size);
        t->hashes[j] = old_hashes[i];
    }
    g_free(old);
    g_free(old_hashes);
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

static inline size_t slots_now(const em_table *t)
{
    return (stable(t) ? t->index != NULL : t->entries != NULL) ? t->mask + 1 : 0;
}

static void rebuild(em_table *t, size_t slots)
{
    if (stable(t))
        rebuild_index(t, slots);
    else
        rebuild_flat(t, slots);
}

void em__table_reserve(em_table *t, size_t n)
{
    size_t now = slots_now(t), slots = now ? now : FIRST_SLOTS;
    while (slots < 2 * n)
        slots *= 2;
    if (slots > now)
        rebuild(t, slots);
    if (stable(t))
        grow_entries(t, n);
}

/* The first and second words of a stored key, as they lie in memory. */
static inline uint64_t word0(const em_value *v)
{
    uint64_t w;
    memcpy(&w, v, 8);
    return w;
}
static inline uint64_t word1(const em_value *v) { return (uint64_t)v->as.i; }

/* A first word: type, kind, pad_ and len as em_value lays them out in memory; pad_ (the flat
 * layout's tag) lies at bit PAD_SHIFT of it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PAD_SHIFT 16
static inline uint64_t make_word0(uint8_t type, uint8_t kind, uint16_t pad, uint32_t len)
{
    return (uint64_t)type | (uint64_t)kind << 8 | (uint64_t)pad << 16 | (uint64_t)len << 32;
}
#else
#define PAD_SHIFT 32
static inline uint64_t make_word0(uint8_t type, uint8_t kind, uint16_t pad, uint32_t len)
{
    em_value v = {.type = type, .kind = kind, .pad_ = pad, .len = len};
    return word0(&v);
}
#endif

/* A probe for key. A string of up to 12 bytes is stored in the entry: w0 and w1 are the words
 * of its stored form (pad_ 0), built in registers: composing them in an em_value on the stack
 * and reading it back as words stalls store-to-load forwarding, which cost a quarter of the
 * combiner's upserts. */
typedef struct {
    bool inl;
    uint64_t w0, w1;
} probe_key;

static inline probe_key probe_of(em_value key)
{
    probe_key p = {false, 0, 0};
    if (key.type != EM_T_STR || key.len > MEDIUM_MAX)
        return p;
    p.inl = true;
    if (key.len <= 8) {
        p.w0 = make_word0(EM_T_STR, KIND_INLINE, 0, key.len);
        p.w1 = short_word(key.as.s, key.len);
    } else {
        uint32_t head;
        memcpy(&head, key.as.s, 4);
        p.w0 = make_word0(EM_T_STR, (uint8_t)(KIND_MEDIUM | key.len), 0, head);
        p.w1 = short_word(key.as.s + 4, key.len - 4);
    }
    return p;
}

/* The stored form of an inline probe, as an em_value. */
static inline em_value probe_image(const probe_key *p)
{
    em_value v;
    memcpy(&v, &p->w0, 8);
    v.as.i = (int64_t)p->w1;
    return v;
}

/* Whether the stored key of e is the key probed. */
static inline bool same_key(const em_table_entry *e, em_value key, const probe_key *p)
{
    if (p->inl)
        return (word0(&e->key) & ~((uint64_t)0xffff << PAD_SHIFT)) == p->w0 &&
               word1(&e->key) == p->w1;
    if (em__table_key_inline(e))
        return false;
    em_value k = e->key;
    k.pad_ = 0;
    return em__key_equal(k, key);
}

/* Stable layout: the index slot of key, or of the empty slot ending its run (*found false). */
static inline size_t find_index_slot(const em_table *t, em_value key, uint64_t hash, probe_key p,
                                     bool *found)
{
    uint32_t tag = (uint32_t)hash;
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->index[i];
        if (!s) {
            *found = false;
            return i;
        }
        if ((uint32_t)s == tag && same_key(em__table_at(t, slot_id(s)), key, &p)) {
            *found = true;
            return i;
        }
    }
}

/* Flat layout: the slot of key, or the empty slot ending its run (*found false). */
static inline size_t find_flat_slot(const em_table *t, em_value key, uint64_t hash, probe_key p,
                                    bool *found)
{
    uint16_t tag = flat_tag(hash);
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const em_table_entry *e = em__table_at(t, (uint32_t)i);
        if (!e->key.pad_) {
            *found = false;
            return i;
        }
        if (e->key.pad_ == tag && same_key(e, key, &p)) {
            *found = true;
            return i;
        }
    }
}

em_table_entry *em__table_find(const em_table *t, em_value key, uint64_t hash)
{
    if (!slots_now(t))
        return NULL;
    bool found;
    probe_key p = probe_of(key);
    if (stable(t)) {
        size_t i = find_index_slot(t, key, hash, p, &found);
        return found ? em__table_at(t, slot_id(t->index[i])) : NULL;
    }
    size_t i = find_flat_slot(t, key, hash, p, &found);
    return found ? em__table_at(t, (uint32_t)i) : NULL;
}

static void store_key(em_table *t, em_table_entry *e, em_value key, probe_key p)
{
    if (t->entry_size > sizeof *e)
        memset(e + 1, 0, t->entry_size - sizeof *e);
    if (p.inl)
        e->key = probe_image(&p);
    else
        e->key = t->keys ? em__value_copy(key, t->keys) : key;
    e->value = em_null();
}

/* Flat layout: stores key in the empty slot i that ended its probe run (growing first when
 * the table is half full). Out of line: the hit path stays small. */
__attribute__((noinline)) static em_table_entry *flat_insert(em_table *t, size_t i, em_value key,
                                                             uint64_t hash, bool *is_new)
{
    if ((size_t)(t->live + 1) * 2 > t->mask + 1)
        return (rebuild_flat(t, (t->mask + 1) * 2), em__table_upsert(t, key, hash, is_new));
    em_table_entry *e = em__table_at(t, (uint32_t)i);
    store_key(t, e, key, probe_of(key));
    e->key.pad_ = flat_tag(hash);
    t->hashes[i] = (uint32_t)hash;
    t->live++;
    *is_new = true;
    return e;
}

/* Stable layout: the whole upsert. */
__attribute__((noinline)) static em_table_entry *stable_upsert(em_table *t, em_value key,
                                                               uint64_t hash, bool *is_new)
{
    if (!t->index)
        rebuild_index(t, FIRST_SLOTS);
    probe_key p = probe_of(key);
    bool found;
    size_t i = find_index_slot(t, key, hash, p, &found);
    *is_new = !found;
    if (found)
        return em__table_at(t, slot_id(t->index[i]));
    if (G_UNLIKELY((size_t)(t->live + 1) * 2 > t->mask + 1)) {
        rebuild_index(t, (t->mask + 1) * 2);
        i = find_index_slot(t, key, hash, p, &found);
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
    store_key(t, e, key, p);
    t->index[i] = make_slot(hash, id);
    t->live++;
    return e;
}

/* The flat upsert for any entry size, and the first insert: out of line. */
__attribute__((noinline)) static em_table_entry *flat_upsert_any(em_table *t, em_value key,
                                                                 uint64_t hash, bool *is_new)
{
    if (!t->entries)
        rebuild_flat(t, FIRST_SLOTS);
    probe_key p = probe_of(key);
    bool found;
    size_t i = find_flat_slot(t, key, hash, p, &found);
    if (!found)
        return flat_insert(t, i, key, hash, is_new);
    *is_new = false;
    return em__table_at(t, (uint32_t)i);
}

/* The flat hit path is the combiner's per-record cost: one slot read per probe, the tag and
 * (for strings of up to 12 bytes) two words compared, no call. It is specialised for plain 32-byte
 * entries (the combiner's: the index is a shift by a constant, the prologue small); other tables
 * take the out-of-line paths. */
em_table_entry *em__table_upsert(em_table *t, em_value key, uint64_t hash, bool *is_new)
{
    if (G_UNLIKELY(t->flags & EM_TABLE_STABLE_IDS))
        return stable_upsert(t, key, hash, is_new);
    if (G_UNLIKELY(t->entry_size != sizeof(em_table_entry) || !t->entries))
        return flat_upsert_any(t, key, hash, is_new);
    em_table_entry *base = (em_table_entry *)t->entries;
    size_t mask = t->mask;
    uint16_t tag = flat_tag(hash);
    size_t i = hash & mask;
    probe_key p = probe_of(key);
    if (p.inl) {
        /* The stored key is the probe's image with the tag: two words compared. */
        uint64_t w0 = p.w0 | (uint64_t)tag << PAD_SHIFT, w1 = p.w1;
        for (;; i = (i + 1) & mask) {
            em_table_entry *e = base + i;
            if (word0(&e->key) == w0 && word1(&e->key) == w1) {
                *is_new = false;
                return e;
            }
            if (!e->key.pad_)
                return flat_insert(t, i, key, hash, is_new);
        }
    }
    for (;; i = (i + 1) & mask) {
        em_table_entry *e = base + i;
        uint16_t pad = e->key.pad_;
        if (!pad)
            return flat_insert(t, i, key, hash, is_new);
        if (pad == tag && same_key(e, key, &p)) {
            *is_new = false;
            return e;
        }
    }
}

/* Whether the occupant of slot j, whose home is home, must stay when slot i (before j in the
 * run) empties: it stays when its home lies cyclically in (i, j]. */
static inline bool stays(size_t i, size_t j, size_t home)
{
    return i <= j ? (i < home && home <= j) : (i < home || home <= j);
}

/* Empties slot i and shifts the run after it back so that every key stays reachable from its
 * home slot (Knuth's algorithm R). */
static void delete_slot(em_table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        if (stable(t))
            t->index[i] = 0;
        else
            em__table_at(t, (uint32_t)i)->key.pad_ = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            uint32_t h;
            if (stable(t)) {
                if (!t->index[j])
                    return;
                h = (uint32_t)t->index[j];
            } else {
                if (!em__table_at(t, (uint32_t)j)->key.pad_)
                    return;
                h = t->hashes[j];
            }
            if (!stays(i, j, h & t->mask))
                break;
        }
        if (stable(t)) {
            t->index[i] = t->index[j];
        } else {
            memcpy(em__table_at(t, (uint32_t)i), em__table_at(t, (uint32_t)j), t->entry_size);
            t->hashes[i] = t->hashes[j];
        }
        i = j;
    }
}

bool em__table_remove(em_table *t, em_value key, uint64_t hash)
{
    if (!slots_now(t))
        return false;
    probe_key p = probe_of(key);
    bool found;
    if (!stable(t)) {
        size_t i = find_flat_slot(t, key, hash, p, &found);
        if (found) {
            delete_slot(t, i);
            t->live--;
        }
        return found;
    }
    size_t i = find_index_slot(t, key, hash, p, &found);
    if (!found)
        return false;
    uint32_t id = slot_id(t->index[i]);
    delete_slot(t, i);
    em_table_entry *e = em__table_at(t, id);
    e->key = (em_value){.type = EM_T_NULL, .kind = KIND_REMOVED};
    e->value = em_int(t->free_ids);
    t->free_ids = id + 1;
    t->live--;
    return true;
}

void em__table_remove_entry(em_table *t, em_table_entry *e)
{
    /* An inline key's bytes are in e, which removal overwrites: remove by a copy. */
    em_table_entry copy = *e;
    em_value key = em__table_key(&copy);
    bool removed = em__table_remove(t, key, em_value_hash(key));
    g_assert(removed);
}
