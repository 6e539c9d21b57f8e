/* Streaming DataFrames from Ember's input DStreams: lines as Spark's text and socket sources
 * give them (one string column, "value"). Other sources (rate, files with a schema) build on
 * the same wrapping. */
#include "table-private.h"

static em_value line_row(em_value line, void *ud)
{
    (void)ud;
    return em_row_in(NULL, &line, 1);
}

em_df *em_df_from_lines(em_dstream *lines)
{
    g_return_val_if_fail(lines, NULL);
    em_dstream *rows = em_map_full(lines, line_row, NULL, NULL, "value");
    if (!rows)
        return NULL;
    g_autoptr(em_schema) schema = em_schema_parse("value string", NULL);
    em_df *df = em__df_new(NULL, schema, NULL, rows);
    df->source = lines;
    return df;
}

em_df *em_df_read_socket(em_ssc *ssc, const char *host, int port)
{
    em_dstream *lines = em_socket_text_stream(ssc, host, port);
    return lines ? em_df_from_lines(lines) : NULL;
}
