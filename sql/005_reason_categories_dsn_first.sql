-- Categories read the enhanced status code first (RFC 3463). Where the code names a specific
-- cause it decides, whatever the text says: `dsn=5.2.2 … cannot update mailbox … File too
-- large` is a full mailbox, not a message too big. The rows for such codes move to the
-- priorities from 200 up, above every text pattern (all below 200), so a text pattern decides
-- only when the code is generic (X.0.0, 4.4.x, a class such as 5.7.x) or missing.
-- Only the shipped rows move (matched on every value), so a row a user added stays as it was.
UPDATE reason_categories SET priority = priority + 200
WHERE text_like IS NULL AND (category, dsn_like, priority) IN (
    ('size', '5.3.4', 90), ('size', '5.2.3', 90), ('size', '4.3.4', 90),
    ('mailbox_full', '5.2.2', 85), ('mailbox_full', '4.2.2', 85),
    ('unknown_user', '5.1.1', 80), ('unknown_user', '5.1.6', 80),
    ('dns', '5.1.2', 66), ('auth', '5.7.8', 57)
);

INSERT INTO reason_categories VALUES
    ('unknown_user', '5.1.10', NULL, 280, 'Microsoft 365: RecipientNotFound (recipient not found by SMTP address lookup)'),
    ('size', '4.2.3', NULL, 290, NULL),
    ('unknown_user', NULL, '%RecipientNotFound%', 79, NULL);

COMMENT ON COLUMN reason_categories.priority IS 'Higher wins when several rows match. Rows for an enhanced status code that names a specific cause (5.2.2, 5.3.4, 5.1.1, …) are 200 and up, above every text pattern: the code decides where it speaks, the text where the code is generic or missing.';
