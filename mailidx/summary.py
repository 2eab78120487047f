"""`mailidx summary`: a pflogsumm-class report for a time range, from the views.

The grand totals count what happened to mail, once: a content filter's re-injection is not a
second reception, and the hand-off to the filter is not a delivery (pflogsumm counts both; the
README says how the two sets of numbers relate). Every query takes $since and $until (NULL for
open ends), and $host (NULL for every host): the syslog host of the
rows counted, on the same relation as the time column.
"""

from __future__ import annotations

RANGE = (
    "($since IS NULL OR {t} >= $since) AND ($until IS NULL OR {t} < $until)"
    " AND ($host IS NULL OR {h} = $host)"
)


def address(col: str) -> str:
    """An address as pflogsumm counts it: the local part as logged, the domain in lower case."""
    return (
        f"CASE WHEN contains({col}, '@') THEN split_part({col}, '@', 1) || '@' || "
        f"lower(substr({col}, strpos({col}, '@') + 1)) ELSE {col} END"
    )


def domain(col: str) -> str:
    """The domain of an address in lower case (pflogsumm: all after the first @, or the whole
    address when it has none)."""
    return f"lower(substr({col}, strpos({col}, '@') + 1))"


# Message instances that re-entered the queue from a content filter (or a relay hop between two
# indexed hosts) are not new receptions; deliveries that handed a message on to such an
# instance are not final deliveries.
# A hand-off is a delivery whose next queue ID is such an instance; `handoffs` has one row per
# (message, next queue ID) even when the link resolved to two instances of a reused queue ID (its
# old side links one, its new side the other), so that no delivery is counted twice.
HOPS = """
hops AS (
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
),
handoffs AS (
    SELECT DISTINCT from_message_key, to_queue_id FROM hops
)"""

TOTALS = f"""
WITH {HOPS.strip()},
received AS (
    SELECT * FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key NOT IN (SELECT to_message_key FROM hops)
      AND {RANGE.format(t="first_seen", h="host")}
),
attempts AS (
    SELECT d.*, h.from_message_key IS NOT NULL AS handoff,
        d.status = 'sent' AND starts_with(coalesce(d.response, ''), 'forwarded as') AS forward
    FROM deliveries AS d
    LEFT JOIN handoffs AS h
        ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    WHERE {RANGE.format(t="d.ts", h="d.host")}
),
sizes AS (SELECT message_key, size FROM messages),
delivered AS (
    SELECT a.*, s.size FROM attempts AS a LEFT JOIN sizes AS s USING (message_key)
    WHERE a.status = 'sent' AND NOT a.handoff AND NOT a.forward
),
handed AS (
    SELECT * FROM attempts WHERE status = 'sent' AND handoff
),
refused AS (
    SELECT * FROM rejects WHERE {RANGE.format(t="ts", h="host")}
)
SELECT
    (SELECT count(*) FROM received) AS received,
    (SELECT count(*) FROM delivered) AS delivered,
    (SELECT count(*) FROM attempts WHERE forward) AS forwarded,
    (SELECT count(DISTINCT message_key) FROM attempts WHERE status = 'deferred') AS deferred,
    (SELECT count(*) FROM attempts WHERE status = 'deferred') AS deferrals,
    (SELECT count(*) FROM attempts WHERE status = 'bounced') AS bounced,
    (SELECT count(*) FROM refused WHERE kind IN ('reject', 'milter_reject', 'proxy_reject'))
        AS rejected,
    (SELECT count(*) FROM refused WHERE kind IN ('reject_warning', 'header_warning'))
        AS reject_warnings,
    (SELECT count(*) FROM refused WHERE kind = 'hold') AS held,
    (SELECT count(*) FROM refused WHERE kind = 'discard') AS discarded,
    (SELECT coalesce(sum(size), 0) FROM received) AS bytes_received,
    (SELECT coalesce(sum(size), 0) FROM delivered) AS bytes_delivered,
    -- as pflogsumm: a sender counts once qmgr logged the message (from=, size=); a message
    -- cut off before that (aborted after pickup, or by a rotation) has none yet
    (SELECT count(DISTINCT {address("sender")}) FROM received WHERE size IS NOT NULL)
        AS senders,
    (SELECT count(DISTINCT CASE WHEN contains(sender, '@') THEN {domain("sender")}
        ELSE coalesce(client_host, 'local') END)
        FROM received WHERE sender IS NOT NULL AND size IS NOT NULL) AS sending_hosts,
    (SELECT count(DISTINCT {address("recipient")}) FROM delivered) AS recipients,
    (SELECT count(DISTINCT {domain("recipient")}) FROM delivered) AS recipient_domains,
    (SELECT count(*) FROM messages WHERE final = 'held' AND ($host IS NULL OR host = $host))
        AS held_now,
    -- what pflogsumm counts as well: re-injections as receptions, hand-offs as deliveries
    (SELECT count(*) FROM messages WHERE origin NOT IN ('bounce', 'local')
        AND message_key IN (SELECT to_message_key FROM hops)
        AND {RANGE.format(t="first_seen", h="host")})
        AS filter_reinjections,
    (SELECT coalesce(sum(size), 0) FROM messages WHERE origin NOT IN ('bounce', 'local')
        AND message_key IN (SELECT to_message_key FROM hops)
        AND {RANGE.format(t="first_seen", h="host")})
        AS filter_reinjected_bytes,
    (SELECT count(*) FROM handed) AS filter_handoffs,
    (SELECT coalesce(sum(s.size), 0) FROM handed AS a LEFT JOIN sizes AS s USING (message_key))
        AS filter_handoff_bytes,
    -- recipients (and their domains) that got no further than the filter: its copy bounced,
    -- is still deferred or is outside the time range
    (SELECT count(*) FROM (SELECT {address("recipient")} FROM handed
        EXCEPT SELECT {address("recipient")} FROM delivered)) AS filter_only_recipients,
    (SELECT count(*) FROM (SELECT {domain("recipient")} FROM handed
        EXCEPT SELECT {domain("recipient")} FROM delivered)) AS filter_only_recipient_domains
"""

