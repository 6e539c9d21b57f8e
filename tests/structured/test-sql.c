/* SQL on tables (<ember/sql.h>): a static table becomes an SQLite table, a query's rows a
 * static table again, shown as Spark's show() prints it; types round-trip, a view is replaced
 * whole, and a bad query or a streaming table fails naming what failed. */
#include "df-fixture.h"

static em_context *sc;
static em_sql *sql;

static void setup(void)
{
    sc = em_context_new("local[2]", "test-sql", NULL);
    GError *err = NULL;
    sql = em_sql_new(sc, &err);
    cr_assert_not_null(sql, "%s", err ? err->message : "");
}

static void teardown(void)
{
    em_sql_free(sql);
    em_context_free(sc);
}

TestSuite(sql, .init = setup, .fini = teardown);

static void view(const char *name, const char *ddl, const char *rows)
{
    g_autoptr(em_df) df = df_of(sc, ddl, rows);
    GError *err = NULL;
    cr_assert(em_sql_create_or_replace_temp_view(sql, df, name, &err), "%s",
              err ? err->message : "");
}

static em_df *query(const char *text)
{
    GError *err = NULL;
    return ok(em_sql_query(sql, text, &err), err);
}

Test(sql, the_word_count_query_shows_as_spark_prints_it)
{
    view("words", "word string", "to\nbe\nor\nnot\nto\nbe\nquestion\n");
    g_autoptr(em_df) counts = query("select word, count(*) as total from words group by word");
    g_autofree char *text = shown(counts, 20, 20);
    cr_assert_str_eq(text, "+--------+-----+\n"
                           "|    word|total|\n"
                           "+--------+-----+\n"
                           "|      be|    2|\n"
                           "|     not|    1|\n"
                           "|      or|    1|\n"
                           "|question|    1|\n"
                           "|      to|    2|\n"
                           "+--------+-----+\n"
                           "\n");
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(counts));
    cr_assert_str_eq(ddl, "word string, total bigint");
}

Test(sql, an_empty_table_shows_its_header_only)
{
    view("words", "word string", "");
    g_autoptr(em_df) counts = query("select word, count(*) as total from words group by word");
    g_autofree char *text = shown(counts, 20, 20);
    cr_assert_str_eq(text, "+----+-----+\n"
                           "|word|total|\n"
                           "+----+-----+\n"
                           "+----+-----+\n"
                           "\n");
}

Test(sql, more_than_twenty_rows_show_the_first_twenty)
{
    GString *rows = g_string_new(NULL);
    for (int i = 1; i <= 25; i++)
        g_string_append_printf(rows, "%d\n", i);
    view("numbers", "n long", rows->str);
    g_string_free(rows, TRUE);
    g_autoptr(em_df) squares = query("select n, n * n as square from numbers order by n");
    g_autofree char *text = shown(squares, 20, 20);
    GString *expected = g_string_new("+---+------+\n|  n|square|\n+---+------+\n");
    for (int i = 1; i <= 20; i++)
        g_string_append_printf(expected, "|%3d|%6d|\n", i, i * i);
    g_string_append(expected, "+---+------+\nonly showing top 20 rows\n\n");
    cr_assert_str_eq(text, expected->str);
    g_string_free(expected, TRUE);
}

Test(sql, every_column_type_and_null_round_trip)
{
    view("t", "s string, n long, x double, ok boolean, ts timestamp",
         "a,1,1.5,true,2024-01-02 03:04:05\n,,,,\n");
    g_autoptr(em_df) all = query("select * from t");
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(all));
    cr_assert_str_eq(ddl, "s string, n bigint, x double, ok boolean, ts timestamp");
    g_autofree char *text = shown(all, 20, 20);
    cr_assert_str_eq(text, "+----+----+----+----+-------------------+\n"
                           "|   s|   n|   x|  ok|                 ts|\n"
                           "+----+----+----+----+-------------------+\n"
                           "|   a|   1| 1.5|true|2024-01-02 03:04:05|\n"
                           "|NULL|NULL|NULL|NULL|               NULL|\n"
                           "+----+----+----+----+-------------------+\n"
                           "\n");
    /* Expressions take their first non-null value's type. */
    g_autoptr(em_df) computed = query("select null as a, x * 2 as b, s || '!' as c from t");
    g_autofree char *computed_ddl = em_schema_to_ddl(em_df_schema(computed));
    cr_assert_str_eq(computed_ddl, "a string, b double, c string");
    g_autofree char *rows = sorted_rows(computed);
    cr_assert_str_eq(rows, "[(null,null,null), (null,3.0,a!)]");
}

Test(sql, a_view_is_replaced_whole)
{
    view("words", "word string", "old\nold\n");
    view("words", "word string, n long", "new,1\n");
    g_autoptr(em_df) all = query("select * from words");
    g_autofree char *rows = sorted_rows(all);
    cr_assert_str_eq(rows, "[(new,1)]");
}

Test(sql, a_bad_query_fails_with_sqlites_message_and_the_query)
{
    GError *err = NULL;
    cr_assert_null(em_sql_query(sql, "select word from missing", &err));
    cr_assert_eq(err->code, EM_ERROR_INVALID);
    cr_assert_str_eq(err->message, "no such table: missing in query \"select word from missing\"");
    g_error_free(err);
}

Test(sql, a_streaming_table_cannot_become_a_view)
{
    em_ssc *ssc = em_ssc_new("local[2]", "test-sql", EM_SECONDS(1));
    em_rdd_queue *queue = em_rdd_queue_new();
    em_df *lines = em_df_from_lines(em_queue_stream(ssc, queue, EM_QUEUE_ONE_AT_A_TIME, NULL));
    GError *err = NULL;
    cr_assert_not(em_sql_create_or_replace_temp_view(sql, lines, "lines", &err));
    cr_assert_eq(err->code, EM_ERROR_INVALID);
    cr_assert_str_eq(err->message, "createOrReplaceTempView(lines): a streaming table has no rows "
                                   "to query: use it inside foreachRDD / foreachBatch");
    g_error_free(err);
    em_df_free(lines);
    em_ssc_free(ssc);
    em_rdd_queue_free(queue);
}

Test(sql, a_window_column_cannot_become_a_view)
{
    g_autoptr(em_df) df = df_of(sc, "ts timestamp, v long", "2026-01-01 12:10:00,1\n");
    GError *err = NULL;
    g_autoptr(em_df) windowed = ok(em_df_window(df, "ts", 600000, 600000, &err), err);
    cr_assert_not(em_sql_create_or_replace_temp_view(sql, windowed, "w", &err));
    cr_assert_str_eq(err->message, "createOrReplaceTempView(w): column window is a window (a "
                                   "struct), which SQLite cannot hold");
    g_clear_error(&err);
}
