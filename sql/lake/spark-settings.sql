-- Spark: partition values are strings (a host named 2001 stays '2001', days stay text), and a
-- day written before a column was added still reads (its rows get NULL there).
SET spark.sql.sources.partitionColumnTypeInference.enabled = false;
SET spark.sql.parquet.mergeSchema = true
