/* mapWithState (Spark's MapWithStateDStream with a StateSpec). The state lives in tables owned
 * by the stream, one per state partition, mutated in place by the batch's task for that
 * partition: a batch costs its own keys, not the whole state. Under a timeout each table keeps
 * its entries in a list ordered by last update, so idle keys are found from the oldest end
 * without a scan.
 * Keys and states live in the table's arena, compacted when garbage outweighs live data.
 * A batch is all or nothing: each table logs the entries a batch touches (their key, state and
 * update time before it, by reference: nothing is freed or compacted until the batch is
 * committed), and a failed batch is undone from the log. */
#include "checkpoint-file.h"
#include "streaming-private.h"

/* ---- One state partition's table ---- */

/* An entry of core's em_table (stable ids): key and state, when it was last updated, and its
 * links in the update-order list. */
typedef struct {
    em_table_entry base; /* key; value: the state */
    em_time updated;
    uint32_t prev, next; /* update-order list: entry id + 1, 0 none */
    uint32_t logged;     /* the table's batch number when the undo log got this entry */
} st_entry;

/* How to undo a batch's change to one key: its entry as it was before the batch. */
typedef struct {
    em_value key;   /* the table's stored form (a short string's bytes are in it) */
    em_value state; /* in the table's arena, alive until the batch is committed */
    uint64_t hash;
    em_time updated;
    bool existed;
} undo_entry;

typedef struct {
    em_table table; /* key -> st_entry, keys copied into arena */
    bool ordered;   /* keep the update-order list (only a timeout reads it) */
    uint32_t oldest, newest;
    em_arena *arena;
    size_t payload; /* bytes of live keys' and states' payload */
    uint32_t batch; /* batches applied, for st_entry.logged */
    GArray *undo;   /* undo_entry: what the uncommitted batch changed, in order */
    /* Incremental checkpoints: the keys changed (set, timed out, removed) since the last
     * checkpoint, kept once the stream has written a full one. Their own arena: the table's
     * is compacted under them. */
    bool tracking;
    em_table dirty;
    em_arena *dirty_arena;
} state_table;

static inline st_entry *entry_at(const state_table *t, uint32_t id)
{
    return (st_entry *)em__table_at(&t->table, id);
}

static inline uint32_t entry_id(const state_table *t, const st_entry *e)
{
    return em__table_id(&t->table, &e->base);
}

static void table_init(state_table *t, bool ordered)
{
    memset(t, 0, sizeof *t);
    t->ordered = ordered;
    t->arena = em_arena_new();
    em__table_init(&t->table, sizeof(st_entry), t->arena, EM_TABLE_STABLE_IDS);
    em__table_reserve(&t->table, 512);
    t->undo = g_array_new(FALSE, FALSE, sizeof(undo_entry));
}

static void dirty_reset(state_table *t)
{
    if (t->dirty_arena) {
        em__table_clear(&t->dirty);
        em_arena_free(t->dirty_arena);
    }
    t->dirty_arena = em_arena_new();
    em__table_init(&t->dirty, sizeof(em_table_entry), t->dirty_arena, 0);
}

static void mark_dirty(state_table *t, em_value key)
{
    if (!t->tracking)
        return;
    bool is_new;
    em__table_upsert(&t->dirty, key, em_value_hash(key), &is_new);
}

static void table_clear(state_table *t)
{
    em__table_clear(&t->table);
    em_arena_free(t->arena);
    g_array_unref(t->undo);
    if (t->dirty_arena) {
        em__table_clear(&t->dirty);
        em_arena_free(t->dirty_arena);
    }
}

static size_t table_bytes(const state_table *t)
{
    return em_arena_bytes(t->arena) + (size_t)t->table.cap * sizeof(st_entry) +
           (t->table.index ? (t->table.mask + 1) * sizeof(uint64_t) : 0);
}

static st_entry *table_find(const state_table *t, em_value key, uint64_t hash)
{
    return (st_entry *)em__table_find(&t->table, key, hash);
}

/* Without a timeout the list is not kept: relinking touches two other entries, at random places
 * in a big table, on every update. */
static void list_unlink(state_table *t, st_entry *e)
{
    if (!t->ordered)
        return;
    if (e->prev)
        entry_at(t, e->prev - 1)->next = e->next;
    else
        t->oldest = e->next;
    if (e->next)
        entry_at(t, e->next - 1)->prev = e->prev;
    else
        t->newest = e->prev;
    e->prev = e->next = 0;
}

