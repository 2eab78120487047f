"""A file is read in chunks of whole lines of at least the batch size each (but the last), so
a batch is one chunk: two chunks a little short of the size no longer pair up into a batch
of twice the size and twice the memory."""

from __future__ import annotations

import gzip

import pytest

from mailidx.ingest import sources
from tests.conftest import syslog_lines, write_lines


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("size", [700, 4096, 100_000])
def test_chunks_hold_whole_lines_and_at_least_the_size_but_the_last(tmp_path, suffix, size):
    path = tmp_path / "maillog"
    write_lines(path, syslog_lines(3_000))
    data = path.read_bytes()
    if suffix:
        path = tmp_path / "maillog.gz"
        path.write_bytes(gzip.compress(data))
    longest = max(len(line) + 1 for line in data.splitlines())
    source = sources.open_source(str(path))
    try:
        got = list(sources.chunks(source, 0, size))
    finally:
        source.close()
    assert b"".join(chunk for _, chunk in got) == data
    assert [start for start, _ in got] == [sum(len(c) for _, c in got[:i]) for i in range(len(got))]
    assert all(chunk.endswith(b"\n") for _, chunk in got)
    assert all(size <= len(chunk) < size + longest + sources.LINE_READ for _, chunk in got[:-1])


def test_chunks_from_an_offset_start_at_the_offset(tmp_path):
    path = tmp_path / "maillog"
    write_lines(path, syslog_lines(500))
    data = path.read_bytes()
    offset = data.index(b"\n", 10_000) + 1
    source = sources.open_source(str(path))
    try:
        got = list(sources.chunks(source, offset, 2048))
    finally:
        source.close()
    assert got[0][0] == offset
    assert b"".join(chunk for _, chunk in got) == data[offset:]
    assert all(len(chunk) >= 2048 for _, chunk in got[:-1])
