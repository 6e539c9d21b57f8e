/* Checkpointing and recovery (streaming, beside the context's lifecycle): Spark's
 * ssc.checkpoint(dir), DStream.checkpoint(interval) and StreamingContext.getOrCreate.
 *
 * After a batch whose time is a checkpoint time, the scheduler thread asks every stream that
 * carries something across a restart (a class with checkpoint_save: state, input positions)
 * to copy it into an in-memory checkpoint (or hand it over for the writer to encode, as
 * mapWithState's changed keys), with the clock and the graph's manifest; a writer thread
 * builds, compresses and writes it (checkpoint-file.c). Recovery reads the newest good file
 * whose chain of files is whole, lets the program build its graph again, matches the graph
 * (checkpoint-graph.c) and hands each stream its record back; the clock goes on from the
 * checkpoint's batch. */
#include "recovery.h"

#include "checkpoint-file.h"
#include "ui-private.h"

#include <time.h>

/* A checkpoint handed to the writer, and how long the batch thread took to copy it. */
typedef struct queued_ckpt {
    em_ckpt *ck;
    int64_t snapshot_us;
} queued_ckpt;

/* The writer's queue item that ends it. */
static queued_ckpt STOP_WRITER_ITEM;
#define STOP_WRITER (&STOP_WRITER_ITEM)

typedef struct em_recovery {
    char *dir;
    GHashTable *intervals;  /* em_dstream * -> em_duration * (em_dstream_checkpoint) */
    GArray *due;            /* em_duration: the checkpoint intervals in force (start) */
    em_time recovered_time; /* -1 unless recovered */
    em_ckpt_clock clock;    /* the recovered checkpoint's clock */
    em_time last_snapshot;  /* the newest batch time handed to the writer */
    GThread *writer;
    GAsyncQueue *queue; /* queued_ckpt * to write, STOP_WRITER last */
    GMutex lock;        /* guards figures */
    em_checkpoint_figures figures;
} em_recovery;

static em_recovery *recovery_of(em_ssc *ssc)
{
    if (!ssc->recovery) {
        em_recovery *r = g_new0(em_recovery, 1);
        r->intervals = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        r->due = g_array_new(FALSE, FALSE, sizeof(em_duration));
        r->recovered_time = -1;
        r->last_snapshot = G_MININT64;
        r->figures.last_time = -1;
        g_mutex_init(&r->lock);
        ssc->recovery = r;
    }
    return ssc->recovery;
}

static bool started(em_ssc *ssc, const char *fn)
{
    g_mutex_lock(&ssc->lock);
    bool active = ssc->state != EM_SSC_INITIALIZED;
    g_mutex_unlock(&ssc->lock);
    if (active)
        g_critical("%s: call it before em_ssc_start", fn);
    return active;
}

void em_ssc_checkpoint(em_ssc *ssc, const char *dir)
{
    g_return_if_fail(ssc && dir);
    if (started(ssc, "em_ssc_checkpoint"))
        return;
    em_recovery *r = recovery_of(ssc);
    g_free(r->dir);
    r->dir = g_strdup(dir);
}

void em_dstream_checkpoint(em_dstream *ds, em_duration interval)
{
    g_return_if_fail(ds);
    if (started(ds->ssc, "em_dstream_checkpoint"))
        return;
    if (interval <= 0 || interval % ds->slide != 0) {
        g_critical("em_dstream_checkpoint: the interval (%" G_GINT64_FORMAT " ms) must be a "
                   "positive multiple of the stream's slide (%" G_GINT64_FORMAT " ms)",
                   (gint64)interval, (gint64)ds->slide);
        return;
    }
    em_duration *d = g_new(em_duration, 1);
    *d = interval;
    g_hash_table_insert(recovery_of(ds->ssc)->intervals, ds, d);
}

em_time em_ssc_recovered_time(const em_ssc *ssc)
{
    return ssc->recovery ? ssc->recovery->recovered_time : -1;
}

void em_ssc_checkpoint_figures(em_ssc *ssc, em_checkpoint_figures *figures)
{
    *figures = (em_checkpoint_figures){.last_time = -1};
    if (!ssc->recovery)
        return;
    g_mutex_lock(&ssc->recovery->lock);
    *figures = ssc->recovery->figures;
    g_mutex_unlock(&ssc->recovery->lock);
}

/* ---- The graph's checkpointed streams and their stable names ---- */

/* The streams whose class saves something, in creation order, each with its stable name: the
 * name given (or the function's) for operators, "<op>-<k>" for the k-th input of its kind; a
 * name met again gets "#2", "#3". names is filled with new strings. */
