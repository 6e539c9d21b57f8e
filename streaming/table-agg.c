/* groupBy(cols).agg(count, sum, avg, min, max) over Ember's tables. A row becomes (group key,
 * partial aggregates); partials merge per key with reduceByKey (a static table: once; a
 * streaming one: per batch, then into the groups kept by mapWithState, so a failed batch
 * leaves the groups as after the previous one). Finalizing turns partials into result rows. */
#include "table-private.h"

#include <string.h>

/* Every aggregate keeps two slots of partial state: count [n, -]; sum [sum or null, -];
 * avg [double sum, count]; min and max [value or null, -]. */
#define SLOTS 2

typedef struct em_agg_plan {
    gint refs;
    size_t n_keys, n_aggs;
    size_t *key_cols; /* input columns of the group key */
    em_agg_fn *fns;
    int *cols; /* input column of each aggregate (-1 for count) */
} agg_plan;

static agg_plan *plan_ref(agg_plan *plan)
{
    g_atomic_int_inc(&plan->refs);
    return plan;
}

struct em_agg_plan *em__agg_plan_ref(struct em_agg_plan *plan) { return plan_ref(plan); }

void em__agg_plan_unref(agg_plan *plan)
{
    if (!plan || !g_atomic_int_dec_and_test(&plan->refs))
        return;
    g_free(plan->key_cols);
    g_free(plan->fns);
    g_free(plan->cols);
    g_free(plan);
}

static void plan_unref(void *p) { em__agg_plan_unref(p); }

/* row -> (key row, partials row). */
static em_value to_partials(em_value row, void *ud)
{
    const agg_plan *plan = ud;
    em_value *key = g_newa(em_value, plan->n_keys);
    for (size_t i = 0; i < plan->n_keys; i++)
        key[i] = row.as.items[plan->key_cols[i]];
    em_value *acc = g_newa(em_value, plan->n_aggs * SLOTS);
    for (size_t a = 0; a < plan->n_aggs; a++) {
        em_value v = plan->cols[a] >= 0 ? row.as.items[plan->cols[a]] : em_null();
        em_value *slot = acc + a * SLOTS;
        slot[1] = em_int(0);
        switch (plan->fns[a]) {
        case EM_AGG_COUNT: slot[0] = em_int(1); break;
        case EM_AGG_AVG:
            slot[0] = em_double(em_is_null(v) ? 0.0 : em_as_number(v));
            slot[1] = em_int(em_is_null(v) ? 0 : 1);
            break;
        case EM_AGG_SUM:
        case EM_AGG_MIN:
        case EM_AGG_MAX: slot[0] = v; break;
        }
    }
    /* The key is a list, not a row: a one-column key is a tuple of one, which checkpoints
     * (em_value's codec) do not take; a list of any length they do. */
    return em_pair(em_list(key, plan->n_keys, EM_LIST),
                   em_row_in(NULL, acc, plan->n_aggs * SLOTS));
}

static em_value add_numbers(em_value a, em_value b)
{
    if (em_is_null(a))
        return b;
    if (em_is_null(b))
        return a;
    if (em_is_int(a) && em_is_int(b))
        return em_int((int64_t)((uint64_t)a.as.i + (uint64_t)b.as.i)); /* wraps, as a long */
    return em_double(em_as_number(a) + em_as_number(b));
}

/* The smaller (sign -1) or larger (sign 1) of two values of one column, nulls skipped. */
static em_value pick(em_value a, em_value b, int sign)
{
    if (em_is_null(a))
        return b;
    if (em_is_null(b))
        return a;
    return em_value_compare(b, a) * sign > 0 ? b : a;
}

static em_value merge_partials(em_value x, em_value y, void *ud)
{
    const agg_plan *plan = ud;
    em_value *acc = g_newa(em_value, plan->n_aggs * SLOTS);
    for (size_t a = 0; a < plan->n_aggs; a++) {
        const em_value *p = x.as.items + a * SLOTS, *q = y.as.items + a * SLOTS;
        em_value *slot = acc + a * SLOTS;
        slot[1] = em_int(p[1].as.i + q[1].as.i);
        switch (plan->fns[a]) {
        case EM_AGG_COUNT: slot[0] = em_int(p[0].as.i + q[0].as.i); break;
        case EM_AGG_AVG: slot[0] = em_double(p[0].as.d + q[0].as.d); break;
        case EM_AGG_SUM: slot[0] = add_numbers(p[0], q[0]); break;
        case EM_AGG_MIN: slot[0] = pick(p[0], q[0], -1); break;
        case EM_AGG_MAX: slot[0] = pick(p[0], q[0], 1); break;
        }
    }
    return em_row_in(NULL, acc, plan->n_aggs * SLOTS);
}

