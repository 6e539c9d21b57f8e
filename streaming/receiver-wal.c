/* The receivers' write-ahead log (streaming, beside the receiver supervisor): Spark's
 * WriteAheadLogBasedBlockHandler and its ReceivedBlockTracker log, as one log per receiver under
 * "<checkpoint dir>/inputs/<stream>" (wal.c). Two kinds of record: a chunk of a block's records,
 * logged before they count as stored, and a batch's allocation (the chunks batch t got), logged
 * when the generator seals t. After a crash the batches allocated after the checkpoint get
 * exactly their chunks again, and chunks no batch took go to the next batch. */
#include "checkpoint-file.h"
#include "receiver-private.h"
#include "recovery.h"

/* Record layouts, em_value encodings: [CHUNK, block id, n, n records] where the block id is the
 * record number of the block's first chunk; [BATCH, time, n, n chunk record numbers]. */
enum { REC_CHUNK = 1, REC_BATCH = 2, POSITION_VERSION = 1 };

/* A batch allocated before a restart, to be sealed again. */
typedef struct em__replayed {
    GPtrArray *blocks; /* em_values * */
    GArray *seqs;      /* uint64_t */
    uint64_t alloc_seq;
} em__replayed;

static void replayed_free(gpointer p)
{
    em__replayed *b = p;
    if (b->blocks)
        g_ptr_array_unref(b->blocks);
    if (b->seqs)
        g_array_unref(b->seqs);
    g_free(b);
}

static GArray *seqs_new(void) { return g_array_new(FALSE, FALSE, sizeof(uint64_t)); }

static int64_t blocks_bytes(const GPtrArray *blocks)
{
    int64_t bytes = 0;
    for (guint i = 0; i < blocks->len; i++)
        bytes += em__receiver_values_bytes(blocks->pdata[i]);
    return bytes;
}

static uint64_t seqs_min(const GArray *seqs, uint64_t min)
{
    for (guint i = 0; seqs && i < seqs->len; i++)
        min = MIN(min, g_array_index(seqs, uint64_t, i));
    return min;
}

static bool append(em_receiver *r, uint64_t *seq, GError **err)
{
    bool ok = em__wal_append(r->wal, r->encoded->data, r->encoded->len, seq, err);
    g_byte_array_set_size(r->encoded, 0);
    return ok;
}

/* ---- Writing ---- */

bool em__receiver_wal_log_tail(em_receiver *r, GError **err)
{
    if (!r->block || r->block_logged == r->block->n)
        return true;
    size_t n = r->block->n - r->block_logged;
    uint64_t block_id = r->block_seqs->len ? g_array_index(r->block_seqs, uint64_t, 0)
                                           : em__wal_last_seq(r->wal) + 1;
    em_value_encode(em_int(REC_CHUNK), r->encoded);
    em_value_encode(em_int((int64_t)block_id), r->encoded);
    em_value_encode(em_int((int64_t)n), r->encoded);
    for (size_t i = r->block_logged; i < r->block->n; i++)
        em_value_encode(r->block->items[i], r->encoded);
    uint64_t seq;
    if (!append(r, &seq, err))
        return false;
    g_array_append_val(r->block_seqs, seq);
    r->block_logged = r->block->n;
    r->stored += (int64_t)n;
    return true;
}

void em__receiver_wal_log_batch(em_receiver *r, const received_batch *b, em_time t)
{
    em_value_encode(em_int(REC_BATCH), r->encoded);
    em_value_encode(em_int(t), r->encoded);
    em_value_encode(em_int((int64_t)b->seqs->len), r->encoded);
    for (guint i = 0; i < b->seqs->len; i++)
        em_value_encode(em_int((int64_t)g_array_index(b->seqs, uint64_t, i)), r->encoded);
    uint64_t seq;
    GError *err = NULL;
    if (!append(r, &seq, &err)) {
        g_warning("receiver %s of stream %d: the blocks of batch %" G_GINT64_FORMAT " ms are "
                  "not logged as its own, a crash before it completes gives them to a later "
                  "batch: %s",
                  r->name, r->stream_id, (gint64)t, err->message);
        g_error_free(err);
        return;
    }
    em__wal_mark mark = {.time = t, .alloc_seq = seq, .min_seq = seqs_min(b->seqs, seq)};
    g_array_append_val(r->marks, mark);
}

static int by_time(gconstpointer a, gconstpointer b)
{
    em_time x = *(const em_time *)a, y = *(const em_time *)b;
    return x < y ? -1 : x > y;
}

