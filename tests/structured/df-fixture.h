/* Helpers shared by the Structured Streaming tests: static DataFrames from text, shown to a
 * string as Dataset.show() prints them. Each asserts on failure with the error's message. */
#ifndef EMBER_TESTS_DF_FIXTURE_H
#define EMBER_TESTS_DF_FIXTURE_H

#include <criterion/criterion.h>
#include <ember.h>
#include <stdio.h>

static inline em_schema *schema_of(const char *ddl)
{
    GError *err = NULL;
    em_schema *schema = em_schema_parse(ddl, &err);
    cr_assert_not_null(schema, "%s", err ? err->message : "");
    return schema;
}

/* A static DataFrame of the rows in text (em_df_from_text), asserting they parse. */
static inline em_df *df_of(em_context *sc, const char *ddl, const char *text)
{
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of(ddl);
    em_df *df = em_df_from_text(sc, schema, text, &err);
    cr_assert_not_null(df, "%s", err ? err->message : "");
    return df;
}

/* An operation's result, asserting it succeeded. */
static inline em_df *ok(em_df *df, GError *err)
{
    cr_assert_not_null(df, "%s", err ? err->message : "");
    return df;
}

/* What em_df_show_to(df, num_rows, truncate) prints; g_free() it. */
static inline char *shown(const em_df *df, size_t num_rows, size_t truncate)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    GError *err = NULL;
    bool done = em_df_show_to(df, num_rows, truncate, out, &err);
    fclose(out);
    cr_assert(done, "%s", err ? err->message : "");
    return text;
}

/* The rows sorted, as "[(a,1), (b,2)]"; g_free() it. */
static inline char *sorted_rows(const em_df *df)
{
    GError *err = NULL;
    g_autoptr(em_values) rows = em_df_collect(df, &err);
    cr_assert_not_null(rows, "%s", err ? err->message : "");
    return em_values_to_string(em_values_sort(rows));
}

#endif
