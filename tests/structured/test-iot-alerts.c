/* structured_iot_alerts runs as the built program it is over a real directory, its 10 s
 * processing-time trigger on the wall clock: the first file is there when it starts, the
 * second is moved in once the first trigger has printed, so each trigger reads one file. Its
 * console output is checked exactly (the HIGH rows, in file order; truncated cells; nulls; the
 * malformed lines, PERMISSIVE nulls, dropped by the filter and counted on stderr), and byte for
 * byte against PySpark 3.5 running the same query over the same files the same way
 * (tests/structured/spark_iot.py; skipped, saying so, when python3 cannot import pyspark). */
#include "../examples/example-fixture.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define TIMEOUT_US (60 * G_USEC_PER_SEC)

/* Batch 0's file: HIGH rows with a cell over 20 characters and a missing temp, rows the filter
 * drops (LOW, a lowercase "high", no level) and two malformed lines (not JSON, not an object). */
static const char first[] =
    "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":81.5,\"ts\":\"2026-01-01T10:00:00Z\"}\n"
    "not json\n"
    "{\"device\":\"d2\",\"level\":\"LOW\",\"temp\":20.0,\"ts\":\"2026-01-01 10:00:02\"}\n"
    "{\"device\":\"thermostat-kitchen-02\",\"level\":\"HIGH\",\"temp\":104.25,"
    "\"ts\":\"2026-01-01 10:00:05\"}\n"
    "[1,2]\n"
    "{\"device\":\"d3\",\"temp\":99.0}\n"
    "{\"device\":\"d4\",\"level\":\"high\",\"temp\":95.5,\"ts\":\"2026-01-01T10:00:07Z\"}\n"
    "{\"device\":\"d5\",\"level\":\"HIGH\",\"ts\":\"2026-01-01T10:00:08Z\"}\n";
/* Batch 1's: an exponent, an integer temp, a time zone, fractional seconds (cut at 20
 * characters), a line cut short (malformed) and a mistyped temp (null, the row kept). */
static const char second[] =
    "{\"device\":\"d6\",\"level\":\"HIGH\",\"temp\":1e7,\"ts\":\"2026-01-01T10:00:10+01:00\"}\n"
    "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":-3,\"ts\":\"2026-01-01T10:00:11.250Z\"}\n"
    "{\"device\":\"d7\",\"level\":\n"
    "{\"device\":\"d8\",\"level\":\"HIGH\",\"temp\":\"hot\",\"ts\":\"2026-01-01T10:00:12Z\"}\n";

static const char expected[] = "-------------------------------------------\n"
                               "Batch: 0\n"
                               "-------------------------------------------\n"
                               "+--------------------+-----+------+-------------------+\n"
                               "|              device|level|  temp|                 ts|\n"
                               "+--------------------+-----+------+-------------------+\n"
                               "|                  d1| HIGH|  81.5|2026-01-01 10:00:00|\n"
                               "|thermostat-kitche...| HIGH|104.25|2026-01-01 10:00:05|\n"
                               "|                  d5| HIGH|  NULL|2026-01-01 10:00:08|\n"
                               "+--------------------+-----+------+-------------------+\n"
                               "\n"
                               "-------------------------------------------\n"
                               "Batch: 1\n"
                               "-------------------------------------------\n"
                               "+------+-----+-----+--------------------+\n"
                               "|device|level| temp|                  ts|\n"
                               "+------+-----+-----+--------------------+\n"
                               "|    d6| HIGH|1.0E7| 2026-01-01 09:00:10|\n"
                               "|    d1| HIGH| -3.0|2026-01-01 10:00:...|\n"
                               "|    d8| HIGH| NULL| 2026-01-01 10:00:12|\n"
                               "+------+-----+-----+--------------------+\n"
                               "\n";

/* Writes dir/name with text under a hidden name first, then renames it: a source listing the
 * directory never sees half a file. */
