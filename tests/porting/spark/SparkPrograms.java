// The differential suite's Spark side: the DStream programs of ember_programs.c on Spark 3.5
// itself (the JVM jars of PyPI's pyspark), local[2], 1 s batches, printing with DStream.print().
// Input is Spark's queueStream semantics (one queued RDD per batch, parallelized in two slices)
// through a small InputDStream, because queueStream refuses the checkpointing that
// updateStateByKey needs. Prints BATCHES batches of every program, then stops.
import java.util.*;
import java.util.concurrent.CountDownLatch;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.Optional;
import org.apache.spark.rdd.RDD;
import org.apache.spark.streaming.*;
import org.apache.spark.streaming.api.java.*;
import org.apache.spark.streaming.dstream.InputDStream;
import org.apache.spark.streaming.scheduler.*;
import scala.Option;
import scala.Tuple2;
import scala.reflect.ClassTag$;

public class SparkPrograms {
    static final int BATCHES = 5;

    /** queueStream(oneAtATime) over fixed batches: batch i is sc.parallelize(batches[i], 2). */
    static class FixedInput<T> extends InputDStream<T> {
        private final List<List<T>> batches;
        FixedInput(StreamingContext ssc, List<List<T>> batches) {
            super(ssc, ClassTag$.MODULE$.apply(Object.class));
            this.batches = batches;
        }
        @Override public void start() {}
        @Override public void stop() {}
        @Override public Option<RDD<T>> compute(Time t) {
            int i = (int) ((t.milliseconds() - zeroTime().milliseconds()) / slideDuration().milliseconds()) - 1;
            List<T> data = i >= 0 && i < batches.size() ? batches.get(i) : new ArrayList<T>();
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(ssc().sparkContext());
            return Option.apply(jsc.parallelize(data, 2).rdd());
        }
    }

    @SafeVarargs static <T> List<T> l(T... xs) { return Arrays.asList(xs); }
    static Tuple2<String, String> t(String a, String b) { return new Tuple2<>(a, b); }

    public static void main(String[] args) throws Exception {
        SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("EmberDiff")
            .set("spark.ui.enabled", "false").set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1");
        JavaStreamingContext jssc = new JavaStreamingContext(conf, Durations.seconds(1));
        jssc.sparkContext().setLogLevel("ERROR");
        jssc.checkpoint(args[0]);
        List<List<String>> lineBatches = l(
            l("apple banana apple", "cherry apple banana orange apple"),
            l("banana kiwi", "apple kiwi kiwi pear"),
            l("pear plum", "plum apple"));
        List<List<Tuple2<String, String>>> colorBatches = l(
            l(t("apple", "red"), t("banana", "yellow"), t("orange", "orange"), t("grape", "purple")),
            l(t("kiwi", "green"), t("apple", "green"), t("pear", "green")),
            l(t("plum", "purple")));

        JavaDStream<String> lines = new JavaDStream<>(new FixedInput<>(jssc.ssc(), lineBatches),
            ClassTag$.MODULE$.apply(String.class));
        JavaPairDStream<String, String> colors = JavaPairDStream.fromJavaDStream(
            new JavaDStream<>(new FixedInput<>(jssc.ssc(), colorBatches),
                ClassTag$.MODULE$.apply(Tuple2.class)));
        JavaDStream<String> words = lines.flatMap(x -> Arrays.asList(x.split(" ")).iterator());
        JavaPairDStream<String, Integer> pairs = words.mapToPair(w -> new Tuple2<>(w, 1));

        // 1. NetworkWordCount's shape.
        JavaPairDStream<String, Integer> counts = pairs.reduceByKey((a, b) -> a + b);
        counts.print();
        // 2. countByValue.
        words.countByValue().print();
        // 3. A join of the counts with another stream.
        counts.join(colors).print();
        // 4. reduceByKeyAndWindow: a 2 s window sliding by 1 s.
        pairs.reduceByKeyAndWindow((a, b) -> a + b, Durations.seconds(2), Durations.seconds(1)).print();
        // 5. updateStateByKey: running counts.
        pairs.updateStateByKey((List<Integer> vs, Optional<Integer> s) -> {
            int sum = s.orElse(0);
            for (int v : vs) sum += v;
            return Optional.of(sum);
        }).print();

        CountDownLatch done = new CountDownLatch(BATCHES);
        jssc.addStreamingListener(new StreamingListener() {
            @Override public void onBatchCompleted(StreamingListenerBatchCompleted b) { done.countDown(); }
            @Override public void onStreamingStarted(StreamingListenerStreamingStarted s) {}
            @Override public void onReceiverStarted(StreamingListenerReceiverStarted s) {}
            @Override public void onReceiverError(StreamingListenerReceiverError e) {}
            @Override public void onReceiverStopped(StreamingListenerReceiverStopped s) {}
            @Override public void onBatchSubmitted(StreamingListenerBatchSubmitted b) {}
            @Override public void onBatchStarted(StreamingListenerBatchStarted b) {}
            @Override public void onOutputOperationStarted(StreamingListenerOutputOperationStarted o) {}
            @Override public void onOutputOperationCompleted(StreamingListenerOutputOperationCompleted o) {}
        });
        jssc.start();
        done.await();
        System.out.flush();
        System.out.println("END");
        System.out.flush();
        jssc.stop(true, false);
    }
}
