"""Ground truth for seeded rows: what a standardizer applying the standards must decide."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from bus.standards.dates import normalize_date
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex

_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii

__all__ = ["Outcome", "TruthLine", "judge_person_row", "read_truth", "truth_writer"]

Outcome = Literal["accepted", "quarantined"]


@dataclass(frozen=True, slots=True)
class TruthLine:
    """One row's expected fate; ``reason`` is the first failing rule id when quarantined."""

    rybh: str
    canonical_id: str | None
    outcome: Outcome
    reason: str | None
    noise: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """One JSON object; hand-assembled because seeding writes millions of these."""
        noise = ", ".join(map(_json_string, self.noise))
        return (
            f'{{"RYBH": {_json_string(self.rybh)}, '
            f'"canonical_id": {_json_optional(self.canonical_id)}, '
            f'"outcome": "{self.outcome}", "reason": {_json_optional(self.reason)}, '
            f'"noise": [{noise}]}}'
        )


def _json_optional(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def judge_person_row(
    rybh: str,
    sfzh: str | None,
    xb: str | None,
    csrq: str | None,
    *,
    today: date,
    noise: Iterable[str] = (),
) -> TruthLine:
    """Accepted iff SFZH parses (15→18 included), XB and CSRQ normalize; rules in that order."""
    canonical: str | None = None
    try:
        canonical = parse_identity_number(sfzh or "", today=today).number
        normalize_sex(xb)
        normalize_date(csrq)
    except StandardViolation as violation:
        return TruthLine(rybh, canonical, "quarantined", violation.rule_id, tuple(noise))
    return TruthLine(rybh, canonical, "accepted", None, tuple(noise))


@contextmanager
def truth_writer(path: Path) -> Iterator[Callable[[Iterable[TruthLine]], None]]:
    """Stream ground-truth lines to ``path`` (JSON lines), replacing it only on success."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:

        def write(lines: Iterable[TruthLine]) -> None:
            out.writelines(f"{line.to_json()}\n" for line in lines)

        yield write
    tmp.replace(path)


def read_truth(path: Path) -> list[dict[str, object]]:
    """Read a ground-truth file back (for tests and quality reports)."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
