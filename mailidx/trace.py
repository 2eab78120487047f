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
    marks = ", ".join("?" for _ in values) or "NULL"
    return f"{column} IN ({marks})", list(values)


def seeds(con, term: str, window: Window) -> list[str]:
    """Queue IDs the term names (as a queue ID, Message-ID, address, client IP or host)."""
    term = term.strip()
    time_sql = " AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)"
    params = {"t": term, "since": window.since, "until": window.until}
    if QUEUE_ID.match(term):
        rows = con.execute(
            "SELECT DISTINCT queue_id FROM message_events WHERE queue_id = $t" + time_sql, params
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
        rows = con.execute(
            "SELECT DISTINCT queue_id FROM message_events WHERE queue_id IS NOT NULL "
            "AND (lower(sender) = lower($t) OR lower(recipient) = lower($t) "
            "OR lower(orig_recipient) = lower($t))" + time_sql,
            params,
        ).fetchall()
        return [r[0] for r in rows]
    column = "client_ip" if IP.match(bare) else "client_host"
    rows = con.execute(
        f"SELECT DISTINCT queue_id FROM ev_message WHERE kind = 'client' "
        f"AND lower({column}) = lower($t)" + time_sql,
        params,
    ).fetchall()
    return [r[0] for r in rows]


def _neighbours(con, queue_ids: list[str]) -> set[str]:
    """Queue IDs one hop away from these, in either direction."""
    where, args = _in("queue_id", queue_ids)
    found = {
        r[0]
        for r in con.execute(
            f"SELECT next_queue_id FROM ev_delivery WHERE {where} AND next_queue_id IS NOT NULL "
            f"AND status = 'sent' UNION SELECT next_queue_id FROM ev_message WHERE {where} "
            f"AND kind = 'notification' UNION SELECT orig_queue_id FROM ev_message WHERE "
            f"{where} AND orig_queue_id IS NOT NULL",
            args * 3,
        ).fetchall()
    }
    back_delivery, a1 = _in("next_queue_id", queue_ids)
    back_origin, a2 = _in("orig_queue_id", queue_ids)
    found |= {
        r[0]
        for r in con.execute(
            f"SELECT queue_id FROM ev_delivery WHERE {back_delivery} AND status = 'sent' "
            f"UNION SELECT queue_id FROM ev_message WHERE {back_delivery} "
            f"AND kind = 'notification' UNION SELECT queue_id FROM ev_message WHERE {back_origin}",
            a1 + a1 + a2,
        ).fetchall()
    }
    return {q for q in found if q}


def expand(con, queue_ids: list[str]) -> list[str]:
    """All queue IDs linked to these, hop by hop (bounded)."""
    known, frontier = set(queue_ids), list(queue_ids)
    while frontier and len(known) < MAX_MESSAGES:
        new = _neighbours(con, frontier) - known
        known |= new
        frontier = sorted(new)
    return sorted(known)


def stories(con, term: str, window: Window | None = None, with_lines: bool = True) -> list[Story]:
    window = window or Window()
    found = seeds(con, term, window)
    if not found:
        return []
    queue_ids = expand(con, found)
    where, args = _in("queue_id", queue_ids)
    messages = _dicts(
        con.execute(f"SELECT * FROM messages WHERE {where} ORDER BY first_seen", args)
    )
    keys = {m["message_key"] for m in messages}
    recipients = _dicts(
        con.execute(
            f"SELECT * FROM recipients WHERE {where} ORDER BY first_attempt, recipient", args
        )
    )
    deliveries = _dicts(
        con.execute(
            f"SELECT * FROM deliveries WHERE {where} ORDER BY ts, file_id, line_number", args
        )
    )
    notes = _dicts(
        con.execute(
            f"SELECT message_key, host, ts, action, next_queue_id FROM message_events "
            f"WHERE {where} AND kind = 'notification'",
            args,
        )
    )
    links = _links(messages, deliveries, notes)
    groups = _group(keys, links)
    lines = []
    if with_lines:
        lines = _dicts(
            con.execute(
                f"SELECT l.file_id, l.line_number, l.ts, l.queue_id, l.host, l.raw FROM lines AS l "
                f"WHERE {where.replace('queue_id', 'l.queue_id')} "
                f"ORDER BY l.ts, l.file_id, l.line_number",
                args,
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


NOTIFICATION_LINKS = {
    "non_delivery": "bounce_notification",
    "postmaster_non_delivery": "bounce_notification",
    "delay": "delay_notification",
    "postmaster_delay": "delay_notification",
}


def _links(messages: list[dict], deliveries: list[dict], notes: list[dict]) -> list[dict]:
    """The flows among these messages (what the flows view says, worked out locally)."""

    def instance(queue_id: str, when) -> dict | None:
        same = [m for m in messages if m["queue_id"] == queue_id]
        return min(same, key=lambda m: abs((m["first_seen"] - when).total_seconds()), default=None)

    out = []

    def add(src: str, dst: dict | None, link: str, host: str, when) -> None:
        if dst is not None and dst["message_key"] != src:
            if link == "queued_as" and dst["host"] != host:
                link = "relayed"
            out.append(
                {
                    "from_message_key": src,
                    "to_message_key": dst["message_key"],
                    "link": link,
                    "host": host,
                    "to_host": dst["host"],
                    "ts": when,
                }
            )

    for d in deliveries:
        if d["next_queue_id"] and d["status"] == "sent":
            forwarded = "forwarded as" in (d["response"] or "")
            add(
                d["message_key"],
                instance(d["next_queue_id"], d["ts"]),
                "forwarded_as" if forwarded else "queued_as",
                d["host"],
                d["ts"],
            )
    for n in notes:
        link = NOTIFICATION_LINKS.get(n["action"], "delivery_status_notification")
        add(n["message_key"], instance(n["next_queue_id"], n["ts"]), link, n["host"], n["ts"])
    for m in messages:
        if m["orig_queue_id"]:
            src = instance(m["orig_queue_id"], m["first_seen"])
            if src is not None and src["message_key"] != m["message_key"]:
                link = "requeued" if m["origin"] == "pickup" else "queued_as"
                add(src["message_key"], m, link, src["host"], m["first_seen"])
    unique = {}
    for lk in out:
        unique.setdefault((lk["from_message_key"], lk["to_message_key"]), lk)
    return sorted(unique.values(), key=lambda lk: lk["ts"])


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
