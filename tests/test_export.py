"""`mailidx export` (incremental, atomic per partition, readable while written) and `prune`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from mailidx.lake import export
from tests import lake_questions as lq
from tests.generated import generated_log

ROOT = Path(__file__).resolve().parents[1]


def lake_state(lake: Path) -> dict[str, tuple]:
    """Every partition file of a lake (path → row count and content hash), and its manifests
    without their time stamps."""
    files = sorted(lake.glob("*/host=*/day=*/*.parquet"))
    con = duckdb.connect()
    out = {}
    for f in files:
        out[str(f.relative_to(lake))] = con.execute(
            "SELECT count(*), sum(hash(t)) FROM read_parquet(?) AS t", [str(f)]
        ).fetchall()[0]
    con.close()
    for m in sorted((lake / export.MANIFESTS).glob("*.json")):
        manifest = json.loads(m.read_text())
        manifest.pop("exported_at", None)
        out[str(m.relative_to(lake))] = json.dumps(manifest, sort_keys=True)
    return out


def split_log(source: Path, first: Path, rest: Path, fraction: float) -> None:
    data = source.read_bytes()
    cut = data.index(b"\n", int(len(data) * fraction)) + 1
    first.write_bytes(data[:cut])
    rest.write_bytes(data[cut:])


def test_incremental_export_equals_a_fresh_full_export(mailidx, tmp_path):
    full = generated_log(tmp_path / "gen.log", 20000)
    log = tmp_path / "maillog"
    rest = tmp_path / "rest"
    split_log(full, log, rest, 0.5)
    mailidx.build(log, "--year", "2026")
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake))
    first = lake_state(lake)
    with open(log, "ab") as f:
        f.write(rest.read_bytes())
    mailidx.build(log, "--year", "2026")
    second = mailidx.run("export", str(lake)).stderr.decode()
    fresh = tmp_path / "fresh"
    mailidx.run("export", str(fresh))
    assert lake_state(lake) == lake_state(fresh)
    assert lake_state(lake) != first
    # only what changed was written: the first day's per-line partitions were not
    assert "unchanged" in second and not second.startswith("0 partitions written")
    unchanged = int(second.split(" unchanged")[0].rsplit(" ", 1)[1])
    assert unchanged > 0
    again = mailidx.run("export", str(lake)).stderr.decode()
    assert again.startswith("0 partitions written")


def test_export_narrowed_to_days_and_a_host(mailidx, tmp_path):
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake), "--since", "2026-11-27", "--until", "2026-11-28",
                "--host", "mx")  # fmt: skip
    days = {p.name for p in lake.glob("*/host=*/day=*")}
    hosts = {p.name for p in lake.glob("*/host=*")}
    assert days == {"day=2026-11-27"} and hosts == {"host=mx"}
    rows = mailidx.run("sql", "--lake", str(lake), "--format", "csv",
                       "SELECT count(*) FROM log_lines").stdout.decode()  # fmt: skip
    expected = mailidx.query(
        "SELECT count(*) FROM log_lines WHERE host = 'mx' "
        "AND ts >= '2026-11-27 00:00:00+00' AND ts < '2026-11-28 00:00:00+00'"
    )[0][0]
    assert rows.splitlines()[1] == str(expected) and expected > 0


def test_views_for_each_engine_are_printed_and_written_beside_the_data(mailidx, tmp_path):
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake))
    for dialect in ("duckdb", "spark", "clickhouse"):
        text = mailidx.run("export", str(lake), "--views", dialect,
                           "--location", "s3://bucket/mail").stdout.decode()  # fmt: skip
        assert "s3://bucket/mail/recipients" in text and "message_flows" in text
        assert (lake / "_views" / f"{dialect}.sql").read_text().count("VIEW") == text.count("VIEW")
    bad = mailidx.run("export", str(lake), "--views", "oracle", check=False)
    assert bad.returncode == 1 and b"choose one of" in bad.stderr


def test_kill_9_during_export_leaves_each_partition_old_or_new(mailidx, tmp_path):
    full = generated_log(tmp_path / "gen.log", 40000, days=4)
    log, rest = tmp_path / "maillog", tmp_path / "rest"
    split_log(full, log, rest, 0.6)
    mailidx.build(log, "--year", "2026")
    old_lake = tmp_path / "old"
    mailidx.run("export", str(old_lake))
    with open(log, "ab") as f:
        f.write(rest.read_bytes())
    mailidx.build(log, "--year", "2026")
    new_lake = tmp_path / "new"
    mailidx.run("export", str(new_lake))
    old, new = lake_state(old_lake), lake_state(new_lake)
    old_manifests = {k: v for k, v in old.items() if k.startswith(export.MANIFESTS)}
    new_manifests = {k: v for k, v in new.items() if k.startswith(export.MANIFESTS)}
    outcomes = set()
    for delay in (0.3, 0.8, 1.4, 2.2, 3.5):
        lake = tmp_path / f"killed-{delay}"
        shutil.copytree(old_lake, lake)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailidx", "export", str(lake)],
            env=mailidx.env(), stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = lake_state(lake)
        for name, value in state.items():
            if name.startswith(export.MANIFESTS):
                continue
            assert value in (old.get(name), new.get(name)), name
        assert set(new) - set(old_manifests) - set(state) <= set(new) - set(old)
        manifests = {k: v for k, v in state.items() if k.startswith(export.MANIFESTS)}
        assert manifests in (old_manifests, new_manifests)
        outcomes.add("new" if manifests == new_manifests else "old")
        mailidx.run("export", str(lake))  # and the next export finishes the job
        assert lake_state(lake) == new
    assert "old" in outcomes  # at least one kill landed before the export was done


READER = """
import sys, time
from mailidx.lake import views as lake
lake_dir, seconds = sys.argv[1], float(sys.argv[2])
done = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    con = lake.connect(lake_dir)
    con.execute("SELECT count(*), max(ts) FROM log_lines").fetchall()
    con.execute("SELECT final, count(*) FROM messages GROUP BY final").fetchall()
    con.execute("SELECT count(*) FROM message_flows").fetchall()
    con.close()
    done += 1
