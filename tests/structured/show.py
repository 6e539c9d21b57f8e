# The rows of tests/structured/test-df-show.c shown by PySpark 3.5 (UTC): the expected outputs
# there were captured from this script: python3 tests/structured/show.py
import datetime
from pyspark.sql import SparkSession
from pyspark.sql.types import *
s = SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone","UTC").config("spark.ui.enabled","false").getOrCreate()
s.sparkContext.setLogLevel("ERROR")
sch = StructType([StructField("name",StringType()),StructField("n",LongType()),StructField("x",DoubleType()),StructField("ok",BooleanType()),StructField("ts",TimestampType())])
rows=[("a",1,1.0,True,datetime.datetime(2024,1,2,3,4,5,500000)),(None,None,None,None,None),("a very long string indeed, longer than twenty",-12345678901,1e10,False,datetime.datetime(2024,1,2,3,4,5)),("ab",2,0.1,True,datetime.datetime(2024,1,2,3,4,5,123000)), ("日本語",3,1e-5,True,None)]
df=s.createDataFrame(rows,sch)
df.show()
df.filter("n > 100").show()
s.range(25).show()
s.range(2).show(1)
df.show(truncate=False)
df.selectExpr("avg(x)","sum(n)","count(*)","min(name)","max(x)").show()
