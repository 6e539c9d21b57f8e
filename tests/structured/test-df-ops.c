/* DataFrame operations by column name on static tables: schemas, select, filter, withColumn,
 * explode(split()) and groupBy().agg(), with their errors. */
#include "df-fixture.h"

static em_context *sc;
static void setup(void) { sc = em_context_new("local[2]", "test-df-ops", NULL); }
static void teardown(void) { em_context_free(sc); }
TestSuite(df_ops, .init = setup, .fini = teardown);

#define EVENTS_DDL "device string, level string, temp double, n long"
#define EVENTS                                                                                    \
    "d1,HIGH,30.5,1\n"                                                                            \
    "d2,LOW,10.0,2\n"                                                                             \
    "d1,LOW,,3\n"                                                                                 \
    "d3,HIGH,41.0,\n"                                                                             \
    "d1,HIGH,35.5,5\n"

Test(df_ops, schema_parses_spark_ddl_and_prints_it_back)
{
    g_autoptr(em_schema) schema = schema_of("a STRING, b long,c bigint , d Double, e boolean, "
                                            "f timestamp");
    cr_assert_eq(em_schema_n_columns(schema), 6);
    g_autofree char *ddl = em_schema_to_ddl(schema);
    cr_assert_str_eq(ddl, "a string, b bigint, c bigint, d double, e boolean, f timestamp");
    cr_assert_eq(em_schema_index(schema, "d"), 3);
    cr_assert_eq(em_schema_index(schema, "z"), -1);
}

Test(df_ops, schema_rejects_unknown_types_repeated_names_and_missing_types)
{
    const char *bad[][2] = {
        {"a int128", "schema column 'a' has type 'int128': use string, long, bigint, double, "
                     "boolean or timestamp"},
        {"a string, a long", "schema names column 'a' twice"},
        {"a", "schema column 'a' is not '<name> <type>'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        cr_assert_null(em_schema_parse(bad[i][0], &err));
        cr_assert_str_eq(err->message, bad[i][1]);
        g_error_free(err);
    }
}

Test(df_ops, from_text_names_the_line_and_column_that_does_not_parse)
{
    GError *err = NULL;
    g_autoptr(em_schema) schema = schema_of("a string, b long");
    cr_assert_null(em_df_from_text(sc, schema, "x,1\ny,two\n", &err));
    cr_assert_str_eq(err->message, "line 2, column 'b': 'two' is not a bigint");
    g_error_free(err);
}

Test(df_ops, select_reorders_and_an_unknown_column_is_spark_unresolved)
{
    g_autoptr(em_df) df = df_of(sc, EVENTS_DDL, EVENTS);
    GError *err = NULL;
    const char *cols[] = {"n", "device"};
    g_autoptr(em_df) sel = ok(em_df_select(df, cols, 2, &err), err);
    g_autofree char *rows = sorted_rows(sel);
    cr_assert_str_eq(rows, "[(null,d3), (1,d1), (2,d2), (3,d1), (5,d1)]");
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(sel));
    cr_assert_str_eq(ddl, "n bigint, device string");
    const char *bad[] = {"devise"};
    cr_assert_null(em_df_select(df, bad, 1, &err));
    cr_assert_str_eq(err->message,
                     "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with "
                     "name `devise` cannot be resolved. Did you mean one of the following? "
                     "[`device`, `level`, `temp`, `n`].");
    g_error_free(err);
}

Test(df_ops, filter_by_comparison_drops_nulls_as_sql)
{
    g_autoptr(em_df) df = df_of(sc, EVENTS_DDL, EVENTS);
    GError *err = NULL;
    g_autoptr(em_df) hot = ok(em_df_filter_cmp(df, "temp", EM_CMP_GE, em_int(30), &err), err);
    g_autofree char *hot_rows = sorted_rows(hot);
    cr_assert_str_eq(hot_rows, "[(d1,HIGH,30.5,1), (d1,HIGH,35.5,5), (d3,HIGH,41.0,null)]");
    /* temp null (d1,LOW) is neither < 30 nor >= 30. */
    g_autoptr(em_df) cold = ok(em_df_filter_cmp(df, "temp", EM_CMP_LT, em_double(30), &err), err);
    g_autofree char *cold_rows = sorted_rows(cold);
    cr_assert_str_eq(cold_rows, "[(d2,LOW,10.0,2)]");
    g_autoptr(em_df) high =
        ok(em_df_filter_cmp(df, "level", EM_CMP_EQ, em_str("HIGH"), &err), err);
    g_autofree char *n_ne = NULL;
    g_autoptr(em_df) not3 = ok(em_df_filter_cmp(high, "n", EM_CMP_NE, em_int(5), &err), err);
    n_ne = sorted_rows(not3);
    cr_assert_str_eq(n_ne, "[(d1,HIGH,30.5,1)]");
    cr_assert_null(em_df_filter_cmp(df, "temp", EM_CMP_EQ, em_str("hot"), &err));
    cr_assert_str_eq(err->message,
                     "cannot compare column `temp` (double) with hot: the value is not a double");
    g_error_free(err);
}

static bool device_is(em_value row, const em_schema *schema, void *ud)
{
    em_value d = em_row_get_by_name(row, schema, "device");
    return em_is_str(d) && em_str_len(d) == strlen(ud) &&
           memcmp(em_str_ptr(d), ud, em_str_len(d)) == 0;
}

