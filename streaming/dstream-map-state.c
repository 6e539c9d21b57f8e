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
     * checkpoint, each with its state and last update as now (dirty_entry), kept once the
     * stream has handed a whole copy over. Keys in their own arena; states are the table's
     * (copied into dirty_arena before the table's arena is compacted or the changes are
     * handed over). */
    bool tracking;
    em_table dirty;
    em_arena *dirty_arena;
} state_table;

/* A changed key: its state and last update now, or removed. */
typedef struct {
    em_table_entry base; /* key; value: the state (none when removed) */
    em_time updated;
    bool removed;
} dirty_entry;

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
    em__table_init(&t->dirty, sizeof(dirty_entry), t->dirty_arena, 0);
}

/* Notes that key (hash) now holds state, last updated at updated, or was removed. */
static void mark_dirty(state_table *t, em_value key, uint64_t hash, em_value state,
                       em_time updated, bool removed)
{
    if (!t->tracking)
        return;
    bool is_new;
    dirty_entry *d = (dirty_entry *)em__table_upsert(&t->dirty, key, hash, &is_new);
    d->base.value = removed ? em_none() : state;
    d->updated = updated;
    d->removed = removed;
}

/* The changed keys' states into the dirty arena: the table's arena is about to go, or the
 * changes to leave the batch thread. */
