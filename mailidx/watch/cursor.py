"""The read position in a followed file during one batch (:class:`Cursor`): what the indexer
may read, where a cut left it, and what a seek back costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from mailidx.ingest import sources


class Cursor:
    """A followed file's bytes (decompressed) as the indexer reads them.

    Reading stops at a byte budget, a deadline or a stop request; the indexer then commits the
    whole lines it has and the rest waits for the next batch. In a compressed file, seeking back
    to the start of a line a cut left unfinished is served from the last block read.
    """

    def __init__(self, stream: BinaryIO, compressed: bool) -> None:
        self.stream = stream
        self.compressed = compressed
        self.end = stream.tell()  # where the underlying stream is
        self.pos = self.end  # where the reader is (≤ end: the rest is in self.last)
        self.last = b""  # the last block read from the stream, ending at self.end
        self.budget = 0
        self.deadline = 0.0
        self.stopped: Callable[[], bool] = lambda: False
        self.cut = False  # reading stopped early: more may be there
        self.eof = False  # reading met the end of the file

    def allow(self, budget: int, deadline: float, stopped: Callable[[], bool]) -> None:
        self.budget, self.deadline, self.stopped = budget, deadline, stopped
        self.cut = self.eof = False

    def read(self, n: int = -1) -> bytes:
        if self.budget <= 0 or time.monotonic() > self.deadline or self.stopped():
            self.cut = True
            return b""
        n = self.budget if n < 0 else min(n, self.budget)
        if self.pos < self.end:
            start = len(self.last) - (self.end - self.pos)
            data = self.last[start : start + n]
        else:
            data = self.stream.read(n)
            self.last = data
            self.end += len(data)
        self.pos += len(data)
        self.budget -= len(data)
        if not data:
            self.eof = True
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == self.pos:
            return offset
        if not self.compressed or offset < self.end - len(self.last):
            self.stream.seek(offset)  # a real seek, or a compressed file read again from its start
            self.end = self.pos = offset
            self.last = b""
        elif offset <= self.end:
            self.pos = offset
        else:
            self.pos = self.end
            while self.pos < offset:
                block = self.stream.read(min(offset - self.pos, sources.READ_BLOCK))
                if not block:
                    break
                self.last = block
                self.end += len(block)
                self.pos = self.end
        return self.pos

    def at_end(self) -> bool:
        """Nothing after the current position (reads one byte ahead, kept for the next read)."""
        if self.pos < self.end:
            return False
        block = self.stream.read(1)
        if block:
            self.last, self.end = block, self.end + 1
        return not block

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()
