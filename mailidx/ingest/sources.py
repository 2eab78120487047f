"""Reading log sources: plain, gzip, bzip2 and xz files, stdin, pipes and FIFOs.

A source is read as bytes from a given decompressed offset, in chunks that end on a line
boundary. Nothing here knows about DuckDB; the indexer decides where to start and what a chunk
becomes.

Compressed data is decompressed as it is read (:mod:`mailidx.ingest.decompress`): a file cut
short gives every byte before the damage, then an error naming how far it got.

Streams (``-``, a FIFO, ``/dev/stdin``, ``<(…)``) are read to their end without seeking. The
rule that keeps one of them from holding up a run: a stream that delivers no data for
``wait`` seconds (``build --stream-wait``, 10 s by default) is left with an error, and what it
delivered until then counts; the indexer reads streams after the files.
"""

from __future__ import annotations

import glob
import lzma
import os
import select
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mailidx.errors import SourceError, permission_hint
from mailidx.ingest.decompress import (
    READ_BLOCK,
    Damaged,
    Decompressed,
    Truncated,
    detect_compression,
    gzip_mtime,
)

HEAD_BYTES = 1024  # a file is known by its first bytes (see the indexer)
LINE_READ = 4096  # a chunk past its size reads on to a newline this much at a time
CHUNK_BYTES = 64 << 20  # one batch: about 500,000 lines
STREAM_WAIT = 10.0  # seconds a stream may deliver nothing before it is left
DEFAULT_GLOBS = ("/var/log/maillog*", "/var/log/mail.log*")


class Stalled(OSError):
    """A stream that delivered nothing for ``seconds``."""

    def __init__(self, at: int, seconds: float) -> None:
        super().__init__(f"no data for {seconds:g} s")
        self.at, self.seconds = at, seconds


READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


@dataclass
class Source:
    path: str  # as the user gave it; "-" for stdin
    compression: str | None
    mtime: float | None  # for year inference; for gzip, the header's mtime when set
    stream: BinaryIO
    head: bytes  # first bytes of the decompressed content (already consumed from stream)
    final: bool  # compressed files and streams do not grow: a last line without "\n" counts
    is_stream: bool = False  # stdin, a pipe or a FIFO: read once, in order, never seeked

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"

    def close(self) -> None:
        self.stream.close()


class Stream:
    """A pipe, FIFO or stdin, read without blocking for longer than ``wait`` seconds a time.

    ``read(n)`` returns n bytes or fewer at the end, as a buffered file does. A FIFO is opened
    without waiting for its writer; no data for ``wait`` seconds raises :class:`Stalled` (after
    the bytes read before it were handed out).
    """

    def __init__(self, fd: int, wait: float, owned: bool) -> None:
        self.fd, self.wait, self.owned = fd, wait, owned
        self.buffer = bytearray()
        self.pos = 0  # bytes handed out
        self.eof = False
        self.error: BaseException | None = None

    def _fill(self, n: int) -> None:
        while len(self.buffer) < n and not self.eof:
            ready = select.poll()
            ready.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            if not ready.poll(self.wait * 1000):
                raise Stalled(self.pos + len(self.buffer), self.wait)
            try:
                data = os.read(self.fd, max(n - len(self.buffer), READ_BLOCK))
            except BlockingIOError:
                continue
            if not data:
                self.eof = True
            self.buffer += data

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self.buffer[:n])

    def read(self, n: int = -1) -> bytes:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        want = n if n >= 0 else 1 << 62
        try:
            self._fill(want)
        except Stalled as exc:
            if not self.buffer:
                raise
            self.error = exc  # the bytes before it first
        data = bytes(self.buffer[:want])
        del self.buffer[:want]
        self.pos += len(data)
        return data

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)
            self.owned = False


def default_paths() -> list[str]:
    found: list[str] = []
    for pattern in DEFAULT_GLOBS:
        found.extend(sorted(glob.glob(pattern)))
    return found


def is_stream(path: str) -> bool:
    """stdin, a FIFO, a pipe (``<(…)``, ``/dev/stdin``): read after the files."""
    if path == "-":
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def looks_binary(sample: bytes) -> bool:
    """True for data that is not text at all (a stray binary, an image, random bytes).

    Log lines may carry odd bytes (latin-1, a stray control character); a file whose first
    8 KiB are more than a tenth control bytes is not a log.
    """
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12, 27) or b == 127)
    return controls > len(sample) / 10


def open_source(path: str, wait: float = STREAM_WAIT) -> Source:
    """Open ``path`` (stdin for "-") and read its head; raise SourceError if unusable.

    A path that is not a regular file (a FIFO, ``/dev/stdin``, ``<(…)``) is read as a stream,
    as "-" is; ``wait`` is how long a stream may deliver nothing (see the module's rule)."""
    if path == "-":
        return _open_stream(path, Stream(0, wait, owned=False))
    if os.path.isdir(path):
        raise SourceError(
            f"{path}: is a directory; give the log files in it (e.g. {path}/maillog*)"
        )
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO: do not wait for a writer
            return _open_stream(path, Stream(fd, wait, owned=True))
        raw = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except PermissionError:
        raise SourceError(f"{path}: permission denied; {permission_hint(path)}") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from None
    mtime = os.fstat(raw.fileno()).st_mtime
    try:
        first = raw.read(10)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    compression = detect_compression(first)
    stream: BinaryIO = raw
    if compression:
        stream = Decompressed(raw, compression)  # type: ignore[assignment]
        mtime = gzip_mtime(first) or mtime if compression == "gzip" else mtime
    try:
        head = _read_exactly(stream, HEAD_BYTES, path)
        _check_text(path, head + _peek_more(stream, compression))
    except SourceError:
        stream.close()
        raise
    return Source(path, compression, mtime, stream, head, final=compression is not None)