static void dirty_own_states(state_table *t)
{
    uint32_t pos = 0;
    for (em_table_entry *d; (d = em__table_next(&t->dirty, &pos));)
        d->value = em__value_copy(d->value, t->dirty_arena);
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
static void entry_set(state_table *t, st_entry *e, uint64_t hash, em_value state, em_time time)
{
    t->payload -= em_value_payload_size(e->base.value);
    e->base.value = em__value_copy(state, t->arena);
    t->payload += em_value_payload_size(e->base.value);
    e->updated = time;
    list_unlink(t, e);
    list_append(t, e);
    mark_dirty(t, em__table_key(&e->base), hash, e->base.value, time, false);
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
    entry_set(t, e, hash, state, time);
    return e;
}

static void table_remove(state_table *t, st_entry *e, uint64_t hash)
{
    mark_dirty(t, em__table_key(&e->base), hash, em_none(), 0, true);
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
                table_remove(t, e, u->hash);
        } else if (e) {
            t->payload -= em_value_payload_size(e->base.value);
            e->base.value = u->state;
            t->payload += em_value_payload_size(e->base.value);
            e->updated = u->updated;
            mark_dirty(t, key, u->hash, u->state, u->updated, false);
        } else {
            /* The state is the logged one, in the arena already. */
            st_entry *back = table_insert(t, key, u->hash, em_null(), u->updated);
            back->base.value = u->state;
            t->payload += em_value_payload_size(u->state);
            mark_dirty(t, key, u->hash, u->state, u->updated, false);
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
    if (t->tracking)
        dirty_own_states(t); /* they point into the arena that goes */
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

typedef struct ms_changes ms_changes;

/* The stream's files, as the writer knows them. */
typedef struct {
    em_time base;          /* the newest file holding the state (written or recovered), -1 */
    em_time full;          /* the full copy base's chain starts at, -1 */
    em_time prev_full;     /* the full copy of the chain before it, -1 */
    GArray *times;         /* em_time: the files of base's chain, the full copy first */
    ms_changes *unwritten; /* changes handed over that no file holds (a write failed) */
    int full_every;        /* files in a chain before a full copy */
} ms_chain;

static void changes_free(ms_changes *ch);

typedef struct {
    em_dstream base;
    em_state_spec spec; /* ud, destroy and name moved to the base */
    int n;              /* state partitions */
    state_table *tables;
    bool loaded; /* the initial state is in */
    /* Incremental checkpoints (see "Checkpoints" below): what the files hold. Once the ssc
     * runs only the thread writing checkpoints reads or changes it. */
    ms_chain chain;
    gint want_complete; /* the writer asks the batch thread for every key (atomic) */
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
            table_remove(a->table, e, hash);
    } else if (st.updated) {
        if (e)
            entry_set(a->table, e, hash, st.value, a->time);
        else
            log_new(a->table, table_insert(a->table, key, hash, st.value, a->time), hash);
    } else if (e && a->ms->spec.timeout > 0) {
        /* Data for the key resets its idle time, as Spark does under a timeout. */
        entry_set(a->table, e, hash, e->base.value, a->time);
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
        uint64_t hash = em_value_hash(em__table_key(&e->base));
        log_entry(t, e, hash);
        table_remove(t, e, hash);
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
            entry_set(table, e, hash, em_val(kv), t);
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
    g_array_unref(ms->chain.times);
    changes_free(ms->chain.unwritten);
}

/* ---- Checkpoints: incremental, the full copies built by the writer ----
 * A full checkpoint holds every live key with its state and last update under "state/<name>"
 * (so idle timeouts go on counting across a restart). In between, a checkpoint holds only what
 * changed since the stream's previous file: the changed keys' rows under "state-delta/<name>",
 * the keys removed (or timed out) under "state-removed/<name>", and that previous file's batch
 * time under "state-base/<name>"; it needs (em__ckpt_needs) every file of its chain back to the
 * full copy, so recovery skips a checkpoint whose chain lost a file. Every file names its
 * chain's full copy and the one before under "state-chains/<name>", and asks the directory to
 * keep the files from that older full copy on: a complete older chain outlives a lost newest
 * one.
 *
 * The batch thread only hands the changes over: each partition's table of changed keys
 * (dirty_entry, their states copied into its arena) is moved into the checkpoint, a fresh one
 * takes its place. The thread writing the checkpoint (the builder below) encodes them, and
 * decides: a full copy every full_every files, or once half the keys changed, built by merging
 * the previous file's chain (read back from the directory) with the changes; changes whose
 * file failed to be written go into the next. Only the first checkpoint of a run (or after the
 * chain on disk could not be read back) copies every key on the batch thread. */
enum { FULL_EVERY = 64 };

/* One changed key, as the writer sees it. */
typedef struct {
    em_value key, state;
    em_time updated;
    bool removed;
} change;

/* Changes handed over: flat (entries) once the writer flattened the partitions' tables. */
struct ms_changes {
    GArray *entries;   /* change, one per key */
    bool complete;     /* entries are every key: no file is needed under them */
    int n_tables;      /* handed-over dirty tables (dirty_entry), not flattened yet */
    em_table *tables;  /* [n_tables], freed with them */
    GPtrArray *arenas; /* em_arena *: every payload above */
};

static ms_changes *changes_new(bool complete)
{
    ms_changes *ch = g_new0(ms_changes, 1);
    ch->entries = g_array_new(FALSE, FALSE, sizeof(change));
    ch->arenas = g_ptr_array_new_with_free_func((GDestroyNotify)em_arena_free);
    ch->complete = complete;
    return ch;
}

static void changes_free(ms_changes *ch)
{
    if (!ch)
        return;
    for (int i = 0; i < ch->n_tables; i++)
        em__table_clear(&ch->tables[i]);
    g_free(ch->tables);
    g_array_unref(ch->entries);
    g_ptr_array_unref(ch->arenas);
    g_free(ch);
}

/* The handed-over tables as entries (writer thread; the keys stay in the tables). */
static void changes_flatten(ms_changes *ch)
{
    for (int i = 0; i < ch->n_tables; i++) {
        uint32_t pos = 0;
        for (const em_table_entry *e; (e = em__table_next(&ch->tables[i], &pos));) {
            const dirty_entry *d = (const dirty_entry *)e;
            change c = {em__table_key(e), d->base.value, d->updated, d->removed};
            g_array_append_val(ch->entries, c);
        }
    }
}

static guint key_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

/* Adds newer's changes to older's (the newer wins for a key), consuming both. */
static ms_changes *changes_merge(ms_changes *older, ms_changes *newer)
{
    if (newer->complete) {
        changes_free(older);
        return newer;
    }
    GHashTable *at = g_hash_table_new(key_hash, key_equal); /* key -> index + 1 */
    for (guint i = 0; i < older->entries->len; i++) {
        change *c = &g_array_index(older->entries, change, i);
        g_hash_table_insert(at, &c->key, GUINT_TO_POINTER(i + 1));
    }
    GArray *added = g_array_new(FALSE, FALSE, sizeof(change));
    for (guint i = 0; i < newer->entries->len; i++) {
        const change *c = &g_array_index(newer->entries, change, i);
        guint j = GPOINTER_TO_UINT(g_hash_table_lookup(at, &c->key));
        if (j)
            g_array_index(older->entries, change, j - 1) = *c;
        else
            g_array_append_val(added, *c);
    }
    g_hash_table_unref(at);
    g_array_append_vals(older->entries, added->data, added->len);
    g_array_unref(added);
    /* The newer's payload (and keys in its tables) moves over. */
    older->tables = g_renew(em_table, older->tables, older->n_tables + newer->n_tables);
    memcpy(older->tables + older->n_tables, newer->tables,
           (size_t)newer->n_tables * sizeof(em_table));
    older->n_tables += newer->n_tables;
    newer->n_tables = 0;
    for (guint i = 0; i < newer->arenas->len; i++)
        g_ptr_array_add(older->arenas, g_steal_pointer(&newer->arenas->pdata[i]));
    g_ptr_array_set_size(newer->arenas, 0);
    changes_free(newer);
    return older;
}

/* rows (a state as of some file) with ch's changes made: changed keys leave their place and go
 * at the end, removed ones go. */
static void apply_changes(GArray *rows, const GArray *ch)
{
    if (!ch->len)
        return;
    /* Core's flat table: a full copy's million rows are looked up in it. */
    em_table changed;
    em__table_init(&changed, sizeof(em_table_entry), NULL, 0);
    em__table_reserve(&changed, ch->len);
    for (guint i = 0; i < ch->len; i++) {
        em_value key = g_array_index(ch, change, i).key;
        bool is_new;
        em__table_upsert(&changed, key, em_value_hash(key), &is_new);
    }
    guint kept = 0;
    for (guint i = 0; i < rows->len; i++) {
        em_ckpt_state_row *row = &g_array_index(rows, em_ckpt_state_row, i);
        if (!em__table_find(&changed, row->key, em_value_hash(row->key)))
            g_array_index(rows, em_ckpt_state_row, kept++) = *row;
    }
    g_array_set_size(rows, kept);
    em__table_clear(&changed);
    for (guint i = 0; i < ch->len; i++) {
        const change *c = &g_array_index(ch, change, i);
        if (!c->removed) {
            em_ckpt_state_row row = {c->key, c->state, c->updated};
            g_array_append_val(rows, row);
        }
    }
}

static char *record_name(const char *kind, const char *name)
{
    return g_strconcat(kind, "/", name, NULL);
}

/* The batch time at index in a record of integers (-1 allowed past index 0), or -2 with err. */
static em_time time_record(const em_ckpt *ck, const char *record, em_arena *arena, int index,
                           GError **err)
{
    em_value *vals = NULL;
    size_t n = 0;
    if (!em__ckpt_get_values(ck, record, arena, &vals, &n, err))
        return -2;
    em_time t = (size_t)index < n && vals[index].type == EM_T_INT ? vals[index].as.i : -2;
    g_free(vals);
    if (t < -1 || (index == 0 && t < 0)) {
        t = -2;
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "checkpoint %s: record \"%s\" is malformed",
                    em__ckpt_path(ck) ? em__ckpt_path(ck) : "(in memory)", record);
    }
    return t;
}

/* The state as of ck (a full copy, or changes on top of the chain of files it builds on) with
 * extra's changes made, into rows (a GArray of em_ckpt_state_row the caller unrefs; payload in
 * arena or in the checkpoints read, kept with ck). *times gets the chain's batch times, its full
 * copy first. */
static bool load_chain(const em_ckpt *ck, const char *name, const GArray *extra, em_arena *arena,
                       GArray **rows, GArray *times, GError **err)
{
    g_autofree char *full = record_name("state", name);
    g_autofree char *base = record_name("state-base", name);
    g_autofree char *delta = record_name("state-delta", name);
    g_autofree char *gone = record_name("state-removed", name);
    GPtrArray *chain = g_ptr_array_new(); /* newest first, the full copy last */
    const em_ckpt *cur = ck;
    bool ok = true;
    while (ok && !em__ckpt_get(cur, full)) {
        g_ptr_array_add(chain, (gpointer)cur);
        em_time t = time_record(cur, base, arena, 0, err);
        if (t < -1)
            ok = false;
        else if (chain->len > 16 * FULL_EVERY) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "checkpoint %s: no full copy of \"%s\" in %u checkpoints back",
                        em__ckpt_path(ck), name, chain->len);
            ok = false;
        } else
            ok = (cur = em__ckpt_needed(ck, t, err)) != NULL;
    }
    ok = ok && em__ckpt_get_state(cur, full, arena, rows, err);
    if (ok)
        g_array_append_val(times, (em_time){em__ckpt_time(cur)});
    /* The changes of the chain in order, then extra, gathered first: the full copy's rows are
     * gone through once. */
    GArray *all = g_array_new(FALSE, FALSE, sizeof(change));
    for (guint i = chain->len; ok && i-- > 0;) {
        const em_ckpt *d = chain->pdata[i];
        GArray *set = NULL;
        em_value *removed = NULL;
        size_t n_removed = 0;
        ok = em__ckpt_get_state(d, delta, arena, &set, err) &&
             em__ckpt_get_values(d, gone, arena, &removed, &n_removed, err);
        for (guint j = 0; ok && j < set->len; j++) {
            const em_ckpt_state_row *r = &g_array_index(set, em_ckpt_state_row, j);
            g_array_append_val(all, ((change){r->key, r->state, r->updated, false}));
        }
        for (size_t j = 0; ok && j < n_removed; j++)
            g_array_append_val(all, ((change){.key = removed[j], .removed = true}));
        if (set)
            g_array_unref(set);
        g_free(removed);
        if (ok)
            g_array_append_val(times, (em_time){em__ckpt_time(d)});
    }
    if (ok && extra)
        g_array_append_vals(all, extra->data, extra->len);
    if (ok) {
        /* The newest change of a key wins: keep its last one only. */
        GHashTable *last = g_hash_table_new(key_hash, key_equal);
        for (guint i = 0; i < all->len; i++)
            g_hash_table_insert(last, &g_array_index(all, change, i).key, GUINT_TO_POINTER(i));
        /* (Marked first: the table's keys point into all.) */
        GArray *newest = g_array_new(FALSE, FALSE, sizeof(change));
        for (guint i = 0; i < all->len; i++) {
            change *c = &g_array_index(all, change, i);
            if (GPOINTER_TO_UINT(g_hash_table_lookup(last, &c->key)) == i)
                g_array_append_val(newest, *c);
        }
        g_hash_table_unref(last);
        g_array_unref(all);
        all = newest;
        apply_changes(*rows, all);
    }
    g_array_unref(all);
    g_ptr_array_unref(chain);
    if (!ok && *rows)
        g_clear_pointer(rows, g_array_unref);
    return ok;
}

