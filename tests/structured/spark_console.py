# The PySpark 3.5 side of tests/structured/test-differential.c: the same two queries Ember runs,
# over the text files of DIR, one file per trigger (maxFilesPerTrigger 1, available-now), their
# console output on stdout. Usage: python3 spark_console.py DIR
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, explode, split

spark = (SparkSession.builder.master("local[2]").appName("ember-differential")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
lines = spark.readStream.option("maxFilesPerTrigger", 1).text(sys.argv[1])
words = lines.select(explode(split(lines.value, " ")).alias("word"))

# 1. StructuredNetworkWordCount's word count, complete mode, unsorted: the rows in the order of
# Spark's state store (200 shuffle partitions, each a ConcurrentHashMap).
counts = words.groupBy("word").count()
q = (counts.writeStream.outputMode("complete").format("console")
     .trigger(availableNow=True).start())
q.awaitTermination()
# 2. Append mode: the words from "b" on, as they arrive.
late = words.filter(col("word") >= "b")
q = late.writeStream.outputMode("append").format("console").trigger(availableNow=True).start()
q.awaitTermination()
spark.stop()
