/* JSON lines and CSV parsed into rows by a schema, PERMISSIVE: bad records become nulls and are
 * counted. */
#include "df-fixture.h"

static em_context *sc;
static void setup(void) { sc = em_context_new("local[2]", "test-df-parse", NULL); }
static void teardown(void) { em_context_free(sc); }
TestSuite(df_parse, .init = setup, .fini = teardown);

#define IOT "device string, level string, temp double, ts timestamp"

/* A static DataFrame of one "value" column holding lines[0..n). */
static em_df *lines_of(const char *const *lines, size_t n)
{
    em_value *rows = g_newa(em_value, n);
    for (size_t i = 0; i < n; i++) {
        em_value v = em_str(lines[i]);
        rows[i] = em_row_in(NULL, &v, 1);
    }
    g_autoptr(em_rdd) rdd = em_parallelize(sc, rows, n, 2);
    g_autoptr(em_schema) schema = schema_of("value string");
    return em_df_from_rdd(rdd, schema);
}

Test(df_parse, json_lines_by_schema_keep_what_fits_and_count_bad_records)
{
    const char *lines[] = {
        "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":30.5,\"ts\":\"2026-01-01 00:00:01\"}",
        "{\"device\":\"d2\",\"temp\":7,\"extra\":[1,2]}", /* missing: null; int ok */
        "{\"device\":\"d3\",\"temp\":\"hot\"}",           /* wrong type */
        "not json",                                       /* not JSON */
        "[1,2]",                                          /* not an object */
    };
    g_autoptr(em_df) text = lines_of(lines, G_N_ELEMENTS(lines));
    g_autoptr(em_schema) schema = schema_of(IOT);
    gsize *malformed = NULL;
    GError *err = NULL;
    g_autoptr(em_df) rows = ok(em_df_from_json(text, "value", schema, &malformed, &err), err);
    g_autoptr(em_values) got = em_df_collect(rows, &err);
    cr_assert_not_null(got);
    g_autofree char *all = em_values_to_string(got);
    cr_assert_str_eq(all, "[(d1,HIGH,30.5,1767225601000000), (d2,null,7.0,null), "
                          "(d3,null,null,null), (null,null,null,null), "
                          "(null,null,null,null)]");
    cr_assert_eq(g_atomic_pointer_get(malformed), 3);
}

/* As Spark 3.5's JacksonParser: a string column takes any JSON value as its text, a timestamp
 * column a number as epoch seconds; a mistyped field is null and the row keeps the rest. */
Test(df_parse, json_fields_read_as_spark_reads_them_keeping_the_rest_of_a_mistyped_row)
{
    const char *lines[] = {
        "{\"device\":12,\"level\":{\"a\":[1,true]},\"temp\":2,\"ts\":1767225601}",
        "{\"device\":1.5,\"level\":false,\"temp\":true,\"ts\":\"later\"}",
    };
    g_autoptr(em_df) text = lines_of(lines, G_N_ELEMENTS(lines));
    g_autoptr(em_schema) schema = schema_of(IOT);
    gsize *malformed = NULL;
    GError *err = NULL;
    g_autoptr(em_df) rows = ok(em_df_from_json(text, "value", schema, &malformed, &err), err);
    g_autoptr(em_values) got = em_df_collect(rows, &err);
    cr_assert_not_null(got);
    g_autofree char *all = em_values_to_string(got);
    cr_assert_str_eq(all, "[(12,{\"a\":[1,true]},2.0,1767225601000000), (1.5,false,null,null)]");
    cr_assert_eq(g_atomic_pointer_get(malformed), 1);
}

Test(df_parse, csv_lines_by_position_keep_what_fits_and_count_bad_records)
{
    const char *lines[] = {"d1,HIGH,30.5,2026-01-01 00:00:01",
                           "d2,,7,",
                           "d3,LOW,hot,",
                           "d4,LOW",
                           "d5,LOW,1.0,,extra",
                           "d6,LOW,warm"};
    g_autoptr(em_df) text = lines_of(lines, G_N_ELEMENTS(lines));
    g_autoptr(em_schema) schema = schema_of(IOT);
    gsize *malformed = NULL;
    GError *err = NULL;
    g_autoptr(em_df) rows = ok(em_df_from_csv(text, "value", schema, &malformed, &err), err);
    g_autoptr(em_values) got = em_df_collect(rows, &err);
    cr_assert_not_null(got);
    g_autofree char *all = em_values_to_string(got);
    cr_assert_str_eq(all, "[(d1,HIGH,30.5,1767225601000000), (d2,null,7.0,null), "
                          "(d3,LOW,null,null), (d4,LOW,null,null), (d5,LOW,1.0,null), "
                          "(d6,LOW,null,null)]");
    cr_assert_eq(g_atomic_pointer_get(malformed), 4);
    cr_assert_null(em_df_from_csv(text, "line", schema, NULL, &err));
    cr_assert(g_str_has_prefix(err->message, "[UNRESOLVED_COLUMN.WITH_SUGGESTION]"));
    g_error_free(err);
}
