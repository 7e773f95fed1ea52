"""The Fellegi–Sunter model: per-field m/u probabilities, match weights, thresholds, scores.

For each field and agreement level, ``m`` is the probability of that level among pairs of
records of the same person and ``u`` among pairs of different persons; the level's weight is
``log2(m / u)``. A pair's score is the sum of its fields' weights (``missing`` and ``implied``
weigh 0), and every score carries those per-field weights, so a decision can be explained.
Above ``upper`` a pair is linked, below ``lower`` it is not, in between a person decides.

The parameters are a versioned rule set: change a value, change ``version``; every decision
event names the version it was taken under.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from projections.resolution.compare import FIELDS, Level, compare
from projections.resolution.features import Features

__all__ = ["DEFAULT_RULES", "MU", "FieldWeight", "RuleSet", "Score", "score_pair"]

_NO_EVIDENCE = (Level.MISSING, Level.IMPLIED)


@dataclass(frozen=True, slots=True)
class MU:
    """P(level | same person), P(level | different persons)."""

    m: float
    u: float

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


@dataclass(frozen=True, slots=True)
class FieldWeight:
    """One field's contribution to a score: its agreement level and weight in bits."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class Score:
    """A pair's total weight and the per-field weights it is the sum of (in ``FIELDS`` order)."""

    total: float
    weights: tuple[FieldWeight, ...]

    def explain(self) -> str:
        """One line: ``identity_number=close +17.2, name=exact +8.9, … = 41.3``."""
        parts = ", ".join(f"{w.field}={w.level} {w.weight:+.1f}" for w in self.weights)
        return f"{parts} = {self.total:.1f}"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Versioned parameters of the probabilistic linker."""

    version: str
    upper: float
    lower: float
    fields: Mapping[str, Mapping[Level, MU]] = field(repr=False)

    def __post_init__(self) -> None:
        if self.lower > self.upper:
            raise ValueError(f"lower threshold {self.lower} is above upper {self.upper}")
        missing = [name for name in FIELDS if name not in self.fields]
        if missing:
            raise ValueError(f"no m/u parameters for {missing}")

    def weight(self, name: str, level: Level) -> float:
        if level in _NO_EVIDENCE:
            return 0.0
        return round(self.fields[name][level].weight, 3)


def score_pair(a: Features, b: Features, rules: RuleSet) -> Score:
    """The explained score of the pair; ``score_pair(b, a)`` is the same."""
    weights = tuple(FieldWeight(name, level.value, rules.weight(name, level))
                    for name, level in compare(a, b).items())
    return Score(round(sum(w.weight for w in weights), 3), weights)


#: Parameters judged from the data standards and the legacy data's known error rates (see
#: docs/entity-resolution.md), checked against the reference government's ground truth.
DEFAULT_RULES = RuleSet(
    version="fs-1",
    upper=16.0,
    lower=8.0,
    fields={
        "identity_number": {
            Level.EXACT: MU(0.90, 1e-7),
            Level.CLOSE: MU(0.04, 1e-7),       # same 17-digit body, broken check character
            Level.PARTIAL: MU(0.005, 1e-4),    # one digit or the province prefix apart
            Level.DISAGREE: MU(0.001, 0.9999),
        },
        "name": {
            Level.EXACT: MU(0.93, 2e-3),
            Level.CLOSE: MU(0.03, 1.5e-2),     # one character of a three-character name
            Level.PARTIAL: MU(0.02, 5e-2),     # same surname, given name one or two characters off
            Level.DISAGREE: MU(0.01, 0.938),
        },
        "birth_date": {
            Level.EXACT: MU(0.96, 1e-4),
            Level.CLOSE: MU(0.025, 2e-3),
            Level.DISAGREE: MU(0.015, 0.9979),
        },
        "sex": {
            Level.EXACT: MU(0.985, 0.5),
            Level.DISAGREE: MU(0.015, 0.5),
        },
        "division": {
            Level.EXACT: MU(0.80, 0.05),
            Level.CLOSE: MU(0.10, 0.15),
            Level.DISAGREE: MU(0.10, 0.80),
        },
        "address": {
            Level.EXACT: MU(0.70, 1e-4),
            Level.CLOSE: MU(0.20, 1e-3),
            Level.DISAGREE: MU(0.10, 0.9989),
        },
    },
)
