# The PySpark 3.5 side of tests/structured/test-differential-files.c.
# Usage: python3 spark_files.py SINK_DIR INPUT_DIR CHECKPOINT_DIR RESUME_IN RESUME_CK FRESH_IN FRESH_CK
#                              PARTS_SINK_DIR
# Prints, one a line: the rows spark.read finds in SINK_DIR (a file sink's output, JSON of
# word string, n long), sorted, as "word,n"; then "--"; then for each batch of a file source
# query over INPUT_DIR (text, maxFilesPerTrigger 1, available-now) its source's description,
# startOffset, endOffset and latestOffset as compact JSON, tab-separated; then "--"; then the
# same query over RESUME_IN resumed from RESUME_CK (a checkpoint Ember wrote): each batch's
# startOffset and endOffset, tab-separated, then the lines it read, sorted. Last, it runs that
# query over FRESH_IN from scratch with the checkpoint FRESH_CK (for Ember to resume), printing
# nothing; then "--" and the rows of PARTS_SINK_DIR (a sink whose batches have several part files)
# as for SINK_DIR.
import json
import sys

from pyspark.sql import SparkSession

spark = (SparkSession.builder.master("local[2]").appName("ember-differential-files")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")


def print_sink(path):
    rows = spark.read.schema("word string, n long").json(path).collect()
    for r in sorted(rows, key=lambda r: (r.word, r.n)):
        print("%s,%s" % (r.word, r.n))


print_sink(sys.argv[1])
print("--")
compact = lambda v: json.dumps(v, separators=(",", ":"))


def drain(source_dir, checkpoint, got):
    """The lines of source_dir into got, batch by batch (foreachBatch: the memory sink cannot
    recover from a checkpoint)."""
    lines = spark.readStream.option("maxFilesPerTrigger", 1).text(source_dir)
    q = (lines.writeStream.foreachBatch(lambda df, _: got.extend(r.value for r in df.collect()))
         .option("checkpointLocation", checkpoint).trigger(availableNow=True).start())
    q.awaitTermination()
    return q


lines = spark.readStream.option("maxFilesPerTrigger", 1).text(sys.argv[2])
q = (lines.writeStream.format("memory").queryName("lines")
     .option("checkpointLocation", sys.argv[3]).trigger(availableNow=True).start())
q.awaitTermination()
for p in q.recentProgress:
    s = p["sources"][0]
    print("\t".join([s["description"], compact(s["startOffset"]), compact(s["endOffset"]),
                     compact(s["latestOffset"])]))
print("--")
resumed = []
q = drain(sys.argv[4], sys.argv[5], resumed)
for p in q.recentProgress:
    s = p["sources"][0]
    print("%s\t%s" % (compact(s["startOffset"]), compact(s["endOffset"])))
for line in sorted(resumed):
    print(line)
drain(sys.argv[6], sys.argv[7], [])
print("--")
print_sink(sys.argv[8])
spark.stop()
