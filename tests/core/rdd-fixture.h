/* Helpers shared by the RDD test files: build an RDD from text, collect it as text. Each
 * asserts on failure with the error's message, so a test reads as its expectations. */
#ifndef EMBER_TESTS_RDD_FIXTURE_H
#define EMBER_TESTS_RDD_FIXTURE_H

#include <criterion/criterion.h>

#include "core-private.h"

/* em_parallelize_text(ctx, text, slices), asserting it parses. */
static inline em_rdd *parse(em_context *ctx, const char *text, int slices)
{
    GError *err = NULL;
    em_rdd *rdd = em_parallelize_text(ctx, text, slices, &err);
    cr_assert_not_null(rdd, "%s", err ? err->message : "");
    return rdd;
}

/* em_rdd_collect(rdd), asserting the job succeeds. */
static inline em_values *collect(em_rdd *rdd)
{
    GError *err = NULL;
    em_values *out = em_rdd_collect(rdd, &err);
    cr_assert_not_null(out, "%s", err ? err->message : "");
    return out;
}

/* The records in partition order, as "[a, b]"; g_free() it. */
static inline char *collected(em_rdd *rdd)
{
    g_autoptr(em_values) out = collect(rdd);
    return em_values_to_string(out);
}

/* The records sorted, as "[a, b]"; g_free() it. */
static inline char *sorted(em_rdd *rdd)
{
    g_autoptr(em_values) out = collect(rdd);
    return em_values_to_string(em_values_sort(out));
}

#endif
