"""The Parquet lake: the index's public views exported as Hive-partitioned Parquet (export.py
decides what changed and keeps the manifests, partitions.py writes the files), the views each
engine reads it through (views.py), and retention (retention.py, `mailidx prune`: old days
leave the index, handed to the lake first when there is one)."""
