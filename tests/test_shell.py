"""The interactive shell, driven through its real prompt (prompt_toolkit's pipe input) and,
for Ctrl-C, through a pseudo-terminal with the real `mailidx sql` process."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import sys
import time
from pathlib import Path

import duckdb
import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from mailidx import store
from mailidx.shell import Shell

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("sh")
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    return idx


def drive(index, keys: str, capsys) -> tuple[str, str]:
    """Type keys into a shell on the index; return what it printed (stdout, stderr)."""
    con = store.connect(str(index.db), read_only=True)
    out = io.StringIO()
    shell = Shell(con, str(index.db), out=out)
    with create_pipe_input() as pipe:
        pipe.send_text(keys + "\x04")  # Ctrl-D leaves
        shell.loop(shell.session(input=pipe, output_=DummyOutput()))
    con.close()
    return out.getvalue(), capsys.readouterr().err


def test_multi_line_statement_runs_when_it_ends_with_a_semicolon(index, capsys):
    out, _ = drive(
        index,
        ".mode csv\rSELECT count(*) AS n\rFROM messages\rWHERE final = 'bounced'\r;\r",
        capsys,
    )
    assert out.strip().splitlines() == ["n", "5"]


def test_an_error_is_one_line_and_the_shell_goes_on(index, capsys):
    out, err = drive(index, "SELEC 1;\r.mode csv\rSELECT 41 + 1 AS answer;\r", capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "syntax error" in errors[0].lower()
    assert "answer\n42" in out


def test_dot_commands(index, capsys, tmp_path):
    target = tmp_path / "once.csv"
    keys = (
        ".mode csv\r.schema recipients\r"
        f".once {target}\rSELECT 1 AS one;\r"
        ".q bounced --reason size\r.help\r"
    )
    out, _ = drive(index, keys, capsys)
    assert "status,VARCHAR" in out.replace('"', "")  # the described columns
    assert target.read_text() == "one\n1\n"
    assert "buyer@big.test" in out
    assert ".trace TERM" in out and ".mode table|csv|json|jsonl|line" in out


def test_writing_is_refused_in_a_read_only_shell(index, capsys):
    _, err = drive(index, "DROP VIEW messages;\r", capsys)
    assert "start it with --write" in err
    assert index.query("SELECT count(*) FROM messages") == [(93,)]


def test_completion_offers_views_and_columns(index, capsys):
    con = store.connect(str(index.db), read_only=True)
    shell = Shell(con, str(index.db))
    session = shell.session(input=create_pipe_input().__enter__(), output_=DummyOutput())
    from prompt_toolkit.document import Document

    def complete(text: str) -> set[str]:
        return {c.text for c in session.completer.get_completions(Document(text), None)}

    assert "recipients" in complete("SELECT * FROM recip")
    assert "reason_category" in complete("SELECT reason_cat")
    assert ".trace" in complete(".tr")
    con.close()


def test_completion_learns_a_new_view_after_ddl_with_write(tmp_path, capsys):
    from tests.conftest import Mailidx

    idx = Mailidx(tmp_path / "w.duckdb", tmp_path)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    con = duckdb.connect(str(idx.db))
    shell = Shell(con, str(idx.db), write=True, out=io.StringIO())
    assert "my_bounces" not in shell.words
    shell.handle("CREATE VIEW my_bounces AS SELECT * FROM recipients WHERE status = 'bounced';")
    assert "my_bounces" in shell.words
    con.close()


def test_ctrl_c_cancels_a_long_query_and_the_shell_goes_on(index):
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command on a terminal
        os.environ["MAILIDX_DB"] = str(index.db)
        os.execv(sys.executable, [sys.executable, "-m", "mailidx", "sql"])
    seen = b""

    def read_until(marker: bytes, timeout: float = 30) -> bytes:
        nonlocal seen
        end = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        return seen

    try:
        assert b"mailidx>" in read_until(b"mailidx>")
        seen = b""
        os.write(fd, b"SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3;\r")
        read_until(b"\x1b[?2004l")  # the prompt has closed: the query is running
        time.sleep(1.5)
        os.write(fd, b"\x03")  # Ctrl-C
        if b"query cancelled" not in read_until(b"query cancelled", timeout=10):
            os.write(fd, b"\x03")  # a loaded machine may not have started the query yet
        assert b"query cancelled" in read_until(b"query cancelled")
        seen = b""
        os.write(fd, b"SELECT 6 * 7 AS answer;\r")
        assert b"42" in read_until(b"42")
        os.write(fd, b"\x04")  # Ctrl-D
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def test_tab_completes_a_view_name_in_a_real_terminal(index):
    """tmux runs the shell on a real terminal; Tab completes as a person would see it."""
    import shutil
    import subprocess

    if not shutil.which("tmux"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the terminal test (install tmux)")
        pytest.skip("tmux is not installed")
    name = f"mailidx-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout

    def screen_has(text: str, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in tmux("capture-pane", "-t", name, "-p"):
                return True
            time.sleep(0.2)
        return False

    command = f"env MAILIDX_DB={index.db} {sys.executable} -m mailidx sql"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40", command)
    try:
        assert screen_has("mailidx>")
        tmux("send-keys", "-t", name, "-l", "SELECT 'rows=' || count(*) AS r FROM message_fl")
        tmux("send-keys", "-t", name, "Tab")
        assert screen_has("FROM message_flows")
        tmux("send-keys", "-t", name, "-l", "\\;")  # a bare ; separates tmux commands
        tmux("send-keys", "-t", name, "Enter")
        assert screen_has("rows=93")
    finally:
        tmux("kill-session", "-t", name)