static void list_append(state_table *t, st_entry *e)
{
    if (!t->ordered)
        return;
    uint32_t id = entry_id(t, e) + 1;
    e->prev = t->newest;
    e->next = 0;
    if (t->newest)
        entry_at(t, t->newest - 1)->next = id;
    else
        t->oldest = id;
    t->newest = id;
}

/* Logs e (its key's hash: hash) as it is before the batch changes it, once per batch. */
static void log_entry(state_table *t, st_entry *e, uint64_t hash)
{
    if (e->logged == t->batch)
        return;
    undo_entry u = {.key = e->base.key,
                    .state = e->base.value,
                    .hash = hash,
                    .updated = e->updated,
                    .existed = true};
    e->logged = t->batch;
    g_array_append_val(t->undo, u);
}

/* Logs that e, just inserted with hash, was not there before the batch (its key is the
 * table's copy: the batch's own records do not outlive their chunk). */
static void log_new(state_table *t, const st_entry *e, uint64_t hash)
{
    undo_entry u = {.key = e->base.key, .hash = hash, .existed = false};
    g_array_append_val(t->undo, u);
}

/* Stores a copy of state for e, updated at time, as the newest entry. */
static void entry_set(state_table *t, st_entry *e, em_value state, em_time time)
{
    t->payload -= em_value_payload_size(e->base.value);
    e->base.value = em__value_copy(state, t->arena);
    t->payload += em_value_payload_size(e->base.value);
    e->updated = time;
    list_unlink(t, e);
    list_append(t, e);
    mark_dirty(t, em__table_key(&e->base));
}

static st_entry *table_insert(state_table *t, em_value key, uint64_t hash, em_value state,
                              em_time time)
{
    bool is_new;
    st_entry *e = (st_entry *)em__table_upsert(&t->table, key, hash, &is_new);
    g_assert(is_new);
    e->logged = t->batch;
    t->payload += em_value_payload_size(key);
    list_append(t, e);
    entry_set(t, e, state, time);
    return e;
}

static void table_remove(state_table *t, st_entry *e)
{
    mark_dirty(t, em__table_key(&e->base));
    list_unlink(t, e);
    t->payload -=
        em_value_payload_size(em__table_key(&e->base)) + em_value_payload_size(e->base.value);
    em__table_remove_entry(&t->table, &e->base);
}

/* Relinks the update-order list by update time (after an undo put entries out of order). */
static int by_update(const void *a, const void *b, void *ud)
{
    const state_table *t = ud;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const st_entry *x = entry_at(t, ia), *y = entry_at(t, ib);
    if (x->updated != y->updated)
        return x->updated < y->updated ? -1 : 1;
    return ia < ib ? -1 : 1;
}

static void relink_by_update(state_table *t)
{
    if (!t->ordered)
        return;
    GArray *ids = g_array_sized_new(FALSE, FALSE, sizeof(uint32_t), t->table.live);
    uint32_t pos = 0;
    for (em_table_entry *e; (e = em__table_next(&t->table, &pos));) {
        uint32_t id = em__table_id(&t->table, e);
        g_array_append_val(ids, id);
    }
    g_array_sort_with_data(ids, by_update, t);
    t->oldest = t->newest = 0;
    for (guint i = 0; i < ids->len; i++)
        list_append(t, entry_at(t, g_array_index(ids, uint32_t, i)));
    g_array_unref(ids);
}

/* Forgets the undo log; a big one (a batch that filled the table) gives its memory back. */
static void undo_clear(state_table *t)
{
    if (t->undo->len <= 4096) {
        g_array_set_size(t->undo, 0);
        return;
    }
    g_array_unref(t->undo);
    t->undo = g_array_new(FALSE, FALSE, sizeof(undo_entry));
}

/* Undoes the uncommitted batch: each logged key back as it was, newest change first. The
 * values logged still live in the arena (nothing is compacted before a commit). */
static void table_rollback(state_table *t)
{
    for (guint i = t->undo->len; i-- > 0;) {
        const undo_entry *u = &g_array_index(t->undo, undo_entry, i);
        /* The key as an ordinary value (a short string's bytes are in stored.key). */
        em_table_entry stored = {.key = u->key};
        em_value key = em__table_key(&stored);
        st_entry *e = table_find(t, key, u->hash);
        if (!u->existed) {
            if (e)
                table_remove(t, e);
        } else if (e) {
            mark_dirty(t, key);
            t->payload -= em_value_payload_size(e->base.value);
            e->base.value = u->state;
            t->payload += em_value_payload_size(e->base.value);
            e->updated = u->updated;
        } else {
            /* The state is the logged one, in the arena already. */
            st_entry *back = table_insert(t, key, u->hash, em_null(), u->updated);
            back->base.value = u->state;
            t->payload += em_value_payload_size(u->state);
        }
    }
    undo_clear(t);
    relink_by_update(t);
}

