"""`mailidx export`: the index's public views as a Hive-partitioned Parquet lake.

Layout: ``DIR/<table>/host=<h>/day=<yyyy-mm-dd>/data.parquet`` (zstd), one file per partition,
and ``DIR/_manifest/<host>.json`` per host: each table's columns and, per day, its row count
and a fingerprint (the sum of the rows' hashes). Only the public views are read (their columns
come from the catalog), so the lake does not depend on how the index stores them.

Days are UTC days. Per-line tables are filed under the day of their line; per-message tables
(``messages``, ``recipients``, ``message_links``) under the day the message was last seen, so
a message's rows move forward as it goes on and never land in a day that ``prune`` froze.

Incremental: an export compares each partition's fingerprint in the index with the manifest
and writes only the ones that differ. Changed partitions are written aside (``DIR/_staging``,
which no engine reads) and moved in with one ``os.replace`` each, so a reader sees a day's old
file or its new one, never half of it; the manifest is replaced last, so an interrupted export
leaves the previous manifest and the next export redoes what it had not finished.

DIR may also be a URL DuckDB writes to (``s3://``, ``gs://``… through httpfs and the user's
DuckDB secrets; ``file://``). There nothing is renamed: each changed day is one object written
whole (an object store replaces an object atomically), a day the index no longer has becomes a
zero-row file, and the manifest is one JSON object written last.

This module decides which partitions change and keeps the manifests; how a partition's file
is named, written, moved in or removed is mailidx/lake/partitions.py's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mailidx.errors import MailidxError
from mailidx.lake import partitions
from mailidx.lake.partitions import NULL_PARTITION, is_remote

MANIFESTS = "_manifest"
FORMAT_VERSION = 1

# table → what files a row under a day: a column of its own, or MESSAGE (the day its message
# instance was last seen). The columns themselves come from the catalog; tests/test_view_lists.py
# checks each table and column against it.
MESSAGE = None
TABLES: dict[str, str | None] = {
    "log_lines": "ts",
    "events": "ts",
    "messages": "last_seen",
    "recipients": MESSAGE,
    "deliveries": "ts",
    "rejects": "ts",
    "connections": "connect_at",
    "problems": "ts",
    "message_links": MESSAGE,
}


class ExportError(MailidxError):
    """An export that cannot be done as asked; the message is one line for the user."""


@dataclass
class Report:
    partitions_written: int = 0
    partitions_removed: int = 0
    partitions_unchanged: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)


@dataclass
class Scope:
    """Which partitions an export may touch: days in [since, until), some hosts, and never a
    day before ``frozen_before`` (days ``prune`` removed from the index: the lake keeps them)."""

    since: str | None = None  # yyyy-mm-dd, UTC
    until: str | None = None
    hosts: list[str] | None = None
    frozen_before: str | None = None
    indexed_hosts: set[str] = field(default_factory=set)

    def holds(self, host: str, day: str) -> bool:
        if self.hosts is not None and host not in self.hosts:
            return False
        if day == NULL_PARTITION:
            return self.since is None and self.frozen_before is None
        if self.since and day < self.since:
            return False
        if self.until and day >= self.until:
            return False
        return not (self.frozen_before and day < self.frozen_before)


def columns(con, table: str) -> list[list[str]]:
    """A public view's columns and their types, from the catalog."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
        "AND database_name = current_database() AND schema_name = 'main' "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    return [list(r) for r in rows]


def source_sql(table: str) -> str:
    """The view's rows with ``host`` and ``day`` as their partition values (the file does not
    keep them: the path does)."""
    when = TABLES[table]
    if when is MESSAGE:
        frm = (
            f"{table} AS t JOIN (SELECT message_key AS m_key, last_seen AS m_last_seen "
            "FROM messages) AS m ON m.m_key = t.message_key"
        )
        when = "m.m_last_seen"
    else:
        frm = f"{table} AS t"
        when = f"t.{when}"
    return (
        f"SELECT t.* REPLACE (coalesce(t.host, '{NULL_PARTITION}') AS host), "
        f"coalesce(strftime(timezone('UTC', {when}), '%Y-%m-%d'), '{NULL_PARTITION}') AS day "
        f"FROM {frm}"
    )


