/* Matching a rebuilt graph to a checkpoint (streaming, under recovery): C cannot restore code,
 * so the program builds its graph again and recovery checks that every stateful operator and
 * input the checkpoint holds data for is still there, under the same stable name, kind and
 * durations. Stateless operators take no part: adding a map between an input and a state
 * still recovers, which Spark's serialized graphs never allowed. */
#include "checkpoint-file.h"

enum { GRAPH_VERSION = 1 };

uint64_t em__ckpt_program_fingerprint(const char *app_name)
{
    return em__hash_bytes(app_name, strlen(app_name));
}

void em__ckpt_put_graph(em_ckpt *ck, em_duration batch_interval, const em_ckpt_op *ops, size_t n)
{
    em_arena *arena = em_arena_new();
    em_value *vals = g_new(em_value, n + 2);
    vals[0] = em_int(GRAPH_VERSION);
    vals[1] = em_int(batch_interval);
    for (size_t i = 0; i < n; i++) {
        em_value fields[] = {em_str(ops[i].kind), em_str(ops[i].name), em_int(ops[i].slide),
                             em_int(ops[i].window)};
        vals[i + 2] = em_tuple_in(arena, fields, 4);
    }
    em__ckpt_put_values(ck, "graph", vals, n + 2);
    g_free(vals);
    em_arena_free(arena);
}

static const char *where(const em_ckpt *ck)
{
    return em__ckpt_path(ck) ? em__ckpt_path(ck) : "(in memory)";
}

static bool is_op(em_value v)
{
    return v.type == EM_T_TUPLE && v.len == 4 && em_field(v, 0).type == EM_T_STR &&
           em_field(v, 1).type == EM_T_STR && em_field(v, 2).type == EM_T_INT &&
           em_field(v, 3).type == EM_T_INT;
}

static const em_ckpt_op *find(const em_ckpt_op *ops, size_t n, em_value name)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(ops[i].name) == name.len && memcmp(ops[i].name, name.as.s, name.len) == 0)
            return &ops[i];
    return NULL;
}

/* One operator of the checkpoint against the program's. */
static bool match_one(const em_ckpt *ck, em_value saved, const em_ckpt_op *ops, size_t n,
                      bool drop_unmatched, GPtrArray *dropped, GError **err)
{
    em_value kind = em_field(saved, 0), name = em_field(saved, 1);
    int64_t slide = em_as_int(em_field(saved, 2)), window = em_as_int(em_field(saved, 3));
    const em_ckpt_op *op = find(ops, n, name);
    if (!op && drop_unmatched) {
        g_message("recovery from %s drops the state of %.*s \"%.*s\", which the program no "
                  "longer has",
                  where(ck), (int)kind.len, kind.as.s, (int)name.len, name.as.s);
        if (dropped)
            g_ptr_array_add(dropped, g_strndup(name.as.s, name.len));
        return true;
    }
    if (!op) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "checkpoint %s holds the state of %.*s \"%.*s\", which the program does not "
                    "define (renamed or removed?): give the operator its old name back, or ask "
                    "recovery to drop unmatched state",
                    where(ck), (int)kind.len, kind.as.s, (int)name.len, name.as.s);
        return false;
    }
    if (strlen(op->kind) != kind.len || memcmp(op->kind, kind.as.s, kind.len) != 0 ||
        op->slide != slide || op->window != window) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "\"%s\" is %s (window %" G_GINT64_FORMAT " ms, slide %" G_GINT64_FORMAT
                    " ms) in the program but %.*s (window %" G_GINT64_FORMAT
                    " ms, slide %" G_GINT64_FORMAT " ms) in checkpoint %s: its state cannot be "
                    "carried over; rename the changed operator, or ask recovery to drop "
                    "unmatched state",
                    op->name, op->kind, (gint64)op->window, (gint64)op->slide, (int)kind.len,
                    kind.as.s, (gint64)window, (gint64)slide, where(ck));
        return false;
    }
    return true;
}

bool em__ckpt_match_graph(const em_ckpt *ck, em_duration batch_interval, const em_ckpt_op *ops,
                          size_t n, bool drop_unmatched, GPtrArray **dropped, GError **err)
{
    em_arena *arena = em_arena_new();
    em_value *saved = NULL;
    size_t n_saved = 0;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    bool ok = em__ckpt_get_values(ck, "graph", arena, &saved, &n_saved, err);
    if (ok && (n_saved < 2 || saved[0].type != EM_T_INT || saved[1].type != EM_T_INT ||
               em_as_int(saved[0]) != GRAPH_VERSION)) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint %s: record \"graph\" has an unknown layout", where(ck));
        ok = false;
    }
    if (ok && em_as_int(saved[1]) != batch_interval) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "checkpoint %s was taken with %" G_GINT64_FORMAT " ms batches, the program "
                    "uses %" G_GINT64_FORMAT " ms: batch times, windows and state would not "
                    "line up; keep the interval or start from a new checkpoint directory",
                    where(ck), (gint64)em_as_int(saved[1]), (gint64)batch_interval);
        ok = false;
    }
    for (size_t i = 2; ok && i < n_saved; i++) {
        if (!is_op(saved[i])) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "checkpoint %s: record \"graph\" entry %zu is malformed", where(ck), i);
            ok = false;
        } else {
            ok = match_one(ck, saved[i], ops, n, drop_unmatched, names, err);
        }
    }
    g_free(saved);
    em_arena_free(arena);
    if (ok && dropped)
        *dropped = g_ptr_array_ref(names);
    g_ptr_array_unref(names);
    return ok;
}