/* Re-inserts the live keys and states into a fresh arena and table once garbage dominates,
 * keeping ids in the same order and the update-order list as it was. Only between batches:
 * the undo log points into the arena. */
static void table_maybe_compact(state_table *t)
{
    if (t->undo->len || em_arena_bytes(t->arena) < 2 * t->payload + (256 << 10))
        return;
    em_arena *fresh = em_arena_new();
    em_table table;
    em__table_init(&table, sizeof(st_entry), fresh, EM_TABLE_STABLE_IDS);
    em__table_reserve(&table, t->table.live);
    uint32_t *new_id = t->ordered ? g_new(uint32_t, t->table.n) : NULL;
    uint32_t pos = 0;
    for (em_table_entry *old; (old = em__table_next(&t->table, &pos));) {
        const st_entry *o = (const st_entry *)old;
        em_value key = em__table_key(old);
        bool is_new;
        st_entry *e = (st_entry *)em__table_upsert(&table, key, em_value_hash(key), &is_new);
        e->base.value = em_value_copy(o->base.value, fresh);
        e->updated = o->updated;
        e->logged = o->logged;
        if (new_id)
            new_id[em__table_id(&t->table, old)] = em__table_id(&table, &e->base);
    }
    uint32_t old_oldest = t->oldest;
    em_table old_table = t->table;
    t->table = table;
    t->oldest = t->newest = 0;
    for (uint32_t id = old_oldest; new_id && id;
         id = ((st_entry *)em__table_at(&old_table, id - 1))->next)
        list_append(t, entry_at(t, new_id[id - 1]));
    g_free(new_id);
    em__table_clear(&old_table);
    em_arena_free(t->arena);
    t->arena = fresh;
}

/* ---- The State handle ---- */

struct em_state {
    bool exists, timing_out, updated, removed;
    em_value value;
};

bool em_state_exists(const em_state *s) { return s->exists; }
em_value em_state_get(const em_state *s) { return s->exists ? s->value : em_null(); }
bool em_state_is_timing_out(const em_state *s) { return s->timing_out; }

void em_state_update(em_state *s, em_value v)
{
    if (s->timing_out) {
        g_critical("em_state_update: cannot update the state that is timing out");
        return;
    }
    if (s->removed) {
        g_critical("em_state_update: cannot update the state that was removed");
        return;
    }
    s->exists = s->updated = true;
    s->value = v;
}

void em_state_remove(em_state *s)
{
    if (s->timing_out) {
        g_critical("em_state_remove: cannot remove the state that is timing out");
        return;
    }
    if (s->removed) {
        g_critical("em_state_remove: cannot remove the state that was removed already");
        return;
    }
    s->exists = s->updated = false;
    s->removed = true;
    s->value = em_null();
}

/* ---- The stream ---- */

typedef struct {
    em_dstream base;
    em_state_spec spec; /* ud, destroy and name moved to the base */
    int n;              /* state partitions */
    state_table *tables;
    bool loaded; /* the initial state is in */
    /* Incremental checkpoints (see map_state_checkpoint_save). */
    em_time last_saved;    /* the batch time of the last checkpoint, -1 for none */
    em_time full_saved;    /* the batch time of the last full one, -1 for none */
    int since_full;        /* checkpoints since the last full one */
    int64_t failed_writes; /* the writer's failures when the chain began */
} map_state;

/* A lookup in a big table misses the cache three times, one after the other: the index slot,
 * the entry, the stored key's bytes. So the batch's records are applied in chunks, and while one
 * is applied the lookups of the records AHEAD, AHEAD / 2 and AHEAD / 4 places on are fetched
 * (first probes only; a prefetch is a hint, a stale one after the table grew costs nothing but
 * the fetch). A chunk's records are copied into the sink's arena, reset after each chunk. */
enum { CHUNK = 256, AHEAD = 16 };

typedef struct {
    em_sink base;
    em_sink *out;
    map_state *ms;
    state_table *table;
    const em_rdd *rdd;
    em_time time;
    em_arena *arena;
    size_t n;
    em_value kv[CHUNK];
    uint64_t hash[CHUNK];
} apply_sink;

static void emit_mapped(apply_sink *a, em_value mapped)
{
    if (mapped.type != EM_T_NONE && !a->base.task->stop)
        a->out->push(a->out, mapped);
}

