"""Live entity resolution: each new or changed person record is compared with its blocks only.

The batch engine (``projections.resolution.engine``) resolves a whole record set; the live
resolver keeps the records and their blocking keys in its store
(``projections.resolution.store``) and, for every event of a person-bearing ``std.<entity>``
topic or a ``quarantine.<dept>.<table>`` event whose failed rule concerns the identity number
(``id.*``), re-decides only the pairs of the records the event mentions:

* **identity rule** — a record with a valid number is linked to a record of the same number
  (one not from quarantine first, then the smallest reference), as the batch links each record
  to its group's first: the same clusters; a pair of the same number whose other fields score
  below the lower threshold goes to review;
* **Fellegi–Sunter** — every block mate of which at least one side has no valid number is
  scored; from the highest score down: at or above the upper threshold ``accepted`` (unless it
  would merge two different valid numbers: ``proposed``), between the thresholds ``proposed``,
  below nothing;
* a pair decided before whose records changed is decided again: a link that no longer holds is
  ``split``, a proposal that no longer holds ``rejected``; a deleted record's pairs likewise.

A pair a reviewer decided is never decided again by the engine. Decisions are taken at the
Kafka time of the event that caused them, so a replay of the same log gives the same decision
ids. An ``accepted`` link between a quarantined record and a record with a valid number carries
that number as ``subject``: the citizen profile the quarantined row joins
(``projections.citizen_profile.extract``); any later decision about the pair without it takes
the row out again.

Decisions from ``std.link_decision`` (a reviewer's, or another worker's) are applied by id,
once, in the same transaction as their input position.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.profiles.store import InputPosition
from projections.resolution.blocking import blocking_keys
from projections.resolution.decisions import ENGINE, DecisionKind, LinkDecision, make_decision
from projections.resolution.engine import RULE_IDENTITY, RULE_PROBABILISTIC
from projections.resolution.features import Features, features_of
from projections.resolution.model import DEFAULT_RULES, RuleSet, Score, score_pair
from projections.resolution.records import (
    CANONICAL_LAYOUTS,
    LEGACY_LAYOUTS,
    PersonRecord,
    RecordRef,
    records_from_canonical,
    records_from_quarantine,
)
from projections.resolution.review import RULE_REVIEW, ReviewError, reviewer
from projections.resolution.store import PairState, ResolutionStore

__all__ = [
    "CANONICAL_TOPICS",
    "DECISIONS_TOPIC",
    "INPUT_TOPICS",
    "QUARANTINE_TOPICS",
    "LiveResolver",
    "UnknownPair",
    "mentions",
    "profile_link",
    "review_decision",
    "split_decision",
]

#: Where every link decision is published (and read back): key ``link_decision_key.avsc``.
DECISIONS_TOPIC = "std.link_decision"
#: Canonical topics that mention persons, by topic: their entity.
CANONICAL_TOPICS: Mapping[str, str] = {f"std.{entity}": entity for entity in sorted(CANONICAL_LAYOUTS)}
#: Quarantine topics of the legacy tables that mention persons.
QUARANTINE_TOPICS = tuple(sorted(f"quarantine.{d}.{t}" for d, t in LEGACY_LAYOUTS))
INPUT_TOPICS = (*CANONICAL_TOPICS, *QUARANTINE_TOPICS, DECISIONS_TOPIC)
#: Rule ids of the identity-number standard (docs/standards.md): rows refused for one of them
#: still name a person resolution can find.
IDENTITY_RULES = "id."

_QUARANTINE = "quarantine."


#: ``features_of`` remembered by value (a pure function of a frozen record): an event compares
#: its record with every block mate, and the same mates come up event after event.
_features_of = functools.lru_cache(maxsize=32_768)(features_of)


class UnknownPair(ReviewError):
    """No decision names this pair."""


def mentions(topic: str, value: Mapping[str, Any]) -> list[PersonRecord]:
    """The person records an event of ``topic`` mentions (none for a row refused for another rule)."""
    if topic in CANONICAL_TOPICS:
        return records_from_canonical(CANONICAL_TOPICS[topic], value)
    if topic.startswith(_QUARANTINE) and str(value.get("rule_id", "")).startswith(IDENTITY_RULES):
        return records_from_quarantine(value)
    return []


def source_key(topic: str, key: Any) -> str:
    """A stable text for an input message's key (tombstones find their records by it)."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return json.dumps(key, ensure_ascii=False, sort_keys=True, default=str)


