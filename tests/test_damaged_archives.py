""".gz, .bz2 and .xz cut short: every complete line the standard tool gives is indexed, the
file is reported in one line, and the completed file later goes on from there."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess

import pytest

from tests.conftest import Mailidx, syslog_lines, write_lines
from tests.hostile import only_error, snapshot

FORMATS = {
    "gz": (gzip.compress, "zcat"),
    "bz2": (bz2.compress, "bzcat"),
    "xz": (lzma.compress, "xzcat"),
}


def tool_lines(tool: str, path) -> list[bytes]:
    """The complete lines the standard tool writes for a damaged file, before its error."""
    out = subprocess.run([tool, str(path)], capture_output=True).stdout
    return out[: out.rfind(b"\n") + 1].splitlines()


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_a_cut_archive_gives_every_line_the_tool_gives_then_resumes_when_complete(tmp_path, ext):
    compress, tool = FORMATS[ext]
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")
    # three bzip2 blocks' worth of lines, so a cut in the middle leaves whole blocks before it
    lines = syslog_lines(20_000, day=25)
    content = "".join(line + "\n" for line in lines).encode()
    full = compress(content)
    archive = tmp_path / f"maillog.2.{ext}"
    archive.write_bytes(full[: len(full) // 2])
    reference = tool_lines(tool, archive)
    assert 0 < len(reference) < len(lines)

    damaged = Mailidx(tmp_path / "damaged.duckdb", tmp_path)
    proc = damaged.build(archive, check=False)
    got = [r[0].encode() for r in damaged.query("SELECT raw FROM log_lines ORDER BY line_number")]
    n = len(got)
    done = len("".join(line + "\n" for line in lines[:n]).encode())
    assert only_error(proc) == (
        f"mailidx: {archive}: compressed data ends early (truncated file?); its first {n:,} "
        f"lines ({done:,} bytes) are indexed, run build again once the file is complete"
    )
    assert got == [line.encode() for line in lines[:n]]  # the file's own lines, none cut
    if ext == "bz2":
        # bzcat drops the last ≤ 5,000 bytes it decompressed when it meets the cut; the
        # decompressor itself gives the whole last block, so mailidx has at least as much
        assert got[: len(reference)] == reference and n - len(reference) < 100
    else:
        assert got == reference

    # the same readable lines, built clean from a plain file of that name
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    plain = clean_dir / archive.name
    write_lines(plain, lines[:n])
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    clean.build(plain, "--year", "2026")
    damaged_year = Mailidx(tmp_path / "damaged-year.duckdb", tmp_path)
    damaged_year.build(archive, "--year", "2026", check=False)
    assert snapshot(damaged_year, with_paths=False) == snapshot(clean, with_paths=False)

    # the file completed (the copy finished): the next build reads on from the cut
    archive.write_bytes(full)
    proc = damaged.build(archive)
    assert proc.stderr.decode().startswith(f"1 files, {len(lines) - n:,} lines")
    complete = Mailidx(tmp_path / "complete.duckdb", tmp_path)
    complete.build(archive)
    assert snapshot(damaged) == snapshot(complete)


def test_concatenated_gzip_members_are_read_one_after_the_other(tmp_path):
    first, second = syslog_lines(300, day=25), syslog_lines(300, start=300, day=25)
    archive = tmp_path / "maillog.4.gz"
    archive.write_bytes(
        gzip.compress("".join(x + "\n" for x in first).encode())
        + gzip.compress("".join(x + "\n" for x in second).encode())
    )
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(archive)
    got = [r[0] for r in mailidx.query("SELECT raw FROM log_lines ORDER BY line_number")]
    assert got == first + second