static void apply_record(apply_sink *a, em_value kv, uint64_t hash)
{
    em_value key = em_key(kv);
    st_entry *e = table_find(a->table, key, hash);
    em_state st = {.exists = e != NULL, .value = e ? e->base.value : em_null()};
    a->base.task->cur_rdd = a->rdd;
    em_value mapped = a->ms->spec.fn(a->time, key, em_val(kv), &st, a->ms->base.ud);
    if (e && (st.removed || st.updated || a->ms->spec.timeout > 0))
        log_entry(a->table, e, hash);
    if (st.removed) {
        if (e)
            table_remove(a->table, e);
    } else if (st.updated) {
        if (e)
            entry_set(a->table, e, st.value, a->time);
        else
            log_new(a->table, table_insert(a->table, key, hash, st.value, a->time), hash);
    } else if (e && a->ms->spec.timeout > 0) {
        /* Data for the key resets its idle time, as Spark does under a timeout. */
        entry_set(a->table, e, e->base.value, a->time);
    }
    emit_mapped(a, mapped);
}

/* Applies the chunk. The scratch arena is reset by whoever pushed the last record (or the
 * compute, for the last chunk): it holds at most a chunk's mapped records. */
static void apply_chunk(apply_sink *a)
{
    const em_table *t = &a->table->table;
    for (size_t i = 0; i < a->n && !a->base.task->stop; i++) {
        /* Written out here: GCC 12 drops a static helper made only of prefetches. The index
         * slot holds the entry id + 1 in its high half (core/table.h). */
        if (i + AHEAD < a->n)
            __builtin_prefetch(&t->index[a->hash[i + AHEAD] & t->mask]);
        uint32_t id = i + AHEAD / 2 < a->n
                          ? (uint32_t)(t->index[a->hash[i + AHEAD / 2] & t->mask] >> 32)
                          : 0;
        if (id) { /* both cache lines an entry may straddle */
            const char *e = (const char *)em__table_at(t, id - 1);
            __builtin_prefetch(e);
            __builtin_prefetch(e + sizeof(st_entry) - 1);
        }
        id = i + AHEAD / 4 < a->n ? (uint32_t)(t->index[a->hash[i + AHEAD / 4] & t->mask] >> 32)
                                  : 0;
        const em_table_entry *k = id ? em__table_at(t, id - 1) : NULL;
        if (k && k->key.type == EM_T_STR && !em__table_key_inline(k)) /* else in the entry */
            __builtin_prefetch(k->key.as.s);
        apply_record(a, a->kv[i], a->hash[i]);
    }
    a->n = 0;
    em_arena_reset(a->arena);
}

static void apply_push(em_sink *s, em_value kv)
{
    apply_sink *a = (apply_sink *)s;
    if (!em__require_pair(s->task, a->rdd, kv))
        return;
    a->kv[a->n] = em__value_copy(kv, a->arena);
    a->hash[a->n] = em_value_hash(em_key(kv));
    if (++a->n == CHUNK)
        apply_chunk(a);
}

/* A batch applied to the state: compute mutates ms's tables, so it runs once (checkpointed). */
typedef struct {
    em_rdd base;
    map_state *ms;
    em_time time;
} map_state_rdd;

static void map_state_rdd_compute(em_rdd *rdd, em_task *task, int index, em_sink *out)
{
    const map_state_rdd *b = (const map_state_rdd *)rdd;
    map_state *ms = b->ms;
    state_table *t = &ms->tables[index];
    /* The previous batch was committed (or undone): its garbage may go now. */
    table_maybe_compact(t);
    t->batch++;
    apply_sink *a = g_new(apply_sink, 1);
    *a = (apply_sink){.base = {apply_push, task},
                      .out = out,
                      .ms = ms,
                      .table = t,
                      .rdd = rdd,
                      .time = b->time,
                      .arena = em_arena_new()};
    em__compute(rdd->parents[0], task, index, &a->base);
    apply_chunk(a);
    em_arena_reset(task->scratch);
    /* Keys idle since time - timeout or earlier time out now, oldest first. */
    while (ms->spec.timeout > 0 && t->oldest && !task->stop) {
        st_entry *e = entry_at(t, t->oldest - 1);
        if (e->updated + ms->spec.timeout > b->time)
            break;
        em_state st = {.exists = true, .timing_out = true, .value = e->base.value};
        task->cur_rdd = rdd;
        em_value mapped =
            ms->spec.fn(b->time, em__table_key(&e->base), em_none(), &st, ms->base.ud);
        emit_mapped(a, mapped);
        log_entry(t, e, em_value_hash(em__table_key(&e->base)));
        table_remove(t, e);
        em_arena_reset(task->scratch);
    }
    em_arena_free(a->arena);
    g_free(a);
}

