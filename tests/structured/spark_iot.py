# The PySpark 3.5 side of tests/structured/test-iot-alerts.c: structured_iot_alerts's query
# (JSON IoT events of DIR, the HIGH ones, append mode, a 10 s processing-time trigger, console)
# with FILE... moved into DIR one per trigger: the first before the query starts, each next one
# once the batch before has been processed. The console output goes to stdout.
# Usage: python3 spark_iot.py DIR FILE...
import os
import shutil
import sys

from pyspark.sql import SparkSession
from pyspark.sql.functions import col

spark = (SparkSession.builder.master("local[2]").appName("StructuredIoTAlerts")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
directory, files = sys.argv[1], sys.argv[2:]


def place(path):
    # as the test does for Ember: a hidden name first, then renamed, so no half file is read
    name = os.path.basename(path)
    shutil.copy(path, os.path.join(directory, "." + name))
    os.rename(os.path.join(directory, "." + name), os.path.join(directory, name))


place(files[0])
events = (spark.readStream.schema("device string, level string, temp double, ts timestamp")
          .json(directory))
alerts = events.filter(col("level") == "HIGH")
q = (alerts.writeStream.outputMode("append").format("console")
     .trigger(processingTime="10 seconds").start())
q.processAllAvailable()
for path in files[1:]:
    place(path)
    q.processAllAvailable()
q.stop()
spark.stop()
