-- ClickHouse: host and day from the path (host=…/day=…); outer joins give NULL, not a default
-- value, where nothing matches (SQL's meaning, which the views and the canned queries rely on).
SET use_hive_partitioning = 1;
SET join_use_nulls = 1
