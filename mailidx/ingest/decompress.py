"""Decompressing gzip, bzip2 and xz data a small piece of input at a time.

The formats' own streaming decompressors are given the input a little at a time: a file cut
short (a crashed logrotate, a partial copy) gives every byte ``zcat``, ``bzcat`` or ``xzcat``
would give before the damage, then an error naming how far it got. Several members
(``cat a.gz b.gz``) are read one after the other, as the tools do.
"""

from __future__ import annotations

import bz2
import lzma
import zlib

READ_BLOCK = 1 << 20
FEED_BYTES = 16 << 10  # compressed bytes given to a decompressor at a time
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}


class Truncated(EOFError):
    """Compressed data that ends before its end marker, after ``at`` decompressed bytes."""

    def __init__(self, at: int) -> None:
        super().__init__(f"compressed data ends early after {at:,} bytes")
        self.at = at


class Damaged(ValueError):
    """Compressed data that cannot be decompressed past ``at`` decompressed bytes."""

    def __init__(self, at: int, reason: str) -> None:
        super().__init__(reason)
        self.at = at


def _decompressor(kind: str):
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return bz2.BZ2Decompressor() if kind == "bzip2" else lzma.LZMADecompressor()


class Decompressed:
    """The decompressed bytes of a gzip, bzip2 or xz file or stream.

    Input goes to the decompressor ``FEED_BYTES`` at a time and output comes out at most
    ``READ_BLOCK`` at a time, so every byte decompressed before damage or a cut is handed out
    before the error (``Truncated`` or ``Damaged``) is raised. Seeking forward reads on;
    seeking back starts again from the beginning (a file only).
    """

    def __init__(self, raw, kind: str) -> None:
        self.raw, self.kind = raw, kind
        self.mtime: float | None = None
        self._restart()

    def _restart(self) -> None:
        self.unpacker = _decompressor(self.kind)
        self.input = b""  # compressed bytes not given to the decompressor yet
        self.buffer = b""  # decompressed, not handed out yet
        self.pos = 0  # decompressed bytes handed out
        self.done = False

    def _input(self) -> bytes:
        data, self.input = self.input, b""
        return data or self.raw.read(FEED_BYTES)

    def _next_member(self) -> bool:
        """After one member's end: is another one there (``cat a.gz b.gz``)?"""
        rest = self.unpacker.unused_data + self.input
        magic = next(m for m, k in MAGIC.items() if k == self.kind)
        while len(rest) < len(magic):
            more = self.raw.read(FEED_BYTES)
            if not more:
                break
            rest += more
        if not rest.startswith(magic):
            return False  # the end (trailing zeros or garbage are not log lines)
        self.unpacker = _decompressor(self.kind)
        self.input = rest
        return True

    def _more(self) -> bytes:
        """The next decompressed bytes; b"" at the end."""
        at = self.pos + len(self.buffer)
        while True:
            unpacker = self.unpacker
            if unpacker.eof and not self._next_member():
                return b""
            unpacker = self.unpacker
            tail = getattr(unpacker, "unconsumed_tail", b"")
            if tail or not getattr(unpacker, "needs_input", True):
                data = tail
            else:
                data = self._input()
                if not data:
                    out = unpacker.flush() if self.kind == "gzip" else b""
                    if out:
                        return out
                    raise Truncated(at)
            try:
                out = unpacker.decompress(data, READ_BLOCK)
            except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
                raise Damaged(
                    at, f"compressed data is damaged after {at:,} bytes ({exc})"
                ) from None
            if out:
                return out

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (fewer before the end too, as a raw file gives); b"" at the end."""
        if not self.buffer and not self.done:
            self.buffer = self._more()
            self.done = not self.buffer
        data = self.buffer if n < 0 or n >= len(self.buffer) else self.buffer[:n]
        self.buffer = self.buffer[len(data) :]
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset < self.pos:
            self.raw.seek(0)
            self._restart()
        while self.pos < offset:
            if not self.read(min(offset - self.pos, READ_BLOCK)):
                break
        return self.pos

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()


def detect_compression(first_bytes: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if first_bytes.startswith(magic):
            return name
    return None


def gzip_mtime(header: bytes) -> float | None:
    """The modification time a gzip header records (0: none)."""
    return float(int.from_bytes(header[4:8], "little")) or None if len(header) >= 8 else None
