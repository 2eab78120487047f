"""`mailidx sql` in batch use: a file, stdin, bound parameters, --write, and refusals."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.test_bad_input import writer_holding

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def sample(mailidx):
    mailidx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    return mailidx


def table(proc) -> list[dict]:
    return list(csv.DictReader(io.StringIO(proc.stdout.decode())))


def test_a_file_of_statements_prints_the_last_result(sample, tmp_path):
    script = tmp_path / "q.sql"
    script.write_text(
        "-- how many bounced, by category\n"
        "SET TimeZone = 'UTC';\n"
        "SELECT reason_category, count(*) AS n FROM recipients WHERE status = 'bounced'\n"
        "GROUP BY 1 ORDER BY n DESC, 1;\n"
    )
    got = table(sample.run("sql", "--file", str(script), "--format", "csv"))
    assert [(r["reason_category"], r["n"]) for r in got] == [
        ("unknown_user", "5"),
        ("mailbox_full", "2"),
        ("size", "1"),
    ]


def test_sql_on_stdin(sample):
    proc = sample.run("sql", "--format", "csv", input=b"SELECT count(*) AS n FROM messages")
    assert table(proc) == [{"n": "93"}]


def test_parameters_are_bound(sample):
    proc = sample.run(
        "sql",
        "--format",
        "csv",
        "-p",
        "who",
        "buyer@big.test",
        "-p",
        "unused=1",
        "SELECT status, reason_category FROM recipients WHERE recipient = $who ORDER BY status",
    )  # the hand-off to the content filter, then the real bounce
    assert table(proc) == [
        {"status": "bounced", "reason_category": "size"},
        {"status": "sent", "reason_category": ""},
    ]
    hostile = sample.run(
        "sql",
        "--format",
        "csv",
        "-p",
        "who=x' OR '1'='1",
        "SELECT count(*) AS n FROM recipients WHERE recipient = $who",
    )
    assert table(hostile) == [{"n": "0"}]


def test_drop_view_without_write_fails_clearly_and_changes_nothing(sample):
    proc = sample.run("sql", "DROP VIEW messages", check=False)
    assert proc.returncode == 1
    assert b"read-only: add --write to change it" in proc.stderr
    assert sample.query("SELECT count(*) FROM messages") == [(93,)]


def test_write_adds_a_reason_category_the_views_use(sample):
    sample.run(
        "sql",
        "--write",
        "INSERT INTO reason_categories VALUES ('lab_size', '5.3.4', NULL, 300, 'our size policy')",
    )
    got = table(
        sample.run(
            "sql",
            "--format",
            "csv",
            "SELECT reason_category FROM recipients"
            " WHERE recipient = 'buyer@big.test' AND status = 'bounced'",
        )
    )
    assert got == [{"reason_category": "lab_size"}]


def test_write_is_refused_while_another_process_holds_the_index(sample):
    with writer_holding(sample.db) as holder:
        proc = sample.run("sql", "--write", "DELETE FROM reason_categories", check=False)
    assert proc.returncode == 1
    assert f"index is busy (pid {holder.pid})".encode() in proc.stderr


def test_a_large_table_result_is_cut_with_a_note(sample):
    proc = sample.run("sql", "--format", "table", "SELECT * FROM range(2000)")
    assert b"1500 more rows not shown" in proc.stderr
    assert proc.stdout.count(b"\n") < 600


def test_two_word_parameters_become_name_value_pairs():
    from mailidx.ui.cli import pair_params

    assert pair_params(["sql", "-p", "a", "1", "--param", "b=2", "SELECT $a"]) == [
        "sql",
        "-p",
        "a=1",
        "--param",
        "b=2",
        "SELECT $a",
    ]
