"""Where a lake keeps each partition and how one is written, replaced or removed:
``<table>/host=<h>/day=<d>/data.parquet`` with Hive's escaping, files staged aside and moved in
with one ``os.replace`` each (an object written whole where the lake is a URL), and the
zero-row file that lets an engine read a table without days. mailidx/lake/export.py decides
which partitions change; the rows come as the SQL it gives (``source``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a NULL partition value
DATA_FILE = "data.parquet"
STAGING = "_staging"


def is_remote(lake: str) -> bool:
    return "://" in lake


def join(lake: str, *parts: str) -> str:
    """A path or URL inside the lake (Path would fold the // of a URL)."""
    return "/".join([lake.rstrip("/"), *parts])


def partition_name(value: str) -> str:
    """A partition value as a path segment: Hive's escaping (%XX), as DuckDB and Spark read it."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:")
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def partition_dir(lake: str, table: str, host: str, day: str) -> Path:
    return Path(lake) / table / f"host={partition_name(host)}" / f"day={day}"


def partition_url(lake: str, table: str, host: str, day: str, name: str = DATA_FILE) -> str:
    return join(lake, table, f"host={partition_name(host)}", f"day={day}", name)


def prepare(url: str) -> None:
    """A file:// URL's folder exists before DuckDB writes a file there (object stores need none)."""
    if url.startswith("file://"):
        os.makedirs(os.path.dirname(url[len("file://") :]), exist_ok=True)


def put(con, sql: str, url: str) -> None:
    """One object written whole: the rows of ``sql`` as zstd Parquet at ``url``."""
    prepare(url)
    con.execute(f"COPY ({sql}) TO '{literal(url)}' (FORMAT parquet, COMPRESSION zstd)")


def stage(con, source: str, changed: list[tuple[str, str]], folder: Path) -> None:
    """The rows of ``source`` (with host and day) in the ``changed`` partitions, written under
    ``folder`` as Hive partitions, one file each (``staged`` finds it)."""
    con.execute("CREATE OR REPLACE TEMP TABLE export_changed (host VARCHAR, day VARCHAR)")
    con.executemany("INSERT INTO export_changed VALUES (?, ?)", changed)
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT s.* FROM ({source}) AS s "
        "SEMI JOIN temp.main.export_changed AS c ON c.host = s.host AND c.day = s.day) "
        f"TO '{literal(str(folder))}' (FORMAT parquet, COMPRESSION zstd, "
        "PARTITION_BY (host, day), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'data_{i}')"
    )
    con.execute("DROP TABLE temp.main.export_changed")


def staged(folder: Path, host: str, day: str) -> list[Path]:
    """The files ``stage`` wrote for one partition."""
    return sorted((folder / f"host={partition_name(host)}" / f"day={day}").glob("*.parquet"))


def move_in(con, lake: str, table: str, host: str, day: str, file: Path) -> None:
    """A staged file becomes the partition's file: one rename, or one object written whole."""
    if is_remote(lake):
        staged_sql = f"SELECT * FROM read_parquet('{literal(str(file))}')"
        put(con, staged_sql, partition_url(lake, table, host, day))
        return
    target = partition_dir(lake, table, host, day)
    target.mkdir(parents=True, exist_ok=True)
    os.replace(file, target / DATA_FILE)  # atomic: old file or new, never half


def ensure_schema_file(con, lake: str, table: str, source: str) -> None:
    """Every table folder holds at least one file, so engines can read an empty table: a
    zero-row file in the NULL partition (it adds no rows), removed once real days exist."""
    folder = Path(lake) / table
    empty = partition_dir(lake, table, NULL_PARTITION, NULL_PARTITION) / "empty.parquet"
    real = [p for p in folder.glob("host=*/day=*/" + DATA_FILE)] if folder.is_dir() else []
    if real:
        if empty.exists():
            empty.unlink()
            remove_if_empty(empty.parent)
            remove_if_empty(empty.parent.parent)
        return
    if empty.exists():
        return
    empty.parent.mkdir(parents=True, exist_ok=True)
    tmp = empty.parent / f".empty-{uuid.uuid4().hex}.parquet"
    put(con, no_rows(source), str(tmp))
    os.replace(tmp, empty)


def no_rows(source: str) -> str:
    """No rows, with the columns of ``source`` less its partition values."""
    return f"SELECT * EXCLUDE (host, day) FROM ({source}) LIMIT 0"


def remove(con, lake: str, table: str, host: str, day: str, source: str) -> None:
    if is_remote(lake):  # an object store cannot be told to delete here: the day has no rows
        put(con, no_rows(source), partition_url(lake, table, host, day))
        return
    folder = partition_dir(lake, table, host, day)
    with contextlib.suppress(FileNotFoundError):
        (folder / DATA_FILE).unlink()
    remove_if_empty(folder)
    remove_if_empty(folder.parent)


def remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: something else is there
        folder.rmdir()


def literal(text: str) -> str:
    """A path inside a SQL string literal (COPY TO takes no parameter)."""
    return text.replace("'", "''")
