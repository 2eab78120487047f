"""Reader for the annotated sample files in tests/samples/: a real log line at column 0,
then the fields it must give, indented, as ``name: value`` (``null`` for NULL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"


@dataclass
class Sample:
    file: str
    number: int  # line number of the sample line in its file
    line: str
    expected: dict[str, str | None]

    @property
    def id(self) -> str:
        return f"{self.file}:{self.number}"


def load(path: Path) -> list[Sample]:
    samples: list[Sample] = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip() or text.startswith("#"):
            continue
        if text.startswith("    "):
            name, _, value = text.strip().partition(":")
            value = value[1:] if value.startswith(" ") else value
            samples[-1].expected[name] = None if value == "null" else value
        else:
            samples.append(Sample(path.name, number, text, {}))
    return samples


def all_samples() -> list[Sample]:
    return [s for path in sorted(SAMPLES.glob("*.txt")) for s in load(path)]
