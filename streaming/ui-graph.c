/* The DStream graph for teaching: as text (em_dstream_debug_string, shaped like Spark's RDD
 * toDebugString) and as an SVG drawing of the whole graph, inputs on the left, each stream one
 * column right of its deepest parent, output operations on the right edge of their stream. */
#include "ui-private.h"

#include <string.h>

static void describe(GString *o, const em_dstream *ds)
{
    g_string_append_printf(o, "(slide %" G_GINT64_FORMAT " ms", (gint64)em_dstream_slide(ds));
    em_duration window = em__ui_stream_window(ds);
    if (window)
        g_string_append_printf(o, ", window %" G_GINT64_FORMAT " ms", (gint64)window);
    g_string_append_printf(o, ") %s", em__ui_stream_op(ds));
    const char *fn = em__ui_stream_fn_name(ds);
    if (fn)
        g_string_append_printf(o, "(%s)", fn);
    g_string_append_printf(o, " [%d]", em__ui_stream_id(ds));
}

static void debug_lines(GString *o, const em_dstream *ds, const char *indent, bool child)
{
    g_string_append_printf(o, "%s%s", indent, child ? " +-" : "");
    describe(o, ds);
    g_string_append_c(o, '\n');
    char *deeper = g_strconcat(indent, child ? "   " : "", NULL);
    for (int i = 0; i < em__ui_stream_n_parents(ds); i++)
        debug_lines(o, em__ui_stream_parent(ds, i), deeper, true);
    g_free(deeper);
}

char *em_dstream_debug_string(em_dstream *ds)
{
    if (!ds)
        return NULL;
    GString *o = g_string_new(NULL);
    debug_lines(o, ds, "", false);
    return g_string_free(o, FALSE);
}

/* ---- SVG ---- */

enum { COL_W = 230, ROW_H = 78, BOX_W = 190, BOX_H = 54, MARGIN = 20 };

static int depth_of(const em_dstream *ds, GHashTable *depth)
{
    gpointer known;
    if (g_hash_table_lookup_extended(depth, ds, NULL, &known))
        return GPOINTER_TO_INT(known);
    int d = 0;
    for (int i = 0; i < em__ui_stream_n_parents(ds); i++)
        d = MAX(d, depth_of(em__ui_stream_parent(ds, i), depth) + 1);
    g_hash_table_insert(depth, (gpointer)ds, GINT_TO_POINTER(d));
    return d;
}

typedef struct {
    double x, y;
} point;

void em__ui_graph_svg(em_ssc *ssc, GString *o)
{
    GPtrArray *streams = em__ui_streams(ssc);
    GHashTable *depth = g_hash_table_new(NULL, NULL);
    GHashTable *where = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    int rows[64] = {0}, max_depth = 0, max_rows = 0;
    for (guint i = 0; i < streams->len; i++) {
        int d = MIN(depth_of(streams->pdata[i], depth), 63);
        point *p = g_new(point, 1);
        *p = (point){MARGIN + d * COL_W, MARGIN + rows[d]++ * ROW_H};
        g_hash_table_insert(where, streams->pdata[i], p);
        max_depth = MAX(max_depth, d);
        max_rows = MAX(max_rows, rows[d]);
    }
    int outputs = em__ui_n_outputs(ssc);
    int width = MARGIN * 2 + (max_depth + 1) * COL_W + 130;
    int height = MARGIN * 2 + MAX(max_rows, 1) * ROW_H;
    g_string_append_printf(o,
                           "<svg id=\"dstream-graph\" width=\"%d\" height=\"%d\" "
                           "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">"
                           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
                           "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
                           "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
                           width, height);
    for (guint i = 0; i < streams->len; i++) {
        em_dstream *ds = streams->pdata[i];
        point *to = g_hash_table_lookup(where, ds);
        for (int k = 0; k < em__ui_stream_n_parents(ds); k++) {
            point *from = g_hash_table_lookup(where, em__ui_stream_parent(ds, k));
            g_string_append_printf(o,
                                   "<line class=\"edge\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" "
                                   "y2=\"%.0f\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n",
                                   from->x + BOX_W, from->y + BOX_H / 2.0, to->x,
                                   to->y + BOX_H / 2.0);
        }
    }
    for (guint i = 0; i < streams->len; i++) {
        em_dstream *ds = streams->pdata[i];
        point *p = g_hash_table_lookup(where, ds);
        const char *fn = em__ui_stream_fn_name(ds);
        char *op = g_markup_escape_text(em__ui_stream_op(ds), -1);
        char *fn_text = g_markup_escape_text(fn ? fn : "", -1);
        em_duration window = em__ui_stream_window(ds);
        char *timing =
            window
                ? g_strdup_printf("window %" G_GINT64_FORMAT " ms, slide %" G_GINT64_FORMAT " ms",
                                  (gint64)window, (gint64)em_dstream_slide(ds))
                : g_strdup_printf("slide %" G_GINT64_FORMAT " ms", (gint64)em_dstream_slide(ds));
        g_string_append_printf(o,
                               "<g class=\"dstream\" data-id=\"%d\"><rect x=\"%.0f\" "
                               "y=\"%.0f\" width=\"%d\" height=\"%d\" rx=\"6\" fill=\"%s\" "
                               "stroke=\"#336\"/><text x=\"%.0f\" y=\"%.0f\" "
                               "font-weight=\"bold\" font-size=\"13\">%s [%d]</text>"
                               "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%s</text>"
                               "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#555\">"
                               "%s</text></g>\n",
                               em__ui_stream_id(ds), p->x, p->y, BOX_W, BOX_H,
                               em__ui_stream_is_input(ds) ? "#dff0d8" : "#e8eef8", p->x + 8,
                               p->y + 17, op, em__ui_stream_id(ds), p->x + 8, p->y + 32, fn_text,
                               p->x + 8, p->y + 47, timing);
        g_free(op);
        g_free(fn_text);
        g_free(timing);
    }
    for (int i = 0; i < outputs; i++) {
        em_dstream *ds = em__ui_output_stream(ssc, i);
        point *p = g_hash_table_lookup(where, ds);
        if (!p)
            continue;
        char *desc = em__ui_output_description(ssc, i);
        char *name = g_markup_escape_text(desc, -1);
        char *space = strchr(name, ' ');
        if (space)
            *space = '\0'; /* the operation's name alone: the box says which stream */
        double x = p->x + BOX_W + 14, y = p->y + BOX_H / 2.0 + 4 + 14 * (i % 2);
        g_string_append_printf(o,
                               "<text class=\"output-op\" x=\"%.0f\" y=\"%.0f\" "
                               "font-size=\"12\" fill=\"#a40\">&#8594; %s #%d</text>\n",
                               x, y, name, i);
        g_free(name);
        g_free(desc);
    }
    g_string_append(o, "</svg>\n");
    g_hash_table_unref(where);
    g_hash_table_unref(depth);
}
