"""A chunk of log lines as an Arrow table: byte offsets, line numbers, the raw text (and the
exact bytes of lines that are not UTF-8), and the year of year-less times.

Vectorised with numpy: a per-line Python loop would cost more than the whole parse.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mailidx.ingest import files
from mailidx.ingest.years import years

ARROW_BATCH_ROWS = 32 * 1024


def to_batch(chunk: bytes, offset: int, first_line: int, state: files.FileState) -> pa.Table:
    """An Arrow table of the chunk's lines (without their newlines) with the file's ID, byte
    offsets, line numbers and the year of year-less times; moves the year state on to the
    chunk's end.

    Vectorised with numpy: a per-line Python loop would cost more than the whole parse.
    """
    data = np.frombuffer(chunk, np.uint8)
    newlines = _newlines(data)
    n = len(newlines)
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    # The lines' bytes back to back without the newlines: line i starts at starts[i] - i.
    packed = chunk.replace(b"\n", b"")
    text_offsets = np.empty(n + 1, np.int64)
    text_offsets[:n] = starts - np.arange(n)
    text_offsets[n] = len(packed)
    raw = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(text_offsets), pa.py_buffer(packed)]
    )
    raw_bytes = pa.nulls(n, pa.large_binary())
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid:
        raw, raw_bytes = _decode_mixed(chunk.split(b"\n")[:-1])
    line_years, state.last_year, state.last_month = years(
        data, starts, state.last_year, state.last_month
    )
    table = pa.table(
        {
            "file_id": pa.array(np.full(n, state.file_id, np.int64)),
            "line_number": pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
            "offset": pa.array(starts + offset),
            "raw": raw,
            "raw_bytes": raw_bytes,
            "year": pa.array(line_years),
        }
    )
    return _record_batches(table)


NEWLINE_STEP = 4 << 20  # bytes compared at a time: not a 64 MB array of booleans per batch


def _newlines(data: np.ndarray) -> np.ndarray:
    """Offsets of the newlines in ``data``."""
    return np.concatenate(
        [
            np.flatnonzero(data[i : i + NEWLINE_STEP] == 10) + i
            for i in range(0, len(data), NEWLINE_STEP)
        ]
        or [np.empty(0, np.int64)]
    )


def joined(tables: list[pa.Table]) -> pa.Table:
    """One batch of several files' :func:`to_batch` tables."""
    if len(tables) == 1:
        return tables[0]
    return _record_batches(pa.concat_tables(tables).combine_chunks())


def _record_batches(table: pa.Table) -> pa.Table:
    # DuckDB scans an Arrow table one record batch per thread: give it several.
    return pa.Table.from_batches(table.to_batches(max_chunksize=ARROW_BATCH_ROWS))


def _decode_mixed(parts: list[bytes]) -> tuple[pa.Array, pa.Array]:
    """Lines with bytes that are not UTF-8 keep a readable raw text and their exact bytes."""
    texts, blobs = [], []
    for part in parts:
        try:
            texts.append(part.decode("utf-8"))
            blobs.append(None)
        except UnicodeDecodeError:
            texts.append(part.decode("utf-8", "backslashreplace"))
            blobs.append(part)
    return pa.array(texts, pa.large_string()), pa.array(blobs, pa.large_binary())
