"""Log files followed by their inode through rotations, and the paths that name them.

Each look expands the paths again (a file or directory that appears later is picked up) and
looks at every followed file through the descriptor it keeps open, by the indexer's own rules:
a file is known by its first bytes, and ``files.bytes_done`` is where its next line starts. A
followed file keeps its descriptor after it is renamed or deleted and is read to its end before
it is let go, so lines a writer adds during a rotation are not lost.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mailidx.ingest import files, indexer, sources
from mailidx.ingest.sources import Source, SourceError
from mailidx.watch.batch import WatchError
from mailidx.watch.cursor import Cursor

MAGIC = re.compile(r"[*?[]")
SETTLE = 1.0  # a compressed file written to this recently is left for a later look


def is_pattern(path: str) -> bool:
    return bool(MAGIC.search(path))


def check_paths(patterns: list[str]) -> None:
    """Refuse what cannot be followed: stdin, a directory."""
    for path in patterns:
        if path == "-":
            raise WatchError("watch follows files, not stdin; pipe into `mailidx build -` instead")
        if not is_pattern(path) and os.path.isdir(path):
            raise WatchError(
                f"{path}: is a directory; give the log files in it (e.g. '{path}/maillog*')"
            )


def expand(patterns: list[str]) -> list[str]:
    """The files the paths name now: globs expanded, literal paths that exist."""
    found: dict[str, None] = {}
    for pattern in patterns:
        names = sorted(glob.glob(pattern)) if is_pattern(pattern) else [pattern]
        for name in names:
            if os.path.isfile(name):
                found[name] = None
    return list(found)


def watched_dirs(patterns: list[str]) -> set[str]:
    """The existing directories the files are (or will be) in."""
    dirs: set[str] = set()
    for pattern in patterns:
        parent = os.path.dirname(os.path.abspath(pattern))
        candidates = glob.glob(parent) if is_pattern(parent) else [parent]
        dirs.update(d for d in candidates if os.path.isdir(d))
    return dirs


def is_compressed(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return sources.detect_compression(f.read(6)) is not None
    except OSError:
        return False


def signature(st: os.stat_result) -> tuple:
    """A file as it is now: its inode, size and times (a compressor still writing changes it)."""
    return ((st.st_dev, st.st_ino), st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def signature_of(path: str) -> tuple | None:
    try:
        return signature(os.stat(path))
    except OSError:
        return None


def indexed_bytes(known: list[files.FileState], head: bytes) -> int:
    """How much of the file starting with ``head`` the index has (0: none of it)."""
    state = indexer.match_file(known, head)
    return state.bytes_done if state else 0


@dataclass
class Followed:
    """A log file the loop follows, by its inode: its name may change, its descriptor stays."""

    key: tuple[int, int]
    path: str
    source: Source  # as opened: head, compression, the open stream
    cursor: Cursor
    signature: tuple  # inode, size and times when opened (a compressed file does not change)
    size: int = 0  # plain files: bytes in the file at the last look
    mtime: float | None = None
    settled: tuple[bytes, int] | None = None  # (head, size) a batch read to the end: no work
    gone_at: float | None = None  # renamed out of the paths or deleted: drained, then closed
    done: bool = False  # a compressed file read to its end
    marks: deque = field(default_factory=deque)  # (when seen, size): for the lag in seconds

    @property
    def compressed(self) -> bool:
        return self.source.compression is not None

    @property
    def head(self) -> bytes:
        return self.source.head

    def read_head(self) -> None:
        """A plain file's first bytes as they are now (a copytruncated file starts anew)."""
        self.source.head = os.pread(self.source.stream.fileno(), sources.HEAD_BYTES, 0)

    def close(self) -> None:
        self.source.close()


@dataclass
class Look:
    """What one look at the files found."""

    work: list[Followed]  # the files with lines to index: renamed-away ones, then the oldest
    present: list[tuple[str, bytes]]  # (path, head) of the files the paths name now
    files: int  # followed
    lag_bytes: int
    lag_seconds: float