static GPtrArray *checkpointed(em_ssc *ssc, GPtrArray *names)
{
    GPtrArray *streams = g_ptr_array_new();
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *kinds = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        if (!ds->klass->checkpoint_save)
            continue;
        char *name;
        if (ds->input_id >= 0) {
            int k = GPOINTER_TO_INT(g_hash_table_lookup(kinds, ds->op));
            g_hash_table_insert(kinds, (gpointer)ds->op, GINT_TO_POINTER(k + 1));
            name = g_strdup_printf("%s-%d", ds->op, k);
        } else {
            name = g_strdup(ds->fn_name ? ds->fn_name : ds->op);
        }
        for (int n = 2; g_hash_table_contains(seen, name); n++) {
            char *base = g_strdup(ds->fn_name && ds->input_id < 0 ? ds->fn_name : ds->op);
            g_free(name);
            name = g_strdup_printf("%s#%d", base, n);
            g_free(base);
        }
        g_ptr_array_add(streams, ds);
        g_ptr_array_add(names, name);
        g_hash_table_add(seen, name);
    }
    g_hash_table_unref(seen);
    g_hash_table_unref(kinds);
    return streams;
}

static em_ckpt_op *manifest(GPtrArray *streams, GPtrArray *names)
{
    em_ckpt_op *ops = g_new0(em_ckpt_op, streams->len ? streams->len : 1);
    for (guint i = 0; i < streams->len; i++) {
        em_dstream *ds = streams->pdata[i];
        ops[i] = (em_ckpt_op){.kind = ds->op, .name = names->pdata[i], .slide = ds->slide};
    }
    return ops;
}

/* ---- Writing ---- */

static gpointer writer_main(gpointer data)
{
    em_ssc *ssc = data;
    em_recovery *r = ssc->recovery;
    for (;;) {
        queued_ckpt *q = g_async_queue_pop(r->queue);
        if (q == STOP_WRITER)
            break;
        em_ckpt *ck = q->ck;
        em_ckpt_write_info info = {0};
        GError *err = NULL;
        bool ok = em__ckpt_write(ck, r->dir, 0, &info, &err);
        if (!ok)
            g_warning("checkpoint of batch %" G_GINT64_FORMAT " ms not written: %s",
                      (gint64)em__ckpt_time(ck), err->message);
        /* The batch's progress record hears it before the figures say it is written. */
        if (ok)
            em__monitor_checkpoint_written(ssc, em__ckpt_time(ck),
                                           (q->snapshot_us + info.duration_us) / 1000);
        struct timespec cpu;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        g_mutex_lock(&r->lock);
        r->figures.writer_cpu_us = (int64_t)cpu.tv_sec * 1000000 + cpu.tv_nsec / 1000;
        if (ok) {
            r->figures.written++;
            r->figures.last_time = em__ckpt_time(ck);
            r->figures.last_bytes = (int64_t)info.bytes;
            r->figures.last_write_us = info.duration_us;
        } else {
            r->figures.failed++;
        }
        g_mutex_unlock(&r->lock);
        g_clear_error(&err);
        g_free(info.path);
        em__ckpt_free(ck);
        g_free(q);
    }
    return NULL;
}

/* Spark's defaults: mapWithState every 10 batches (its DEFAULT_CHECKPOINT_DURATION_MULTIPLIER);
 * other stateful streams at the smallest multiple of their slide that is >= 10 s. */
static em_duration default_interval(const em_dstream *ds)
{
    if (strcmp(ds->op, "mapWithState") == 0)
        return 10 * ds->slide;
    em_duration ten = EM_SECONDS(10);
    return ds->slide * ((ten + ds->slide - 1) / ds->slide);
}

void em__recovery_start(em_ssc *ssc, em_time *first)
{
    em_recovery *r = ssc->recovery;
    if (!r || !r->dir)
        return;
    if (r->recovered_time >= 0) {
        ssc->zero_time = r->clock.zero_time;
        *first = r->clock.last_completed + ssc->batch;
        g_mutex_lock(&ssc->lock);
        if (ssc->manual && ssc->manual_now < r->clock.last_completed)
            ssc->manual_now = r->clock.last_completed;
        g_mutex_unlock(&ssc->lock);
        if (r->clock.n_pending)
            g_message("recovered from the checkpoint of batch %" G_GINT64_FORMAT " ms: %zu "
                      "batch(es) generated but not completed run again from %" G_GINT64_FORMAT
                      " ms",
                      (gint64)r->recovered_time, r->clock.n_pending, (gint64)*first);
    }
    g_array_set_size(r->due, 0);
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        if (!ds->klass->checkpoint_save)
            continue;
        em_duration *given = g_hash_table_lookup(r->intervals, ds);
        if (ds->input_id >= 0 && !given)
            continue; /* positions go into every checkpoint, they set no interval */
        em_duration d = given ? *given : default_interval(ds);
        g_array_append_val(r->due, d);
    }
    if (r->due->len == 0) /* nothing stateful: Spark's metadata checkpoint, every batch */
        g_array_append_val(r->due, ssc->batch);
    r->queue = g_async_queue_new();
    r->writer = g_thread_new("em-checkpoint", writer_main, ssc);
}

