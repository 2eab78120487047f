"""Every view and column is documented once, in sql/, and docs/schema.md shows the same text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from mailidx import store
from mailidx.answers import schema

ROOT = Path(__file__).resolve().parents[1]


def fresh():
    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    return con


def test_every_public_column_has_a_description():
    con = fresh()
    missing = [
        f"{rel.name}.{col.name}"
        for rel in schema.describe(con)
        for col in rel.columns
        if not col.description
    ]
    assert missing == []
    assert {r.name for r in schema.describe(con)} == set(schema.PUBLIC)


def test_docs_schema_section_is_the_generated_one():
    text = (ROOT / "docs" / "schema.md").read_text()
    start = text.index("\n", text.index("<!-- schema:start")) + 1
    end = text.index("<!-- schema:end -->")
    assert text[start:end] == schema.markdown(schema.describe(fresh()))


def test_schema_command_prints_one_view(mailidx):
    out = mailidx.run("schema", "recipients", "--format", "csv").stdout.decode()
    assert "status,VARCHAR,Final outcome: sent, bounced" in out.replace('"', "")


def test_schema_command_refuses_an_unknown_view(mailidx):
    proc = mailidx.run("schema", "nope", check=False)
    assert proc.returncode == 1
    assert b"no view or table 'nope'; choose one of: messages" in proc.stderr


def test_schema_command_names_markdown_among_the_formats_it_refuses_others_for(mailidx):
    proc = mailidx.run("schema", "--format", "yaml", check=False)
    assert proc.returncode == 2
    assert b"choose one of table, csv, json, jsonl, markdown" in proc.stderr
    assert mailidx.run("schema", "--format", "markdown").stdout.startswith(b"#")


def test_a_plain_duckdb_process_lists_and_queries_every_view(tmp_path):
    """Another process, with nothing but the duckdb package, opening the index read-only."""
    from tests.conftest import Mailidx

    idx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    idx.build(*sorted((ROOT / "examples").glob("maillog*")))
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "views = [r[0] for r in con.execute("
        "'SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1').fetchall()]\n"
        "for v in views:\n"
        "    n = con.execute(f'SELECT count(*) FROM {v}').fetchall()[0][0]\n"
        "    print(v, n)\n"
        "q = \"SELECT final FROM messages WHERE queue_id = '2015920C29A'\"\n"
        "print(con.execute(q).fetchall())\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            f"import sys; sys.path[:0] = {duckdb_path()!r}\n" + script,
            str(idx.db),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.splitlines()
    counts = dict(line.split() for line in out[:-1])
    views = [r.name for r in schema.describe(fresh()) if r.kind == "view"]
    assert views and all(int(counts[view]) > 0 for view in views), counts
    assert out[-1] == "[('mixed',)]"


def duckdb_path() -> list[str]:
    """Just the directory that holds the duckdb package, so the child imports nothing else."""
    return [str(Path(duckdb.__file__).resolve().parents[1])]
