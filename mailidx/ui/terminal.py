"""What the terminal shows while work runs, on stderr: a one-line failure, notices, the build's
progress bar, watch's status line; and Ctrl-C/SIGTERM turned into a clean stop of a build."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import typer

from mailidx.errors import MailidxError
from mailidx.ui import output


def fail(message: str | MailidxError) -> None:
    """One line on stderr, exit status 1 (or the error's own)."""
    output.note(f"mailidx: {message}")
    raise typer.Exit(getattr(message, "exit_code", 1))


@contextlib.contextmanager
def failing_plainly(*kinds: type[BaseException]):
    """These errors end the command with their message on one line and exit status 1, whatever
    their own status (report, export and prune have always ended a bad time with 1)."""
    try:
        yield
    except kinds as exc:
        fail(str(exc))


def notice(message: str) -> None:
    output.note(f"mailidx: {message}")


class Interruptible:
    """Ctrl-C or SIGTERM during a build: the running statement is interrupted (its batch
    rolls back) and the build stops before the next one."""

    def __init__(self) -> None:
        self.con = None
        self.hit = False
        self.before: dict = {}

    def handle(self, signum, frame) -> None:
        self.hit = True
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.interrupt()

    def __enter__(self) -> Interruptible:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.before[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.before.items():
            signal.signal(signum, handler)


class progress_bar:
    """A rich progress bar over the bytes to read, on a terminal, for runs that take a while."""

    def __init__(self, paths: list[str], quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.total = sum(_size(p) for p in paths)
        self.bar = None

    def __enter__(self):
        if not self.enabled or self.total < (64 << 20):
            return None
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            "indexing",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("index", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class StatusLine:
    """One line on stderr, redrawn in place on a terminal; notices print above it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.drawn = 0.0

    def show(self, status) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.drawn < 0.5:
            return
        self.drawn = now
        text = (
            f"watching {status.files} file{'' if status.files == 1 else 's'} · "
            f"{status.lines:,} lines · "
            f"{status.rate:,.0f} lines/s · lag {status.lag_bytes:,} bytes, "
            f"{status.lag_seconds:.1f} s"
        )
        if status.holder:
            text += f" · waiting {status.blocked_seconds:.0f} s for {status.holder} to close"
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()

    def notice(self, message: str) -> None:
        self.clear()
        notice(message)

    def clear(self) -> None:
        if self.enabled and self.drawn:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.drawn = 0.0
