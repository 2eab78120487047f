"""`mailidx summary`, and how its grand totals relate to pflogsumm's on the same log."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ORDER = ["maillog.2.gz", "maillog.1", "maillog"]
TOTAL = re.compile(r"^\s+(\d+)([km ]?)\s+(.+?)\s*(?:\((\d+)%?.*\))?$")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("s")
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    return idx


def summary(idx, *args) -> dict:
    return json.loads(idx.run("summary", "--format", "json", *args).stdout)


def pflogsumm_totals(tmp_path: Path) -> dict[str, int | tuple[int, str]]:
    log = tmp_path / "whole.log"
    with open(log, "wb") as out:
        for name in ORDER:
            data = (EXAMPLES / name).read_bytes()
            out.write(gzip.decompress(data) if name.endswith(".gz") else data)
    text = subprocess.run(
        ["pflogsumm", str(log)], capture_output=True, text=True, check=True
    ).stdout
    block = text.split("Grand Totals", 1)[1].split("Per-Day", 1)[0]
    out = {}
    for line in block.splitlines():
        match = TOTAL.match(line)
        if match:
            value, unit, label = int(match.group(1)), match.group(2).strip(), match.group(3)
            out[label.split("  (")[0].strip()] = (value, unit) if unit else value
    return out


def units(value: int) -> tuple[int, str] | int:
    """pflogsumm's adj_int_units: k above 512 KiB, m above 512 MiB, truncated."""
    if value > 536870912:
        return (int(value / 1048576), "m")
    if value > 524288:
        return (int(value / 1024), "k")
    return value


def test_summary_totals_use_the_names_scripts_rely_on(sample):
    totals = summary(sample)["totals"]
    for key in (
        "received",
        "delivered",
        "forwarded",
        "deferred",
        "deferrals",
        "bounced",
        "rejected",
        "reject_warnings",
        "held",
        "discarded",
        "bytes_received",
        "bytes_delivered",
        "senders",
        "sending_hosts",
        "recipients",
        "recipient_domains",
    ):
        assert isinstance(totals[key], int), key
    assert (totals["received"], totals["bounced"], totals["forwarded"]) == (56, 8, 1)


def test_grand_totals_agree_with_pflogsumm_as_documented(sample, tmp_path):
    if not shutil.which("pflogsumm"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the pflogsumm parity test (install pflogsumm)")
        pytest.skip("pflogsumm is not installed")
    pf = pflogsumm_totals(tmp_path)
    ours = summary(sample)["totals"]
    # the same counts
    for key in ("forwarded", "deferred", "bounced", "rejected", "held", "discarded", "senders"):
        assert pf[key] == ours[key], key
    assert pf["reject warnings"] == ours["reject_warnings"]
    # pflogsumm also counts a content filter's re-injection as a reception and the hand-off
    # to the filter as a delivery (README: "mailidx summary and pflogsumm")
    assert pf["received"] == ours["received"] + ours["filter_reinjections"]
    assert pf["delivered"] == ours["delivered"] + ours["filter_handoffs"]
    assert pf["bytes received"] == units(ours["bytes_received"] + ours["filter_reinjected_bytes"])
    assert pf["bytes delivered"] == units(ours["bytes_delivered"] + ours["filter_handoff_bytes"])
    assert ours["filter_reinjections"] > 0 and ours["filter_handoffs"] > 0


def test_time_range_narrows_the_report(sample):
    whole = summary(sample)["totals"]
    day3 = summary(sample, "--since", "2026-11-28", "--tz", "UTC")["totals"]
    before = summary(sample, "--until", "2026-11-28", "--tz", "UTC")["totals"]
    assert 0 < day3["received"] < whole["received"]
    assert day3["received"] + before["received"] == whole["received"]
    assert day3["delivered"] + before["delivered"] == whole["delivered"]


def test_report_sections(sample):
    report = summary(sample)
    assert [r["day"] for r in report["per_day"]] == ["2026-11-26", "2026-11-27", "2026-11-28"]
    assert sum(r["received"] for r in report["per_hour"]) == report["totals"]["received"]
    bounces = {(r["reason_category"], r["dsn"]): r["bounces"] for r in report["bounces"]}
    assert bounces[("unknown_user", "5.1.1")] == 5 and bounces[("size", "5.3.4")] == 1
    assert {r["reason_category"] for r in report["rejects"]} >= {"relay_denied", "size"}
    domains = {r["domain"] for r in report["delays_by_domain"]}
    assert "ok.test" in domains
    assert all(r["p50_s"] <= r["p95_s"] <= r["max_s"] for r in report["delays_by_domain"])


def test_table_output_has_totals_and_hour_chart(sample):
    text = sample.run("summary").stdout.decode()
    assert "grand totals" in text and "messages per hour" in text and "█" in text


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    """The sample's host `mx`, and its last file again as written by a second host `relay2`."""
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("two")
    relay2 = tmp / "relay2.log"
    relay2.write_text((EXAMPLES / "maillog").read_text().replace(" mx postfix", " relay2 postfix"))
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), relay2, "--year", "2026")
    return idx


def test_host_narrows_the_summary_to_one_server(two_hosts):
    both = summary(two_hosts)
    mx = summary(two_hosts, "--host", "mx")
    relay2 = summary(two_hosts, "--host", "relay2")
    counted = ("received", "delivered", "deferrals", "bounced", "rejected", "bytes_received")
    for key in counted:
        assert mx["totals"][key] + relay2["totals"][key] == both["totals"][key], key
    assert 0 < relay2["totals"]["received"] < mx["totals"]["received"]
    per_day = {r["day"]: r["received"] for r in relay2["per_day"]}
    assert per_day == {"2026-11-28": relay2["totals"]["received"]}
    assert summary(two_hosts, "--host", "nosuchhost")["totals"]["received"] == 0
