"""DuckDB over the lake, Spark and ClickHouse give the index's own answers.

One export of the real-Postfix sample plus a second pair of hosts (mx1 relays to mx2); every
question of tests/lake_questions.py is asked of the index, then of each engine over the lake
through the views `mailidx export` generated for it, and the rows must be the same (instants
compared as instants). Spark (pyspark, local mode, needs Java) and ClickHouse (chdb) are skipped
with the reason when they are not installed.
"""

from __future__ import annotations

import shutil
import subprocess

import duckdb
import pytest

from mailidx.lake import views as lake
from tests import lake_questions as lq

QUESTIONS = lq.questions()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(index path, lake path): the sample and two more hosts, indexed and exported."""
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("lake-engines")
    mailidx = Mailidx(tmp / "index.duckdb", tmp)
    mailidx.build(*lq.copy_sample(tmp / "logs"))
    mailidx.run("export", str(tmp / "lake"))
    answers = {}
    con = duckdb.connect(str(mailidx.db), read_only=True)
    for name, sql in QUESTIONS.items():
        answers[name] = lq.comparable(con.execute(sql).fetchall())
    con.close()
    return tmp / "lake", answers


def test_the_questions_are_not_empty(exported):
    _lake, answers = exported
    assert all(answers[f"view {v}"] for v in lq.VIEWS)
    assert sum(bool(answers[n]) for n in answers if n.startswith("query ")) >= 8
    hosts = {row[0] for row in answers["flow across two hosts"]}
    assert hosts == {"mx1", "mx2"}


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_duckdb_over_the_lake_answers_like_the_index(exported, name):
    lake_dir, answers = exported
    con = lake.connect(str(lake_dir))
    assert lq.comparable(con.execute(QUESTIONS[name]).fetchall()) == answers[name]


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH (Debian: openjdk-17-jre-headless)")
    try:
        subprocess.run(["java", "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("java does not run")
    from pyspark.sql import SparkSession

    del pyspark
    session = (
        SparkSession.builder.master("local[2]")
        .appName("mailidx-lake-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spark_answers(exported, spark):
    lake_dir, _answers = exported
    for statement in lake.statements(str(lake_dir), "spark"):
        spark.sql(statement)
    return {
        name: lq.comparable(tuple(row) for row in spark.sql(lake.transpile(sql, "spark")).collect())
        for name, sql in QUESTIONS.items()
    }


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_spark_over_the_lake_answers_like_the_index(exported, spark_answers, name):
    assert spark_answers[name] == exported[1][name]


@pytest.fixture(scope="module")
def clickhouse(exported):
    chdb = pytest.importorskip("chdb", reason="chdb (ClickHouse) is not installed")
    from chdb import session as chdb_session

    del chdb
    lake_dir, _answers = exported
    ch = chdb_session.Session()
    ch.query("SET session_timezone = 'UTC'")
    for statement in lake.statements(str(lake_dir), "clickhouse"):
        ch.query(statement)
    yield ch
    ch.close()


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_clickhouse_over_the_lake_answers_like_the_index(exported, clickhouse, name):
    table = clickhouse.query(lake.transpile(QUESTIONS[name], "clickhouse"), "ArrowTable")
    rows = [tuple(r.values()) for r in table.to_pylist()]
    assert lq.comparable(rows) == exported[1][name]