class Following:
    """The files the paths name, each followed by its inode until it is read to its end."""

    def __init__(self, patterns: list[str], notify: Callable[[str], None], drain: float) -> None:
        self.patterns = patterns
        self.notify = notify
        self.drain = drain  # a renamed or deleted file is let go after this long without growing
        self.followed: dict[tuple[int, int], Followed] = {}
        self.finished: set[tuple] = set()  # signatures of compressed files read to the end
        self.failed: dict[str, tuple] = {}  # path → its signature when it could not be read

    def look(self, known: list[files.FileState], now: float) -> Look:
        """Open new files; notice renames, deletions and growth."""
        seen = {f.key for f in map(self._follow, expand(self.patterns)) if f is not None}
        present = [(f.path, f.head) for f in self.followed.values() if f.key in seen and f.head]
        work, lag, oldest = [], 0, now
        for key, followed in list(self.followed.items()):
            pending = self._look(followed, known, key in seen, now)
            if followed.done or (
                not pending and followed.gone_at and now - followed.gone_at > self.drain
            ):
                self._let_go(followed)
            elif pending:
                work.append(followed)
                lag += max(pending, 0)
                if followed.marks:
                    oldest = min(oldest, followed.marks[0][0])
        work.sort(key=lambda f: (f.gone_at is None, f.mtime or 0))
        return Look(work, present, len(self.followed), lag, now - oldest)

    def close(self) -> None:
        for followed in self.followed.values():
            followed.close()

    def _follow(self, path: str) -> Followed | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino)
        if key in self.followed:
            followed = self.followed[key]
            followed.path = path  # renamed: the index takes the new name with the next batch
            followed.gone_at = None
            return followed
        sign = signature(st)
        if sign in self.finished or self.failed.get(path) == sign:
            return None
        if st.st_size == 0 or (time.time() - st.st_mtime < SETTLE and is_compressed(path)):
            return None  # nothing to know it by yet, or a compressor still writing it
        try:
            source = sources.open_source(path)
        except SourceError as exc:
            self.failed[path] = sign
            self.notify(str(exc))
            return None
        self.failed.pop(path, None)
        compressed = source.compression is not None
        if not compressed:
            st = os.fstat(source.stream.fileno())  # the file actually opened
            key = (st.st_dev, st.st_ino)
            if key in self.followed:  # replaced between stat and open
                source.close()
                return self.followed[key]
        followed = Followed(key, path, source, Cursor(source.stream, compressed), sign)
        followed.mtime = source.mtime
        self.followed[key] = followed
        return followed

    def _look(
        self, followed: Followed, known: list[files.FileState], present: bool, now: float
    ) -> int:
        """Bytes waiting to be indexed in a followed file (-1: some, how many is not known)."""
        if not present:
            followed.gone_at = followed.gone_at or now
        if followed.compressed:
            return self._look_compressed(followed, known)
        try:
            st = os.fstat(followed.source.stream.fileno())
            followed.read_head()
        except OSError:
            return 0
        if st.st_nlink == 0:
            followed.gone_at = followed.gone_at or now
        grew = st.st_size != followed.size
        followed.size, followed.mtime = st.st_size, st.st_mtime
        head = followed.head
        if (b"\n" not in head and len(head) < sources.HEAD_BYTES) or followed.settled == (
            head,
            st.st_size,
        ):
            followed.marks.clear()  # empty, a first line not whole yet, or read to the end
            return 0
        pending = st.st_size - indexed_bytes(known, head)
        if pending <= 0:
            followed.marks.clear()
            return 0
        if grew or not followed.marks:
            followed.marks.append((now, st.st_size))
        return pending

    def _look_compressed(self, followed: Followed, known: list[files.FileState]) -> int:
        """A compressed file is done when the index has all of it; moving its cursor up to the
        index's offset (decompressing) happens here, outside a batch."""
        done = indexed_bytes(known, followed.head)
        cursor = followed.cursor
        if done < len(followed.head):
            return -1
        try:
            if cursor.seek(done) < done or cursor.at_end():
                followed.done = True
                return 0
        except sources.READ_ERRORS as exc:
            self.notify(f"{followed.path}: {'; '.join(sources.describe_read_error(exc))}")
            followed.done = True
            return 0
        return -1

    def _let_go(self, followed: Followed) -> None:
        followed.close()
        del self.followed[followed.key]
        if followed.compressed:
            self.finished.add(followed.signature)
