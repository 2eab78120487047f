"""The read position in a followed file (mailidx.watch.cursor), one behaviour a test: budgets,
deadlines and stop requests cut a read, the end is told from a cut, and seeks in a compressed
file are served from the last block read where they can be."""

from __future__ import annotations

import io
import time

from mailidx.watch.cursor import Cursor

DATA = b"line one\nline two\nline three\n"
LATER = 3600.0  # a deadline no test reaches


class NoSeek(io.BytesIO):
    """A decompressed stream that counts the seeks it is asked for (each one costs a re-read
    from the start of a compressed file)."""

    seeks = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.seeks += 1
        return super().seek(offset, whence)


def cursor(data: bytes = DATA, compressed: bool = False, budget: int = 1 << 20) -> Cursor:
    c = Cursor(NoSeek(data), compressed)
    c.allow(budget, time.monotonic() + LATER, lambda: False)
    return c


def test_the_cursor_starts_where_the_stream_is_after_the_head():
    stream = io.BytesIO(DATA)
    stream.read(5)  # the head, read by sources.open_source
    c = Cursor(stream, compressed=False)
    assert (c.pos, c.end, c.tell()) == (5, 5, 5)


def test_a_read_stops_at_the_byte_budget_and_says_it_was_cut():
    c = cursor(budget=12)
    assert c.read() == DATA[:12]
    assert c.read() == b""
    assert (c.pos, c.cut, c.eof) == (12, True, False)


def test_a_read_asking_for_less_than_the_budget_gets_what_it_asked_for():
    c = cursor(budget=20)
    assert c.read(4) == DATA[:4]
    assert c.read(100) == DATA[4:20]
    assert c.budget == 0


def test_a_read_past_the_deadline_is_cut_before_reading():
    c = cursor()
    c.allow(100, time.monotonic() - 1, lambda: False)
    assert c.read() == b""
    assert (c.pos, c.cut) == (0, True)


def test_a_stop_request_cuts_reading():
    c = cursor()
    c.allow(100, time.monotonic() + LATER, lambda: True)
    assert c.read() == b""
    assert c.cut


def test_reading_to_the_end_of_the_file_is_eof_not_a_cut():
    c = cursor()
    assert c.read() == DATA
    assert c.read() == b""
    assert (c.pos, c.eof, c.cut) == (len(DATA), True, False)


def test_allow_starts_a_new_batch_with_neither_cut_nor_eof():
    c = cursor(budget=3)
    c.read()
    c.read()
    c.allow(100, time.monotonic() + LATER, lambda: False)
    assert (c.cut, c.eof) == (False, False)
    assert c.read(5) == DATA[3:8]


def test_a_plain_file_seeks_for_real():
    c = cursor(compressed=False)
    c.read()
    assert c.seek(9) == 9
    assert c.stream.seeks == 1
    assert (c.pos, c.end, c.last) == (9, 9, b"")
    assert c.read() == DATA[9:]


def test_a_seek_to_where_the_cursor_is_does_nothing():
    c = cursor(compressed=True)
    c.read(9)
    assert c.seek(9) == 9
    assert c.stream.seeks == 0


def test_seeking_back_in_a_compressed_file_to_a_cut_line_is_served_from_the_last_block():
    c = cursor(compressed=True, budget=14)  # cut in the middle of "line two"
    assert c.read() == DATA[:14]
    assert c.seek(9) == 9  # the start of the unfinished line
    assert c.stream.seeks == 0
    assert (c.pos, c.end) == (9, 14)
    c.allow(100, time.monotonic() + LATER, lambda: False)
    assert c.read() == DATA[9:14]  # the rest of the last block first …
    assert c.read() == DATA[14:]  # … then the stream again
    assert c.pos == len(DATA)


def test_seeking_before_the_last_block_of_a_compressed_file_reads_it_again():
    c = cursor(compressed=True)
    c.read(9)
    c.read(9)  # the last block is DATA[9:18]
    assert c.seek(4) == 4
    assert c.stream.seeks == 1
    assert c.read(5) == DATA[4:9]


def test_seeking_forward_in_a_compressed_file_reads_up_to_the_offset():
    c = cursor(compressed=True)
    assert c.seek(18) == 18
    assert c.stream.seeks == 0
    assert c.last == DATA[:18]
    assert c.read() == DATA[18:]


def test_seeking_past_the_end_of_a_compressed_file_stops_at_its_end():
    c = cursor(compressed=True)
    assert c.seek(len(DATA) + 100) == len(DATA)


def test_at_end_reads_one_byte_ahead_and_keeps_it_for_the_next_read():
    c = cursor(compressed=True)
    assert not c.at_end()
    assert (c.pos, c.end) == (0, 1)
    assert c.read() == DATA[:1]  # the byte read ahead …
    assert c.read() == DATA[1:]  # … then the stream again
    assert c.at_end()


def test_at_end_is_false_while_the_last_block_has_bytes_after_the_position():
    c = cursor(compressed=True)
    c.read()
    c.seek(5)
    assert not c.at_end()
