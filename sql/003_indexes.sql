-- Point lookups: the views filter down to one queue ID (or one Message-ID) and these ART
-- indexes turn that into an index scan instead of a scan of the whole column.
CREATE INDEX ev_delivery_queue_id ON ev_delivery (queue_id);
CREATE INDEX ev_message_queue_id ON ev_message (queue_id);
CREATE INDEX ev_message_message_id ON ev_message (message_id);
CREATE INDEX ev_reject_queue_id ON ev_reject (queue_id);
CREATE INDEX ev_other_queue_id ON ev_other (queue_id);