TRAFFIC = """
WITH {hops},
recv AS (
    SELECT {bucket} AS bucket, count(*) AS received FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key NOT IN (SELECT to_message_key FROM hops) AND {range_m}
    GROUP BY bucket
),
att AS (
    SELECT {bucket_d} AS bucket,
        count(*) FILTER (WHERE d.status = 'sent' AND h.from_message_key IS NULL
            AND NOT starts_with(coalesce(d.response, ''), 'forwarded as')) AS delivered,
        count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
        count(*) FILTER (WHERE d.status = 'bounced') AS bounced
    FROM deliveries AS d
    LEFT JOIN handoffs AS h
        ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    WHERE {range_d}
    GROUP BY bucket
),
rej AS (
    SELECT {bucket_r} AS bucket, count(*) AS rejected FROM rejects
    WHERE kind IN ('reject', 'milter_reject', 'proxy_reject') AND {range_r}
    GROUP BY bucket
)
SELECT bucket AS {name}, coalesce(received, 0) AS received, coalesce(delivered, 0) AS delivered,
    coalesce(deferred, 0) AS deferred, coalesce(bounced, 0) AS bounced,
    coalesce(rejected, 0) AS rejected
FROM recv FULL JOIN att USING (bucket) FULL JOIN rej USING (bucket)
ORDER BY bucket
"""


def traffic_sql(unit: str) -> str:
    def bucket(t: str) -> str:
        return f"strftime({t}, '%Y-%m-%d')" if unit == "day" else f"hour({t})"

    return TRAFFIC.format(
        hops=HOPS.strip(),
        name=unit,
        bucket=bucket("first_seen"),
        bucket_d=bucket("d.ts"),
        bucket_r=bucket("ts"),
        range_m=RANGE.format(t="first_seen", h="host"),
        range_d=RANGE.format(t="d.ts", h="d.host"),
        range_r=RANGE.format(t="ts", h="host"),
    )


