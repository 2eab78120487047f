"""The systemd journal as a source: Postfix's entries as syslog lines, read on from a cursor.

Postfix's journal entries (as syslog lines: :mod:`mailidx.ingest.journal_entry`, read by
:mod:`mailidx.ingest.journalctl`) go through the indexer like a file's: one stream per
machine, a ``files`` row named ``journal:<machine-id>`` whose offsets count the bytes of these
lines. Where the next read starts is the ``journals`` row: the cursor of the last entry read
(Postfix's or another program's) and its time, written by the same transaction as the batch of
lines, so a build killed at any moment neither loses nor doubles an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailidx import store
from mailidx.ingest import files
from mailidx.ingest.journal_entry import Entry, stamp
from mailidx.ingest.journalctl import Journal, Position, machine_id, open_reader
from mailidx.ingest.refresh import refresh_caches
from mailidx.ingest.write import append_lines

STREAM_PREFIX = "journal:"


@dataclass
class Stream:
    """What the index knows of one machine's journal."""

    file: files.FileState
    machine_id: str
    position: Position
    known: bool  # a journals row exists


@dataclass
class JournalReport:
    entries: int = 0  # entries read, every program's
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    notices: list[str] = field(default_factory=list)


def stream_path(machine: str) -> str:
    return STREAM_PREFIX + machine


def load_stream(con, machine: str) -> Stream:
    path = stream_path(machine)
    row = con.execute(
        "SELECT f.file_id, f.bytes_done, f.lines_done, j.cursor, "
        "epoch_us(j.last_realtime) FROM files f JOIN journals j USING (file_id) "
        "WHERE j.machine_id = ?",
        [machine],
    ).fetchall()
    if row:
        file_id, done, lines, cursor, realtime = row[0]
        state = files.FileState(file_id, path, path.encode(), done, lines, None, None)
        return Stream(state, machine, Position(cursor, realtime), known=True)
    state = files.FileState(
        files.next_file_id(con), path, path.encode(), 0, 0, None, None, is_new=True
    )
    return Stream(state, machine, Position(), known=False)


def save_position(con, stream: Stream, source: str) -> None:
    """The journals row: run inside the batch's transaction."""
    params = {
        "file_id": stream.file.file_id,
        "machine": stream.machine_id,
        "cursor": stream.position.cursor,
        "realtime": stream.position.realtime,
        "source": source,
    }
    con.execute(
        "INSERT OR REPLACE INTO journals VALUES ($file_id, $machine, $cursor, "
        "TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds($realtime), $source)",
        params,
    )
    stream.known = True


def commit(
    con,
    stream: Stream,
    entries: list[Entry],
    source: str,
    report: JournalReport,
    refresh: bool = False,
) -> None:
    """One batch: the Postfix lines of ``entries`` and the position after the last of them,
    in one transaction; with ``refresh`` (watch --journal) the stored per-message views are
    brought up to date in it too."""
    if not entries:
        return
    report.entries += len(entries)
    stream.position.cursor = entries[-1].cursor
    latest = max(e.realtime for e in entries)
    stream.position.realtime = max(latest, stream.position.realtime or latest)
    lines = [e.line for e in entries if e.line is not None]
    if not lines:
        if stream.known:  # only other programs' entries: move the cursor past them
            with store.transaction(con):
                save_position(con, stream, source)
        return
    data = b"".join(line + b"\n" for line in lines)
    state = stream.file
    if state.last_year is None:
        state.last_year = int(stamp(entries[0].realtime)[:4])  # every line has its year
    start = state.bytes_done
    from mailidx.ingest.batch import to_batch  # numpy, pyarrow: see indexer.Batcher.add

    batch = to_batch(data, start, state.lines_done + 1, state)
    n_events, n_unparsed = append_lines(
        con,
        state,
        batch,
        start + len(data),
        also=lambda c: save_position(c, stream, source),
        refresh=refresh,
    )
    report.lines += batch.num_rows
    report.events += n_events
    report.unparsed += n_unparsed


def skip_before(entries: list[Entry], after: int | None) -> list[Entry]:
    """Entries up to ``after`` were indexed before: their lines are left out, their cursor
    still moves the position on."""
    if after is not None:
        for entry in entries:
            if entry.realtime <= after:
                entry.line = None
    return entries


def build(
    con,
    journal: Journal,
    batch_bytes: int,
    since: str | None = None,
    notify: Callable[[str], None] = lambda message: None,
    progress: Callable[[int], None] | None = None,
) -> JournalReport:
    """Index the journal's Postfix entries after the index's cursor, batch by batch."""
    journal.check()
    report = JournalReport()
    stream = load_stream(con, machine_id(journal))
    reader, after = open_reader(journal, stream.position, since, False, notify)
    source = journal.describe()
    try:
        while True:
            entries, ended = reader.take(batch_bytes, wait=60.0, linger=60.0)
            entries = skip_before(entries, after)
            commit(con, stream, entries, source, report)
            if progress and entries:
                progress(sum(len(e.line or b"") for e in entries))
            if ended:
                reader.finish()
                break
    finally:
        reader.close()
    refresh_caches(con)  # the stored per-message views, once per build
    return report