static bool is_due(const em_recovery *r, em_time since_zero)
{
    for (guint i = 0; i < r->due->len; i++)
        if (since_zero % g_array_index(r->due, em_duration, i) == 0)
            return true;
    return false;
}

/* ---- Remembered batches: what windows read after a restart ----
 * A stream a window reads keeps its batches for the window's length; the batches before a
 * restart exist nowhere else, so each checkpoint carries those of (t - remember, t], under
 * "rdds/<op>:<function>:<k>" (the k-th stream of that op and function). Each batch is stored as
 * its partition count then its records, and restored hash-partitioned as it was, so windows
 * that read partitions side by side find their keys where they left them. */

static char *remembered_key(em_ssc *ssc, em_dstream *ds)
{
    int k = 0;
    for (guint i = 0; i < ssc->streams->len && ssc->streams->pdata[i] != ds; i++) {
        em_dstream *o = ssc->streams->pdata[i];
        k += strcmp(o->op, ds->op) == 0 && g_strcmp0(o->fn_name, ds->fn_name) == 0;
    }
    return g_strdup_printf("rdds/%s:%s:%d", ds->op, ds->fn_name ? ds->fn_name : "", k);
}

static void save_remembered(em_ssc *ssc, em_ckpt *ck, em_time t)
{
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        if (!ds->initialized || ds->remember <= ds->slide)
            continue;
        /* A window computes its batches only at its slide times: those of the window's
         * remaining batches not computed yet are computed now, while their input is here. */
        g_rec_mutex_lock(&ssc->generate_lock);
        for (em_time u = t - (t - ds->zero_time) % ds->slide;
             u > t - ds->remember && u > ds->zero_time; u -= ds->slide) {
            GError *ignored = NULL; /* a batch that fails is not stored, as it never was */
            em__dstream_get_or_compute(ds, u, &ignored);
            g_clear_error(&ignored);
        }
        g_rec_mutex_unlock(&ssc->generate_lock);
        GArray *parts = g_array_new(FALSE, FALSE, sizeof(em_ckpt_partial));
        GPtrArray *keep = g_ptr_array_new_with_free_func((GDestroyNotify)em_values_free);
        g_mutex_lock(&ds->lock);
        GPtrArray *rdds = g_ptr_array_new_with_free_func((GDestroyNotify)em_rdd_unref);
        GArray *times = g_array_new(FALSE, FALSE, sizeof(em_time));
        for (guint j = 0; j < ds->generated->len; j++) {
            em_generated *g = &g_array_index(ds->generated, em_generated, j);
            if (g->rdd && g->time > t - ds->remember && g->time <= t) {
                g_ptr_array_add(rdds, em_rdd_ref(g->rdd));
                g_array_append_val(times, g->time);
            }
        }
        g_mutex_unlock(&ds->lock);
        for (guint j = 0; j < rdds->len; j++) {
            em_rdd *rdd = rdds->pdata[j];
            em_values *vals = em_rdd_collect(rdd, NULL);
            if (!vals)
                continue; /* the batch failed: it is not restored, as it was not there */
            em_values *stored = em__values_new();
            em__values_append(stored, em_int(em_rdd_num_partitions(rdd)));
            for (size_t v = 0; v < vals->n; v++)
                em__values_append_copy(stored, vals->items[v]);
            em_values_free(vals);
            g_ptr_array_add(keep, stored);
            em_ckpt_partial part = {g_array_index(times, em_time, j), stored->items, stored->n};
            g_array_append_val(parts, part);
        }
        g_autofree char *key = remembered_key(ssc, ds);
        em__ckpt_put_partials(ck, key, (em_ckpt_partial *)parts->data, parts->len);
        g_array_unref(parts);
        g_ptr_array_unref(keep);
        g_ptr_array_unref(rdds);
        g_array_unref(times);
    }
}

