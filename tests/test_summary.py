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

from tests.generated import generated_log

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


def whole_sample(tmp_path: Path) -> Path:
    """The sample's three files as one log, oldest first, as pflogsumm reads it."""
    log = tmp_path / "whole.log"
    with open(log, "wb") as out:
        for name in ORDER:
            data = (EXAMPLES / name).read_bytes()
            out.write(gzip.decompress(data) if name.endswith(".gz") else data)
    return log


def pflogsumm_totals(log: Path) -> dict[str, int | tuple[int, str]]:
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


def needs_pflogsumm() -> None:
    if not shutil.which("pflogsumm"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the pflogsumm parity test (install pflogsumm)")
        pytest.skip("pflogsumm is not installed")


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


def assert_pflogsumm_relations(pf: dict, ours: dict) -> None:
    """Every grand total relates to pflogsumm's as the README's "pflogsumm" section says."""
    # the same counts
    for key in ("forwarded", "deferred", "bounced", "rejected", "held", "discarded", "senders"):
        assert pf[key] == ours[key], key
    assert pf["reject warnings"] == ours["reject_warnings"]
    assert pf["sending hosts/domains"] == ours["sending_hosts"]
    # pflogsumm also counts a content filter's re-injection as a reception and the hand-off
    # to the filter as a delivery, and so the recipients (and their domains) of hand-offs
    # whose filtered copy was not delivered
    assert pf["received"] == ours["received"] + ours["filter_reinjections"]
    assert pf["delivered"] == ours["delivered"] + ours["filter_handoffs"]
    assert pf["bytes received"] == units(ours["bytes_received"] + ours["filter_reinjected_bytes"])
    assert pf["bytes delivered"] == units(ours["bytes_delivered"] + ours["filter_handoff_bytes"])
    assert pf["recipients"] == ours["recipients"] + ours["filter_only_recipients"]
    assert pf["recipient hosts/domains"] == (
        ours["recipient_domains"] + ours["filter_only_recipient_domains"]
    )


def test_grand_totals_agree_with_pflogsumm_as_documented(sample, tmp_path):
    needs_pflogsumm()
    ours = summary(sample)["totals"]
    assert_pflogsumm_relations(pflogsumm_totals(whole_sample(tmp_path)), ours)
    assert ours["filter_reinjections"] > 0 and ours["filter_handoffs"] > 0
    # the lab's hand-offs to recipients that then bounced or expired: buyer@big.test,
    # mix2@nouser.test, x@nouser.test, mix4@dead.test, mix5@full.test
    assert (ours["filter_only_recipients"], ours["filter_only_recipient_domains"]) == (5, 4)


@pytest.fixture(scope="module", params=["dense", "sparse"])
def generated(request, tmp_path_factory):
    """A log of bench/generate_log.py: two MX hosts, amavis, submission, bounces. "dense" has
    the traffic of the README's benchmark; "sparse" spreads 40,000 lines over a week, so that
    short queue IDs come back and a hand-off's next queue ID names two message instances."""
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("gen")
    log = tmp / "maillog"
    days = {"dense": 0.3, "sparse": 7}[request.param]
    generated_log(log, 40_000, days=days, start="2024-11-25", seed=2)
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(log, "--year", "2024")
    return request.param, idx, log


def test_grand_totals_agree_with_pflogsumm_on_a_generated_log(generated):
    needs_pflogsumm()
    kind, idx, log = generated
    ours = summary(idx)["totals"]
    pf = pflogsumm_totals(log)
    assert ours["filter_only_recipients"] > 0
    if kind == "dense":
        assert_pflogsumm_relations(pf, ours)
        return
    # a re-used queue ID: pflogsumm keeps the size (and skips the sender) of its first message
    # for the whole log, so bytes and senders differ (README); every count of mail still relates
    assert pf["received"] == ours["received"] + ours["filter_reinjections"]
    assert pf["delivered"] == ours["delivered"] + ours["filter_handoffs"]
    assert pf["recipients"] == ours["recipients"] + ours["filter_only_recipients"]
    assert pf["recipient hosts/domains"] == (
        ours["recipient_domains"] + ours["filter_only_recipient_domains"]
    )


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


def table(idx, *args) -> str:
    env = idx.env(COLUMNS="100")
    return idx.run("summary", "--format", "table", *args, env=env).stdout.decode()


def test_table_writes_sizes_in_kib_and_counts_with_thousands_separators(sample, generated):
    text = table(sample, "--section", "totals")
    assert (
        "│ received                                                   │               56 │" in text
    )
    assert (
        "│ bytes received                                             │          401 KiB │" in text
    )
    assert (
        "│ bytes delivered                                            │          659 KiB │" in text
    )
    assert (
        "│ recipients only the content filter got (not counted above) │                5 │" in text
    )
    kind, idx, _ = generated
    if kind == "dense":
        rows = [
            re.sub(r"\s+", " ", line) for line in table(idx, "--section", "totals").splitlines()
        ]
        assert "│ received │ 1,231 │" in rows
        assert "│ delivered │ 1,623 │" in rows
        assert "│ bytes received │ 111 MiB │" in rows  # 116,095,638 bytes
        assert "│ bytes delivered │ 147 MiB │" in rows  # 154,593,460 bytes
        assert "│ content-filter hand-offs (not counted above) │ 1,354 │" in rows


def test_csv_is_the_totals_or_one_section_for_scripts(sample):
    out = sample.run("summary", "--format", "csv").stdout.decode().splitlines()
    totals = summary(sample)["totals"]
    assert out == [",".join(totals), ",".join(str(v) for v in totals.values())]
    out = sample.run("summary", "--format", "csv", "--section", "delivery_by_domain").stdout
    assert out.decode().splitlines() == [
        "domain,delivered,bytes,deferrals,bounced,avg_delay,max_delay",
        "mx.lab.test,50,413081,0,0,0.0,0.05",
        "ok.test,21,254903,0,0,0.0,0.07",
        "grey.test,4,6516,4,0,7.7,8.8",
        "big.test,0,0,0,1,,",
        "dead.test,0,0,20,0,,",
        "full.test,0,0,0,2,,",
        "nouser.test,0,0,0,5,,",
    ]
    out = sample.run("summary", "--format", "csv", "--section", "received_by_domain").stdout
    assert out.decode().splitlines() == [
        "domain,messages,bytes",
        "mx.lab.test,34,254407",
        "ok.test,21,155850",
    ]
    proc = sample.run("summary", "--section", "nothing", check=False)
    assert proc.returncode == 2 and b"--section" in proc.stderr


def test_per_domain_tables_add_up_to_the_totals(sample):
    report = summary(sample, "--limit", "100")
    totals = report["totals"]
    by_domain = report["delivery_by_domain"]
    assert sum(r["delivered"] for r in by_domain) == totals["delivered"]
    assert sum(r["bytes"] for r in by_domain) == totals["bytes_delivered"]
    assert sum(r["bounced"] for r in by_domain) == totals["bounced"]
    assert sum(r["deferrals"] for r in by_domain) == totals["deferrals"]
    received = report["received_by_domain"]
    assert len(received) == totals["sending_hosts"]


def test_the_null_and_an_unknown_sender_are_not_blank_rows(sample):
    text = table(sample, "--section", "top_senders", "--limit", "100")
    assert "│ (unknown)            │        1 │      0 B │" in text
    assert "│          │" not in text


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