static const em_rdd_class map_state_rdd_class = {.type_name = "MapWithStateRDD",
                                                 .compute = map_state_rdd_compute};

static bool load_initial(map_state *ms, em_time t, GError **err)
{
    ms->loaded = true;
    if (!ms->spec.initial_state)
        return true;
    g_autoptr(em_values) initial = em_rdd_collect(ms->spec.initial_state, err);
    if (!initial)
        return false;
    for (size_t i = 0; i < initial->n; i++) {
        em_value kv = initial->items[i];
        if (!em_is_pair(kv)) {
            g_autofree char *text = em_value_to_string(kv);
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "mapWithState: initial state record %s is not a (key, state) pair", text);
            return false;
        }
        uint64_t hash = em_value_hash(em_key(kv));
        state_table *table = &ms->tables[em__key_partition(ms->base.ssc->sc, em_key(kv), ms->n)];
        st_entry *e = table_find(table, em_key(kv), hash);
        if (e)
            entry_set(table, e, em_val(kv), t);
        else
            table_insert(table, em_key(kv), hash, em_val(kv), t);
    }
    return true;
}

static em_rdd *map_state_compute(em_dstream *ds, em_time t, GError **err)
{
    map_state *ms = (map_state *)ds;
    if (!ms->loaded && !load_initial(ms, t, err))
        return NULL;
    em_rdd *batch = em__dstream_get_or_compute(ds->parents[0], t, err);
    if (!batch && err && *err)
        return NULL;
    g_autoptr(em_rdd) none = em_empty_rdd(ds->ssc->sc);
    /* The batch's records meet their keys' tables: hash-partitioned as the state is. */
    g_autoptr(em_rdd) by_key = em_rdd_partition_by(batch ? batch : none, ms->n);
    map_state_rdd *b = EM__RDD_NEW(map_state_rdd, ds->ssc->sc, &map_state_rdd_class,
                                   "mapWithState", ms->n, &by_key, 1);
    b->ms = ms;
    b->time = t;
    em__rdd_own(&b->base, NULL, NULL, ds->fn_name); /* the user data is the stream's */
    em_rdd *mapped = &b->base;
    /* The state changes as the batch is applied: apply it exactly once, now. */
    if (!em__rdd_checkpoint(mapped, err))
        g_clear_pointer(&mapped, em_rdd_unref);
    return mapped;
}

/* Every job of the batch succeeded: its changes stay. Otherwise they are undone, and the
 * tables are as after the previous batch. */
static void map_state_batch_done(em_dstream *ds, em_time t, bool succeeded)
{
    (void)t;
    map_state *ms = (map_state *)ds;
    for (int i = 0; i < ms->n; i++) {
        if (succeeded)
            undo_clear(&ms->tables[i]);
        else
            table_rollback(&ms->tables[i]);
    }
}

static void map_state_finalize(em_dstream *ds)
{
    map_state *ms = (map_state *)ds;
    for (int i = 0; i < ms->n; i++)
        table_clear(&ms->tables[i]);
    g_free(ms->tables);
    em_rdd_unref(ms->spec.initial_state);
}

/* ---- Checkpoints: incremental, with a full copy every FULL_EVERY ----
 * A full checkpoint holds every live key with its state and last update under "state/<name>"
 * (so idle timeouts go on counting across a restart). In between, a checkpoint holds only what
 * changed since the stream's previous checkpoint: the changed keys' rows under
 * "state-delta/<name>", the keys removed (or timed out) under "state-removed/<name>", and that
 * previous checkpoint's batch time under "state-base/<name>". Recovery walks the chain back to a
 * full copy and applies the changes forward. A chain is at most FULL_EVERY files; each
 * checkpoint asks the directory to keep the files of its chain and of the previous
 * checkpoint's (em__ckpt_keep_from), so the newest and the one before it can both be
 * recovered. The first checkpoint of a run is full, and so is one after a write failed (its
 * file would be a missing link) or once half the keys changed (a copy is cheaper then). A full
 * copy costs the batch thread a copy of every key: FULL_EVERY trades that against the files
 * recovery reads. */
enum { FULL_EVERY = 64 };

static char *record_name(const char *kind, const char *name)
{
    return g_strconcat(kind, "/", name, NULL);
}

static int64_t failed_writes(map_state *ms)
{
    em_checkpoint_figures f;
    em_ssc_checkpoint_figures(ms->base.ssc, &f);
    return f.failed;
}