static void place(const char *dir, const char *name, const char *text)
{
    g_autofree char *hidden_name = g_strconcat(".", name, NULL);
    g_autofree char *hidden = g_build_filename(dir, hidden_name, NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    cr_assert(g_file_set_contents(hidden, text, -1, NULL), "cannot write %s", hidden);
    cr_assert_eq(g_rename(hidden, path), 0, "cannot rename %s", hidden);
}

static char *read_all(int fd)
{
    GString *out = g_string_new(NULL);
    cr_assert(read_until(fd, out, NULL, g_get_monotonic_time() + TIMEOUT_US));
    close(fd);
    return g_string_free(out, FALSE);
}

/* Runs structured_iot_alerts over in (2 triggers), the first file there before it starts, the
 * second placed after the first trigger printed. Returns stdout; *errors gets stderr. */
static char *run_example(const char *in, char **errors)
{
    place(in, "a.json", first);
    const char *argv[] = {EXAMPLES "structured_iot_alerts", in, "2", NULL};
    GPid pid;
    int out_fd, err_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                       NULL, &pid, NULL, &out_fd, &err_fd, &err),
              "%s", err ? err->message : "");
    GString *out = g_string_new(NULL);
    /* the first table ends with its border and the empty line show() prints */
    cr_assert(read_until(out_fd, out, "+\n\n", g_get_monotonic_time() + TIMEOUT_US),
              "no first batch: %s", out->str);
    place(in, "b.json", second);
    cr_assert(read_until(out_fd, out, NULL, g_get_monotonic_time() + TIMEOUT_US));
    proc p = {.pid = pid, .out = out_fd};
    *errors = read_all(err_fd);
    int status = wait_exit(&p, g_get_monotonic_time() + TIMEOUT_US);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, *errors);
    return g_string_free(out, FALSE);
}

static void remove_dir(const char *dir)
{
    const char *names[] = {"a.json", "b.json"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(dir, names[i], NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}

Test(iot_alerts, appends_the_high_events_of_each_trigger_and_counts_malformed_lines)
{
    g_autofree char *in = g_dir_make_tmp("ember-iot-XXXXXX", NULL);
    cr_assert_not_null(in);
    g_autofree char *errors = NULL;
    g_autofree char *out = run_example(in, &errors);
    cr_assert_str_eq(out, expected);
    /* "not json", "[1,2]" and the cut line: rows of nulls whose null level the filter drops;
     * d8's "hot" temp: null, the row kept */
    cr_assert_str_eq(errors, "structured_iot_alerts: 4 malformed line(s): what did not fit the "
                             "schema read as null\n");
    remove_dir(in);
}

Test(iot_alerts, refuses_a_bad_batch_count_with_its_usage)
{
    const char *argv[] = {EXAMPLES "structured_iot_alerts", "/tmp", "zero", NULL};
    g_autofree char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
    cr_assert_str_eq(errors, "Usage: structured_iot_alerts <directory> [<batches>]\n");
}

Test(iot_alerts, fails_naming_a_directory_it_cannot_list)
{
    const char *argv[] = {EXAMPLES "structured_iot_alerts", "/nonexistent/ember-iot", "1", NULL};
    g_autofree char *errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                           &errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    /* the last line is the example's: the batch (its time varies) and the directory */
    cr_assert(g_str_has_suffix(errors, ": file source: cannot list /nonexistent/ember-iot: No "
                                       "such file or directory\n"),
              "%s", errors);
    cr_assert_not_null(strstr(errors, "\nstructured_iot_alerts: batch "), "%s", errors);
}

static bool have_pyspark(void)
{
    const char *argv[] = {"python3", "-c", "import pyspark", NULL};
    int status = -1;
    return g_spawn_sync(NULL, (char **)argv, NULL,
                        G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                            G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, NULL, NULL, &status, NULL) &&
           g_spawn_check_wait_status(status, NULL);
}

Test(iot_differential, console_output_matches_pyspark_byte_for_byte)
{
    if (!have_pyspark())
        cr_skip_test("python3 cannot import pyspark: the differential test did not run");
    g_autofree char *in = g_dir_make_tmp("ember-iot-XXXXXX", NULL);
    g_autofree char *spark_in = g_dir_make_tmp("ember-iot-spark-XXXXXX", NULL);
    g_autofree char *files = g_dir_make_tmp("ember-iot-files-XXXXXX", NULL);
    cr_assert(in && spark_in && files);
    g_autofree char *errors = NULL;
    g_autofree char *ember = run_example(in, &errors);

    g_autofree char *a = g_build_filename(files, "a.json", NULL);
    g_autofree char *b = g_build_filename(files, "b.json", NULL);
    cr_assert(g_file_set_contents(a, first, -1, NULL));
    cr_assert(g_file_set_contents(b, second, -1, NULL));
    const char *argv[] = {"python3", EMBER_SOURCE_ROOT "/tests/structured/spark_iot.py",
                          spark_in,  a,
                          b,         NULL};
    g_autofree char *spark = NULL, *spark_errors = NULL;
    int status = -1;
    GError *err = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &spark,
                           &spark_errors, &status, &err),
              "%s", err ? err->message : "");
    cr_assert(g_spawn_check_wait_status(status, NULL), "pyspark failed:\n%s", spark_errors);
    cr_assert_str_eq(ember, spark);
    remove_dir(in);
    remove_dir(spark_in);
    remove_dir(files);
}