def _open_stream(path: str, raw: Stream) -> Source:
    try:
        compression = detect_compression(raw.peek(6))
        stream = Decompressed(raw, compression) if compression else raw
        head = _read_exactly(stream, HEAD_BYTES, path)
        _check_text(path, head)
    except SourceError:
        raw.close()
        raise
    except READ_ERRORS as exc:
        raw.close()
        raise SourceError(f"{path}: {'; '.join(describe_read_error(exc))}") from None
    return Source(path, compression, None, stream, head, final=True, is_stream=True)  # type: ignore[arg-type]


def _peek_more(stream: BinaryIO, compression: str | None) -> bytes:
    """A few more bytes for the binary check, without consuming them (plain files only)."""
    if compression or not stream.seekable():
        return b""
    pos = stream.tell()
    more = stream.read(7 * 1024)
    stream.seek(pos)
    return more


def _read_exactly(stream: BinaryIO, n: int, path: str) -> bytes:
    """n bytes, or fewer at the end (a decompressor hands out what it has)."""
    data = b""
    try:
        while len(data) < n:
            more = stream.read(n - len(data))
            if not more:
                break
            data += more
    except READ_ERRORS as exc:
        if not (data and isinstance(exc, (Truncated, Stalled))):
            raise SourceError(f"{path}: {'; '.join(describe_read_error(exc))}") from None
        # a short head: the next read meets the same end again, after its lines
    return data


def _check_text(path: str, sample: bytes) -> None:
    if looks_binary(sample):
        raise SourceError(f"{path}: not a text log (binary data); leave it out of the list")


def describe_read_error(exc: BaseException) -> tuple[str, str]:
    """What went wrong reading, and what to do about it, for a one-line error."""
    if isinstance(exc, (Truncated, EOFError)):
        return (
            "compressed data ends early (truncated file?)",
            "run build again once the file is complete",
        )
    if isinstance(exc, Damaged):
        return str(exc), "the rest of the file cannot be read"
    if isinstance(exc, Stalled):
        return (
            f"no data for {exc.seconds:g} s (a pipe or FIFO nobody writes to?)",
            "give it to build again when its writer is ready (--stream-wait to wait longer)",
        )
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"cannot read: {text}", "the rest of the file cannot be read"


def skip(source: Source, offset: int) -> None:
    """Move past the first ``offset`` decompressed bytes (the head is already consumed)."""
    to_skip = offset - len(source.head)
    if to_skip <= 0:
        return
    if source.stream.seekable():
        source.stream.seek(offset)  # a plain file seeks; a compressed one reads on
        return
    while to_skip > 0:
        block = source.stream.read(min(to_skip, READ_BLOCK))
        if not block:
            break
        to_skip -= len(block)


class ReadFailed(SourceError):
    """Reading stopped part way: ``at`` is the offset of the first byte not indexed."""

    def __init__(self, path: str, exc: BaseException, at: int) -> None:
        self.cause, self.advice = describe_read_error(exc)
        self.path, self.at = path, at
        super().__init__(f"{path}: {self.cause}; {self.advice}")


def chunks(
    source: Source, offset: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield (start offset, bytes) of complete lines from ``offset`` on: at least
    ``chunk_bytes`` of them in each chunk but the last, so that the batcher sends a full chunk
    on at once (chunks cut just short of the size would pair up into batches of twice it,
    and twice the memory).

    A last line without a newline is held back unless the source is final (compressed or a
    stream); a growing plain file gets it on the next run, once Postfix has finished it.
    Read errors (a truncated .gz, a stalled pipe) raise :class:`ReadFailed` after the lines
    read before the damage were yielded; a line the damage cut is not.
    """
    pending = source.head[offset:] if offset < len(source.head) else b""
    try:
        skip(source, offset)
    except READ_ERRORS as exc:
        raise ReadFailed(source.path, exc, offset) from None
    start = offset
    while True:
        blocks, size, error, ended = [pending], len(pending), None, False
        cut = pending.rfind(b"\n") + 1  # the end of the last whole line
        while cut < chunk_bytes:
            try:
                # up to the size in big reads, then on to the end of the line in small ones
                want = chunk_bytes - size if size < chunk_bytes else LINE_READ
                block = source.stream.read(min(READ_BLOCK, want))
            except READ_ERRORS as exc:
                error = exc
                break
            if not block:
                ended = True
                break
            newline = block.rfind(b"\n")
            if newline >= 0:
                cut = size + newline + 1
            blocks.append(block)
            size += len(block)
        data = b"".join(blocks)
        pending = data[cut:]
        chunk = data if cut == len(data) else data[:cut]
        del blocks, data  # not held here while the batch that holds the chunk is indexed
        if cut:
            # handed over, not kept: the caller lets it go once its lines are cut
            held = [chunk]
            del chunk
            yield start, held.pop()
            start += cut
        else:
            del chunk
        if error is not None:
            raise ReadFailed(source.path, error, start)
        if ended:
            break
    if pending and source.final:
        yield start, pending + b"\n"