print(done)
"""


def test_a_reader_during_export_never_fails(mailidx, tmp_path):
    mailidx.build(generated_log(tmp_path / "gen.log", 20000), "--year", "2026")
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake))
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(lake), "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    rewrites = 0
    while reader.poll() is None:
        for manifest in export.read_manifests(str(lake)).values():
            for entry in manifest["tables"].values():
                for day in entry["days"]:
                    entry["days"][day] = {"stale": True}  # so every partition is written again
            export.write_manifest(str(lake), manifest)
        written = mailidx.run("export", str(lake)).stderr.decode()
        assert not written.startswith("0 partitions")
        rewrites += 1
    out, err = reader.communicate()
    assert reader.returncode == 0, err.decode()
    assert int(out) > 0 and rewrites > 1


def rows_from(con, cutoff: str) -> dict[str, list]:
    """Every view's rows filed under a day on or after ``cutoff`` (as the lake files them)."""
    out = {}
    for table in export.TABLES:
        sql = f"SELECT * EXCLUDE (day) FROM ({export.source_sql(table)}) WHERE day >= ?"
        out[table] = lq.comparable(con.execute(sql, [cutoff]).fetchall())
    recent = f"SELECT message_key FROM messages WHERE last_seen >= TIMESTAMPTZ '{cutoff} 00:00+00'"
    out["flows"] = lq.comparable(
        con.execute(f"SELECT * FROM flows WHERE from_message_key IN ({recent})").fetchall()
    )
    out["message_flows"] = lq.comparable(
        con.execute(f"SELECT * FROM message_flows WHERE message_key IN ({recent})").fetchall()
    )
    return out


def test_prune_keeps_the_remaining_days_and_shrinks_the_file(mailidx, tmp_path):
    log = tmp_path / "maillog"
    generated_log(log, 40000, days=4)
    mailidx.build(log, "--year", "2026")
    cutoff = "2026-10-03"
    con = duckdb.connect(str(mailidx.db), read_only=True)
    before = rows_from(con, cutoff)
    old_lines = con.execute(
        "SELECT count(*) FROM log_lines WHERE ts < TIMESTAMPTZ '2026-10-03 00:00+00'"
    ).fetchall()[0][0]
    con.close()
    size = os.path.getsize(mailidx.db)
    lake = tmp_path / "lake"
    done = mailidx.run("prune", "--before", cutoff, "--export", str(lake))
    assert b"pruned days before 2026-10-03" in done.stderr
    assert os.path.getsize(mailidx.db) < size
    con = duckdb.connect(str(mailidx.db), read_only=True)
    assert rows_from(con, cutoff) == before
    left = con.execute(
        "SELECT count(*) FROM log_lines WHERE ts < TIMESTAMPTZ '2026-10-03 00:00+00'"
    ).fetchall()[0][0]
    con.close()
    assert left < old_lines / 10  # only the lines of flows that go on after the cutoff
    # a pruned day is still answerable, from the lake
    old_days = "SELECT count(*) FROM log_lines WHERE ts < '2026-10-03 00:00+00'"
    answer = mailidx.run("sql", "--lake", str(lake), "--format", "csv", old_days)
    assert answer.stdout.decode().splitlines()[1] == str(old_lines)
    # build goes on from where it was: nothing read twice, new lines indexed
    total = mailidx.count()
    assert b" 0 lines" in mailidx.build(log, "--year", "2026").stderr
    more = generated_log(tmp_path / "more.log", 3000, days=1, start="2026-10-05")
    with open(log, "ab") as f:
        f.write(more.read_bytes())
    mailidx.build(log, "--year", "2026")
    assert mailidx.count() == total + 3000
    # and the next export leaves the pruned days in the lake as they were
    held = lake_state(lake)
    mailidx.run("export", str(lake))
    after = lake_state(lake)
    frozen = [k for k in held if "day=2026-10-0" in k and k.split("day=")[1][:10] < cutoff]
    assert frozen and all(after[k] == held[k] for k in frozen)