/* (key row, partials) -> the result row: the key's fields, then each aggregate's value. */
static em_value finalize(const agg_plan *plan, em_value key, em_value acc)
{
    size_t n = plan->n_keys + plan->n_aggs;
    em_value *fields = g_newa(em_value, n);
    for (size_t i = 0; i < plan->n_keys; i++)
        fields[i] = key.as.items[i];
    for (size_t a = 0; a < plan->n_aggs; a++) {
        const em_value *slot = acc.as.items + a * SLOTS;
        em_value v = slot[0];
        if (plan->fns[a] == EM_AGG_AVG)
            v = slot[1].as.i ? em_double(slot[0].as.d / (double)slot[1].as.i) : em_null();
        fields[plan->n_keys + a] = v;
    }
    return em_row_in(NULL, fields, n);
}

size_t em__agg_plan_n_keys(const agg_plan *plan) { return plan->n_keys; }
size_t em__agg_plan_key_col(const agg_plan *plan, size_t i) { return plan->key_cols[i]; }
em_value em__agg_merge(const agg_plan *plan, em_value x, em_value y)
{
    return merge_partials(x, y, (void *)plan);
}
em_value em__agg_finalize(const agg_plan *plan, em_value key, em_value acc)
{
    return finalize(plan, key, acc);
}

static em_value finalize_kv(em_value kv, void *ud) { return finalize(ud, em_key(kv), em_val(kv)); }

/* mapWithState: the batch's partials for a group merged into the group's state; the updated
 * group's row is what the batch emits (update mode). */
static em_value update_group(em_time time, em_value key, em_value partials, em_state *state,
                             void *ud)
{
    (void)time;
    if (em_state_is_timing_out(state))
        return em_none();
    em_value acc = partials;
    if (em_state_exists(state))
        acc = merge_partials(em_state_get(state), partials, ud);
    em_state_update(state, acc);
    return finalize(ud, key, acc);
}

/* The result schema and the plan, or NULL with err naming a bad column. */
static agg_plan *plan_new(const em_schema *in, const char *const *cols, size_t n_cols,
                          const em_agg *aggs, size_t n_aggs, em_schema **out, GError **err)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) types = g_array_new(FALSE, FALSE, sizeof(em_col_type));
    agg_plan *plan = g_new0(agg_plan, 1);
    plan->refs = 1;
    plan->n_keys = n_cols;
    plan->n_aggs = n_aggs;
    plan->key_cols = g_new(size_t, n_cols ? n_cols : 1);
    plan->fns = g_new(em_agg_fn, n_aggs ? n_aggs : 1);
    plan->cols = g_new(int, n_aggs ? n_aggs : 1);
    for (size_t i = 0; i < n_cols; i++) {
        int c = em_schema_index(in, cols[i]);
        if (c < 0) {
            em__schema_unresolved(in, cols[i], err);
            em__agg_plan_unref(plan);
            return NULL;
        }
        plan->key_cols[i] = (size_t)c;
        g_ptr_array_add(names, g_strdup(cols[i]));
        g_array_append_val(types, in->types[c]);
    }
    static const char *const fn_names[] = {"count", "sum", "avg", "min", "max"};
    for (size_t a = 0; a < n_aggs; a++) {
        plan->fns[a] = aggs[a].fn;
        plan->cols[a] = -1;
        em_col_type type = EM_COL_LONG;
        if (aggs[a].fn != EM_AGG_COUNT) {
            int c = aggs[a].col ? em_schema_index(in, aggs[a].col) : -1;
            if (c < 0) {
                em__schema_unresolved(in, aggs[a].col ? aggs[a].col : "(null)", err);
                em__agg_plan_unref(plan);
                return NULL;
            }
            type = in->types[c];
            bool numeric = type == EM_COL_LONG || type == EM_COL_DOUBLE;
            if ((aggs[a].fn == EM_AGG_SUM || aggs[a].fn == EM_AGG_AVG) && !numeric) {
                g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                            "%s(%s) needs a numeric column: `%s` is %s", fn_names[aggs[a].fn],
                            aggs[a].col, aggs[a].col, em__col_type_name(type));
                em__agg_plan_unref(plan);
                return NULL;
            }
            if (aggs[a].fn == EM_AGG_AVG)
                type = EM_COL_DOUBLE;
            plan->cols[a] = c;
        }
        g_ptr_array_add(names, aggs[a].fn == EM_AGG_COUNT
                                   ? g_strdup("count")
                                   : g_strdup_printf("%s(%s)", fn_names[aggs[a].fn], aggs[a].col));
        g_array_append_val(types, type);
    }
    *out =
        em__schema_new((const char *const *)names->pdata, (em_col_type *)types->data, names->len);
    return plan;
}

