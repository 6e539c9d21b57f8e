/* queue_stream: Spark's QueueStream example, ported line for line. RDDs pushed into a queue
 * become the batches of a stream: an application of the public library (<ember.h> only). The
 * Scala it ports (Spark pushes 30 RDDs a second apart after start and stops after the loop):
 *
 *   val ssc = new StreamingContext(sparkConf, Seconds(1))
 *   val rddQueue = new Queue[RDD[Int]]()
 *   val inputStream = ssc.queueStream(rddQueue)
 *   val mappedStream = inputStream.map(x => (x % 10, 1))
 *   val reducedStream = mappedStream.reduceByKey(_ + _)
 *   reducedStream.print()
 *   ssc.start()
 *   for (i <- 1 to 30) { rddQueue += ssc.sparkContext.makeRDD(1 to 1000, 10); Thread.sleep(1000) }
 *   ssc.stop()
 *
 * Here the RDDs are queued before start, so that each batch takes one and the output does not
 * depend on timing, and a listener stops the context once the last of them has been printed. */
#include <ember.h>

#include <stdio.h>
#include <stdlib.h>

#define RDDS 3

/* x => (x % 10, 1) */
static em_value mod10_pair(em_value x, void *ud)
{
    (void)ud;
    return em_pair(em_int(em_as_int(x) % 10), em_int(1));
}

int main(void)
{
    em_ssc *ssc = em_ssc_new("local[2]", "QueueStream", EM_SECONDS(1));
    if (!ssc)
        return EXIT_FAILURE;
    em_rdd_queue *rdd_queue = em_rdd_queue_new();

    /* makeRDD(1 to 1000, 10) */
    em_value numbers[1000];
    for (int i = 0; i < 1000; i++)
        numbers[i] = em_int(i + 1);
    for (int i = 0; i < RDDS; i++) {
        em_rdd *rdd = em_parallelize(em_ssc_context(ssc), numbers, 1000, 10);
        em_rdd_queue_push(rdd_queue, rdd);
        em_rdd_unref(rdd);
    }

    em_dstream *input_stream = em_queue_stream(ssc, rdd_queue, EM_QUEUE_ONE_AT_A_TIME, NULL);
    em_dstream *mapped_stream = em_map(input_stream, mod10_pair);
    em_dstream *reduced_stream = em_reduce_by_key(mapped_stream, em_sum);
    em_print(reduced_stream);

    em_ssc_stop_after_batches(ssc, RDDS);
    GError *err = NULL;
    bool ok = em_ssc_start(ssc, &err) && em_ssc_await_termination(ssc, &err);
    if (!ok)
        fprintf(stderr, "queue_stream: %s\n", err->message);
    g_clear_error(&err);
    em_ssc_free(ssc);
    em_rdd_queue_free(rdd_queue);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
