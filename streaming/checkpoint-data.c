/* What a checkpoint's records hold (streaming, beside checkpoint-file.c): state tables, window
 * partial results, input positions and the batch clock, each encoded with core's value codec
 * (a leading version and count, then em_value encodings), so records stay self-describing and
 * decoding inherits the codec's distrust of its input. */
#include "checkpoint-file.h"

#include <stdarg.h>

/* The version of each record kind's layout, written first in the record. */
enum { STATE_VERSION = 1, PARTIALS_VERSION = 1, CLOCK_VERSION = 1 };

static bool G_GNUC_PRINTF(3, 4) bad(GError **err, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "checkpoint record \"%s\": %s", name, what);
    return false;
}

static GBytes *record(const em_ckpt *ck, const char *name, GError **err)
{
    GBytes *b = em__ckpt_get(ck, name);
    if (!b)
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT, "checkpoint %s holds no record \"%s\"",
                    em__ckpt_path(ck) ? em__ckpt_path(ck) : "(in memory)", name);
    return b;
}

/* A cursor over one record's bytes. */
typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    em_arena *arena;
    const char *name;
    GError **err;
} cursor;

static bool next_value(cursor *c, em_value *v)
{
    size_t used = 0;
    GError *why = NULL;
    if (!em_value_decode(c->buf + c->pos, c->len - c->pos, &used, c->arena, v, &why)) {
        bad(c->err, c->name, "at byte %zu: %s", c->pos, why->message);
        g_error_free(why);
        return false;
    }
    c->pos += used;
    return true;
}

static bool next_int(cursor *c, int64_t *out, const char *what)
{
    em_value v;
    if (!next_value(c, &v))
        return false;
    if (v.type != EM_T_INT)
        return bad(c->err, c->name, "at byte %zu: expected %s (an integer)", c->pos, what);
    *out = v.as.i;
    return true;
}

/* A count that cannot exceed the bytes left (every item takes one byte at least). */
static bool next_count(cursor *c, size_t *out, const char *what)
{
    int64_t n = 0;
    if (!next_int(c, &n, what))
        return false;
    if (n < 0 || (uint64_t)n > c->len - c->pos)
        return bad(c->err, c->name, "%s %" G_GINT64_FORMAT " does not fit the record", what, n);
    *out = (size_t)n;
    return true;
}

static bool start(const em_ckpt *ck, const char *name, em_arena *arena, int version, cursor *c,
                  GError **err)
{
    GBytes *b = record(ck, name, err);
    if (!b)
        return false;
    *c = (cursor){.arena = arena, .name = name, .err = err};
    c->buf = g_bytes_get_data(b, &c->len);
    int64_t v = 0;
    if (!next_int(c, &v, "the layout version"))
        return false;
    if (v != version)
        return bad(err, name, "layout version %" G_GINT64_FORMAT ", expected %d", v, version);
    return true;
}

static bool finish(cursor *c)
{
    if (c->pos != c->len)
        return bad(c->err, c->name, "%zu bytes after the last entry", c->len - c->pos);
    return true;
}

static void put_array(em_ckpt *ck, const char *name, GByteArray *bytes)
{
    em__ckpt_put_bytes(ck, name, g_byte_array_free_to_bytes(bytes));
}

/* ---- Plain values ---- */

void em__ckpt_put_values(em_ckpt *ck, const char *name, const em_value *values, size_t n)
{
    GByteArray *out = g_byte_array_new();
    em_values_encode(values, n, out);
    put_array(ck, name, out);
}

bool em__ckpt_get_values(const em_ckpt *ck, const char *name, em_arena *arena, em_value **out,
                         size_t *n, GError **err)
{
    GBytes *b = record(ck, name, err);
    if (!b)
        return false;
    size_t len;
    const uint8_t *buf = g_bytes_get_data(b, &len);
    GError *why = NULL;
    if (!em_values_decode(buf, len, arena, out, n, &why)) {
        bad(err, name, "%s", why->message);
        g_error_free(why);
        return false;
    }
    return true;
}

/* ---- State tables ---- */

void em__ckpt_put_state(em_ckpt *ck, const char *name, const em_ckpt_state_row *rows, size_t n)
{
    GByteArray *out = g_byte_array_new();
    em_value_encode(em_int(STATE_VERSION), out);
    em_value_encode(em_int((int64_t)n), out);
    for (size_t i = 0; i < n; i++) {
        em_value_encode(rows[i].key, out);
        em_value_encode(rows[i].state, out);
        em_value_encode(em_int(rows[i].updated), out);
    }
    put_array(ck, name, out);
}

