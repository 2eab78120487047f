"""`mailidx trace` (and the shell's .trace) as text a person reads: each flow's verdict, its
messages, recipients and attempts, the refusals, the log lines."""

from __future__ import annotations

import sys
from typing import TextIO

from mailidx.ui.output import cell_text, safe_text


def render(stories, out: TextIO | None = None, with_lines: bool = True) -> None:
    """`mailidx trace` as text a person reads, top-down: each flow's verdict first, then its
    messages, each recipient with its attempts under it, the refusals, the log lines."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)

    def say(*parts: tuple[str, str]) -> None:
        text = Text()
        for value, style in parts:
            text.append(safe_text(value), style=style)
        console.print(text)

    for story in stories:
        say((story.verdict, "bold"))
        if story.messages:
            say((f"flow {story.flow_id}", "bold"), (f"  {len(story.messages)} message(s)", "dim"))
        else:
            say(("refused, never queued", "bold"))
        if len(story.ends) > 1:  # one is the verdict already
            for end in story.ends:
                say(("  outcome ", "dim"), (_outcome(end), ""))
        outgoing = {}
        for link in story.links:
            outgoing.setdefault(link["from_message_key"], []).append(link)
        for m in story.messages:
            _render_message(say, story, m, with_lines)
            for link in outgoing.get(m["message_key"], []):
                say((f"    → {link['link']} {link['to_message_key']}", "magenta"))
        if not story.messages:
            for refusal in story.refusals:
                _render_refusal(say, refusal, with_lines, "  ")
        if with_lines and story.lines:
            say(("  log lines", "bold"))
            for line in story.lines:
                say((f"    {line['raw']}", ""))
        console.print()


def _outcome(end: dict) -> str:
    from mailidx.answers.story import outcome_phrase, who

    return f"{who(end)} {outcome_phrase(end)} (at {end['message_key']})"


def _render_message(say, story, m: dict, with_lines: bool) -> None:
    """One message instance: its facts, each recipient with its attempts, its refusals."""
    say(
        ("  " + m["message_key"], "bold cyan"),
        (f"  {cell_text(m['first_seen'])}", ""),
        (f"  final {m['final']}", "bold"),
    )
    facts = [
        f"from <{m['sender']}>" if m["sender"] is not None else "from (unknown)",
        f"Message-ID <{m['message_id']}>" if m["message_id"] else "",
        f"{m['size']} bytes" if m["size"] is not None else "",
        f"client {m['client_host']}[{m['client_ip']}]" if m["client_ip"] else "",
        f"via {m['origin']}",
    ]
    say(("    " + "  ".join(f for f in facts if f), ""))
    mine = [d for d in story.deliveries if d["message_key"] == m["message_key"]]
    listed = set()
    for r in (r for r in story.recipients if r["message_key"] == m["message_key"]):
        style = {"sent": "green", "bounced": "red", "rejected": "red"}.get(r["status"], "yellow")
        say(
            (f"    {r['recipient']}", ""),
            (f"  {r['status']}", style),
            (f"  {r['dsn'] or ''}  {r['reason_category'] or ''}", ""),
            (f"  {r['attempts']} attempt(s)", "dim"),
            (f"  for <{r['orig_recipient']}>" if r["orig_recipient"] else "", "dim"),
        )
        attempts = [
            i
            for i, d in enumerate(mine)
            if (d["recipient"], d["orig_recipient"] or "") == (r["recipient"], r["orig_recipient"])
        ]
        for i in attempts:
            _render_attempt(say, mine[i])
        listed.update(attempts)
        if r["response"] and not attempts:  # a refusal or a hold: its line's reason
            say((f"      {r['response']}", "dim"))
    for i, d in enumerate(mine):  # an attempt no recipient row names (none expected)
        if i not in listed:
            _render_attempt(say, d)
    for refusal in story.refusals:
        if (refusal["host"], refusal["queue_id"]) == (m["host"], m["queue_id"]):
            _render_refusal(say, refusal, with_lines, "    ")


def _render_attempt(say, d: dict) -> None:
    attempt = f"      {cell_text(d['ts'])}  {d['status']}  {d['dsn'] or ''}  via {d['relay']}"
    if d["delay"] is not None:
        attempt += (
            f"  delay {d['delay']}s (before qmgr {d['delay_before_qmgr']}, "
            f"in qmgr {d['delay_in_qmgr']}, connect {d['delay_conn']}, send {d['delay_xmit']})"
        )
    say((attempt, "dim"))
    if d["response"]:
        say((f"        {d['response']}", "dim"))


def _render_refusal(say, r: dict, with_lines: bool, indent: str) -> None:
    """A refusal: when, stage, code, dsn, category, who, why, and its log line."""
    who = f"client {r['client_host'] or ''}[{r['client_ip']}]" if r["client_ip"] else ""
    envelope = " ".join(
        x
        for x in (
            f"from=<{r['sender']}>" if r["sender"] is not None else "",
            f"to=<{r['recipient']}>" if r["recipient"] is not None else "",
        )
        if x
    )
    head = "  ".join(
        str(x)
        for x in (
            cell_text(r["ts"]),
            r["action"],
            r["stage"],
            r["code"],
            r["dsn"],
            r["reason_category"],
            who,
            envelope,
        )
        if x not in (None, "")
    )
    say((f"{indent}{head}", "red"))
    if r["reason"]:
        say((f"{indent}  {r['reason']}", "dim"))
    if with_lines and r.get("raw"):
        say((f"{indent}  {r['raw']}", ""))
