/* Stream-stream joins over Ember's DataFrames (Spark's StreamingSymmetricHashJoinExec): each
 * side's rows are buffered per join key on the driver; each batch the new rows of the left side
 * join the right side's buffer, are buffered, then the new rows of the right side join the left
 * buffer (which now holds the left's new rows). The event-time range condition and the global
 * watermark (the min of the inputs' watermarks) bound each buffer; outer joins write the
 * unmatched rows of their preserved side, padded with nulls, when they leave the buffer. Run by
 * the query through the event-time operator (table-evt-agg.c); the condition is parsed here. */
#include "checkpoint-file.h"
#include "table-private.h"

#include <string.h>

/* A conjunct left_col <op> right_col + offset_ms on two timestamp columns. */
typedef struct {
    size_t lcol, rcol;
    em_cmp_op op; /* EM_CMP_LT, LE, GT or GE */
    int64_t offset_ms;
} time_term;

typedef struct entry {
    em_value row;
    bool matched;
    struct entry *next;
} entry;

typedef struct {
    em_value key;
    entry *head, *tail;
} bucket;

/* One side's buffer: key row -> bucket (both in arena). */
typedef struct {
    GHashTable *buckets;
    em_arena *arena;
    size_t rows;   /* rows buffered */
    size_t copies; /* rows copied into arena since the last compaction */
} side_state;

struct em_join {
    em_join_type type;
    char *condition;
    size_t n_keys;
    size_t *keys[2]; /* the key columns of each side */
    size_t n_terms;
    time_term *terms;
    size_t n_cols[2];
    em_dstream *rows[2];        /* each side's rows (borrowed: the ssc owns streams) */
    em_dstream *sources[2];     /* each side's input stream, for the query's input figures */
    char *source_desc[2];       /* their descriptions */
    struct em_watermark *wm[2]; /* each side's watermark (references), or NULL */
    int evt_col[2];             /* each side's watermarked column, or -1 */
    em_context *sc;
    GMutex lock;
    side_state state[2];
    int64_t rows_read; /* the right source's rows so far (its count offsets), as read */
    /* the last batch's figures */
    int64_t updated, removed, dropped;
};

/* ---- The condition: a few words of Spark SQL ---- */

typedef struct {
    const char *text, *p;
    const em_schema *schema[2];
    GError **err;
} parser;

/* An operand: a column of one side plus intervals (ms). */
typedef struct {
    int side;
    size_t col;
    int64_t offset_ms;
    bool has_interval;
    char *name;
} operand;

static void skip_space(parser *ps)
{
    while (g_ascii_isspace(*ps->p))
        ps->p++;
}

static bool fail(parser *ps, const char *what)
{
    g_set_error(ps->err, EM_ERROR, EM_ERROR_PARSE,
                "join condition \"%s\": %s at character %d (\"%.20s\")", ps->text, what,
                (int)(ps->p - ps->text) + 1, ps->p);
    return false;
}

/* A bare or back-quoted word into a new string, or NULL when there is none. */
static char *word(parser *ps)
{
    skip_space(ps);
    const char *start = ps->p;
    if (*ps->p == '`') {
        const char *end = strchr(ps->p + 1, '`');
        if (!end)
            return NULL;
        ps->p = end + 1;
        return g_strndup(start + 1, (gsize)(end - start - 1));
    }
    if (!g_ascii_isalpha(*ps->p) && *ps->p != '_')
        return NULL;
    while (g_ascii_isalnum(*ps->p) || *ps->p == '_')
        ps->p++;
    return g_strndup(start, (gsize)(ps->p - start));
}

/* Consumes keyword kw (case-insensitive, as a whole word) when it comes next. */
static bool keyword(parser *ps, const char *kw)
{
    skip_space(ps);
    size_t n = strlen(kw);
    if (g_ascii_strncasecmp(ps->p, kw, n) != 0 || g_ascii_isalnum(ps->p[n]) || ps->p[n] == '_')
        return false;
    ps->p += n;
    return true;
}

static const struct {
    const char *name;
    int64_t ms;
} units[] = {{"milliseconds", 1}, {"millisecond", 1}, {"seconds", 1000},    {"second", 1000},
             {"minutes", 60000},  {"minute", 60000},  {"hours", 3600000},   {"hour", 3600000},
             {"days", 86400000},  {"day", 86400000},  {"weeks", 604800000}, {"week", 604800000}};

/* After INTERVAL: one or more "N unit" (N optionally quoted), into *ms. */
static bool interval(parser *ps, int64_t *ms)
{
    *ms = 0;
    for (int n = 0;; n++) {
        skip_space(ps);
        bool quoted = *ps->p == '\'';
        const char *at = ps->p + quoted;
        char *end = NULL;
        gint64 count = g_ascii_strtoll(at, &end, 10);
        if (end == at || (quoted && *end != '\'')) {
            if (n > 0)
                return true;
            return fail(ps, "expected a number after INTERVAL");
        }
        ps->p = end + quoted;
        size_t u = 0;
        while (u < G_N_ELEMENTS(units) && !keyword(ps, units[u].name))
            u++;
        if (u == G_N_ELEMENTS(units))
            return fail(ps, "expected an interval unit (millisecond, second, minute, hour, day "
                            "or week; months and years are not exact)");
        *ms += count * units[u].ms;
    }
}

