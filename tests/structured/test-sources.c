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

#include "file-fixture.h"
#include "query-fixture.h"

/* startOffset, endOffset and latestOffset of progress json, as "start end latest". */
static char *offsets_of(const char *json)
{
    g_autofree char *start = source_member(json, "startOffset");
    g_autofree char *end = source_member(json, "endOffset");
    g_autofree char *latest = source_member(json, "latestOffset");
    return g_strdup_printf("%s %s %s", start, end, latest);
}

Test(sources, rate_progress_shows_its_seconds_as_offsets_as_spark)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) rate = em_df_read_rate(ssc, 3, 2);
    g_autoptr(em_query) q = started(rate, &(em_query_opts){.sink = EM_SINK_MEMORY});
    run_batches(ssc, 2);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 2);
    g_autofree char *desc = source_member(progress[0], "description");
    cr_assert_str_eq(desc, "\"RateStreamV2[rowsPerSecond=3, rampUpTimeSeconds=0, "
                           "numPartitions=2\"");
    g_autofree char *first = offsets_of(progress[0]);
    g_autofree char *second = offsets_of(progress[1]);
    cr_assert_str_eq(first, "null 1 1");
    cr_assert_str_eq(second, "1 2 2");
    em_ssc_free(ssc);
}

Test(sources, rate_restarted_from_a_checkpoint_goes_on_from_its_logged_seconds)
{
    char *dir = tmp_dir();
    g_autofree char *ck = g_build_filename(dir, "ck", NULL);
    for (int run = 0; run < 2; run++) {
        em_ssc *ssc = table_ssc();
        g_autoptr(em_df) rate = em_df_read_rate(ssc, 2, 1);
        g_autoptr(em_query) q =
            started(rate, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = ck});
        run_batches(ssc, 3);
        g_autoptr(em_values) rows = em_query_memory_rows(q);
        g_autofree char *text = em_values_to_string(rows);
        /* Run 1: seconds 0..2, values 0..5. Run 2 starts its clock at 0 again: the seconds
         * up to 3, logged, bring nothing; second 3 brings values 6 and 7, stamped from the
         * first run's start time (sources/0/0). */
        cr_assert_str_eq(text,
                         run == 0 ? "[(0,0), (500000,1), (1000000,2), (1500000,3), "
                                    "(2000000,4), (2500000,5)]"
                                  : "[]",
                         "run %d", run);
        em_ssc_free(ssc);
    }
    g_autofree char *start = file_text(ck, "sources/0/0");
    cr_assert_str_eq(start, "v1\n0");
    em_ssc *ssc = table_ssc();
    g_autoptr(em_df) rate = em_df_read_rate(ssc, 2, 1);
    g_autoptr(em_query) q =
        started(rate, &(em_query_opts){.sink = EM_SINK_MEMORY, .checkpoint_location = ck});
    run_batches(ssc, 4);
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    g_autofree char *text = em_values_to_string(rows);
    cr_assert_str_eq(text, "[(3000000,6), (3500000,7)]");
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 1);
    g_autofree char *offsets = offsets_of(progress[0]);
    cr_assert_str_eq(offsets, "3 4 4");
    em_ssc_free(ssc);
    tmp_dir_free(dir);
}

Test(sources, a_source_without_offsets_counts_its_rows_as_spark_socket_source)
{
    /* Spark's socket source counts lines from -1: the end offset is the rows read so far
     * less one. An empty trigger runs no batch. */
    const char *const batches[] = {"a\nb", NULL, "c\nd\ne"};
    query_fixture fx;
    query_fixture_init(&fx, batches, 3);
    g_autoptr(em_query) q = started(fx.lines, &(em_query_opts){.sink = EM_SINK_MEMORY});
    query_fixture_run(&fx, 3);
    g_auto(GStrv) progress = em_query_recent_progress(q);
    cr_assert_eq(g_strv_length(progress), 2);
    g_autofree char *first = offsets_of(progress[0]);
    g_autofree char *second = offsets_of(progress[1]);
    cr_assert_str_eq(first, "null 1 1");
    cr_assert_str_eq(second, "1 4 4");
    query_fixture_fini(&fx);
}
