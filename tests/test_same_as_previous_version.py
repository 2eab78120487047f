"""The set-based build (stored per-message views refreshed once per build, categories once per
distinct reason, several files per batch) gives every public view the very rows the previous
version's build gave, row for row (EXCEPT ALL both ways), however the lines arrive: in one go,
in small batches, in many small files, or in steps between builds.

The reference is mailidx as it was before that change (commit REFERENCE), taken from this
repository's own history with `git archive` and run as a real process on the same files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Mailidx, decompressed
from tests.generated import generated_log

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
REFERENCE = "f871e2f"  # main before the set-based build was merged (issues 12, 13, 15-18 in)
PUBLIC = (
    "log_lines",
    "events",
    "messages",
    "deliveries",
    "recipients",
    "rejects",
    "flows",
    "message_flows",
    "connections",
    "problems",
    "message_facts",
    "message_links",
)


def _reference_unavailable() -> str | None:
    if not shutil.which("git"):
        return "git is not installed"
    probe = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{REFERENCE}^{{commit}}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        return f"commit {REFERENCE} is not in this clone's history (a shallow clone?)"
    return None


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The previous version's source tree, extracted from git."""
    why = _reference_unavailable()
    if why:
        pytest.skip(f"no previous version to compare with: {why}")
    tree = tmp_path_factory.mktemp("reference")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", REFERENCE, "mailidx", "sql"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def build_with_reference(tree: Path, db: Path, *paths: Path) -> None:
    env = dict(os.environ, MAILIDX_DB=str(db), TZ="UTC", PYTHONPATH=str(tree))
    subprocess.run(
        [sys.executable, "-m", "mailidx", "build", *map(str, paths)],
        cwd=tree,  # so that `-m mailidx` finds the reference package first
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )


