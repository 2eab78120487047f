"""The whole story of a message: find it by queue ID, Message-ID, address or client, follow its
flow across queue IDs (content filter, forward, bounce notification, next indexed host) through
the links the index resolves, and gather what happened to each recipient, the refusals and the
original log lines into a ``Story`` with its answer first (mailidx/answers/story.py). Refusals
of mail that was never queued (a client refused at RCPT, postscreen, …) come as one last story
of their own. What a term names is terms.py's to say; which instance a link means, links.py's.

Every lookup goes by queue ID through the stored per-message views, matching their
``queue_key`` column (a number, see sql/views/15_queue_key.sql) before the queue ID itself; the
flow is followed hop by hop here rather than through the global message_flows view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from mailidx.answers import links, terms
from mailidx.answers.story import Story, flow_ends, refused_verdict, verdict

MAX_MESSAGES = 200
SCAN_FILTER_MAX = 64  # queue IDs looked up by a filter in the scan; more go by a join


@dataclass
class Window:
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def queue_key(queue_id: str) -> int:
    """The SQL macro queue_key() (sql/views/15_queue_key.sql) in Python, to save a round trip
    per lookup: the first 8 hex digits of the MD5 of the queue ID, as a number (text_key)."""
    return int(hashlib.md5(queue_id.encode()).hexdigest()[:8], 16)


def _key_filter(queue_ids: list[str], column: str = "queue_id") -> tuple[str, list]:
    """A filter on the ``queue_key`` of a stored per-message view for these queue IDs. Keys
    can be shared, so keep only the rows whose queue ID is one of them (``_only``).

    The stored views are in indexing order, so a lookup reads the whole key column; how the
    filter is written decides what else is read. One key is an equality and several are a
    ``list_position``, both filters inside the scan that read other columns only for matching
    rows. DuckDB rewrites ``IN (…)``, ``= ANY(?)`` or ``list_contains`` of several values into
    an optional zone-map filter or a join, which first read every column of every row (ten
    times slower); past ~64 values, though, the join's hash table beats a linear search."""
    keys = sorted({queue_key(q) for q in queue_ids})
    key = column.replace("queue_id", "queue_key")
    if len(keys) == 1:
        return f"{key} = ?::UINTEGER", keys
    if len(keys) <= SCAN_FILTER_MAX:
        return f"list_position(?::UINTEGER[], {key}) IS NOT NULL", [keys]
    return f"{key} = ANY(?::UINTEGER[])", [keys]


def _only(rows: list[dict], queue_ids, *columns: str) -> list[dict]:
    """The rows whose queue ID (in any of ``columns``) is one of ``queue_ids``."""
    wanted = set(queue_ids)
    return [r for r in rows if any(r[c] in wanted for c in columns or ("queue_id",))]


def seeds(con, term: str, window: Window) -> list[str]:
    """Queue IDs the term names (as a queue ID, Message-ID, address, client IP or host): the
    first of its lookups (terms.lookups) that finds any within the window."""
    for ways in terms.lookups(term):
        found = _matching(con, ways, terms.bare(term), window)
        if found:
            return found
    return []


def _matching(con, ways: list[terms.Way], term: str, window: Window) -> list[str]:
    """Queue IDs of the rows that match the term in any of these ways within the window. One
    scan per way, each filtering one column, which DuckDB does inside the scan (an OR across
    columns would read every column of every row first)."""
    overlap = " AND ($since IS NULL OR {last} >= $since) AND ($until IS NULL OR {first} < $until)"
    sql = " UNION ".join(
        f"SELECT queue_id FROM {view} WHERE {condition}" + overlap.format(first=first, last=last)
        for view, condition, first, last in ways
    )
    rows = con.execute(sql, {"t": term, "since": window.since, "until": window.until})
    return sorted(r[0] for r in rows.fetchall())


def _links_of(con, queue_ids: list[str]) -> list[dict]:
    """The message_links rows that name these queue IDs, on either side."""
    mine, args = _key_filter(queue_ids)
    theirs, more = _key_filter(queue_ids, "named_queue_id")
    columns = "message_key, host, queue_id, named_queue_id, ts, link, direction"
    rows = _dicts(
        con.execute(
            # two scans, each with its filter pushed down (an OR of the two reads every row)
            f"SELECT {columns} FROM message_links WHERE {mine} UNION "
            f"SELECT {columns} FROM message_links WHERE {theirs}",
            [*args, *more],
        )
    )
    return _only(rows, queue_ids, "queue_id", "named_queue_id")