/* Moves the blocks (and records) of batches replayed for times before t in front of the
 * sealed ones: those times are never sealed again, and the data goes to batch t rather than
 * being lost. */
static void release_stale(em_receiver *r, em_time t)
{
    GList *stale = NULL;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, r->replay);
    while (g_hash_table_iter_next(&it, &key, &value))
        if (*(em_time *)key < t)
            stale = g_list_prepend(stale, key);
    if (!stale)
        return;
    stale = g_list_sort(stale, by_time);
    GPtrArray *blocks = em__receiver_blocks_new();
    GArray *seqs = seqs_new();
    for (GList *l = stale; l; l = l->next) {
        em__replayed *b = g_hash_table_lookup(r->replay, l->data);
        r->pending_bytes += blocks_bytes(b->blocks);
        g_ptr_array_extend_and_steal(blocks, g_steal_pointer(&b->blocks));
        g_array_append_vals(seqs, b->seqs->data, b->seqs->len);
        g_hash_table_remove(r->replay, l->data);
    }
    g_list_free(stale);
    g_ptr_array_extend_and_steal(blocks, r->sealed);
    g_array_append_vals(seqs, r->sealed_seqs->data, r->sealed_seqs->len);
    g_array_unref(r->sealed_seqs);
    r->sealed = blocks;
    r->sealed_seqs = seqs;
}

bool em__receiver_wal_take_replayed(em_receiver *r, received_batch *b, em_time t)
{
    if (!g_hash_table_size(r->replay))
        return false;
    release_stale(r, t);
    em__replayed *again = g_hash_table_lookup(r->replay, &t);
    if (!again)
        return false;
    b->blocks = g_steal_pointer(&again->blocks);
    b->seqs = g_steal_pointer(&again->seqs);
    r->pending_bytes += blocks_bytes(b->blocks);
    em__wal_mark mark = {.time = t,
                         .alloc_seq = again->alloc_seq,
                         .min_seq = seqs_min(b->seqs, again->alloc_seq)};
    g_array_append_val(r->marks, mark);
    g_hash_table_remove(r->replay, &t);
    return true;
}

void em__receiver_wal_clean(em_receiver *r)
{
    em_time covered = em__recovery_last_written(r->ssc);
    guint drop = 0;
    while (drop < r->marks->len && g_array_index(r->marks, em__wal_mark, drop).time <= covered)
        drop++;
    g_array_remove_range(r->marks, 0, drop);
    uint64_t need = seqs_min(r->sealed_seqs, seqs_min(r->block_seqs, G_MAXUINT64));
    for (guint i = 0; i < r->marks->len; i++)
        need = MIN(need, g_array_index(r->marks, em__wal_mark, i).min_seq);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, r->replay);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const em__replayed *b = value;
        need = MIN(need, seqs_min(b->seqs, b->alloc_seq));
    }
    uint64_t upto = need == G_MAXUINT64 ? em__wal_last_seq(r->wal) : need - 1;
    GError *err = NULL;
    if (upto > 0 && em__wal_clean(r->wal, upto, &err) < 0) {
        g_warning("receiver %s of stream %d: %s", r->name, r->stream_id, err->message);
        g_error_free(err);
    }
}

/* ---- Reading back after a restart ---- */

typedef struct {
    uint64_t block_id;
    em_values *values;
} chunk;

static void chunk_free(gpointer p)
{
    chunk *c = p;
    em_values_free(c->values);
    g_free(c);
}

typedef struct {
    em_receiver *r;
    const char *dir;
    em_time recovered;
    GHashTable *chunks; /* uint64_t * (record number) -> chunk * */
    GError *error;
    guint batches;
    em_arena *scratch; /* what record headers decode to */
} replay_ctx;

static bool malformed(replay_ctx *c, uint64_t seq, const char *why)
{
    g_set_error(&c->error, EM_ERROR, EM_ERROR_CORRUPT,
                "write-ahead log %s: record %" G_GUINT64_FORMAT " %s", c->dir, (guint64)seq, why);
    return false;
}

/* Groups chunks in order into blocks: consecutive chunks of one block make one em_values.
 * Takes the chunks out of c->chunks; those missing are skipped. */
static void gather(replay_ctx *c, const uint64_t *seqs, size_t n, GPtrArray *blocks, GArray *kept)
{
    uint64_t last_block = 0;
    for (size_t i = 0; i < n; i++) {
        chunk *ch = NULL;
        gpointer key = NULL;
        if (!g_hash_table_steal_extended(c->chunks, &seqs[i], &key, (gpointer *)&ch))
            continue;
        g_free(key);
        g_array_append_val(kept, seqs[i]);
        if (blocks->len && ch->block_id == last_block) {
            em_values *block = blocks->pdata[blocks->len - 1];
            for (size_t j = 0; j < ch->values->n; j++)
                em__values_append_copy(block, ch->values->items[j]);
            chunk_free(ch);
        } else {
            g_ptr_array_add(blocks, g_steal_pointer(&ch->values));
            last_block = ch->block_id;
            g_free(ch);
        }
    }
}