def differences(ours: Path, theirs: Path) -> dict[str, tuple[int, int, int]]:
    """Per public view with a difference: (rows, rows only in ours, rows only in theirs)."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS ours (READ_ONLY)", [str(ours)])
        con.execute("ATTACH ? AS theirs (READ_ONLY)", [str(theirs)])
        out = {}
        for view in PUBLIC:
            columns = ", ".join(
                _comparable(view, name, kind)
                for name, kind, *_ in con.execute(f"DESCRIBE theirs.main.{view}").fetchall()
            )
            a = f"SELECT {columns} FROM ours.main.{view}"
            b = f"SELECT {columns} FROM theirs.main.{view}"
            only_ours = con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchall()[0][0]
            only_theirs = con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchall()[0][0]
            rows = con.execute(f"SELECT count(*) FROM ours.main.{view}").fetchall()[0][0]
            if only_ours or only_theirs or not rows and view in ("log_lines", "messages"):
                out[view] = (rows, only_ours, only_theirs)
        return out
    finally:
        con.close()


def _comparable(view: str, name: str, kind: str) -> str:
    """A column as compared: an aggregate of DISTINCT values has no order of its own (the
    list connections.queue_ids, the words of a postscreen session's connections.commands),
    so two runs of the same view on the same index may list them differently."""
    if kind.endswith("[]"):
        return f'list_sort("{name}")'
    if view == "connections" and name == "commands":
        return (
            "CASE WHEN daemon = 'postscreen' "
            "THEN array_to_string(list_sort(string_split(commands, ' ')), ' ') ELSE commands END"
        )
    return f'"{name}"'


@pytest.fixture(scope="module")
def generated(tmp_path_factory, reference) -> tuple[Path, Path]:
    """A generated log and the previous version's index of it, built in one go."""
    tmp = tmp_path_factory.mktemp("generated")
    log = generated_log(tmp / "maillog", 40_000, days=2, start="2024-11-25", seed=11)
    theirs = tmp / "reference.duckdb"
    build_with_reference(reference, theirs, log)
    return log, theirs


def test_the_bundled_sample_gives_the_previous_versions_rows(tmp_path, reference):
    logs = sorted(EXAMPLES.glob("maillog*"))
    copies = []
    for log in logs:  # one path for both builds; the file column names it
        shutil.copy2(log, tmp_path / log.name)
        copies.append(tmp_path / log.name)
    theirs = tmp_path / "reference.duckdb"
    build_with_reference(reference, theirs, *copies)
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    ours.build(*copies)
    assert differences(ours.db, theirs) == {}
    # and in batches of a few dozen lines, the sample's messages spread over many of them
    small = Mailidx(tmp_path / "small.duckdb", tmp_path)
    small.build(*copies, env=small.env(MAILIDX_BATCH_BYTES="6000"))
    assert differences(small.db, theirs) == {}


def test_a_generated_log_built_in_one_go_gives_the_previous_versions_rows(tmp_path, generated):
    log, theirs = generated
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    ours.build(log)
    assert differences(ours.db, theirs) == {}


def test_a_generated_log_built_in_small_batches_gives_the_previous_versions_rows(
    tmp_path, generated
):
    log, theirs = generated
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    ours.build(log, env=ours.env(MAILIDX_BATCH_BYTES=str(256 << 10)))
    assert differences(ours.db, theirs) == {}


def test_a_generated_log_refreshed_part_way_through_gives_the_previous_versions_rows(
    tmp_path, generated
):
    # a big log's build brings the stored per-message views up to date (on checkpointed
    # storage) whenever enough queue IDs are pending, and again at its end
    log, theirs = generated
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    env = ours.env(MAILIDX_BATCH_BYTES=str(256 << 10), MAILIDX_REFRESH_AFTER="500")
    ours.build(log, env=env)
    assert differences(ours.db, theirs) == {}


def test_a_generated_log_built_in_steps_between_builds_gives_the_previous_versions_rows(
    tmp_path, generated
):
    log, theirs = generated
    data = log.read_bytes()
    growing = tmp_path / "maillog"
    growing.write_bytes(b"")
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    cuts = [len(data) * k // 5 for k in range(1, 5)] + [len(data)]
    for cut in cuts:  # a cut mid-line leaves the partial line for the next build
        growing.write_bytes(data[:cut])
        ours.build(growing, env=ours.env(MAILIDX_BATCH_BYTES=str(128 << 10)))
    assert growing.read_bytes() == data
    # log_lines.file names the path: the reference indexed these bytes under the log's own
    con = duckdb.connect(str(ours.db))
    con.execute("UPDATE files SET path = ?", [str(log)])
    con.close()
    assert differences(ours.db, theirs) == {}


def test_many_small_files_in_shared_batches_give_the_previous_versions_rows(tmp_path, reference):
    lines = [
        line
        for path in sorted(EXAMPLES.glob("maillog*"), reverse=True)
        for line in decompressed(path).splitlines(True)
    ]
    files = []
    for i in range(0, len(lines), 25):
        path = tmp_path / f"part-{i // 25:04d}.log"
        path.write_bytes(b"".join(lines[i : i + 25]))
        files.append(path)
    theirs = tmp_path / "reference.duckdb"
    build_with_reference(reference, theirs, *files)
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    ours.build(*files)
    assert differences(ours.db, theirs) == {}
    assert ours.count("files") == len(files)


def test_an_index_the_previous_version_wrote_is_upgraded_in_place_and_goes_on(tmp_path, reference):
    logs = []
    for log in sorted(EXAMPLES.glob("maillog*"), reverse=True):  # oldest first
        shutil.copy2(log, tmp_path / log.name)
        logs.append(tmp_path / log.name)
    theirs = tmp_path / "reference.duckdb"
    build_with_reference(reference, theirs, *logs)
    upgraded = Mailidx(tmp_path / "upgraded.duckdb", tmp_path)
    build_with_reference(reference, upgraded.db, *logs[:2])  # the previous version, part way
    built = upgraded.build(*logs)  # this version: upgrades the index, then adds the rest
    assert b"up to date for this version" in built.stderr
    assert upgraded.query("SELECT count(*) FROM pending_messages") == [(0,)]
    assert differences(upgraded.db, theirs) == {}


def test_reused_short_queue_ids_give_the_previous_versions_instances(tmp_path, reference):
    """A short queue ID Postfix reuses starts a new message instance after each removal: one
    used three times (two removals before its last use, even within the same second) and one
    used twice (its second message still queued)."""
    log = tmp_path / "maillog"
    shutil.copy2(FIXTURES / "reused-queue-ids.log", log)
    theirs = tmp_path / "reference.duckdb"
    build_with_reference(reference, theirs, log)
    ours = Mailidx(tmp_path / "ours.duckdb", tmp_path)
    ours.build(log)
    assert differences(ours.db, theirs) == {}
    rows = ours.query("SELECT message_key, sender FROM messages ORDER BY message_key")
    assert rows == [
        ("mx1:3F2A1B0C9D", "alice@example.org"),
        ("mx1:3F2A1B0C9D#1", "carol@example.org"),
        ("mx1:3F2A1B0C9D#2", "erin@example.org"),
        ("mx1:4C5D6E7F80", ""),
        ("mx1:5B6C7D8E9F", "gus@example.org"),
        ("mx1:5B6C7D8E9F#1", "ivy@example.org"),
    ]
