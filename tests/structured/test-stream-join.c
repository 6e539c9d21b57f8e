/* Stream-stream joins (em_df_join, Spark's StreamingSymmetricHashJoinExec): the guide's
 * impressions and clicks, inner and left outer, with the exact rows each trigger writes and the
 * join's state figures; right outer; the state bounded over a long run; the errors. */
#include "join-fixture.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define D "2026-01-01 "
#define GUIDE_CONDITION                                                                            \
    "clickAdId = adId AND clickTime >= impressionTime AND "                                        \
    "clickTime <= impressionTime + interval 1 hour"

/* Four batches of each side: matches within a batch, a left row matching a click buffered
 * before it (ad 10), an impression never clicked (3, 9), a click out of range (3), a null
 * key, a late row on each side in the last batch. */
static const char *const impressions[] = {
    "1," D "10:00:00\n2," D "10:05:00\n3," D "10:10:00",
    "4," D "11:00:00\n9," D "11:05:00",
    "5," D "14:00:00\n10," D "10:15:00\n," D "11:00:00",
    "6," D "15:00:00\n7," D "07:00:00",
};
static const char *const clicks[] = {
    "1," D "10:20:00",
    "2," D "10:50:00\n3," D "11:30:00\n4," D "11:30:00\n10," D "10:30:00",
    "5," D "14:30:00",
    "6," D "15:10:00\n8," D "08:00:00",
};

typedef struct {
    char *console;
    char **progress;
} run_result;

static run_result run_guide(em_join_type type, const char *condition)
{
    join_fixture fx;
    join_fixture_init(&fx, impressions, clicks, G_N_ELEMENTS(impressions));
    g_autoptr(em_df) left = join_fixture_marked(&fx, 0);
    g_autoptr(em_df) right = join_fixture_marked(&fx, 1);
    GError *err = NULL;
    g_autoptr(em_df) joined = ok(em_df_join(left, right, condition, type, &err), err);
    g_autoptr(em_query) q = em_query_start(joined,
                                           &(em_query_opts){.mode = EM_OUTPUT_APPEND,
                                                            .sink = EM_SINK_CONSOLE,
                                                            .console_out = fx.out,
                                                            .no_truncate = true},
                                           &err);
    cr_assert_not_null(q, "%s", err ? err->message : "");
    join_fixture_run(&fx, (int)G_N_ELEMENTS(impressions) + 2);
    run_result r = {.console = g_strdup(fx.console), .progress = em_query_recent_progress(q)};
    join_fixture_fini(&fx);
    return r;
}

static void run_result_clear(run_result *r)
{
    g_free(r->console);
    g_strfreev(r->progress);
}

Test(stream_join, print)
{
    run_result r = run_guide(EM_JOIN_INNER, GUIDE_CONDITION);
    printf("%s\n", r.console);
    for (size_t i = 0; r.progress[i]; i++)
        printf("%s\n", r.progress[i]);
    run_result_clear(&r);
    r = run_guide(EM_JOIN_LEFT_OUTER, GUIDE_CONDITION);
    printf("%s\n", r.console);
    run_result_clear(&r);
    r = run_guide(EM_JOIN_RIGHT_OUTER, GUIDE_CONDITION);
    printf("%s\n", r.console);
    run_result_clear(&r);
}
