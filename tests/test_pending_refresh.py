"""The stored per-message views are refreshed once per build from pending_messages: a build
that dies after committing lines but before that refresh leaves the queue IDs pending, and the
next build (even with nothing new to read) brings the stored rows up to date first."""

from __future__ import annotations

from mailidx import store
from mailidx.ingest import files, indexer, refresh, sources, write
from tests.conftest import Mailidx
from tests.test_stored_views import STORED, differences, sample_lines


def test_a_build_that_died_before_its_refresh_is_completed_by_the_next_build(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    # what a build killed after its batches' commits and before the refresh leaves behind:
    # the batches of the indexer itself, committed, and the connection gone
    con = store.open_for_writing(str(mailidx.db), tz="UTC")
    options = indexer.Options(tz="UTC", chunk_bytes=8000)
    report = indexer.BuildReport()
    source = sources.open_source(str(log))
    try:
        indexer.index_source(con, source, files.known_files(con), options, report)
    finally:
        source.close()
    con.close()
    assert report.lines == len(sample_lines())
    assert mailidx.query("SELECT count(*) FROM pending_messages")[0][0] > 0
    assert mailidx.count("messages") == 0  # the stored rows wait for the refresh

    mailidx.build(log)  # nothing new to read
    assert mailidx.count("log_lines") == len(sample_lines())
    assert mailidx.query("SELECT count(*) FROM pending_messages") == [(0,)]
    for name in STORED:
        assert differences(mailidx.db, name) == [], name
    whole = Mailidx(tmp_path / "whole.duckdb", tmp_path)
    whole.build(log)
    for view in ("messages", "recipients", "deliveries", "message_links"):
        order = f"SELECT * FROM {view} ORDER BY ALL"
        assert mailidx.query(order) == whole.query(order), view


def test_readers_see_the_stored_rows_of_the_last_refresh_while_lines_are_pending(tmp_path):
    lines = sample_lines()
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(lines[: len(lines) // 2]))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(log)
    before = mailidx.query("SELECT * FROM messages ORDER BY ALL")
    log.write_bytes(b"".join(lines))
    con = store.open_for_writing(str(mailidx.db), tz="UTC")
    report = indexer.BuildReport()
    source = sources.open_source(str(log))
    try:
        indexer.index_source(con, source, files.known_files(con), indexer.Options("UTC"), report)
    finally:
        source.close()
    con.close()
    assert report.lines == len(lines) - len(lines) // 2
    assert mailidx.query("SELECT * FROM messages ORDER BY ALL") == before
    mailidx.build(log)
    assert mailidx.query("SELECT * FROM messages ORDER BY ALL") != before
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


def test_a_view_reading_a_column_the_narrow_refresh_leaves_out_still_gets_its_rows(
    tmp_path, monkeypatch
):
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    narrower = refresh.MESSAGE_EVENT_COLUMNS.replace(", response", "")
    assert narrower != refresh.MESSAGE_EVENT_COLUMNS
    monkeypatch.setattr(write, "MESSAGE_EVENT_COLUMNS", narrower)
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    con = store.open_for_writing(str(mailidx.db), tz="UTC")
    indexer.build(con, [str(log)], indexer.Options("UTC", chunk_bytes=8000))
    con.close()
    assert mailidx.count("messages") > 0
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


def test_prune_after_a_build_that_died_before_its_refresh_leaves_nothing_pending(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(sample_lines()))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    con = store.open_for_writing(str(mailidx.db), tz="UTC")
    report = indexer.BuildReport()
    source = sources.open_source(str(log))
    try:
        options = indexer.Options(tz="UTC", year=2026, chunk_bytes=8000)
        indexer.index_source(con, source, files.known_files(con), options, report)
    finally:
        source.close()
    con.close()
    assert mailidx.query("SELECT count(*) FROM pending_messages")[0][0] > 0
    old = "SELECT count(*) FROM log_lines WHERE ts < TIMESTAMPTZ '2026-11-27 00:00+00'"
    old_lines = mailidx.query(old)[0][0]
    assert old_lines > 0

    done = mailidx.run("prune", "--before", "2026-11-27", "--tz", "UTC")
    assert b"pruned days before 2026-11-27" in done.stderr
    assert mailidx.query("SELECT count(*) FROM pending_messages") == [(0,)]
    assert mailidx.query(old)[0][0] < old_lines
    assert mailidx.count("messages") > 0
    for name in STORED:
        assert differences(mailidx.db, name) == [], name
