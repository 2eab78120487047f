-- queue_hops(): the message instances that re-entered a queue from a content filter, or from the
-- hop between two indexed hosts, each with the instance it came from. The summary counts
-- such an instance neither as a reception nor its hand-off as a delivery (docs/summary.md);
-- its sections read it as `WITH hops AS (SELECT * FROM queue_hops())`.
CREATE OR REPLACE MACRO queue_hops() AS TABLE
SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
WHERE f.link IN ('queued_as', 'relayed');