/* An integer at buf[*pos]; anything else decoded goes to arena (a damaged record). */
static bool next_int(const uint8_t *buf, size_t len, size_t *pos, em_arena *arena, int64_t *out)
{
    em_value v;
    size_t used = 0;
    if (!em_value_decode(buf + *pos, len - *pos, &used, arena, &v, NULL) || v.type != EM_T_INT)
        return false;
    *pos += used;
    *out = v.as.i;
    return true;
}

static bool read_chunk(replay_ctx *c, uint64_t seq, const uint8_t *buf, size_t len, size_t pos)
{
    int64_t block_id, n;
    if (!next_int(buf, len, &pos, c->scratch, &block_id) ||
        !next_int(buf, len, &pos, c->scratch, &n) || n < 0 || (uint64_t)n > len - pos)
        return malformed(c, seq, "is not a block's records");
    chunk *ch = g_new(chunk, 1);
    ch->block_id = (uint64_t)block_id;
    ch->values = em__values_new();
    for (int64_t i = 0; i < n; i++) {
        em_value v;
        size_t used = 0;
        if (!em_value_decode(buf + pos, len - pos, &used, ch->values->arena, &v, NULL)) {
            chunk_free(ch);
            return malformed(c, seq, "holds a record that does not decode");
        }
        pos += used;
        em__values_append(ch->values, v);
    }
    uint64_t *key = g_new(uint64_t, 1);
    *key = seq;
    g_hash_table_replace(c->chunks, key, ch);
    return true;
}

static bool read_batch(replay_ctx *c, uint64_t seq, const uint8_t *buf, size_t len, size_t pos)
{
    em_receiver *r = c->r;
    int64_t t, n;
    if (!next_int(buf, len, &pos, c->scratch, &t) || !next_int(buf, len, &pos, c->scratch, &n) ||
        n < 0 || (uint64_t)n > len - pos)
        return malformed(c, seq, "is not a batch's allocation");
    uint64_t *seqs = g_new(uint64_t, n ? n : 1);
    for (int64_t i = 0; i < n; i++) {
        int64_t s;
        if (!next_int(buf, len, &pos, c->scratch, &s)) {
            g_free(seqs);
            return malformed(c, seq, "is not a batch's allocation");
        }
        seqs[i] = (uint64_t)s;
    }
    em__replayed *b = g_new0(em__replayed, 1);
    b->blocks = em__receiver_blocks_new();
    b->seqs = seqs_new();
    b->alloc_seq = seq;
    gather(c, seqs, (size_t)n, b->blocks, b->seqs);
    g_free(seqs);
    /* A batch the checkpoint covers is done: its blocks are not needed. */
    if (t <= c->recovered || seq <= r->restored_seq) {
        replayed_free(b);
        return true;
    }
    em_time *key = g_new(em_time, 1);
    *key = t;
    g_hash_table_replace(r->replay, key, b);
    c->batches++;
    return true;
}

static bool replay_record(uint64_t seq, const void *data, size_t n, void *ud)
{
    replay_ctx *c = ud;
    size_t pos = 0;
    int64_t kind;
    if (!next_int(data, n, &pos, c->scratch, &kind))
        return malformed(c, seq, "has no kind");
    if (kind == REC_CHUNK)
        return read_chunk(c, seq, data, n, pos);
    if (kind == REC_BATCH)
        return read_batch(c, seq, data, n, pos);
    return malformed(c, seq, "has an unknown kind");
}

static int by_seq(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Chunks no batch took: the next batch's, in the order they were logged. Those at or before
 * the checkpoint's position belonged to a batch it covers whose allocation was not logged. */
static void unallocated_to_sealed(replay_ctx *c)
{
    em_receiver *r = c->r;
    GArray *seqs = seqs_new();
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, c->chunks);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (*(uint64_t *)key > r->restored_seq)
            g_array_append_val(seqs, *(uint64_t *)key);
    g_array_sort(seqs, by_seq);
    GPtrArray *blocks = em__receiver_blocks_new();
    gather(c, (const uint64_t *)seqs->data, seqs->len, blocks, r->sealed_seqs);
    r->pending_bytes += blocks_bytes(blocks);
    g_ptr_array_extend_and_steal(r->sealed, blocks);
    g_array_unref(seqs);
}