static void column_list(const em_schema *schema, GString *out)
{
    for (size_t i = 0; i < schema->n; i++)
        g_string_append_printf(out, "%s`%s`",
                               out->len && out->str[out->len - 1] != '[' ? ", " : "",
                               schema->names[i]);
}

/* column [(+|-) INTERVAL ...]* */
static bool parse_operand(parser *ps, operand *o)
{
    *o = (operand){0};
    o->name = word(ps);
    if (!o->name || g_ascii_strcasecmp(o->name, "interval") == 0)
        return fail(ps, "expected a column");
    int l = em_schema_index(ps->schema[0], o->name), r = em_schema_index(ps->schema[1], o->name);
    if (l < 0 && r < 0) {
        GString *cols = g_string_new("[");
        column_list(ps->schema[0], cols);
        column_list(ps->schema[1], cols);
        g_string_append_c(cols, ']');
        g_set_error(ps->err, EM_ERROR, EM_ERROR_INVALID,
                    "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with "
                    "name `%s` cannot be resolved. Did you mean one of the following? %s",
                    o->name, cols->str);
        g_string_free(cols, TRUE);
        return false;
    }
    o->side = l >= 0 ? 0 : 1;
    o->col = (size_t)(l >= 0 ? l : r);
    for (;;) {
        skip_space(ps);
        char sign = *ps->p;
        if (sign != '+' && sign != '-')
            return true;
        ps->p++;
        if (!keyword(ps, "interval"))
            return fail(ps, "expected INTERVAL after + or -");
        int64_t ms = 0;
        if (!interval(ps, &ms))
            return false;
        o->offset_ms += sign == '+' ? ms : -ms;
        o->has_interval = true;
    }
}

