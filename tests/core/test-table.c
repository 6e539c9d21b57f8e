/* em_table: the engine's hash table (core/table.h), flat and with stable ids, checked against
 * GLib's GHashTable as a model through growth, removal (backward shift) and id reuse, with
 * short and medium (inline) and long string keys, integer and tuple keys. */
#include <criterion/criterion.h>

#include "core-private.h"

static em_value word(em_arena *arena, int i)
{
    /* Short words (inline in as, up to 8 bytes), medium ones (inline from len on, 9 to 12
     * bytes) and long ones (copied into the keys arena). */
    char buf[32];
    int n = i % 3 == 0   ? g_snprintf(buf, sizeof buf, "w%d", i)
            : i % 3 == 1 ? g_snprintf(buf, sizeof buf, "m%0*d", 8 + i % 4, i)
                         : g_snprintf(buf, sizeof buf, "a-much-longer-word-%d", i);
    return em_str_dup_in(arena, buf, (size_t)n);
}

static int64_t lookup(const em_table *t, em_value key)
{
    em_table_entry *e = em__table_find(t, key, em_value_hash(key));
    return e ? em_as_int(e->value) : -1;
}

Test(table, upsert_finds_updates_in_place_and_stable_ids_keep_insertion_order)
{
    g_autoptr(em_arena) keys = em_arena_new();
    em_table t;
    em__table_init(&t, sizeof(em_table_entry), keys, EM_TABLE_STABLE_IDS);
    const char *words[] = {"to", "be", "or", "not", "to", "be", "question-of-length", "be"};
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        em_value k = em_str(words[i]);
        bool is_new;
        em_table_entry *e = em__table_upsert(&t, k, em_value_hash(k), &is_new);
        e->value = em_int(is_new ? 1 : em_as_int(e->value) + 1);
    }
    cr_assert_eq(t.live, 5);
    GString *order = g_string_new(NULL);
    uint32_t pos = 0;
    for (em_table_entry *e; (e = em__table_next(&t, &pos));) {
        g_autofree char *key = em_value_to_string(em__table_key(e));
        g_string_append_printf(order, "%s=%" G_GINT64_FORMAT " ", key, em_as_int(e->value));
    }
    cr_assert_str_eq(order->str, "to=2 be=3 or=1 not=1 question-of-length=1 ");
    g_string_free(order, TRUE);
    cr_assert_eq(lookup(&t, em_str("be")), 3);
    cr_assert_eq(lookup(&t, em_str("question-of-length")), 1);
    cr_assert_eq(lookup(&t, em_str("question")), -1);
    cr_assert_eq(lookup(&t, em_int(3)), -1);
    em__table_clear(&t);
    cr_assert_eq(t.live, 0);
    cr_assert_eq(lookup(&t, em_str("be")), -1);
}

static void inline_and_long_keys(unsigned flags)
{
    g_autoptr(em_arena) keys = em_arena_new();
    em_table t;
    em__table_init(&t, sizeof(em_table_entry), keys, flags);
    /* Binary keys that differ only in length or in trailing zero bytes, up to 12 bytes. */
    static const char bytes[13] = "abcdefgh\0\0\0\0";
    bool is_new;
    for (size_t n = 0; n <= 12; n++) {
        em_table_entry *e =
            em__table_upsert(&t, em_strn(bytes, n), em_value_hash(em_strn(bytes, n)), &is_new);
        cr_assert(is_new, "%zu bytes", n);
        e->value = em_int((int64_t)n);
    }
    cr_assert_eq(em_arena_bytes(keys), 0, "keys of up to 12 bytes are stored in the entries");
    char medium_buf[] = "abcdefghijkl", long_buf[] = "abcdefghijklm";
    em__table_upsert(&t, em_str(medium_buf), em_value_hash(em_str("abcdefghijkl")), &is_new);
    cr_assert(is_new);
    em__table_upsert(&t, em_str(long_buf), em_value_hash(em_str("abcdefghijklm")), &is_new);
    medium_buf[0] = long_buf[0] = 'X'; /* the caller's bytes change: the table's must not */
    cr_assert_eq(t.live, 15);
    cr_assert_gt(em_arena_bytes(keys), 0, "a 13-byte key is copied into the keys arena");
    for (size_t n = 0; n <= 12; n++) {
        em_table_entry *e =
            em__table_find(&t, em_strn(bytes, n), em_value_hash(em_strn(bytes, n)));
        cr_assert_not_null(e, "%zu bytes", n);
        cr_assert_eq(em_as_int(e->value), (int64_t)n);
        em_value k = em__table_key(e);
        cr_assert_eq(em_str_len(k), n);
        cr_assert_eq(memcmp(em_str_ptr(k), bytes, n), 0, "%zu bytes", n);
    }
    em_table_entry *medium =
        em__table_find(&t, em_str("abcdefghijkl"), em_value_hash(em_str("abcdefghijkl")));
    cr_assert_not_null(medium);
    cr_assert(em_value_equal(em__table_key(medium), em_str("abcdefghijkl")));
    cr_assert_not_null(
        em__table_find(&t, em_str("abcdefghijklm"), em_value_hash(em_str("abcdefghijklm"))));
    cr_assert_null(
        em__table_find(&t, em_str("abcdefghijk"), em_value_hash(em_str("abcdefghijk"))));
    em__table_clear(&t);
}