def profile_link(store: ResolutionStore, left: str, right: str) -> tuple[str, str] | None:
    """(valid number, joining record key) when one record of the pair is a quarantined row and
    the other a canonical record with a valid number: the profile the row joins if linked."""
    quarantined = {key: _is_quarantined(store, key) for key in (left, right)}
    if quarantined[left] == quarantined[right]:
        return None
    joining, holder = (left, right) if quarantined[left] else (right, left)
    number = store.valid_number(holder)
    return None if number is None else (number, joining)


def _is_quarantined(store: ResolutionStore, ref_key: str) -> bool:
    source = store.record_source(ref_key)
    return source is not None and source.startswith(_QUARANTINE)


@dataclass(frozen=True, slots=True)
class _Desired:
    kind: DecisionKind
    rule: str
    score: Score
    reason: str


class LiveResolver:
    """Applies input events to a :class:`ResolutionStore`, taking link decisions as it goes."""

    def __init__(self, store: ResolutionStore, rules: RuleSet = DEFAULT_RULES) -> None:
        self.store = store
        self.rules = rules

    # -- inputs ---------------------------------------------------------------------------

    def on_records(self, at: InputPosition, key: str, records: Iterable[PersonRecord] | None
                   ) -> list[LinkDecision] | None:
        """The records one message of ``at.topic`` (keyed ``key``) mentions now; None: a
        tombstone. The decisions taken, or None when ``at`` was applied before."""
        store = self.store
        with store.transaction():
            if at.offset < store.next_offset(at.topic, at.partition):
                return None
            taken: list[LinkDecision] = []
            now = {r.ref.key: r for r in records or ()}
            for gone in store.refs_of_source(at.topic, key):
                if gone not in now:
                    taken += self._retract_all(gone, at, "record deleted")
                    store.delete_record(gone)
            for ref_key in sorted(now):
                if self._put(now[ref_key], at.topic, key):
                    taken += self._evaluate(ref_key, at)
            store.advance(at.topic, at.partition, at.offset)
            return taken

    def on_decision(self, at: InputPosition, decision: LinkDecision) -> bool | None:
        """Apply a decision read from ``std.link_decision``; None when ``at`` was applied before."""
        store = self.store
        with store.transaction():
            if at.offset < store.next_offset(at.topic, at.partition):
                return None
            applied = store.apply(decision, publish=False)
            store.advance(at.topic, at.partition, at.offset)
            return applied

    def skip(self, at: InputPosition) -> bool:
        """Pass over a message that says nothing (a tombstone on ``std.link_decision``)."""
        with self.store.transaction():
            if at.offset < self.store.next_offset(at.topic, at.partition):
                return False
            self.store.advance(at.topic, at.partition, at.offset)
            return True

    # -- records --------------------------------------------------------------------------

    def _put(self, record: PersonRecord, topic: str, key: str) -> bool:
        """Store the record; True when its values or its quarantine status changed."""
        store = self.store
        before, before_source = store.record(record.ref.key), store.record_source(record.ref.key)
        was_quarantined = (before_source or "").startswith(_QUARANTINE)
        if before == record and was_quarantined == topic.startswith(_QUARANTINE):
            store.set_source(record.ref.key, topic, key)
            return False
        features = _features_of(record)
        valid = features.identity_number if features.identity_valid else None
        store.put_record(record, topic, key, valid, blocking_keys(features))
        return True

    def _features(self, ref_key: str) -> Features | None:
        record = self.store.record(ref_key)
        return None if record is None else _features_of(record)

    # -- deciding -------------------------------------------------------------------------

    def _evaluate(self, ref_key: str, at: InputPosition) -> list[LinkDecision]:
        store = self.store
        mine = self._features(ref_key)
        assert mine is not None
        partners = set(store.block_mates(ref_key))
        partners |= {s.decision.right.key if s.decision.left.key == ref_key else s.decision.left.key
                     for s in store.pairs_of(ref_key)}
        features = {k: f for k in sorted(partners) if (f := self._features(k)) is not None}
        decided: dict[str, _Desired | None] = {}

        same = [k for k, f in features.items() if mine.identity_valid and f.identity_valid
                and f.identity_number == mine.identity_number]
        if same:
            anchor = min(same, key=lambda k: (_is_quarantined(store, k), k))
            for other in sorted({anchor} | {k for k in same if store.pair(self._pid(ref_key, k))}):
                score = score_pair(mine, features[other], self.rules)
                decided[other] = (
                    _Desired(DecisionKind.ACCEPTED, RULE_IDENTITY, score, "same valid identity number")
                    if score.total >= self.rules.lower else
                    _Desired(DecisionKind.PROPOSED, RULE_IDENTITY, score,
                             "same valid identity number, but the other fields disagree"))

        scored: list[tuple[float, str, str, Score]] = []
        for other, theirs in features.items():
            if mine.identity_valid and theirs.identity_valid:
                continue  # two valid numbers decide by themselves
            score = score_pair(mine, theirs, self.rules)
            if score.total >= self.rules.lower:
                scored.append((-score.total, self._pid(ref_key, other), other, score))
        taken: list[LinkDecision] = []
        for other in sorted(decided):
            taken += self._settle(ref_key, other, decided[other], at)
        for _, _, other, score in sorted(scored, key=lambda item: (item[0], item[1])):
            decided[other] = self._probabilistic(ref_key, other, score)
            taken += self._settle(ref_key, other, decided[other], at)
        for other in sorted(set(features) - set(decided)):
            taken += self._settle(ref_key, other, None, at)
        return taken

    def _probabilistic(self, a: str, b: str, score: Score) -> _Desired:
        if score.total < self.rules.upper:
            return _Desired(DecisionKind.PROPOSED, RULE_PROBABILISTIC, score, "score between the thresholds")
        if self._conflict(a, b):
            return _Desired(DecisionKind.PROPOSED, RULE_PROBABILISTIC, score,
                            "would merge records of two different valid identity numbers")
        return _Desired(DecisionKind.ACCEPTED, RULE_PROBABILISTIC, score, "score above the upper threshold")

    def _conflict(self, a: str, b: str) -> bool:
        first, second = self.store.cluster(a), self.store.cluster(b)
        if a in second:
            return False
        numbers = [{n for k in c if (n := self.store.valid_number(k))} for c in (first, second)]
        return bool(numbers[0] and numbers[1] and numbers[0] != numbers[1])

    def _settle(self, a: str, b: str, desired: _Desired | None, at: InputPosition) -> list[LinkDecision]:
        """Decide the pair (a, b) as ``desired`` if its current state says otherwise."""
        current = self.store.pair(self._pid(a, b))
        if current is not None and current.pinned:
            return []
        if desired is None:
            if current is None or current.kind not in (DecisionKind.ACCEPTED, DecisionKind.PROPOSED):
                return []
            return [self._retract(current.decision, at, "the records no longer match")]
        link = profile_link(self.store, a, b) if desired.kind is DecisionKind.ACCEPTED else None
        if current is not None:
            d = current.decision
            side = None if link is None else ("left" if link[1] == d.left.key else "right")
            wanted = (desired.kind, desired.score.total, None if link is None else link[0], side)
            if (d.kind, d.score, d.subject, d.joining) == wanted:
                return []
        return [self._emit(desired.kind, self._ref(a), self._ref(b), at, rule=desired.rule,
                           score=desired.score, reason=desired.reason, link=link)]

    def _retract_all(self, ref_key: str, at: InputPosition, reason: str) -> list[LinkDecision]:
        return [self._retract(state.decision, at, reason) for state in self.store.pairs_of(ref_key)
                if not state.pinned and state.kind in (DecisionKind.ACCEPTED, DecisionKind.PROPOSED)]

    def _retract(self, current: LinkDecision, at: InputPosition, reason: str) -> LinkDecision:
        kind = DecisionKind.SPLIT if current.kind is DecisionKind.ACCEPTED else DecisionKind.REJECTED
        return self._emit(kind, current.left, current.right, at, rule=current.rule, score=None, reason=reason,
                          link=None)

    def _emit(self, kind: DecisionKind, a: RecordRef, b: RecordRef, at: InputPosition, *, rule: str,
              score: Score | None, reason: str, link: tuple[str, str] | None) -> LinkDecision:
        moment = datetime.fromtimestamp(at.timestamp_ms / 1000, UTC)
        while True:  # another decision about the pair at the same millisecond: the next one
            decision = make_decision(
                kind, a, b, rule=rule, rules=self.rules, decided_by=ENGINE, decided_at=moment, score=score,
                reason=reason, subject=None if link is None else link[0],
                joining=None if link is None else (a if a.key == link[1] else b))
            if not self.store.known_decision(decision.decision_id):
                break
            moment += timedelta(milliseconds=1)
        self.store.apply(decision, publish=True)
        return decision

    def _ref(self, ref_key: str) -> RecordRef:
        record = self.store.record(ref_key)
        if record is not None:
            return record.ref
        for state in self.store.pairs_of(ref_key):
            for ref in (state.decision.left, state.decision.right):
                if ref.key == ref_key:
                    return ref
        raise KeyError(ref_key)

    def _pid(self, a: str, b: str) -> str:
        return "|".join(sorted((a, b)))