/* What the batch thread hands the writer for one checkpoint. */
typedef struct {
    map_state *ms;
    char *name;
    size_t live;         /* keys in the state */
    ms_changes *changes; /* owned until the write succeeds, or kept for the next */
    bool full;           /* the file holds a full copy */
    em_time full_time, prev_full;
} handover;

static void handover_free(void *data)
{
    handover *h = data;
    changes_free(h->changes);
    g_free(h->name);
    g_free(h);
}

/* The changes to write: the handed-over ones after those no file holds yet. */
static ms_changes *take_changes(handover *h)
{
    ms_chain *c = &h->ms->chain;
    if (!h->changes->entries->len && h->changes->n_tables)
        changes_flatten(h->changes);
    if (c->unwritten)
        h->changes = changes_merge(g_steal_pointer(&c->unwritten), h->changes);
    return h->changes;
}

static void put_rows(em_ckpt *ck, const char *record, const GArray *entries, bool removed)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(em_ckpt_state_row));
    GArray *keys = g_array_new(FALSE, FALSE, sizeof(em_value));
    for (guint i = 0; i < entries->len; i++) {
        const change *c = &g_array_index(entries, change, i);
        em_ckpt_state_row row = {c->key, c->state, c->updated};
        if (!c->removed)
            g_array_append_val(rows, row);
        else
            g_array_append_val(keys, c->key);
    }
    if (removed)
        em__ckpt_put_values(ck, record, (const em_value *)keys->data, keys->len);
    else
        em__ckpt_put_state(ck, record, (const em_ckpt_state_row *)rows->data, rows->len);
    g_array_unref(rows);
    g_array_unref(keys);
}

