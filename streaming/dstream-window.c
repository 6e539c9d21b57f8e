/* Windows over a stream (Spark's WindowedDStream): the RDD at t is the union of the parent's
 * RDDs in (t - W, t]. A window exists only at multiples of its slide from zero; W and S must be
 * multiples of the parent's slide, checked when the window is defined. */
#include "streaming-private.h"

typedef struct {
    em_duration window;
} window_state;

bool em__check_window(const em_dstream *parent, em_duration window, em_duration slide,
                      const char *op)
{
    if (window <= 0 || slide <= 0) {
        g_critical("%s: the window (%" G_GINT64_FORMAT " ms) and slide (%" G_GINT64_FORMAT
                   " ms) durations must be > 0",
                   op, (gint64)window, (gint64)slide);
        return false;
    }
    if (window % parent->slide != 0) {
        g_critical("%s: the window duration (%" G_GINT64_FORMAT " ms) must be a multiple of "
                   "the slide duration of the parent stream (%" G_GINT64_FORMAT " ms)",
                   op, (gint64)window, (gint64)parent->slide);
        return false;
    }
    if (slide % parent->slide != 0) {
        g_critical("%s: the slide duration (%" G_GINT64_FORMAT " ms) must be a multiple of "
                   "the slide duration of the parent stream (%" G_GINT64_FORMAT " ms)",
                   op, (gint64)slide, (gint64)parent->slide);
        return false;
    }
    return true;
}

static em_rdd *window_compute(em_dstream *ds, em_time t, GError **err)
{
    const window_state *st = ds->state;
    em_dstream *parent = ds->parents[0];
    GPtrArray *in = g_ptr_array_new();
    for (em_time u = t - st->window + parent->slide; u <= t; u += parent->slide) {
        em_rdd *rdd = em__dstream_get_or_compute(parent, u, err);
        if (rdd)
            g_ptr_array_add(in, rdd);
        else if (err && *err) {
            g_ptr_array_unref(in);
            return NULL;
        }
    }
    em_rdd *out = in->len ? em_rdd_union_n((em_rdd *const *)in->pdata, in->len)
                          : em_empty_rdd(ds->ssc->sc);
    g_ptr_array_unref(in);
    return out;
}

static em_duration window_parent_extra(const em_dstream *ds)
{
    return ((const window_state *)ds->state)->window;
}

static void window_finalize(em_dstream *ds) { g_free(ds->state); }

static const em_dstream_class window_class = {.type_name = "WindowedDStream",
                                              .compute = window_compute,
                                              .parent_remember_extra = window_parent_extra,
                                              .finalize = window_finalize};

em_dstream *em_window(em_dstream *ds, em_duration window, em_duration slide)
{
    if (!em__dstream_check(ds, "window") || !em__check_window(ds, window, slide, "window"))
        return NULL;
    em_dstream *out = em__dstream_new(ds->ssc, &window_class, "window", &ds, 1);
    out->slide = slide;
    window_state *st = g_new(window_state, 1);
    st->window = window;
    out->state = st;
    /* As Spark: the parent's batches are read by several windows, compute each once. */
    ds->cached = true;
    return out;
}
