// Spark's JavaNetworkWordCount (examples/src/main/java/.../streaming/JavaNetworkWordCount.java),
// local[2], 1 s batches, with a listener that prints one line per completed batch on stderr:
//   batch time_ms=T records=N sched_ms=S proc_ms=P done_epoch_ms=E
// and stops after BATCHES batches, with backpressure on from INITIAL_RATE lines/s (a feed faster
// than the processing otherwise fills the heap). bench/run-vs-spark runs it beside Ember's
// bench-vs-spark, which does the same. Usage: NetworkWordCountBench HOST PORT BATCHES INITIAL_RATE
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.StorageLevels;
import org.apache.spark.streaming.Durations;
import org.apache.spark.streaming.api.java.JavaDStream;
import org.apache.spark.streaming.api.java.JavaPairDStream;
import org.apache.spark.streaming.api.java.JavaReceiverInputDStream;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.scheduler.BatchInfo;
import org.apache.spark.streaming.scheduler.StreamingListener;
import org.apache.spark.streaming.scheduler.StreamingListenerBatchCompleted;

import scala.Tuple2;

public final class NetworkWordCountBench {
    private static final Pattern SPACE = Pattern.compile(" ");

    public static void main(String[] args) throws Exception {
        int batches = Integer.parseInt(args[2]);
        SparkConf conf = new SparkConf().setAppName("JavaNetworkWordCount").setMaster("local[2]")
                .set("spark.ui.enabled", "false")
                .set("spark.streaming.backpressure.enabled", "true")
                .set("spark.streaming.backpressure.initialRate", args[3]);
        JavaStreamingContext ssc = new JavaStreamingContext(conf, Durations.seconds(1));
        CountDownLatch done = new CountDownLatch(batches);
        ssc.addStreamingListener(new StreamingListener() {
            @Override
            public void onBatchCompleted(StreamingListenerBatchCompleted completed) {
                BatchInfo b = completed.batchInfo();
                System.err.printf("batch time_ms=%d records=%d sched_ms=%d proc_ms=%d done_epoch_ms=%d%n",
                        b.batchTime().milliseconds(), b.numRecords(),
                        (Long) b.schedulingDelay().get(), (Long) b.processingDelay().get(),
                        System.currentTimeMillis());
                done.countDown();
            }
        });

        JavaReceiverInputDStream<String> lines = ssc.socketTextStream(
                args[0], Integer.parseInt(args[1]), StorageLevels.MEMORY_AND_DISK_SER);
        JavaDStream<String> words = lines.flatMap(x -> Arrays.asList(SPACE.split(x)).iterator());
        JavaPairDStream<String, Integer> wordCounts = words.mapToPair(s -> new Tuple2<>(s, 1))
                .reduceByKey((i1, i2) -> i1 + i2);
        wordCounts.print();
        ssc.start();
        done.await();
        System.exit(0); // as a kill: the figures are in; a graceful stop would drain the backlog
    }
}
