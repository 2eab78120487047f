-- mailidx prune: what leaves the index. $cutoff is the UTC midnight before which days go.
-- Works on the storage tables (lines, ev_*, *_cache): adapt it when their layout changes;
-- mailidx/lake/retention.py runs it statement by statement, then deletes the rows named here from
-- every event table and stored view (delete_internal).

-- Message instances that stay: every instance of a flow (a chain of linked instances) that
-- has one instance seen on or after the cutoff, so every chain that reaches the kept days
-- keeps all its links and views over those days do not change.
CREATE OR REPLACE TEMP TABLE prune_kept AS
WITH recent AS (
    SELECT message_key FROM messages WHERE last_seen >= $cutoff OR last_seen IS NULL
)
SELECT message_key FROM message_flows
WHERE flow_id IN (SELECT flow_id FROM message_flows
                  WHERE message_key IN (SELECT message_key FROM recent))
UNION
SELECT message_key FROM recent;

-- (host, queue_id) of the kept instances: the removed/deleted lines of older instances of the
-- same queue ID stay too, so that a reused queue ID keeps numbering its instances as before
-- (message_key host:QID#n)
CREATE OR REPLACE TEMP TABLE prune_kept_queues AS
SELECT DISTINCT host, queue_id FROM message_events
WHERE message_key IN (SELECT message_key FROM temp.main.prune_kept);

-- The lines that go: dated before the cutoff, not of a kept instance.
CREATE OR REPLACE TEMP TABLE prune_lines AS
SELECT file_id, line_number FROM lines WHERE ts < $cutoff
EXCEPT
SELECT file_id, line_number FROM message_events
WHERE message_key IN (SELECT message_key FROM temp.main.prune_kept)
EXCEPT
SELECT e.file_id, e.line_number FROM message_events AS e
SEMI JOIN temp.main.prune_kept_queues AS k
    ON k.host IS NOT DISTINCT FROM e.host AND k.queue_id = e.queue_id
WHERE e.kind IN ('removed', 'deleted');

-- The (host, queue_id)s whose stored per-message rows are worked out again afterwards.
CREATE OR REPLACE TEMP TABLE prune_queues AS
SELECT DISTINCT l.host, l.queue_id FROM lines AS l
SEMI JOIN temp.main.prune_lines AS p USING (file_id, line_number)
WHERE l.queue_id IS NOT NULL;

DELETE FROM lines AS l USING temp.main.prune_lines AS p
WHERE l.file_id = p.file_id AND l.line_number = p.line_number;
