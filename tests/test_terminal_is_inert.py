"""Log text on a terminal is inert in every format and command: escape sequences and
bidirectional overrides are shown, not obeyed; CSV into a pipe stays byte-exact; errors about
a file name with a newline stay on one line."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys

from tests.conftest import Mailidx, syslog_lines, write_lines
from tests.hostile import only_error

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # write to the clipboard
TITLE = "\x1b]0;pwned\x07"  # set the window title
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
RLO = "\u202e"  # right-to-left override
HOSTILE = (
    "Nov 27 10:00:00 mx1 postfix/smtpd[123]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: "
    f"554 5.7.1 <x@example.com>: Relay access denied; from=<a{OSC52}@evil.test> "
    f"to=<x@example.com> proto=ESMTP helo=<{TITLE}{CLEAR}{RLO}moc.live>"
)
QUEUED = (
    f"Nov 27 10:00:01 mx1 postfix/cleanup[124]: 4F9D5F4B8C: message-id=<{TITLE}{RLO}di@evil.test>"
)
# what must never reach a terminal as such (rich's own styling may use other sequences)
RAW_BYTES = (b"\x1b]", b"\x07", CLEAR.encode(), RLO.encode())


def on_terminal(mailidx: Mailidx, *args: str) -> bytes:
    """What `mailidx ARGS` writes to a terminal (stdout and stderr on one pseudo-terminal)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailidx", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=mailidx.env(COLUMNS="400"),
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        seen += data
    proc.wait(timeout=60)
    os.close(leader)
    return seen


def hostile_index(tmp_path) -> Mailidx:
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    log = tmp_path / f"mail{TITLE}\nlog"  # a file name that is itself hostile
    write_lines(log, [*syslog_lines(20), HOSTILE, QUEUED])
    mailidx.build(log, "--year", "2026")
    return mailidx


def test_every_format_on_a_terminal_shows_escapes_instead_of_obeying_them(tmp_path):
    mailidx = hostile_index(tmp_path)
    runs = [  # each command, and the hostile text it shows (after its ESC)
        (("sql", "SELECT raw, file FROM log_lines WHERE kind = 'reject'"), "]0;pwned"),
        (("query", "rejected"), "]52;c;cHduZWQ="),
        (("status",), "]0;pwned"),  # the file name
        (("trace", "4F9D5F4B8C"), "]0;pwned"),
    ]
    for args, tail in runs:
        for fmt in ("csv", "table", "json", "jsonl"):
            if args[0] == "trace" and fmt != "json":
                fmt = "text"
            if args[0] == "status" and fmt == "jsonl":
                continue
            seen = on_terminal(mailidx, *args, "--format", fmt)
            for raw in RAW_BYTES:
                assert raw not in seen, (args, fmt, raw, seen)
            escaped = ("\\u001b" if fmt.startswith("json") else "\\x1b") + tail
            assert escaped in seen.decode(), (args, fmt, seen)


def test_the_shell_csv_mode_on_a_terminal_is_inert(tmp_path):
    from tests.test_read_only_sql import Terminal

    term = Terminal(hostile_index(tmp_path))
    try:
        assert b"mailidx>" in term.read_until(b"mailidx>")
        term.seen = b""
        os.write(term.fd, b".mode csv\r")
        seen = term.run(
            "SELECT 'start:' || raw AS r FROM log_lines WHERE kind = 'reject'", b"live>"
        )
    finally:
        term.close()
    shown = seen[seen.index(b"start:") :]
    assert b"\x1b]0;pwned" not in shown and RLO.encode() not in shown
    assert b"\\x1b]0;pwned\\x07" in shown


def test_csv_into_a_pipe_is_byte_exact(tmp_path):
    mailidx = hostile_index(tmp_path)
    proc = mailidx.run("sql", "SELECT raw, file FROM log_lines ORDER BY line_number")
    rows = list(csv.reader(io.StringIO(proc.stdout.decode(), newline="")))
    assert rows[0] == ["raw", "file"]
    assert rows[-2][0] == HOSTILE and rows[-1][0] == QUEUED
    assert rows[-1][1] == str(tmp_path / f"mail{TITLE}\nlog")


def test_an_error_about_a_file_name_with_a_newline_is_one_line(tmp_path):
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    good = tmp_path / "maillog"
    write_lines(good, syslog_lines(10))
    missing = tmp_path / f"no\nsuch{RLO}.log"
    message = only_error(mailidx.build(missing, good, check=False))
    assert message == f"mailidx: {tmp_path}/no\\nsuch\\u202e.log: no such file"