/* The writer: the changes handed over become a delta, or a full copy. */
static bool handover_build(void *data, em_ckpt *ck, const char *dir, GError **err)
{
    (void)err;
    handover *h = data;
    ms_chain *c = &h->ms->chain;
    ms_changes *ch = take_changes(h);
    size_t set = 0;
    for (guint i = 0; i < ch->entries->len; i++)
        set += !g_array_index(ch->entries, change, i).removed;
    /* Every live key changed (a first batch, say): the changes are a full copy already. */
    bool complete = ch->complete || set == h->live;
    if (c->base < 0 && !complete) {
        /* Cannot happen: tracking starts with a whole copy or from a recovered file. */
        g_warning("mapWithState \"%s\": changes without a file under them; the next checkpoint "
                  "copies the whole state",
                  h->name);
        g_atomic_int_set(&h->ms->want_complete, 1);
    }
    bool full = complete || c->base < 0 || (int)c->times->len >= c->full_every ||
                2 * ch->entries->len >= h->live;
    g_autofree char *full_rec = record_name("state", h->name);
    em_arena *arena = em_arena_new();
    GArray *rows = NULL;
    em_ckpt *base_ck = NULL;
    if (full && !complete && c->base >= 0) {
        /* The previous file's chain read back, these changes made on it. */
        g_autofree char *file = g_strdup_printf("checkpoint-%" G_GINT64_FORMAT, (gint64)c->base);
        g_autofree char *path = g_build_filename(dir, file, NULL);
        GError *why = NULL;
        GArray *times = g_array_new(FALSE, FALSE, sizeof(em_time));
        base_ck = em__ckpt_read_file(path, &why);
        if (!base_ck || !load_chain(base_ck, h->name, ch->entries, arena, &rows, times, &why)) {
            g_warning("mapWithState \"%s\": the checkpoint of batch %" G_GINT64_FORMAT
                      " ms holds changes, not the full copy due, as the files under it cannot "
                      "be read (%s); the next checkpoint copies the whole state",
                      h->name, (gint64)em__ckpt_time(ck), why->message);
            g_error_free(why);
            g_atomic_int_set(&h->ms->want_complete, 1);
            full = false;
        }
        g_array_unref(times);
    }
    h->full = full;
    h->full_time = full ? em__ckpt_time(ck) : c->full;
    h->prev_full = full ? c->full : c->prev_full;
    if (full && rows) {
        em__ckpt_put_state(ck, full_rec, (const em_ckpt_state_row *)rows->data, rows->len);
    } else if (full) {
        put_rows(ck, full_rec, ch->entries, false);
    } else {
        g_autofree char *delta = record_name("state-delta", h->name);
        g_autofree char *gone = record_name("state-removed", h->name);
        g_autofree char *base = record_name("state-base", h->name);
        put_rows(ck, delta, ch->entries, false);
        put_rows(ck, gone, ch->entries, true);
        em_value base_time = em_int(c->base);
        em__ckpt_put_values(ck, base, &base_time, 1);
        for (guint i = 0; i < c->times->len; i++)
            em__ckpt_needs(ck, g_array_index(c->times, em_time, i));
    }
    g_autofree char *chains = record_name("state-chains", h->name);
    em_value fulls[2] = {em_int(h->full_time), em_int(h->prev_full)};
    em__ckpt_put_values(ck, chains, fulls, 2);
    /* The older chain stays whole beside this one. */
    em__ckpt_keep_from(ck, h->prev_full >= 0 ? h->prev_full : h->full_time);
    if (rows)
        g_array_unref(rows);
    em__ckpt_free(base_ck);
    em_arena_free(arena);
    return true;
}

