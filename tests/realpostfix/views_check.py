"""What the views say about each message, compared with what the lab knows happened."""

from __future__ import annotations

import duckdb

LEAF_RECIPIENTS = """
WITH mine AS (
    SELECT m.message_key, coalesce(f.depth, 0) AS depth
    FROM messages AS m LEFT JOIN message_flows AS f USING (message_key)
    WHERE m.message_id = $message_id
)
SELECT r.recipient, r.status, r.reason_category, r.orig_recipient
FROM recipients AS r JOIN mine USING (message_key)
QUALIFY row_number() OVER (PARTITION BY r.recipient ORDER BY mine.depth DESC) = 1
"""

MESSAGE = """
SELECT m.message_key, m.final, m.queue_id FROM messages AS m
LEFT JOIN message_flows AS f USING (message_key)
WHERE m.message_id = $message_id ORDER BY coalesce(f.depth, 0)
"""

LINKS = """
SELECT DISTINCT fl.link FROM flows AS fl
JOIN messages AS m ON m.message_key = fl.from_message_key
WHERE m.message_id = $message_id
"""

REFUSED = """
SELECT reason_category FROM rejects
WHERE (recipient = $recipient OR recipient IS NULL)
  AND (sender = $sender OR sender IS NULL)
  AND ($client_ip IS NULL OR client_ip = $client_ip)
  AND action = 'reject'
"""

REFUSED_QUEUED = "SELECT reason_category FROM rejects WHERE queue_id = $queue_id"


def mismatches(db: str, truth: list[dict]) -> list[str]:
    """Every way the views disagree with the ground truth, one line each (empty: all agree)."""
    con = duckdb.connect(db, read_only=True)
    try:
        return [problem for message in truth for problem in _check(con, message)]
    finally:
        con.close()


def _rows(con, sql: str, **params) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def _check(con, message: dict) -> list[str]:
    name, out = message["name"], []
    if not message.get("logged_message_id"):
        for recipient, want in message["recipients"].items():
            if want["final"] != "rejected":
                out.append(f"{name}: {recipient}: not queued but truth says {want['final']}")
                continue
            got = _rows(
                con,
                REFUSED,
                recipient=recipient,
                sender=message["sender"],
                client_ip=message.get("client_ip"),
            )
            if want.get("category") not in {r[0] for r in got}:
                out.append(
                    f"{name}: {recipient}: no reject with category {want.get('category')}"
                    f" (rejects say {sorted({str(r[0]) for r in got})})"
                )
        return out
    instances = _rows(con, MESSAGE, message_id=message["message_id"])
    if not instances:
        return [f"{name}: no message with Message-ID {message['message_id']}"]
    rows = _rows(con, LEAF_RECIPIENTS, message_id=message["message_id"])
    leaves = {r[0]: r for r in rows}
    for recipient, want in message["recipients"].items():
        row = leaves.get(recipient)
        expanded = [r for r in rows if r[3] and r[3].split("@")[0] == recipient.split("@")[0]]
        if row is None and expanded:  # an alias: its expansions share one outcome
            statuses = {r[1] for r in expanded}
            row = (recipient, statuses.pop() if len(statuses) == 1 else "mixed", None, None)
        if row is None:
            if want["final"] == "rejected":  # refused before any recipient was queued
                finals = {i[1] for i in instances}
                cats = {r[0] for i in instances for r in _rows(con, REFUSED_QUEUED, queue_id=i[2])}
                if "rejected" not in finals or want.get("category") not in cats:
                    out.append(f"{name}: {recipient}: finals {finals}, reject categories {cats}")
                continue
            out.append(f"{name}: {recipient}: no recipients row")
            continue
        _, status, category, _ = row
        if status != want["final"]:
            out.append(f"{name}: {recipient}: status {status}, truth {want['final']}")
        elif want.get("category") and status != "sent" and category != want["category"]:
            out.append(f"{name}: {recipient}: category {category}, truth {want['category']}")
    links = {r[0] for r in _rows(con, LINKS, message_id=message["message_id"])}
    if message.get("expect_filter_hop") and "queued_as" not in links:
        out.append(f"{name}: no queued_as link (links {sorted(links)})")
    if message.get("expect_bounce_notification") and "bounce_notification" not in links:
        out.append(f"{name}: no bounce_notification link (links {sorted(links)})")
    if message.get("expect_delay_notification") and "delay_notification" not in links:
        out.append(f"{name}: no delay_notification link (links {sorted(links)})")
    return out
