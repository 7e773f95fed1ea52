"""The review queue: pairs in the review band wait for a person, whose decision is an event.

Functions, not endpoints (the HTTP API wraps them): ``pending_reviews`` lists the pairs whose
current state is ``proposed``; ``decide_review`` turns a reviewer's verdict into an ``accepted``
or ``rejected`` decision; ``split_pair`` and ``split_out`` undo links. Each returns the
decision(s) without applying them: the caller publishes them, and applying the published events
(``Clusters.apply``) is what changes the clusters — the same on every replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.resolution.clusters import Clusters
from projections.resolution.decisions import ENGINE, DecisionKind, LinkDecision, make_decision
from projections.resolution.model import DEFAULT_RULES, FieldWeight, RuleSet

__all__ = [
    "RULE_REVIEW",
    "ReviewError",
    "ReviewItem",
    "decide_review",
    "pending_reviews",
    "reviewer",
    "split_out",
    "split_pair",
]

RULE_REVIEW = "review"


class ReviewError(ValueError):
    """A review command that does not fit the current state (unknown pair, not pending, not linked)."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A pair waiting for a reviewer, with the engine's explained score."""

    pair_id: str
    left: str
    right: str
    score: float | None
    weights: tuple[FieldWeight, ...]
    reason: str | None
    proposed_at: datetime


def reviewer(name: str) -> str:
    """The ``decided_by`` of a reviewer's decisions."""
    if not name.strip() or name.strip() == ENGINE:
        raise ReviewError(f"not a reviewer's name: {name!r}")
    return f"reviewer:{name.strip()}"


def pending_reviews(clusters: Clusters, *, limit: int | None = None) -> list[ReviewItem]:
    """Pairs whose current state is ``proposed``, the highest score first (then by pair id)."""
    items = [ReviewItem(d.pair_id, d.left.key, d.right.key, d.score, d.weights, d.reason, d.decided_at)
             for d in clusters.pairs(DecisionKind.PROPOSED)]
    items.sort(key=lambda item: (-(item.score or 0.0), item.pair_id))
    return items if limit is None else items[:limit]


def decide_review(
    clusters: Clusters, pair_id: str, *, accept: bool, by: str, at: datetime, reason: str | None = None,
    rules: RuleSet = DEFAULT_RULES,
) -> LinkDecision:
    """A reviewer's verdict on a pending pair: ``accepted`` or ``rejected``."""
    current = clusters.state(pair_id)
    if current is None or current.kind is not DecisionKind.PROPOSED:
        raise ReviewError(f"pair {pair_id} is not waiting for review")
    kind = DecisionKind.ACCEPTED if accept else DecisionKind.REJECTED
    return _reviewed(kind, current, by=by, at=at, reason=reason, rules=rules)


def split_pair(
    clusters: Clusters, pair_id: str, *, by: str, at: datetime, reason: str | None = None,
    rules: RuleSet = DEFAULT_RULES,
) -> LinkDecision:
    """Undo one accepted link."""
    current = clusters.state(pair_id)
    if current is None or current.kind is not DecisionKind.ACCEPTED:
        raise ReviewError(f"pair {pair_id} is not linked")
    return _reviewed(DecisionKind.SPLIT, current, by=by, at=at, reason=reason, rules=rules)


def split_out(
    clusters: Clusters, ref_key: str, *, by: str, at: datetime, reason: str | None = None,
    rules: RuleSet = DEFAULT_RULES,
) -> list[LinkDecision]:
    """Take a record out of its cluster: a ``split`` for every accepted link it has."""
    decisions = []
    for other in clusters.links_of(ref_key):
        pid = "|".join(sorted((ref_key, other)))
        decisions.append(split_pair(clusters, pid, by=by, at=at, reason=reason, rules=rules))
    if not decisions:
        raise ReviewError(f"record {ref_key} is not linked to any other record")
    return decisions


def _reviewed(kind: DecisionKind, current: LinkDecision, *, by: str, at: datetime, reason: str | None,
              rules: RuleSet) -> LinkDecision:
    if not by.startswith("reviewer:"):
        by = reviewer(by)
    return make_decision(kind, current.left, current.right, rule=RULE_REVIEW, rules=rules, decided_by=by,
                         decided_at=at, reason=reason)
