-- text_key(text): a 32-bit number worked out from a text (the first 8 hex digits of its MD5),
-- and queue_key(queue_id), the same for a queue ID. The stored per-message views keep
-- queue_key beside queue_id (and message_facts a message_id_key beside message_id). Their rows
-- are in the order they were indexed, not by queue ID, so finding one queue ID means reading
-- the whole column; comparing numbers is several times faster than comparing compressed
-- strings:
--     SELECT * FROM messages WHERE queue_key = queue_key('4F9D5F4B8C') AND queue_id = '4F9D5F4B8C'
-- Two texts can share a key, so keep the test on the text as well.
CREATE OR REPLACE MACRO text_key(text) AS ('0x' || md5(text)[1:8])::UINTEGER;
CREATE OR REPLACE MACRO queue_key(queue_id) AS text_key(queue_id);
