"""Link decisions: every change to who-is-who is an event (``std.link_decision``).

``proposed``: the engine put a pair in the review band; ``accepted``: the pair is the same
person (by the engine above the upper threshold, or by a reviewer); ``rejected``: it is not;
``split``: an accepted link is undone. Each decision concerns one pair, keyed by ``pair_id``
(the two record references, sorted), so all decisions about a pair keep their order on one
partition; clusters are the connected components of the pairs whose latest decision is
``accepted`` (``projections.resolution.clusters``). Un-merging a cluster is a set of ``split``
decisions, one per link (``projections.resolution.review.split_out``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from projections.resolution.model import FieldWeight, RuleSet, Score
from projections.resolution.records import RecordRef

__all__ = ["ENGINE", "DecisionKind", "LinkDecision", "make_decision", "pair_id"]

#: ``decided_by`` of the engine's decisions; a reviewer's is ``reviewer:<id>``.
ENGINE = "engine"


class DecisionKind(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SPLIT = "split"


def pair_id(a: RecordRef, b: RecordRef) -> str:
    """The pair's stable id: both reference keys, sorted, joined by ``|``."""
    first, second = sorted((a.key, b.key))
    return f"{first}|{second}"


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """One decision about one pair of person records (``left.key < right.key``)."""

    decision_id: str
    pair_id: str
    kind: DecisionKind
    left: RecordRef
    right: RecordRef
    score: float | None
    weights: tuple[FieldWeight, ...]
    rule: str
    ruleset_version: str
    upper_threshold: float
    lower_threshold: float
    decided_by: str
    reason: str | None
    decided_at: datetime
    #: An accepted link of a record without a valid identity number to one with: that number
    #: (the citizen profile the record joins) and which side joins (``left`` / ``right``).
    subject: str | None = None
    joining: str | None = None

    @property
    def joining_ref(self) -> RecordRef | None:
        """The record that joins the subject's profile, if any."""
        if self.subject is None or self.joining not in ("left", "right"):
            return None
        return self.left if self.joining == "left" else self.right

    @property
    def by_reviewer(self) -> bool:
        return self.decided_by != ENGINE

    def to_avro(self) -> dict[str, Any]:
        """The value of ``schemas/avro/link_decision.avsc``."""
        return {
            "decision_id": self.decision_id, "pair_id": self.pair_id, "kind": self.kind.value,
            "left": _ref_to_avro(self.left), "right": _ref_to_avro(self.right), "score": self.score,
            "weights": [{"field": w.field, "level": w.level, "weight": w.weight} for w in self.weights],
            "rule": self.rule, "ruleset_version": self.ruleset_version,
            "upper_threshold": self.upper_threshold, "lower_threshold": self.lower_threshold,
            "decided_by": self.decided_by, "reason": self.reason, "decided_at": self.decided_at,
            "subject": self.subject, "joining": self.joining,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> LinkDecision:
        return cls(
            decision_id=value["decision_id"], pair_id=value["pair_id"], kind=DecisionKind(value["kind"]),
            left=_ref_from_avro(value["left"]), right=_ref_from_avro(value["right"]), score=value["score"],
            weights=tuple(FieldWeight(w["field"], w["level"], w["weight"]) for w in value["weights"]),
            rule=value["rule"], ruleset_version=value["ruleset_version"],
            upper_threshold=value["upper_threshold"], lower_threshold=value["lower_threshold"],
            decided_by=value["decided_by"], reason=value["reason"], decided_at=value["decided_at"],
            subject=value.get("subject"), joining=value.get("joining"),
        )


def make_decision(
    kind: DecisionKind,
    a: RecordRef,
    b: RecordRef,
    *,
    rule: str,
    rules: RuleSet,
    decided_by: str,
    decided_at: datetime,
    score: Score | None = None,
    reason: str | None = None,
    subject: str | None = None,
    joining: RecordRef | None = None,
) -> LinkDecision:
    """A decision about (a, b); its id is a digest of what was decided, by whom and when.

    ``subject`` (with ``joining``, one of a and b) names the valid identity number whose
    citizen profile the ``joining`` record joins through this accepted link.
    """
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")
    if a.key == b.key:
        raise ValueError(f"a record cannot be linked to itself: {a.key}")
    left, right = sorted((a, b), key=lambda ref: ref.key)
    pid = pair_id(left, right)
    text = f"{pid}\n{kind.value}\n{decided_by}\n{rules.version}\n{decided_at.isoformat()}"
    if subject is not None:
        if joining is None or joining.key not in (a.key, b.key):
            raise ValueError("a subject needs the joining record, one of the pair")
        text += f"\n{subject}\n{joining.key}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    side = None if subject is None or joining is None else ("left" if joining.key == left.key else "right")
    return LinkDecision(
        decision_id=digest, pair_id=pid, kind=kind, left=left, right=right,
        score=None if score is None else score.total, weights=() if score is None else score.weights,
        rule=rule, ruleset_version=rules.version, upper_threshold=rules.upper, lower_threshold=rules.lower,
        decided_by=decided_by, reason=reason, decided_at=decided_at, subject=subject, joining=side,
    )


def _ref_to_avro(ref: RecordRef) -> dict[str, str]:
    return {"department": ref.department, "table": ref.table, "record_key": ref.record_key, "role": ref.role}


def _ref_from_avro(value: Mapping[str, Any]) -> RecordRef:
    return RecordRef(value["department"], value["table"], value["record_key"], value["role"])
