/* An input stream for the operating tests that reports its records as receivers and Kafka do
 * (the queue stream, as Spark's, reports none): batch i (at (i + 1) s) is texts[i] parsed by
 * em_values_parse ("a, b, c"), empty after the last. */
#ifndef EMBER_TESTS_COUNTED_INPUT_H
#define EMBER_TESTS_COUNTED_INPUT_H

#include "streaming-private.h"

typedef struct {
    em_dstream base;
    const char *const *texts;
    size_t n;
} counted_input_stream;

static inline em_rdd *counted_compute(em_dstream *ds, em_time t, GError **err)
{
    const counted_input_stream *c = (const counted_input_stream *)ds;
    gint64 i = (t - ds->zero_time) / ds->slide - 1;
    const char *text = i >= 0 && i < (gint64)c->n ? c->texts[i] : "";
    em_rdd *rdd = em_parallelize_text(ds->ssc->sc, text, 2, err);
    if (rdd)
        ds->last_records = em_rdd_count(rdd, err);
    return rdd;
}

static const em_dstream_class counted_class = {.type_name = "CountedInputDStream",
                                               .instance_size = sizeof(counted_input_stream),
                                               .compute = counted_compute};

/* texts must outlive the ssc. */
static inline em_dstream *counted_input(em_ssc *ssc, const char *const *texts, size_t n)
{
    em_dstream *ds = em__input_new(ssc, &counted_class, "countedStream");
    counted_input_stream *c = (counted_input_stream *)ds;
    c->texts = texts;
    c->n = n;
    return ds;
}

#endif
