/* The file sink on real directories: part files in Spark's JSON and CSV, committed batch by
 * batch in _spark_metadata; readers see only what the log lists; a batch already in the log is
 * not written again when a restarted query runs it again; Spark's refusals. */
#include "file-fixture.h"

typedef struct {
    char *root, *in, *ck, *out;
} dirs;

static dirs make_dirs(void)
{
    dirs d = {tmp_dir(), NULL, NULL, NULL};
    d.in = g_build_filename(d.root, "in", NULL);
    d.ck = g_build_filename(d.root, "ck", NULL);
    d.out = g_build_filename(d.root, "out", NULL);
    cr_assert_eq(g_mkdir(d.in, 0755), 0);
    return d;
}

static void free_dirs(dirs *d)
{
    g_free(d->in), g_free(d->ck), g_free(d->out);
    tmp_dir_free(d->root);
}

static const char *const ddl = "device string, level string, temp double, n long, ok boolean";

/* The json files of d.in to the sink in format, n batches. */
static void run_sink(const dirs *d, em_file_format format, int n)
{
    em_ssc *ssc = table_ssc();
    g_autoptr(em_schema) schema = schema_of(ddl);
    GError *err = NULL;
    g_autoptr(em_df) events =
        ok(em_df_read_files(ssc, d->in,
                            &(em_file_source_opts){.format = EM_FILE_JSON,
                                                   .schema = schema,
                                                   .max_files_per_trigger = 1},
                            &err),
           err);
    g_autoptr(em_query) q = started(events, &(em_query_opts){.sink = EM_SINK_FILE,
                                                             .path = d->out,
                                                             .file_format = format,
                                                             .checkpoint_location = d->ck});
    run_batches(ssc, n);
    g_autofree char *last = em_query_last_progress(q);
    if (last) {
        g_autoptr(JsonParser) parser = json_parser_new();
        cr_assert(json_parser_load_from_data(parser, last, -1, NULL));
        JsonObject *sink =
            json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)),
                                          "sink");
        g_autofree char *want = g_strdup_printf("FileSink[%s]", d->out);
        cr_assert_str_eq(json_object_get_string_member(sink, "description"), want);
        cr_assert_eq(json_object_get_int_member(sink, "numOutputRows"), -1);
    }
    em_ssc_free(ssc);
}

static char *read_back(const dirs *d, em_file_format format)
{
    em_context *sc = em_context_new("local[2]", "read-back", NULL);
    g_autoptr(em_schema) schema = schema_of(ddl);
    GError *err = NULL;
    em_df *df =
        ok(em_df_read_path(sc, d->out, &(em_file_source_opts){.format = format, .schema = schema},
                           &err),
           err);
    char *rows = sorted_rows(df);
    em_df_free(df);
    em_context_free(sc);
    return rows;
}

static void put_events(const dirs *d)
{
    put_file(d->in, "1.json",
             "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":31.5,\"n\":1,\"ok\":true}\n"
             "{\"device\":\"say \\\"hi\\\", ok\",\"temp\":1e20}\n",
             100);
    put_file(d->in, "2.json", "{\"device\":\" d3 \",\"n\":-4,\"ok\":false}\n", 200);
}

