"""The stored per-message views keep time order on disk, so a time bound skips row groups:
the build stores a batch's lines and events in the order its threads finish them, but not
those."""

from __future__ import annotations

from mailidx.ingest import refresh
from tests.generated import generated_log


def test_the_stored_per_message_views_are_stored_in_time_order_after_a_two_thread_build(
    mailidx, tmp_path
):
    log = generated_log(tmp_path / "maillog", 200_000)
    mailidx.build(log, env=mailidx.env(MAILIDX_THREADS="2"))
    for name, order in refresh.CACHE_ORDER.items():
        stored = [
            when
            for (when,) in mailidx.query(f"SELECT {order} FROM {name}_cache ORDER BY rowid")
            if when is not None
        ]
        assert len(stored) > 8_000, name
        assert stored == sorted(stored), f"{name}_cache is not in {order} order"
