"""The resolution engine: person records in, link decisions out. Pure and deterministic.

1. **Deterministic links.** Records whose identity numbers normalize (half width, ``x`` → ``X``,
   15 → 18 digits) to the same valid GB 11643 number are linked (rule ``identity_number``), each
   to the group's first record — unless their other fields score below the lower threshold, in
   which case the pair goes to review (the same number typed for somebody else).
2. **Probabilistic links.** Pairs that share a blocking key and of which at least one record has
   no valid identity number (two valid numbers decide by themselves) are scored
   (``projections.resolution.model``). From the highest score down: above the upper threshold
   the pair is linked (rule ``fellegi_sunter``) — unless that would merge two clusters holding
   different valid identity numbers, then it goes to review; between the thresholds it goes to
   review (``proposed``); below, nothing is decided.

The same records and rules always give the same decisions in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from projections.resolution.blocking import candidate_pairs
from projections.resolution.clusters import Clusters
from projections.resolution.decisions import ENGINE, DecisionKind, LinkDecision, make_decision
from projections.resolution.features import Features, features_of
from projections.resolution.model import DEFAULT_RULES, RuleSet, Score, score_pair
from projections.resolution.records import PersonRecord, RecordRef

__all__ = ["Resolution", "ResolutionStats", "resolve"]

RULE_IDENTITY = "identity_number"
RULE_PROBABILISTIC = "fellegi_sunter"


@dataclass(frozen=True, slots=True)
class ResolutionStats:
    records: int
    candidate_pairs: int
    identity_links: int
    probabilistic_links: int
    proposed: int


@dataclass(frozen=True, slots=True)
class Resolution:
    """The engine's decisions, in order, and the clusters they give."""

    decisions: tuple[LinkDecision, ...]
    clusters: Clusters
    stats: ResolutionStats


class _Groups:
    """The engine's own union-find, with the valid identity numbers each group holds."""

    def __init__(self, features: list[Features]) -> None:
        self.parent = list(range(len(features)))
        self.numbers: list[set[str]] = [
            {f.identity_number} if f.identity_valid and f.identity_number else set() for f in features
        ]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def conflict(self, i: int, j: int) -> bool:
        a, b = self.numbers[self.find(i)], self.numbers[self.find(j)]
        return bool(a and b and a != b)

    def union(self, i: int, j: int) -> None:
        root_i, root_j = self.find(i), self.find(j)
        if root_i != root_j:
            low, high = sorted((root_i, root_j))
            self.parent[high] = low
            self.numbers[low] |= self.numbers[high]


def resolve(
    records: Iterable[PersonRecord], *, decided_at: datetime, rules: RuleSet = DEFAULT_RULES
) -> Resolution:
    """Resolve ``records`` (unique references) into link decisions and clusters."""
    by_key: dict[str, PersonRecord] = {}
    for record in records:
        if record.ref.key in by_key:
            raise ValueError(f"duplicate record reference {record.ref.key}")
        by_key[record.ref.key] = record
    ordered = [by_key[key] for key in sorted(by_key)]
    run = _Run([features_of(record) for record in ordered], [r.ref for r in ordered], rules, decided_at)
    run.identity_links()
    candidates = run.probabilistic_links()
    decisions = run.decisions

    def count(kind: DecisionKind, rule: str | None = None) -> int:
        return sum(d.kind is kind and rule in (None, d.rule) for d in decisions)

    stats = ResolutionStats(len(ordered), candidates, count(DecisionKind.ACCEPTED, RULE_IDENTITY),
                            count(DecisionKind.ACCEPTED, RULE_PROBABILISTIC), count(DecisionKind.PROPOSED))
    return Resolution(tuple(decisions), Clusters(decisions), stats)


class _Run:
    """One pass of the engine over sorted records."""

    def __init__(self, features: list[Features], refs: list[RecordRef], rules: RuleSet,
                 decided_at: datetime) -> None:
        self.features, self.refs, self.rules, self.decided_at = features, refs, rules, decided_at
        self.groups = _Groups(features)
        self.decisions: list[LinkDecision] = []

    def decide(self, kind: DecisionKind, i: int, j: int, rule: str, score: Score, reason: str) -> None:
        self.decisions.append(make_decision(
            kind, self.refs[i], self.refs[j], rule=rule, rules=self.rules, decided_by=ENGINE,
            decided_at=self.decided_at, score=score, reason=reason))

    def identity_links(self) -> None:
        """Link records of the same valid number, each to the first of its group."""
        by_number: dict[str, list[int]] = {}
        for index, f in enumerate(self.features):
            if f.identity_valid and f.identity_number is not None:
                by_number.setdefault(f.identity_number, []).append(index)
        for number in sorted(by_number):
            first, *others = by_number[number]
            for other in others:
                score = score_pair(self.features[first], self.features[other], self.rules)
                if score.total >= self.rules.lower:
                    self.groups.union(first, other)
                    self.decide(DecisionKind.ACCEPTED, first, other, RULE_IDENTITY, score,
                                "same valid identity number")
                else:
                    self.decide(DecisionKind.PROPOSED, first, other, RULE_IDENTITY, score,
                                "same valid identity number, but the other fields disagree")

    def probabilistic_links(self) -> int:
        """Score the candidate pairs and decide from the highest score down; the candidates' count."""
        scored: list[tuple[float, str, int, int, Score]] = []
        candidates = 0
        for i, j in candidate_pairs(self.features, skip=_both_valid):
            candidates += 1
            score = score_pair(self.features[i], self.features[j], self.rules)
            if score.total >= self.rules.lower:
                scored.append((-score.total, f"{self.refs[i].key}|{self.refs[j].key}", i, j, score))
        scored.sort(key=lambda item: (item[0], item[1]))
        for _, _, i, j, score in scored:
            if score.total < self.rules.upper:
                self.decide(DecisionKind.PROPOSED, i, j, RULE_PROBABILISTIC, score,
                            "score between the thresholds")
            elif self.groups.conflict(i, j):
                self.decide(DecisionKind.PROPOSED, i, j, RULE_PROBABILISTIC, score,
                            "would merge records of two different valid identity numbers")
            else:
                self.groups.union(i, j)
                self.decide(DecisionKind.ACCEPTED, i, j, RULE_PROBABILISTIC, score,
                            "score above the upper threshold")
        return candidates


def _both_valid(a: Features, b: Features) -> bool:
    return a.identity_valid and b.identity_valid
