"""`mailidx report`: the page opened in a real headless Chromium — no console errors, nothing
fetched, every chart with its series and points, the totals equal to `summary --format json`
for the same window and host, and log text shown as text."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from pathlib import Path

import pytest

from tests.browser import CHROMIUM
from tests.conftest import FIXTURES, Mailidx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRAFFIC = ("received", "delivered", "deferred", "bounced", "rejected")

# What the page holds, as data: the charts' series with their points, the totals, the
# traffic table's columns, and what must not be there (scripts, images, styles from elsewhere).
READ_PAGE = """JSON.stringify({
  charts: Object.fromEntries([...document.querySelectorAll("figure.chart")].map(f => [
    f.id.replace("chart-", ""),
    Object.fromEntries([...f.querySelectorAll("svg g[id^='series-']")].map(
      g => [g.id.split("-").slice(2).join("-"), g.querySelectorAll("use").length]))])),
  totals: Object.fromEntries([...document.querySelectorAll("td.total")].map(
    td => [td.dataset.key, Number(td.dataset.value)])),
  traffic: Object.fromEntries(SERIES.map(n => [n,
    [...document.querySelectorAll(`#traffic-table td[data-series='${n}']`)].map(
      td => Number(td.textContent))])),
  scripts: document.scripts.length,
  images: document.images.length,
  links: document.querySelectorAll("link, iframe, object, embed").length,
  commands: [...document.querySelectorAll("code")].map(c => c.textContent)
    .filter(t => /^mailidx (query|trace|sql) /.test(t)),
})""".replace("SERIES", json.dumps(list(TRAFFIC)))


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test (install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from tests.browser import Browser

    b = Browser()
    yield b
    b.close()


def build(tmp: Path, *paths) -> Mailidx:
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), *paths, "--year", "2026")
    return idx


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    """The sample's host `mx`, and its last file again as written by a second host `relay2`."""
    tmp = tmp_path_factory.mktemp("two")
    relay2 = tmp / "relay2.log"
    relay2.write_text((EXAMPLES / "maillog").read_text().replace(" mx postfix", " relay2 postfix"))
    return build(tmp, relay2)


def open_report(idx: Mailidx, browser, *args: str):
    page_file = idx.tmp / f"report{len(list(idx.tmp.glob('report*.html')))}.html"
    idx.run("report", "--html", str(page_file), *args)
    page = browser.open(page_file)
    return page, json.loads(page.evaluate(READ_PAGE)), page_file


def summary(idx: Mailidx, *args: str) -> dict:
    return json.loads(idx.run("summary", "--format", "json", "--limit", "10", *args).stdout)


def hours_touched(idx: Mailidx, host: str | None) -> int:
    """How many clock hours lie between the host's first and last line (both included)."""
    first, last = idx.query(
        "SELECT min(ts), max(ts) FROM log_lines WHERE $host IS NULL OR host = $host",
        {"host": host},
    )[0]
    start = first.replace(minute=0, second=0, microsecond=0)
    return int((last - start) / dt.timedelta(hours=1)) + 1


def check_page(idx: Mailidx, page, seen: dict, args: tuple[str, ...], host: str | None, hours):
    assert page.errors == []
    assert page.requests == [page.url]  # the page itself, nothing fetched
    assert (seen["scripts"], seen["images"], seen["links"]) == (0, 0, 0)
    expected = summary(idx, *args)
    t = expected["totals"]
    for key, value in seen["totals"].items():
        assert value == t[key], key
    assert {"received", "delivered", "deferred", "bounced", "rejected"} <= set(seen["totals"])
    # traffic: five series, a point for every hour of the window, adding up to the totals
    charts = seen["charts"]
    assert set(charts) == {"traffic", "delays", "bounces", "deferrals", "rejects"}
    assert charts["traffic"] == {name: hours for name in TRAFFIC}
    sums = {name: sum(values) for name, values in seen["traffic"].items()}
    assert sums == {
        "received": t["received"],
        "delivered": t["delivered"],
        "deferred": t["deferrals"],
        "bounced": t["bounced"],
        "rejected": t["rejected"],
    }
    # delays: p50, p95 and max for each of summary's top destination domains
    domains = len(expected["delays_by_domain"])
    assert charts["delays"] == {"p50": domains, "p95": domains, "max": domains}
    # reasons over time: one series per reason category summary counts, each point an hour
    for chart, section in (
        ("bounces", "bounces"),
        ("deferrals", "deferrals"),
        ("rejects", "rejects"),
    ):
        categories = {r["reason_category"].replace("_", "-") for r in expected[section]}
        assert charts[chart] == {c: hours for c in categories}, chart
    return expected


