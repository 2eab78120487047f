-- The first and last line of $host (NULL: every host): the range of a report with open ends.
SELECT min(ts) AS first, max(ts) AS last
FROM log_lines
WHERE $host IS NULL OR host = $host
