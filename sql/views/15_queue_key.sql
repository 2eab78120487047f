-- queue_key(queue_id): a 32-bit number worked out from a queue ID (the first 8 hex digits of
-- its MD5). The stored per-message views keep it beside queue_id. Their rows are in the order
-- they were indexed, not by queue ID, so finding one queue ID means reading the whole column;
-- comparing numbers is several times faster than comparing compressed strings:
--     SELECT * FROM messages WHERE queue_key = queue_key('4F9D5F4B8C') AND queue_id = '4F9D5F4B8C'
-- Two queue IDs can share a key, so keep the queue_id test as well.
CREATE OR REPLACE MACRO queue_key(queue_id) AS ('0x' || md5(queue_id)[1:8])::UINTEGER;
