/* Dataset.show() for Ember's tables: rows printed as Spark's showString prints them (+---+
 * borders, right-aligned cells, 20-character truncation, "only showing top N rows"). The
 * console sink prints each batch with it. */
#include "table-private.h"

#include <string.h>

/* Spark's cast of a timestamp to a string in show(): yyyy-MM-dd HH:mm:ss, then the fraction of
 * a second with its trailing zeros dropped (UTC here, Spark's session time zone there). */
static void format_timestamp(int64_t micros, GString *out)
{
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(secs);
    if (!dt) {
        g_string_append_printf(out, "%" G_GINT64_FORMAT, micros);
        return;
    }
    g_autofree char *text = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
    g_string_append(out, text);
    if (frac == 0)
        return;
    char digits[8];
    g_snprintf(digits, sizeof digits, "%06d", (int)frac);
    size_t len = 6;
    while (digits[len - 1] == '0')
        len--;
    g_string_append_c(out, '.');
    g_string_append_len(out, digits, (gssize)len);
}

void em__cell_format(em_value v, em_col_type type, GString *out)
{
    if (em_is_null(v)) {
        g_string_append(out, "NULL");
        return;
    }
    if (type == EM_COL_TIMESTAMP && em_is_int(v)) {
        format_timestamp(em_as_int(v), out);
        return;
    }
    if (type == EM_COL_WINDOW && v.type == EM_T_TUPLE && v.len == 2) {
        /* Spark 3.5 prints a struct as {field, field} */
        g_string_append_c(out, '{');
        em__cell_format(v.as.items[0], EM_COL_TIMESTAMP, out);
        g_string_append(out, ", ");
        em__cell_format(v.as.items[1], EM_COL_TIMESTAMP, out);
        g_string_append_c(out, '}');
        return;
    }
    em_value_format(v, out);
}

/* Spark's Utils.stringHalfWidth: characters, the full-width ones counted twice. */
static size_t half_width(const char *s)
{
    size_t w = 0;
    for (const char *p = s; *p; p = g_utf8_next_char(p))
        w += g_unichar_iswide(g_utf8_get_char(p)) ? 2 : 1;
    return w;
}

/* A cell cut as showString cuts it: longer than truncate characters -> its first truncate - 3
 * and "..." (the first truncate when truncate < 4). */
static char *cut_cell(const char *cell, size_t truncate)
{
    size_t chars = (size_t)g_utf8_strlen(cell, -1);
    if (truncate == 0 || chars <= truncate)
        return g_strdup(cell);
    size_t keep = truncate < 4 ? truncate : truncate - 3;
    const char *end = g_utf8_offset_to_pointer(cell, (glong)keep);
    GString *s = g_string_new_len(cell, end - cell);
    if (truncate >= 4)
        g_string_append(s, "...");
    return g_string_free(s, FALSE);
}

/* Pads cell to width half-width columns, on the left (right-aligned) or the right. */
static void append_padded(GString *out, const char *cell, size_t width, bool right_align)
{
    size_t w = half_width(cell);
    size_t pad = width > w ? width - w : 0;
    if (!right_align)
        g_string_append(out, cell);
    for (size_t i = 0; i < pad; i++)
        g_string_append_c(out, ' ');
    if (right_align)
        g_string_append(out, cell);
}

static void append_line(GString *out, char **cells, const size_t *widths, size_t n_cols,
                        bool right_align)
{
    g_string_append_c(out, '|');
    for (size_t c = 0; c < n_cols; c++) {
        append_padded(out, cells[c], widths[c], right_align);
        g_string_append_c(out, '|');
    }
    g_string_append_c(out, '\n');
}

void em_rows_format(const em_value *rows, size_t n, const em_schema *schema, size_t num_rows,
                    size_t truncate, GString *out)
{
    size_t n_cols = schema->n, shown = n < num_rows ? n : num_rows;
    /* cells[r * n_cols + c]; row 0 holds the column names. */
    char **cells = g_new0(char *, (shown + 1) * n_cols);
    size_t *widths = g_new(size_t, n_cols ? n_cols : 1);
    GString *cell = g_string_new(NULL);
    for (size_t c = 0; c < n_cols; c++) {
        cells[c] = cut_cell(schema->names[c], truncate);
        widths[c] = MAX((size_t)3, half_width(cells[c])); /* minimumColWidth */
    }
    for (size_t r = 0; r < shown; r++) {
        for (size_t c = 0; c < n_cols; c++) {
            g_string_truncate(cell, 0);
            em__cell_format(rows[r].as.items[c], schema->types[c], cell);
            char *text = cut_cell(cell->str, truncate);
            cells[(r + 1) * n_cols + c] = text;
            widths[c] = MAX(widths[c], half_width(text));
        }
    }
    GString *sep = g_string_new("+");
    for (size_t c = 0; c < n_cols; c++) {
        for (size_t i = 0; i < widths[c]; i++)
            g_string_append_c(sep, '-');
        g_string_append_c(sep, '+');
    }
    g_string_append_c(sep, '\n');
    bool right_align = truncate > 0;
    g_string_append(out, sep->str);
    append_line(out, cells, widths, n_cols, right_align);
    g_string_append(out, sep->str);
    for (size_t r = 1; r <= shown; r++)
        append_line(out, cells + r * n_cols, widths, n_cols, right_align);
    g_string_append(out, sep->str);
    if (n > num_rows)
        g_string_append_printf(out, "only showing top %zu %s\n", num_rows,
                               num_rows == 1 ? "row" : "rows");
    for (size_t i = 0; i < (shown + 1) * n_cols; i++)
        g_free(cells[i]);
    g_free(cells);
    g_free(widths);
    g_string_free(cell, TRUE);
    g_string_free(sep, TRUE);
}

bool em_df_show_to(const em_df *df, size_t num_rows, size_t truncate, FILE *out, GError **err)
{
    if (df->ds) {
        g_set_error(err, EM_ERROR, EM_ERROR_INVALID,
                    "Queries with streaming sources must be executed with writeStream.start()");
        return false;
    }
    /* take(num_rows + 1): one more than shown tells whether to print the footer. */
    g_autoptr(em_values) rows = em_rdd_take(df->rdd, num_rows + 1, err);
    if (!rows)
        return false;
    GString *text = g_string_new(NULL);
    em_rows_format(rows->items, rows->n, df->schema, num_rows, truncate, text);
    g_string_append_c(text, '\n');
    fwrite(text->str, 1, text->len, out);
    fflush(out);
    g_string_free(text, TRUE);
    return true;
}