static bool parse_op(parser *ps, em_cmp_op *op)
{
    skip_space(ps);
    static const struct {
        const char *text;
        em_cmp_op op;
    } ops[] = {{"==", EM_CMP_EQ}, {"<=", EM_CMP_LE}, {">=", EM_CMP_GE},
               {"=", EM_CMP_EQ},  {"<", EM_CMP_LT},  {">", EM_CMP_GT}};
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(ps->p, ops[i].text, n) == 0) {
            ps->p += n;
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

static em_cmp_op flip(em_cmp_op op)
{
    return op == EM_CMP_LT   ? EM_CMP_GT
           : op == EM_CMP_LE ? EM_CMP_GE
           : op == EM_CMP_GT ? EM_CMP_LT
           : op == EM_CMP_GE ? EM_CMP_LE
                             : op;
}

static const char *op_text(em_cmp_op op)
{
    static const char *const texts[] = {"=", "!=", "<", "<=", ">", ">="};
    return texts[op];
}

/* a <op> b into the join: a key or a time term. */
static bool add_conjunct(parser *ps, struct em_join *j, const operand *a, em_cmp_op op,
                         const operand *b)
{
    const em_schema *sa = ps->schema[a->side], *sb = ps->schema[b->side];
    if (a->side == b->side) {
        g_set_error(ps->err, EM_ERROR, EM_ERROR_INVALID,
                    "join condition \"%s\": `%s` %s `%s` compares two columns of the %s table; "
                    "each conjunct must compare a column of the left table with one of the right",
                    ps->text, a->name, op_text(op), b->name, a->side ? "right" : "left");
        return false;
    }
    const operand *l = a->side == 0 ? a : b, *r = a->side == 0 ? b : a;
    if (op == EM_CMP_EQ) {
        if (a->has_interval || b->has_interval) {
            g_set_error(ps->err, EM_ERROR, EM_ERROR_INVALID,
                        "join condition \"%s\": an equality `%s` = `%s` with an interval is not "
                        "supported (join keys are plain columns)",
                        ps->text, a->name, b->name);
            return false;
        }
        if (sa->types[a->col] != sb->types[b->col]) {
            g_set_error(ps->err, EM_ERROR, EM_ERROR_INVALID,
                        "join condition \"%s\": the join keys `%s` (%s) and `%s` (%s) differ in "
                        "type",
                        ps->text, a->name, em__col_type_name(sa->types[a->col]), b->name,
                        em__col_type_name(sb->types[b->col]));
            return false;
        }
        j->keys[0] = g_renew(size_t, j->keys[0], j->n_keys + 1);
        j->keys[1] = g_renew(size_t, j->keys[1], j->n_keys + 1);
        j->keys[0][j->n_keys] = l->col;
        j->keys[1][j->n_keys] = r->col;
        j->n_keys++;
        return true;
    }
    if (sa->types[a->col] != EM_COL_TIMESTAMP || sb->types[b->col] != EM_COL_TIMESTAMP) {
        const operand *bad = sa->types[a->col] != EM_COL_TIMESTAMP ? a : b;
        g_set_error(ps->err, EM_ERROR, EM_ERROR_INVALID,
                    "join condition \"%s\": `%s` %s `%s`: range conditions compare timestamp "
                    "columns, and `%s` is of type %s",
                    ps->text, a->name, op_text(op), b->name, bad->name,
                    em__col_type_name(ps->schema[bad->side]->types[bad->col]));
        return false;
    }
    /* a + da op b + db  =>  left op' right + d */
    time_term t = {.lcol = l->col, .rcol = r->col};
    if (a->side == 0) {
        t.op = op;
        t.offset_ms = b->offset_ms - a->offset_ms;
    } else {
        t.op = flip(op);
        t.offset_ms = a->offset_ms - b->offset_ms;
    }
    j->terms = g_renew(time_term, j->terms, j->n_terms + 1);
    j->terms[j->n_terms++] = t;
    return true;
}

static bool parse_condition(parser *ps, struct em_join *j)
{
    do {
        operand a = {0}, b = {0}, c = {0};
        if (!parse_operand(ps, &a)) {
            g_free(a.name);
            return false;
        }
        bool ok;
        if (keyword(ps, "between")) {
            ok = parse_operand(ps, &b) && (keyword(ps, "and") || fail(ps, "expected AND")) &&
                 parse_operand(ps, &c) && add_conjunct(ps, j, &a, EM_CMP_GE, &b) &&
                 add_conjunct(ps, j, &a, EM_CMP_LE, &c);
            g_free(b.name);
            g_free(c.name);
        } else {
            em_cmp_op op;
            if (!parse_op(ps, &op)) {
                g_free(a.name);
                return fail(ps, "expected =, <, <=, >, >= or BETWEEN");
            }
            ok = parse_operand(ps, &b) && add_conjunct(ps, j, &a, op, &b);
            g_free(b.name);
        }
        g_free(a.name);
        if (!ok)
            return false;
    } while (keyword(ps, "and"));
    skip_space(ps);
    if (*ps->p)
        return fail(ps, "expected AND or the end");
    return true;
}

/* ---- State watermarks (Spark's StreamingJoinHelper.getStateValueWatermark) ---- */

/* The state watermark (ms) of side s's buffer under the global watermark w: its rows whose
 * watermarked column is at or before it can match no future row of the other side. From each
 * conjunct bounding s's time from below by the other side's watermarked column: for the right
 * side, left < right + d gives w - d (<=: w - d - 1); for the left, left > right + d gives
 * w + d (>=: w + d - 1); the least of them. False when there is none. */
static bool state_watermark(const struct em_join *j, int s, int64_t w, int64_t *out)
{
    int other = 1 - s;
    if (j->evt_col[other] < 0)
        return false;
    bool found = false;
    for (size_t i = 0; i < j->n_terms; i++) {
        const time_term *t = &j->terms[i];
        size_t other_col = other == 0 ? t->lcol : t->rcol;
        if (other_col != (size_t)j->evt_col[other])
            continue;
        int64_t v;
        if (s == 1 && (t->op == EM_CMP_LT || t->op == EM_CMP_LE))
            v = w - t->offset_ms - (t->op == EM_CMP_LE);
        else if (s == 0 && (t->op == EM_CMP_GT || t->op == EM_CMP_GE))
            v = w + t->offset_ms - (t->op == EM_CMP_GE);
        else
            continue;
        *out = found ? MIN(*out, v) : v;
        found = true;
    }
    return found;
}

/* The global watermarks (Spark's multipleWatermarkPolicy min): for late rows (the previous
 * batch's) and for eviction (this batch's). False when neither side has one. */
static bool global_watermark(const struct em_join *j, int64_t *late_ms, int64_t *evict_ms)
{
    bool any = false;
    for (int s = 0; s < 2; s++) {
        if (!j->wm[s])
            continue;
        int64_t late, evict;
        em__watermark_get(j->wm[s], &late, &evict);
        *late_ms = any ? MIN(*late_ms, late) : late;
        *evict_ms = any ? MIN(*evict_ms, evict) : evict;
        any = true;
    }
    return any;
}

/* ---- Building ---- */

static guint key_hash(gconstpointer p) { return (guint)em_value_hash(*(const em_value *)p); }

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return em_value_equal(*(const em_value *)a, *(const em_value *)b);
}

static void side_init(side_state *st)
{
    st->buckets = g_hash_table_new(key_hash, key_equal);
    st->arena = em_arena_new();
    st->rows = st->copies = 0;
}

static void side_clear(side_state *st)
{
    if (st->buckets)
        g_hash_table_destroy(st->buckets);
    em_arena_free(st->arena);
    st->buckets = NULL;
    st->arena = NULL;
}

void em__join_free(struct em_join *j)
{
    if (!j)
        return;
    for (int s = 0; s < 2; s++) {
        g_free(j->keys[s]);
        g_free(j->source_desc[s]);
        em__watermark_unref(j->wm[s]);
        side_clear(&j->state[s]);
    }
    g_free(j->terms);
    g_free(j->condition);
    g_mutex_clear(&j->lock);
    g_free(j);
}

static const char *const type_names[] = {"Inner", "LeftOuter", "RightOuter"};

