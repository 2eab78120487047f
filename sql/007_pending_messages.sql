-- The stored per-message views (sql/views/40_message_facts.sql) are brought up to date once per
-- build (and once per watch batch), not once per batch of lines: each batch notes here, in its
-- own transaction, the (host, queue_id)s it brought new events for, and the refresh that works
-- their rows out again empties it in the transaction that stores them. A build killed between
-- the two leaves the queue IDs here, and the next build (or watch batch) refreshes them first.
CREATE TABLE pending_messages (
    host     VARCHAR,
    queue_id VARCHAR NOT NULL
);
COMMENT ON TABLE pending_messages IS 'Queue IDs with events newer than their rows in the stored per-message views (emptied when a build or watch batch ends).';
