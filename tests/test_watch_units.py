"""The pure pieces of `watch`, one behaviour a test: what one look at the files finds
(rotations by inode, truncation, pending bytes, the lag), the file set the paths name, what
wakes the loop and what it tells. No process is started; the end-to-end behaviour is
tests/test_watch.py's, the cursor's arithmetic tests/test_watch_cursor.py's."""

from __future__ import annotations

import gzip
import os
import threading
from types import SimpleNamespace

import pytest

from mailidx.ingest.files import FileState
from mailidx.watch import follow
from mailidx.watch.batch import Status, WatchError
from mailidx.watch.lag import Reporter
from mailidx.watch.wake import Waker, Wakeups

DATA = b"line one\nline two\nline three\n"


# -- one look at the files -----------------------------------------------------------------------


def known(path, data: bytes, done: int | None = None) -> list[FileState]:
    """The index knowing the file that starts with ``data``, up to ``done`` bytes."""
    done = len(data) if done is None else done
    return [FileState(1, str(path), data, done, data[:done].count(b"\n"), 2026, 12)]


def following(*patterns, drain: float = 5.0) -> tuple[follow.Following, list[str]]:
    notices: list[str] = []
    return follow.Following([str(p) for p in patterns], notices.append, drain), notices


def test_a_new_file_is_all_work_while_the_index_knows_none_of_it(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(log)
    look = files.look([], 100.0)
    assert [f.path for f in look.work] == [str(log)]
    assert (look.files, look.lag_bytes, look.present) == (1, len(DATA), [(str(log), DATA)])


def test_pending_bytes_are_those_past_what_the_index_has(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(log)
    assert files.look(known(log, DATA, done=9), 100.0).lag_bytes == len(DATA) - 9
    assert files.look(known(log, DATA), 101.0).work == []


def test_an_empty_file_is_not_followed_until_it_has_something_to_know_it_by(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"")
    files, _ = following(log)
    assert files.look([], 100.0).files == 0
    log.write_bytes(DATA)
    assert files.look([], 101.0).files == 1


def test_a_file_whose_first_line_is_not_whole_yet_has_no_work(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"Dec  5 05:00:00 host postfix/smtpd[1]: conn")
    files, _ = following(log)
    look = files.look([], 100.0)
    assert (look.files, look.work) == (1, [])


def test_a_file_renamed_within_the_paths_is_the_same_followed_file(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(tmp_path / "maillog*")
    first = files.look([], 100.0).work[0]
    log.rename(tmp_path / "maillog.1")
    look = files.look([], 101.0)
    assert look.work == [first]
    assert (first.path, first.gone_at) == (str(tmp_path / "maillog.1"), None)


def test_a_file_renamed_out_of_the_paths_is_drained_first_and_let_go_after_the_drain(tmp_path):
    log, new = tmp_path / "maillog", tmp_path / "maillog-20261205"
    log.write_bytes(DATA)
    files, _ = following(log, drain=5.0)
    files.look([], 100.0)
    log.rename(new)
    new.open("ab").write(b"line four\n")  # a writer still holding it during the rotation
    look = files.look([], 101.0)
    (renamed,) = look.work
    assert (renamed.gone_at, look.lag_bytes) == (101.0, len(DATA) + 10)
    everything = known(log, DATA + b"line four\n")
    assert files.look(everything, 102.0).files == 1  # read to its end, still within the drain
    assert files.look(everything, 106.5).files == 0  # let go


def test_a_deleted_file_is_read_through_its_open_descriptor_then_let_go(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(log, drain=1.0)
    files.look([], 100.0)
    log.unlink()
    (gone,) = files.look([], 101.0).work
    assert gone.gone_at == 101.0
    assert files.look(known(log, DATA), 102.5).files == 0


def test_a_copytruncated_file_starts_anew_under_the_same_inode(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(log)
    assert files.look(known(log, DATA), 100.0).work == []
    with log.open("r+b") as f:  # logrotate copytruncate, then new lines
        f.truncate(0)
        f.write(b"a new first line\n")
    look = files.look(known(log, DATA), 101.0)
    assert [f.head for f in look.work] == [b"a new first line\n"]
    assert look.lag_bytes == len(b"a new first line\n")


def test_the_lag_in_seconds_dates_from_when_the_pending_bytes_were_first_seen(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    files, _ = following(log)
    assert files.look([], 100.0).lag_seconds == 0.0
    assert files.look([], 103.0).lag_seconds == 3.0
    assert files.look(known(log, DATA), 104.0).lag_seconds == 0.0


def test_renamed_away_files_come_first_then_the_oldest(tmp_path):
    old, new, gone = (tmp_path / name for name in ("maillog.2", "maillog.1", "maillog.0"))
    for i, path in enumerate((old, new, gone)):
        path.write_bytes(b"file %d\n" % i)
        os.utime(path, (1000 + i, 1000 + i))
    files, _ = following(tmp_path / "maillog.*")
    files.look([], 100.0)
    gone.rename(tmp_path / "elsewhere")  # out of the paths: it keeps the name it was seen by
    work = files.look([], 101.0).work
    assert [(f.path, f.gone_at) for f in work] == [
        (str(gone), 101.0),
        (str(old), None),
        (str(new), None),
    ]


def test_a_compressed_file_read_to_its_end_by_the_index_is_let_go_and_not_opened_again(tmp_path):
    gz = tmp_path / "maillog.1.gz"
    gz.write_bytes(gzip.compress(DATA))
    os.utime(gz, (1000, 1000))  # written long ago: no compressor is still at it
    files, _ = following(gz)
    assert files.look([], 100.0).lag_bytes == 0  # how much is pending is not known (-1)
    assert len(files.look([], 100.0).work) == 1
    assert files.look(known(gz, DATA), 101.0).files == 0
    assert files.look([], 102.0).files == 0  # its signature is finished


def test_a_compressed_file_still_being_written_is_left_for_a_later_look(tmp_path):
    gz = tmp_path / "maillog.1.gz"
    gz.write_bytes(gzip.compress(DATA))
    files, _ = following(gz)
    assert files.look([], 100.0).files == 0


def test_an_unreadable_file_is_told_once_until_it_changes(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(b"\x00\x01\x02 not text \x00" * 100)
    files, notices = following(log)
    files.look([], 100.0)
    files.look([], 101.0)
    assert len(notices) == 1 and str(log) in notices[0]


# -- the file set -------------------------------------------------------------------------------


def test_a_path_with_glob_magic_is_a_pattern():
    assert follow.is_pattern("/var/log/maillog*")
    assert follow.is_pattern("/var/log/mail[12].log")
    assert follow.is_pattern("/var/log/mail?.log")
    assert not follow.is_pattern("/var/log/maillog")


def test_expand_lists_the_files_a_glob_names_now_sorted_and_each_once(tmp_path):
    for name in ("maillog.2", "maillog", "maillog.1"):
        (tmp_path / name).write_bytes(DATA)
    (tmp_path / "maillog.d").mkdir()
    pattern = str(tmp_path / "maillog*")
    found = follow.expand([pattern, str(tmp_path / "maillog"), pattern])
    assert found == [str(tmp_path / n) for n in ("maillog", "maillog.1", "maillog.2")]


def test_expand_keeps_literal_paths_that_exist_now(tmp_path):
    (tmp_path / "here").write_bytes(DATA)
    assert follow.expand([str(tmp_path / "here"), str(tmp_path / "not-yet")]) == [
        str(tmp_path / "here")
    ]


def test_stdin_and_a_directory_cannot_be_followed_but_a_glob_in_one_can(tmp_path):
    with pytest.raises(WatchError, match="not stdin"):
        follow.check_paths(["-"])
    with pytest.raises(WatchError, match="is a directory"):
        follow.check_paths([str(tmp_path)])
    follow.check_paths([str(tmp_path / "*"), str(tmp_path / "not-yet")])


def test_the_watched_directories_are_the_existing_parents_of_the_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    patterns = [str(tmp_path / "*" / "maillog*"), str(tmp_path / "later" / "maillog")]
    assert follow.watched_dirs(patterns) == {str(tmp_path / "a"), str(tmp_path / "b")}


def test_a_file_is_compressed_by_its_magic_bytes_not_its_name(tmp_path):
    (tmp_path / "plain.gz").write_bytes(DATA)
    (tmp_path / "packed").write_bytes(gzip.compress(DATA))
    assert not follow.is_compressed(str(tmp_path / "plain.gz"))
    assert follow.is_compressed(str(tmp_path / "packed"))
    assert not follow.is_compressed(str(tmp_path / "missing"))


def test_a_signature_changes_when_the_file_does(tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(DATA)
    before = follow.signature_of(str(log))
    assert before == follow.signature_of(str(log))
    log.open("ab").write(b"more\n")
    assert follow.signature_of(str(log)) != before
    assert follow.signature_of(str(tmp_path / "missing")) is None


# -- wake-ups and what the loop tells -----------------------------------------------------------


def test_an_event_about_a_followed_name_or_a_directory_wakes_the_loop(tmp_path):
    wake = threading.Event()
    wakeups = Wakeups([str(tmp_path / "maillog*")], wake, lambda message: None)
    waker = Waker(wakeups.relevant, wake)

    def event(src, dest="", directory=False):
        return SimpleNamespace(src_path=src, dest_path=dest, is_directory=directory)

    waker.dispatch(event(str(tmp_path / "index.duckdb.wal")))
    assert not wake.is_set()
    waker.dispatch(event(str(tmp_path / "tmp"), str(tmp_path / "maillog.1")))
    assert wake.is_set()
    wake.clear()
    waker.dispatch(event(str(tmp_path / "sub"), directory=True))
    assert wake.is_set()


def test_a_held_index_is_told_after_two_seconds_and_its_release_names_every_holder():
    notices: list[str] = []
    shown: list[Status] = []
    status = Status(lag_bytes=1234)
    lag = Reporter(status, notices.append, shown.append)
    lag.blocked("pid 42 (java)", 100.0)
    assert notices == [] and status.holder == "pid 42 (java)"
    lag.blocked("pid 43 (duckdb)", 102.5)
    assert notices == [
        "index held by pid 43 (duckdb) for 2 s; watch waits and catches up when it is "
        "released (1,234 bytes behind)"
    ]
    lag.blocked("pid 43 (duckdb)", 103.0)  # told at most once a minute
    lag.released(104.0)
    assert notices[1] == (
        "index released by pid 42 (java), then pid 43 (duckdb) after 4 s; catching up 1,234 bytes"
    )
    assert (status.holder, status.blocked_seconds, lag.blocked_since) == (None, 0.0, None)


def test_a_short_wait_for_the_index_is_not_told():
    notices: list[str] = []
    lag = Reporter(Status(), notices.append, lambda status: None)
    lag.blocked(None, 100.0)
    lag.released(101.0)
    assert notices == []


def test_the_rate_is_lines_per_second_over_the_batches_counted():
    status = Status()
    lag = Reporter(status, lambda message: None, lambda status: None)
    lag.count(100, 40)
    lag.show()
    assert (status.lines, status.events, status.rate) == (100, 40, 0.0)
    lag.count(300, 90)
    lag.show()
    assert status.lines == 400 and 0 < status.rate <= 300
