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

-- The stored per-message and per-line views keep the category each row had when it was
-- stored. While reason_categories is as it was then (same version), that stored category is
-- right; once rows are added or changed, the views work the category out again as they are
-- read, until the next `mailidx build` or `watch` batch stores the new categories.
CREATE OR REPLACE MACRO reason_categories_version() AS (
    SELECT md5(coalesce(string_agg(
        concat_ws(chr(31), category, coalesce(dsn_like, chr(30)), coalesce(text_like, chr(30)),
                  priority::VARCHAR),
        chr(29) ORDER BY category, priority, dsn_like, text_like), ''))
    FROM reason_categories
);
CREATE OR REPLACE MACRO stored_categories_current() AS (
    coalesce(reason_categories_version()
             = (SELECT value FROM meta WHERE key = 'reason_categories_version'), false)
);
