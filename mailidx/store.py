"""The DuckDB index: opening it (the lock, busy waits), migrating its schema and views, its meta;
the files it knows are mailidx.ingest.files', the writes of a batch mailidx.ingest.write's.

One writing process at a time (DuckDB's file lock); readers open it read-only, and with
DuckDB's own controls for the whole session (:data:`READ_ONLY_CONFIG`): no file outside the
index read or written, no database attached, no extension installed or loaded. Every error
a user can cause here becomes an ``IndexUnusable`` (or ``DiskFull``) with a one-line message
naming the problem (busy, permission denied, read-only file system, cut short): mailidx.errors
words them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from mailidx import errors
from mailidx.errors import IndexBusy, IndexUnusable, damaged, open_failure, write_failure

FORMAT = "mailidx"
UPGRADE_MEMORY_MB = 1024
# New index files are written so that DuckDB one minor release older (1.5, for DuckDB 2.0)
# can read them too: DBeaver's driver and other language bindings lag behind.
STORAGE_VERSION = "v1.5.0"
# Rows per row group a writer stores (DuckDB's default: 122,880). A transaction's rows of a
# table go straight into the file, compressed by the inserting threads, once each thread
# fills a row group; the rest go to the write-ahead log, to be compressed and written again
# by the checkpoint, on one thread. At the default, most event tables' rows of a build batch
# took that way (1 M lines: 148 MB of log for a 105 MB index, commit + checkpoint 3 s of 15).
ROW_GROUP_ROWS = 32_768
BUSY_RETRY_SECONDS = 2.0
# A read-only session: DuckDB's own controls, set when the file is opened. DuckDB refuses to
# turn external access, allowed_directories/allowed_paths, community or unsigned extensions
# back on while the database runs, so no statement can undo them; autoinstall/autoload could
# be set again but then meet the same refusal. The configuration is not locked
# (lock_configuration) because that refuses every SET, and `SET TimeZone` is how a read-only
# user sees times in their zone. Temporary tables and macros stay (in memory, gone with the
# session); spilling a big sort to the index's .tmp directory is DuckDB's own and still works.
READ_ONLY_CONFIG = {
    "enable_external_access": False,  # no read_csv/COPY/EXPORT/ATTACH/INSTALL/LOAD of files
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
}
IndexError_ = IndexUnusable  # the name the commands have used


def sql_dir() -> Path:
    """The schema's .sql files: inside the installed package, or beside it in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "001_tables.sql").exists():
            return candidate
    raise IndexError_("mailidx is installed without its sql/ files; reinstall the package")


def migration_files() -> list[Path]:
    return sorted(p for p in sql_dir().glob("[0-9][0-9][0-9]_*.sql"))


def view_files() -> list[Path]:
    return sorted((sql_dir() / "views").glob("*.sql"))


def connect(
    path: str,
    *,
    read_only: bool,
    wait: float = BUSY_RETRY_SECONDS,
    current: bool = True,
    on_wait: Callable[[IndexBusy], None] | None = None,
    locked: bool = True,
):
    """Open the index. Opens retry for ``wait`` seconds while another process holds the file
    (``on_wait`` hears of the first refusal). Read-only opens get :data:`READ_ONLY_CONFIG`
    (unless ``locked`` is False: mailidx's own code that writes files, such as export),
    and (with ``current``) refuse an index whose schema and views another mailidx
    version wrote: the commands' SQL expects this version's, and only a writer can bring it up
    to date."""
    if read_only:
        try:
            os.stat(path)
        except FileNotFoundError:
            raise IndexError_(
                f"no index at {path}; run `mailidx build` first or pass --db"
            ) from None
        except OSError as exc:
            raise open_failure(path, exc) from None
    if os.path.isdir(path):
        raise IndexError_(f"{path} is a directory; --db takes a file such as {path}/index.duckdb")
    if not read_only:
        make_parent(path)
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            if read_only:
                config = dict(READ_ONLY_CONFIG if locked else {})
                con = duckdb.connect(path, read_only=True, config=config)
            else:
                con = _open_writer(path)
            break
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                busy = IndexBusy(path, exc)
                if time.monotonic() < deadline:
                    if on_wait is not None and not told:
                        on_wait(busy)
                        told = True
                    time.sleep(0.05)
                    continue
                raise busy from None
            raise open_failure(path, exc) from None
        except duckdb.Error as exc:
            raise open_failure(path, exc) from None
    con.execute("SET enable_progress_bar = false")  # it would print into the data on stdout
    if read_only:
        check_is_index(con, path)
        if current:
            check_is_current(con, path)
    return con