def test_sample_report_in_a_browser(sample, browser):
    page, seen, _ = open_report(sample, browser)
    expected = check_page(sample, page, seen, (), None, hours_touched(sample, None))
    assert expected["totals"]["bounced"] > 0 and seen["charts"]["bounces"]


def test_two_hosts_report_per_host_and_for_both(two_hosts, browser):
    for host in (None, "mx", "relay2"):
        args = ("--host", host) if host else ()
        page, seen, _ = open_report(two_hosts, browser, *args)
        check_page(two_hosts, page, seen, args, host, hours_touched(two_hosts, host))
    relay2 = summary(two_hosts, "--host", "relay2")["totals"]
    both = summary(two_hosts)["totals"]
    assert 0 < relay2["received"] < both["received"]


def test_a_window_compares_with_the_one_before(sample, browser):
    args = ("--since", "2026-11-27", "--until", "2026-11-28", "--tz", "UTC")
    page, seen, page_file = open_report(sample, browser, *args)
    check_page(sample, page, seen, args, None, 24)
    before = summary(sample, "--since", "2026-11-26", "--until", "2026-11-27", "--tz", "UTC")
    shown = page.evaluate(
        "JSON.stringify([...document.querySelectorAll('#totals-table tr[data-key]')].map("
        "tr => [tr.dataset.key, tr.children[2].textContent]))"
    )
    previous = dict(json.loads(shown))
    assert previous["received"] == str(before["totals"]["received"])
    assert previous["bounced"] == str(before["totals"]["bounced"])


def test_the_commands_on_the_page_run(sample, browser):
    _, seen, _ = open_report(sample, browser, "--since", "2026-11-27", "--tz", "UTC")
    kinds = {}
    for line in seen["commands"]:
        words = shlex.split(line)
        kinds.setdefault(tuple(words[1:3]), words)  # one of each query and of trace, sql
    assert any(k[0] == "trace" for k in kinds) and ("query", "bounced") in kinds
    for words in kinds.values():
        sample.run(*words[1:])  # exits 0


def test_log_text_is_shown_as_text(tmp_path, browser):
    """A bounce reason and a warning with markup in them (tests/fixtures/hostile.log)."""
    idx = build(tmp_path, FIXTURES / "hostile.log")
    page, seen, page_file = open_report(idx, browser)
    assert page.errors == [] and page.requests == [page.url]
    assert (seen["scripts"], seen["images"]) == (0, 0)
    failed = page.evaluate("document.querySelector('#failed-table').textContent")
    assert "<script>alert(1)</script><img src=http://192.0.2.66/x.png><b>bold</b>" in failed
    assert (
        page.evaluate("document.querySelectorAll('#failed-table b, #warnings-table i').length") == 0
    )
    warnings = page.evaluate("document.querySelector('#warnings-table').textContent")
    assert "<script>alert(2)</script> hostname &amp; <i>evil</i>" in warnings
    assert "<script>" not in page_file.read_text()


def test_report_needs_somewhere_to_go(sample):
    proc = sample.run("report", check=False)
    assert proc.returncode == 2 and b"--html" in proc.stderr


def test_a_missing_sendmail_is_one_line_and_exit_1(sample, tmp_path):
    proc = sample.run(
        "report", "--mail-to", "root@localhost", "--sendmail", str(tmp_path / "none"), check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1 and "--sendmail" in proc.stderr.decode()


def test_page_to_stdout_for_a_host_with_no_mail(sample):
    page = sample.run("report", "--html", "-", "--host", "nosuchhost").stdout.decode()
    assert page.startswith("<!DOCTYPE html>") and "Mail report for nosuchhost" in page
    assert 'data-key="received" data-value="0"' in page


def test_buckets_are_every_hour_or_local_day_of_the_window():
    from zoneinfo import ZoneInfo

    from mailidx.answers.report import buckets

    berlin = ZoneInfo("Europe/Berlin")
    day = dt.datetime(2026, 10, 25, tzinfo=berlin)  # the clocks go back: 25 hours
    hours = buckets(day, dt.datetime(2026, 10, 26, tzinfo=berlin), "hour", berlin)
    assert len(hours) == 25 and len(set(hours)) == 25
    assert hours[0] == day and all(b - a == dt.timedelta(hours=1) for a, b in zip(hours, hours[1:]))
    week = [b.astimezone(berlin) for b in buckets(day, day + dt.timedelta(days=7), "day", berlin)]
    assert [b.day for b in week] == [25, 26, 27, 28, 29, 30, 31]
    assert all(b.hour == 0 for b in week)
    # a window that starts and ends inside hours still gets both of them
    assert len(buckets(day.replace(minute=30), day.replace(hour=1, minute=10), "hour", berlin)) == 2
