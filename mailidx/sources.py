"""Reading log sources: plain, gzip, bzip2 and xz files, and stdin.

A source is read as bytes from a given decompressed offset, in chunks that end on a line
boundary. Nothing here knows about DuckDB; the indexer decides where to start and what a chunk
becomes.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

HEAD_BYTES = 1024  # a file is known by its first bytes (see the indexer)
CHUNK_BYTES = 64 << 20  # one batch: about 500,000 lines
READ_BLOCK = 1 << 20
DEFAULT_GLOBS = ("/var/log/maillog*", "/var/log/mail.log*")
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}
OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


class SourceError(Exception):
    """A source that cannot be read; the message is one line for the user."""


@dataclass
class Source:
    path: str  # as the user gave it; "-" for stdin
    compression: str | None
    mtime: float | None  # for year inference; for gzip, the header's mtime when set
    stream: BinaryIO
    head: bytes  # first bytes of the decompressed content (already consumed from stream)
    final: bool  # compressed files and stdin do not grow: a last line without "\n" counts

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    def close(self) -> None:
        if not self.is_stdin:
            self.stream.close()


def default_paths() -> list[str]:
    found: list[str] = []
    for pattern in DEFAULT_GLOBS:
        found.extend(sorted(glob.glob(pattern)))
    return found


def detect_compression(first_bytes: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if first_bytes.startswith(magic):
            return name
    return None


def looks_binary(sample: bytes) -> bool:
    """True for data that is not text at all (a stray binary, an image, random bytes).

    Log lines may carry odd bytes (latin-1, a stray control character); a file whose first
    8 KiB are more than a tenth control bytes is not a log.
    """
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12, 27) or b == 127)
    return controls > len(sample) / 10


def open_source(path: str) -> Source:
    """Open ``path`` (or stdin for "-") and read its head; raise SourceError if unusable."""
    if path == "-":
        stream = sys.stdin.buffer
        head = _read_exactly(stream, HEAD_BYTES, path)
        _check_text(path, head)
        return Source(path, None, None, stream, head, final=True)
    if os.path.isdir(path):
        raise SourceError(
            f"{path}: is a directory; give the log files in it (e.g. {path}/maillog*)"
        )
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except PermissionError:
        raise SourceError(f"{path}: permission denied; {permission_hint(path)}") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from None
    mtime = os.fstat(raw.fileno()).st_mtime
    compression = detect_compression(raw.read(6))
    raw.seek(0)
    stream: BinaryIO = raw
    if compression:
        stream = OPENERS[compression](raw)  # type: ignore[assignment]
    try:
        head = _read_exactly(stream, HEAD_BYTES, path)
        _check_text(path, head + _peek_more(stream, compression))
    except SourceError:
        stream.close()
        raise
    if compression == "gzip" and getattr(stream, "mtime", None):
        mtime = float(stream.mtime)  # type: ignore[attr-defined]
    return Source(path, compression, mtime, stream, head, final=compression is not None)


def permission_hint(path: str) -> str:
    """What to do about a log file this user cannot read: join its group (Debian's mail.log
    is root:adm 0640, so `adm`), or run as root."""
    import grp

    try:
        st = os.stat(path)
        group = grp.getgrgid(st.st_gid).gr_name if st.st_mode & 0o040 else None
    except (OSError, KeyError):
        group = None
    if not group or group == "root":
        return "run as a user who can read it (root)"
    return (
        f"join the {group} group (sudo usermod -aG {group} $USER, then log in again) or run as root"
    )


def _peek_more(stream: BinaryIO, compression: str | None) -> bytes:
    """A few more bytes for the binary check, without consuming them (plain files only)."""
    if compression or not stream.seekable():
        return b""
    pos = stream.tell()
    more = stream.read(7 * 1024)
    stream.seek(pos)
    return more


def _read_exactly(stream: BinaryIO, n: int, path: str) -> bytes:
    try:
        return stream.read(n)
    except READ_ERRORS as exc:
        raise SourceError(f"{path}: {describe_read_error(exc)}") from None


def _check_text(path: str, sample: bytes) -> None:
    if looks_binary(sample):
        raise SourceError(f"{path}: not a text log (binary data); leave it out of the list")


def describe_read_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed data ends early (truncated file?); indexed what was readable"
    text = str(exc) or type(exc).__name__
    return f"cannot read: {text}"


def skip(source: Source, offset: int) -> None:
    """Move past the first ``offset`` decompressed bytes (the head is already consumed)."""
    to_skip = offset - len(source.head)
    if to_skip <= 0:
        return
    if source.compression is None and not source.is_stdin:
        source.stream.seek(offset)
        return
    while to_skip > 0:
        block = source.stream.read(min(to_skip, CHUNK_BYTES))
        if not block:
            break
        to_skip -= len(block)


def chunks(
    source: Source, offset: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield (start offset, bytes) of complete lines from ``offset`` on.

    A last line without a newline is held back unless the source is final (compressed or
    stdin); a growing plain file gets it on the next run, once Postfix has finished it.
    Read errors (a truncated .gz) raise SourceError after the lines read before the damage
    were yielded.
    """
    pending = source.head[offset:] if offset < len(source.head) else b""
    skip(source, offset)
    start = offset
    while True:
        blocks, size, error = [pending], len(pending), None
        while size < chunk_bytes:
            try:
                block = source.stream.read(min(READ_BLOCK, chunk_bytes))
            except READ_ERRORS as exc:
                error = exc
                break
            if not block:
                break
            blocks.append(block)
            size += len(block)
        data = b"".join(blocks)
        cut = data.rfind(b"\n") + 1
        if cut:
            yield start, data[:cut]
            start += cut
        pending = data[cut:]
        if error is not None:
            raise SourceError(f"{source.path}: {describe_read_error(error)}")
        if size < chunk_bytes:
            break
    if pending and source.final:
        yield start, pending + b"\n"