static void save_full(map_state *ms, em_ckpt *ck, const char *name)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em_ckpt_state_row));
    for (int i = 0; i < ms->n; i++) {
        const state_table *tb = &ms->tables[i];
        uint32_t pos = 0;
        for (const st_entry *en; (en = (const st_entry *)em__table_next(&tb->table, &pos));) {
            em_ckpt_state_row row = {em__table_key(&en->base), en->base.value, en->updated};
            g_array_append_val(rows, row);
        }
    }
    g_autofree char *record = record_name("state", name);
    em__ckpt_put_state(ck, record, (const em_ckpt_state_row *)rows->data, rows->len);
    g_array_unref(rows);
}

static void save_delta(map_state *ms, em_ckpt *ck, const char *name)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em_ckpt_state_row));
    GArray *removed = g_array_new(FALSE, FALSE, sizeof(em_value));
    for (int i = 0; i < ms->n; i++) {
        const state_table *tb = &ms->tables[i];
        uint32_t pos = 0;
        for (const em_table_entry *d; (d = em__table_next(&tb->dirty, &pos));) {
            em_value key = em__table_key(d);
            const st_entry *en = table_find(tb, key, em_value_hash(key));
            if (en) {
                em_ckpt_state_row row = {em__table_key(&en->base), en->base.value, en->updated};
                g_array_append_val(rows, row);
            } else {
                g_array_append_val(removed, key);
            }
        }
    }
    g_autofree char *delta = record_name("state-delta", name);
    g_autofree char *gone = record_name("state-removed", name);
    g_autofree char *base = record_name("state-base", name);
    em__ckpt_put_state(ck, delta, (const em_ckpt_state_row *)rows->data, rows->len);
    em__ckpt_put_values(ck, gone, (const em_value *)removed->data, removed->len);
    em_value base_time = em_int(ms->last_saved);
    em__ckpt_put_values(ck, base, &base_time, 1);
    g_array_unref(rows);
    g_array_unref(removed);
}

static size_t dirty_keys(const map_state *ms)
{
    size_t n = 0;
    for (int i = 0; i < ms->n; i++)
        n += ms->tables[i].tracking ? ms->tables[i].dirty.live : 0;
    return n;
}

static size_t live_keys(const map_state *ms)
{
    size_t n = 0;
    for (int i = 0; i < ms->n; i++)
        n += ms->tables[i].table.live;
    return n;
}

static void map_state_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    map_state *ms = (map_state *)ds;
    int64_t failed = failed_writes(ms);
    /* A delta is the cheaper copy only while few keys changed. */
    bool full = ms->last_saved < 0 || ms->since_full + 1 >= FULL_EVERY ||
                failed != ms->failed_writes || 2 * dirty_keys(ms) >= live_keys(ms);
    /* The files the chains of this checkpoint and of the one before it need stay. */
    if (ms->full_saved >= 0)
        em__ckpt_keep_from(ck, ms->full_saved);
    if (full) {
        save_full(ms, ck, name);
        ms->since_full = 0;
        ms->failed_writes = failed;
        ms->full_saved = t;
    } else {
        save_delta(ms, ck, name);
        ms->since_full++;
    }
    ms->last_saved = t;
    for (int i = 0; i < ms->n; i++) {
        ms->tables[i].tracking = true;
        dirty_reset(&ms->tables[i]);
    }
}

/* Oldest update first, then as saved: tables keep their update-order lists in that order. */
static int by_updated(const void *a, const void *b)
{
    const em_ckpt_state_row *x = a, *y = b;
    if (x->updated != y->updated)
        return x->updated < y->updated ? -1 : 1;
    return x < y ? -1 : x > y;
}

static guint row_key_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean row_key_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

/* The checkpoint a delta builds on, read from the directory ck was read from. */
static em_ckpt *read_base(const em_ckpt *ck, const char *name, em_arena *arena, GError **err)
{
    g_autofree char *base = record_name("state-base", name);
    em_value *vals = NULL;
    size_t n = 0;
    if (!em__ckpt_get_values(ck, base, arena, &vals, &n, err))
        return NULL;
    em_time t = n == 1 && vals[0].type == EM_T_INT ? vals[0].as.i : -1;
    g_free(vals);
    const char *path = em__ckpt_path(ck);
    if (t < 0 || !path) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s: record \"%s\" names no earlier checkpoint",
                    path ? path : "(in memory)", base);
        return NULL;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *file = g_strdup_printf("checkpoint-%" G_GINT64_FORMAT, (gint64)t);
    g_autofree char *full = g_build_filename(dir, file, NULL);
    GError *why = NULL;
    em_ckpt *prev = em__ckpt_read_file(full, &why);
    if (!prev) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s holds the changes since %s, which cannot be read: %s", path,
                    full, why->message);
        g_error_free(why);
    }
    return prev;
}

