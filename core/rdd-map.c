/* Per-record narrow operators: map, flatMap, filter, mapValues, flatMapValues, keys, values
 * (Spark's MapPartitionsRDD). Each wraps the downstream sink in its own and asks the parent to
 * push into it, so a chain of them runs as one loop per partition. */
#include "core-private.h"

typedef enum {
    OP_MAP,
    OP_FLAT_MAP,
    OP_FILTER,
    OP_MAP_VALUES,
    OP_FLAT_MAP_VALUES,
    OP_KEYS,
    OP_VALUES
} map_kind;

/* The user function, typed by kind (keys and values have none). */
typedef union {
    em_map_fn map;       /* map, flatMap, mapValues, flatMapValues */
    em_filter_fn filter; /* filter */
} map_fn;

/* A MapPartitionsRDD of a per-record operator. */
typedef struct {
    em_rdd base;
    map_kind kind;
    map_fn fn;
} map_rdd;

typedef struct {
    em_sink base;
    em_sink *out;
    const em_rdd *rdd;
    map_fn fn;
    void *ud;
} map_sink;

/* Pushes each element of a flatMap result: a list's items, Some's value, nothing for None/null;
 * any other value is one record. */
static inline void push_flat(em_sink *out, em_value r, const map_sink *m)
{
    switch (r.type) {
    case EM_T_LIST:
        for (uint32_t i = 0; i < r.len && !m->base.task->stop; i++)
            out->push(out, r.as.items[i]);
        break;
    case EM_T_SOME: out->push(out, r.as.items[0]); break;
    case EM_T_NONE:
    case EM_T_NULL: break;
    default: out->push(out, r); break;
    }
}

static inline em_value call_map(map_sink *m, em_value v)
{
    m->base.task->cur_rdd = m->rdd;
    return m->fn.map(v, m->ud);
}

static void push_map(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    em_value r = call_map(m, v);
    if (G_LIKELY(!s->task->stop))
        m->out->push(m->out, r);
}

static void push_flat_map(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    em_value r = call_map(m, v);
    if (G_LIKELY(!s->task->stop))
        push_flat(m->out, r, m);
}

/* flatMap(em_split_words) and flatMap(em_split_space): the words go downstream as they are
 * found, no list built (the error for a record that is not a string stays the function's). */
static void push_split(em_sink *s, em_value v, bool space_only)
{
    map_sink *m = (map_sink *)s;
    if (G_UNLIKELY(v.type != EM_T_STR)) {
        push_flat_map(s, v);
        return;
    }
    s->task->cur_rdd = m->rdd;
    em__push_split(v, space_only, m->out);
}

static void push_split_words(em_sink *s, em_value v) { push_split(s, v, false); }
static void push_split_space(em_sink *s, em_value v) { push_split(s, v, true); }

/* map(em_pair_one) into a sink that takes pairs unbuilt. */
static void push_pair_one(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    s->task->cur_rdd = m->rdd;
    m->out->push_pair(m->out, v, em_int(1));
}

static void push_filter(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    s->task->cur_rdd = m->rdd;
    if (m->fn.filter(v, m->ud) && G_LIKELY(!s->task->stop))
        m->out->push(m->out, v);
}

static void push_map_values(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    if (!em__require_pair(m->base.task, m->rdd, v))
        return;
    em_value r = call_map(m, em_val(v));
    if (G_LIKELY(!s->task->stop))
        m->out->push(m->out, em_pair(em_key(v), r));
}

typedef struct {
    em_sink base;
    em_sink *out;
    em_value key;
} rekey_sink;

static void push_rekey(em_sink *s, em_value v)
{
    rekey_sink *r = (rekey_sink *)s;
    r->out->push(r->out, em_pair(r->key, v));
}

static void push_flat_map_values(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    if (!em__require_pair(m->base.task, m->rdd, v))
        return;
    em_value r = call_map(m, em_val(v));
    if (G_UNLIKELY(s->task->stop))
        return;
    rekey_sink rk = {{push_rekey, s->task, NULL}, m->out, em_key(v)};
    push_flat(&rk.base, r, m);
}

static void push_keys(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    if (em__require_pair(m->base.task, m->rdd, v))
        m->out->push(m->out, em_key(v));
}

static void push_values(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    if (em__require_pair(m->base.task, m->rdd, v))
        m->out->push(m->out, em_val(v));
}

static void (*const pushers[])(em_sink *, em_value) = {
    [OP_MAP] = push_map,
    [OP_FLAT_MAP] = push_flat_map,
    [OP_FILTER] = push_filter,
    [OP_MAP_VALUES] = push_map_values,
    [OP_FLAT_MAP_VALUES] = push_flat_map_values,
    [OP_KEYS] = push_keys,
    [OP_VALUES] = push_values,
};

/* The pusher for m into out: the stock word-count functions take shortcuts that give the same
 * records. */
static void (*pusher_of(const map_rdd *m, const em_sink *out))(em_sink *, em_value)
{
    if (m->kind == OP_FLAT_MAP && m->fn.map == em_split_words)
        return push_split_words;
    if (m->kind == OP_FLAT_MAP && m->fn.map == em_split_space)
        return push_split_space;
    if (m->kind == OP_MAP && m->fn.map == em_pair_one && out->push_pair)
        return push_pair_one;
    return pushers[m->kind];
}

static void map_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const map_rdd *m = (const map_rdd *)rdd;
    map_sink sink = {{pusher_of(m, out), task, NULL}, out, rdd, m->fn, rdd->ud};
    em__compute(rdd->parents[0], task, index, &sink.base);
}

static const em_rdd_class map_class = {.type_name = "MapPartitionsRDD", .compute = map_compute};

static em_rdd *make(em_rdd *parent, map_kind kind, const char *op, map_fn fn, void *ud,
                    GDestroyNotify destroy, const char *name)
{
    map_rdd *m =
        EM__RDD_NEW(map_rdd, parent->sc, &map_class, op, parent->num_partitions, &parent, 1);
    m->kind = kind;
    m->fn = fn;
    em__rdd_own(&m->base, ud, destroy, name);
    return &m->base;
}

em_rdd *em_rdd_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                        const char *name)
{
    return make(rdd, OP_MAP, "map", (map_fn){.map = fn}, ud, destroy, name);
}

em_rdd *em_rdd_flat_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                             const char *name)
{
    return make(rdd, OP_FLAT_MAP, "flatMap", (map_fn){.map = fn}, ud, destroy, name);
}

em_rdd *em_rdd_filter_full(em_rdd *rdd, em_filter_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    return make(rdd, OP_FILTER, "filter", (map_fn){.filter = fn}, ud, destroy, name);
}

em_rdd *em_rdd_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name)
{
    return make(rdd, OP_MAP_VALUES, "mapValues", (map_fn){.map = fn}, ud, destroy, name);
}

em_rdd *em_rdd_flat_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                    const char *name)
{
    return make(rdd, OP_FLAT_MAP_VALUES, "flatMapValues", (map_fn){.map = fn}, ud, destroy, name);
}

em_rdd *em_rdd_keys(em_rdd *rdd)
{
    return make(rdd, OP_KEYS, "keys", (map_fn){0}, NULL, NULL, NULL);
}

em_rdd *em_rdd_values(em_rdd *rdd)
{
    return make(rdd, OP_VALUES, "values", (map_fn){0}, NULL, NULL, NULL);
}
