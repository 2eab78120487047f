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

-- reason_categories_of(pairs): each row of the table named `pairs` (columns dsn, text) with
-- its category, the very one reason_category(dsn, text) gives, worked out as one join of the
-- distinct pairs with the rules (text matched in lower case, as ILIKE does) instead of a list
-- of every rule per pair: a third of the CPU. The build stores categories this way.
CREATE OR REPLACE MACRO reason_categories_of(pairs) AS TABLE
WITH distinct_pairs AS (
    SELECT DISTINCT dsn, text FROM query_table(pairs)
), open AS (  -- what the rules decide: neither empty nor a success
    SELECT dsn, text, coalesce(dsn, '') AS any_dsn, lower(coalesce(text, '')) AS lower_text
    FROM distinct_pairs
    WHERE NOT (dsn IS NULL AND text IS NULL) AND NOT starts_with(coalesce(dsn, ''), '2')
), rules AS (
    SELECT category, dsn_like, lower(text_like) AS text_like,
        -- highest priority first, then by name
        row_number() OVER (ORDER BY priority DESC, category) AS rank
    FROM reason_categories
), matched AS (
    SELECT o.dsn, o.text, arg_min(r.category, r.rank) AS category
    FROM open AS o
    JOIN rules AS r
      ON (r.dsn_like IS NULL OR o.any_dsn LIKE r.dsn_like)
     AND (r.text_like IS NULL OR o.lower_text LIKE r.text_like)
    GROUP BY o.dsn, o.text
)
SELECT p.dsn, p.text,
    CASE WHEN p.dsn IS NULL AND p.text IS NULL THEN NULL
         WHEN starts_with(coalesce(p.dsn, ''), '2') THEN NULL
         ELSE coalesce(m.category, 'other') END AS category
FROM distinct_pairs AS p
LEFT JOIN matched AS m ON p.dsn IS NOT DISTINCT FROM m.dsn AND p.text IS NOT DISTINCT FROM m.text;

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
