-- reason_category(dsn, text): the category of a deferral, bounce or reject reason, from the
-- reason_categories table (highest priority match; 'other' when none; NULL for a success).
CREATE OR REPLACE MACRO reason_category(dsn, text) AS (
    CASE
        WHEN dsn IS NULL AND text IS NULL THEN NULL
        WHEN starts_with(coalesce(dsn, ''), '2') THEN NULL
        ELSE coalesce((
            SELECT arg_max(rc.category, rc.priority)
            FROM reason_categories AS rc
            WHERE (rc.dsn_like IS NULL OR coalesce(dsn, '') LIKE rc.dsn_like)
              AND (rc.text_like IS NULL OR coalesce(text, '') ILIKE rc.text_like)), 'other')
    END
);
