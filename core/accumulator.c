/* Accumulators (core, beside the context): Spark's LongAccumulator, DoubleAccumulator and
 * CollectionAccumulator. Numbers are added with atomics (a compare-and-swap loop for doubles),
 * so tasks never wait on each other; a collection gives each thread a slot of its own (its
 * lock is uncontended unless two threads hash to one slot), and the driver merges the slots. */
#include "core-private.h"

#include <stdatomic.h>
#include <string.h>

enum { SLOTS = 16 };

typedef struct slot {
    GMutex lock;
    em_arena *arena; /* payload of the values added here */
    GArray *values;  /* em_value */
} slot;

struct em_accumulator {
    gint refcount;
    em_accumulator_kind kind;
    char *name;
    _Atomic int64_t sum;   /* EM_ACC_LONG */
    _Atomic uint64_t dsum; /* EM_ACC_DOUBLE: the double's bits */
    _Atomic int64_t count;
    slot slots[SLOTS]; /* EM_ACC_COLLECTION */
};

static em_accumulator *acc_new(em_context *sc, const char *name, em_accumulator_kind kind)
{
    g_return_val_if_fail(sc, NULL);
    em_accumulator *acc = g_new0(em_accumulator, 1);
    acc->refcount = 1;
    acc->kind = kind;
    acc->name = g_strdup(name);
    double zero = 0.0;
    uint64_t bits;
    memcpy(&bits, &zero, sizeof bits);
    atomic_init(&acc->sum, 0);
    atomic_init(&acc->dsum, bits);
    atomic_init(&acc->count, 0);
    for (int i = 0; i < SLOTS; i++) {
        g_mutex_init(&acc->slots[i].lock);
        acc->slots[i].values = g_array_new(FALSE, FALSE, sizeof(em_value));
        acc->slots[i].arena = em_arena_new();
    }
    return acc;
}

em_accumulator *em_long_accumulator(em_context *sc, const char *name)
{
    return acc_new(sc, name, EM_ACC_LONG);
}

em_accumulator *em_double_accumulator(em_context *sc, const char *name)
{
    return acc_new(sc, name, EM_ACC_DOUBLE);
}

em_accumulator *em_collection_accumulator(em_context *sc, const char *name)
{
    return acc_new(sc, name, EM_ACC_COLLECTION);
}

em_accumulator *em_accumulator_ref(em_accumulator *acc)
{
    g_atomic_int_inc(&acc->refcount);
    return acc;
}

void em_accumulator_unref(em_accumulator *acc)
{
    if (!acc || !g_atomic_int_dec_and_test(&acc->refcount))
        return;
    for (int i = 0; i < SLOTS; i++) {
        g_mutex_clear(&acc->slots[i].lock);
        g_array_unref(acc->slots[i].values);
        em_arena_free(acc->slots[i].arena);
    }
    g_free(acc->name);
    g_free(acc);
}

em_accumulator_kind em_accumulator_get_kind(const em_accumulator *acc) { return acc->kind; }
const char *em_accumulator_name(const em_accumulator *acc) { return acc->name; }

/* ---- Adding: any thread ---- */