def test_prune_refuses_what_the_lake_does_not_hold(mailidx, tmp_path):
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake), "--host", "mx1")
    con = duckdb.connect(str(mailidx.db), read_only=True)
    missing = export.lake_holds(con, str(lake), "2026-11-28")
    assert missing and all("host=mx1" not in m for m in missing)
    con.close()
    mailidx.run("export", str(lake))
    con = duckdb.connect(str(mailidx.db), read_only=True)
    assert export.lake_holds(con, str(lake), "2026-11-28") == []
    con.close()


def test_prune_with_export_to_an_unusable_lake_removes_nothing(mailidx, tmp_path):
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    count = mailidx.count()
    lake = tmp_path / "lake"
    (lake / export.MANIFESTS).mkdir(parents=True)
    (lake / export.MANIFESTS / "mx.json").write_text("{not json")
    proc = mailidx.run("prune", "--before", "2026-11-28", "--export", str(lake), check=False)
    assert proc.returncode == 1 and b"manifest" in proc.stderr
    assert len(proc.stderr.decode().strip().splitlines()) == 1
    assert mailidx.count() == count


def test_export_to_a_url_duckdb_writes_matches_a_local_export(mailidx, tmp_path):
    """The object-store path (s3://… through DuckDB's httpfs), taken here with a file:// URL:
    each day written whole as one object, the manifest as one JSON object."""
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    local, remote = tmp_path / "local", tmp_path / "remote"
    mailidx.run("export", str(local))
    url = f"file://{remote}"
    first = mailidx.run("export", url).stderr.decode()
    assert not first.startswith("0 partitions")
    assert {k for k in lake_state(remote) if "_manifest" not in k} == {
        k for k in lake_state(local) if "_manifest" not in k
    }
    again = mailidx.run("export", url).stderr.decode()
    assert again.startswith("0 partitions written")
    sql = "SELECT link, count(*) FROM flows GROUP BY link ORDER BY link"
    from_url = mailidx.run("sql", "--lake", url, "--format", "csv", sql).stdout
    assert from_url == mailidx.run("sql", "--format", "csv", sql).stdout
    assert b"relayed" in from_url


