/* pageview_stream: Spark's clickstream PageViewStream, ported line for line: page views read
 * from a TCP server (pageview_generator) as "url\tstatus\tzipCode\tuserID" lines, and one of
 * five metrics printed each batch. An application of the public library (<ember.h> only).
 * Usage: pageview_stream METRIC HOST PORT [BATCHES]; METRIC is one of pageCounts,
 * slidingPageCounts, errorRatePerZipCode, activeUserCount, popularUsersSeen; BATCHES, an Ember
 * addition, stops it gracefully after that many batches. Run `pageview_generator 44444 10`
 * first. (Spark's countByValueAndWindow needs ssc.checkpoint() set; Ember's does not.)
 *
 *   val ssc = new StreamingContext("local[2]", "PageViewStream", Seconds(1), ...)
 *   val pageViews = ssc.socketTextStream(host, port)
 *                      .flatMap(_.split("\n"))
 *                      .map(PageView.fromString(_))
 */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* class PageView(val url: String, val status: Int, val zipCode: Int, val userID: Int): a
 * 4-tuple whose fields these name. */
#define URL(view) em_field((view), 0)
#define STATUS(view) em_field((view), 1)
#define ZIP_CODE(view) em_field((view), 2)
#define USER_ID(view) em_field((view), 3)

/* object PageView { def fromString(in: String): PageView = {
 *   val parts = in.split("\t")
 *   new PageView(parts(0), parts(1).toInt, parts(2).toInt, parts(3).toInt) } } */
static em_value page_view_from_string(em_value in, void *ud)
{
    (void)ud;
    em_value parts = em_split_on(in, "\t");
    if (em_list_len(parts) < 4)
        return em_fail("PageView.fromString: %zu fields, not 4, in \"%s\"", em_list_len(parts),
                       em_cstr(in));
    em_value view[] = {em_list_get(parts, 0), em_parse_int(em_list_get(parts, 1), NULL),
                       em_parse_int(em_list_get(parts, 2), NULL),
                       em_parse_int(em_list_get(parts, 3), NULL)};
    return em_tuple_in(em_scratch(), view, 4);
}

/* view => view.url */
static em_value url(em_value view, void *ud)
{
    (void)ud;
    return URL(view);
}

/* view => ((view.zipCode, view.status)) */
static em_value zip_code_and_status(em_value view, void *ud)
{
    (void)ud;
    return em_pair(ZIP_CODE(view), STATUS(view));
}

/* view => (view.userID, 1) */
static em_value user_id_and_one(em_value view, void *ud)
{
    (void)ud;
    return em_pair(USER_ID(view), em_int(1));
}

/* case (zip, statuses) =>
 *   val normalCount = statuses.filter(_ == 200).size
 *   val errorCount = statuses.size - normalCount
 *   val errorRatio = errorCount.toFloat / statuses.size
 *   if (errorRatio > 0.05) "%s: **%s**".format(zip, errorRatio)
 *   else "%s: %s".format(zip, errorRatio) */
static em_value error_rate(em_value zip_statuses, void *ud)
{
    (void)ud;
    em_value zip = em_key(zip_statuses), statuses = em_val(zip_statuses);
    size_t normal_count = 0;
    for (size_t i = 0; i < em_list_len(statuses); i++)
        normal_count += em_as_int(em_list_get(statuses, i)) == 200;
    size_t error_count = em_list_len(statuses) - normal_count;
    float error_ratio = (float)error_count / (float)em_list_len(statuses);
    em_value ratio = em_float_to_string(em_double(error_ratio), NULL);
    if (error_ratio > 0.05)
        return em_sformat("%s: **%s**", zip, ratio);
    return em_sformat("%s: %s", zip, ratio);
}

/* "Unique active users: " + _ */
static em_value unique_active_users(em_value count, void *ud)
{
    (void)ud;
    return em_sformat("Unique active users: %s", count);
}

/* _._2._2 */
static em_value user_name(em_value joined, void *ud)
{
    (void)ud;
    return em_val(em_val(joined));
}

/* (rdd, time) => rdd.join(userList).map(_._2._2).take(10)
 *   .foreach(u => println("Saw user %s at time %s".format(u, time))) */
