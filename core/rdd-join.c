/* cogroup and the joins built on it (Spark's CoGroupedRDD and SubtractedRDD): both parents are
 * hash-shuffled into the same partition count without map-side combine, and each reduce task
 * groups the two sides' values per key in one em_table, then emits the operator's shape per key.
 * The joins are fused into the cogroup's reduce task rather than a flatMapValues after it. */
#include "core-private.h"
#include "spark-order.h"

typedef enum { COGROUP, JOIN_INNER, JOIN_LEFT, JOIN_RIGHT, JOIN_FULL, SUBTRACT } join_kind;

/* A CoGroupedRDD (or SubtractedRDD) and the shape it emits per key. */
typedef struct {
    em_rdd base;
    join_kind kind;
} cogrouped_rdd;

/* A key's values from both sides, as growing CompactBuffers: this side's is the entry's value. */
typedef struct {
    em_table_entry base;
    em_value other;   /* the other side's values */
    uint32_t caps[2]; /* capacities of value and other */
} cogroup_entry;

typedef struct {
    em_task *task;
    const em_rdd *rdd;
    em_table map; /* keys as read from the map outputs, which outlive the task */
    int side;
} group_ctx;

static void read_side(em_value kv, void *ud)
{
    group_ctx *ctx = ud;
    if (ctx->task->stop || !em__require_pair(ctx->task, ctx->rdd, kv))
        return;
    em_value key = em_key(kv);
    bool is_new;
    cogroup_entry *e =
        (cogroup_entry *)em__table_upsert(&ctx->map, key, em_value_hash(key), &is_new);
    em__list_append(ctx->side ? &e->other : &e->base.value, &e->caps[ctx->side], em_val(kv),
                    ctx->task->arena);
}

/* The shuffled records are the source: each output record's temporaries live until the next. */
static inline void emit(em_task *task, em_sink *out, em_value key, em_value v, em_value w)
{
    out->push(out, em_pair(key, em_pair(v, w)));
    em_arena_reset(task->scratch);
}

static inline em_value wrap(em_value v, bool some) { return some ? em_some(v) : v; }

/* Spark's shapes: join (v,w); leftOuterJoin (v,Some(w)) or (v,None); rightOuterJoin
 * (Some(v),w) or (None,w); fullOuterJoin both optional. Every pair of values when both sides
 * have some; with one side empty, the outer side's values alone (or nothing for an inner side). */
static void emit_joined(em_task *task, em_sink *out, join_kind kind, em_value key, em_value vs,
                        em_value ws)
{
    bool some_v = kind == JOIN_RIGHT || kind == JOIN_FULL;
    bool some_w = kind == JOIN_LEFT || kind == JOIN_FULL;
    if (ws.len == 0) {
        if (kind == JOIN_LEFT || kind == JOIN_FULL)
            for (uint32_t i = 0; i < vs.len && !task->stop; i++)
                emit(task, out, key, wrap(vs.as.items[i], some_v), em_none());
    } else if (vs.len == 0) {
        if (kind == JOIN_RIGHT || kind == JOIN_FULL)
            for (uint32_t j = 0; j < ws.len && !task->stop; j++)
                emit(task, out, key, em_none(), wrap(ws.as.items[j], some_w));
    } else {
        for (uint32_t i = 0; i < vs.len && !task->stop; i++)
            for (uint32_t j = 0; j < ws.len && !task->stop; j++)
                emit(task, out, key, wrap(vs.as.items[i], some_v), wrap(ws.as.items[j], some_w));
    }
}

