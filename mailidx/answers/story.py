"""A flow's story as data (``Story``) and its answer first: what became of each recipient at
the end of the flow (``flow_ends``), in words (``verdict``, ``outcome_phrase``), and the
refusals of mail never queued in one line. Pure: mailidx/answers/trace.py fills the stories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Story:
    """One flow: the linked message instances, their recipients and log lines."""

    flow_id: str
    messages: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    recipients: list[dict] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    refusals: list[dict] = field(default_factory=list)
    ends: list[dict] = field(default_factory=list)
    verdict: str = ""


NOTIFICATIONS = {"bounce_notification", "delay_notification", "delivery_status_notification"}
PASSING_ON = {"queued_as", "forwarded_as", "relayed"}
COPY = {"forwarded_as": "forwarded copy ", "relayed": "relayed copy "}
REPLY_CODE = re.compile(r"(?:^|[\s(:])([245]\d\d)[ -]")


def flow_ends(story: Story) -> list[dict]:
    """The recipients at the end of the flow, each with its outcome: every recipient row of the
    flow except one whose delivery handed the message on to a later instance of the flow (the
    content filter, a forward, the next indexed host), and except the notifications Postfix
    sent to the sender. ``via`` is the chain of links that led to the row's instance."""
    by_key = {m["message_key"]: m for m in story.messages}
    came_by = {lk["to_message_key"]: lk for lk in story.links}
    onward = {
        (lk["from_message_key"], by_key[lk["to_message_key"]]["queue_id"])
        for lk in story.links
        if lk["link"] in PASSING_ON and lk["to_message_key"] in by_key
    }
    handed_on = {
        (d["message_key"], d["recipient"], d["orig_recipient"] or "")
        for d in story.deliveries
        if d["next_queue_id"] and (d["message_key"], d["next_queue_id"]) in onward
    }

    def via(key: str) -> list[str] | None:
        chain, seen = [], set()
        while key in came_by and key not in seen:
            seen.add(key)
            link = came_by[key]["link"]
            if link in NOTIFICATIONS:
                return None
            chain.insert(0, link)
            key = came_by[key]["from_message_key"]
        return chain

    ends = []
    for r in story.recipients:
        chain = via(r["message_key"])
        if chain is None or (r["message_key"], r["recipient"], r["orig_recipient"]) in handed_on:
            continue
        ends.append({**r, "via": chain})
    return ends


def reply_code(text: str | None) -> str | None:
    """The SMTP reply code in a response (``host … said: 552 5.3.4 …``), if there is one."""
    found = REPLY_CODE.search(text or "")
    return found.group(1) if found else None


def outcome_phrase(r: dict) -> str:
    """One recipient's outcome in words: ``forwarded copy bounced: size, 552 5.3.4``."""
    copy = next((COPY[v] for v in reversed(r.get("via") or []) if v in COPY), "")
    words = f"{copy}{r['status']}"
    why = " ".join(x for x in (reply_code(r["response"]), r["dsn"]) if x)
    if r["status"] != "sent" and (r["reason_category"] or why):
        words += ": " + ", ".join(x for x in (r["reason_category"], why) if x)
    return words


def who(r: dict) -> str:
    """A recipient row's address, and the address it was sent to when that differs."""
    return r["recipient"] + (f" (for {r['orig_recipient']})" if r["orig_recipient"] else "")


def verdict(story: Story) -> str:
    """The flow's answer in one line, for the first line of its story."""
    ends = story.ends
    if not ends:
        first = story.messages[0] if story.messages else None
        said = f"{first['final']}" if first else "nothing happened"
        if story.refusals:
            said += ": " + refused_verdict(story.refusals, queued=True)
        return said
    sent = [r for r in ends if r["status"] == "sent"]
    failed = [r for r in ends if r["status"] != "sent"]
    if not failed:
        if len(sent) == 1:
            return f"{who(sent[0])} {outcome_phrase(sent[0])}"
        return f"sent to all {len(sent)} recipients"
    parts = [f"{who(r)} {outcome_phrase(r)}" for r in failed]
    if sent:
        parts.insert(0, f"{len(sent)} of {len(ends)} sent")
    return "; ".join(parts)


def refused_verdict(rows: list[dict], queued: bool = False) -> str:
    """``refused 3 times, never queued: relay_denied 554 5.7.1 (3)``."""
    counts: dict[str, int] = {}
    for r in rows:
        what = " ".join(
            str(x) for x in (r["reason_category"], r["code"], r["dsn"]) if x is not None
        )
        counts[what or r["action"]] = counts.get(what or r["action"], 0) + 1
    how = ", ".join(f"{k} ({n})" if n > 1 else k for k, n in counts.items())
    if queued:
        return how
    times = "once" if len(rows) == 1 else f"{len(rows)} times"
    return f"refused {times}, never queued: {how}"