Test(table, keys_of_up_to_12_bytes_live_in_the_entry_longer_ones_in_the_keys_arena)
{
    inline_and_long_keys(0);
    inline_and_long_keys(EM_TABLE_STABLE_IDS);
}

/* Thousands of inserts and removes in a pseudo-random mix, through several growths: every key
 * present in the model is found with its value, every removed one is not, and iteration sees
 * exactly the live entries, each once. */
static void agree_with_model(unsigned flags)
{
    g_autoptr(em_arena) arena = em_arena_new();
    em_table t;
    em__table_init(&t, sizeof(em_table_entry), arena, flags);
    GHashTable *model = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    uint64_t rng = 12345;
    enum { N = 20000, KEYS = 6000 };
    for (int step = 0; step < N; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        int i = (int)((rng >> 33) % KEYS);
        em_value k = word(arena, i);
        char *name = g_strndup(k.as.s, k.len);
        uint64_t h = em_value_hash(k);
        if ((rng >> 20) % 3 == 0) {
            bool in_model = g_hash_table_remove(model, name);
            cr_assert_eq(em__table_remove(&t, k, h), in_model, "remove %s", name);
            g_free(name);
        } else {
            bool is_new;
            em_table_entry *e = em__table_upsert(&t, k, h, &is_new);
            cr_assert_eq(is_new, !g_hash_table_contains(model, name), "upsert %s", name);
            e->value = em_int(step);
            g_hash_table_insert(model, name, GINT_TO_POINTER(step + 1));
        }
        cr_assert_eq(t.live, g_hash_table_size(model));
    }
    for (int i = 0; i < KEYS; i++) {
        em_value k = word(arena, i);
        g_autofree char *name = g_strndup(k.as.s, k.len);
        gpointer v = g_hash_table_lookup(model, name);
        cr_assert_eq(lookup(&t, k), v ? GPOINTER_TO_INT(v) - 1 : -1, "key %s", name);
    }
    uint32_t pos = 0, seen = 0;
    for (em_table_entry *e; (e = em__table_next(&t, &pos));) {
        em_value k = em__table_key(e);
        g_autofree char *name = g_strndup(k.as.s, k.len);
        cr_assert_eq(GPOINTER_TO_INT(g_hash_table_lookup(model, name)) - 1, em_as_int(e->value));
        seen++;
    }
    cr_assert_eq(seen, g_hash_table_size(model));
    if (flags & EM_TABLE_STABLE_IDS)
        cr_assert_leq(t.n, KEYS, "removed ids are reused: %u ids for %d keys", t.n, KEYS);
    g_hash_table_destroy(model);
    em__table_clear(&t);
}

Test(table, flat_table_agrees_with_a_model_through_growth_and_removal) { agree_with_model(0); }

Test(table, stable_id_table_agrees_with_a_model_through_growth_removal_and_id_reuse)
{
    agree_with_model(EM_TABLE_STABLE_IDS);
}

typedef struct {
    em_table_entry base;
    int64_t updated;
    uint32_t next;
} timed_entry;

Test(table, a_larger_entry_struct_starts_zeroed_and_removal_by_entry_works)
{
    g_autoptr(em_arena) mine = em_arena_new(); /* the caller's keys, kept as given */
    em_table t;
    em__table_init(&t, sizeof(timed_entry), NULL, EM_TABLE_STABLE_IDS);
    em__table_reserve(&t, 5000);
    size_t slots = t.mask + 1;
    for (int i = 0; i < 5000; i++) {
        bool is_new;
        em_value k = em_pair_in(mine, em_int(i % 50), em_int(i));
        timed_entry *e = (timed_entry *)em__table_upsert(&t, k, em_value_hash(k), &is_new);
        cr_assert(is_new);
        cr_assert_eq(e->updated, 0);
        cr_assert_eq(e->next, 0);
        e->updated = i;
        e->next = 7;
    }
    cr_assert_eq(t.mask + 1, slots, "reserve made room for all without growing");
    em_value k = em_int(42);
    bool is_new;
    em__table_upsert(&t, em_int(42), em_value_hash(k), &is_new);
    em_table_entry *e = em__table_find(&t, k, em_value_hash(k));
    uint32_t id = em__table_id(&t, e);
    cr_assert_eq(em__table_at(&t, id), e);
    em__table_remove_entry(&t, e);
    cr_assert_null(em__table_find(&t, k, em_value_hash(k)));
    timed_entry *again =
        (timed_entry *)em__table_upsert(&t, em_int(43), em_value_hash(em_int(43)), &is_new);
    cr_assert_eq(again->updated, 0, "a reused id starts zeroed");
    cr_assert_eq(em__table_id(&t, &again->base), id, "the removed id is reused first");
    cr_assert_eq(t.live, 5001);
    em__table_clear(&t);
}
