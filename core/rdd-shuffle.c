/* Shuffles: the map stage that buckets (and, with an aggregator, combines) each parent
 * partition's records by reducer, the reduce-side read, and the by-key aggregations built on
 * them: reduceByKey, groupByKey, combineByKey, aggregateByKey, foldByKey, distinct, repartition
 * and partitionBy (Spark's ShuffledRDD).
 * Map outputs stay in memory with the shuffle until the RDD reading it is freed, so a second
 * job over the same RDD does not shuffle again. */
#include "core-private.h"
#include "spark-order.h"

#include <string.h>

/* ---- Map outputs ---- */

typedef struct {
    em_value *items;
    size_t n, cap;
} bucket;

static void bucket_add(bucket *b, em_value v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->items = g_renew(em_value, b->items, b->cap);
    }
    b->items[b->n++] = v;
}

static void output_clear(em_map_output *out, int reducers)
{
    if (out->buckets)
        for (int r = 0; r < reducers; r++)
            g_free(out->buckets[r]);
    g_free(out->buckets);
    g_free(out->counts);
    em_arena_free(out->arena);
    memset(out, 0, sizeof *out);
}

em_shuffle *em__shuffle_new(em_rdd *parent, int num_reducers, em_partitioner partitioner,
                            const em_aggregator *agg)
{
    em_shuffle *sh = g_new0(em_shuffle, 1);
    sh->id = g_atomic_int_add(&parent->sc->next_shuffle_id, 1);
    sh->parent = em_rdd_ref(parent);
    sh->num_reducers = num_reducers;
    sh->partitioner = partitioner;
    sh->spark_order = parent->sc->spark_order;
    sh->arena = em_arena_new();
    if (agg) {
        sh->has_agg = true;
        sh->agg = *agg;
        sh->agg.zero = em_value_copy(agg->zero, sh->arena);
    }
    g_mutex_init(&sh->lock);
    return sh;
}

static void drop_outputs(em_shuffle *sh)
{
    for (int m = 0; sh->outputs && m < sh->num_maps; m++)
        output_clear(&sh->outputs[m], sh->num_reducers);
    g_free(sh->outputs);
    sh->outputs = NULL;
    sh->ready = false;
}

/* What Spark's ContextCleaner does for shuffles no RDD will read again, done as soon as the
 * caller knows: the map outputs go; a later job that needs them runs the map stage again. */
static void release_lineage(em_rdd *rdd, GHashTable *seen)
{
    if (!g_hash_table_add(seen, rdd))
        return;
    for (int i = 0; i < rdd->n_shuffles; i++) {
        em_shuffle *sh = rdd->shuffles[i];
        g_mutex_lock(&sh->lock);
        drop_outputs(sh);
        g_mutex_unlock(&sh->lock);
        release_lineage(sh->parent, seen);
    }
    for (int i = 0; i < rdd->n_parents; i++)
        release_lineage(rdd->parents[i], seen);
}

void em__rdd_release_shuffles(em_rdd *rdd)
{
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    release_lineage(rdd, seen);
    g_hash_table_unref(seen);
}

void em__shuffle_free(em_shuffle *sh)
{
    if (!sh)
        return;
    drop_outputs(sh);
    em_rdd_unref(sh->parent);
    em_arena_free(sh->arena);
    g_mutex_clear(&sh->lock);
    g_free(sh);
}

static inline int reducer_of_hash(const em_shuffle *sh, uint64_t hash)
{
    return em__hash_partition(hash, sh->num_reducers);
}

/* The reducer of a key under the hash partitioner: Spark's when the shuffle keeps its order. */
static inline int reducer_of_key(const em_shuffle *sh, em_value key)
{
    if (sh->spark_order)
        return em_spark_partition(key, sh->num_reducers);
    return reducer_of_hash(sh, em_value_hash(key));
}