/* The rows of the state as of ck: a full copy, or the chain of changes back to one. Rows are
 * in rows (a GArray of em_ckpt_state_row), payload in arena; the checkpoints read are kept in
 * read (their bytes back the values). */
static bool load_rows(const em_ckpt *ck, const char *name, em_arena *arena, GArray **rows,
                      GPtrArray *read, GError **err)
{
    g_autofree char *full = record_name("state", name);
    if (em__ckpt_get(ck, full))
        return em__ckpt_get_state(ck, full, arena, rows, err);
    if (read->len >= FULL_EVERY * 4) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s: no full copy of \"%s\" in %u checkpoints back",
                    em__ckpt_path(ck), name, read->len);
        return false;
    }
    em_ckpt *prev = read_base(ck, name, arena, err);
    if (!prev)
        return false;
    g_ptr_array_add(read, prev);
    GArray *base = NULL;
    if (!load_rows(prev, name, arena, &base, read, err))
        return false;
    g_autofree char *delta = record_name("state-delta", name);
    g_autofree char *gone = record_name("state-removed", name);
    GArray *changed = NULL;
    em_value *removed = NULL;
    size_t n_removed = 0;
    bool ok = em__ckpt_get_state(ck, delta, arena, &changed, err) &&
              em__ckpt_get_values(ck, gone, arena, &removed, &n_removed, err);
    if (ok) {
        /* key -> index in base + 1 (keys copied into the arena: base may move as it grows);
         * changes replace or append, removals blank the key. */
        GHashTable *at = g_hash_table_new(row_key_hash, row_key_equal);
        for (guint i = 0; i < base->len; i++)
            g_hash_table_insert(at,
                                em_arena_memdup(arena,
                                                &g_array_index(base, em_ckpt_state_row, i).key,
                                                sizeof(em_value)),
                                GUINT_TO_POINTER(i + 1));
        for (guint i = 0; i < changed->len; i++) {
            em_ckpt_state_row *row = &g_array_index(changed, em_ckpt_state_row, i);
            guint j = GPOINTER_TO_UINT(g_hash_table_lookup(at, &row->key));
            if (j) {
                g_array_index(base, em_ckpt_state_row, j - 1) = *row;
            } else {
                g_array_append_val(base, *row);
                g_hash_table_insert(at, em_arena_memdup(arena, &row->key, sizeof(em_value)),
                                    GUINT_TO_POINTER(base->len));
            }
        }
        for (size_t i = 0; i < n_removed; i++) {
            guint j = GPOINTER_TO_UINT(g_hash_table_lookup(at, &removed[i]));
            if (j)
                g_array_index(base, em_ckpt_state_row, j - 1).key = em_none();
        }
        g_hash_table_unref(at);
        /* Blanked rows go; the rest keep their order. */
        guint kept = 0;
        for (guint i = 0; i < base->len; i++)
            if (g_array_index(base, em_ckpt_state_row, i).key.type != EM_T_NONE)
                g_array_index(base, em_ckpt_state_row, kept++) =
                    g_array_index(base, em_ckpt_state_row, i);
        g_array_set_size(base, kept);
    }
    g_free(removed);
    if (changed)
        g_array_unref(changed);
    if (!ok) {
        g_array_unref(base);
        return false;
    }
    *rows = base;
    return true;
}

static bool map_state_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                         em_time t, GError **err)
{
    (void)t;
    map_state *ms = (map_state *)ds;
    g_autofree char *full = record_name("state", name);
    g_autofree char *base = record_name("state-base", name);
    if (!em__ckpt_get(ck, full) && !em__ckpt_get(ck, base))
        return true; /* new in this program: it starts from its initial state */
    em_arena *arena = em_arena_new();
    GPtrArray *read = g_ptr_array_new_with_free_func((GDestroyNotify)em__ckpt_free);
    GArray *rows = NULL;
    if (!load_rows(ck, name, arena, &rows, read, err)) {
        g_ptr_array_unref(read);
        em_arena_free(arena);
        return false;
    }
    if (rows->len > 1)
        qsort(rows->data, rows->len, sizeof(em_ckpt_state_row), by_updated);
    for (guint i = 0; i < rows->len; i++) {
        em_ckpt_state_row *row = &g_array_index(rows, em_ckpt_state_row, i);
        uint64_t hash = em_value_hash(row->key);
        state_table *table = &ms->tables[em__key_partition(ms->base.ssc->sc, row->key, ms->n)];
        table_insert(table, row->key, hash, row->state, row->updated);
    }
    for (int i = 0; i < ms->n; i++)
        undo_clear(&ms->tables[i]); /* the restored keys are committed state */
    ms->loaded = true; /* the initial state went into the checkpointed state already */
    g_array_unref(rows);
    g_ptr_array_unref(read);
    em_arena_free(arena);
    return true;
}

