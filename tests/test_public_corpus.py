"""The parser against an independent oracle: the public corpus beside the project
(../shared/corpus/public) carries, for some lines, the fields other projects' parsers expect.
Where a field means the same as one of ours, our value must agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mailidx.ingest.indexer import parse_lines

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "public"
FULL_LINE = re.compile(r"^(?:<\d+>)?(?:[A-Z][a-z]{2} +\d|\d{4}-\d\d-\d\d[T ])")

# their field name -> our events column
SAME_MEANING = {
    "qid": "queue_id",
    "queue_id": "queue_id",
    "postfix_queueid": "queue_id",
    "postfix.qid": "queue_id",
    "postfix_client_ip": "client_ip",
    "client_ip": "client_ip",
    "postfix.client.ip": "client_ip",
    "postfix_client_hostname": "client_host",
    "postfix.client.hostname": "client_host",
    "postfix_client_port": "client_port",
    "postfix_relay_hostname": "relay_host",
    "postfix.relay.hostname": "relay_host",
    "postfix_relay_ip": "relay_ip",
    "message-id": "message_id",
    "message_id": "message_id",
    "from": "sender",
    "sender": "sender",
    "dsn": "dsn",
    "postfix.dsn": "dsn",
    "relay": "relay",
    "postfix.relay": "relay",
    "orig_to": "orig_recipient",
    "postfix.orig_to": "orig_recipient",
    "orig_recipient": "orig_recipient",
    "nrcpt": "nrcpt",
    "conn_use": "conn_use",
    "sasl_method": "sasl_method",
    "sasl_username": "sasl_username",
    "postfix.helo": "helo",
    "postfix.proto": "proto",
}


def oracle_cases():
    cases = []
    for path in sorted(CORPUS.glob("*.expected.jsonl")):
        for row in path.read_text().splitlines():
            record = json.loads(row)
            line, fields = record.get("line", ""), record.get("fields") or {}
            if not FULL_LINE.match(line):
                program = record.get("program_hint") or record.get("program")
                if not (program and str(program).startswith("postfix")):
                    continue
                line = f"Nov 27 12:00:00 mx1 {program}[4242]: {line}"
            for theirs, ours in SAME_MEANING.items():
                value = fields.get(theirs)
                if value == "NOQUEUE":
                    continue  # we store NOQUEUE as a NULL queue_id (DESIGN.md)
                if isinstance(value, (str, int)) and str(value) != "":
                    cases.append((path.name, line, theirs, ours, str(value)))
    return cases


def normal(value) -> str:
    return str(value).strip().strip("<>").lower() if value is not None else ""


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no ../shared/corpus/public beside the project")
def test_fields_agree_with_other_parsers_expectations():
    cases = oracle_cases()
    assert len(cases) > 100
    parsed = parse_lines(sorted({c[1] for c in cases}))
    by_line = {}
    for row in parsed:
        by_line.setdefault(row["raw"], row)
    wrong = [
        (source, theirs, value, by_line[line].get(ours), line)
        for source, line, theirs, ours, value in cases
        if normal(by_line[line].get(ours)) != normal(value)
    ]
    agreement = 1 - len(wrong) / len(cases)
    report = "\n".join(f"{s}: {t}={v!r} we={w!r}  {line[:160]}" for s, t, v, w, line in wrong[:40])
    print(f"{agreement:.1%} of {len(cases)} fields agree")
    assert agreement >= 0.97, f"{agreement:.1%} of {len(cases)} fields agree\n{report}"
