/* The structured query the kill -9 tests (test-table-kill.c) kill and restart: a real process
 * on the system clock, reading a directory one file per trigger (available-now) with a
 * checkpoint, and either
 *   sink   IN CK OUT: JSON rows (word string, n long) to a JSON file sink at OUT, or
 *   counts IN CK OUT: the word count of text lines, complete mode, sorted, console appended to
 *          the file OUT, or
 *   evt    IN CK OUT: JSON rows (word string, ts timestamp) counted per word in 10 minute
 *          windows sliding by 5 with a 10 minute watermark, append mode, (start, word, count)
 *          to a JSON file sink at OUT, or
 *   join   IN CK OUT: the guide's left outer join of JSON impressions (adId long,
 *          impressionTime timestamp; IN/impressions, 2 hour watermark) and clicks (clickAdId
 *          long, clickTime timestamp; IN/clicks, 3 hour watermark), each read one file per
 *          trigger, to a JSON file sink at OUT, or
 *   kafka  IN CK BROKERS/TOPIC: text lines to the exactly-once Kafka sink, or
 *   kafka-source BROKERS/IN CK BROKERS/OUT: the records of topic IN (from its earliest offsets,
 *          maxOffsetsPerTrigger 2), their key and value, to the exactly-once Kafka sink.
 * With POINT BATCH after them it kills itself (SIGKILL) when that batch reaches that point of the
 * query ("offsets", "parts", "sink", "state", "commit": table-private.h). Exit status 0 when the
 * query drained the directory, 1 (with the error on stderr) when it failed. */
#include "table-private.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *kill_point;
static int64_t kill_batch = -1;

static void fault(const char *point, int64_t batch_id)
{
    if (batch_id != kill_batch || strcmp(point, kill_point) != 0)
        return;
    fflush(NULL);
    raise(SIGKILL);
}

/* window.start, as a timestamp column */
static em_value window_start(em_value row, const em_schema *schema, void *ud)
{
    (void)ud;
    return em_row_get(em_row_get_by_name(row, schema, "window"), 0);
}

/* The evt mode's windowed count. */
static em_df *windowed_counts(em_ssc *ssc, const char *in, GError **err)
{
    g_autoptr(em_schema) schema = em_schema_parse("word string, ts timestamp", err);
    g_autoptr(em_df) events =
        schema ? em_df_read_files(ssc, in,
                                  &(em_file_source_opts){.format = EM_FILE_JSON,
                                                         .schema = schema,
                                                         .max_files_per_trigger = 1},
                                  err)
               : NULL;
    g_autoptr(em_df) marked = events ? em_df_with_watermark(events, "ts", 600000, err) : NULL;
    g_autoptr(em_df) windowed = marked ? em_df_window(marked, "ts", 600000, 300000, err) : NULL;
    const char *keys[] = {"window", "word"};
    g_autoptr(em_df) counts = windowed ? em_df_group_by_count(windowed, keys, 2, err) : NULL;
    g_autoptr(em_df) started = counts ? em_df_with_column_full(counts, "start", EM_COL_TIMESTAMP,
                                                               window_start, NULL, NULL, err)
                                      : NULL;
    const char *cols[] = {"start", "word", "count"};
    return started ? em_df_select(started, cols, 3, err) : NULL;
}

/* One side of the join mode: dir's JSON files of schema ddl, watermarked on col by delay_ms. */
static em_df *join_side(em_ssc *ssc, const char *in, const char *dir, const char *ddl,
                        const char *col, int64_t delay_ms, GError **err)
{
    g_autoptr(em_schema) schema = em_schema_parse(ddl, err);
    g_autofree char *path = g_build_filename(in, dir, NULL);
    g_autoptr(em_df) rows =
        schema ? em_df_read_files(ssc, path,
                                  &(em_file_source_opts){.format = EM_FILE_JSON,
                                                         .schema = schema,
                                                         .max_files_per_trigger = 1},
                                  err)
               : NULL;
    return rows ? em_df_with_watermark(rows, col, delay_ms, err) : NULL;
}

static em_df *guide_join(em_ssc *ssc, const char *in, GError **err)
{
    g_autoptr(em_df) left =
        join_side(ssc, in, "impressions", "adId long, impressionTime timestamp", "impressionTime",
                  2 * 3600000, err);
    g_autoptr(em_df) right =
        left ? join_side(ssc, in, "clicks", "clickAdId long, clickTime timestamp", "clickTime",
                         3 * 3600000, err)
             : NULL;
    return right ? em_df_join(left, right,
                              "clickAdId = adId AND clickTime >= impressionTime AND "
                              "clickTime <= impressionTime + interval 1 hour",
                              EM_JOIN_LEFT_OUTER, err)
                 : NULL;
}

