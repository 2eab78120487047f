"""Real systemd journal files for the tests, made without a running journald.

The test writes journal entries in the journal export format and Debian's
``systemd-journal-remote`` turns them into a ``.journal`` file that ``journalctl --file`` reads
(appending to it when it exists). The same entries written as an RFC 3339 syslog file are what
the journal's index must equal.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REMOTE = next(
    (
        p
        for p in ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
        if os.path.exists(p)
    ),
    None,
)
needs_journal = pytest.mark.skipif(
    REMOTE is None or shutil.which("journalctl") is None,
    reason="needs journalctl and systemd-journal-remote (apt-get install systemd-journal-remote; "
    ".ci/install-system-deps.sh)",
)
BOOT = "0123456789abcdef0123456789abcdef"
MACHINE = "fedcba9876543210fedcba9876543210"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class Entry:
    realtime: int  # microseconds since the epoch
    host: str
    identifier: str
    pid: int
    message: bytes

    @property
    def postfix(self) -> bool:
        return self.identifier.startswith("postfix")

    def syslog_line(self) -> bytes:
        """The line rsyslog would write for it with RFC 3339 times (in UTC)."""
        when = EPOCH + dt.timedelta(microseconds=self.realtime)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
        return f"{stamp} {self.host} {self.identifier}[{self.pid}]: ".encode() + self.message


def from_syslog(lines: list[str], start: dt.datetime, step_us: int = 1000) -> list[Entry]:
    """Entries from BSD syslog lines (``Nov 27 06:25:01 mx1 postfix/smtpd[2150]: …``), dated
    on ``start``'s day at the lines' times, ``step_us`` apart within the same second."""
    out = []
    for i, line in enumerate(lines):
        clock, rest = line[7:15], line[16:]
        host, rest = rest.split(" ", 1)
        tag, message = rest.split(": ", 1)
        identifier, _, pid = tag.partition("[")
        hh, mm, ss = map(int, clock.split(":"))
        when = start.replace(hour=hh, minute=mm, second=ss, microsecond=0)
        realtime = int((when - EPOCH).total_seconds()) * 1_000_000 + (i * step_us) % 1_000_000
        out.append(Entry(realtime, host, identifier, int(pid.rstrip("]") or 0), message.encode()))
    return out


def _field(name: str, value: bytes) -> bytes:
    """NAME=value, or the binary form (name, newline, 64-bit length, bytes) for a value that
    is not plain ASCII text (journal-remote reads the __ fields in the text form only)."""
    if value.isascii() and b"\n" not in value:
        return name.encode() + b"=" + value + b"\n"
    return name.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"


def export(entries: list[Entry], seqnum_from: int = 1) -> bytes:
    """The journal export format of ``entries``."""
    out = []
    for i, e in enumerate(entries):
        fields = [
            _field("__CURSOR", f"s=0;i={seqnum_from + i}".encode()),
            _field("__REALTIME_TIMESTAMP", str(e.realtime).encode()),
            _field("__MONOTONIC_TIMESTAMP", str(seqnum_from + i).encode()),
            _field("_BOOT_ID", BOOT.encode()),
            _field("_MACHINE_ID", MACHINE.encode()),
            _field("_HOSTNAME", e.host.encode()),
            _field("SYSLOG_IDENTIFIER", e.identifier.encode()),
            _field("_PID", str(e.pid).encode()),
            _field("SYSLOG_FACILITY", b"2"),
            _field("PRIORITY", b"6"),
            _field("MESSAGE", e.message),
        ]
        out.append(b"".join(fields) + b"\n")
    return b"".join(out)


def write_journal(path: Path, entries: list[Entry]) -> None:
    """Write (or append) ``entries`` to the journal file ``path``."""
    source = path.with_name(path.name + f".{os.getpid()}.export")
    source.write_bytes(export(entries))
    try:
        subprocess.run(
            [REMOTE, f"--output={path}", str(source)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    finally:
        source.unlink()


def write_syslog(path: Path, entries: list[Entry]) -> None:
    """The Postfix entries as a syslog file, one line each, in the journal's order."""
    path.write_bytes(b"".join(e.syslog_line() + b"\n" for e in entries if e.postfix))