static void add_double_bits(em_accumulator *acc, double x)
{
    uint64_t old = atomic_load_explicit(&acc->dsum, memory_order_relaxed), next;
    do {
        double d;
        memcpy(&d, &old, sizeof d);
        d += x;
        memcpy(&next, &d, sizeof next);
    } while (!atomic_compare_exchange_weak_explicit(&acc->dsum, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

void em_accumulator_add_long(em_accumulator *acc, int64_t x)
{
    g_return_if_fail(acc && acc->kind != EM_ACC_COLLECTION);
    if (acc->kind == EM_ACC_LONG)
        atomic_fetch_add_explicit(&acc->sum, x, memory_order_relaxed);
    else
        add_double_bits(acc, (double)x);
    atomic_fetch_add_explicit(&acc->count, 1, memory_order_relaxed);
}

void em_accumulator_add_double(em_accumulator *acc, double x)
{
    g_return_if_fail(acc && acc->kind != EM_ACC_COLLECTION);
    if (acc->kind == EM_ACC_DOUBLE)
        add_double_bits(acc, x);
    else
        atomic_fetch_add_explicit(&acc->sum, (int64_t)x, memory_order_relaxed);
    atomic_fetch_add_explicit(&acc->count, 1, memory_order_relaxed);
}

/* A small number per thread, handed out once, spreading threads over the slots. */
static int thread_slot(void)
{
    static gint next;
    static GPrivate key;
    gpointer mine = g_private_get(&key);
    if (!mine) {
        mine = GINT_TO_POINTER(g_atomic_int_add(&next, 1) % SLOTS + 1);
        g_private_set(&key, mine);
    }
    return GPOINTER_TO_INT(mine) - 1;
}

void em_accumulator_add(em_accumulator *acc, em_value v)
{
    g_return_if_fail(acc);
    if (acc->kind != EM_ACC_COLLECTION) {
        if (v.type == EM_T_INT)
            em_accumulator_add_long(acc, v.as.i);
        else if (v.type == EM_T_DOUBLE)
            em_accumulator_add_double(acc, v.as.d);
        else
            g_critical("em_accumulator_add: accumulator %s adds numbers, not a %s",
                       acc->name ? acc->name : "(unnamed)",
                       v.type == EM_T_STR ? "string" : "non-numeric value");
        return;
    }
    slot *s = &acc->slots[thread_slot()];
    g_mutex_lock(&s->lock);
    em_value copy = em_value_copy(v, s->arena);
    g_array_append_val(s->values, copy);
    g_mutex_unlock(&s->lock);
    atomic_fetch_add_explicit(&acc->count, 1, memory_order_relaxed);
}

/* ---- Reading: the driver ---- */

static bool on_driver(const em_accumulator *acc, const char *fn)
{
    if (!em__current_task())
        return true;
    g_critical("%s: accumulator %s cannot be read inside a task, only on the driver", fn,
               acc->name ? acc->name : "(unnamed)");
    return false;
}

int64_t em_accumulator_long(const em_accumulator *acc)
{
    g_return_val_if_fail(acc, 0);
    if (!on_driver(acc, "em_accumulator_long"))
        return 0;
    if (acc->kind == EM_ACC_DOUBLE)
        return (int64_t)em_accumulator_double(acc);
    return atomic_load(&((em_accumulator *)acc)->sum);
}

double em_accumulator_double(const em_accumulator *acc)
{
    g_return_val_if_fail(acc, 0);
    if (!on_driver(acc, "em_accumulator_double"))
        return 0;
    if (acc->kind == EM_ACC_LONG)
        return (double)atomic_load(&((em_accumulator *)acc)->sum);
    uint64_t bits = atomic_load(&((em_accumulator *)acc)->dsum);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

int64_t em_accumulator_count(const em_accumulator *acc)
{
    g_return_val_if_fail(acc, 0);
    if (!on_driver(acc, "em_accumulator_count"))
        return 0;
    return atomic_load(&((em_accumulator *)acc)->count);
}

em_values *em_accumulator_collection(const em_accumulator *acc)
{
    em_values *vals = em__values_new();
    g_return_val_if_fail(acc, vals);
    if (!on_driver(acc, "em_accumulator_collection"))
        return vals;
    em_accumulator *a = (em_accumulator *)acc;
    for (int i = 0; i < SLOTS; i++) {
        g_mutex_lock(&a->slots[i].lock);
        for (guint j = 0; j < a->slots[i].values->len; j++)
            em__values_append_copy(vals, g_array_index(a->slots[i].values, em_value, j));
        g_mutex_unlock(&a->slots[i].lock);
    }
    return vals;
}

void em_accumulator_reset(em_accumulator *acc)
{
    g_return_if_fail(acc);
    if (!on_driver(acc, "em_accumulator_reset"))
        return;
    double zero = 0.0;
    uint64_t bits;
    memcpy(&bits, &zero, sizeof bits);
    atomic_store(&acc->sum, 0);
    atomic_store(&acc->dsum, bits);
    atomic_store(&acc->count, 0);
    for (int i = 0; i < SLOTS; i++) {
        g_mutex_lock(&acc->slots[i].lock);
        g_array_set_size(acc->slots[i].values, 0);
        em_arena_reset(acc->slots[i].arena);
        g_mutex_unlock(&acc->slots[i].lock);
    }
}