static void cogroup_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    join_kind kind = ((const cogrouped_rdd *)rdd)->kind;
    group_ctx ctx = {task, rdd, {0}, 0};
    em__table_init(&ctx.map, sizeof(cogroup_entry), NULL, EM_TABLE_STABLE_IDS); /* key order */
    em__shuffle_read(rdd->shuffles[0], index, read_side, &ctx);
    ctx.side = 1;
    em__shuffle_read(rdd->shuffles[1], index, read_side, &ctx);
    /* A side with no values for a key has an empty CompactBuffer. */
    const em_value empty = {.type = EM_T_LIST, .kind = EM_BUFFER};
    /* Spark's order (its AppendOnlyMap's) when the context keeps it, else insertion order. */
    size_t n = 0, i = 0;
    em_table_entry **order =
        rdd->shuffles[0]->spark_order ? em__spark_order_entries(&ctx.map, &n, task->arena) : NULL;
    uint32_t pos = 0;
    for (const cogroup_entry *e;
         !task->stop && (e = order ? (i < n ? (const cogroup_entry *)order[i++] : NULL)
                                   : (cogroup_entry *)em__table_next(&ctx.map, &pos));) {
        em_value vs = e->caps[0] ? e->base.value : empty;
        em_value ws = e->caps[1] ? e->other : empty;
        em_value key = em__table_key(&e->base);
        if (kind == COGROUP)
            emit(task, out, key, vs, ws);
        else
            emit_joined(task, out, kind, key, vs, ws);
    }
    em__table_clear(&ctx.map);
}

/* ---- subtractByKey: other's keys in a set, then this side's records streamed past it ---- */

static void read_key(em_value kv, void *ud)
{
    group_ctx *ctx = ud;
    if (ctx->task->stop || !em__require_pair(ctx->task, ctx->rdd, kv))
        return;
    bool is_new;
    em__table_upsert(&ctx->map, em_key(kv), em_value_hash(em_key(kv)), &is_new);
}

typedef struct {
    group_ctx group;
    em_sink *out;
} subtract_ctx;

static void push_unmatched(em_value kv, void *ud)
{
    subtract_ctx *ctx = ud;
    em_task *task = ctx->group.task;
    if (task->stop || !em__require_pair(task, ctx->group.rdd, kv))
        return;
    if (!em__table_find(&ctx->group.map, em_key(kv), em_value_hash(em_key(kv)))) {
        ctx->out->push(ctx->out, kv);
        em_arena_reset(task->scratch);
    }
}

static void subtract_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    subtract_ctx ctx = {{task, rdd, {0}, 1}, out};
    em__table_init(&ctx.group.map, sizeof(em_table_entry), NULL, 0);
    em__shuffle_read(rdd->shuffles[1], index, read_key, &ctx.group);
    em__shuffle_read(rdd->shuffles[0], index, push_unmatched, &ctx);
    em__table_clear(&ctx.group.map);
}

static const em_rdd_class cogrouped_class = {
    .type_name = "CoGroupedRDD",
    .compute = cogroup_compute,
};
static const em_rdd_class subtracted_class = {
    .type_name = "SubtractedRDD",
    .compute = subtract_compute,
};

/* Both parents hash-shuffled into num_partitions (default: the larger parent's count, as
 * Spark's default partitioner; for subtractByKey, rdd's own, as Spark's). */
static em_rdd *cogrouped_new(em_rdd *rdd, em_rdd *other, int num_partitions, join_kind kind,
                             const char *op)
{
    g_return_val_if_fail(rdd && other && rdd->sc == other->sc, NULL);
    if (num_partitions <= 0)
        num_partitions = MAX(kind == SUBTRACT ? rdd->num_partitions
                                              : MAX(rdd->num_partitions, other->num_partitions),
                             1);
    cogrouped_rdd *cg = EM__RDD_NEW(cogrouped_rdd, rdd->sc,
                                    kind == SUBTRACT ? &subtracted_class : &cogrouped_class, op,
                                    num_partitions, NULL, 0);
    cg->kind = kind;
    em_rdd *out = &cg->base;
    em__rdd_add_shuffle(out, em__shuffle_new(rdd, num_partitions, EM_PART_HASH, NULL));
    em__rdd_add_shuffle(out, em__shuffle_new(other, num_partitions, EM_PART_HASH, NULL));
    return out;
}

em_rdd *em_rdd_cogroup_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, COGROUP, "cogroup");
}

em_rdd *em_rdd_join_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, JOIN_INNER, "join");
}

em_rdd *em_rdd_left_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, JOIN_LEFT, "leftOuterJoin");
}

em_rdd *em_rdd_right_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, JOIN_RIGHT, "rightOuterJoin");
}

em_rdd *em_rdd_full_outer_join_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, JOIN_FULL, "fullOuterJoin");
}

em_rdd *em_rdd_subtract_by_key_n(em_rdd *rdd, em_rdd *other, int num_partitions)
{
    return cogrouped_new(rdd, other, num_partitions, SUBTRACT, "subtractByKey");
}
