/* Per-record narrow operators: map, flatMap, filter, mapValues, flatMapValues, keys, values
 * (Spark's MapPartitionsRDD). Each wraps the downstream sink in its own and asks the parent to
 * push into it, so a chain of them runs as one loop per partition. */
#include "core-private.h"

typedef enum { OP_MAP, OP_FLAT_MAP, OP_FILTER, OP_MAP_VALUES, OP_FLAT_MAP_VALUES, OP_KEYS,
               OP_VALUES } map_kind;

typedef struct {
    em_sink base;
    em_sink *out;
    const em_rdd *rdd;
    em_any_fn call;
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
    return ((em_map_fn)m->call)(v, m->ud);
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

static void push_filter(em_sink *s, em_value v)
{
    map_sink *m = (map_sink *)s;
    s->task->cur_rdd = m->rdd;
    if (((em_filter_fn)m->call)(v, m->ud) && G_LIKELY(!s->task->stop))
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
    rekey_sink rk = {{push_rekey, s->task}, m->out, em_key(v)};
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

static void map_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    map_sink sink = {{pushers[(map_kind)(intptr_t)rdd->state], task}, out, rdd, rdd->fn.call,
                     rdd->fn.ud};
    em__compute(rdd->parents[0], task, index, &sink.base);
}

static const em_rdd_class map_class = {.type_name = "MapPartitionsRDD", .compute = map_compute};

static em_rdd *make(em_rdd *parent, map_kind kind, const char *op, em_any_fn call, void *ud,
                    GDestroyNotify destroy, const char *name)
{
    em_rdd *rdd = em__rdd_new(parent->sc, &map_class, op, parent->num_partitions, &parent, 1);
    rdd->state = (void *)(intptr_t)kind;
    em__rdd_set_fn(rdd, call, ud, destroy, name);
    return rdd;
}

em_rdd *em_rdd_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                        const char *name)
{
    return make(rdd, OP_MAP, "map", EM_ANY_FN(fn), ud, destroy, name);
}

em_rdd *em_rdd_flat_map_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                             const char *name)
{
    return make(rdd, OP_FLAT_MAP, "flatMap", EM_ANY_FN(fn), ud, destroy, name);
}

em_rdd *em_rdd_filter_full(em_rdd *rdd, em_filter_fn fn, void *ud, GDestroyNotify destroy,
                           const char *name)
{
    return make(rdd, OP_FILTER, "filter", EM_ANY_FN(fn), ud, destroy, name);
}

em_rdd *em_rdd_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                               const char *name)
{
    return make(rdd, OP_MAP_VALUES, "mapValues", EM_ANY_FN(fn), ud, destroy, name);
}

em_rdd *em_rdd_flat_map_values_full(em_rdd *rdd, em_map_fn fn, void *ud, GDestroyNotify destroy,
                                    const char *name)
{
    return make(rdd, OP_FLAT_MAP_VALUES, "flatMapValues", EM_ANY_FN(fn), ud, destroy, name);
}

em_rdd *em_rdd_keys(em_rdd *rdd) { return make(rdd, OP_KEYS, "keys", NULL, NULL, NULL, NULL); }

em_rdd *em_rdd_values(em_rdd *rdd)
{
    return make(rdd, OP_VALUES, "values", NULL, NULL, NULL, NULL);
}