/* UnsupportedOperationChecker's rules for stream-stream joins (Spark's messages). */
static bool check_join(const struct em_join *j, GError **err)
{
    if (j->n_keys == 0) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Stream-stream join without equality predicate is not supported (join "
                    "condition \"%s\")",
                    j->condition);
        return false;
    }
    if (j->type == EM_JOIN_INNER)
        return true;
    /* the nullable side's watermark and a range condition must bound the preserved side */
    int preserved = j->type == EM_JOIN_LEFT_OUTER ? 0 : 1;
    int64_t unused;
    if (!j->wm[1 - preserved] || !state_watermark(j, preserved, 1000000, &unused)) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Stream-stream %s join between two streaming DataFrame/Datasets is not "
                    "supported without a watermark in the join keys, or a watermark on the "
                    "nullable side and an appropriate range condition (join condition \"%s\")",
                    type_names[j->type], j->condition);
        return false;
    }
    return true;
}

static bool check_sides(const em_df *left, const em_df *right, GError **err)
{
    if (!left->ds || !right->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "join: the %s table is static; Ember joins two streaming tables only "
                    "(stream-static joins are not supported yet)",
                    left->ds ? "right" : "left");
        return false;
    }
    if (left->ds->ssc != right->ds->ssc) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "join: the two tables run on different StreamingContexts");
        return false;
    }
    const em_df *sides[2] = {left, right};
    for (int s = 0; s < 2; s++) {
        if (sides[s]->evt || sides[s]->aggregated) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "join: the %s table is the result of a streaming aggregation, "
                        "dropDuplicates or join; Ember joins tables of rows read from sources",
                        s ? "right" : "left");
            return false;
        }
    }
    for (size_t i = 0; i < left->schema->n; i++) {
        if (em_schema_index(right->schema, left->schema->names[i]) >= 0) {
            g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                        "join: both tables have a column `%s`; Ember names the joined columns "
                        "by their names alone, so rename one side's (select it under another "
                        "name) first",
                        left->schema->names[i]);
            return false;
        }
    }
    return true;
}

em_df *em_df_join(const em_df *left, const em_df *right, const char *condition, em_join_type type,
                  GError **err)
{
    g_return_val_if_fail(left && right && condition, NULL);
    g_return_val_if_fail(type >= EM_JOIN_INNER && type <= EM_JOIN_RIGHT_OUTER, NULL);
    if (!check_sides(left, right, err))
        return NULL;
    struct em_join *j = g_new0(struct em_join, 1);
    j->type = type;
    j->condition = g_strdup(condition);
    g_mutex_init(&j->lock);
    parser ps = {.text = condition,
                 .p = condition,
                 .schema = {left->schema, right->schema},
                 .err = err};
    const em_df *sides[2] = {left, right};
    for (int s = 0; s < 2; s++) {
        j->n_cols[s] = sides[s]->schema->n;
        j->rows[s] = sides[s]->ds;
        j->sources[s] = sides[s]->source;
        j->source_desc[s] =
            g_strdup(sides[s]->source_desc ? sides[s]->source_desc : sides[s]->source->op);
        j->wm[s] = em__watermark_ref(sides[s]->watermark);
        j->evt_col[s] = sides[s]->watermark && sides[s]->event_col
                            ? em_schema_index(sides[s]->schema, sides[s]->event_col)
                            : -1;
        if (j->evt_col[s] >= 0 && sides[s]->schema->types[j->evt_col[s]] != EM_COL_TIMESTAMP)
            j->evt_col[s] = -1; /* a window of the watermarked column: not a range bound */
        side_init(&j->state[s]);
    }
    if (!parse_condition(&ps, j) || !check_join(j, err)) {
        em__join_free(j);
        return NULL;
    }
    j->sc = em_ssc_context(left->ds->ssc);
    /* left columns, then right columns */
    size_t n = left->schema->n + right->schema->n;
    const char **names = g_new(const char *, n);
    em_col_type *types = g_new(em_col_type, n);
    for (size_t i = 0; i < n; i++) {
        const em_schema *sc = i < left->schema->n ? left->schema : right->schema;
        size_t c = i < left->schema->n ? i : i - left->schema->n;
        names[i] = sc->names[c];
        types[i] = sc->types[c];
    }
    g_autoptr(em_schema) out = em__schema_new(names, types, n);
    g_free(names);
    g_free(types);
    /* the output stream: both sides' rows, so the ssc computes (and forgets) both each batch;
     * the query writes what the join makes of them */
    em_dstream *both = em_union(left->ds, right->ds);
    if (!both) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID, "join: the two streams cannot be combined");
        em__join_free(j);
        return NULL;
    }
    return em__evt_join_new(out, both, left->source, left->source_desc, j);
}

/* ---- Running a batch ---- */

static bool is_passed(em_value v, int64_t watermark_ms)
{
    return em_is_int(v) && v.as.i <= watermark_ms * 1000;
}

/* The key of side s's row into fields (n_keys), false when a key field is null. */
static bool key_of(const struct em_join *j, int s, em_value row, em_value *fields)
{
    for (size_t k = 0; k < j->n_keys; k++) {
        fields[k] = row.as.items[j->keys[s][k]];
        if (em_is_null(fields[k]))
            return false;
    }
    return true;
}

