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
from mailidx.ui.shell import Shell

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


def test_a_lake_shell_refuses_files_outside_the_lake(index, tmp_path, capsys):
    from mailidx.lake import views as lakes

    index.run("export", str(tmp_path / "lake"))
    (tmp_path / "outside.csv").write_text("secret\n")
    con = lakes.connect(str(tmp_path / "lake"))
    out = io.StringIO()
    shell = Shell(con, str(tmp_path / "lake"), out=out, lake=True)
    keys = f".mode csv\rSELECT * FROM read_csv('{tmp_path / 'outside.csv'}');\r"
    keys += "SELECT count(*) AS n FROM messages;\r"
    with create_pipe_input() as pipe:
        pipe.send_text(keys + "\x04")
        shell.loop(shell.session(input=pipe, output_=DummyOutput()))
    con.close()
    err = capsys.readouterr().err
    assert "lake's folder" in err and "--write" not in err
    assert "secret" not in out.getvalue()
    assert out.getvalue().strip().splitlines() == ["n", "93"]


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


def test_help_names_mode_line_and_a_table_wider_than_the_screen_points_to_it(
    index, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "80")
    out, err = drive(index, ".help\n", capsys)
    assert ".mode table|csv|json|jsonl|line" in out
    assert "line: one column = value per line, best for a wide row" in " ".join(
        part.strip(" │") for part in out.splitlines()
    ).replace("  ", " ")
    out, err = drive(index, "SELECT 42 AS n;\n", capsys)
    assert "│ 42 │" in out and ".mode line" not in err
    wide = (
        "SELECT queue_id, sender, recipient, response FROM recipients "
        "WHERE status = 'bounced' ORDER BY queue_id LIMIT 1;\n"
    )
    out, err = drive(index, wide, capsys)
    assert "│ 14B2E20C281 │" in out
    assert err.splitlines()[-1] == (
        "(rows wider than the screen are folded: .mode line shows one column per line)"
    )
    out, err = drive(index, ".mode line\n" + wide, capsys)
    assert out.splitlines() == [
        " queue_id = 14B2E20C281",
        "   sender = billing@ok.test",
        "recipient = x@nouser.test",
        " response = host 127.0.0.12[127.0.0.12] said: 550 5.1.1 <x@nouser.test>: Recipient "
        "address rejected: User unknown (in reply to RCPT TO command)",
        "",
    ]
    assert ".mode line" not in err


def test_line_mode_shows_the_null_sender_as_angle_brackets(index, capsys):
    out, _ = drive(
        index,
        ".mode line\nSELECT sender FROM messages WHERE origin = 'bounce' LIMIT 1;\n"
        "SELECT sender FROM rejects WHERE sender IS NULL LIMIT 1;\n",
        capsys,
    )
    assert out.splitlines() == ["sender = <>", "", "sender = (unknown)", ""]


def test_completion_lists_above_the_prompt_and_never_covers_it_in_a_small_pane(index):
    """A 50×8 tmux pane whose prompt is on the last row: Tab lists the candidates above a
    fresh prompt (readline's way) instead of a pop-up over the statement and the prompt."""
    import shutil
    import subprocess

    if not shutil.which("tmux"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the terminal test (install tmux)")
        pytest.skip("tmux is not installed")
    name = f"mailidx-small-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout

    def screen() -> list[str]:
        return [line.rstrip() for line in tmux("capture-pane", "-t", name, "-p").splitlines()]

    def settles_on(last: list[str], timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = [line for line in screen() if line]
            if lines[-len(last) :] == last:
                return True
            time.sleep(0.2)
        return False

    command = f"env MAILIDX_DB={index.db} {sys.executable} -m mailidx sql"
    tmux("new-session", "-d", "-s", name, "-x", "50", "-y", "8", command)
    try:
        assert settles_on(["mailidx>"])
        for n in range(3):  # fill the pane: the prompt is on its last row
            tmux("send-keys", "-t", name, "-l", f"SELECT {n} AS n\\;")
            tmux("send-keys", "-t", name, "Enter")
        assert settles_on(["└───┘", "mailidx>"])
        tmux("send-keys", "-t", name, "-l", "SELECT * FROM message_f")
        tmux("send-keys", "-t", name, "Tab")
        assert settles_on(
            [
                "message_facts       message_facts_live",
                "message_facts_cache message_flows",
                "mailidx> SELECT * FROM message_f",
            ]
        )
        tmux("send-keys", "-t", name, "-l", "lo")
        tmux("send-keys", "-t", name, "Tab")
        assert settles_on(["mailidx> SELECT * FROM message_flows"])
    finally:
        tmux("kill-session", "-t", name)