static int destroyed;
static void count_destroy(void *ud)
{
    (void)ud;
    destroyed++;
}

Test(df_ops, filter_with_a_row_function_sees_the_schema_and_destroys_its_data_once)
{
    destroyed = 0;
    {
        g_autoptr(em_df) df = df_of(sc, EVENTS_DDL, EVENTS);
        GError *err = NULL;
        g_autoptr(em_df) d2 = ok(em_df_filter_full(df, device_is, "d2", count_destroy, &err), err);
        g_autofree char *rows = sorted_rows(d2);
        cr_assert_str_eq(rows, "[(d2,LOW,10.0,2)]");
    }
    cr_assert_eq(destroyed, 1);
}

static em_value fahrenheit(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    em_value t = em_row_get_by_name(row, schema, "temp");
    return em_is_null(t) ? em_null() : em_double(em_as_double(t) * 9 / 5 + 32);
}

Test(df_ops, with_column_appends_a_new_column_and_replaces_one_in_place)
{
    g_autoptr(em_df) df = df_of(sc, "device string, temp double", "a,10.0\nb,\n");
    GError *err = NULL;
    g_autoptr(em_df) f =
        ok(em_df_with_column_full(df, "tempF", EM_COL_DOUBLE, fahrenheit, NULL, NULL, &err), err);
    g_autofree char *rows = sorted_rows(f);
    cr_assert_str_eq(rows, "[(a,10.0,50.0), (b,null,null)]");
    g_autoptr(em_df) g =
        ok(em_df_with_column_full(df, "temp", EM_COL_DOUBLE, fahrenheit, NULL, NULL, &err), err);
    g_autofree char *replaced = sorted_rows(g);
    cr_assert_str_eq(replaced, "[(a,50.0), (b,null)]");
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(f));
    cr_assert_str_eq(ddl, "device string, temp double, tempF double");
}

Test(df_ops, explode_split_gives_one_row_per_piece_keeping_empty_pieces_as_spark)
{
    /* Spark: split("a  b ", " ") is [a, , b, ] (limit -1 keeps every empty piece); split("",
     * " ") is [""]; a null line explodes to no row. */
    g_autoptr(em_df) df = df_of(sc, "id long, value string", "1,a  b \n2,\n3,x y\n");
    GError *err = NULL;
    g_autoptr(em_df) words = ok(em_df_explode_split(df, "value", " ", "word", &err), err);
    const char *cols[] = {"id", "word"};
    g_autoptr(em_df) sel = ok(em_df_select(words, cols, 2, &err), err);
    g_autoptr(em_values) rows = em_df_collect(sel, &err);
    g_autofree char *text = em_values_to_string(rows);
    cr_assert_str_eq(text, "[(1,a), (1,), (1,b), (1,), (3,x), (3,y)]");
    cr_assert_null(em_df_explode_split(df, "id", " ", "word", &err));
    cr_assert_str_eq(err->message, "split(id) needs a string column: `id` is bigint");
    g_error_free(err);
}

Test(df_ops, group_by_agg_skips_nulls_and_names_columns_as_spark)
{
    g_autoptr(em_df) df = df_of(sc, EVENTS_DDL, EVENTS);
    GError *err = NULL;
    const char *by[] = {"device"};
    const em_agg aggs[] = {{EM_AGG_COUNT, NULL},
                           {EM_AGG_SUM, "n"},
                           {EM_AGG_AVG, "temp"},
                           {EM_AGG_MIN, "temp"},
                           {EM_AGG_MAX, "level"}};
    g_autoptr(em_df) g = ok(em_df_group_by_agg(df, by, 1, aggs, 5, &err), err);
    cr_assert(em_df_is_aggregated(g));
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(g));
    cr_assert_str_eq(ddl, "device string, count bigint, sum(n) bigint, avg(temp) double, "
                          "min(temp) double, max(level) string");
    /* d1: 3 rows, n 1+3+5, temps 30.5 and 35.5 (one null) -> avg 33.0; d3: n null -> sum
     * null. */
    g_autofree char *rows = sorted_rows(g);
    cr_assert_str_eq(rows, "[(d1,3,9,33.0,30.5,LOW), (d2,1,2,10.0,10.0,LOW), "
                           "(d3,1,null,41.0,41.0,HIGH)]");
    const em_agg bad[] = {{EM_AGG_SUM, "level"}};
    cr_assert_null(em_df_group_by_agg(df, by, 1, bad, 1, &err));
    cr_assert_str_eq(err->message, "sum(level) needs a numeric column: `level` is string");
    g_clear_error(&err);
    const char *by_bad[] = {"room"};
    cr_assert_null(em_df_group_by_count(df, by_bad, 1, &err));
    cr_assert(g_str_has_prefix(err->message, "[UNRESOLVED_COLUMN.WITH_SUGGESTION]"));
    g_error_free(err);
}

Test(df_ops, group_by_count_of_the_word_count_idiom)
{
    g_autoptr(em_df) lines = df_of(sc, "value string", "a b a\nc  a\n");
    GError *err = NULL;
    g_autoptr(em_df) words = ok(em_df_explode_split(lines, "value", " ", "word", &err), err);
    const char *by[] = {"word"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(words, by, 1, &err), err);
    g_autofree char *rows = sorted_rows(counts);
    /* The two spaces make an empty word, as in Spark. */
    cr_assert_str_eq(rows, "[(,1), (a,3), (b,1), (c,1)]");
}
