"""FIFOs, process substitution and /dev/stdin are read as streams, after the files; a stream
that delivers nothing for --stream-wait seconds is reported and does not hold up the rest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import Mailidx, syslog_lines, write_lines
from tests.hostile import only_error, snapshot


@pytest.fixture
def logs(tmp_path):
    a, b = tmp_path / "maillog-a", tmp_path / "maillog-b"
    write_lines(a, syslog_lines(400, day=25))
    write_lines(b, syslog_lines(400, day=26))
    return a, b


def clean_build(tmp_path, *paths) -> Mailidx:
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    clean.build(*paths, "--year", "2026")
    return clean


def test_a_fifo_nobody_writes_to_does_not_hold_up_the_other_files(tmp_path, logs):
    fifo = tmp_path / "maillog.fifo"
    os.mkfifo(fifo)
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    proc = mailidx.build(fifo, *logs, "--year", "2026", "--stream-wait", "1", check=False)
    assert only_error(proc) == (
        f"mailidx: {fifo}: no data for 1 s (a pipe or FIFO nobody writes to?); give it to "
        "build again when its writer is ready (--stream-wait to wait longer)"
    )
    assert snapshot(mailidx) == snapshot(clean_build(tmp_path, *logs))


def test_a_fifo_a_process_substitution_and_dev_stdin_are_read_to_their_end(tmp_path, logs):
    if not shutil.which("bash"):
        pytest.skip("bash is not installed")
    a, b = logs
    fifo = tmp_path / "maillog.fifo"
    os.mkfifo(fifo)
    c = tmp_path / "maillog-c"
    write_lines(c, syslog_lines(300, day=27))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    # the FIFO's writer comes a moment after build opened it; <(cat …) is a pipe in /dev/fd
    writer = subprocess.Popen(["bash", "-c", f"sleep 1; cat '{a}' > '{fifo}'"])
    command = (
        f"{sys.executable} -m mailidx build '{fifo}' <(cat '{b}') /dev/stdin --year 2026 "
        f"< <(cat '{c}')"
    )
    proc = subprocess.run(["bash", "-c", command], capture_output=True, env=mailidx.env())
    writer.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().startswith("3 files, 1,100 lines")
    assert snapshot(mailidx, with_paths=False) == snapshot(
        clean_build(tmp_path, a, b, c), with_paths=False
    )


def test_a_compressed_stream_is_decompressed(tmp_path, logs):
    import gzip

    a, _ = logs
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build("-", "--year", "2026", input=gzip.compress(a.read_bytes()))
    assert snapshot(mailidx, with_paths=False) == snapshot(
        clean_build(tmp_path, a), with_paths=False
    )
