/* Streaming DataFrame sources on the manual clock: the rate source's rows and timestamps. */
#include "df-fixture.h"

Test(sources, rate_gives_rows_per_second_with_spark_timestamps)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = 2000,
                                                 .manual_clock = true},
                                  NULL);
    g_autoptr(em_df) rate = em_df_read_rate(ssc, 3, 2);
    g_autofree char *ddl = em_schema_to_ddl(em_df_schema(rate));
    cr_assert_str_eq(ddl, "timestamp timestamp, value bigint");
    GError *err = NULL;
    g_autoptr(em_query) q =
        em_query_start(rate, &(em_query_opts){.mode = EM_OUTPUT_APPEND, .sink = EM_SINK_MEMORY},
                       &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    em_ssc_advance_clock(ssc, 2000);
    cr_assert(em_ssc_wait_for_batch(ssc, 2000, 60000));
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    /* Seconds 0 and 1: values 0..5, each 1000/3 ms apart within its second, rounded. */
    g_autofree char *text = em_values_to_string(rows);
    cr_assert_str_eq(text, "[(0,0), (333000,1), (667000,2), (1000000,3), (1333000,4), "
                           "(1667000,5)]");
    GString *shown = g_string_new(NULL);
    em_rows_format(rows->items, 2, em_df_schema(rate), 20, 20, shown);
    cr_assert_str_eq(shown->str, "+--------------------+-----+\n"
                                 "|           timestamp|value|\n"
                                 "+--------------------+-----+\n"
                                 "| 1970-01-01 00:00:00|    0|\n"
                                 "|1970-01-01 00:00:...|    1|\n"
                                 "+--------------------+-----+\n");
    g_string_free(shown, TRUE);
    em_ssc_free(ssc);
}
