# The PySpark 3.5 side of the stream-stream join differential test (test-join-differential.c):
# the guide's impressions (adId, impressionTime; watermark 2 hours) joined with clicks
# (clickAdId, clickTime; watermark 3 hours) on clickAdId = adId and a one-hour range, read as
# "id,time" lines from LEFT's and RIGHT's files, one file of each per trigger (available-now),
# inner, leftOuter and rightOuter, then leftOuter on strict bounds written the other way round
# (impressionTime > clickTime - 1 hour AND impressionTime < clickTime + 10 minutes); their
# console output on stdout.
# Usage: python3 spark_join.py LEFT RIGHT
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import expr, split

spark = (SparkSession.builder.master("local[2]").appName("ember-join-differential")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")


def side(path, id_name, time_name, delay):
    lines = spark.readStream.option("maxFilesPerTrigger", 1).text(path)
    fields = split(lines.value, ",")
    return (lines.select(fields.getItem(0).cast("long").alias(id_name),
                         fields.getItem(1).cast("timestamp").alias(time_name))
            .withWatermark(time_name, delay))


GUIDE = ("clickAdId = adId AND clickTime >= impressionTime AND "
         "clickTime <= impressionTime + interval 1 hour")
STRICT = ("adId = clickAdId AND impressionTime > clickTime - interval 1 hour AND "
          "impressionTime < clickTime + interval 10 minutes")
for how, condition in [("inner", GUIDE), ("leftOuter", GUIDE), ("rightOuter", GUIDE),
                       ("leftOuter", STRICT)]:
    impressions = side(sys.argv[1], "adId", "impressionTime", "2 hours")
    clicks = side(sys.argv[2], "clickAdId", "clickTime", "3 hours")
    joined = impressions.join(clicks, expr(condition), how)
    q = (joined.writeStream.outputMode("append").format("console").option("truncate", "false")
         .trigger(availableNow=True).start())
    q.awaitTermination()
spark.stop()