static const em_dstream_class map_state_class = {.type_name = "MapWithStateDStream",
                                                 .instance_size = sizeof(map_state),
                                                 .compute = map_state_compute,
                                                 .batch_done = map_state_batch_done,
                                                 .checkpoint_save = map_state_checkpoint_save,
                                                 .checkpoint_restore =
                                                     map_state_checkpoint_restore,
                                                 .finalize = map_state_finalize};

em_dstream *em_map_with_state(em_dstream *ds, const em_state_spec *spec)
{
    bool ok = em__dstream_check(ds, "mapWithState");
    if (ok && (!spec || !spec->fn)) {
        g_critical("mapWithState: the StateSpec has no mapping function");
        ok = false;
    }
    if (ok && spec->initial_state && spec->initial_state->sc != ds->ssc->sc) {
        g_critical("mapWithState: the initial state RDD belongs to another em_context; make "
                   "it with em_ssc_context(ssc)");
        ok = false;
    }
    if (ok && spec->timeout < 0) {
        g_critical("mapWithState: the timeout must be >= 0 ms");
        ok = false;
    }
    if (!ok) {
        if (spec && spec->destroy)
            spec->destroy(spec->ud);
        return NULL;
    }
    em_dstream *out = em__dstream_new(ds->ssc, &map_state_class, "mapWithState", &ds, 1);
    em__dstream_own(out, spec->ud, spec->destroy, spec->name ? spec->name : "mapWithState");
    map_state *ms = (map_state *)out;
    ms->spec = *spec;
    ms->spec.ud = NULL, ms->spec.destroy = NULL, ms->spec.name = NULL;
    if (spec->initial_state)
        em_rdd_ref(spec->initial_state);
    ms->n = spec->num_partitions > 0 ? spec->num_partitions : ds->ssc->sc->parallelism;
    ms->tables = g_new(state_table, ms->n);
    for (int i = 0; i < ms->n; i++)
        table_init(&ms->tables[i], spec->timeout > 0);
    ms->last_saved = ms->full_saved = -1;
    return out;
}

void em_map_with_state_size(em_dstream *mapped, int64_t *keys, int64_t *bytes)
{
    *keys = *bytes = 0;
    if (!mapped || mapped->klass != &map_state_class)
        return;
    const map_state *ms = (const map_state *)mapped;
    for (int i = 0; i < ms->n; i++) {
        *keys += (int64_t)ms->tables[i].table.live;
        *bytes += (int64_t)table_bytes(&ms->tables[i]);
    }
}

/* ---- stateSnapshots ---- */

static em_rdd *snapshot_compute(em_dstream *ds, em_time t, GError **err)
{
    em_dstream *mapped = ds->parents[0];
    /* The batch at t is applied first. */
    if (!em__dstream_get_or_compute(mapped, t, err) && err && *err)
        return NULL;
    const map_state *ms = (const map_state *)mapped;
    em_arena *arena = em_arena_new();
    GArray *pairs = g_array_new(FALSE, FALSE, sizeof(em_value));
    for (int i = 0; i < ms->n; i++) {
        const state_table *table = &ms->tables[i];
        uint32_t pos = 0;
        for (em_table_entry *e; (e = em__table_next(&table->table, &pos));) {
            em_value kv = em_pair_in(arena, em__table_key(e), e->value);
            g_array_append_val(pairs, kv);
        }
    }
    em_rdd *rdd = em_parallelize(ds->ssc->sc, (em_value *)(void *)pairs->data, pairs->len, ms->n);
    g_array_unref(pairs);
    em_arena_free(arena);
    return rdd;
}

static const em_dstream_class snapshot_class = {.type_name = "StateSnapshotDStream",
                                                .compute = snapshot_compute};

em_dstream *em_state_snapshots(em_dstream *mapped)
{
    if (!em__dstream_check(mapped, "stateSnapshots"))
        return NULL;
    if (mapped->klass != &map_state_class) {
        g_critical("stateSnapshots: the stream was not made by em_map_with_state");
        return NULL;
    }
    return em__dstream_new(mapped->ssc, &snapshot_class, "stateSnapshots", &mapped, 1);
}
