"""Ground truth of the department seeds: each row's expected fate, and the seed's report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bus.demo.truth import Outcome
from bus.standards.errors import StandardViolation

__all__ = ["Check", "DepartmentReport", "RowTruth", "judge", "report_of", "write_truth"]

Check = Callable[[], object]


@dataclass(frozen=True, slots=True)
class RowTruth:
    """One row's expected fate.

    ``refers_to`` is the canonical 18-digit identity number or credit code the row is about
    (``None`` when the truth has none, e.g. an unknown enterprise); ``related`` names further
    references (``{"wife": "3301..."}``); ``reason`` is the first failing rule id.
    """

    table: str
    key: str
    refers_to: str | None
    outcome: Outcome
    reason: str | None
    noise: tuple[str, ...] = ()
    related: Mapping[str, str | None] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "table": self.table,
                "key": self.key,
                "refers_to": self.refers_to,
                "related": dict(self.related),
                "outcome": self.outcome,
                "reason": self.reason,
                "noise": list(self.noise),
            },
            ensure_ascii=False,
        )


@dataclass(frozen=True, slots=True)
class DepartmentReport:
    """What one department seed wrote and what a correct standardizer must make of it."""

    department: str
    engine: str
    tables: tuple[str, ...]
    rows: int
    expected_accepted: int
    expected_quarantined: int
    truth_paths: tuple[Path, ...]


def judge(
    table: str,
    key: str,
    refers_to: str | None,
    checks: Iterable[Check],
    *,
    noise: Iterable[str] = (),
    related: Mapping[str, str | None] | None = None,
) -> RowTruth:
    """Run the standards' checks in order; the first violation quarantines the row."""
    tags, references = tuple(noise), related or {}
    for check in checks:
        try:
            check()
        except StandardViolation as violation:
            return RowTruth(table, key, refers_to, "quarantined", violation.rule_id, tags, references)
    return RowTruth(table, key, refers_to, "accepted", None, tags, references)


def write_truth(path: Path, lines: Iterable[RowTruth]) -> Path:
    """Write JSON lines to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.writelines(f"{line.to_json()}\n" for line in lines)
    os.replace(tmp, path)
    return path


def report_of(
    department: str, engine: str, tables: tuple[str, ...], truths: Iterable[RowTruth], paths: tuple[Path, ...]
) -> DepartmentReport:
    truth = list(truths)
    accepted = sum(line.outcome == "accepted" for line in truth)
    return DepartmentReport(department, engine, tables, len(truth), accepted, len(truth) - accepted, paths)
