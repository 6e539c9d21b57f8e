/* em_rdd itself: creation, reference counting, lineage, caching, the lineage dump, and the
 * compute entry point every operator goes through (core; operators live in rdd-*.c). */
#include "core-private.h"

#include <string.h>

em_rdd *em__rdd_alloc(size_t size, em_context *sc, const em_rdd_class *klass, const char *op,
                      int num_partitions, em_rdd *const *parents, int n_parents)
{
    g_assert(size >= sizeof(em_rdd));
    em_rdd *rdd = g_malloc0(size);
    rdd->refcount = 1;
    rdd->sc = sc;
    rdd->id = g_atomic_int_add(&sc->next_rdd_id, 1);
    rdd->klass = klass;
    rdd->op = op;
    rdd->num_partitions = num_partitions;
    if (n_parents) {
        rdd->parents = g_new(em_rdd *, n_parents);
        for (int i = 0; i < n_parents; i++)
            rdd->parents[i] = em_rdd_ref(parents[i]);
        rdd->n_parents = n_parents;
    }
    g_mutex_init(&rdd->cache_lock);
    return rdd;
}

em_rdd *em__rdd_new(em_context *sc, const em_rdd_class *klass, const char *op, int num_partitions,
                    em_rdd *const *parents, int n_parents)
{
    return em__rdd_alloc(sizeof(em_rdd), sc, klass, op, num_partitions, parents, n_parents);
}

void em__rdd_own(em_rdd *rdd, void *ud, GDestroyNotify destroy, const char *name)
{
    rdd->ud = ud;
    rdd->destroy = destroy;
    g_free(rdd->fn_name);
    rdd->fn_name = name ? g_strdup(name) : NULL;
}

void em__rdd_add_shuffle(em_rdd *rdd, em_shuffle *shuffle)
{
    rdd->shuffles = g_renew(em_shuffle *, rdd->shuffles, rdd->n_shuffles + 1);
    rdd->shuffles[rdd->n_shuffles++] = shuffle;
    shuffle->owner = rdd;
}

em_rdd *em_rdd_ref(em_rdd *rdd)
{
    g_return_val_if_fail(rdd != NULL, NULL);
    g_atomic_int_inc(&rdd->refcount);
    return rdd;
}

static void cached_part_free(em_cached_part *part)
{
    if (!part)
        return;
    em_values_free(part->vals);
    g_free(part->bytes);
    g_free(part->ends);
    g_free(part);
}

static void drop_cache(em_rdd *rdd)
{
    if (!rdd->cache)
        return;
    for (int p = 0; p < rdd->num_partitions; p++)
        cached_part_free(rdd->cache[p]);
    g_free(rdd->cache);
    rdd->cache = NULL;
}

void em_rdd_unref(em_rdd *rdd)
{
    if (!rdd || !g_atomic_int_dec_and_test(&rdd->refcount))
        return;
    if (rdd->klass->finalize)
        rdd->klass->finalize(rdd);
    if (rdd->destroy)
        rdd->destroy(rdd->ud);
    for (int i = 0; i < rdd->n_shuffles; i++)
        em__shuffle_free(rdd->shuffles[i]);
    g_free(rdd->shuffles);
    for (int i = 0; i < rdd->n_parents; i++)
        em_rdd_unref(rdd->parents[i]);
    g_free(rdd->parents);
    drop_cache(rdd);
    g_mutex_clear(&rdd->cache_lock);
    g_free(rdd->fn_name);
    g_free(rdd);
}

int em_rdd_num_partitions(const em_rdd *rdd) { return rdd->num_partitions; }
int em_rdd_id(const em_rdd *rdd) { return rdd->id; }
em_context *em_rdd_context(const em_rdd *rdd) { return rdd->sc; }

/* ---- Computing ---- */

void em__push_all(em_task *task, const em_value *items, size_t n, em_sink *out)
{
    em_arena *scratch = task->scratch;
    for (size_t i = 0; i < n && !task->stop; i++) {
        out->push(out, items[i]);
        em_arena_reset(scratch);
    }
}

typedef struct {
    em_sink base;
    em_values *vals;
} collect_sink;