/* The range condition on a left and a right row (SQL: a null time matches nothing). */
static bool condition_holds(const struct em_join *j, em_value l, em_value r)
{
    for (size_t i = 0; i < j->n_terms; i++) {
        const time_term *t = &j->terms[i];
        em_value a = l.as.items[t->lcol], b = r.as.items[t->rcol];
        if (!em_is_int(a) || !em_is_int(b))
            return false;
        int64_t x = a.as.i, y = b.as.i + t->offset_ms * 1000;
        bool ok = t->op == EM_CMP_LT   ? x < y
                  : t->op == EM_CMP_LE ? x <= y
                  : t->op == EM_CMP_GT ? x > y
                                       : x >= y;
        if (!ok)
            return false;
    }
    return true;
}

/* Whether a row of side s may be dropped before joining: on a side whose rows need a match
 * (both in an inner join, the nullable side of an outer one) Spark's optimizer filters out
 * rows with a null key or a null time in the condition (InferFiltersFromConstraints). */
static bool unmatchable(const struct em_join *j, int s, em_value row)
{
    bool preserved =
        (j->type == EM_JOIN_LEFT_OUTER && s == 0) || (j->type == EM_JOIN_RIGHT_OUTER && s == 1);
    if (preserved)
        return false;
    for (size_t k = 0; k < j->n_keys; k++)
        if (em_is_null(row.as.items[j->keys[s][k]]))
            return true;
    for (size_t i = 0; i < j->n_terms; i++)
        if (em_is_null(row.as.items[s == 0 ? j->terms[i].lcol : j->terms[i].rcol]))
            return true;
    return false;
}

static em_value joined(const struct em_join *j, em_value l, em_value r, em_arena *arena)
{
    size_t n = j->n_cols[0] + j->n_cols[1];
    em_value *fields = g_newa(em_value, n);
    for (size_t i = 0; i < j->n_cols[0]; i++)
        fields[i] = em_is_null(l) ? em_null() : l.as.items[i];
    for (size_t i = 0; i < j->n_cols[1]; i++)
        fields[j->n_cols[0] + i] = em_is_null(r) ? em_null() : r.as.items[i];
    return em_row_in(arena, fields, n);
}

static void append(side_state *st, em_value key, em_value row, bool matched)
{
    bucket *b = g_hash_table_lookup(st->buckets, &key);
    if (!b) {
        b = em_arena_alloc(st->arena, sizeof *b);
        b->key = em_value_copy(key, st->arena);
        b->head = b->tail = NULL;
        g_hash_table_insert(st->buckets, &b->key, b);
    }
    entry *e = em_arena_alloc(st->arena, sizeof *e);
    e->row = em_value_copy(row, st->arena);
    e->matched = matched;
    e->next = NULL;
    if (b->tail)
        b->tail->next = e;
    else
        b->head = e;
    b->tail = e;
    st->rows++;
    st->copies++;
}

/* Copies the buffered rows into a fresh arena once dead copies outnumber them. */
static void compact(side_state *st)
{
    if (st->copies < 1024 || st->copies < 2 * st->rows)
        return;
    side_state fresh;
    side_init(&fresh);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, st->buckets);
    while (g_hash_table_iter_next(&it, &k, &v))
        for (const entry *e = ((bucket *)v)->head; e; e = e->next)
            append(&fresh, ((bucket *)v)->key, e->row, e->matched);
    side_clear(st);
    *st = fresh;
    st->copies = st->rows;
}

/* OneSideHashJoiner.storeAndJoinWithOtherSide: side s's new rows join the other side's
 * buffer (marking the rows they match), then are buffered. */
static void store_and_join(struct em_join *j, int s, const em_values *rows, bool watermarked,
                           int64_t late_ms, bool has_state_wm, int64_t state_wm, GArray *out,
                           em_arena *arena)
{
    side_state *other = &j->state[1 - s];
    em_value *fields = g_newa(em_value, j->n_keys);
    for (size_t i = 0; rows && i < rows->n; i++) {
        em_value row = rows->items[i];
        if (watermarked && j->evt_col[s] >= 0 && is_passed(row.as.items[j->evt_col[s]], late_ms)) {
            j->dropped++;
            continue;
        }
        if (unmatchable(j, s, row))
            continue;
        bool matched = false;
        em_value key = em_null();
        if (key_of(j, s, row, fields)) {
            key = em_row_in(arena, fields, j->n_keys);
            bucket *b = g_hash_table_lookup(other->buckets, &key);
            for (entry *e = b ? b->head : NULL; e; e = e->next) {
                em_value l = s == 0 ? row : e->row, r = s == 0 ? e->row : row;
                if (!condition_holds(j, l, r))
                    continue;
                em_value o = joined(j, l, r, arena);
                g_array_append_val(out, o);
                e->matched = true;
                matched = true;
            }
        } else {
            /* a null key matches nothing; the preserved side keeps the row for its output */
            for (size_t k = 0; k < j->n_keys; k++)
                fields[k] = row.as.items[j->keys[s][k]];
            key = em_row_in(arena, fields, j->n_keys);
        }
        /* Spark 3.5: a left row is buffered even when the state watermark passed it (the
         * right's new rows have yet to meet it; it leaves at the end of the batch); a right
         * row then only when it stays, or when a right outer join must write it unmatched */
        bool leaving =
            has_state_wm && j->evt_col[s] >= 0 && is_passed(row.as.items[j->evt_col[s]], state_wm);
        if (s == 1 && leaving && !(j->type == EM_JOIN_RIGHT_OUTER && !matched))
            continue;
        append(&j->state[s], key, row, matched);
        j->updated++;
    }
}