Test(file_sink, writes_each_batch_as_a_part_file_committed_in_spark_metadata)
{
    dirs d = make_dirs();
    put_events(&d);
    run_sink(&d, EM_FILE_JSON, 2);
    g_auto(GStrv) parts = names_with(d.out, "part-00000-");
    cr_assert_eq(g_strv_length(parts), 2);
    g_autofree char *log_dir = g_build_filename(d.out, "_spark_metadata", NULL);
    /* Each batch's log entry names its one part file, with its size. */
    size_t texts = 0;
    for (int b = 0; b < 2; b++) {
        g_autofree char *name = g_strdup_printf("%d", b);
        g_autofree char *entry = file_text(log_dir, name);
        g_autofree char *head = g_strdup_printf("v1\n{\"path\":\"file://%s/part-00000-", d.out);
        cr_assert(g_str_has_prefix(entry, head), "%s", entry);
        g_auto(GStrv) fields = g_strsplit(entry, "/", -1);
        guint nf = g_strv_length(fields);
        cr_assert(nf > 1);
        /* The last path component: the part file's name, up to its closing quote. */
        char *file = fields[nf - 1];
        file[strcspn(file, "\"")] = '\0';
        cr_assert(g_str_has_prefix(file, "part-00000-"), "%s", entry);
        g_autofree char *text = file_text(d.out, file);
        g_autofree char *size = g_strdup_printf("\"size\":%zu,\"isDir\":false,", strlen(text));
        cr_assert(strstr(entry, size), "%s", entry);
        cr_assert(g_str_has_suffix(entry, ",\"blockReplication\":1,\"blockSize\":33554432,"
                                          "\"action\":\"add\"}"));
        if (b == 0)
            cr_assert_str_eq(text, "{\"device\":\"d1\",\"level\":\"HIGH\",\"temp\":31.5,\"n\":1,"
                                   "\"ok\":true}\n"
                                   "{\"device\":\"say \\\"hi\\\", ok\",\"temp\":1.0E20}\n");
        else
            cr_assert_str_eq(text, "{\"device\":\" d3 \",\"n\":-4,\"ok\":false}\n");
        texts++;
    }
    cr_assert_eq(texts, 2);
    g_autofree char *rows = read_back(&d, EM_FILE_JSON);
    cr_assert_str_eq(rows, "[( d3 ,null,null,-4,false), (d1,HIGH,31.5,1,true), "
                           "(say \"hi\", ok,null,1.0E20,null,null)]");
    free_dirs(&d);
}

Test(file_sink, csv_fields_are_quoted_and_trimmed_as_spark_writes_them)
{
    dirs d = make_dirs();
    put_events(&d);
    run_sink(&d, EM_FILE_CSV, 1);
    g_auto(GStrv) parts = names_with(d.out, "part-00000-");
    cr_assert_eq(g_strv_length(parts), 1);
    cr_assert(g_str_has_suffix(parts[0], ".c000.csv"));
    g_autofree char *text = file_text(d.out, parts[0]);
    cr_assert_str_eq(text, "d1,HIGH,31.5,1,true\n"
                           "\"say \\\"hi\\\", ok\",,1.0E20,,\n");
    free_dirs(&d);
}

Test(file_sink, readers_see_only_the_files_the_log_lists)
{
    dirs d = make_dirs();
    put_events(&d);
    run_sink(&d, EM_FILE_JSON, 1);
    /* A part file no batch committed (a batch killed before its log entry). */
    put_file(d.out, "part-00000-orphan.c000.json", "{\"device\":\"ghost\"}\n", 100);
    g_autofree char *rows = read_back(&d, EM_FILE_JSON);
    cr_assert_str_eq(rows, "[(d1,HIGH,31.5,1,true), (say \"hi\", ok,null,1.0E20,null,null)]");
    /* Without the log every visible file counts. */
    g_autofree char *log_dir = g_build_filename(d.out, "_spark_metadata", NULL);
    tmp_dir_free(g_steal_pointer(&log_dir));
    g_autofree char *all = read_back(&d, EM_FILE_JSON);
    cr_assert(strstr(all, "(ghost,null,null,null,null)"), "%s", all);
    free_dirs(&d);
}

