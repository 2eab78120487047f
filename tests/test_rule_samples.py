"""Every rule of the parser's table is the one some annotated sample line (tests/samples/)
actually meets, so no rule stands untried: a rule no real line reaches is either wrong (a
wording Postfix never logs) or shadowed by an earlier rule.

Which rule a line meets is read from the parser itself: its header SQL
(:func:`mailidx.parse.header.header_sql`, the step that picks the rule) runs on the sample
lines, and :func:`mailidx.parse.classify.rule_for`, the same choice in Python, must agree with
it line by line.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from mailidx.ingest.indexer import parse_lines
from mailidx.parse import classify, header
from mailidx.parse.rules import RULES
from tests.samples import all_samples

SAMPLES = all_samples()

# Rules that no real Postfix line reaches, as (kind, text of the pattern), with the reason.
# Keep this short: a rule belongs here only when no real line exists anywhere (the public
# corpus, the Postfix source's log formats, public logs) -- a test below fails as soon as a
# sample does reach one of them.
NO_REAL_LINE = {
    # The only line in the public corpus is sendmailanalyzer10's, which SOURCES.md marks as
    # synthetic; the tlsproxy.c and tlsproxy_state.c read log no such wording (a failed
    # handshake shows as "SSL_accept error from …", the tls_failed rule before this one).
    ("tls_failed", "TLS handshake failed for service="): "only a synthetic line found",
    # The only "NOQUEUE: <action>: <stage> from [a]:p: …" postscreen writes is the one of its
    # built-in SMTP engine, "reject" (every such line of the public corpus is one), and the
    # reject rule takes that line first.
    ("noqueue_other", r"(?P<action>\w+): (?P<stage>\S+) from \["): "postscreen logs no other",
    # cleanup_milter.c logs milter_header_checks actions as "milter-header-<hbc action>"
    # (warning, info, replace, reject, filter, discard, hold, redirect); a milter's own header
    # edits (cleanup_add_header() and its kin) log nothing but -v chatter. These three
    # wordings occur only in a synthetic test file (sendmailanalyzer10, "milter-header-add").
    ("milter_header", "milter-header-add"): "no such Postfix action",
    ("milter_header", "milter-header-insert"): "no such Postfix action",
    ("milter_header", "milter-header-delete"): "no such Postfix action",
    # bounce_trace_service.c logs a DSN success report as "sender delivery status
    # notification" (sampled in bounce.txt); "sender success notification" is in no Postfix
    # source file or public log line found.
    ("notification", "sender success notification"): "no such Postfix wording",
    # header_checks STRIP: no public log line carries "strip: header|body", and the Postfix
    # source read (header_body_checks.c's hbc_action()) has no such action.
    ("replace", "(?P<action>strip): "): "no real line or source format found",
    # "QID: canceled" (DESIGN.md: Postfix 3.10): neither a public log line nor the format
    # string could be found.
    ("canceled", "canceled$"): "no real line or source format found",
}


def allow_listed() -> dict[int, str]:
    """The NO_REAL_LINE entries by rule index; each must name exactly one rule."""
    out = {}
    for (kind, text), reason in NO_REAL_LINE.items():
        hits = [i for i, r in enumerate(RULES) if r.kind == kind and text in r.pattern]
        assert len(hits) == 1, f"NO_REAL_LINE entry {kind!r} {text!r} names {len(hits)} rules"
        out[hits[0]] = reason
    return out


@pytest.fixture(scope="module")
def classified() -> list[tuple[str | None, str | None, int]]:
    """(daemon, body, rule) of each sample line, as the parser's header SQL gives them."""
    batch = pa.table(
        {
            "file_id": pa.array([1] * len(SAMPLES), pa.int32()),
            "line_number": pa.array(range(1, len(SAMPLES) + 1), pa.int64()),
            "offset": pa.array([0] * len(SAMPLES), pa.int64()),
            "raw": pa.array([s.line for s in SAMPLES], pa.large_string()),
            "raw_bytes": pa.nulls(len(SAMPLES), pa.large_binary()),
            "year": pa.array([2026] * len(SAMPLES), pa.int32()),
        }
    )
    con = duckdb.connect(":memory:")
    con.register("batch", batch)
    rows = con.execute(
        f"SELECT daemon, body, rule FROM ({header.header_sql()}) ORDER BY line_number"
    ).fetchall()
    con.close()
    assert len(rows) == len(SAMPLES)
    return rows


def describe(index: int) -> str:
    rule = RULES[index]
    daemons = ",".join(rule.daemons) if rule.daemons else "any daemon"
    return f"  #{index} {rule.kind} ({daemons}): {rule.pattern[:70]}"


def test_every_rule_in_the_table_matches_at_least_one_annotated_sample(classified):
    picked = {rule for _, _, rule in classified}
    excused = allow_listed()
    missing = [i for i in range(len(RULES)) if i not in picked and i not in excused]
    assert not missing, "rules no sample line in tests/samples/ meets:\n" + "\n".join(
        describe(i) for i in missing
    )


def test_a_rule_allow_listed_as_having_no_real_line_really_has_no_sample(classified):
    picked = {rule for _, _, rule in classified}
    sampled = [i for i in allow_listed() if i in picked]
    assert not sampled, "now met by a sample, drop from NO_REAL_LINE:\n" + "\n".join(
        describe(i) for i in sampled
    )


def test_rule_for_picks_the_rule_the_parser_sql_picks_for_every_sample(classified):
    wrong = [
        f"{s.id}: SQL #{rule}, rule_for #{classify.rule_for(daemon, body)}"
        for s, (daemon, body, rule) in zip(SAMPLES, classified)
        if rule != classify.FOREIGN and classify.rule_for(daemon, body) != rule
    ]
    assert not wrong, "\n".join(wrong)


def test_the_rule_found_gives_the_kind_the_real_parse_stores(classified):
    rows = parse_lines([s.line for s in SAMPLES], year=2026, tz="UTC")
    fallback = {classify.UNPARSED: "unparsed", classify.FOREIGN: "foreign"}
    wrong = [
        f"{s.id}: rule #{rule} is {RULES[rule].kind if rule >= 0 else fallback[rule]},"
        f" parsed as {row['kind']}"
        for s, (_, _, rule), row in zip(SAMPLES, classified, rows)
        if row["kind"] != (RULES[rule].kind if rule >= 0 else fallback[rule])
    ]
    assert not wrong, "\n".join(wrong)
