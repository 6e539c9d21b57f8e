/* Dataset.show() byte for byte: every expectation here is what PySpark 3.5's df.show() printed
 * for the same rows (spark.sql.session.timeZone=UTC), captured with tests/structured/show.py. */
#include "df-fixture.h"

static em_context *sc;
static void setup(void) { sc = em_context_new("local[2]", "test-df-show", NULL); }
static void teardown(void) { em_context_free(sc); }
TestSuite(df_show, .init = setup, .fini = teardown);

#define DDL "name string, n long, x double, ok boolean, ts timestamp"

/* The rows of show.py, built by hand: one name holds a comma, which from_text would split. */
static em_df *spark_rows(void)
{
    g_autoptr(em_schema) schema = schema_of(DDL);
    const int64_t ts = INT64_C(1704164645) * 1000000; /* 2024-01-02 03:04:05 UTC */
    em_value rows[5];
    em_value r0[] = {em_str("a"), em_int(1), em_double(1.0), em_bool(true), em_int(ts + 500000)};
    em_value r1[] = {em_null(), em_null(), em_null(), em_null(), em_null()};
    em_value r2[] = {em_str("a very long string indeed, longer than twenty"),
                     em_int(INT64_C(-12345678901)), em_double(1e10), em_bool(false), em_int(ts)};
    em_value r3[] = {em_str("ab"), em_int(2), em_double(0.1), em_bool(true), em_int(ts + 123000)};
    em_value r4[] = {em_str("日本語"), em_int(3), em_double(1e-5), em_bool(true), em_null()};
    const em_value *all[] = {r0, r1, r2, r3, r4};
    for (size_t i = 0; i < 5; i++)
        rows[i] = em_row_in(NULL, all[i], 5);
    g_autoptr(em_rdd) rdd = em_parallelize(sc, rows, 5, 2);
    return em_df_from_rdd(rdd, schema);
}

Test(df_show, prints_nulls_doubles_timestamps_and_wide_characters_as_spark)
{
    g_autoptr(em_df) df = spark_rows();
    g_autofree char *text = shown(df, 20, 20);
    cr_assert_str_eq(text,
                     "+--------------------+------------+------+-----+--------------------+\n"
                     "|                name|           n|     x|   ok|                  ts|\n"
                     "+--------------------+------------+------+-----+--------------------+\n"
                     "|                   a|           1|   1.0| true|2024-01-02 03:04:...|\n"
                     "|                NULL|        NULL|  NULL| NULL|                NULL|\n"
                     "|a very long strin...|-12345678901|1.0E10|false| 2024-01-02 03:04:05|\n"
                     "|                  ab|           2|   0.1| true|2024-01-02 03:04:...|\n"
                     "|              日本語|           3|1.0E-5| true|                NULL|\n"
                     "+--------------------+------------+------+-----+--------------------+\n"
                     "\n");
}

Test(df_show, without_truncation_aligns_left_and_keeps_whole_cells)
{
    g_autoptr(em_df) df = spark_rows();
    g_autofree char *text = shown(df, 20, 0);
    cr_assert_str_eq(text, "+---------------------------------------------+------------+------+---"
                           "--+-----------------------+\n"
                           "|name                                         |n           |x     |ok "
                           "  |ts                     |\n"
                           "+---------------------------------------------+------------+------+---"
                           "--+-----------------------+\n"
                           "|a                                            |1           |1.0   "
                           "|true |2024-01-02 03:04:05.5  |\n"
                           "|NULL                                         |NULL        |NULL  "
                           "|NULL |NULL                   |\n"
                           "|a very long string indeed, longer than "
                           "twenty|-12345678901|1.0E10|false|2024-01-02 03:04:05    |\n"
                           "|ab                                           |2           |0.1   "
                           "|true |2024-01-02 03:04:05.123|\n"
                           "|日本語                                       |3           "
                           "|1.0E-5|true |NULL                   |\n"
                           "+---------------------------------------------+------------+------+---"
                           "--+-----------------------+\n"
                           "\n");
}

Test(df_show, an_empty_table_prints_its_header_between_three_borders)
{
    g_autoptr(em_df) all = spark_rows();
    GError *err = NULL;
    g_autoptr(em_df) none = ok(em_df_filter_cmp(all, "n", EM_CMP_GT, em_int(100), &err), err);
    g_autofree char *text = shown(none, 20, 20);
    cr_assert_str_eq(text, "+----+---+---+---+---+\n"
                           "|name|  n|  x| ok| ts|\n"
                           "+----+---+---+---+---+\n"
                           "+----+---+---+---+---+\n"
                           "\n");
}

Test(df_show, more_rows_than_shown_end_with_only_showing_top)
{
    GString *lines = g_string_new(NULL);
    for (int i = 0; i < 25; i++)
        g_string_append_printf(lines, "%d\n", i);
    g_autoptr(em_df) df = df_of(sc, "id long", lines->str);
    g_string_free(lines, TRUE);
    g_autofree char *text = shown(df, 20, 20);
    GString *want = g_string_new("+---+\n| id|\n+---+\n");
    for (int i = 0; i < 20; i++)
        g_string_append_printf(want, "|%3d|\n", i);
    g_string_append(want, "+---+\nonly showing top 20 rows\n\n");
    cr_assert_str_eq(text, want->str);
    g_string_free(want, TRUE);
    g_autofree char *one = shown(df, 1, 20);
    cr_assert_str_eq(one, "+---+\n| id|\n+---+\n|  0|\n+---+\nonly showing top 1 row\n\n");
}

Test(df_show, aggregates_print_as_spark_names_and_formats_them)
{
    g_autoptr(em_df) df = spark_rows();
    GError *err = NULL;
    const em_agg aggs[] = {{EM_AGG_AVG, "x"},
                           {EM_AGG_SUM, "n"},
                           {EM_AGG_COUNT, NULL},
                           {EM_AGG_MIN, "name"},
                           {EM_AGG_MAX, "x"}};
    g_autoptr(em_df) agg = ok(em_df_group_by_agg(df, NULL, 0, aggs, 5, &err), err);
    g_autofree char *text = shown(agg, 20, 20);
    /* Spark names count(*) "count(1)" in agg() and "count" in groupBy().count(): Ember's
     * EM_AGG_COUNT is the latter. */
    cr_assert_str_eq(text, "+--------------------+------------+-----+---------+------+\n"
                           "|              avg(x)|      sum(n)|count|min(name)|max(x)|\n"
                           "+--------------------+------------+-----+---------+------+\n"
                           "|2.5000000002750025E9|-12345678895|    5|        a|1.0E10|\n"
                           "+--------------------+------------+-----+---------+------+\n"
                           "\n");
}

Test(df_show, a_streaming_table_cannot_be_shown)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[1]",
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
                                  NULL);
    em_rdd_queue *queue = em_rdd_queue_new();
    em_dstream *ds = em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    g_autoptr(em_schema) schema = schema_of("value string");
    g_autoptr(em_df) df = em_df_from_dstream(ds, schema);
    GError *err = NULL;
    cr_assert_not(em_df_show_to(df, 20, 20, stdout, &err));
    cr_assert_str_eq(err->message,
                     "Queries with streaming sources must be executed with writeStream.start()");
    g_error_free(err);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}