Test(file_sink, a_batch_already_in_the_log_is_not_written_again)
{
    dirs d = make_dirs();
    put_events(&d);
    run_sink(&d, EM_FILE_JSON, 2);
    /* Killed after the sink committed batch 1, before the query did. */
    g_autofree char *commit = g_build_filename(d.ck, "commits", "1", NULL);
    cr_assert_eq(g_unlink(commit), 0);
    run_sink(&d, EM_FILE_JSON, 2);
    g_auto(GStrv) parts = names_with(d.out, "part-00000-");
    cr_assert_eq(g_strv_length(parts), 2);
    cr_assert(file_exists(d.ck, "commits/1"));
    g_autofree char *rows = read_back(&d, EM_FILE_JSON);
    cr_assert_str_eq(rows, "[( d3 ,null,null,-4,false), (d1,HIGH,31.5,1,true), "
                           "(say \"hi\", ok,null,1.0E20,null,null)]");
    free_dirs(&d);
}

Test(file_sink, refuses_other_modes_a_missing_path_or_checkpoint_and_wide_text_as_spark)
{
    em_ssc *ssc = table_ssc();
    GError *err = NULL;
    g_autoptr(em_df) lines =
        ok(em_df_read_files(ssc, "/tmp", &(em_file_source_opts){.format = EM_FILE_TEXT}, &err),
           err);
    const char *by[] = {"value"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(lines, by, 1, &err), err);
    struct {
        const em_df *df;
        em_query_opts opts;
        const char *message;
    } cases[] = {
        {counts,
         {.mode = EM_OUTPUT_COMPLETE, .path = "/tmp/x", .checkpoint_location = "/tmp/y"},
         "Data source json does not support Complete output mode."},
        {counts,
         {.mode = EM_OUTPUT_UPDATE, .path = "/tmp/x", .checkpoint_location = "/tmp/y"},
         "Data source json does not support Update output mode."},
        {lines, {.checkpoint_location = "/tmp/y"}, "'path' is not specified"},
        {lines,
         {.path = "/tmp/x"},
         "checkpointLocation must be specified either through "
         "option(\"checkpointLocation\", ...) or "
         "SparkSession.conf.set(\"spark.sql.streaming.checkpointLocation\", ...)"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        em_query_opts opts = cases[i].opts;
        opts.sink = EM_SINK_FILE;
        opts.file_format = EM_FILE_JSON;
        cr_assert_null(em_query_start(cases[i].df, &opts, &err), "case %zu", i);
        cr_assert_str_eq(err->message, cases[i].message, "case %zu", i);
        g_clear_error(&err);
    }
    cr_assert_null(em_query_start(counts,
                                  &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                   .sink = EM_SINK_FILE,
                                                   .file_format = EM_FILE_TEXT,
                                                   .path = "/tmp/x",
                                                   .checkpoint_location = "/tmp/y"},
                                  &err));
    /* Append on an aggregation is refused before the sink is looked at. */
    cr_assert(g_str_has_prefix(err->message, "Append output mode not supported"), "%s",
              err->message);
    g_clear_error(&err);
    g_autoptr(em_schema) pair = schema_of("a string, b string");
    g_autoptr(em_df) wide =
        ok(em_df_read_files(ssc, "/tmp",
                            &(em_file_source_opts){.format = EM_FILE_JSON, .schema = pair}, &err),
           err);
    cr_assert_null(em_query_start(wide,
                                  &(em_query_opts){.sink = EM_SINK_FILE,
                                                   .file_format = EM_FILE_TEXT,
                                                   .path = "/tmp/x",
                                                   .checkpoint_location = "/tmp/y"},
                                  &err));
    cr_assert_str_eq(err->message,
                     "Text data source supports only a single column, and you have 2 columns.");
    g_clear_error(&err);
    em_ssc_free(ssc);
}