def _open_writer(path: str):
    """A writing connection to the index: the file attached under the name DuckDB would give
    it (its stem) with :data:`ROW_GROUP_ROWS`, which only ATTACH can set; new files in the
    :data:`STORAGE_VERSION` format; big sorts spill to ``<index>.tmp`` as they would with the
    file opened directly."""
    con = duckdb.connect(":memory:", config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        stem = os.path.splitext(os.path.basename(path))[0] or "index"
        stem += "_db" if stem.lower() in ("memory", "temp", "system", "main") else ""
        name = '"' + stem.replace('"', '""') + '"'
        con.execute(f"ATTACH {quote_text(path)} AS {name} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        con.execute(f"USE {name}")
        con.execute(f"SET temp_directory = {quote_text(path + '.tmp')}")
    except BaseException:
        con.close()
        raise
    return con


def quote_text(text: str) -> str:
    """A SQL string literal (ATTACH takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def make_parent(path: str) -> None:
    """Create the directory a new index goes in; a part of it that is a file, or a directory
    that cannot be written, is named."""
    parent = os.path.dirname(os.path.abspath(path))
    probe = parent
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise IndexError_(
            f"{path}: {probe} is a file, not a directory; pass --db a path inside a directory"
        )
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        problem = errors.os_problem(exc) or (exc.strerror or str(exc))
        raise IndexError_(
            f"{path}: cannot create {parent}: {problem}; pass --db in a directory you may write"
        ) from None


def first_line(text: str) -> str:
    """The first line of a (DuckDB) error message, for a one-line error."""
    return text.strip().splitlines()[0] if text.strip() else text


def check_is_index(con, path: str) -> None:
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchall()
    except duckdb.IOException as exc:
        con.close()
        raise damaged(path, exc) from None
    except duckdb.Error:
        rows = []
    row = rows[0] if rows else None
    if not row or row[0] != FORMAT:
        con.close()
        raise IndexError_(f"{path} is a DuckDB database but not a mailidx index; pass another --db")


def check_is_current(con, path: str) -> None:
    latest = max(int(f.name[:3]) for f in migration_files())
    version = _meta(con, "schema_version")
    if int(version or 0) != latest or _meta(con, "views_sha256") != views_digest():
        con.close()
        raise IndexError_(
            f"{path} was written by another version of mailidx; "
            "run `mailidx build` once to bring it up to date"
        )


def migrate(con, path: str, on_upgrade: Callable[[], None] | None = None) -> None:
    """Apply pending schema migrations, then re-create the views if their SQL changed."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if tables and "meta" not in tables:
        con.close()
        raise IndexError_(f"{path} is a DuckDB database but not a mailidx index; pass another --db")
    if "meta" in tables:
        check_is_index(con, path)
    applied = _meta(con, "schema_version")
    version = int(applied) if applied else 0
    for file in migration_files():
        number = int(file.name[:3])
        if number <= version:
            continue
        con.execute("BEGIN")
        con.execute(file.read_text())
        if number == 1:
            con.execute("INSERT INTO meta VALUES ('format', ?)", [FORMAT])
        _set_meta(con, "schema_version", str(number))
        con.execute("COMMIT")
    refresh_views(con, on_upgrade)


def views_digest() -> str:
    return hashlib.sha256(b"".join(f.read_bytes() for f in view_files())).hexdigest()


def refresh_views(con, on_upgrade: Callable[[], None] | None = None) -> None:
    """Re-create the views (and recompute the stored ones) when their SQL changed, or when
    reason_categories changed since the stored rows got their categories. ``on_upgrade`` is
    called first when an index that had views gets them re-created (minutes on a big one)."""
    files = view_files()
    digest = views_digest()
    had = _meta(con, "views_sha256")
    if had == digest and _categories_current(con):
        return
    if had is not None and on_upgrade is not None:
        on_upgrade()
    con.execute("BEGIN")
    for file in files:  # each file is CREATE OR REPLACE …, in dependency order
        con.execute(file.read_text())
    _set_meta(con, "views_sha256", digest)
    version = con.execute("SELECT reason_categories_version()").fetchall()[0][0]
    _set_meta(con, "reason_categories_version", version)
    con.execute("COMMIT")


def _categories_current(con) -> bool:
    try:
        return bool(con.execute("SELECT stored_categories_current()").fetchall()[0][0])
    except duckdb.Error:
        return False


def _meta(con, key: str) -> str | None:
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def _set_meta(con, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


@contextlib.contextmanager
def transaction(con, committing: Callable = contextlib.nullcontext):
    """BEGIN … COMMIT around the block, rolled back when the block (or the COMMIT) fails;
    ``committing()`` is a context around the COMMIT (the build times it)."""
    con.execute("BEGIN")
    try:
        yield
        with committing():
            con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has rolled back already
            con.execute("ROLLBACK")
        raise


def open_for_writing(
    path: str,
    *,
    tz: str,
    wait: float = 0.0,
    on_upgrade: Callable[[], None] | None = None,
    on_wait: Callable[[IndexBusy], None] | None = None,
):
    con = connect(path, read_only=False, wait=wait, on_wait=on_wait)
    try:
        # an upgrade works the stored views out again from every event: capped, DuckDB spills
        # to disk past the cap (20 M lines: 1.2 GB and 132 s, against 3.1 GB and 112 s
        # uncapped); a build then sets its own cap for its batches
        con.execute(f"SET memory_limit = '{UPGRADE_MEMORY_MB}MB'")
        migrate(con, path, on_upgrade)
    except (duckdb.IOException, duckdb.FatalException) as exc:
        close_quietly(con)
        raise write_failure(path, exc, committed=0) from None
    try:
        con.execute("SET TimeZone = ?", [tz])
    except duckdb.Error as exc:
        close_quietly(con)
        raise errors.UsageError(
            f"--tz: cannot use time zone {tz!r}: {first_line(str(exc))}"
        ) from None
    return con


def line_count(con) -> int | None:
    """The lines the index holds, or None when the connection can no longer say (a full
    disk or damage has invalidated it)."""
    try:
        return con.execute("SELECT count(*) FROM lines").fetchall()[0][0]
    except duckdb.Error:
        return None


def close_quietly(con) -> None:
    """Close a connection that may have failed already (a full disk, an interrupt)."""
    with contextlib.suppress(duckdb.Error):
        con.close()


def event_tables(con) -> dict[str, list[str]]:
    """The ev_* tables and their columns, as the schema on disk has them."""
    rows = con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
        "WHERE table_name LIKE 'ev\\_%' ESCAPE '\\' AND NOT internal "
        "AND database_name = current_database() AND schema_name = 'main' "
        "GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    return dict(rows)


def db_size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + ".wal") if os.path.exists(p))