def test_sql_lake_without_an_export_is_a_one_line_error(mailidx, tmp_path):
    proc = mailidx.run("sql", "--lake", str(tmp_path), "SELECT 1", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines() == [
        f"mailidx: {tmp_path}: no mailidx export here (no _manifest/); run export"
    ]


def test_export_and_prune_errors_are_one_line(mailidx, tmp_path):
    missing = mailidx.run("export", str(tmp_path / "lake"), check=False)
    assert missing.returncode == 1 and missing.stderr.decode().count("\n") == 1
    assert b"no index at" in missing.stderr
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    bad_time = mailidx.run("prune", "--before", "last tuesday", check=False)
    assert bad_time.returncode == 1 and b"cannot read the time" in bad_time.stderr
    assert bad_time.stderr.decode().count("\n") == 1
    no_before = mailidx.run("prune", check=False)
    assert no_before.returncode == 2
    lake_write = mailidx.run("sql", "--lake", str(tmp_path), "--write", "SELECT 1", check=False)
    assert lake_write.returncode == 2


def test_hosts_exporting_into_one_lake_keep_each_others_days(tmp_path):
    """mx1 and mx2 each keep their own index and export into one lake: the lake's flows link
    mx1's message to the copy mx2 received (relayed), and neither export touches the other's."""
    from tests.conftest import FIXTURES, Mailidx

    mx1 = Mailidx(tmp_path / "mx1.duckdb", tmp_path)
    mx2 = Mailidx(tmp_path / "mx2.duckdb", tmp_path)
    mx1.build(FIXTURES / "two-hosts-mx1.log", "--year", "2026")
    mx2.build(FIXTURES / "two-hosts-mx2.log", "--year", "2026")
    lake = tmp_path / "lake"
    mx1.run("export", str(lake))
    mx2.run("export", str(lake))
    both = lake_state(lake)
    assert any("host=mx1" in k for k in both) and any("host=mx2" in k for k in both)
    mx1.run("export", str(lake))
    assert lake_state(lake) == both
    sql = "SELECT from_message_key, to_message_key, link FROM flows ORDER BY ts"
    links = mx1.run("sql", "--lake", str(lake), "--format", "csv", sql).stdout.decode()
    assert "mx1:3A1B2C3D4E,mx2:5F6A7B8C9D,relayed" in links.splitlines()


def lines_in(mailidx) -> int:
    """log_lines counted by a reader that waits while watch commits a batch."""
    from mailidx import store

    if not mailidx.db.exists():
        return -1
    con = store.connect(str(mailidx.db), read_only=True, wait=10)
    try:
        return con.execute("SELECT count(*) FROM log_lines").fetchall()[0][0]
    finally:
        con.close()


def test_watch_goes_on_after_a_prune_without_reading_the_pruned_lines_again(mailidx, tmp_path):
    from tests.test_watch import Watch, wait_until

    log = generated_log(tmp_path / "maillog", 20000, days=4)
    watch = Watch(mailidx, "--quiet", str(log))
    try:
        assert wait_until(lambda: lines_in(mailidx) == 20000, 120)
        mailidx.run("prune", "--before", "2026-10-03")  # waits for watch between its batches
        left = lines_in(mailidx)
        assert left < 20000
        more = generated_log(tmp_path / "more.log", 2000, days=1, start="2026-10-05")
        with open(log, "ab") as f:
            f.write(more.read_bytes())
        assert wait_until(lambda: lines_in(mailidx) == left + 2000, 120), lines_in(mailidx)
        time.sleep(1.5)  # and nothing more comes: the pruned lines are not read again
        assert lines_in(mailidx) == left + 2000
    finally:
        assert watch.stop() == 0, watch.messages()


def test_the_shell_over_a_lake_runs_sql_and_canned_queries(mailidx, tmp_path, capsys):
    import io

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from mailidx.lake import views as lakes
    from mailidx.ui.shell import Shell

    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake))
    con = lakes.connect(str(lake))
    out = io.StringIO()
    shell = Shell(con, str(lake), out=out)
    assert "message_flows" in shell.words and "relay_host" in shell.words
    keys = ".mode csv\rSELECT count(*) AS n FROM messages WHERE final = 'bounced';\r.q bounced\r"
    with create_pipe_input() as pipe:
        pipe.send_text(keys + "\x04")
        shell.loop(shell.session(input=pipe, output_=DummyOutput()))
    con.close()
    bounced = mailidx.query("SELECT count(*) FROM messages WHERE final = 'bounced'")[0][0]
    assert f"n\n{bounced}\n" in out.getvalue() and bounced > 0
    assert "nobody@nouser.test" in out.getvalue()


def test_a_lake_session_reads_only_the_lake_folder(mailidx, tmp_path):
    """`sql --lake` is DuckDB in memory with file access turned on for the lake's views: it is
    then closed to everything outside the lake's folder, and cannot be opened again."""
    mailidx.build(*lq.copy_sample(tmp_path / "logs"))
    lake = tmp_path / "lake"
    mailidx.run("export", str(lake))
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\nkept\n")
    beside = tmp_path / "lake-other"  # shares the lake's name as a prefix, not its folder
    beside.mkdir()
    (beside / "x.csv").write_text("a\n1\n")
    answered = mailidx.run("sql", "--lake", str(lake), "--format", "csv",
                           "SELECT count(*) FROM deliveries").stdout  # fmt: skip
    assert int(answered.decode().split()[-1]) > 0
    refused = {
        "read_csv": f"SELECT * FROM read_csv('{outside}')",
        "prefix": f"SELECT * FROM read_csv('{beside / 'x.csv'}')",
        "dot-dot": f"SELECT * FROM read_csv('{lake}/../outside.csv')",
        "copy": f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
        "attach": f"ATTACH '{mailidx.db}' AS idx",
        "reopen": "SET enable_external_access = true",
        "widen": "SET allowed_directories = ['/']",
        "install": "INSTALL httpfs",
    }
    for name, sql in refused.items():
        proc = mailidx.run("sql", "--lake", str(lake), sql, check=False)
        message = proc.stderr.decode()
        assert proc.returncode == 1, name
        assert message.count("\n") == 1 and "lake's folder" in message, (name, message)
        assert b"secret" not in proc.stdout
    assert not (tmp_path / "written.csv").exists()