static int by_time(gconstpointer a, gconstpointer b)
{
    const em_generated *x = a, *y = b;
    return x->time < y->time ? -1 : x->time > y->time;
}

em_rdd *em__recovery_rebuild(em_context *sc, const em_value *stored, size_t n, GError **err)
{
    int parts = n && stored[0].type == EM_T_INT ? (int)stored[0].as.i : 0;
    if (parts <= 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "a stored batch has no partition count");
        return NULL;
    }
    bool pairs = true;
    for (size_t i = 1; i < n && pairs; i++)
        pairs = em_is_pair(stored[i]);
    em_rdd *rdd = em_parallelize(sc, stored + 1, n - 1, parts);
    if (pairs && n > 1) {
        em_rdd *hashed = em_rdd_partition_by(rdd, parts);
        em_rdd_unref(rdd);
        rdd = hashed;
    }
    if (!em__rdd_checkpoint(rdd, err)) {
        em_rdd_unref(rdd);
        return NULL;
    }
    return rdd;
}

static bool restore_remembered(em_ssc *ssc, const em_ckpt *ck, GError **err)
{
    for (guint i = 0; i < ssc->streams->len; i++) {
        em_dstream *ds = ssc->streams->pdata[i];
        g_autofree char *key = remembered_key(ssc, ds);
        if (!em__ckpt_get(ck, key))
            continue;
        em_arena *arena = em_arena_new();
        GArray *parts = NULL;
        bool ok = em__ckpt_get_partials(ck, key, arena, &parts, err);
        for (guint j = 0; ok && j < parts->len; j++) {
            em_ckpt_partial *p = &g_array_index(parts, em_ckpt_partial, j);
            em_rdd *rdd = em__recovery_rebuild(ssc->sc, p->records, p->n, err);
            ok = rdd != NULL;
            if (ok) {
                em_generated g = {.time = p->time, .rdd = rdd};
                g_mutex_lock(&ds->lock);
                g_array_append_val(ds->generated, g);
                g_array_sort(ds->generated, by_time);
                g_mutex_unlock(&ds->lock);
            }
        }
        if (parts)
            g_array_unref(parts);
        em_arena_free(arena);
        if (!ok) {
            g_prefix_error(err, "%s: ", key);
            return false;
        }
    }
    return true;
}

/* Copies everything a restart needs as after batch t and queues it for the writer; returns
 * the microseconds that took. */
static int64_t snapshot(em_ssc *ssc, em_time t)
{
    em_recovery *r = ssc->recovery;
    int64_t start = g_get_monotonic_time();
    const char *app = em_context_app_name(ssc->sc);
    em_ckpt *ck = em__ckpt_new(app, em__ckpt_program_fingerprint(app), t);
    g_mutex_lock(&ssc->lock);
    em_time next = ssc->next_batch;
    g_mutex_unlock(&ssc->lock);
    GArray *pending = g_array_new(FALSE, FALSE, sizeof(em_time));
    for (em_time p = t + ssc->batch; p < next; p += ssc->batch)
        g_array_append_val(pending, p);
    em__ckpt_put_clock(ck, &(em_ckpt_clock){.batch_interval = ssc->batch,
                                            .zero_time = ssc->zero_time,
                                            .last_completed = t,
                                            .pending = (em_time *)pending->data,
                                            .n_pending = pending->len});
    g_array_unref(pending);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *streams = checkpointed(ssc, names);
    em_ckpt_op *ops = manifest(streams, names);
    em__ckpt_put_graph(ck, ssc->batch, ops, streams->len);
    for (guint i = 0; i < streams->len; i++) {
        em_dstream *ds = streams->pdata[i];
        ds->klass->checkpoint_save(ds, ck, names->pdata[i], t);
    }
    save_remembered(ssc, ck, t);
    g_free(ops);
    g_ptr_array_unref(streams);
    g_ptr_array_unref(names);
    queued_ckpt *q = g_new(queued_ckpt, 1);
    *q = (queued_ckpt){ck, g_get_monotonic_time() - start};
    g_mutex_lock(&r->lock);
    r->figures.last_snapshot_us = q->snapshot_us;
    g_mutex_unlock(&r->lock);
    r->last_snapshot = t;
    g_async_queue_push(r->queue, q);
    return q->snapshot_us;
}

int64_t em__recovery_batch_completed(em_ssc *ssc, em_time t)
{
    em_recovery *r = ssc->recovery;
    if (r && r->writer && is_due(r, t - ssc->zero_time))
        return snapshot(ssc, t);
    return -1;
}