Test(file_sink, every_tenth_batch_compacts_the_log_as_spark_and_readers_start_there)
{
    dirs d = make_dirs();
    for (int i = 0; i < 12; i++) {
        g_autofree char *name = g_strdup_printf("%02d.json", i);
        g_autofree char *row = g_strdup_printf("{\"device\":\"d%02d\",\"n\":%d}\n", i, i);
        put_file(d.in, name, row, 100 + i);
    }
    run_sink(&d, EM_FILE_JSON, 12);
    g_autofree char *log_dir = g_build_filename(d.out, "_spark_metadata", NULL);
    g_auto(GStrv) names = names_with(log_dir, "");
    g_autofree char *listed = g_strjoinv(",", names);
    cr_assert_str_eq(listed, "0,1,10,11,2,3,4,5,6,7,8,9.compact");
    /* Batch 9's log holds the ten part files of batches 0..9. */
    g_autofree char *compact = file_text(log_dir, "9.compact");
    g_auto(GStrv) lines = g_strsplit(compact, "\n", -1);
    cr_assert_eq(g_strv_length(lines), 11);
    cr_assert_str_eq(lines[0], "v1");
    /* Readers go from 9.compact on: without batches 0..8 the rows are all there still. */
    for (int i = 0; i < 9; i++) {
        g_autofree char *name = g_strdup_printf("%s/%d", log_dir, i);
        cr_assert_eq(g_unlink(name), 0);
    }
    g_autofree char *rows = read_back(&d, EM_FILE_JSON);
    GString *want = g_string_new("[");
    for (int i = 0; i < 12; i++)
        g_string_append_printf(want, "%s(d%02d,null,null,%d,null)", i ? ", " : "", i, i);
    g_string_append_c(want, ']');
    cr_assert_str_eq(rows, want->str);
    g_string_free(want, TRUE);
    free_dirs(&d);
}

/* The part file of out named by log entry line (its path up to the closing quote). */
static char *entry_file(const char *line, const char *out)
{
    g_autofree char *head = g_strdup_printf("{\"path\":\"file://%s/", out);
    cr_assert(g_str_has_prefix(line, head), "%s", line);
    const char *name = line + strlen(head);
    return g_strndup(name, strcspn(name, "\""));
}

Test(file_sink, each_non_empty_partition_writes_its_own_part_file_all_in_the_batch_entry)
{
    dirs d = make_dirs();
    /* Three files in one trigger: three partitions, the middle one empty. */
    put_file(d.in, "1.json", "{\"device\":\"a\",\"n\":1}\n{\"device\":\"b\",\"n\":2}\n", 100);
    put_file(d.in, "2.json", "", 200);
    put_file(d.in, "3.json", "{\"device\":\"c\",\"n\":3}\n", 300);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_schema) schema = schema_of(ddl);
    GError *err = NULL;
    g_autoptr(em_df) events =
        ok(em_df_read_files(ssc, d.in,
                            &(em_file_source_opts){.format = EM_FILE_JSON, .schema = schema},
                            &err),
           err);
    g_autoptr(em_query) q = started(events, &(em_query_opts){.sink = EM_SINK_FILE,
                                                             .path = d.out,
                                                             .file_format = EM_FILE_JSON,
                                                             .checkpoint_location = d.ck});
    run_batches(ssc, 1);
    em_ssc_free(ssc);
    g_auto(GStrv) parts = names_with(d.out, "part-");
    cr_assert_eq(g_strv_length(parts), 2);
    /* part-<partition>-<uuid>.c000.json, the uuid one per file as ManifestFileCommitProtocol. */
    for (int i = 0; i < 2; i++) {
        const char *want = i == 0 ? "part-00000-" : "part-00002-";
        cr_assert(g_str_has_prefix(parts[i], want), "%s", parts[i]);
        cr_assert(g_str_has_suffix(parts[i], ".c000.json"), "%s", parts[i]);
        g_autofree char *uuid = g_strndup(parts[i] + 11, strlen(parts[i]) - 11 - 10);
        cr_assert(g_uuid_string_is_valid(uuid), "%s", uuid);
    }
    cr_assert_str_neq(parts[0] + 11, parts[1] + 11);
    g_autofree char *p0 = file_text(d.out, parts[0]);
    g_autofree char *p2 = file_text(d.out, parts[1]);
    cr_assert_str_eq(p0, "{\"device\":\"a\",\"n\":1}\n{\"device\":\"b\",\"n\":2}\n");
    cr_assert_str_eq(p2, "{\"device\":\"c\",\"n\":3}\n");
    /* Batch 0's entry lists both, in partition order. */
    g_autofree char *log_dir = g_build_filename(d.out, "_spark_metadata", NULL);
    g_autofree char *entry = file_text(log_dir, "0");
    g_auto(GStrv) lines = g_strsplit(entry, "\n", -1);
    cr_assert_eq(g_strv_length(lines), 3, "%s", entry);
    cr_assert_str_eq(lines[0], "v1");
    for (int i = 0; i < 2; i++) {
        g_autofree char *file = entry_file(lines[i + 1], d.out);
        cr_assert_str_eq(file, parts[i]);
    }
    g_autofree char *rows = read_back(&d, EM_FILE_JSON);
    cr_assert_str_eq(rows, "[(a,null,null,1,null), (b,null,null,2,null), (c,null,null,3,null)]");
    free_dirs(&d);
}