static void handover_written(void *data, const em_ckpt *ck, bool ok)
{
    handover *h = data;
    ms_chain *c = &h->ms->chain;
    if (!ok) {
        /* The next file holds these changes too (its chain skips this one). */
        c->unwritten = take_changes(h);
        h->changes = NULL;
        return;
    }
    em_time t = em__ckpt_time(ck);
    c->base = t;
    c->full = h->full_time;
    c->prev_full = h->prev_full;
    if (h->full)
        g_array_set_size(c->times, 0);
    g_array_append_val(c->times, t);
}

static const em_ckpt_builder handover_builder = {.build = handover_build,
                                                 .written = handover_written,
                                                 .free = handover_free};

static size_t live_keys(const map_state *ms)
{
    size_t n = 0;
    for (int i = 0; i < ms->n; i++)
        n += ms->tables[i].table.live;
    return n;
}

/* Batch thread: hands over the changes since the last checkpoint (their tables move, nothing is
 * copied but states still in the tables' arenas), or every key the first time. */
static void map_state_checkpoint_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    (void)t;
    map_state *ms = (map_state *)ds;
    bool asked = g_atomic_int_compare_and_exchange(&ms->want_complete, 1, 0);
    bool complete = !ms->tables[0].tracking || asked;
    handover *h = g_new0(handover, 1);
    h->ms = ms;
    h->name = g_strdup(name);
    h->live = live_keys(ms);
    if (complete) {
        h->changes = changes_new(true);
        em_arena *arena = em_arena_new();
        g_ptr_array_add(h->changes->arenas, arena);
        g_array_set_size(h->changes->entries, (guint)h->live);
        change *out = (change *)(void *)h->changes->entries->data;
        for (int i = 0; i < ms->n; i++) {
            const state_table *tb = &ms->tables[i];
            uint32_t pos = 0;
            for (const st_entry *en; (en = (const st_entry *)em__table_next(&tb->table, &pos));)
                *out++ = (change){em_value_copy(em__table_key(&en->base), arena),
                                  em__value_copy(en->base.value, arena), en->updated, false};
        }
    } else {
        h->changes = changes_new(false);
        h->changes->n_tables = ms->n;
        h->changes->tables = g_new(em_table, ms->n);
    }
    for (int i = 0; i < ms->n; i++) {
        state_table *tb = &ms->tables[i];
        if (!complete) {
            dirty_own_states(tb);
            h->changes->tables[i] = tb->dirty;
            g_ptr_array_add(h->changes->arenas, tb->dirty_arena);
            tb->dirty_arena = NULL; /* moved: dirty_reset makes fresh ones */
        }
        tb->tracking = true;
        dirty_reset(tb);
    }
    em__ckpt_defer(ck, &handover_builder, h);
}