SECTIONS = {
    "top_senders": f"""
        SELECT sender, count(*) AS messages, coalesce(sum(size), 0) AS bytes FROM messages
        WHERE origin NOT IN ('bounce', 'local') AND {RANGE.format(t="first_seen", h="host")}
        GROUP BY sender ORDER BY messages DESC, bytes DESC, sender LIMIT $limit""",
    "top_senders_by_size": f"""
        SELECT sender, count(*) AS messages, coalesce(sum(size), 0) AS bytes FROM messages
        WHERE origin NOT IN ('bounce', 'local') AND {RANGE.format(t="first_seen", h="host")}
        GROUP BY sender ORDER BY bytes DESC, messages DESC, sender LIMIT $limit""",
    "top_recipients": f"""
        SELECT {address("recipient")} AS recipient, count(*) AS messages,
            count(*) FILTER (WHERE status = 'sent') AS sent FROM recipients
        WHERE {RANGE.format(t="last_attempt", h="host")}
        GROUP BY 1 ORDER BY messages DESC, recipient LIMIT $limit""",
    "top_recipient_domains": f"""
        SELECT lower(split_part(r.recipient, '@', 2)) AS domain, count(*) AS recipients,
            coalesce(sum(m.size), 0) AS bytes
        FROM recipients AS r JOIN messages AS m USING (message_key)
        WHERE r.status = 'sent' AND {RANGE.format(t="r.last_attempt", h="r.host")}
        GROUP BY 1 ORDER BY recipients DESC, domain LIMIT $limit""",
    "received_by_domain": f"""
        WITH {HOPS.strip()}
        SELECT CASE WHEN contains(sender, '@') THEN {domain("sender")}
                ELSE coalesce(client_host, 'local') END AS domain,
            count(*) AS messages, coalesce(sum(size), 0) AS bytes
        FROM messages
        WHERE origin NOT IN ('bounce', 'local') AND sender IS NOT NULL
          AND message_key NOT IN (SELECT to_message_key FROM hops)
          AND {RANGE.format(t="first_seen", h="host")}
        GROUP BY 1 ORDER BY messages DESC, bytes DESC, domain LIMIT $limit""",
    "delivery_by_domain": f"""
        WITH {HOPS.strip()},
        attempts AS (
            SELECT {domain("d.recipient")} AS domain, d.status, d.delay, m.size,
                d.status = 'sent' AND h.from_message_key IS NULL
                    AND NOT starts_with(coalesce(d.response, ''), 'forwarded as') AS final
            FROM deliveries AS d
            LEFT JOIN handoffs AS h
                ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
            LEFT JOIN messages AS m ON m.message_key = d.message_key
            WHERE {RANGE.format(t="d.ts", h="d.host")}
        )
        SELECT domain, count(*) FILTER (WHERE final) AS delivered,
            coalesce(sum(size) FILTER (WHERE final), 0) AS bytes,
            count(*) FILTER (WHERE status = 'deferred') AS deferrals,
            count(*) FILTER (WHERE status = 'bounced') AS bounced,
            round(avg(delay) FILTER (WHERE final), 1) AS avg_delay,
            max(delay) FILTER (WHERE final) AS max_delay
        FROM attempts GROUP BY domain
        HAVING delivered + deferrals + bounced > 0
        ORDER BY delivered DESC, bytes DESC, domain LIMIT $limit""",
    "delays_by_domain": f"""
        SELECT lower(split_part(recipient, '@', 2)) AS domain, count(*) AS deliveries,
            round(avg(delay), 2) AS avg_s, round(quantile_cont(delay, 0.5), 2) AS p50_s,
            round(quantile_cont(delay, 0.95), 2) AS p95_s, max(delay) AS max_s
        FROM deliveries WHERE status = 'sent' AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1 ORDER BY deliveries DESC, domain LIMIT $limit""",
    "deferrals": f"""
        SELECT reason_category, count(*) AS deferrals, count(DISTINCT message_key) AS messages,
            any_value(response) AS example
        FROM deliveries WHERE status = 'deferred' AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1 ORDER BY deferrals DESC, reason_category LIMIT $limit""",
    "bounces": f"""
        SELECT reason_category, dsn, count(*) AS bounces, any_value(response) AS example
        FROM deliveries WHERE status = 'bounced' AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1, 2 ORDER BY bounces DESC, reason_category, dsn LIMIT $limit""",
    "rejects": f"""
        SELECT reason_category, stage, count(*) AS rejects, any_value(reason) AS example
        FROM rejects WHERE kind IN ('reject', 'milter_reject', 'proxy_reject')
          AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1, 2 ORDER BY rejects DESC, reason_category, stage LIMIT $limit""",
    "warnings": f"""
        SELECT daemon, text, count(*) AS n FROM problems
        WHERE severity = 'warning' AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1, 2 ORDER BY n DESC, daemon, text LIMIT $limit""",
    "fatal": f"""
        SELECT daemon, text, count(*) AS n FROM problems
        WHERE severity IN ('fatal', 'panic', 'error') AND {RANGE.format(t="ts", h="host")}
        GROUP BY 1, 2 ORDER BY n DESC, daemon, text LIMIT $limit""",
}


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def report(con, since=None, until=None, limit: int = 10, host: str | None = None) -> dict:
    params = {"since": since, "until": until, "host": host}
    totals = _dicts(con.execute(TOTALS, params))[0]
    accepted = totals["delivered"] + totals["rejected"] + totals["discarded"]
    totals["rejected_pct"] = round(100 * totals["rejected"] / accepted, 1) if accepted else 0.0
    out: dict = {"totals": totals}
    out["per_day"] = _dicts(con.execute(traffic_sql("day"), params))
    out["per_hour"] = _dicts(con.execute(traffic_sql("hour"), params))
    for name, sql in SECTIONS.items():
        out[name] = _dicts(con.execute(sql, {**params, "limit": limit}))
    return out


SECTION_NAMES = ("totals", "per_day", "per_hour", *SECTIONS)


def section_rows(report: dict, name: str) -> tuple[list[str], list[list]]:
    """One section of the report as columns and rows (the totals: one row)."""
    data = report[name]
    if isinstance(data, dict):
        return list(data), [list(data.values())]
    columns = list(data[0]) if data else []
    return columns, [list(r.values()) for r in data]
