"""The build's phase breakdown: :class:`timed` adds the wall and CPU seconds of each step of a
batch or a refresh to :data:`PHASES`, which `MAILIDX_PROFILE=1` prints for the benchmark."""

from __future__ import annotations

import time

PHASES: dict[str, list[float]] = {}  # [wall, CPU] seconds per phase of a build, for bench/


class timed:
    """Add the wall and CPU seconds (all threads) of a block to PHASES[name]."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.perf_counter(), time.process_time()

    def __exit__(self, *exc) -> None:
        wall, cpu = self.started
        spent = PHASES.setdefault(self.name, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += time.process_time() - cpu
