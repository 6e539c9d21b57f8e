# The PySpark 3.5 side of tests/kafka/test-structured-kafka-wordcount.c: Spark's
# StructuredKafkaWordCount (the Scala example's query: the words of the records' values, counted
# in column "value", complete mode, console) over TOPIC from its earliest offsets. Once batch 0
# has run, MORE (one record) is written to TOPIC with Spark's own Kafka sink and the next batch
# counts it. The console output goes to stdout. JARS_DIR holds spark-sql-kafka-0-10_2.12 3.5.x
# and its dependencies (fetched from Maven Central by scripts/dev).
# Usage: python3 spark_kafka_wordcount.py JARS_DIR BOOTSTRAP_SERVERS TOPIC MORE
import glob
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import explode, split

jars_dir, bootstrap, topic, more = sys.argv[1:5]
wanted = ("spark-sql-kafka-0-10_", "spark-token-provider-kafka-0-10_", "kafka-clients-",
          "commons-pool2-")
jars = sorted(p for p in glob.glob(os.path.join(jars_dir, "*.jar"))
              if os.path.basename(p).startswith(wanted))
spark = (SparkSession.builder.master("local[2]").appName("StructuredKafkaWordCount")
         .config("spark.jars", ",".join(jars))
         .config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
lines = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", bootstrap)
         .option("subscribe", topic).option("startingOffsets", "earliest").load()
         .selectExpr("CAST(value AS STRING)"))
# lines.as[String].flatMap(_.split(" ")) keeps the column name "value"
words = lines.select(explode(split(lines.value, " ")).alias("value"))
word_counts = words.groupBy("value").count()
q = word_counts.writeStream.outputMode("complete").format("console").start()
q.processAllAvailable()
(spark.createDataFrame([(more,)], ["value"]).write.format("kafka")
 .option("kafka.bootstrap.servers", bootstrap).option("topic", topic).save())
q.processAllAvailable()
q.stop()
spark.stop()
