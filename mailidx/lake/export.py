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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a NULL partition value
DATA_FILE = "data.parquet"
STAGING = "_staging"
MANIFESTS = "_manifest"
FORMAT_VERSION = 1

# table → what files a row under a day: a column of its own, or MESSAGE (the day its message
# instance was last seen). The columns themselves come from the catalog.
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


class ExportError(Exception):
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


def is_remote(lake: str) -> bool:
    return "://" in lake


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


def join(lake: str, *parts: str) -> str:
    """A path or URL inside the lake (Path would fold the // of a URL)."""
    return "/".join([lake.rstrip("/"), *parts])


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
            "SELECT content FROM read_text(?)", [join(lake, MANIFESTS, "*.json")]
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
        url = join(lake, MANIFESTS, partition_name(manifest["host"]) + ".json")
        _prepare(url)
        con.execute(
            f"COPY (SELECT ?::JSON AS manifest) TO '{_literal(url)}' (FORMAT json)",
            [json.dumps(manifest, sort_keys=True)],
        )
        return
    folder = Path(lake) / MANIFESTS
    folder.mkdir(parents=True, exist_ok=True)
    name = partition_name(manifest["host"]) + ".json"
    tmp = folder / f".{name}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, folder / name)


def partition_name(value: str) -> str:
    """A partition value as a path segment: Hive's escaping (%XX), as DuckDB and Spark read it."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:")
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def partition_dir(lake: str, table: str, host: str, day: str) -> Path:
    return Path(lake) / table / f"host={partition_name(host)}" / f"day={day}"


def partition_url(lake: str, table: str, host: str, day: str, name: str = DATA_FILE) -> str:
    return join(lake, table, f"host={partition_name(host)}", f"day={day}", name)


def _prepare(url: str) -> None:
    """A file:// URL's folder exists before DuckDB writes a file there (object stores need none)."""
    if url.startswith("file://"):
        os.makedirs(os.path.dirname(url[len("file://") :]), exist_ok=True)


def _put(con, sql: str, url: str) -> None:
    """One object written whole: the rows of ``sql`` as zstd Parquet at ``url``."""
    _prepare(url)
    con.execute(f"COPY ({sql}) TO '{_literal(url)}' (FORMAT parquet, COMPRESSION zstd)")


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
        staging = Path(lake) / STAGING / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
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
            _remove_if_empty(Path(lake) / STAGING)
    report.seconds = time.monotonic() - started
    return report


def _copy_manifest(manifest: dict) -> dict:
    return json.loads(json.dumps(manifest))


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
        _remove_partition(con, lake, table, host, day)
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
            _put(con, _no_rows(table), partition_url(lake, table, NULL_PARTITION, NULL_PARTITION))
    else:
        _ensure_schema_file(con, lake, table)


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


def _write_partitions(con, lake, table, changed, stage: Path, report: Report) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE export_changed (host VARCHAR, day VARCHAR)")
    con.executemany("INSERT INTO export_changed VALUES (?, ?)", changed)
    stage.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT s.* FROM ({source_sql(table)}) AS s "
        "SEMI JOIN temp.main.export_changed AS c ON c.host = s.host AND c.day = s.day) "
        f"TO '{_literal(str(stage))}' (FORMAT parquet, COMPRESSION zstd, "
        "PARTITION_BY (host, day), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'data_{i}')"
    )
    con.execute("DROP TABLE temp.main.export_changed")
    for host, day in changed:
        staged = sorted((stage / f"host={partition_name(host)}" / f"day={day}").glob("*.parquet"))
        if len(staged) != 1:
            raise ExportError(f"{table} {host} {day}: expected one staged file, got {len(staged)}")
        report.bytes_written += staged[0].stat().st_size
        report.partitions_written += 1
        if is_remote(lake):
            staged_sql = f"SELECT * FROM read_parquet('{_literal(str(staged[0]))}')"
            _put(con, staged_sql, partition_url(lake, table, host, day))
            continue
        target = partition_dir(lake, table, host, day)
        target.mkdir(parents=True, exist_ok=True)
        os.replace(staged[0], target / DATA_FILE)  # atomic: old file or new, never half


def _ensure_schema_file(con, lake: str, table: str) -> None:
    """Every table folder holds at least one file, so engines can read an empty table: a
    zero-row file in the NULL partition (it adds no rows), removed once real days exist."""
    folder = Path(lake) / table
    empty = partition_dir(lake, table, NULL_PARTITION, NULL_PARTITION) / "empty.parquet"
    real = [p for p in folder.glob("host=*/day=*/" + DATA_FILE)] if folder.is_dir() else []
    if real:
        if empty.exists():
            empty.unlink()
            _remove_if_empty(empty.parent)
            _remove_if_empty(empty.parent.parent)
        return
    if empty.exists():
        return
    empty.parent.mkdir(parents=True, exist_ok=True)
    tmp = empty.parent / f".empty-{uuid.uuid4().hex}.parquet"
    _put(con, _no_rows(table), str(tmp))
    os.replace(tmp, empty)


def _no_rows(table: str) -> str:
    return f"SELECT * EXCLUDE (host, day) FROM ({source_sql(table)}) LIMIT 0"


def _remove_partition(con, lake: str, table: str, host: str, day: str) -> None:
    if is_remote(lake):  # an object store cannot be told to delete here: the day has no rows
        _put(con, _no_rows(table), partition_url(lake, table, host, day))
        return
    folder = partition_dir(lake, table, host, day)
    with contextlib.suppress(FileNotFoundError):
        (folder / DATA_FILE).unlink()
    _remove_if_empty(folder)
    _remove_if_empty(folder.parent)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: something else is there
        folder.rmdir()


def _literal(text: str) -> str:
    """A path inside a SQL string literal (COPY TO takes no parameter)."""
    return text.replace("'", "''")


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