static void collect_push(em_sink *s, em_value v)
{
    em__values_append_copy(((collect_sink *)s)->vals, v);
}

em_values *em__materialize(em_rdd *rdd, em_task *task, int index)
{
    collect_sink sink = {{collect_push, task, NULL}, em__values_new()};
    em__compute(rdd, task, index, &sink.base);
    if (task->stop) {
        em_values_free(sink.vals);
        return NULL;
    }
    return sink.vals;
}

/* The sink filling a cached partition: a string column while every record is a string (and
 * the bytes fit 32-bit offsets), em_values from the first other record on. */
typedef struct {
    em_sink base;
    em_cached_part *part;
    size_t cap_bytes, cap_ends;
} cache_sink;

/* The column turned into em_values, for a record it cannot hold. */
static void column_to_values(em_cached_part *part)
{
    em_values *vals = em__values_new();
    for (size_t i = 0, start = 0; i < part->n; start = part->ends[i++])
        em__values_append_copy(vals, em_strn(part->bytes + start, part->ends[i] - start));
    g_free(part->bytes);
    g_free(part->ends);
    part->bytes = NULL;
    part->ends = NULL;
    part->nbytes = 0;
    part->vals = vals;
}

static void cache_push(em_sink *s, em_value v)
{
    cache_sink *c = (cache_sink *)s;
    em_cached_part *part = c->part;
    if (!part->vals && v.type == EM_T_STR && part->nbytes + v.len <= G_MAXUINT32) {
        /* Doubling: a large block grows in place (mremap) and only its written pages count. */
        if (part->nbytes + v.len > c->cap_bytes) {
            c->cap_bytes = MAX(MAX(c->cap_bytes * 2, (size_t)4096), part->nbytes + v.len);
            part->bytes = g_realloc(part->bytes, c->cap_bytes);
        }
        if (part->n == c->cap_ends) {
            c->cap_ends = MAX(c->cap_ends * 2, (size_t)256);
            part->ends = g_renew(uint32_t, part->ends, c->cap_ends);
        }
        if (v.len)
            memcpy(part->bytes + part->nbytes, v.as.s, v.len);
        part->nbytes += v.len;
        part->ends[part->n++] = (uint32_t)part->nbytes;
        return;
    }
    if (!part->vals)
        column_to_values(part);
    em__values_append_copy(part->vals, v);
    part->n++;
}

/* Computes partition index of rdd into a new cached partition; NULL if the task stopped. */
static em_cached_part *cache_compute(em_rdd *rdd, em_task *task, int index)
{
    cache_sink sink = {{cache_push, task, NULL}, g_new0(em_cached_part, 1), 0, 0};
    rdd->klass->compute(rdd, task, index, &sink.base);
    em_cached_part *part = sink.part;
    if (task->stop) {
        cached_part_free(part);
        return NULL;
    }
    if (!part->vals) { /* give back the doubling's slack */
        part->bytes = g_realloc(part->bytes, part->nbytes ? part->nbytes : 1);
        part->ends = g_renew(uint32_t, part->ends, part->n ? part->n : 1);
    }
    return part;
}

/* A cached partition is computed once; two tasks racing for it both compute it and the first
 * one stored wins, which keeps the lock out of the compute. */
static em_cached_part *cached_partition(em_rdd *rdd, em_task *task, int index)
{
    g_mutex_lock(&rdd->cache_lock);
    em_cached_part *part = rdd->cache ? rdd->cache[index] : NULL;
    g_mutex_unlock(&rdd->cache_lock);
    if (part)
        return part;
    em_cached_part *mine = cache_compute(rdd, task, index);
    if (!mine)
        return NULL;
    g_mutex_lock(&rdd->cache_lock);
    if (!rdd->cache)
        rdd->cache = g_new0(em_cached_part *, rdd->num_partitions);
    if (!rdd->cache[index]) {
        rdd->cache[index] = mine;
        mine = NULL;
    }
    part = rdd->cache[index];
    g_mutex_unlock(&rdd->cache_lock);
    cached_part_free(mine);
    return part;
}

