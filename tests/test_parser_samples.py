"""Every annotated sample line parses to the kind and fields written under it."""

from __future__ import annotations

import datetime as dt

import pytest

from mailidx.ingest.indexer import parse_lines
from tests.samples import all_samples

SAMPLES = all_samples()


@pytest.fixture(scope="module")
def parsed():
    rows = parse_lines([s.line for s in SAMPLES], year=2026, tz="UTC")
    return {s.id: row for s, row in zip(SAMPLES, rows)}


def same(expected: str | None, actual) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(actual, float):
        return float(expected) == actual
    if isinstance(actual, dt.datetime):
        return dt.datetime.fromisoformat(expected) == actual
    return expected == str(actual)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_sample_line_gives_its_annotated_fields(sample, parsed):
    row = parsed[sample.id]
    wrong = {
        name: (want, row.get(name))
        for name, want in sample.expected.items()
        if not same(want, row.get(name))
    }
    assert not wrong, f"{sample.line}\n  field: (expected, parsed) {wrong}"


def test_every_sample_file_has_samples():
    assert len(SAMPLES) > 150