void em__recovery_stop(em_ssc *ssc)
{
    em_recovery *r = ssc->recovery;
    if (!r || !r->writer)
        return;
    g_mutex_lock(&ssc->lock);
    bool graceful = ssc->graceful;
    em_time last = ssc->last_done;
    g_mutex_unlock(&ssc->lock);
    /* A final checkpoint of the newest batch, as the graceful shutdown promises. */
    if (graceful && last > ssc->zero_time && last > r->last_snapshot)
        snapshot(ssc, last);
    g_async_queue_push(r->queue, STOP_WRITER);
    g_thread_join(r->writer);
    r->writer = NULL;
    g_async_queue_unref(r->queue);
    r->queue = NULL;
}

void em__recovery_free(em_ssc *ssc)
{
    em_recovery *r = ssc->recovery;
    if (!r)
        return;
    em__recovery_stop(ssc);
    g_hash_table_unref(r->intervals);
    g_array_unref(r->due);
    g_free(r->clock.pending);
    g_mutex_clear(&r->lock);
    g_free(r->dir);
    g_free(r);
    ssc->recovery = NULL;
}

/* ---- What inputs ask ---- */

char *em__recovery_input_log(em_dstream *ds)
{
    em_recovery *r = ds->ssc->recovery;
    if (!r || !r->dir)
        return NULL;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *streams = checkpointed(ds->ssc, names);
    char *path = NULL;
    for (guint i = 0; i < streams->len && !path; i++)
        if (streams->pdata[i] == ds)
            path = g_build_filename(r->dir, "inputs", (char *)names->pdata[i], NULL);
    g_ptr_array_unref(streams);
    g_ptr_array_unref(names);
    return path;
}

em_time em__recovery_last_written(em_ssc *ssc)
{
    em_checkpoint_figures f;
    em_ssc_checkpoint_figures(ssc, &f);
    return f.last_time;
}

/* ---- Recovering ---- */

/* Matches the program's graph to ck and hands each stream its record. */
static bool attach(em_ssc *ssc, const em_ckpt *ck, const em_recovery_opts *opts, GError **err)
{
    const char *app = em_context_app_name(ssc->sc);
    if (em__ckpt_fingerprint(ck) != em__ckpt_program_fingerprint(app)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "checkpoint %s was written by another program (\"%s\"), not by \"%s\": give "
                    "this program its own checkpoint directory",
                    em__ckpt_path(ck), em__ckpt_program(ck), app);
        return false;
    }
    em_recovery *r = recovery_of(ssc);
    if (!em__ckpt_get_clock(ck, &r->clock, err))
        return false;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *streams = checkpointed(ssc, names);
    em_ckpt_op *ops = manifest(streams, names);
    bool drop = opts && opts->drop_unmatched_state;
    bool ok = em__ckpt_match_graph(ck, ssc->batch, ops, streams->len, drop, NULL, err);
    for (guint i = 0; ok && i < streams->len; i++) {
        em_dstream *ds = streams->pdata[i];
        ok = ds->klass->checkpoint_restore(ds, ck, names->pdata[i], em__ckpt_time(ck), err);
        if (!ok)
            g_prefix_error(err, "recovering \"%s\" from %s: ", (char *)names->pdata[i],
                           em__ckpt_path(ck));
    }
    g_free(ops);
    g_ptr_array_unref(streams);
    g_ptr_array_unref(names);
    ok = ok && restore_remembered(ssc, ck, err);
    if (ok)
        r->recovered_time = em__ckpt_time(ck);
    return ok;
}

em_ssc *em_ssc_get_or_create(const char *dir, em_ssc_create_fn create, void *ud,
                             const em_recovery_opts *opts, GError **err)
{
    g_return_val_if_fail(dir && create, NULL);
    GError *local = NULL, *skipped = NULL;
    em_ckpt *ck = em__ckpt_read_latest(dir, NULL, 0, &skipped, &local);
    g_clear_error(&skipped); /* logged as a warning naming the file */
    if (local) {
        g_propagate_error(err, local);
        return NULL;
    }
    em_ssc *ssc = create(ck != NULL, ud);
    if (!ssc) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "em_ssc_get_or_create: the create function returned no StreamingContext");
        em__ckpt_free(ck);
        return NULL;
    }
    em_recovery *r = recovery_of(ssc);
    if (!r->dir)
        r->dir = g_strdup(dir);
    if (ck && !attach(ssc, ck, opts, err)) {
        em_ssc_free(ssc);
        ssc = NULL;
    }
    em__ckpt_free(ck);
    return ssc;
}
