"""The questions every engine must answer alike over a lake, and rows made comparable.

The questions are the project's own SQL: every canned query (sql/queries, filters NULL), the
summary's grand totals, a trace-like lookup of one message's flow across two hosts, and each
lake view whole. They are written for DuckDB and transpiled with sqlglot for Spark and
ClickHouse, as a user of those engines would.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import shutil
from pathlib import Path

import sqlglot
from sqlglot import exp

from mailidx.answers import queries, summary
from mailidx.lake import export
from tests.conftest import FIXTURES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SAMPLE = ["maillog.2.gz", "maillog.1", "maillog"]
CROSS_HOST_ID = "cross-host-1@example.net"

FLOW_LOOKUP = f"""
WITH seed AS (SELECT message_key FROM messages WHERE message_id = '{CROSS_HOST_ID}'),
chain AS (SELECT flow_id FROM message_flows
          WHERE message_key IN (SELECT message_key FROM seed))
SELECT m.host, m.queue_id, f.depth, m.final, d.recipient, d.status, d.relay, d.ts
FROM message_flows AS f
JOIN messages AS m ON m.message_key = f.message_key
LEFT JOIN deliveries AS d ON d.message_key = f.message_key
WHERE f.flow_id IN (SELECT flow_id FROM chain)
"""
VIEWS = [*export.TABLES, "flows", "message_flows"]


def copy_sample(folder: Path) -> list[Path]:
    """The real-Postfix sample (host mx) with its files' mtimes, plus two hosts mx1 → mx2."""
    import json
    import os

    folder.mkdir(parents=True, exist_ok=True)
    truth = json.loads((EXAMPLES / "ground-truth.json").read_text())
    out = []
    for info in truth["files"]:
        target = folder / info["file"]
        shutil.copy(EXAMPLES / info["file"], target)
        os.utime(target, (info["mtime"], info["mtime"]))
        out.append(target)
    for name in ("two-hosts-mx1.log", "two-hosts-mx2.log"):
        shutil.copy(FIXTURES / name, folder / name)
        out.append(folder / name)
    return out


def questions() -> dict[str, str]:
    """name → DuckDB SQL, parameters given as literals (every filter NULL, a large limit)."""
    out = {f"query {name}": bind(q.sql) for name, q in queries.catalog().items()}
    out["summary totals"] = bind(summary.sql("totals"))
    out["flow across two hosts"] = FLOW_LOOKUP
    for view in VIEWS:
        out[f"view {view}"] = f"SELECT * FROM {view}"
    return out


def bind(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")

    def literal(node):
        if isinstance(node, exp.Placeholder):  # $name
            return exp.Literal.number(100000) if node.name == "limit" else exp.Null()
        return node

    return tree.transform(literal).sql(dialect="duckdb")


def comparable(rows) -> list[tuple]:
    """Rows as sorted tuples of plain values: instants as UTC microseconds, lists sorted."""
    return sorted((tuple(_value(v) for v in row) for row in rows), key=repr)


def _value(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:  # Spark and ClickHouse here run in UTC
            v = v.replace(tzinfo=dt.timezone.utc)
        return ("instant", round(v.timestamp() * 1_000_000))
    if isinstance(v, (list, tuple)) and not v:
        return None  # ClickHouse has no NULL array: a NULL list reads as [] there
    if isinstance(v, (list, tuple)):
        return ("list", tuple(sorted((_value(x) for x in v), key=repr)))
    if isinstance(v, decimal.Decimal):
        v = float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return float(v) if v != int(v) else int(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    return v
