"""What the loop tells the user as it goes: lines per second, how far it lags behind the
files, and who keeps the index while it waits (a notice after two seconds, then once a minute,
and one when the index is released)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from mailidx.watch.batch import Status


class Reporter:
    """Keeps ``status`` current between batches and shows it."""

    def __init__(
        self, status: Status, notify: Callable[[str], None], show: Callable[[Status], None]
    ) -> None:
        self.status = status
        self.notify = notify
        self.display = show
        self.rates: deque = deque()  # (when, lines indexed so far), over the last 10 s
        self.blocked_since: float | None = None
        self.told_blocked = 0.0
        self.holders: list[str] = []  # who held the index while watch waited, in turn

    def count(self, lines: int, events: int) -> None:
        """A batch committed these."""
        self.status.lines += lines
        self.status.events += events
        now = time.monotonic()
        self.rates.append((now, self.status.lines))
        while self.rates and now - self.rates[0][0] > 10:
            self.rates.popleft()

    def show(self) -> None:
        now = time.monotonic()
        if self.rates and now - self.rates[-1][0] > 10:
            self.rates.clear()
        if len(self.rates) > 1:
            (t0, n0), (t1, n1) = self.rates[0], self.rates[-1]
            self.status.rate = (n1 - n0) / max(now - t0, t1 - t0, 1.0)
        else:
            self.status.rate = 0.0
        if self.blocked_since is not None:
            self.status.blocked_seconds = now - self.blocked_since
        self.display(self.status)

    def blocked(self, holder: str | None, now: float) -> None:
        """A batch could not open the index: ``holder`` keeps it."""
        self.status.holder = holder or "another process"
        if self.status.holder not in self.holders:
            self.holders.append(self.status.holder)
        if self.blocked_since is None:
            self.blocked_since = now
        waited = now - self.blocked_since
        if waited >= 2.0 and now - self.told_blocked >= 60.0:
            self.told_blocked = now
            self.notify(
                f"index held by {self.status.holder} for {waited:.0f} s; watch waits and "
                f"catches up when it is released ({self.status.lag_bytes:,} bytes behind)"
            )
        self.show()

    def released(self, now: float) -> None:
        """A batch opened the index."""
        if self.blocked_since is None:
            return
        waited = now - self.blocked_since
        if self.told_blocked:
            self.notify(
                f"index released by {', then '.join(self.holders)} after {waited:.0f} s; "
                f"catching up {self.status.lag_bytes:,} bytes"
            )
        self.blocked_since, self.told_blocked, self.holders = None, 0.0, []
        self.status.holder, self.status.blocked_seconds = None, 0.0
