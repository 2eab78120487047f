-- The ART indexes of 003 are gone: the per-message views are stored now (see
-- sql/views/40_message_facts.sql), so a point query scans a few narrow columns instead of
-- working out every message, and an ART index is held whole in memory, which made a build's
-- memory grow with the index (2 GB at 20 M lines) and cost a quarter of the file.
DROP INDEX IF EXISTS ev_delivery_queue_id;
DROP INDEX IF EXISTS ev_message_queue_id;
DROP INDEX IF EXISTS ev_message_message_id;
DROP INDEX IF EXISTS ev_reject_queue_id;
DROP INDEX IF EXISTS ev_other_queue_id;