/* Oldest update first, then as saved: tables keep their update-order lists in that order. */
static int by_updated(const void *a, const void *b)
{
    const em_ckpt_state_row *x = a, *y = b;
    if (x->updated != y->updated)
        return x->updated < y->updated ? -1 : 1;
    return x < y ? -1 : x > y;
}

static bool map_state_checkpoint_restore(em_dstream *ds, const em_ckpt *ck, const char *name,
                                         em_time t, GError **err)
{
    (void)t; /* the file's own time: a table query restores with 0 */
    map_state *ms = (map_state *)ds;
    g_autofree char *full = record_name("state", name);
    g_autofree char *base = record_name("state-base", name);
    if (!em__ckpt_get(ck, full) && !em__ckpt_get(ck, base))
        return true; /* new in this program: it starts from its initial state */
    em_arena *arena = em_arena_new();
    GArray *rows = NULL;
    GArray *times = g_array_new(FALSE, FALSE, sizeof(em_time));
    g_autofree char *chains = record_name("state-chains", name);
    em_time prev_full = em__ckpt_get(ck, chains) ? time_record(ck, chains, arena, 1, err) : -1;
    if (prev_full < -1 || !load_chain(ck, name, NULL, arena, &rows, times, err)) {
        g_array_unref(times);
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
    for (int i = 0; i < ms->n; i++) {
        undo_clear(&ms->tables[i]); /* the restored keys are committed state */
        ms->tables[i].tracking = true;
        dirty_reset(&ms->tables[i]); /* the next checkpoint holds the changes since ck */
    }
    ms->loaded = true; /* the initial state went into the checkpointed state already */
    /* The next file builds on ck's chain. */
    ms_chain *c = &ms->chain;
    g_array_set_size(c->times, 0);
    g_array_append_vals(c->times, times->data, times->len);
    c->base = em__ckpt_time(ck);
    c->full = g_array_index(times, em_time, 0);
    c->prev_full = prev_full;
    changes_free(g_steal_pointer(&c->unwritten));
    g_array_unref(times);
    g_array_unref(rows);
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
    ms->chain = (ms_chain){.base = -1,
                           .full = -1,
                           .prev_full = -1,
                           .times = g_array_new(FALSE, FALSE, sizeof(em_time)),
                           .full_every = FULL_EVERY};
    return out;
}

void em__map_with_state_full_every(em_dstream *mapped, int n)
{
    g_return_if_fail(mapped && mapped->klass == &map_state_class && n > 0);
    ((map_state *)mapped)->chain.full_every = n;
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