def indexed_hosts(con) -> set[str]:
    """The hosts the index has lines of (as partition values)."""
    rows = con.execute(
        f"SELECT DISTINCT coalesce(host, '{NULL_PARTITION}') FROM log_lines"
    ).fetchall()
    return {r[0] for r in rows}


def fingerprints(con, table: str) -> dict[tuple[str, str], dict]:
    """Per (host, day): the row count and the sum of the rows' hashes."""
    rows = con.execute(
        f"SELECT host, day, count(*), sum(hash(s))::VARCHAR FROM ({source_sql(table)}) AS s "
        "GROUP BY host, day"
    ).fetchall()
    return {(h, d): {"rows": n, "fingerprint": fp} for h, d, n, fp in rows}


def schema_id(cols: list[list[str]]) -> str:
    return hashlib.sha256(json.dumps(cols).encode()).hexdigest()[:16]


def read_manifests(lake: str, con=None) -> dict[str, dict]:
    """host → its manifest, for every host in the lake."""
    if is_remote(lake):
        return _read_remote_manifests(lake, con)
    folder = Path(lake) / MANIFESTS
    out = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ExportError(f"{path}: unreadable manifest ({exc})") from None
            out[manifest["host"]] = manifest
    return out


def _read_remote_manifests(lake: str, con) -> dict[str, dict]:
    import duckdb

    own = con is None
    con = con or duckdb.connect()
    try:
        rows = con.execute(
            "SELECT content FROM read_text(?)", [partitions.join(lake, MANIFESTS, "*.json")]
        ).fetchall()
    except duckdb.IOException as exc:
        if "No files found" not in str(exc):
            raise ExportError(f"{lake}: cannot read its manifests: {_first(exc)}") from None
        rows = []
    except duckdb.Error as exc:
        raise ExportError(f"{lake}: cannot read its manifests: {_first(exc)}") from None
    finally:
        if own:
            con.close()
    out = {}
    for (content,) in rows:
        manifest = json.loads(content)["manifest"]  # as COPY … (FORMAT json) wrote it
        out[manifest["host"]] = manifest
    return out


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_manifest(lake: str, manifest: dict, con=None) -> None:
    if is_remote(lake):
        name = partitions.partition_name(manifest["host"]) + ".json"
        url = partitions.join(lake, MANIFESTS, name)
        partitions.prepare(url)
        con.execute(
            f"COPY (SELECT ?::JSON AS manifest) TO '{partitions.literal(url)}' (FORMAT json)",
            [json.dumps(manifest, sort_keys=True)],
        )
        return
    folder = Path(lake) / MANIFESTS
    folder.mkdir(parents=True, exist_ok=True)
    name = partitions.partition_name(manifest["host"]) + ".json"
    tmp = folder / f".{name}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, folder / name)


