"""The Parquet lake: exporting the index's public views as Hive-partitioned Parquet (export.py,
its manifests in manifest.py), the views each engine reads it through (views.py), and retention
(retention.py: `mailidx prune`, which hands old days to the lake before removing them)."""
