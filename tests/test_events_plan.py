"""The events plan (:func:`mailidx.parse.events.plan`): for a few rules, which rule gives which
column of an ev_* table and by what SQL, and that :func:`render` writes exactly that plan."""

from __future__ import annotations

import duckdb
import pytest

from mailidx.parse.events import plan, render
from mailidx.parse.rules import Rule

RULES = [
    Rule("connect", ("smtpd",), r"connect from (?P<client_host>[^\[]*)\[(?P<client_ip>[^\]]*)\]"),
    Rule(
        "reject",
        ("smtpd",),
        r"reject: (?P<stage>\S+) from \S+: (?P<reason>.*)$",
        cut_at=("; from=",),
        keys=("sender", "recipient"),
    ),
    Rule("delivery", ("smtp",), r"to=", keys=("recipient", "relay", "delays", "dsn")),
    Rule("hold", ("cleanup",), r"hold: header ", const={"action": "hold"}),
]


def test_a_table_plans_only_the_rules_whose_kinds_it_stores():
    assert plan("ev_session", RULES).rules == [0]
    assert plan("ev_reject", RULES).rules == [1, 3]
    assert plan("ev_delivery", RULES).rules == [2]
    assert plan("ev_message", RULES).rules == []


def test_named_groups_give_their_column_by_group_position():
    p = plan("ev_session", RULES)
    assert p.sources["client_host"] == {"nullif(m.g1, '')": [0]}
    assert p.sources["client_ip"] == {"nullif(m.g2, '')": [0]}


def test_a_tail_group_is_cut_by_position_and_at_the_first_trailer_key():
    p = plan("ev_reject", RULES)
    assert p.regexes[1][2] == "reason"  # the tail is not captured by the regex
    ((expr, rules),) = p.sources["reason"].items()
    assert rules == [1]
    # `tail`: the body after the regex's match, computed once per line by the rendered SELECT
    assert expr.startswith("nullif(CASE WHEN contains(tail, '; from=')")


def test_key_fields_come_from_their_key_helper_and_keep_empty_addresses():
    p = plan("ev_reject", RULES)
    assert p.sources["sender"] == {"k_sender": [1]}
    assert p.key_rules == {"sender": [1], "recipient": [1]}
    assert p.rules_giving("recipient") == [1]


def test_constants_the_wording_implies_are_quoted_values():
    assert plan("ev_reject", RULES).sources["action"] == {"'hold'": [3]}


def test_relay_and_delays_give_their_parts():
    p = plan("ev_delivery", RULES)
    assert p.delay_rules == [2]
    assert p.sources["delay_xmit"] == {"d.delay_xmit": [2]}
    assert p.sources["relay"] == {"k_relay": [2]}
    assert set(p.sources) >= {"relay_host", "relay_ip", "relay_port"}
    assert p.regexes == {}  # a rule without named groups runs no regex of its own


def test_a_rule_giving_a_column_the_table_lacks_is_refused():
    with pytest.raises(ValueError, match="rules of ev_reject give columns it lacks"):
        render(plan("ev_reject", RULES), ["stage", "reason", "recipient"])


def test_the_rendered_select_gives_each_column_from_its_rule():
    columns = ["stage", "reason", "sender", "recipient", "action", "detail"]
    sql = render(plan("ev_reject", RULES), columns, source="lines")
    body = "reject: RCPT from x[1.2.3.4]: 554 no; from=<a@b> to=<c@d> proto=ESMTP"
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE lines AS SELECT 1 AS file_id, 7 AS line_number, 1 AS rule, "
        "NULL::TIMESTAMPTZ AS ts, 'mx' AS host, 'postfix' AS service, 'smtpd' AS daemon, "
        "1 AS pid, 'NOQUEUE' AS queue_id, ? AS body "
        "UNION ALL SELECT 1, 8, 3, NULL, 'mx', 'postfix', 'cleanup', 2, 'ABC', 'hold: header x'",
        [body],
    )
    rows = con.execute(f"SELECT line_number, kind, {', '.join(columns)} FROM ({sql})").fetchall()
    assert sorted(rows) == [
        (7, "reject", "RCPT", "554 no", "a@b", "c@d", None, None),
        (8, "hold", None, None, None, None, "hold", None),
    ]