/* An event-time window written by the JSON sink is Spark's struct of two timestamps; the CSV
 * sink refuses the column as Spark 3.5 does. Batch 1's 12:30 event moves the watermark to
 * 12:20, so batch 2 (run for the watermark alone) appends the [12:00, 12:10) window. */
Test(file_sink, a_window_column_is_written_as_spark_writes_the_struct_and_csv_refuses_it)
{
    dirs d = make_dirs();
    put_file(d.in, "1.json",
             "{\"word\":\"a\",\"ts\":\"2026-01-01 12:01:00\"}\n"
             "{\"word\":\"a\",\"ts\":\"2026-01-01 12:04:00\"}\n",
             100);
    put_file(d.in, "2.json", "{\"word\":\"b\",\"ts\":\"2026-01-01 12:30:00\"}\n", 200);
    em_ssc *ssc = table_ssc();
    g_autoptr(em_schema) schema = schema_of("word string, ts timestamp");
    GError *err = NULL;
    g_autoptr(em_df) events =
        ok(em_df_read_files(ssc, d.in,
                            &(em_file_source_opts){.format = EM_FILE_JSON,
                                                   .schema = schema,
                                                   .max_files_per_trigger = 1},
                            &err),
           err);
    g_autoptr(em_df) marked = ok(em_df_with_watermark(events, "ts", 600000, &err), err);
    g_autoptr(em_df) windowed = ok(em_df_window(marked, "ts", 600000, 600000, &err), err);
    const char *keys[] = {"window", "word"};
    g_autoptr(em_df) counts = ok(em_df_group_by_count(windowed, keys, 2, &err), err);
    cr_assert_null(em_query_start(counts,
                                  &(em_query_opts){.sink = EM_SINK_FILE,
                                                   .file_format = EM_FILE_CSV,
                                                   .path = d.out,
                                                   .checkpoint_location = d.ck},
                                  &err));
    cr_assert_str_eq(err->message, "[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource "
                                   "doesn't support the column `window` of the type "
                                   "\"STRUCT<start: TIMESTAMP, end: TIMESTAMP>\".");
    g_clear_error(&err);
    g_autoptr(em_query) q = started(counts, &(em_query_opts){.sink = EM_SINK_FILE,
                                                             .path = d.out,
                                                             .file_format = EM_FILE_JSON,
                                                             .checkpoint_location = d.ck});
    run_batches(ssc, 3);
    em_ssc_free(ssc);
    g_auto(GStrv) parts = names_with(d.out, "part-");
    cr_assert_eq(g_strv_length(parts), 1);
    g_autofree char *text = file_text(d.out, parts[0]);
    cr_assert_str_eq(text, "{\"window\":{\"start\":\"2026-01-01T12:00:00.000Z\","
                           "\"end\":\"2026-01-01T12:10:00.000Z\"},\"word\":\"a\",\"count\":2}\n");
    free_dirs(&d);
}
