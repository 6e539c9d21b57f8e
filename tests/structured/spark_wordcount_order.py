# The PySpark 3.5 side of differential/complete_mode_rows_in_sparks_state_store_order: the word
# count of Spark's StructuredNetworkWordCount (no orderBy, the default 200 shuffle partitions)
# over the text files of DIR, one file per trigger, every row shown (numRows NUM_ROWS), its
# console output on stdout. Usage: python3 spark_wordcount_order.py DIR NUM_ROWS
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import explode, split

spark = (SparkSession.builder.master("local[2]").appName("ember-differential-order")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
lines = spark.readStream.option("maxFilesPerTrigger", 1).text(sys.argv[1])
words = lines.select(explode(split(lines.value, " ")).alias("word"))
word_counts = words.groupBy("word").count()
q = (word_counts.writeStream.outputMode("complete").format("console")
     .option("numRows", int(sys.argv[2])).trigger(availableNow=True).start())
q.awaitTermination()
spark.stop()
