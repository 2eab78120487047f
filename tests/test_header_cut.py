"""The syslog header step cuts a classic header ("Mmm dd hh:mm:ss host tag: msg") by one
regular expression (QUICK_HEADER) where it can and step by step by position where it cannot.
Both ways give the same columns: the real lines of the samples and fixtures, and headers that
only the step-by-step cut takes (an empty host, a tag with ":" or "[" in it, no tag at all),
come out the same with QUICK_HEADER on as with it matching nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from mailidx.parse import header
from tests.samples import all_samples

FIXTURES = Path(__file__).parent / "fixtures"

# Classic headers QUICK_HEADER does not take, and ones it does, next to each other.
ODD_HEADERS = [
    "Nov 25 10:00:00 hostonly",
    "Nov 25 10:00:00 host ",
    "Nov 25 10:00:00  host postfix/smtpd[1]: x",
    "Nov 25 10:00:00 host  postfix/smtpd[1]: x",
    "Nov 25 10:00:00 host : 4F9D5F4B8C: removed",
    "Nov 25 10:00:00 host a:: b",
    "Nov 25 10:00:00 host postfix/smtpd[x12]: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd[]: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd[1][2]: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd[1]x: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd[99999999999]: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd: 4F9D5F4B8C: client=a[192.0.2.1]",
    "Nov 25 10:00:00 host postfix/smtpd[1] x: y",
    "Nov 25 10:00:00 host postfix/qmgr[1]: 4F9D5F4B8C: ",
    "Nov 25 10:00:00 host postfix/qmgr[1]: 4F9D5F4B8C:removed",
    "Nov 25 10:00:00 host postfix/qmgr[1]: 4F9D5F4B8C: removed \r",
    "Nov 25 10:00:00 host postfix/qmgr[1]: 12345678901234567890123456: removed",
    "Nov 25 10:00:00 host postfix/qmgr[1]: 1234567890123456789012345: removed",
    "Nov 25 10:00:00 host postfix/qmgr[1]: abcde: removed",
    "Nov 25 10:00:00 hööst pöstfix/qmgr[1]: 4F9D5F4B8C: removed",
    "Nov 25 10:00:00 host postfix/smtpd[1]: NOQUEUE: reject: RCPT from a[192.0.2.1]: 554",
    "Nov 25 10:00:00 host postfix/smtpd[1]: warning: 4F9D5F4B8C: x y",
    "Nov 25 10:00:00 host postfix-out/smtp[1]: 4F9D5F4B8C: to=<a@example.com>",
    "Nov 25 10:00:00 host kernel: foo: bar",
    "Nov 25 10:00:00.123 host postfix/qmgr[1]: 4F9D5F4B8C: removed",
    "2024-11-25T10:00:00.123456+00:00 host postfix/qmgr[1]: 4F9D5F4B8C: removed",
]


def header_rows(lines: list[str]) -> list[dict]:
    batch = pa.table(
        {
            "file_id": pa.array([1] * len(lines), pa.int32()),
            "line_number": pa.array(range(1, len(lines) + 1), pa.int64()),
            "offset": pa.array([0] * len(lines), pa.int64()),
            "raw": pa.array(lines, pa.large_string()),
            "raw_bytes": pa.nulls(len(lines), pa.large_binary()),
            "year": pa.array([2024] * len(lines), pa.int32()),
        }
    )
    con = duckdb.connect(":memory:")
    con.register("batch", batch)
    cursor = con.execute(f"SELECT * FROM ({header.header_sql()}) ORDER BY line_number")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    con.close()
    return rows


@pytest.fixture(scope="module")
def lines() -> list[str]:
    real = [s.line for s in all_samples()]
    for path in sorted(FIXTURES.glob("*.log")):
        real += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return real + ODD_HEADERS


def test_the_quick_header_cut_gives_what_the_cut_by_position_gives(lines, monkeypatch):
    quick = header_rows(lines)
    monkeypatch.setattr(header, "QUICK_HEADER", r"([^\s\S])" * 4)  # matches nothing
    by_position = header_rows(lines)
    assert len(quick) == len(lines)
    assert quick == by_position


def header_of(raw: str) -> dict:
    return header_rows([raw])[0]


def test_a_usual_header_is_cut_into_its_fields():
    got = header_of("Nov 25 10:00:00 mx1 postfix-out/smtp[41]: 4F9D5F4B8C: to=<a@example.com>")
    assert (got["host"], got["program"], got["pid"]) == ("mx1", "postfix-out/smtp", 41)
    assert (got["service"], got["daemon"], got["queue_id"]) == ("postfix-out", "smtp", "4F9D5F4B8C")
    assert got["body"] == "to=<a@example.com>"


def test_an_odd_header_is_still_cut_by_position():
    got = header_of("Nov 25 10:00:00 mx1 postfix/smtpd[x12]: 4F9D5F4B8C: client=a[192.0.2.1]")
    assert (got["host"], got["program"], got["pid"]) == ("mx1", "postfix/smtpd", None)
    assert (got["queue_id"], got["body"]) == ("4F9D5F4B8C", "client=a[192.0.2.1]")
    got = header_of("Nov 25 10:00:00 mx1 a:: b")
    assert (got["host"], got["program"], got["body"]) == ("mx1", "a:", None)