void em__compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    if (rdd->cached) {
        em_cached_part *part = cached_partition(rdd, task, index);
        if (!part)
            return;
        if (part->vals) {
            em__push_all(task, part->vals->items, part->vals->n, out);
            return;
        }
        em_arena *scratch = task->scratch;
        for (size_t i = 0, start = 0; i < part->n && !task->stop; start = part->ends[i++]) {
            out->push(out, em_strn(part->bytes + start, part->ends[i] - start));
            em_arena_reset(scratch);
        }
        return;
    }
    rdd->klass->compute(rdd, task, index, out);
}

/* Bytes of the cached partitions (records and their arenas); *parts gets how many there are. */
static size_t cached_bytes(const em_rdd *rdd, int *parts)
{
    size_t bytes = 0;
    *parts = 0;
    g_mutex_lock((GMutex *)&rdd->cache_lock);
    for (int p = 0; rdd->cache && p < rdd->num_partitions; p++) {
        const em_cached_part *part = rdd->cache[p];
        if (!part)
            continue;
        (*parts)++;
        if (part->vals)
            bytes += em_arena_bytes(part->vals->arena) + part->n * sizeof(em_value);
        else
            bytes += part->nbytes + part->n * sizeof *part->ends;
    }
    g_mutex_unlock((GMutex *)&rdd->cache_lock);
    return bytes;
}

size_t em__rdd_retained_bytes(em_rdd *rdd)
{
    int parts;
    return (rdd->klass->data_bytes ? rdd->klass->data_bytes(rdd) : 0) + cached_bytes(rdd, &parts);
}

/* ---- Persistence ---- */

em_rdd *em_rdd_cache(em_rdd *rdd)
{
    rdd->cached = true;
    return rdd;
}

em_rdd *em_rdd_persist(em_rdd *rdd) { return em_rdd_cache(rdd); }

void em_rdd_unpersist(em_rdd *rdd)
{
    if (rdd->checkpointed)
        return; /* its cached partitions are its only data */
    g_mutex_lock(&rdd->cache_lock);
    rdd->cached = false;
    drop_cache(rdd);
    g_mutex_unlock(&rdd->cache_lock);
}

bool em_rdd_is_cached(const em_rdd *rdd) { return rdd->cached; }

bool em__rdd_checkpoint(em_rdd *rdd, GError **err)
{
    if (rdd->checkpointed)
        return true;
    em_rdd_cache(rdd);
    if (em_rdd_count(rdd, err) < 0)
        return false;
    /* Every partition is cached now: compute will never look below this RDD again. */
    for (int i = 0; i < rdd->n_shuffles; i++)
        em__shuffle_free(rdd->shuffles[i]);
    g_free(rdd->shuffles);
    rdd->shuffles = NULL;
    rdd->n_shuffles = 0;
    for (int i = 0; i < rdd->n_parents; i++)
        em_rdd_unref(rdd->parents[i]);
    g_free(rdd->parents);
    rdd->parents = NULL;
    rdd->n_parents = 0;
    rdd->checkpointed = true;
    return true;
}

/* ---- Lineage dump: Spark's RDD.toDebugString, line for line ----
 *   (2) ShuffledRDD[2] at reduceByKey (em_sum) []
 *    +-(2) MapPartitionsRDD[1] at map (em_pair_one) []
 *       |  ParallelCollectionRDD[0] at parallelize []
 * Dependencies are the narrow parents, then the shuffles. Unlike Spark, which prints the storage
 * level of the RDD toDebugString was called on against every line, each line shows its own. */

/* Spark's Utils.bytesToString: "424.0 B", "2.5 KiB", ... */
static void append_bytes(GString *out, double size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    for (; u < 6 && size >= 2.0 * 1024; u++)
        size /= 1024;
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, "%s %s", g_ascii_formatd(num, sizeof num, "%.1f", size), units[u]);
}

/* debugSelf: the RDD's line after first, then, when some of its partitions are cached, the
 * storage line after next. Each line starts with '\n'; the caller drops the very first one. */
