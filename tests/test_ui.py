"""The terminal's shared pieces: --format refused before any work, the one SQL executor that
`mailidx sql` and the shell share, and the shell's $NAME parameters (.param)."""

from __future__ import annotations

import io

import duckdb
import pytest

from mailidx import executor
from mailidx.ui.shell import Shell
from tests.conftest import Mailidx


@pytest.mark.parametrize(
    "args, choose",
    [
        (("trace", "someone@example.com", "--format", "xml"), "choose text or json"),
        (("summary", "--format", "xml"), "choose table, json, csv or jsonl"),
        (("query", "bounced", "--count", "--format", "xml"), "choose one of table, csv"),
        (("status", "--format", "xml"), "choose one of table, csv"),
    ],
)
def test_a_bad_format_is_refused_before_any_work(tmp_path, args, choose):
    """No index at --db: the command would fail opening it; the bad --format is said first."""
    missing = Mailidx(tmp_path / "nowhere" / "index.duckdb", tmp_path)
    proc = missing.run(*args, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and "--format" in lines[0] and choose in lines[0], err
    assert lines[0].startswith(f"mailidx {args[0]}: ")
    assert not missing.db.parent.exists()  # nothing was opened or created


def test_the_executor_runs_each_statement_and_yields_rows_or_status():
    con = duckdb.connect(":memory:")
    results = list(
        executor.run_statements(
            con,
            "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2);"
            "SELECT n * $k AS m FROM t ORDER BY n; SET threads = 1;",
            {"k": 10, "unused": "x"},  # each statement gets only the parameters it names
        )
    )
    assert [r.kind for r in results] == ["create", "insert", "select", "set"]
    assert results[2].columns == ["m"] and results[2].rows == [(10,), (20,)]
    assert (results[1].columns, results[1].rows) == (["Count"], [(2,)])  # DuckDB's status
    assert (results[3].columns, results[3].rows) == (["Success"], [])
    assert executor.last_rows(con, "SELECT 1 AS a; SELECT 2 AS b") == (["b"], [(2,)])
    con.close()


def test_the_shell_binds_parameters_set_with_dot_param(capsys):
    con = duckdb.connect(":memory:")
    out = io.StringIO()
    shell = Shell(con, ":memory:", out=out)
    shell.mode = "csv"
    for line in (
        ".param set who 'x@example.com'",
        ".param set $n 3",
        "SELECT $who AS who, $n::INTEGER + 1 AS n;",
        ".param list",
    ):
        assert shell.handle(line)
    assert out.getvalue().splitlines() == [
        "who,n",
        "x@example.com,4",
        "parameter,value",
        "$n,3",
        "$who,x@example.com",
    ]
    out.truncate(0)
    out.seek(0)
    shell.handle(".param unset who")
    shell.handle("SELECT $who AS who;")
    assert "error:" in capsys.readouterr().err  # no longer bound
    shell.handle(".param clear")
    shell.handle(".param list")
    assert out.getvalue().splitlines() == ["parameter,value"]
    shell.handle(".param bogus")
    assert "use .param set NAME VALUE" in capsys.readouterr().err
    con.close()


def test_build_says_which_failure_stopped_it_opening_the_index(tmp_path):
    """A bad --tz is named as such; a failure before it (a file where a directory should be)
    says what it is, never that the zone is wrong."""
    log = tmp_path / "maillog"
    log.write_text("Nov 27 10:00:00 h postfix/qmgr[1]: ABC: removed\n")
    good = Mailidx(tmp_path / "index.duckdb", tmp_path)
    proc = good.run("build", str(log), "--tz", "Bad/Zone", check=False)
    assert proc.returncode == 2
    assert "mailidx: --tz: cannot use time zone 'Bad/Zone'" in proc.stderr.decode()
    (tmp_path / "f").write_text("")
    blocked = Mailidx(tmp_path / "f" / "index.duckdb", tmp_path)
    proc = blocked.run("build", str(log), "--tz", "UTC", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "is a file, not a directory" in err
    assert "time zone" not in err