/* "brokers/topic" into the static buffer's brokers and the topic after the slash. */
static const char *topic_of(const char *spec, char *brokers, size_t size)
{
    const char *slash = strchr(spec, '/');
    g_strlcpy(brokers, spec, MIN(size, (size_t)(slash - spec) + 1));
    return slash + 1;
}

static void kafka_sink(em_query_opts *opts, const char *out)
{
    static char brokers[256];
    opts->sink = EM_SINK_KAFKA;
    opts->kafka_topic = topic_of(out, brokers, sizeof brokers);
    opts->kafka_brokers = brokers;
    opts->kafka_exactly_once = true;
}

static em_df *build(em_ssc *ssc, const char *mode, const char *in, em_query_opts *opts,
                    FILE **console, const char *out, GError **err)
{
    if (strcmp(mode, "kafka-source") == 0) {
        static char brokers[256];
        const char *topic = topic_of(in, brokers, sizeof brokers);
        g_autoptr(em_df) records =
            em_df_read_kafka(ssc,
                             &(em_kafka_source_opts){.brokers = brokers,
                                                     .subscribe = topic,
                                                     .starting_offsets = "earliest",
                                                     .max_offsets_per_trigger = 2},
                             err);
        const char *kv[] = {"key", "value"};
        kafka_sink(opts, out);
        return records ? em_df_select(records, kv, 2, err) : NULL;
    }
    if (strcmp(mode, "sink") == 0) {
        g_autoptr(em_schema) schema = em_schema_parse("word string, n long", err);
        opts->sink = EM_SINK_FILE;
        opts->path = out;
        opts->file_format = EM_FILE_JSON;
        return em_df_read_files(ssc, in,
                                &(em_file_source_opts){.format = EM_FILE_JSON,
                                                       .schema = schema,
                                                       .max_files_per_trigger = 1},
                                err);
    }
    if (strcmp(mode, "join") == 0) {
        opts->sink = EM_SINK_FILE;
        opts->path = out;
        opts->file_format = EM_FILE_JSON;
        return guide_join(ssc, in, err);
    }
    if (strcmp(mode, "evt") == 0) {
        opts->sink = EM_SINK_FILE;
        opts->path = out;
        opts->file_format = EM_FILE_JSON;
        return windowed_counts(ssc, in, err);
    }
    g_autoptr(em_df) lines =
        em_df_read_files(ssc, in, &(em_file_source_opts){.max_files_per_trigger = 1}, err);
    if (strcmp(mode, "kafka") == 0) {
        kafka_sink(opts, out);
        return g_steal_pointer(&lines);
    }
    g_autoptr(em_df) words = lines ? em_df_explode_split(lines, "value", " ", "word", err) : NULL;
    const char *by[] = {"word"};
    g_autoptr(em_df) counts = words ? em_df_group_by_count(words, by, 1, err) : NULL;
    *console = fopen(out, "a");
    opts->mode = EM_OUTPUT_COMPLETE;
    opts->sink = EM_SINK_CONSOLE;
    opts->console_out = *console;
    return counts && *console ? em_df_order_by(counts, by, 1, err) : NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr,
                "usage: %s sink|counts|evt|join|kafka|kafka-source IN CHECKPOINT OUT [POINT "
                "BATCH]\n",
                argv[0]);
        return 2;
    }
    if (argc == 7) {
        kill_point = argv[5];
        kill_batch = g_ascii_strtoll(argv[6], NULL, 10);
        em__table_fault_hook = fault;
    }
    GError *err = NULL;
    em_ssc *ssc =
        em_ssc_new_full(&(em_ssc_opts){.master = "local[2]", .batch_interval = 50}, &err);
    FILE *console = NULL;
    em_query_opts opts = {.trigger = EM_TRIGGER_AVAILABLE_NOW, .checkpoint_location = argv[3]};
    em_df *df = ssc ? build(ssc, argv[1], argv[2], &opts, &console, argv[4], &err) : NULL;
    em_query *q = df ? em_query_start(df, &opts, &err) : NULL;
    bool done = q && em_query_await_termination(q, &err);
    if (!done)
        fprintf(stderr, "table-child: %s\n", err ? err->message : "failed");
    em_query_unref(q);
    em_df_free(df);
    em_ssc_free(ssc);
    if (console)
        fclose(console);
    g_clear_error(&err);
    return done ? 0 : 1;
}
