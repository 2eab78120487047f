"""Link resolution for `trace`, pure: which message instance a queue ID named by a link means,
which links a story follows hop by hop, the flows among the instances found, the order of their
hops and how they group into stories. Rows are dicts as the message_links and message_facts
views give them; mailidx/answers/trace.py reads them.
"""

from __future__ import annotations

import datetime as dt

LINK_REACH = dt.timedelta(days=1)  # as far apart in time as a link's two ends may be (flows)


def resolve(instances: list[dict], queue_id: str, host: str, when) -> dict | None:
    """The instance a named queue ID means: the nearest in time within a day, on the same
    host first (the rule of the flows view); None when the index has no such message."""
    near = [
        m
        for m in instances
        if m["queue_id"] == queue_id
        and m["first_seen"] is not None
        and abs(m["first_seen"] - when) <= LINK_REACH
    ]
    return min(
        near,
        key=lambda m: (m["host"] != host, abs((m["first_seen"] - when).total_seconds())),
        default=None,
    )


def follow(links: list[dict], instances: list[dict], known: set[str]) -> tuple[list[dict], set]:
    """One hop: of these message_links rows, the ones a story follows (the queue ID each names
    resolves to one of ``instances``: a remote server's ``queued as X`` names a queue ID of that
    server, and two messages that happened to get the same X are not one flow), and the queue
    IDs those reach that are not ``known`` yet."""
    followed = [r for r in links if resolve(instances, r["named_queue_id"], r["host"], r["ts"])]
    reached = {q for r in followed for q in (r["queue_id"], r["named_queue_id"]) if q}
    return followed, reached - known


def between(messages: list[dict], said: list[dict]) -> list[dict]:
    """The flows among these messages: what the message_links rows say, resolved locally (a
    named queue ID is the instance nearest in time, on the same host when it is there); one
    link per pair of instances, the earliest, in time order (the earlier hop first)."""
    by_key = {m["message_key"]: m for m in messages}
    out = []
    for s in said:
        me = by_key.get(s["message_key"])
        other = resolve(messages, s["named_queue_id"], s["host"], s["ts"])
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
    depth = depths(set(by_key), links)  # lines of one second: the earlier hop first
    return sorted(links, key=lambda lk: (lk["ts"], depth[lk["from_message_key"]]))


def depths(members: set[str], links: list[dict]) -> dict[str, int]:
    """How many hops each instance is from the start of its flow."""
    depth = {m: 0 for m in members}
    for _ in range(len(members)):
        for lk in links:
            a, b = lk["from_message_key"], lk["to_message_key"]
            if a in depth and b in depth and depth[b] < depth[a] + 1:
                depth[b] = depth[a] + 1
    return depth


def groups(keys: set[str], links: list[dict]) -> dict[str, set[str]]:
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
    named: dict[str, set[str]] = {}
    for k in keys:
        named.setdefault(find(k), set()).add(k)
    out = {}
    for members in named.values():
        roots = sorted(m for m in members if m not in incoming) or sorted(members)
        out[roots[0]] = members
    return out
