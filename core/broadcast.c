/* Broadcast variables (core, beside the context): Spark's sc.broadcast(v). In one process there
 * is nothing to ship, so a broadcast is an immutable deep copy that tasks read in place, plus a
 * hash set of its items so that the common `broadcast.value.contains(x)` costs O(1). */
#include "core-private.h"

struct em_broadcast {
    gint refcount;
    int64_t id;
    em_value value; /* payload in arena */
    em_arena *arena;
    GHashTable *items; /* em_value * into value's items (or &value) -> itself */
};

static gint next_id;

static guint item_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean item_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

em_broadcast *em_broadcast_new(em_context *sc, em_value v)
{
    g_return_val_if_fail(sc, NULL);
    em_broadcast *b = g_new0(em_broadcast, 1);
    b->refcount = 1;
    b->id = g_atomic_int_add(&next_id, 1);
    b->arena = em_arena_new();
    b->value = em_value_copy(v, b->arena);
    b->items = g_hash_table_new(item_hash, item_equal);
    bool many = b->value.type == EM_T_LIST || b->value.type == EM_T_TUPLE;
    size_t n = many ? b->value.len : 1;
    for (size_t i = 0; i < n; i++) {
        em_value *item = many ? (em_value *)&b->value.as.items[i] : &b->value;
        g_hash_table_add(b->items, item);
    }
    return b;
}

em_value em_broadcast_value(const em_broadcast *b)
{
    g_return_val_if_fail(b, em_null());
    return b->value;
}

bool em_broadcast_contains(const em_broadcast *b, em_value v)
{
    g_return_val_if_fail(b, false);
    return g_hash_table_contains(b->items, &v);
}

int64_t em_broadcast_id(const em_broadcast *b) { return b->id; }

em_broadcast *em_broadcast_ref(em_broadcast *b)
{
    g_atomic_int_inc(&b->refcount);
    return b;
}

void em_broadcast_unref(em_broadcast *b)
{
    if (!b || !g_atomic_int_dec_and_test(&b->refcount))
        return;
    g_hash_table_unref(b->items);
    em_arena_free(b->arena);
    g_free(b);
}
