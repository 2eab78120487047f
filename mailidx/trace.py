"""The whole story of a message: find it by queue ID, Message-ID, address or client, follow its
flow across queue IDs (content filter, forward, bounce notification, next indexed host), and
gather what happened to each recipient and the original log lines.

Every lookup goes by queue ID, so it uses the indexes and the views' filter push-down; the
flow is followed hop by hop here rather than through the global message_flows view.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

QUEUE_ID = re.compile(r"^(?:[0-9A-F]{5,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,})$")
IP = re.compile(r"^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$")
MAX_MESSAGES = 200


@dataclass
class Story:
    """One flow: the linked message instances, their recipients and log lines."""

    flow_id: str
    messages: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    recipients: list[dict] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)


@dataclass
class Window:
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _in(column: str, values: list) -> tuple[str, list]:
    """``column`` is one of ``values``, as one list parameter: DuckDB pushes ``= ANY(list)``
    into the table scan, where an ``IN (?, ?, …)`` of several values reads every row."""
    return f"{column} = ANY(?)", [list(values)]


def seeds(con, term: str, window: Window) -> list[str]:
    """Queue IDs the term names (as a queue ID, Message-ID, address, client IP or host)."""
    term = term.strip()
    time_sql = " AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)"
    params = {"t": term, "since": window.since, "until": window.until}
    if QUEUE_ID.match(term):
        rows = con.execute(
            "SELECT DISTINCT queue_id FROM message_facts WHERE queue_id = $t AND "
            "($since IS NULL OR last_seen >= $since) AND ($until IS NULL OR first_seen < $until)",
            params,
        ).fetchall()
        if rows:
            return [r[0] for r in rows]
    bare = term.strip("<>")
    params["t"] = bare
    if "@" in bare:
        rows = con.execute(
            "SELECT DISTINCT queue_id FROM ev_message WHERE kind = 'message_id' "
            "AND message_id = $t" + time_sql,
            params,
        ).fetchall()
        if rows:
            return [r[0] for r in rows]
        overlap = (
            " AND ($since IS NULL OR {last} >= $since) AND ($until IS NULL OR {first} < $until)"
        )
        rows = con.execute(
            "SELECT queue_id FROM recipients WHERE (lower(sender) = lower($t) "
            "OR lower(recipient) = lower($t) OR lower(orig_recipient) = lower($t))"
            + overlap.format(first="first_attempt", last="last_attempt")
            + " UNION SELECT queue_id FROM messages WHERE lower(sender) = lower($t)"
            + overlap.format(first="first_seen", last="last_seen"),
            params,
        ).fetchall()
        return sorted(r[0] for r in rows)
    column = "client_ip" if IP.match(bare) else "client_host"
    rows = con.execute(
        f"SELECT DISTINCT queue_id FROM ev_message WHERE kind = 'client' "
        f"AND lower({column}) = lower($t)" + time_sql,
        params,
    ).fetchall()
    return [r[0] for r in rows]


def _links_of(con, queue_ids: list[str]) -> list[dict]:
    """The message_links rows that name these queue IDs, on either side."""
    return _dicts(
        con.execute(
            # two scans, each with its filter pushed down (an OR of the two reads every row)
            "SELECT * FROM message_links WHERE queue_id = ANY($ids) UNION "
            "SELECT * FROM message_links WHERE named_queue_id = ANY($ids)",
            {"ids": list(queue_ids)},
        )
    )


def expand(con, queue_ids: list[str]) -> tuple[list[str], list[dict]]:
    """All queue IDs linked to these, hop by hop (bounded), and the links read on the way."""
    known, frontier, seen = set(queue_ids), list(queue_ids), {}
    while frontier and len(known) < MAX_MESSAGES:
        rows = _links_of(con, frontier)
        seen.update({tuple(r.values()): r for r in rows})
        new = {q for r in rows for q in (r["queue_id"], r["named_queue_id"]) if q} - known
        known |= new
        frontier = sorted(new)
    return sorted(known), [r for r in seen.values() if r["queue_id"] in known]


def stories(con, term: str, window: Window | None = None, with_lines: bool = True) -> list[Story]:
    window = window or Window()
    found = seeds(con, term, window)
    if not found:
        return []
    queue_ids, said = expand(con, found)
    where, args = _in("queue_id", queue_ids)
    messages = _dicts(
        con.execute(f"SELECT * FROM messages WHERE {where} ORDER BY first_seen", args)
    )
    keys = {m["message_key"] for m in messages}
    # everything else about these messages happened within their lifetimes: time bounds let
    # DuckDB skip the rest of each table by its zone maps
    starts = [m["first_seen"] for m in messages if m["first_seen"]]
    ends = [m["last_seen"] for m in messages if m["last_seen"]]
    span = [min(starts), max(ends)] if starts and ends and len(starts) == len(messages) else None

    def within(column: str) -> tuple[str, list]:
        return (f" AND {column} BETWEEN ? AND ?", [*args, *span]) if span else ("", args)

    sql, params = within("last_attempt")
    recipients = _dicts(
        con.execute(
            f"SELECT * FROM recipients WHERE {where}{sql} ORDER BY first_attempt, recipient",
            params,
        )
    )
    sql, params = within("ts")
    deliveries = _dicts(
        con.execute(
            f"SELECT * FROM deliveries WHERE {where}{sql} ORDER BY ts, file_id, line_number",
            params,
        )
    )
    links = _links(messages, said)
    groups = _group(keys, links)
    lines = []
    if with_lines:
        sql, params = within("ts")
        lines = _dicts(
            con.execute(
                f"SELECT file_id, line_number, ts, queue_id, host, raw FROM lines "
                f"WHERE {where}{sql} ORDER BY ts, file_id, line_number",
                params,
            )
        )
    out = []
    for flow_id, members in groups.items():
        story = Story(flow_id)
        depth = _depths(members, links)
        story.messages = sorted(
            (m for m in messages if m["message_key"] in members),
            key=lambda m: (depth.get(m["message_key"], 0), m["first_seen"]),
        )
        story.links = [lk for lk in links if lk["from_message_key"] in members]
        story.recipients = [r for r in recipients if r["message_key"] in members]
        story.deliveries = [d for d in deliveries if d["message_key"] in members]
        # a reused short queue ID's other instances lie outside these messages' lifetimes
        spans = {
            (m["host"], m["queue_id"]): (m["first_seen"], m["last_seen"]) for m in story.messages
        }
        story.lines = [
            ln
            for ln in lines
            if (ln["host"], ln["queue_id"]) in spans
            and spans[(ln["host"], ln["queue_id"])][0]
            <= ln["ts"]
            <= spans[(ln["host"], ln["queue_id"])][1]
        ]
        out.append(story)
    return sorted(out, key=lambda s: s.messages[0]["first_seen"] if s.messages else dt.datetime.min)


def _links(messages: list[dict], said: list[dict]) -> list[dict]:
    """The flows among these messages: what the flows view says, resolved locally (a named
    queue ID is the instance nearest in time, on the same host when it is there)."""

    def instance(queue_id: str, host: str, when) -> dict | None:
        same = [m for m in messages if m["queue_id"] == queue_id]
        return min(
            same,
            key=lambda m: (m["host"] != host, abs((m["first_seen"] - when).total_seconds())),
            default=None,
        )

    by_key = {m["message_key"]: m for m in messages}
    out = []
    for s in said:
        me, other = by_key.get(s["message_key"]), instance(s["named_queue_id"], s["host"], s["ts"])
        if me is None or other is None or other["message_key"] == me["message_key"]:
            continue
        src, dst = (me, other) if s["direction"] == "out" else (other, me)
        link = s["link"]
        if link == "queued_as" and src["host"] != dst["host"]:
            link = "relayed"
        out.append(
            {
                "from_message_key": src["message_key"],
                "to_message_key": dst["message_key"],
                "link": link,
                "host": src["host"],
                "to_host": dst["host"],
                "ts": s["ts"],
            }
        )
    unique = {}
    for lk in sorted(out, key=lambda lk: (lk["ts"], lk["link"])):
        unique.setdefault((lk["from_message_key"], lk["to_message_key"]), lk)
    links = list(unique.values())
    depth = _depths(set(by_key), links)  # lines of one second: the earlier hop first
    return sorted(links, key=lambda lk: (lk["ts"], depth[lk["from_message_key"]]))


def _depths(members: set[str], links: list[dict]) -> dict[str, int]:
    depth = {m: 0 for m in members}
    for _ in range(len(members)):
        for lk in links:
            a, b = lk["from_message_key"], lk["to_message_key"]
            if a in depth and b in depth and depth[b] < depth[a] + 1:
                depth[b] = depth[a] + 1
    return depth


def as_data(story: Story) -> dict:
    return {
        "flow_id": story.flow_id,
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


def _group(keys: set[str], links: list[dict]) -> dict[str, set[str]]:
    """Connected message instances; each group is named by its earliest-linked root."""
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    incoming = {lk["to_message_key"] for lk in links}
    for lk in links:
        a, b = lk["from_message_key"], lk["to_message_key"]
        if a in parent and b in parent:
            parent[find(b)] = find(a)
    groups: dict[str, set[str]] = {}
    for k in keys:
        groups.setdefault(find(k), set()).add(k)
    named = {}
    for members in groups.values():
        roots = sorted(m for m in members if m not in incoming) or sorted(members)
        named[roots[0]] = members
    return named