# -- reviewers' commands (the review API publishes what these return) ----------------------


def review_decision(store: ResolutionStore, pid: str, *, accept: bool, by: str, at: datetime,
                    reason: str | None = None, rules: RuleSet = DEFAULT_RULES) -> LinkDecision:
    """A reviewer's verdict on a pair waiting for review: ``accepted`` (joining a quarantined row
    to its person's profile when it can) or ``rejected``."""
    current = _current(store, pid)
    if current.kind is not DecisionKind.PROPOSED:
        raise ReviewError(f"pair {pid} is not waiting for review (it is {current.kind.value})")
    d = current.decision
    link = profile_link(store, d.left.key, d.right.key) if accept else None
    kind = DecisionKind.ACCEPTED if accept else DecisionKind.REJECTED
    return make_decision(kind, d.left, d.right, rule=RULE_REVIEW, rules=rules, decided_by=reviewer(by),
                         decided_at=at, reason=reason, subject=None if link is None else link[0],
                         joining=None if link is None else (d.left if d.left.key == link[1] else d.right))


def split_decision(store: ResolutionStore, pid: str, *, by: str, at: datetime, reason: str | None = None,
                   rules: RuleSet = DEFAULT_RULES) -> LinkDecision:
    """A reviewer's un-merge of a linked pair."""
    current = _current(store, pid)
    if current.kind is not DecisionKind.ACCEPTED:
        raise ReviewError(f"pair {pid} is not linked (it is {current.kind.value})")
    d = current.decision
    return make_decision(DecisionKind.SPLIT, d.left, d.right, rule=RULE_REVIEW, rules=rules,
                         decided_by=reviewer(by), decided_at=at, reason=reason)


def _current(store: ResolutionStore, pid: str) -> PairState:
    state = store.pair(pid)
    if state is None:
        raise UnknownPair(f"no decision names the pair {pid}")
    return state