def expand(con, queue_ids: list[str]) -> tuple[list[str], list[dict]]:
    """All queue IDs linked to these, hop by hop (bounded), and the links read on the way.

    A link is followed only where the queue ID it names resolves to a message instance in the
    index, as the flows view resolves it (links.follow)."""
    known, frontier, seen = set(queue_ids), list(queue_ids), {}
    while frontier and len(known) < MAX_MESSAGES:
        rows = _links_of(con, frontier)
        instances = _instances(con, sorted({r["named_queue_id"] for r in rows}))
        rows, new = links.follow(rows, instances, known)
        seen.update({tuple(r.values()): r for r in rows})
        known |= new
        frontier = sorted(new)
    return sorted(known), [r for r in seen.values() if r["queue_id"] in known]


def _instances(con, queue_ids: list[str]) -> list[dict]:
    """The message instances (key, host, queue ID, first seen) of these queue IDs."""
    if not queue_ids:
        return []
    where, args = _key_filter(queue_ids)
    sql = f"SELECT message_key, host, queue_id, first_seen FROM message_facts WHERE {where}"
    return _only(_dicts(con.execute(sql, args)), queue_ids)


def stories(con, term: str, window: Window | None = None, with_lines: bool = True) -> list[Story]:
    """The flows the term names, then (as one last story without messages) the refusals of
    mail that was never queued: a client, sender or recipient refused at RCPT, postscreen …"""
    window = window or Window()
    term = term.strip()
    found: list[Story] = []
    if terms.is_queue_id(term) and window.since is None and window.until is None:
        # the usual case, a queue ID: follow it straight away, without first looking it up (a
        # term that only looks like one finds no message and is tried as the other kinds)
        found = _stories(con, [term], with_lines)
    if not found:
        seeded = seeds(con, term, window)
        found = _stories(con, seeded, with_lines) if seeded else []
    refused = refusals(con, term, window, with_lines)
    if refused:
        found.append(refused)
    return found


def _stories(con, found: list[str], with_lines: bool) -> list[Story]:
    """The stories of the flows these queue IDs belong to."""
    queue_ids, said = expand(con, found)
    messages = _stored(con, "messages", queue_ids, order="first_seen")
    if not messages:
        return []
    keys = {m["message_key"] for m in messages}
    # everything else about these messages happened within their lifetimes: time bounds let
    # DuckDB skip the rest of each table by its zone maps
    starts = [m["first_seen"] for m in messages if m["first_seen"]]
    ends = [m["last_seen"] for m in messages if m["last_seen"]]
    span = (min(starts), max(ends)) if starts and ends and len(starts) == len(messages) else None
    recipients = _stored(
        con, "recipients", queue_ids, order="first_attempt, recipient", span=("last_attempt", span)
    )
    deliveries = _stored(
        con, "deliveries", queue_ids, order="ts, file_id, line_number", span=("ts", span)
    )
    sql, params = _within("ts", span)
    refused = _refusals_of(con, sql, [sorted(set(queue_ids)), *params], with_lines)
    flow = links.between(messages, said)
    lines = _lines_of(con, sql, [sorted(set(queue_ids)), *params]) if with_lines else []
    out = []
    for flow_id, members in links.groups(keys, flow).items():
        story = Story(flow_id)
        depth = links.depths(members, flow)
        story.messages = sorted(
            (m for m in messages if m["message_key"] in members),
            key=lambda m: (depth.get(m["message_key"], 0), m["first_seen"]),
        )
        story.links = [lk for lk in flow if lk["from_message_key"] in members]
        story.recipients = [r for r in recipients if r["message_key"] in members]
        story.deliveries = [d for d in deliveries if d["message_key"] in members]
        story.lines = [ln for ln in lines if _during(ln, story.messages)]
        story.refusals = [r for r in refused if _during(r, story.messages)]
        story.ends = flow_ends(story)
        story.verdict = verdict(story)
        out.append(story)
    return sorted(out, key=lambda s: s.messages[0]["first_seen"] if s.messages else dt.datetime.min)


def _during(row: dict, messages: list[dict]) -> bool:
    """The row (a log line, a refusal) is about one of these message instances: its queue ID,
    within the instance's lifetime (a reused short queue ID's other instances lie outside)."""
    return any(
        (row["host"], row["queue_id"]) == (m["host"], m["queue_id"])
        and m["first_seen"] <= row["ts"] <= m["last_seen"]
        for m in messages
    )


MAX_REFUSALS = 1000
REFUSAL_COLUMNS = (
    "ts, host, daemon, queue_id, stage, client_host, client_ip, sender, recipient, helo, code, "
    "dsn, reason, reason_category, action, file_id, line_number"
)


