"""Regenerate examples/maillog, maillog.1, maillog.2.gz and ground-truth.json from a REAL Postfix.

Run from the repository root, as root (test dependencies: Debian postfix, aiosmtpd):

    .venv/bin/python -m tests.realpostfix.make_sample            # writes ./examples
    .venv/bin/python tests/realpostfix/make_sample.py --out /tmp/x --extra 12

The lab (tests/realpostfix/harness.py) runs three phases; each phase becomes one "day": the real
log lines of phase 1 are re-dated two days back (maillog.2.gz), phase 2 one day back (maillog.1),
phase 3 keeps its real date (maillog). Only the leading timestamp of each line is rewritten,
everything else stays byte-identical. File mtimes (and the gzip header mtime) are set to one
second after the file's last line. Takes about 2-3 minutes (the queue-expiry scenario).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # invoked by path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.realpostfix.harness import (  # type: ignore[no-redef]
        DEAD_IP,
        LAB_HOSTNAME,
        PostfixLab,
        check_ground_truth,
        run_scenarios,
        unavailable_reason,
    )
else:
    from .harness import (
        DEAD_IP,
        LAB_HOSTNAME,
        PostfixLab,
        check_ground_truth,
        run_scenarios,
        unavailable_reason,
    )

REPO = Path(__file__).resolve().parents[2]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# postfix maillog_file (postlogd) writes strftime "%b %d %H:%M:%S" (zero-padded day, C locale)
TS_RE = re.compile(
    rb"^(?P<mon>[A-Z][a-z]{2}) (?P<day>[ 0-9]\d) (?P<time>\d\d:\d\d:\d\d)"
    rb"(?P<frac>\.\d+)?(?= )"
)
FILES = ["maillog.2.gz", "maillog.1", "maillog"]  # oldest .. newest, one per phase

# lines the sample must contain (the brief for the sample; checked after every run)
REQUIRED = {
    "smtpd connect": rb"postfix/(submission/)?smtpd\[\d+\]: connect from ",
    "smtpd client=": rb"postfix/(submission/)?smtpd\[\d+\]: [0-9A-F]+: client=",
    "cleanup message-id": rb"postfix/cleanup\[\d+\]: [0-9A-F]+: message-id=<",
    "qmgr from=": rb"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, size=\d+, nrcpt=",
    "qmgr removed": rb"postfix/qmgr\[\d+\]: [0-9A-F]+: removed",
    "smtp sent": rb"postfix/smtp\[\d+\]: [0-9A-F]+: to=<[^>]+>,.* status=sent ",
    "smtp bounced": rb"postfix/smtp\[\d+\]: [0-9A-F]+: to=<[^>]+>,.* status=bounced ",
    "smtp deferred": rb"postfix/smtp\[\d+\]: [0-9A-F]+: to=<[^>]+>,.* status=deferred ",
    "qmgr expired": rb"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, status=expired, "
    rb"returned to sender",
    "filter hop queued as": rb"status=sent \(250 2\.0\.0 from MTA\(smtp:\[127\.0\.0\.1\]:\d+\): "
    rb"250 2\.0\.0 Ok: queued as [0-9A-F]+\)",
    "forwarded as": rb"relay=local,.* status=sent \(forwarded as [0-9A-F]+\)",
    "local delivered": rb"relay=local,.* status=sent \(delivered to maildir\)",
    "bounce notification": rb"postfix/bounce\[\d+\]: [0-9A-F]+: sender non-delivery notification: "
    rb"[0-9A-F]+",
    "delay notification": rb"postfix/bounce\[\d+\]: [0-9A-F]+: sender delay notification: ",
    "postsuper hold": rb"postfix/postsuper\[\d+\]: [0-9A-F]+: placed on hold",
    "postsuper delete": rb"postfix/postsuper\[\d+\]: [0-9A-F]+: removed",
    "relay access denied": rb"NOQUEUE: reject: RCPT from .*: 554 5\.7\.1 <[^>]+>: "
    rb"Relay access denied",
    "size reject": rb"reject: .*552 5\.3\.4 Message size exceeds fixed limit",
    "unknown local user": rb"NOQUEUE: reject: RCPT from .*: 550 5\.1\.1 <[^>]+>: Recipient address "
    rb"rejected: User unknown in local recipient table",
    "rate limit": rb"warning: Message delivery request rate limit exceeded: \d+ from ",
    "size limit at DATA": rb"warning: [0-9A-F]+: queue file size limit exceeded",
    "greylist deferral": rb"status=deferred .*450 4\.7\.1 Greylisted, try again later",
    "master start": rb"postfix/master\[\d+\]: daemon started -- version ",
    "master reload": rb"postfix/master\[\d+\]: reload -- version ",
}


def _parse_ts(m: re.Match, year: int) -> dt.datetime:
    mon = MONTHS.index(m.group("mon").decode()) + 1
    h, mi, s = (int(x) for x in m.group("time").split(b":"))
    return dt.datetime(year, mon, int(m.group("day")), h, mi, s)


def _fmt_ts(t: dt.datetime, frac: bytes | None, space_pad: bool) -> bytes:
    day = f"{t.day:2d}" if space_pad else f"{t.day:02d}"
    return (f"{MONTHS[t.month - 1]} {day} {t:%H:%M:%S}".encode()) + (frac or b"")


def redate(lines: list[bytes], days_back: int, year: int) -> tuple[list[bytes], dt.datetime | None]:
    """Shift the leading timestamp of every line by -days_back days; keep the rest identical."""
    out, last = [], None
    for line in lines:
        m = TS_RE.match(line)
        if not m:
            out.append(line)
            continue
        t = _parse_ts(m, year) - dt.timedelta(days=days_back)
        space_pad = m.group("day").startswith(b" ")
        out.append(_fmt_ts(t, m.group("frac"), space_pad) + line[m.end() :])
        last = t if last is None or t > last else last
    return out, last


def _order_ok(lines: list[bytes], year: int) -> int:
    """Number of lines whose timestamp is earlier than the previous line's."""
    bad, prev = 0, None
    for line in lines:
        m = TS_RE.match(line)
        if m:
            t = _parse_ts(m, year)
            if prev and t < prev:
                bad += 1
            prev = t
    return bad