bool em__ckpt_get_state(const em_ckpt *ck, const char *name, em_arena *arena, GArray **rows,
                        GError **err)
{
    cursor c;
    size_t n;
    *rows = NULL;
    if (!start(ck, name, arena, STATE_VERSION, &c, err) || !next_count(&c, &n, "the key count"))
        return false;
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(em_ckpt_state_row), (guint)n);
    for (size_t i = 0; i < n; i++) {
        em_ckpt_state_row row;
        if (!next_value(&c, &row.key) || !next_value(&c, &row.state) ||
            !next_int(&c, &row.updated, "a key's last update time")) {
            g_array_unref(out);
            return false;
        }
        g_array_append_val(out, row);
    }
    if (!finish(&c)) {
        g_array_unref(out);
        return false;
    }
    *rows = out;
    return true;
}

/* ---- Window partials ---- */

void em__ckpt_put_partials(em_ckpt *ck, const char *name, const em_ckpt_partial *parts, size_t n)
{
    GByteArray *out = g_byte_array_new();
    em_value_encode(em_int(PARTIALS_VERSION), out);
    em_value_encode(em_int((int64_t)n), out);
    for (size_t i = 0; i < n; i++) {
        em_value_encode(em_int(parts[i].time), out);
        em_value_encode(em_int((int64_t)parts[i].n), out);
        for (size_t j = 0; j < parts[i].n; j++)
            em_value_encode(parts[i].records[j], out);
    }
    put_array(ck, name, out);
}

static void partial_clear(gpointer p) { g_free(((em_ckpt_partial *)p)->records); }

bool em__ckpt_get_partials(const em_ckpt *ck, const char *name, em_arena *arena, GArray **parts,
                           GError **err)
{
    cursor c;
    size_t n;
    *parts = NULL;
    if (!start(ck, name, arena, PARTIALS_VERSION, &c, err) ||
        !next_count(&c, &n, "the batch count"))
        return false;
    GArray *out = g_array_sized_new(FALSE, TRUE, sizeof(em_ckpt_partial), (guint)n);
    g_array_set_clear_func(out, partial_clear);
    for (size_t i = 0; i < n; i++) {
        em_ckpt_partial part = {0};
        if (!next_int(&c, &part.time, "a batch time") ||
            !next_count(&c, &part.n, "the record count")) {
            g_array_unref(out);
            return false;
        }
        part.records = g_new(em_value, part.n ? part.n : 1);
        g_array_append_val(out, part); /* owned by out from here on */
        for (size_t j = 0; j < part.n; j++) {
            if (!next_value(&c, &part.records[j])) {
                g_array_unref(out);
                return false;
            }
        }
    }
    if (!finish(&c)) {
        g_array_unref(out);
        return false;
    }
    *parts = out;
    return true;
}

/* ---- Positions ---- */

void em__ckpt_put_position(em_ckpt *ck, const char *input, const void *blob, size_t n)
{
    g_autofree char *name = g_strconcat("position/", input, NULL);
    em__ckpt_put(ck, name, blob, n);
}

GBytes *em__ckpt_get_position(const em_ckpt *ck, const char *input)
{
    g_autofree char *name = g_strconcat("position/", input, NULL);
    return em__ckpt_get(ck, name);
}

/* ---- The clock ---- */

void em__ckpt_put_clock(em_ckpt *ck, const em_ckpt_clock *clock)
{
    GByteArray *out = g_byte_array_new();
    em_value_encode(em_int(CLOCK_VERSION), out);
    em_value_encode(em_int(clock->batch_interval), out);
    em_value_encode(em_int(clock->zero_time), out);
    em_value_encode(em_int(clock->last_completed), out);
    em_value_encode(em_int((int64_t)clock->n_pending), out);
    for (size_t i = 0; i < clock->n_pending; i++)
        em_value_encode(em_int(clock->pending[i]), out);
    put_array(ck, "clock", out);
}

bool em__ckpt_get_clock(const em_ckpt *ck, em_ckpt_clock *clock, GError **err)
{
    cursor c;
    em_arena *arena = em_arena_new(); /* integers only: nothing is allocated in it */
    *clock = (em_ckpt_clock){0};
    bool ok = start(ck, "clock", arena, CLOCK_VERSION, &c, err) &&
              next_int(&c, &clock->batch_interval, "the batch interval") &&
              next_int(&c, &clock->zero_time, "the zero time") &&
              next_int(&c, &clock->last_completed, "the last completed batch") &&
              next_count(&c, &clock->n_pending, "the pending batch count");
    if (ok) {
        clock->pending = g_new(em_time, clock->n_pending ? clock->n_pending : 1);
        for (size_t i = 0; ok && i < clock->n_pending; i++)
            ok = next_int(&c, &clock->pending[i], "a pending batch time");
        ok = ok && finish(&c);
    }
    if (ok && clock->batch_interval <= 0)
        ok = bad(err, "clock", "batch interval %" G_GINT64_FORMAT " ms", clock->batch_interval);
    em_arena_free(arena);
    if (!ok) {
        g_free(clock->pending);
        *clock = (em_ckpt_clock){0};
    }
    return ok;
}
