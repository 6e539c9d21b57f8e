# The PySpark 3.5 side of the event-time differential test (test-eventtime-differential.c): the
# guide's windowed word count (withWatermark 10 minutes, window 10 minutes sliding 5) over the
# "timestamp,word" lines of DIR's files, one file per trigger (available-now), in update, append
# and complete (ordered by window, word) modes, then groupBy(session_window("timestamp",
# "5 minutes"), "word").count() in complete mode (ordered) and, watermarked, append mode; their
# console output on stdout.
# Usage: python3 spark_eventtime.py DIR
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import session_window, split, window

spark = (SparkSession.builder.master("local[2]").appName("ember-eventtime-differential")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
for mode in ["update", "append", "complete"]:
    lines = spark.readStream.option("maxFilesPerTrigger", 1).text(sys.argv[1])
    fields = split(lines.value, ",")
    events = lines.select(fields.getItem(0).cast("timestamp").alias("timestamp"),
                          fields.getItem(1).alias("word"))
    counts = (events.withWatermark("timestamp", "10 minutes")
              .groupBy(window("timestamp", "10 minutes", "5 minutes"), "word").count())
    if mode == "complete":
        counts = counts.orderBy("window", "word")
    q = (counts.writeStream.outputMode(mode).format("console").option("truncate", "false")
         .trigger(availableNow=True).start())
    q.awaitTermination()
for mode in ["complete", "append"]:
    lines = spark.readStream.option("maxFilesPerTrigger", 1).text(sys.argv[1])
    fields = split(lines.value, ",")
    events = lines.select(fields.getItem(0).cast("timestamp").alias("timestamp"),
                          fields.getItem(1).alias("word"))
    if mode == "append":
        events = events.withWatermark("timestamp", "10 minutes")
    counts = (events.groupBy(session_window("timestamp", "5 minutes").alias("session"), "word")
              .count())
    if mode == "complete":
        counts = counts.orderBy("session", "word")
    q = (counts.writeStream.outputMode(mode).format("console").option("truncate", "false")
         .trigger(availableNow=True).start())
    q.awaitTermination()
spark.stop()