bool em__receiver_wal_start(em_receiver *r, em_dstream *ds, GError **err)
{
    if (r->wal)
        return true;
    g_autofree char *dir = em__recovery_input_log(ds);
    if (!dir) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "%s: the receivers' write-ahead log (em_ssc_opts.receiver_wal) needs a "
                    "checkpoint directory: call em_ssc_checkpoint() or use "
                    "em_ssc_get_or_create()",
                    ds->op);
        return false;
    }
    r->wal = em__wal_open(dir, NULL, err);
    if (!r->wal)
        return false;
    r->block_seqs = seqs_new();
    r->sealed_seqs = seqs_new();
    r->marks = g_array_new(FALSE, FALSE, sizeof(em__wal_mark));
    r->replay = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, replayed_free);
    r->encoded = g_byte_array_new();
    replay_ctx c = {.r = r,
                    .dir = dir,
                    .recovered = em_ssc_recovered_time(ds->ssc),
                    .chunks =
                        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, chunk_free),
                    .scratch = em_arena_new()};
    bool ok = em__wal_replay(r->wal, 0, replay_record, &c, err);
    if (ok && c.error) {
        g_propagate_error(err, g_steal_pointer(&c.error));
        ok = false;
    }
    if (ok) {
        g_mutex_lock(&r->lock);
        unallocated_to_sealed(&c);
        guint blocks = r->sealed->len;
        g_mutex_unlock(&r->lock);
        if (c.batches || blocks)
            g_message("%s: %u batch(es) generated but not completed and %u block(s) no batch "
                      "took read back from write-ahead log %s",
                      ds->op, c.batches, blocks, dir);
    }
    g_clear_error(&c.error);
    g_hash_table_unref(c.chunks);
    em_arena_free(c.scratch);
    if (!ok)
        em__receiver_wal_free(r);
    return ok;
}

/* ---- Checkpoints: the log's position ---- */

void em__receiver_wal_save(em_dstream *ds, em_ckpt *ck, const char *name, em_time t)
{
    em_receiver *r = receiver_of(ds);
    uint64_t pos = r->restored_seq;
    g_mutex_lock(&r->lock);
    for (guint i = 0; r->marks && i < r->marks->len; i++) {
        const em__wal_mark *m = &g_array_index(r->marks, em__wal_mark, i);
        if (m->time <= t)
            pos = MAX(pos, m->alloc_seq);
    }
    g_mutex_unlock(&r->lock);
    em_value vals[] = {em_int(POSITION_VERSION), em_int((int64_t)pos)};
    GByteArray *blob = g_byte_array_new();
    em_values_encode(vals, 2, blob);
    em__ckpt_put_position(ck, name, blob->data, blob->len);
    g_byte_array_unref(blob);
}

bool em__receiver_wal_restore(em_dstream *ds, const em_ckpt *ck, const char *name, em_time t,
                              GError **err)
{
    (void)t;
    em_receiver *r = receiver_of(ds);
    GBytes *blob = em__ckpt_get_position(ck, name);
    if (!blob)
        return true; /* a stream the checkpoint did not know: nothing of it is done */
    em_arena *arena = em_arena_new();
    em_value *vals = NULL;
    size_t n = 0, len = 0;
    const uint8_t *bytes = g_bytes_get_data(blob, &len);
    bool ok = em_values_decode(bytes, len, arena, &vals, &n, NULL) && n == 2 &&
              vals[0].type == EM_T_INT && vals[0].as.i == POSITION_VERSION &&
              vals[1].type == EM_T_INT && vals[1].as.i >= 0;
    if (ok)
        r->restored_seq = (uint64_t)vals[1].as.i;
    else
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "%s: the checkpoint's write-ahead log position is not a version and a "
                    "record number",
                    ds->op);
    g_free(vals);
    em_arena_free(arena);
    return ok;
}

void em__receiver_wal_free(em_receiver *r)
{
    em__wal_close(r->wal);
    r->wal = NULL;
    if (r->block_seqs)
        g_array_unref(r->block_seqs);
    if (r->sealed_seqs)
        g_array_unref(r->sealed_seqs);
    if (r->marks)
        g_array_unref(r->marks);
    if (r->replay)
        g_hash_table_unref(r->replay);
    if (r->encoded)
        g_byte_array_unref(r->encoded);
    r->block_seqs = r->sealed_seqs = r->marks = NULL;
    r->replay = NULL;
    r->encoded = NULL;
}
