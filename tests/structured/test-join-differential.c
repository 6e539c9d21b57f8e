/* Ember's stream-stream joins against PySpark 3.5 itself: the guide's impressions (watermark
 * 2 hours) and clicks (3 hours) joined inner, left outer and right outer on the guide's
 * one-hour range, and left outer on strict bounds written the other way round, over the same
 * timestamped lines, one file of each side (Ember: one batch) per trigger, available-now.
 * PySpark runs tests/structured/spark_join.py (local[2], UTC); each trigger's rows are compared
 * as sets (Spark writes them in its partitions' order). Skipped, saying so, when python3
 * cannot import pyspark. */
#include "join-fixture.h"
#include "spark-fixture.h"

#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#define D "2026-01-01 "

/* As test-stream-join.c's: matches within a batch and across batches, unmatched rows on both
 * sides, a null key, late rows, and a pair past its state watermark on arrival. */
static const char *const impressions[] = {
    "1," D "10:00:00\n2," D "10:05:00\n3," D "10:10:00",
    "4," D "11:00:00\n9," D "11:05:00\n12," D "10:30:00",
    "5," D "14:00:00\n10," D "10:15:00\n," D "11:00:00",
    "6," D "15:00:00\n7," D "07:00:00\n11," D "10:20:00",
};
static const char *const clicks[] = {
    "1," D "10:20:00",
    "2," D "10:50:00\n3," D "11:30:00\n4," D "11:30:00\n10," D "10:30:00",
    "5," D "14:30:00",
    "6," D "15:10:00\n8," D "08:00:00\n11," D "10:25:00",
};

#define GUIDE                                                                                     \
    "clickAdId = adId AND clickTime >= impressionTime AND "                                       \
    "clickTime <= impressionTime + interval 1 hour"
#define STRICT                                                                                    \
    "adId = clickAdId AND impressionTime > clickTime - interval 1 hour AND "                      \
    "impressionTime < clickTime + interval 10 minutes"

static char *spark_console(const char *left, const char *right)
{
    const char *argv[] = {"python3", EMBER_SOURCE_ROOT "/tests/structured/spark_join.py", left,
                          right, NULL};
    char *out = NULL, *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "pyspark failed:\n%s", errors);
    g_free(errors);
    return out;
}

static char *ember_console(em_join_type type, const char *condition)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, G_N_ELEMENTS(impressions));
    g_autoptr(em_df) left = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) right = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined = ok(em_df_join(left, right, condition, type, &err), err);
    g_autoptr(em_query) q = em_query_start(joined,
                                           &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                            .trigger = EM_TRIGGER_AVAILABLE_NOW,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    join_fixture_run(&fx, (int)G_N_ELEMENTS(impressions) + 2);
    cr_assert(em_query_await_termination(q, &err), "%s", err ? err->message : "");
    char *out = g_strdup(fx.console);
    join_fixture_fini(&fx);
    return out;
}

static void write_files(const char *dir, const char *const *batches, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        g_autofree char *text = g_strconcat(batches[i], "\n", NULL);
        cr_assert(g_file_set_contents(path, text, -1, NULL));
        struct utimbuf times = {.actime = 1000000000 + (time_t)i,
                                .modtime = 1000000000 + (time_t)i};
        cr_assert_eq(utime(path, &times), 0);
    }
}

static void remove_files(const char *dir, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("%s/part-%zu.txt", dir, i);
        g_unlink(path);
    }
    g_rmdir(dir);
}

Test(join_differential, inner_left_and_right_outer_joins_match_pyspark_per_trigger)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_autofree char *left = g_dir_make_tmp("ember-join-left-XXXXXX", NULL);
    g_autofree char *right = g_dir_make_tmp("ember-join-right-XXXXXX", NULL);
    cr_assert(left && right);
    size_t n = G_N_ELEMENTS(impressions);
    write_files(left, impressions, n);
    write_files(right, clicks, n);
    g_autofree char *spark = spark_console(left, right);
    g_autofree char *inner = ember_console(EM_JOIN_INNER, GUIDE);
    g_autofree char *left_outer = ember_console(EM_JOIN_LEFT_OUTER, GUIDE);
    g_autofree char *right_outer = ember_console(EM_JOIN_RIGHT_OUTER, GUIDE);
    g_autofree char *strict = ember_console(EM_JOIN_LEFT_OUTER, STRICT);
    g_autofree char *ember = g_strconcat(inner, left_outer, right_outer, strict, NULL);
    g_autofree char *ember_sorted = rows_sorted(ember);
    g_autofree char *spark_sorted = rows_sorted(spark);
    cr_assert_str_eq(ember_sorted, spark_sorted);
    /* the outer joins wrote unmatched rows: the comparison covered them */
    cr_assert_not_null(strstr(left_outer, "|9   |" D "11:05:00|NULL"), "%s", left_outer);
    cr_assert_not_null(strstr(right_outer, "|NULL|NULL          |3 "), "%s", right_outer);
    remove_files(left, n);
    remove_files(right, n);
}
