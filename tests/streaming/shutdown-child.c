/* A streaming program for test-shutdown.c: a receiver stores N records at once, then says
 * "ready"; batches are a minute long, so none has run when the test's signal arrives. SIGTERM
 * and SIGINT stop it gracefully: the received records must still be processed. Prints how many
 * were, then exits 0 when the stop was clean. A second argument checkpoints into that
 * directory. */
#include <ember.h>

#include <stdlib.h>

static int64_t total;

static void store_all(em_receiver *r, void *ud)
{
    int n = GPOINTER_TO_INT(ud);
    for (int i = 0; i < n; i++)
        em_receiver_store(r, em_int(i));
    printf("ready\n");
    fflush(stdout);
}

static bool count_batch(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud;
    int64_t n = em_rdd_count(rdd, err);
    total += n > 0 ? n : 0;
    return n >= 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 50;
    em_ssc *ssc = em_ssc_new("local[2]", "ShutdownChild", EM_MINUTES(1));
    if (argc > 2)
        em_ssc_checkpoint(ssc, argv[2]); /* the graceful stop writes a final checkpoint */
    em_receiver_funcs funcs = {.name = "StoreAll", .on_start = store_all};
    em_foreach_rdd(em_receiver_stream(ssc, &funcs, GINT_TO_POINTER(n), NULL), count_batch);
    GError *err = NULL;
    if (!em_ssc_stop_gracefully_on_shutdown(ssc, &err) || !em_ssc_start(ssc, &err) ||
        !em_ssc_await_termination(ssc, &err)) {
        fprintf(stderr, "shutdown-child: %s\n", err->message);
        return 1;
    }
    printf("processed %" G_GINT64_FORMAT " records\n", (gint64)total);
    em_ssc_free(ssc);
    return 0;
}