/* removeOldState: drops side s's rows the state watermark passed, writing the unmatched ones
 * padded with nulls when emit. */
static void remove_old(struct em_join *j, int s, int64_t state_wm, bool emit, GArray *out,
                       em_arena *arena)
{
    side_state *st = &j->state[s];
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, st->buckets);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        bucket *b = v;
        entry **link = &b->head, *last = NULL;
        while (*link) {
            entry *e = *link;
            if (!is_passed(e->row.as.items[j->evt_col[s]], state_wm)) {
                last = e;
                link = &e->next;
                continue;
            }
            if (emit && !e->matched) {
                em_value o = s == 0 ? joined(j, e->row, em_null(), arena)
                                    : joined(j, em_null(), e->row, arena);
                g_array_append_val(out, o);
            }
            *link = e->next;
            st->rows--;
            j->removed++;
        }
        b->tail = last;
        if (!b->head)
            g_hash_table_iter_remove(&it);
    }
    compact(st);
}

static gint compare_rows(gconstpointer a, gconstpointer b)
{
    return em_value_compare(*(const em_value *)a, *(const em_value *)b);
}

static em_values *side_rows(struct em_join *j, int s, em_time t, GError **err)
{
    em_rdd *rdd = em__dstream_get_or_compute(j->rows[s], t, err); /* borrowed */
    if (!rdd && err && *err)
        return NULL;
    return rdd ? em_rdd_collect(rdd, err) : g_new0(em_values, 1);
}

static em_rdd *run(struct em_join *j, em_time t, em_arena *arena, GError **err)
{
    bool shared = j->wm[0] && j->wm[0] == j->wm[1];
    for (int s = 0; s < (shared ? 1 : 2); s++)
        if (j->wm[s])
            em__watermark_begin(j->wm[s]);
    g_autoptr(em_values) left = side_rows(j, 0, t, err);
    if (!left)
        return NULL;
    g_autoptr(em_values) right = side_rows(j, 1, t, err);
    if (!right)
        return NULL;
    int64_t late = 0, evict = 0, state_wm[2] = {0, 0};
    bool watermarked = global_watermark(j, &late, &evict);
    bool has_state_wm[2] = {false, false};
    for (int s = 0; s < 2 && watermarked; s++)
        has_state_wm[s] = j->evt_col[s] >= 0 && state_watermark(j, s, evict, &state_wm[s]);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(em_value));
    g_mutex_lock(&j->lock);
    j->updated = j->removed = j->dropped = 0;
    store_and_join(j, 0, left, watermarked, late, has_state_wm[0], state_wm[0], out, arena);
    store_and_join(j, 1, right, watermarked, late, has_state_wm[1], state_wm[1], out, arena);
    /* the preserved side first, writing its unmatched rows; then the other, silently */
    int first = j->type == EM_JOIN_RIGHT_OUTER ? 1 : 0;
    for (int i = 0; i < 2; i++) {
        int s = i == 0 ? first : 1 - first;
        bool emit = (j->type == EM_JOIN_LEFT_OUTER && s == 0) ||
                    (j->type == EM_JOIN_RIGHT_OUTER && s == 1);
        if (has_state_wm[s])
            remove_old(j, s, state_wm[s], emit, out, arena);
    }
    g_mutex_unlock(&j->lock);
    bool ok = true;
    for (int s = 0; s < (shared ? 1 : 2) && ok; s++)
        ok = !j->wm[s] || em__watermark_end(j->wm[s], t, true, err);
    if (!ok) {
        g_array_free(out, TRUE);
        return NULL;
    }
    /* Spark writes in its partitions' order; Ember in the rows' order, the same every run */
    g_array_sort(out, compare_rows);
    em_rdd *rows = em_parallelize(j->sc, (em_value *)out->data, out->len, 0);
    g_array_free(out, TRUE);
    if (!rows)
        g_set_error(err, EM_ERROR, EM_ERROR_TASK,
                    "the join's rows of batch %" G_GINT64_FORMAT " could not be distributed",
                    (gint64)t);
    return rows;
}

em_rdd *em__join_run(struct em_join *j, em_time t, GError **err)
{
    /* what is made here goes to this batch's scratch arena; the buffers copy what they keep */
    em_arena *scratch = em_arena_new();
    em_arena *prev = em__scratch_set(scratch);
    em_rdd *rows = run(j, t, scratch, err);
    em__scratch_set(prev);
    em_arena_free(scratch);
    return rows;
}

bool em__join_check_mode(const struct em_join *j, em_output_mode mode, GError **err)
{
    (void)j;
    if (mode == EM_OUTPUT_APPEND)
        return true;
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                "Join between two streaming DataFrames/Datasets is not supported in %s output "
                "mode, only in Append output mode",
                mode == EM_OUTPUT_UPDATE ? "Update" : "Complete");
    return false;
}

