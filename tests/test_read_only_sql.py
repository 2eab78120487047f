"""`mailidx sql` without --write reads the index and nothing else, from the CLI and the shell:
every write path is refused with a clear message, every public view still reads, and
mailidx's own commands work with the same controls in place."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from mailidx.answers.schema import PUBLIC
from tests.conftest import Mailidx
from tests.hostile import only_error

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HINT = "(a read-only session reads only the index: add --write to write, or to read other files)"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ro")
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    (tmp / "secret.txt").write_text("user,password\nroot,TOPSECRET\n")
    return idx


def attempts(tmp: Path) -> dict[str, Path | None]:
    """Each way out of the index, with the file it would read or create (None: none)."""
    secret = tmp / "secret.txt"
    return {
        f"SELECT * FROM read_csv('{secret}')": None,
        f"SELECT * FROM read_text('{secret}')": None,
        f"SELECT * FROM glob('{tmp}/*')": None,
        f"COPY (SELECT raw FROM log_lines) TO '{tmp}/out.csv'": tmp / "out.csv",
        f"COPY log_lines TO '{tmp}/out.parquet' (FORMAT parquet)": tmp / "out.parquet",
        f"EXPORT DATABASE '{tmp}/export'": tmp / "export",
        f"ATTACH '{tmp}/new.duckdb' (READ_WRITE)": tmp / "new.duckdb",
        f"ATTACH '{tmp}/new2.duckdb' AS other": tmp / "new2.duckdb",
        "INSTALL httpfs": None,
        "LOAD httpfs": None,
        f"LOAD '{tmp}/evil.duckdb_extension'": None,
        "SET enable_external_access = true": None,
        "SET allowed_directories = ['/']": None,
        f"SET allowed_paths = ['{secret}']": None,
        "SET allow_community_extensions = true": None,
        "SET allow_unsigned_extensions = true": None,
        f"SET temp_directory = '{tmp}/spill'": tmp / "spill",
        f"SET log_query_path = '{tmp}/queries.log'": tmp / "queries.log",
        # turning autoinstall back on changes nothing: the install itself is refused
        "SET autoinstall_known_extensions = true; SET autoload_known_extensions = true; "
        f"SELECT * FROM sqlite_scan('{tmp}/x.db', 't')": None,
        "DELETE FROM lines": None,
        "DROP VIEW messages": None,
        "CREATE TABLE mine AS SELECT 1": None,
    }


def assert_nothing_escaped(tmp: Path, creates: Path | None) -> None:
    if creates is not None:
        assert not creates.exists(), creates


def test_every_write_path_is_refused_from_the_cli_and_views_still_read(index):
    tmp = index.db.parent
    before = index.query("SELECT count(*) FROM log_lines")[0][0]
    for sql, creates in attempts(tmp).items():
        proc = index.run("sql", sql, "--format", "csv", check=False)
        message = only_error(proc)
        assert b"TOPSECRET" not in proc.stdout + proc.stderr
        assert message.endswith(HINT) or "read-only" in message, (sql, message)
        assert_nothing_escaped(tmp, creates)
    for view in PUBLIC:
        proc = index.run("sql", f"SELECT count(*) AS n FROM {view}", "--format", "csv")
        n = int(proc.stdout.decode().splitlines()[1])
        assert n > 0 or view == "journals", view  # this index read no journal
    # a session's own settings and temporary objects stay available
    proc = index.run(
        "sql",
        "SET TimeZone = 'Asia/Tokyo'; CREATE TEMP TABLE t AS SELECT 2 AS x; "
        "SELECT current_setting('TimeZone') AS tz, x FROM t",
        "--format",
        "csv",
    )
    assert proc.stdout.decode().splitlines()[1] == "Asia/Tokyo,2"
    assert index.query("SELECT count(*) FROM log_lines")[0][0] == before


def test_mailidx_commands_work_with_the_read_only_controls(index):
    queue_id = index.query("SELECT queue_id FROM messages WHERE final = 'bounced' LIMIT 1")[0][0]
    for args in (
        ("query", "bounced", "--format", "csv"),
        ("query", "sent", "--since", "2026-01-01", "--tz", "Europe/Paris", "--format", "csv"),
        ("trace", queue_id, "--format", "json"),
        ("summary", "--format", "json"),
        ("status", "--format", "json"),
        ("schema", "messages", "--format", "csv"),
    ):
        proc = index.run(*args)
        assert proc.stdout and not proc.stderr.strip().startswith(b"mailidx:"), args


def test_write_is_the_documented_way_to_export(index, tmp_path):
    target = tmp_path / "bounced.csv"
    index.run("sql", "--write", f"COPY (SELECT * FROM messages) TO '{target}'")
    assert target.read_text().startswith("message_key,")


class Terminal:
    """The real `mailidx sql` shell on a pseudo-terminal."""

    def __init__(self, index: Mailidx) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the shell on the terminal
            os.environ.update(index.env())
            os.execv(sys.executable, [sys.executable, "-m", "mailidx", "sql"])
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 30) -> bytes:
        end = time.monotonic() + timeout
        while marker not in self.seen and time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    break
        return self.seen

    def run(self, sql: str, marker: bytes) -> bytes:
        self.seen = b""
        os.write(self.fd, sql.encode() + b";\r")
        return self.read_until(marker)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, b"\x04")
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_every_write_path_is_refused_in_the_shell_and_views_still_read(index):
    tmp = index.db.parent
    term = Terminal(index)
    try:
        assert b"read-only" in term.read_until(b"mailidx>")
        for sql, creates in attempts(tmp).items():
            seen = term.run(sql, b"start it with --write")
            assert b"error:" in seen and b"start it with --write" in seen, (sql, seen)
            assert b"TOPSECRET" not in seen
            assert_nothing_escaped(tmp, creates)
        term.run(".mode csv", b"mailidx>")
        for view in PUBLIC:
            seen = term.run(f"SELECT 'rows=' || count(*) AS n FROM {view}", b"rows=")
            assert b"rows=" in seen, (view, seen)
            assert b"rows=0" not in seen or view == "journals", (view, seen)  # no journal read
    finally:
        term.close()