static em_df *group_static(const em_df *df, agg_plan *plan, em_schema *out, GError **err)
{
    g_autoptr(em_rdd) partials =
        em_rdd_map_full(df->rdd, to_partials, plan_ref(plan), plan_unref, "groupBy");
    g_autoptr(em_rdd) merged =
        em_rdd_reduce_by_key_full(partials, merge_partials, plan_ref(plan), plan_unref, "agg", 0);
    g_autoptr(em_rdd) rows =
        em_rdd_map_full(merged, finalize_kv, plan_ref(plan), plan_unref, "agg");
    if (!rows) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "groupBy could not be applied");
        return NULL;
    }
    em_df *result = em__df_new(df, out, rows, NULL);
    result->aggregated = true;
    return result;
}

static em_df *group_streaming(const em_df *df, agg_plan *plan, em_schema *out, GError **err)
{
    em_dstream *partials = em_map_full(df->ds, to_partials, plan_ref(plan), plan_unref, "groupBy");
    em_dstream *merged = partials ? em_reduce_by_key_full(partials, merge_partials, plan_ref(plan),
                                                          plan_unref, "agg", 0)
                                  : NULL;
    if (merged && (df->watermark || df->session_col)) {
        /* a group column carries the watermark (groups end when it passes them) or is a
         * session window (sessions merge across batches) */
        em_df *evt = em__evt_agg_new(df, merged, plan, out);
        if (evt)
            return evt;
    }
    em_dstream *groups = merged ? em_map_with_state(merged, &(em_state_spec){.fn = update_group,
                                                                             .ud = plan_ref(plan),
                                                                             .destroy = plan_unref,
                                                                             .name = "aggregate"})
                                : NULL;
    if (!groups) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "groupBy could not be applied to the streaming table");
        return NULL;
    }
    em_df *result = em__df_new(df, out, NULL, groups);
    result->aggregated = true;
    result->agg_ds = groups;
    result->agg_input = partials;
    result->agg_plan = plan_ref(plan);
    return result;
}

em_df *em_df_group_by_agg(const em_df *df, const char *const *cols, size_t n_cols,
                          const em_agg *aggs, size_t n_aggs, GError **err)
{
    g_return_val_if_fail(df && (cols || n_cols == 0) && aggs && n_aggs > 0, NULL);
    if (!em__df_refuse_after_join(df, "groupBy", err))
        return NULL;
    em_schema *out = NULL;
    agg_plan *plan = plan_new(df->schema, cols, n_cols, aggs, n_aggs, &out, err);
    if (!plan)
        return NULL;
    em_df *result =
        df->rdd ? group_static(df, plan, out, err) : group_streaming(df, plan, out, err);
    em__agg_plan_unref(plan);
    em_schema_unref(out);
    return result;
}

em_df *em_df_group_by_count(const em_df *df, const char *const *cols, size_t n_cols, GError **err)
{
    return em_df_group_by_agg(df, cols, n_cols, &(em_agg){.fn = EM_AGG_COUNT}, 1, err);
}

em_dstream *em__df_complete_stream(const em_df *df, GError **err)
{
    if (!df->agg_ds || df->ds != df->agg_ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "complete mode needs the aggregation's own table: operations after a "
                    "streaming aggregation are not supported in complete mode yet");
        return NULL;
    }
    em_dstream *snapshots = em_state_snapshots(df->agg_ds);
    if (snapshots && df->agg_input)
        snapshots = em__spark_agg_order(snapshots, df->agg_input);
    return snapshots ? em_map_full(snapshots, finalize_kv, plan_ref(df->agg_plan), plan_unref,
                                   "complete")
                     : NULL;
}
