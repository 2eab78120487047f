#!/usr/bin/env python3
"""How fresh `mailidx watch` keeps the index, and what it costs.

A writer (this process) appends Postfix lines to a log at a fixed rate; `mailidx watch` follows
the log; a reader process polls the index read-only, as `mailidx sql` would, for the offset of
the last line indexed. The last line of each append is a marker: its latency is the time from
its write to the first poll that sees it. The watch process's CPU time comes from
/proc/PID/stat (utime + stime) over the measured run.

    python bench/watch.py                         # 1,000 lines/s for 30 s
    python bench/watch.py --rate 200 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEP = 0.01  # the writer appends every 10 ms

POLLER = """
import sys, time
from mailidx import store
db, until = sys.argv[1], float(sys.argv[2])
while time.monotonic() < until:
    try:
        con = store.connect(db, read_only=True)
        seen = time.monotonic()
        end = con.execute('SELECT coalesce(max("offset"), -1) FROM log_lines').fetchall()[0][0]
        con.close()
        print(seen, end, flush=True)
    except Exception as exc:
        print("error", exc, file=sys.stderr, flush=True)
    time.sleep(0.05)
"""


def log_lines(count: int, workdir: Path) -> list[bytes]:
    """Lines of a generated log (bench/generate_log.py), enough for the run."""
    out = workdir / "source.log"
    subprocess.run(
        [sys.executable, str(HERE / "generate_log.py"), "--lines", str(count), "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return [line + b"\n" for line in out.read_bytes().splitlines()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(db: Path, offset: int, timeout: float = 30) -> None:
    from mailidx import store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                con = store.connect(str(db), read_only=True)
                end = con.execute('SELECT coalesce(max("offset"), -1) FROM log_lines').fetchall()
                con.close()
                if end[0][0] >= offset:
                    return
            except store.IndexError_:
                pass
        time.sleep(0.2)
    raise SystemExit(f"watch did not index the first lines within {timeout} s")


def run(rate: float, seconds: float, interval: float | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="mailidx-watch-bench-") as tmp:
        workdir = Path(tmp)
        lines = log_lines(int(rate * seconds) + 1000, workdir)
        log, db = workdir / "maillog", workdir / "index.duckdb"
        with open(log, "wb") as f:
            f.write(b"".join(lines[:1000]))
        extra = ["--interval", str(interval)] if interval else []
        watch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailidx",
                "watch",
                "--quiet",
                "--db",
                str(db),
                *extra,
                str(log),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(db, sum(map(len, lines[:999])))
            return measure(watch.pid, log, db, lines[1000:], rate, seconds)
        finally:
            watch.terminate()
            _, err = watch.communicate(timeout=30)
            if err.strip():
                print(err.strip(), file=sys.stderr)


def measure(pid: int, log: Path, db: Path, lines: list[bytes], rate: float, seconds: float):
    start_offset = log.stat().st_size
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, str(db), str(time.monotonic() + seconds + 5)],
        stdout=subprocess.PIPE,
        text=True,
    )
    cpu0, began = cpu_seconds(pid), time.monotonic()
    markers: list[tuple[float, int]] = []  # (written at, offset of the append's last line)
    offset, written = start_offset, 0
    with open(log, "ab", buffering=0) as f:
        while (now := time.monotonic()) < began + seconds:
            due = min(int((now - began) * rate), len(lines))
            if due > written:
                chunk = lines[written:due]
                f.write(b"".join(chunk))
                last = offset + sum(map(len, chunk[:-1]))
                offset += sum(map(len, chunk))
                markers.append((time.monotonic(), last))
                written = due
            time.sleep(max(0.0, began + (written + 1) / rate - time.monotonic(), STEP / 2))
    wall = time.monotonic() - began
    cpu = cpu_seconds(pid) - cpu0
    out = poller.communicate()[0]
    polls = [(float(t), int(end)) for t, end in map(str.split, out.splitlines())]
    latencies = []
    for written_at, last in markers:
        seen = next((t for t, end in polls if end >= last and t >= written_at), None)
        if seen is not None:
            latencies.append(seen - written_at)
    latencies.sort()
    return {
        "lines": written,
        "seconds": wall,
        "markers": len(markers),
        "seen": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "cpu": cpu / wall,
        "rss_mb": peak_rss_mb(pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="lines per second")
    parser.add_argument("--seconds", type=float, default=30, help="length of the measured run")
    parser.add_argument("--interval", type=float, help="mailidx watch --interval")
    args = parser.parse_args()
    r = run(args.rate, args.seconds, args.interval)
    rate = r["lines"] / r["seconds"]
    print(
        f"{r['lines']:,} lines at {rate:,.0f} lines/s for {r['seconds']:.0f} s; "
        f"{r['seen']} of {r['markers']} markers seen"
    )
    print(f"written -> queryable: p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, max {r['max']:.2f} s")
    print(f"watch CPU: {r['cpu'] * 100:.0f} % of one core; peak RSS {r['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