def build_sample(raw: bytes, marks: list[tuple[int, int]], out: Path, year: int) -> list[dict]:
    """Split the lab log at the phase marks and write the three re-dated files into ``out``."""
    bounds = [m[0] for m in marks] + [len(raw)]
    infos = []
    for phase, name in enumerate(FILES):
        chunk = raw[bounds[phase] : bounds[phase + 1]]
        lines = chunk.splitlines(keepends=True)
        days_back = len(FILES) - 1 - phase
        if _order_ok(lines, year):
            # postlogd writes in arrival order; a process can be a second late. Restore order
            # with a stable sort on the timestamp (lines themselves stay untouched).
            lines.sort(
                key=lambda ln: (
                    _parse_ts(TS_RE.match(ln), year) if TS_RE.match(ln) else dt.datetime.min
                )
            )
        new, last = redate(lines, days_back, year)
        data = b"".join(new)
        mtime = time.mktime((last + dt.timedelta(seconds=1)).timetuple()) if last else time.time()
        path = out / name
        if name.endswith(".gz"):
            with (
                open(path, "wb") as f,
                gzip.GzipFile(
                    filename=name[:-3], mode="wb", fileobj=f, mtime=int(mtime), compresslevel=9
                ) as gz,
            ):
                gz.write(data)
        else:
            path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        first = TS_RE.match(new[0]) if new else None
        infos.append(
            {
                "file": name,
                "phase": phase,
                "days_back": days_back,
                "lines": len(new),
                "date": last.date().isoformat() if last else None,
                "first_ts": first.group(0).decode() if first else None,
                "last_ts": _fmt_ts(last, None, False).decode() if last else None,
                "mtime": int(mtime),
            }
        )
    return infos


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "examples"), help="output directory")
    ap.add_argument("--extra", type=int, default=36, help="ordinary messages besides scenarios")
    ap.add_argument("--keep", action="store_true", help="keep the lab directory for inspection")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    reason = unavailable_reason()
    if reason:
        print(f"cannot run the Postfix lab: {reason}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    with PostfixLab(verbose=not args.quiet, keep=args.keep) as lab:
        truth = run_scenarios(lab, extra_traffic=args.extra)
        lab.shutdown()  # so the shutdown lines land in the last file
        time.sleep(0.5)
        raw = lab.maillog.read_bytes()
        marks = list(lab.phase_marks)
        meta = {
            "postfix_version": lab.version,
            "myhostname": LAB_HOSTNAME,
            "lab_dir": str(lab.base),
            "ports": {
                "mx": lab.mx_port,
                "submission": lab.submission_port,
                "reinject": lab.reinject_port,
                "filter": lab.filter_port,
            },
            "filter_relay": lab.filter_relay,
            "remotes": {d: {"relay": r.relay, "behaviour": r.mode} for d, r in lab.remotes.items()},
            "dead_route": f"smtp:[{DEAD_IP}]:{lab.dead_port} (nothing listens)",
        }
        if args.keep:
            print(f"lab directory kept: {lab.base}")
    elapsed = time.monotonic() - t0

    problems = check_ground_truth(raw.decode(errors="replace"), truth)
    missing = [k for k, rx in REQUIRED.items() if not re.search(rx, raw, re.M)]
    for p in problems:
        print(f"ground truth mismatch: {p}", file=sys.stderr)
    for k in missing:
        print(f"sample lacks: {k}", file=sys.stderr)
    if problems or missing:
        return 1

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    year = dt.date.today().year
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        infos = build_sample(raw, marks, Path(tmp), year)
        by_phase = {i["phase"]: i for i in infos}
        for rec in truth:
            rec["log_file"] = by_phase[rec["phase"]]["file"]
            rec["date"] = by_phase[rec["phase"]]["date"]
        doc = {
            "generator": "tests/realpostfix/make_sample.py (real Postfix, see examples/README.md)",
            "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "timestamp_format": "%b %d %H:%M:%S (postfix maillog_file, no year, local time)",
            "year": year,
            "files": infos,
            "lab": meta,
            "vocabulary": {
                "final": ["sent", "bounced", "expired", "deferred", "deleted", "held", "rejected"],
                "category": [
                    "size",
                    "unknown_user",
                    "mailbox_full",
                    "relay_denied",
                    "policy",
                    "greylist",
                    "rate_limit",
                    "dns",
                    "network",
                    "tls",
                    "auth",
                    "expired",
                    "other",
                ],
            },
            "messages": truth,
        }
        (Path(tmp) / "ground-truth.json").write_text(json.dumps(doc, indent=1) + "\n")
        for name in FILES + ["ground-truth.json"]:
            os.replace(Path(tmp) / name, out / name)
    total = sum((out / n).stat().st_size for n in FILES + ["ground-truth.json"])
    print(
        f"wrote {', '.join(FILES)}, ground-truth.json to {out} ({total} bytes, "
        f"{len(truth)} messages, {sum(i['lines'] for i in infos)} log lines) in {elapsed:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