def export(con, lake: str, scope: Scope) -> Report:
    """Write the partitions that changed since the lake's manifests, in scope; see above."""
    import tempfile

    started = time.monotonic()
    remote = is_remote(lake)
    if not remote:
        os.makedirs(lake, exist_ok=True)
    manifests = read_manifests(lake, con)
    new = {h: _copy_manifest(m) for h, m in manifests.items()}
    report = Report()
    if remote:  # staged here, then written to the object store one partition at a time
        staging = Path(tempfile.mkdtemp(prefix="mailidx-export-"))
    else:
        staging = Path(lake) / partitions.STAGING / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # only the hosts this index has: other hosts' days in a shared lake are theirs
    scope.indexed_hosts = indexed_hosts(con)
    try:
        for table in TABLES:
            cols = columns(con, table)
            if not cols:
                raise ExportError(f"the index has no view {table}; run `mailidx build` first")
            if any(c[0] == "day" for c in cols):
                raise ExportError(f"view {table} has a column named day, the partition key")
            _export_table(con, lake, table, cols, scope, manifests, new, staging, report)
        for host, manifest in new.items():
            if manifest != manifests.get(host):
                manifest["exported_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                write_manifest(lake, manifest, con)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not remote:
            partitions.remove_if_empty(Path(lake) / partitions.STAGING)
    report.seconds = time.monotonic() - started
    return report


def _copy_manifest(manifest: dict) -> dict:
    return json.loads(json.dumps(manifest))


def _write_partitions(con, lake, table, changed, stage: Path, report: Report) -> None:
    partitions.stage(con, source_sql(table), changed, stage)
    for host, day in changed:
        staged = partitions.staged(stage, host, day)
        if len(staged) != 1:
            raise ExportError(f"{table} {host} {day}: expected one staged file, got {len(staged)}")
        report.bytes_written += staged[0].stat().st_size
        report.partitions_written += 1
        partitions.move_in(con, lake, table, host, day, staged[0])


def _export_table(con, lake, table, cols, scope, manifests, new, staging, report) -> None:
    sid = schema_id(cols)
    current = {k: v for k, v in fingerprints(con, table).items() if scope.holds(*k)}
    had: dict[tuple[str, str], dict] = {}
    for host, manifest in manifests.items():
        entry = manifest.get("tables", {}).get(table)
        if entry and entry.get("schema") == sid:
            for day, info in entry["days"].items():
                had[(host, day)] = info
    changed = sorted(k for k, v in current.items() if had.get(k) != v)
    gone = sorted(
        (host, day)
        for host, manifest in manifests.items()
        for day in manifest.get("tables", {}).get(table, {}).get("days", {})
        if host in scope.indexed_hosts and scope.holds(host, day) and (host, day) not in current
    )
    report.partitions_unchanged += len(current) - len(changed)
    if changed:
        _write_partitions(con, lake, table, changed, staging / table, report)
    for host, day in gone:
        partitions.remove(con, lake, table, host, day, source_sql(table))
        report.partitions_removed += 1
    for host, day in changed:
        entry = _table_entry(new, host, table, cols, sid)
        entry["days"][day] = current[(host, day)]
        report.tables[table] = report.tables.get(table, 0) + current[(host, day)]["rows"]
        report.rows_written += current[(host, day)]["rows"]
    for host, day in gone:
        new[host]["tables"][table]["days"].pop(day, None)
    for host in {h for h, _ in current}:
        _table_entry(new, host, table, cols, sid)
    if is_remote(lake):
        if not any(m["tables"].get(table, {}).get("days") for m in new.values()):
            empty = partitions.partition_url(lake, table, NULL_PARTITION, NULL_PARTITION)
            partitions.put(con, partitions.no_rows(source_sql(table)), empty)
    else:
        partitions.ensure_schema_file(con, lake, table, source_sql(table))


def _table_entry(new: dict, host: str, table: str, cols, sid: str) -> dict:
    manifest = new.setdefault(host, {"format": FORMAT_VERSION, "host": host, "tables": {}})
    entry = manifest["tables"].get(table)
    if entry is None or entry.get("schema") != sid:
        old_days = entry["days"] if entry else {}
        # a day written with other columns stays until rewritten; its fingerprint no longer
        # matches, so the next export in scope rewrites it
        entry = {"schema": sid, "columns": cols, "days": {d: {} for d in old_days}}
        manifest["tables"][table] = entry
    return entry


def frozen_before(con) -> str | None:
    """The first day the index still has whole, after `mailidx prune` (meta pruned_before)."""
    rows = con.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchall()
    return rows[0][0] if rows else None


def lake_holds(con, lake: str, before: str) -> list[str]:
    """The partitions before day ``before`` that the index has and the lake does not hold as
    they are in the index (missing or different): empty when the lake holds them all. Days an
    earlier prune froze are not compared: the index keeps only part of them."""
    manifests = read_manifests(lake, con)
    frozen = frozen_before(con) or ""
    missing = []
    for table in TABLES:
        for (host, day), info in sorted(fingerprints(con, table).items()):
            if day == NULL_PARTITION or day >= before or day < frozen:
                continue
            held = manifests.get(host, {}).get("tables", {}).get(table, {}).get("days", {})
            if held.get(day) != info:
                missing.append(f"{table} host={host} day={day}")
    return missing