static bool print_users_seen(em_rdd *rdd, em_time time, void *user_list, GError **err)
{
    em_rdd *joined = em_rdd_join(rdd, user_list);
    em_rdd *names = em_rdd_map(joined, user_name);
    g_autoptr(em_values) users = em_rdd_take(names, 10, err);
    em_rdd_unref(names);
    em_rdd_unref(joined);
    if (!users)
        return false;
    for (size_t i = 0; i < users->n; i++)
        printf("Saw user %.*s at time %" G_GINT64_FORMAT " ms\n", (int)em_str_len(users->items[i]),
               em_str_ptr(users->items[i]), (gint64)time);
    fflush(stdout);
    return true;
}

int main(int argc, char **argv)
{
    int64_t port = 0, batches = 0;
    if (argc < 4 || argc > 5 || !g_ascii_string_to_signed(argv[3], 10, 1, 65535, &port, NULL) ||
        (argc == 5 && !g_ascii_string_to_signed(argv[4], 10, 1, G_MAXINT64, &batches, NULL))) {
        fprintf(stderr, "Usage: PageViewStream <metric> <host> <port> [<batches>]\n");
        fprintf(stderr, "<metric> must be one of pageCounts, slidingPageCounts,"
                        " errorRatePerZipCode, activeUserCount, popularUsersSeen\n");
        return 1;
    }
    const char *metric = argv[1], *host = argv[2];

    // Create the context
    em_ssc *ssc = em_ssc_new("local[2]", "PageViewStream", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;

    // Create a ReceiverInputDStream on target host:port and convert each line to a PageView
    em_dstream *page_views = em_map(em_flat_map_full(em_socket_text_stream(ssc, host, (int)port),
                                                     em_split_on, "\n", NULL, "split"),
                                    page_view_from_string);

    // Return a count of views per URL seen in each batch
    em_dstream *page_counts = em_count_by_value(em_map(page_views, url));

    // Return a sliding window of page views per URL in the last ten seconds
    em_dstream *sliding_page_counts =
        em_count_by_value_and_window(em_map(page_views, url), EM_SECONDS(10), EM_SECONDS(2));

    // Return the rate of error pages (a non 200 status) in each zip code over the last 30 seconds
    em_dstream *statuses_per_zip_code = em_group_by_key(
        em_map(em_window(page_views, EM_SECONDS(30), EM_SECONDS(2)), zip_code_and_status));
    em_dstream *error_rate_per_zip_code = em_map(statuses_per_zip_code, error_rate);

    // Return the number unique users in last 15 seconds
    em_dstream *active_user_count =
        em_map(em_count(em_group_by_key(
                   em_map(em_window(page_views, EM_SECONDS(15), EM_SECONDS(2)), user_id_and_one))),
               unique_active_users);

    // An external dataset we want to join to this stream
    em_value users[] = {em_pair(em_int(1), em_str("Patrick Wendell")),
                        em_pair(em_int(2), em_str("Reynold Xin")),
                        em_pair(em_int(3), em_str("Matei Zaharia"))};
    em_rdd *user_list = em_parallelize(em_ssc_context(ssc), users, 3, 0);

    if (strcmp(metric, "pageCounts") == 0)
        em_print(page_counts);
    else if (strcmp(metric, "slidingPageCounts") == 0)
        em_print(sliding_page_counts);
    else if (strcmp(metric, "errorRatePerZipCode") == 0)
        em_print(error_rate_per_zip_code);
    else if (strcmp(metric, "activeUserCount") == 0)
        em_print(active_user_count);
    else if (strcmp(metric, "popularUsersSeen") == 0)
        // Look for users in our existing dataset and print it out if we have a match
        em_foreach_rdd_full(em_map(page_views, user_id_and_one), print_users_seen, user_list, NULL,
                            "popularUsersSeen");
    else
        printf("Invalid metric entered: %s\n", metric);

    em_ssc_stop_after_batches(ssc, batches); /* Ember addition: 0 runs until killed */
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "pageview_stream: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    em_rdd_unref(user_list);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