bool em__join_advanced(struct em_join *j)
{
    /* Spark's shouldRunAnotherBatch: a state watermark cleans up and the watermark moved */
    int64_t unused;
    bool cleans = (j->evt_col[0] >= 0 && state_watermark(j, 0, 0, &unused)) ||
                  (j->evt_col[1] >= 0 && state_watermark(j, 1, 0, &unused));
    if (!cleans)
        return false;
    /* the global watermark: the min over the sides of what each computed last */
    bool any = false;
    int64_t current = 0, next = 0;
    for (int s = 0; s < 2; s++) {
        if (!j->wm[s])
            continue;
        int64_t c = em__watermark_current(j->wm[s]), n = em__watermark_next(j->wm[s]);
        current = any ? MIN(current, c) : c;
        next = any ? MIN(next, n) : n;
        any = true;
    }
    return any && next > current;
}

/* ---- The query's side: the second source, progress ---- */

bool em__join_right_input(struct em_join *j, em_time t, int64_t *rows, bool *has_data,
                          GError **err)
{
    em_rdd *rdd = em__dstream_get_or_compute(j->sources[1], t, err); /* borrowed */
    if (!rdd && err && *err)
        return false;
    *rows = rdd ? em_rdd_count(rdd, err) : 0;
    if (*rows < 0)
        return false;
    em__offset_stream *os = em__offset_stream_of(j->sources[1]);
    *has_data = os ? os->planned_t == t && os->planned_fresh : *rows > 0;
    g_mutex_lock(&j->lock);
    j->rows_read += *rows;
    g_mutex_unlock(&j->lock);
    return true;
}

static void add_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void add_offset(JsonBuilder *b, const char *name, const char *json)
{
    json_builder_set_member_name(b, name);
    JsonNode *node = json ? json_from_string(json, NULL) : NULL;
    if (node)
        json_builder_add_value(b, node);
    else
        json_builder_add_null_value(b);
}

void em__join_right_source_progress(struct em_join *j, JsonBuilder *b, int64_t rows)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "description");
    json_builder_add_string_value(b, j->source_desc[1]);
    em__offset_stream *os = em__offset_stream_of(j->sources[1]);
    if (os) {
        add_offset(b, "startOffset", os->planned_start);
        add_offset(b, "endOffset", os->planned_end);
        add_offset(b, "latestOffset",
                   em__offset_class(os)->no_latest_offset ? NULL : os->planned_available);
    } else {
        /* counted as the socket source's: the rows read so far less one */
        int64_t read = j->rows_read;
        g_autofree char *start =
            read - rows > 0 ? g_strdup_printf("%" G_GINT64_FORMAT, (gint64)(read - rows - 1))
                            : NULL;
        g_autofree char *end = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)(read - 1));
        add_offset(b, "startOffset", start);
        add_offset(b, "endOffset", end);
        add_offset(b, "latestOffset", end);
    }
    add_int(b, "numInputRows", rows);
    json_builder_end_object(b);
}

void em__join_event_time_progress(struct em_join *j, JsonBuilder *b)
{
    if (!j->wm[0] && !j->wm[1])
        return;
    /* the stats of the first side with event times (Spark's headOption), the global watermark */
    int first = j->wm[0] && em__watermark_progress_has_stats(j->wm[0]) ? 0 : 1;
    if (!j->wm[first])
        first = 0;
    int64_t late = 0, evict = 0;
    global_watermark(j, &late, &evict);
    em__watermark_progress_with(j->wm[first], evict, b);
}

void em__join_progress(struct em_join *j, JsonBuilder *b)
{
    g_mutex_lock(&j->lock);
    int64_t total = (int64_t)(j->state[0].rows + j->state[1].rows);
    int64_t bytes =
        (int64_t)(em_arena_bytes(j->state[0].arena) + em_arena_bytes(j->state[1].arena));
    int64_t updated = j->updated, removed = j->removed, dropped = j->dropped;
    g_mutex_unlock(&j->lock);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "operatorName");
    json_builder_add_string_value(b, "symmetricHashJoin");
    add_int(b, "numRowsTotal", total);
    add_int(b, "numRowsUpdated", updated);
    add_int(b, "numRowsRemoved", removed);
    add_int(b, "memoryUsedBytes", bytes);
    add_int(b, "numRowsDroppedByWatermark", dropped);
    json_builder_end_object(b);
}

/* ---- Its checkpoint (em__state_op): each side's buffer, the watermarks ---- */

#define WATERMARKS_RECORD "watermarks"
static const char *const side_records[2] = {"left", "right"};

/* row as a list: the codec refuses a one-column row (a tuple of one) */
static em_value as_list(em_value row)
{
    return (em_value){.type = EM_T_LIST, .len = row.len, .as.items = row.as.items};
}

static em_value as_row(em_value list)
{
    list.type = EM_T_TUPLE;
    list.kind = 0;
    return list;
}

