-- reason_category(dsn, text): the category of a deferral, bounce or reject reason, from the
-- reason_categories table (highest priority match; 'other' when none; NULL for a success).
-- The table is read by an uncorrelated subquery (once per query), so a filter on the views
-- that use this macro still reaches the stored tables.
CREATE OR REPLACE MACRO reason_category(dsn, text) AS (
    CASE
        WHEN dsn IS NULL AND text IS NULL THEN NULL
        WHEN starts_with(coalesce(dsn, ''), '2') THEN NULL
        ELSE coalesce(list_filter(
            (SELECT list({'category': category, 'dsn_like': dsn_like, 'text_like': text_like}
                         ORDER BY priority DESC, category)
             FROM reason_categories),
            lambda rule: (rule.dsn_like IS NULL OR coalesce(dsn, '') LIKE rule.dsn_like)
                AND (rule.text_like IS NULL OR coalesce(text, '') ILIKE rule.text_like)
        )[1].category, 'other')
    END
);
