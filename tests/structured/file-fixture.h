/* Helpers for the tests of the file source and sink and of checkpointed queries: a temporary
 * directory removed afterwards, files written with a chosen modification time, a manual-clock
 * ssc stepped batch by batch, and files read back. Each asserts on failure. */
#ifndef EMBER_TESTS_FILE_FIXTURE_H
#define EMBER_TESTS_FILE_FIXTURE_H

#include "df-fixture.h"

#include <ftw.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <utime.h>

static int fixture_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes dir and everything under it, then frees the name. */
static inline void tmp_dir_free(char *dir)
{
    if (dir)
        nftw(dir, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(dir);
}

static inline char *tmp_dir(void)
{
    char *dir = g_dir_make_tmp("ember-tables-XXXXXX", NULL);
    cr_assert_not_null(dir);
    return dir;
}

/* Writes dir/name with text, modified at mtime_s seconds since the epoch. */
static inline void put_file(const char *dir, const char *name, const char *text, long mtime_s)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    cr_assert(g_file_set_contents(path, text, -1, NULL), "cannot write %s", path);
    struct utimbuf times = {.actime = mtime_s, .modtime = mtime_s};
    cr_assert_eq(utime(path, &times), 0);
}

/* The contents of dir/name; g_free() it. */
static inline char *file_text(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL), "cannot read %s", path);
    return text;
}

static inline bool file_exists(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static int fixture_by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir starting with prefix, sorted; g_strfreev() them. */
static inline char **names_with(const char *dir, const char *prefix)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d, "cannot list %s", dir);
    GPtrArray *names = g_ptr_array_new();
    for (const char *n; (n = g_dir_read_name(d));)
        if (g_str_has_prefix(n, prefix))
            g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, fixture_by_name);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

static inline em_ssc *table_ssc(void)
{
    em_ssc *ssc = em_ssc_new_full(&(em_ssc_opts){.master = "local[2]",
                                                 .batch_interval = 1000,
                                                 .manual_clock = true},
                                  NULL);
    cr_assert_not_null(ssc);
    return ssc;
}

/* Runs the next n batches of ssc, waiting for each. */
static inline void run_batches(em_ssc *ssc, int n)
{
    for (int i = 0; i < n; i++) {
        em_time t = em_ssc_clock_time(ssc) + 1000;
        em_ssc_advance_clock(ssc, 1000);
        cr_assert(em_ssc_wait_for_batch(ssc, t, 60000), "batch at %lld ms did not end",
                  (long long)t);
    }
}

static inline em_query *started(em_df *df, const em_query_opts *opts)
{
    GError *err = NULL;
    em_query *q = em_query_start(df, opts, &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    return q;
}

/* The memory sink's rows as text: "[(a), (b)]". */
static inline char *memory_text(em_query *q)
{
    g_autoptr(em_values) rows = em_query_memory_rows(q);
    return em_values_to_string(rows);
}

/* Member name of the first source of progress JSON json, as JSON text ("null" for null). */
static inline char *source_member(const char *json, const char *name)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    cr_assert(json_parser_load_from_data(parser, json, -1, NULL), "%s", json);
    JsonObject *p = json_node_get_object(json_parser_get_root(parser));
    JsonObject *source =
        json_array_get_object_element(json_object_get_array_member(p, "sources"), 0);
    JsonNode *node = json_object_get_member(source, name);
    cr_assert_not_null(node, "no %s in %s", name, json);
    return json_to_string(node, FALSE);
}

#endif
