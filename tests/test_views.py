"""The message-flow views say, per message and recipient, exactly what a real Postfix did:
checked against the ground truth the lab recorded when it wrote examples/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.realpostfix.views_check import mismatches

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRUTH = json.loads((EXAMPLES / "ground-truth.json").read_text())


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("sample")
    mailidx = Mailidx(tmp / "index.duckdb", tmp)
    mailidx.build(*sorted(EXAMPLES.glob("maillog*")))
    return mailidx


def test_every_message_and_recipient_of_the_sample_matches_the_ground_truth(sample_db):
    assert mismatches(str(sample_db.db), TRUTH["messages"]) == []