static int range_reducer(const em_shuffle *sh, em_value key)
{
    /* First bound >= key, by binary search; descending order mirrors the index. */
    int lo = 0, hi = sh->num_reducers - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (em_value_compare(sh->bounds[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return sh->descending ? sh->num_reducers - 1 - lo : lo;
}

int em__key_partition(const em_context *sc, em_value key, int n)
{
    if (sc->spark_order)
        return em_spark_partition(key, n);
    return em__hash_partition(em_value_hash(key), n);
}

int em__shuffle_partition_of(const em_shuffle *sh, em_value key)
{
    if (sh->partitioner == EM_PART_RANGE)
        return range_reducer(sh, key);
    return reducer_of_key(sh, key);
}

/* ---- Combining ---- */

/* merge_value / merge_combiners, with em_sum over two ints done in place: the word count's
 * inner loop should not pay an indirect call per word. */
static inline em_value merge(em_reduce_fn fn, em_value a, em_value b, void *ud)
{
    if (fn == em_sum && a.type == EM_T_INT && b.type == EM_T_INT)
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i));
    return fn(a, b, ud);
}

static inline em_value create_combiner(const em_aggregator *agg, em_value v)
{
    if (agg->create)
        return agg->create(v, agg->ud);
    if (agg->has_zero)
        return merge(agg->merge_value, agg->zero, v, agg->ud);
    return v;
}

/* ---- The map stage ---- */

/* The combiner's software pipeline: a record waiting for its upsert while its slot is fetched.
 * Only (string key of up to 16 bytes, int value) records summed by em_sum wait, with copies of
 * their key bytes, so nothing they hold depends on the scratch arena or calls user code. */
enum { PIPELINE = 16, PIPELINE_KEY = 16 };

typedef struct {
    uint64_t hash;
    int64_t val;
    uint32_t len;
    char bytes[PIPELINE_KEY];
} pending;

typedef struct {
    em_sink base;
    em_shuffle *sh;
    em_map_output *out;
    bucket *buckets;
    em_table combiner; /* with an aggregator: key -> combiner (flat), keys in the output arena */
    int next_rr;       /* round robin position */
    /* The pipeline: used while every combiner is an int summed by em_sum (sum_ints). */
    bool sum_ints;
    unsigned head, waiting; /* next ring position; records waiting */
    pending ring[PIPELINE];
} writer_sink;

static void combine(writer_sink *w, em_value key, em_value val, uint64_t hash)
{
    em_task *task = w->base.task;
    const em_aggregator *agg = &w->sh->agg;
    bool is_new;
    em_table_entry *e = em__table_upsert(&w->combiner, key, hash, &is_new);
    task->cur_rdd = w->sh->owner;
    em_value c =
        is_new ? create_combiner(agg, val) : merge(agg->merge_value, e->value, val, agg->ud);
    /* The user functions cannot reach the combiner, so e is still valid. Combiners live in
     * the task's arena: only the final ones are copied into the map output, which lives as
     * long as the shuffle, so the intermediate ones of growing combiners are not kept. */
    e->value = em__value_copy(c, task->arena);
}

/* A waiting record's upsert: the same as combine() does for it, without the calls. */
static inline void apply_pending(writer_sink *w, const pending *p)
{
    bool is_new;
    em_table_entry *e =
        em__table_upsert(&w->combiner, em_strn(p->bytes, p->len), p->hash, &is_new);
    const em_aggregator *agg = &w->sh->agg;
    int64_t base = is_new ? (agg->has_zero ? agg->zero.as.i : 0) : e->value.as.i;
    e->value = em_int((int64_t)((uint64_t)base + (uint64_t)p->val));
}

/* Upserts every waiting record, oldest first: before a record that cannot wait, and at the end. */
static void drain_pending(writer_sink *w)
{
    for (; w->waiting; w->waiting--)
        apply_pending(w, &w->ring[(w->head + PIPELINE - w->waiting) % PIPELINE]);
}

/* n (<= PIPELINE_KEY) bytes copied with fixed-size moves (two overlapping ones). */
static inline void copy_key(char *dst, const char *src, uint32_t n)
{
    if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

static void push_combine_pair(em_sink *s, em_value key, em_value val)
{
    writer_sink *w = (writer_sink *)s;
    if (w->sum_ints && key.type == EM_T_STR && key.len <= PIPELINE_KEY && val.type == EM_T_INT) {
        /* Hash now and fetch the slot; upsert PIPELINE records later, when it has arrived,
         * in the same order as without the pipeline (so the same table). */
        pending *p = &w->ring[w->head];
        if (w->waiting == PIPELINE)
            apply_pending(w, p);
        else
            w->waiting++;
        p->hash = em__hash_bytes(key.as.s, key.len);
        p->val = val.as.i;
        p->len = key.len;
        copy_key(p->bytes, key.as.s, key.len);
        em__table_prefetch(&w->combiner, p->hash);
        w->head = (w->head + 1) % PIPELINE;
        return;
    }
    drain_pending(w);
    if (val.type != EM_T_INT)
        w->sum_ints = false; /* a combiner may now hold anything: no more waiting */
    /* String keys (the common case) hash without the type switch's call. */
    uint64_t hash = key.type == EM_T_STR ? em__hash_bytes(key.as.s, key.len) : em_value_hash(key);
    combine(w, key, val, hash);
}

static void push_combine(em_sink *s, em_value v)
{
    writer_sink *w = (writer_sink *)s;
    if (em__require_pair(s->task, w->sh->owner, v))
        push_combine_pair(s, em_key(v), em_val(v));
}

static void push_bucket(em_sink *s, em_value v)
{
    writer_sink *w = (writer_sink *)s;
    const em_shuffle *sh = w->sh;
    int r;
    switch (sh->partitioner) {
    case EM_PART_ROUND_ROBIN:
        r = w->next_rr;
        w->next_rr = (w->next_rr + 1) % sh->num_reducers;
        break;
    case EM_PART_RANGE:
        if (!em__require_pair(s->task, sh->owner, v))
            return;
        r = range_reducer(sh, em_key(v));
        break;
    default: r = reducer_of_key(sh, em_is_pair(v) ? em_key(v) : v); break;
    }
    bucket_add(&w->buckets[r], em_value_copy(v, w->out->arena));
}

static void map_task(em_task *task, void *ud)
{
    em_shuffle *sh = ud;
    int R = sh->num_reducers;
    em_map_output *out = &sh->outputs[task->partition];
    out->arena = em_arena_new();
    writer_sink w = {.base = {sh->has_agg ? push_combine : push_bucket, task,
                              sh->has_agg ? push_combine_pair : NULL},
                     .sh = sh,
                     .out = out};
    w.buckets = g_new0(bucket, R);
    /* Spark starts each map partition's round robin at a position of its own; a fixed function
     * of the partition index keeps runs reproducible. */
    w.next_rr = (int)((uint64_t)task->partition * 2654435761u % (uint64_t)R);
    em__table_init(&w.combiner, sizeof(em_table_entry), out->arena, 0);
    const em_aggregator *agg = &sh->agg;
    w.sum_ints = sh->has_agg && agg->merge_value == em_sum && !agg->create &&
                 (!agg->has_zero || agg->zero.type == EM_T_INT);
    em__compute(sh->parent, task, task->partition, &w.base);
    drain_pending(&w);
    if (sh->has_agg) {
        /* Keys in slot order; a short key's bytes are copied out of the entry. */
        uint32_t pos = 0;
        for (em_table_entry *e; (e = em__table_next(&w.combiner, &pos));) {
            em_value key = em__value_copy(em__table_key(e), out->arena);
            bucket_add(&w.buckets[reducer_of_key(sh, key)],
                       em_pair_in(out->arena, key, em__value_copy(e->value, out->arena)));
        }
        em__table_clear(&w.combiner);
        /* Spark's sort-based writer emits a combined partition ordered by key hashCode. */
        for (int r = 0; sh->spark_order && r < R; r++)
            em__spark_sort_by_hash(w.buckets[r].items, w.buckets[r].n, task->scratch);
    }
    out->buckets = g_new(em_value *, R);
    out->counts = g_new(size_t, R);
    for (int r = 0; r < R; r++) {
        out->buckets[r] = w.buckets[r].items;
        out->counts[r] = w.buckets[r].n;
    }
    g_free(w.buckets);
}

bool em__shuffle_prepare(em_shuffle *sh, GError **err)
{
    g_mutex_lock(&sh->lock);
    bool ok = sh->ready;
    if (!ok && em__prepare_lineage(sh->parent, err)) {
        sh->num_maps = sh->parent->num_partitions;
        sh->outputs = g_new0(em_map_output, sh->num_maps);
        ok = em__run_stage(sh->parent, NULL, 0, map_task, sh, err);
        if (ok)
            sh->ready = true;
        else
            drop_outputs(sh);
    }
    g_mutex_unlock(&sh->lock);
    return ok;
}

void em__shuffle_read(em_shuffle *sh, int r, void (*fn)(em_value v, void *ud), void *ud)
{
    for (int m = 0; m < sh->num_maps; m++) {
        const em_map_output *out = &sh->outputs[m];
        for (size_t i = 0; i < out->counts[r]; i++)
            fn(out->buckets[r][i], ud);
    }
}

/* ---- The reduce side ---- */

typedef enum { READ_PLAIN, READ_AGGREGATE, READ_GROUP } read_mode;

typedef struct {
    em_rdd base;
    read_mode mode;
    em_aggregator agg; /* READ_AGGREGATE: the shuffle's, for the reduce side */
    bool combined;     /* records are (k, combiner) from a map-side combine */
    bool pairs;        /* READ_PLAIN: records must be (k, v) pairs (partitionBy) */
} shuffled_rdd;

/* A key's values while grouping: the growing CompactBuffer is the entry's value. */
typedef struct {
    em_table_entry base;
    uint32_t cap;
} group_entry;

typedef struct {
    em_task *task;
    const em_rdd *rdd;
    const shuffled_rdd *st;
    em_table map; /* keys as read from the map outputs, which outlive the task */
} reduce_ctx;

static void read_aggregate(em_value kv, void *ud)
{
    reduce_ctx *ctx = ud;
    em_task *task = ctx->task;
    if (task->stop)
        return;
    const em_aggregator *agg = &ctx->st->agg;
    em_value key = em_key(kv);
    bool is_new;
    em_table_entry *e = em__table_upsert(&ctx->map, key, em_value_hash(key), &is_new);
    task->cur_rdd = ctx->rdd;
    em_value c;
    if (ctx->st->combined)
        c = is_new ? em_val(kv) : merge(agg->merge_combiners, e->value, em_val(kv), agg->ud);
    else
        c = is_new ? create_combiner(agg, em_val(kv))
                   : merge(agg->merge_value, e->value, em_val(kv), agg->ud);
    e->value = em__value_copy(c, task->arena);
    em_arena_reset(task->scratch);
}

static void read_group(em_value kv, void *ud)
{
    reduce_ctx *ctx = ud;
    /* Without a map-side combine nothing has looked at the records yet. */
    if (ctx->task->stop || !em__require_pair(ctx->task, ctx->rdd, kv))
        return;
    em_value key = em_key(kv);
    bool is_new;
    group_entry *g = (group_entry *)em__table_upsert(&ctx->map, key, em_value_hash(key), &is_new);
    em__list_append(&g->base.value, &g->cap, em_val(kv), ctx->task->arena);
}

typedef struct {
    em_task *task;
    em_sink *out;
    const em_rdd *pairs_of; /* the RDD to name when a record is not a pair, or NULL */
} plain_ctx;

static void read_plain(em_value v, void *ud)
{
    plain_ctx *ctx = ud;
    if (ctx->task->stop || (ctx->pairs_of && !em__require_pair(ctx->task, ctx->pairs_of, v)))
        return;
    ctx->out->push(ctx->out, v);
    em_arena_reset(ctx->task->scratch);
}

static void shuffled_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const shuffled_rdd *st = (const shuffled_rdd *)rdd;
    em_shuffle *sh = rdd->shuffles[0];
    if (st->mode == READ_PLAIN) {
        plain_ctx ctx = {task, out, st->pairs ? rdd : NULL};
        em__shuffle_read(sh, index, read_plain, &ctx);
        return;
    }
    reduce_ctx ctx = {task, rdd, st, {0}};
    /* Insertion order: a reduce task's output order is its input order. */
    em__table_init(&ctx.map, st->mode == READ_GROUP ? sizeof(group_entry) : sizeof(em_table_entry),
                   NULL, EM_TABLE_STABLE_IDS);
    em__shuffle_read(sh, index, st->mode == READ_GROUP ? read_group : read_aggregate, &ctx);
    if (sh->spark_order && sh->partitioner == EM_PART_HASH) {
        /* Spark's order: its AppendOnlyMap's, over the keys in the same insertion order. */
        size_t n;
        em_table_entry **entries = em__spark_order_entries(&ctx.map, &n, task->arena);
        for (size_t i = 0; i < n && !task->stop; i++) {
            out->push(out, em_pair(em__table_key(entries[i]), entries[i]->value));
            em_arena_reset(task->scratch);
        }
        em__table_clear(&ctx.map);
        return;
    }
    uint32_t pos = 0;
    for (em_table_entry *e; !task->stop && (e = em__table_next(&ctx.map, &pos));) {
        /* A short key's bytes are in the entry, which lives until the clear below. */
        out->push(out, em_pair(em__table_key(e), e->value));
        em_arena_reset(task->scratch);
    }
    em__table_clear(&ctx.map);
}

static const em_rdd_class shuffled_class = {
    .type_name = "ShuffledRDD",
    .compute = shuffled_compute,
};

em_rdd *em__shuffled_new(em_rdd *parent, const char *op, int num_partitions,
                         em_partitioner partitioner, const em_aggregator *agg, bool map_side,
                         bool group)
{
    if (num_partitions <= 0)
        num_partitions = parent->num_partitions > 0 ? parent->num_partitions : 1;
    shuffled_rdd *st =
        EM__RDD_NEW(shuffled_rdd, parent->sc, &shuffled_class, op, num_partitions, NULL, 0);
    st->mode = group ? READ_GROUP : agg ? READ_AGGREGATE : READ_PLAIN;
    st->combined = agg && map_side;
    em_shuffle *sh = em__shuffle_new(parent, num_partitions, partitioner, map_side ? agg : NULL);
    if (agg) {
        st->agg = *agg;
        st->agg.zero = sh->agg.zero; /* the shuffle's copy */
        if (!map_side)
            st->agg.zero = em_value_copy(agg->zero, sh->arena);
    }
    em__rdd_add_shuffle(&st->base, sh);
    return &st->base;
}

em_rdd *em_rdd_reduce_by_key_full(em_rdd *rdd, em_reduce_fn fn, void *ud, GDestroyNotify destroy,
                                  const char *name, int num_partitions)
{
    em_aggregator agg = {.merge_value = fn, .merge_combiners = fn, .ud = ud};
    em_rdd *out =
        em__shuffled_new(rdd, "reduceByKey", num_partitions, EM_PART_HASH, &agg, true, false);
    em__rdd_own(out, ud, destroy, name);
    return out;
}

em_rdd *em_rdd_group_by_key_n(em_rdd *rdd, int num_partitions)
{
    /* As Spark: no map-side combine, it would not shrink anything. */
    return em__shuffled_new(rdd, "groupByKey", num_partitions, EM_PART_HASH, NULL, false, true);
}

em_rdd *em_rdd_combine_by_key_full(em_rdd *rdd, em_map_fn create, em_reduce_fn merge_value,
                                   em_reduce_fn merge_combiners, void *ud, GDestroyNotify destroy,
                                   const char *name, int num_partitions)
{
    em_aggregator agg = {.create = create,
                         .merge_value = merge_value,
                         .merge_combiners = merge_combiners,
                         .ud = ud};
    em_rdd *out =
        em__shuffled_new(rdd, "combineByKey", num_partitions, EM_PART_HASH, &agg, true, false);
    em__rdd_own(out, ud, destroy, name);
    return out;
}

em_rdd *em_rdd_aggregate_by_key_full(em_rdd *rdd, em_value zero, em_reduce_fn seq,
                                     em_reduce_fn comb, void *ud, GDestroyNotify destroy,
                                     const char *name, int num_partitions)
{
    em_aggregator agg = {.merge_value = seq,
                         .merge_combiners = comb,
                         .ud = ud,
                         .has_zero = true,
                         .zero = zero};
    em_rdd *out =
        em__shuffled_new(rdd, "aggregateByKey", num_partitions, EM_PART_HASH, &agg, true, false);
    em__rdd_own(out, ud, destroy, name);
    return out;
}

em_rdd *em_rdd_fold_by_key_full(em_rdd *rdd, em_value zero, em_reduce_fn fn, void *ud,
                                GDestroyNotify destroy, const char *name, int num_partitions)
{
    em_aggregator agg = {.merge_value = fn,
                         .merge_combiners = fn,
                         .ud = ud,
                         .has_zero = true,
                         .zero = zero};
    em_rdd *out =
        em__shuffled_new(rdd, "foldByKey", num_partitions, EM_PART_HASH, &agg, true, false);
    em__rdd_own(out, ud, destroy, name);
    return out;
}

/* Spark's distinct: map(x => (x, null)).reduceByKey((a, _) => a).map(_._1), so duplicates are
 * dropped on the map side before the shuffle. */
static em_value pair_with_null(em_value v, void *ud)
{
    (void)ud;
    return em_pair(v, em_null());
}

static em_value keep_first(em_value a, em_value b, void *ud)
{
    (void)b, (void)ud;
    return a;
}

em_rdd *em_rdd_distinct_n(em_rdd *rdd, int num_partitions)
{
    em_rdd *pairs = em_rdd_map_full(rdd, pair_with_null, NULL, NULL, NULL);
    em_rdd *firsts =
        em_rdd_reduce_by_key_full(pairs, keep_first, NULL, NULL, NULL, num_partitions);
    em_rdd *out = em_rdd_keys(firsts);
    pairs->op = firsts->op = out->op = "distinct";
    em_rdd_unref(pairs);
    em_rdd_unref(firsts);
    return out;
}

em_rdd *em_rdd_repartition(em_rdd *rdd, int num_partitions)
{
    return em__shuffled_new(rdd, "repartition", num_partitions, EM_PART_ROUND_ROBIN, NULL, false,
                            false);
}

em_rdd *em_rdd_partition_by(em_rdd *rdd, int num_partitions)
{
    em_rdd *out =
        em__shuffled_new(rdd, "partitionBy", num_partitions, EM_PART_HASH, NULL, false, false);
    ((shuffled_rdd *)out)->pairs = true;
    return out;
}