static void debug_self(GString *out, const em_rdd *rdd, const char *first, const char *next)
{
    g_string_append_printf(out, "\n%s%s[%d] at %s", first, rdd->klass->type_name, rdd->id,
                           rdd->op);
    if (rdd->fn_name)
        g_string_append_printf(out, " (%s)", rdd->fn_name);
    g_string_append(out, rdd->cached ? " [Memory Deserialized 1x Replicated]" : " []");
    int n;
    size_t bytes = cached_bytes(rdd, &n);
    if (n) {
        g_string_append_printf(out, "\n%s    CachedPartitions: %d; MemorySize: ", next, n);
        append_bytes(out, (double)bytes);
        g_string_append(out, "; DiskSize: 0.0 B");
    }
}

/* The prefix under "(N)": the '|' below its middle. */
static char *bar_under(const char *lead, int num_partitions)
{
    int width = g_snprintf(NULL, 0, "(%d)", num_partitions), left = (width - 1) / 2;
    return g_strdup_printf("%s%*s|%*s", lead, left, "", width - left, "");
}

static void debug_children(GString *out, const em_rdd *rdd, const char *prefix);

/* shuffleDebugString: "+-(N)" where prefix's trailing "|  " was. */
static void debug_shuffle(GString *out, const em_rdd *rdd, const char *prefix, bool last)
{
    size_t len = strlen(prefix), keep = len;
    while (keep > 0 && prefix[keep - 1] == ' ')
        keep--;
    if (keep < len && keep > 0 && prefix[keep - 1] == '|')
        len = keep - 1;
    g_autofree char *self = g_strndup(prefix, len);
    g_autofree char *lead = g_strconcat(self, last ? "  " : "| ", NULL);
    g_autofree char *next = bar_under(lead, rdd->num_partitions);
    g_autofree char *first = g_strdup_printf("%s+-(%d) ", self, rdd->num_partitions);
    debug_self(out, rdd, first, next);
    debug_children(out, rdd, next);
}

static void debug_children(GString *out, const em_rdd *rdd, const char *prefix)
{
    int n = rdd->n_parents + rdd->n_shuffles;
    for (int i = 0; i < n; i++) {
        if (i < rdd->n_parents) {
            debug_self(out, rdd->parents[i], prefix, prefix);
            debug_children(out, rdd->parents[i], prefix);
        } else {
            debug_shuffle(out, rdd->shuffles[i - rdd->n_parents]->parent, prefix, i == n - 1);
        }
    }
}

char *em_rdd_debug_string(em_rdd *rdd)
{
    GString *out = g_string_new(NULL);
    g_autofree char *first = g_strdup_printf("(%d) ", rdd->num_partitions);
    g_autofree char *next = bar_under("", rdd->num_partitions);
    g_autofree char *next_info = g_strconcat(next, " ", NULL);
    debug_self(out, rdd, first, next_info);
    debug_children(out, rdd, next);
    g_string_erase(out, 0, 1);
    return g_string_free(out, FALSE);
}

/* ---- em_values ---- */

em_values *em__values_new(void)
{
    em_values *vals = g_new0(em_values, 1);
    vals->arena = em_arena_new();
    return vals;
}

/* Capacity is implicit: 16, then the next power of two, so no field is needed. */
void em__values_append(em_values *vals, em_value v)
{
    if (vals->n == 0)
        vals->items = g_new(em_value, 16);
    else if (vals->n >= 16 && (vals->n & (vals->n - 1)) == 0)
        vals->items = g_renew(em_value, vals->items, vals->n * 2);
    vals->items[vals->n++] = v;
}

void em__values_append_copy(em_values *vals, em_value v)
{
    em__values_append(vals, em_value_copy(v, vals->arena));
}

void em_values_free(em_values *vals)
{
    if (!vals)
        return;
    g_free(vals->items);
    em_arena_free(vals->arena);
    g_free(vals);
}

static int compare_values(const void *a, const void *b)
{
    return em_value_compare(*(const em_value *)a, *(const em_value *)b);
}

em_values *em_values_sort(em_values *vals)
{
    if (vals->n > 1)
        qsort(vals->items, vals->n, sizeof *vals->items, compare_values);
    return vals;
}

char *em_values_to_string(const em_values *vals)
{
    GString *out = g_string_new("[");
    for (size_t i = 0; i < vals->n; i++) {
        if (i)
            g_string_append(out, ", ");
        em_value_format(vals->items[i], out);
    }
    g_string_append_c(out, ']');
    return g_string_free(out, FALSE);
}
