"""Watchdog wake-ups: an event about one of the followed names sets an event the loop waits
on. Watchdog (inotify, or polling) only wakes the loop up; the loop looks at the files itself.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
from collections.abc import Callable


class Waker:
    """Watchdog handler: any event about a followed name wakes the loop; the loop looks."""

    def __init__(self, relevant: Callable[[str], bool], wake: threading.Event) -> None:
        self.relevant = relevant
        self.wake = wake

    def dispatch(self, event) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if event.is_directory or any(p and self.relevant(os.fsdecode(p)) for p in paths):
            self.wake.set()


class Wakeups:
    """A watchdog observer on the directories the followed names are in, setting ``wake``."""

    def __init__(
        self,
        patterns: list[str],
        wake: threading.Event,
        notify: Callable[[str], None],
        poll: bool = False,
        rescan: float = 1.0,
    ) -> None:
        self.absolute = [os.path.abspath(p) for p in patterns]
        self.wake = wake
        self.notify = notify
        self.poll = poll  # watchdog's PollingObserver instead of inotify
        self.rescan = rescan
        self.observer = None
        self.watches: dict[str, tuple[object, int]] = {}

    def start(self) -> None:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        self.observer = PollingObserver(timeout=self.rescan) if self.poll else Observer()
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def relevant(self, path: str) -> bool:
        """An event about one of the followed names (not, say, the index in the same folder)."""
        return any(fnmatch.fnmatchcase(path, p) for p in self.absolute)

    def sync(self, directories: set[str]) -> None:
        """Watch the directories that exist now; a directory made later is watched from then."""
        wanted = {}
        for directory in directories:
            try:
                wanted[directory] = os.stat(directory).st_ino
            except OSError:
                continue
        for directory, (watch, ino) in list(self.watches.items()):
            if wanted.get(directory) != ino:
                self._unschedule(watch)
                del self.watches[directory]
        for directory, ino in wanted.items():
            if directory in self.watches:
                continue
            try:
                handler = Waker(self.relevant, self.wake)
                watch = self.observer.schedule(handler, directory, recursive=False)
            except OSError as exc:
                self.notify(f"{directory}: cannot watch ({exc.strerror or exc}); rescanning")
                watch = None
            self.watches[directory] = (watch, ino)

    def _unschedule(self, watch) -> None:
        if watch is None:
            return
        with contextlib.suppress(KeyError, OSError):
            self.observer.unschedule(watch)
