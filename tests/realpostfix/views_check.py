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
QUALIFY row_number() OVER (PARTITION BY r.recipient, r.orig_recipient
                           ORDER BY mine.depth DESC) = 1
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
    # the row of the address itself; an alias's rows are its expansions (orig_recipient)
    leaves = {r[0]: r for r in rows if not r[3]}
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


# --- what a postmaster asks (issue 12) ---------------------------------------------------------

ROWS_OF_MESSAGE = """
SELECT r.recipient, r.orig_recipient, r.status, r.reason_category, r.recipient_known_from
FROM recipients AS r JOIN messages AS m USING (message_key)
WHERE m.message_id = $message_id AND m.origin <> 'bounce'
"""

# a flow that holds instances of two messages the lab sent separately (bounce and delay
# notifications have Message-IDs of their own and come from Postfix, origin 'bounce')
GLUED_FLOWS = """
SELECT f.flow_id, list(DISTINCT m.message_id ORDER BY m.message_id) AS message_ids
FROM message_flows AS f JOIN messages AS m USING (message_key)
WHERE m.origin <> 'bounce' AND m.message_id IS NOT NULL
GROUP BY f.flow_id HAVING count(DISTINCT m.message_id) > 1
"""


def postmaster_mismatches(db: str, truth: list[dict]) -> list[str]:
    """For the messages marked ``one_row_per_original_recipient``: recipients has exactly one
    row per original recipient (per expansion of an alias) with the status the lab saw, and
    trace finds the message by either address; the refused client's trace shows its refusals;
    no flow (in message_flows or in trace) holds two messages the lab sent separately."""
    from mailidx.answers import trace

    con = duckdb.connect(db, read_only=True)
    out = []
    try:
        for message in truth:
            if message.get("one_row_per_original_recipient"):
                out += _one_row_each(con, message)
                out += _traced_by_every_address(con, message, trace)
            if message.get("refused_client"):
                out += _refusals_traced(con, message, trace)
        out += [f"flow {f} joins {ids}" for f, ids in _rows(con, GLUED_FLOWS)]
        for message in truth:
            if not message.get("logged_message_id"):
                continue
            for story in trace.stories(con, message["message_id"], with_lines=False):
                ids = {m["message_id"] for m in story.messages if m["origin"] != "bounce"}
                if ids - {message["message_id"], None}:
                    out.append(f"{message['name']}: trace joins {sorted(map(str, ids))}")
    finally:
        con.close()
    return out


def _one_row_each(con, message: dict) -> list[str]:
    name, out = message["name"], []
    rows = _rows(con, ROWS_OF_MESSAGE, message_id=message["message_id"])
    expected = 0
    for address, want in message["recipients"].items():
        if want.get("not_in_log"):
            if any(address in (r[0], r[1]) for r in rows):
                out.append(f"{name}: {address} has a row, though no line names it")
            continue
        expands = want.get("expands_to")
        mine = [r for r in rows if (r[1] == address if expands else r[:2] == (address, ""))]
        wanted = sorted(expands) if expands else [address]
        expected += len(wanted)
        if sorted(r[0] for r in mine) != wanted:
            out.append(f"{name}: {address}: rows for {sorted(r[0] for r in mine)}, want {wanted}")
        for r in mine:
            if r[2] != want["final"]:
                out.append(f"{name}: {address} → {r[0]}: status {r[2]}, truth {want['final']}")
            elif want.get("category") and r[2] != "sent" and r[3] != want["category"]:
                out.append(f"{name}: {address}: category {r[3]}, truth {want['category']}")
        for forwarded, then in want.get("forward", {}).items():  # the copy a .forward made
            expected += 1
            copies = [r for r in rows if r[0] == forwarded]
            if [r[2] for r in copies] != [then["final"]]:
                out.append(f"{name}: {forwarded}: statuses {[r[2] for r in copies]}")
            elif then.get("category") and copies[0][3] != then["category"]:
                out.append(f"{name}: {forwarded}: category {copies[0][3]}")
    if len(rows) != expected:
        out.append(f"{name}: {len(rows)} recipients rows, want {expected}: {rows}")
    return out


def _traced_by_every_address(con, message: dict, trace) -> list[str]:
    out = []
    for address, want in message["recipients"].items():
        if want.get("not_in_log"):
            continue
        for term in [address, *want.get("expands_to", [])]:
            found = [
                r
                for story in trace.stories(con, term, with_lines=False)
                for r in story.recipients
                if r["message_id"] == message["message_id"]
                and term.lower() in (r["recipient"].lower(), r["orig_recipient"].lower())
            ]
            if not found:
                out.append(f"{message['name']}: trace {term} does not find it")
    return out


def _refusals_traced(con, message: dict, trace) -> list[str]:
    import io

    from mailidx.ui import trace_text

    name, ip = message["name"], message["client_ip"]
    stories = trace.stories(con, ip)
    refused = [r for s in stories for r in s.refusals]
    out = []
    if [s.messages for s in stories] != [[]] or not refused:
        out.append(f"{name}: trace {ip} gives {len(stories)} stories, {len(refused)} refusals")
    for address, want in message["recipients"].items():
        if not any(
            r["recipient"] == address and r["reason_category"] == want["category"] for r in refused
        ):
            out.append(f"{name}: trace {ip} lacks the {want['category']} refusal of {address}")
    text = io.StringIO()
    trace_text.render(stories, text)
    if "Relay access denied" not in text.getvalue() or ip not in text.getvalue():
        out.append(f"{name}: trace {ip} as text does not show the refusal")
    if any(trace.as_data(s)["refusals"] == [] for s in stories):
        out.append(f"{name}: trace {ip} as data has no refusals")
    return out
