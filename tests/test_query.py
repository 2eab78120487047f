"""`mailidx query`: canned queries on the real-Postfix sample, exact rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from mailidx.answers.queries import QueryError
from mailidx.clock import parse_when

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("q")
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    return idx


def rows(idx, *args) -> list[dict]:
    out = idx.run("query", *args, "--format", "csv").stdout.decode()
    return list(csv.DictReader(io.StringIO(out)))


def test_bounced_by_reason_size_finds_the_552_bounce(sample):
    got = rows(sample, "bounced", "--reason", "size")
    assert [(r["recipient"], r["dsn"], r["sender"]) for r in got] == [
        ("buyer@big.test", "5.3.4", "sales@ok.test")
    ]


def test_bounced_to_one_domain(sample):
    got = rows(sample, "bounced", "--domain", "FULL.test")
    assert sorted(r["recipient"] for r in got) == ["mix5@full.test", "stuffed@full.test"]
    assert {r["reason_category"] for r in got} == {"mailbox_full"}


def test_rejected_relay_denied_names_the_client(sample):
    got = rows(sample, "rejected", "--reason", "relay_denied")
    assert [(r["client_ip"], r["sender"], r["recipient"], r["code"]) for r in got] == [
        ("127.0.0.2", "someone@outside.test", "victim@ok.test", "554")
    ]


def test_rejected_counts_a_size_refusal_once(sample):
    got = rows(sample, "rejected", "--reason", "size")
    assert len(got) == 2  # MAIL FROM with SIZE=, and the DATA-stage warning (smtpd only)


def test_deferred_and_expired_and_held(sample):
    assert [r["recipient"] for r in rows(sample, "deferred")] == ["pending@dead.test"]
    assert sorted(r["recipient"] for r in rows(sample, "expired")) == [
        "ghost@dead.test",
        "mix4@dead.test",
    ]
    assert [r["sender"] for r in rows(sample, "held")] == ["labdave@mx.lab.test"]


def test_top_domains_counts_outcomes(sample):
    got = {r["domain"]: r for r in rows(sample, "top-domains")}
    assert (got["nouser.test"]["bounced"], got["dead.test"]["expired"]) == ("5", "2")


def test_since_and_until_narrow_by_time(sample):
    everything = rows(sample, "sent", "--limit", "1000")
    day3 = rows(sample, "sent", "--since", "2026-11-28", "--tz", "UTC", "--limit", "1000")
    before = rows(sample, "sent", "--until", "2026-11-28", "--tz", "UTC", "--limit", "1000")
    assert 0 < len(day3) < len(everything)
    assert len(day3) + len(before) == len(everything)
    assert all(r["ts"] >= "2026-11-28" for r in day3)


def test_limit_caps_the_rows(sample):
    assert len(rows(sample, "sent", "--limit", "3")) == 3


def test_unknown_query_and_reason_list_the_valid_names(sample):
    proc = sample.run("query", "bounces", check=False)
    assert proc.returncode == 1
    assert b"no query 'bounces'; choose one of: bounced, deferred" in proc.stderr
    proc = sample.run("query", "bounced", "--reason", "sizes", check=False)
    assert proc.returncode == 1
    assert b"no reason category 'sizes'; choose one of: auth, dns" in proc.stderr


def test_a_filter_the_query_does_not_take_is_refused(sample):
    proc = sample.run("query", "held", "--relay", "mx.example.com", check=False)
    assert proc.returncode == 1 and b"has no --relay filter" in proc.stderr


def test_list_shows_every_query_with_its_filters(sample):
    got = {r["query"]: r for r in rows(sample, "--list")}
    assert {
        "bounced",
        "deferred",
        "rejected",
        "sent",
        "expired",
        "held",
        "top-senders",
        "top-recipients",
        "top-domains",
        "reasons",
    } <= set(got)
    assert "--reason" in got["bounced"]["filters"] and got["bounced"]["what"]


def test_filter_values_are_bound_not_spliced(sample):
    got = rows(sample, "bounced", "--sender", "x' OR '1'='1")
    assert got == []


def test_relative_and_named_times():
    now = dt.datetime(2026, 11, 28, 15, 30, tzinfo=dt.timezone.utc)
    assert parse_when("2h", "UTC", now) == now - dt.timedelta(hours=2)
    assert parse_when("7d", "UTC", now) == now - dt.timedelta(days=7)
    assert parse_when("today", "UTC", now) == dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc)
    assert parse_when("yesterday", "Europe/Paris", now).isoformat() == "2026-11-27T00:00:00+01:00"
    assert parse_when("2026-11-27T10:00", "UTC", now).hour == 10
    with pytest.raises(QueryError):
        parse_when("last tuesday", "UTC", now)


def test_count_answers_in_one_line(sample):
    def count(*args: str) -> str:
        return sample.run("query", *args, "--count").stdout.decode()

    # "how many size bounces to big.test?" (the lab's 552 5.3.4)
    assert count("bounced", "--reason", "size", "--domain", "big.test") == "1\n"
    assert count("bounced", "--reason", "size", "--domain", "gmail.com") == "0\n"
    assert count("bounced") == "8\n"
    # no --limit when counting: every row
    assert count("sent", "--limit", "3") == f"{len(rows(sample, 'sent', '--limit', '1000'))}\n"
    out = sample.run("query", "bounced", "--count", "--format", "json").stdout
    assert json.loads(out) == [{"count": 8}]


def test_by_counts_rows_per_domain_reason_day_or_relay(sample):
    def by(*args: str) -> str:
        return sample.run("query", *args, "--format", "csv").stdout.decode()

    assert (
        by("bounced", "--by", "domain") == "domain,count\nnouser.test,5\nfull.test,2\nbig.test,1\n"
    )
    assert by("bounced", "--by", "reason") == (
        "reason,count\nunknown_user,5\nmailbox_full,2\nsize,1\n"
    )
    assert by("sent", "--by", "day", "--tz", "UTC") == (
        "day,count\n2026-11-26,30\n2026-11-27,52\n2026-11-28,30\n"
    )
    assert by("sent", "--by", "relay", "--since", "2026-11-28", "--tz", "UTC").splitlines() == [
        "relay,count",
        "127.0.0.11[127.0.0.11]:34589,11",
        "local,9",
        "127.0.0.1[127.0.0.1]:35779,8",
        "127.0.0.14[127.0.0.14]:38143,2",
    ]


def test_by_what_a_query_does_not_have_is_one_line(sample):
    proc = sample.run("query", "held", "--by", "relay", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        "mailidx: query 'held' has no relay to count by (its columns: first_seen, host, "
        "queue_id, sender, message_id, client_ip, size)\n"
    )
    proc = sample.run("query", "bounced", "--by", "week", check=False)
    assert proc.returncode == 2 and b"choose one of domain, reason, day, relay" in proc.stderr


def test_tables_show_the_null_sender_as_angle_brackets_and_a_missing_one_as_unknown(sample):
    env = sample.env(COLUMNS="120")
    text = sample.run("query", "top-senders", "--format", "table", env=env).stdout.decode()
    assert "│ (unknown)            │ 1        │        │ 0             │" in text
    text = sample.run(
        "sql",
        "--format",
        "table",
        "SELECT sender, count(*) AS n FROM messages WHERE origin = 'bounce' GROUP BY sender",
        env=env,
    ).stdout.decode()
    assert "│ <>     │ 11 │" in text
    csv_text = sample.run("query", "rejected", "--format", "csv").stdout.decode()
    refused = list(csv.DictReader(io.StringIO(csv_text)))
    wide = sample.env(COLUMNS="400")
    text = sample.run("query", "rejected", "--format", "table", env=wide).stdout.decode()
    # a refusal at MAIL FROM has no recipient, one before it no sender either
    assert text.count("(unknown)") == sum(
        (r["sender"] == "") + (r["recipient"] == "") for r in refused
    )
    # csv and json keep the stored values: empty
    assert rows(sample, "top-senders")[-1]["sender"] == ""


def test_trace_shows_the_null_sender_as_angle_brackets_and_a_missing_one_as_unknown(sample):
    # smtpd refused this message at end of DATA (size limit), before qmgr logged a sender
    text = sample.run("trace", "003A320C0B7", "--no-lines").stdout.decode().splitlines()
    facts = text[text.index(next(line for line in text if "final rejected" in line)) + 1]
    assert facts.strip().split("  ")[0] == "from (unknown)"
    bounce = sample.query(
        "SELECT queue_id FROM messages WHERE origin = 'bounce' ORDER BY first_seen LIMIT 1"
    )[0][0]
    text = sample.run("trace", bounce, "--no-lines").stdout.decode()
    assert "    from <>  " in text