static void join_save(void *op, em_ckpt *ck)
{
    struct em_join *j = op;
    g_mutex_lock(&j->lock);
    for (int s = 0; s < 2; s++) {
        side_state *st = &j->state[s];
        em_value *entries = g_new(em_value, st->rows + 1);
        em_value *fields = g_new(em_value, 3 * (st->rows + 1));
        size_t n = 0;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, st->buckets);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const bucket *b = v;
            for (const entry *e = b->head; e; e = e->next, n++) {
                /* [matched, key, row] */
                em_value *f = &fields[3 * n];
                f[0] = em_bool(e->matched);
                f[1] = as_list(b->key);
                f[2] = as_list(e->row);
                entries[n] = (em_value){.type = EM_T_LIST, .len = 3, .as.items = f};
            }
        }
        em__ckpt_put_values(ck, side_records[s], entries, n);
        g_free(entries);
        g_free(fields);
    }
    em_value marks[5];
    for (int s = 0; s < 2; s++) {
        marks[2 * s] = em_int(j->wm[s] ? em__watermark_current(j->wm[s]) : 0);
        marks[2 * s + 1] = em_int(j->wm[s] ? em__watermark_next(j->wm[s]) : 0);
    }
    marks[4] = em_int(j->rows_read);
    em__ckpt_put_values(ck, WATERMARKS_RECORD, marks, 5);
    g_mutex_unlock(&j->lock);
}

/* Whether a restored entry is [matched, key, row] of side s's shape. */
static bool entry_fits(const struct em_join *j, int s, em_value e)
{
    return e.type == EM_T_LIST && e.len == 3 && e.as.items[0].type == EM_T_BOOL &&
           e.as.items[1].type == EM_T_LIST && e.as.items[1].len == j->n_keys &&
           e.as.items[2].type == EM_T_LIST && e.as.items[2].len == j->n_cols[s];
}

static bool load_side(struct em_join *j, int s, const em_ckpt *ck, GError **err)
{
    g_autoptr(em_arena) arena = em_arena_new();
    em_value *entries = NULL;
    size_t n = 0;
    if (!em__ckpt_get_values(ck, side_records[s], arena, &entries, &n, err))
        return false;
    side_state *st = &j->state[s];
    side_clear(st);
    side_init(st);
    for (size_t i = 0; i < n; i++) {
        if (!entry_fits(j, s, entries[i])) {
            g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                        "checkpoint record \"%s\": row %zu is not [matched, key of %zu columns, "
                        "row of %zu columns]",
                        side_records[s], i, j->n_keys, j->n_cols[s]);
            side_clear(st);
            side_init(st);
            g_free(entries);
            return false;
        }
        const em_value *f = entries[i].as.items;
        append(st, as_row(f[1]), as_row(f[2]), em_as_bool(f[0]));
    }
    g_free(entries);
    return true;
}

static bool join_load(void *op, const em_ckpt *ck, GError **err)
{
    struct em_join *j = op;
    g_autoptr(em_arena) arena = em_arena_new();
    em_value *marks = NULL;
    size_t n = 0;
    if (!em__ckpt_get_values(ck, WATERMARKS_RECORD, arena, &marks, &n, err))
        return false;
    bool ok = n == 5;
    for (size_t i = 0; ok && i < n; i++)
        ok = em_is_int(marks[i]);
    if (!ok) {
        g_set_error(err, EM_ERROR, EM_ERROR_CORRUPT,
                    "checkpoint record \"" WATERMARKS_RECORD "\": not five whole numbers");
        g_free(marks);
        return false;
    }
    g_mutex_lock(&j->lock);
    ok = load_side(j, 0, ck, err) && load_side(j, 1, ck, err);
    if (ok) {
        for (int s = 0; s < 2; s++)
            if (j->wm[s] && !(s == 1 && j->wm[1] == j->wm[0]))
                em__watermark_restore(j->wm[s], marks[2 * s].as.i, marks[2 * s + 1].as.i);
        j->rows_read = marks[4].as.i;
    }
    g_mutex_unlock(&j->lock);
    g_free(marks);
    return ok;
}

em__state_op em__join_state_op(struct em_join *j)
{
    return (
        em__state_op){.name = "symmetricHashJoin", .save = join_save, .load = join_load, .op = j};
}

em__offset_stream *em__join_right_offset_stream(const struct em_join *j)
{
    return em__offset_stream_of(j->sources[1]);
}

char *em__join_right_offset(struct em_join *j)
{
    em__offset_stream *os = em__offset_stream_of(j->sources[1]);
    if (os)
        return g_strdup(os->planned_end);
    /* counted as the socket source's: the rows read so far less one */
    g_mutex_lock(&j->lock);
    int64_t read = j->rows_read;
    g_mutex_unlock(&j->lock);
    return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)(read - 1));
}

/* The min over the sides with a watermark of what each one's next batch starts from. */
int64_t em__join_next_watermark(struct em_join *j)
{
    bool any = false;
    int64_t next = 0;
    for (int s = 0; s < 2; s++) {
        if (!j->wm[s])
            continue;
        int64_t n = em__watermark_next(j->wm[s]);
        next = any ? MIN(next, n) : n;
        any = true;
    }
    return next;
}

void em__join_restore_watermark(struct em_join *j, int64_t current_ms, int64_t next_ms)
{
    for (int s = 0; s < 2; s++)
        if (j->wm[s] && !(s == 1 && j->wm[1] == j->wm[0]))
            em__watermark_restore(j->wm[s], current_ms, next_ms);
}

bool em__df_refuse_after_join(const em_df *df, const char *op, GError **err)
{
    if (!em__evt_agg_join(df->evt))
        return true;
    g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                "%s after a stream-stream join is not supported yet (select, filter and "
                "withColumn are)",
                op);
    return false;
}