def refusals(con, term: str, window: Window, with_lines: bool = True) -> Story | None:
    """The refusals of mail that was never queued (no queue ID) that name the term as client
    IP, client host, sender or recipient, in time order, as a story without messages."""
    kind = terms.refusal_kind(term)
    if kind is None:
        return None
    bounds = " AND queue_id IS NULL AND ($since IS NULL OR ts >= $since)"
    bounds += " AND ($until IS NULL OR ts < $until)"
    sql = " UNION ALL ".join(
        f"SELECT {REFUSAL_COLUMNS} FROM rejects WHERE {condition}{bounds}"
        for condition in terms.REFUSED_BY[kind]
    )
    rows = _dicts(
        con.execute(
            f"SELECT DISTINCT * FROM ({sql}) "
            f"ORDER BY ts, file_id, line_number LIMIT {MAX_REFUSALS}",
            {"t": terms.bare(term), "since": window.since, "until": window.until},
        )
    )
    if not rows:
        return None
    if with_lines:
        _attach_lines(con, rows)
    story = Story("")
    story.refusals = rows
    story.verdict = refused_verdict(rows)
    return story


def _refusals_of(con, within: str, params: list, with_lines: bool) -> list[dict]:
    """The refusals of these queue IDs (``params[0]``): header/body checks, milters, a
    recipient refused while others were accepted."""
    sql = f"SELECT {REFUSAL_COLUMNS} FROM rejects WHERE list_position(?, queue_id) IS NOT NULL"
    rows = _dicts(con.execute(sql + within + " ORDER BY ts, file_id, line_number", params))
    if with_lines:
        _attach_lines(con, rows)
    return rows


def _attach_lines(con, rows: list[dict]) -> None:
    """Each refusal gets its log line (``raw``), read by file and line number."""
    wanted = {(r["file_id"], r["line_number"]) for r in rows}
    raw = {}
    for file_id in sorted({f for f, _ in wanted}):
        numbers = sorted(n for f, n in wanted if f == file_id)
        found = con.execute(
            "SELECT line_number, raw FROM lines WHERE file_id = ? AND line_number BETWEEN ? AND ? "
            "AND list_position(?, line_number) IS NOT NULL",
            [file_id, numbers[0], numbers[-1], numbers],
        ).fetchall()
        raw.update({(file_id, n): text for n, text in found})
    for r in rows:
        r["raw"] = raw.get((r["file_id"], r["line_number"]))


def _within(column: str, span) -> tuple[str, list]:
    """Time bounds on ``column``, or none when some message's lifetime is unknown."""
    return (f" AND {column} BETWEEN ? AND ?", list(span)) if span else ("", [])


def _stored(con, view: str, queue_ids: list[str], *, order: str, span=("", None)) -> list[dict]:
    """The rows of a stored per-message view about these queue IDs, within ``span`` (a column
    and its bounds) when given."""
    where, args = _key_filter(queue_ids)
    bounds, more = _within(*span)
    sql = f"SELECT * EXCLUDE (queue_key) FROM {view} WHERE {where}{bounds} ORDER BY {order}"
    return _only(_dicts(con.execute(sql, [*args, *more])), queue_ids)


def _lines_of(con, within: str, params: list) -> list[dict]:
    """The lines of these queue IDs (``params[0]``) within the time bounds. ``lines`` has no
    queue_key: a few queue IDs are a ``list_position`` filter in the scan; many are a join,
    which would read every column of every line in the bounds (``raw`` above all), so the
    join picks the row ids first and the lines are then read by row id."""
    columns = "file_id, line_number, ts, queue_id, host, raw"
    order = " ORDER BY ts, file_id, line_number"
    if len(params[0]) <= SCAN_FILTER_MAX:
        sql = f"SELECT {columns} FROM lines WHERE list_position(?, queue_id) IS NOT NULL"
        return _dicts(con.execute(sql + within + order, params))
    sql = "SELECT rowid FROM lines WHERE queue_id = ANY(?)"
    rowids = [r[0] for r in con.execute(sql + within, params).fetchall()]
    return _dicts(
        con.execute(f"SELECT {columns} FROM lines WHERE rowid = ANY(?)" + order, [rowids])
    )


def as_data(story: Story) -> dict:
    return {
        "flow_id": story.flow_id or None,
        "verdict": story.verdict,
        "ends": story.ends,
        "refusals": story.refusals,
        "messages": [
            {
                **m,
                "recipients": [r for r in story.recipients if r["message_key"] == m["message_key"]],
                "deliveries": [d for d in story.deliveries if d["message_key"] == m["message_key"]],
            }
            for m in story.messages
        ],
        "links": story.links,
        "lines": story.lines,
    }
