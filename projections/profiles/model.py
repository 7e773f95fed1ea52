"""Profiles built from many departments' records: contributions, survivorship, provenance.

A canonical event says something about one or more *subjects* (a person, an enterprise): a
birth certificate about the mother and the father, a marriage about both spouses. Each such
statement is a :class:`Contribution` — the fields one source record gives one subject, with the
record's :class:`Provenance`. A profile is a pure function of its subject's contributions
(:func:`derive`), so replaying the log rebuilds it exactly:

- **scalar fields** (name, sex, address …) survive by rule: the field's authoritative source
  wins; without it, the most recent contribution (event time, then log position);
- **facets** (insurance records, marriages, enterprises …) list every contributing record;
- every value keeps the provenance of the record it came from and the rule that chose it;
- a value from another source that disagrees with the authoritative one is a :class:`Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AUTHORITATIVE", "MOST_RECENT", "Conflict", "Contribution", "Profile", "Provenance",
           "derive"]

AUTHORITATIVE = "authoritative_source"
MOST_RECENT = "most_recent"
Value = str | int | float | bool | None


@dataclass(frozen=True, order=True)
class Provenance:
    """Where a value came from: the legacy record, the canonical event and its log position."""

    event_time_ms: int
    topic: str
    partition: int
    offset: int
    department: str
    table: str
    record_key: str
    event_id: str
    #: The legacy change behind the value: c, u, r (snapshot) — deletes leave no value.
    op: str = ""

    @property
    def source(self) -> str:
        return f"{self.department}.{self.table}"

    def as_json(self) -> dict[str, Any]:
        return {"department": self.department, "table": self.table, "record_key": self.record_key,
                "event_id": self.event_id, "topic": self.topic, "partition": self.partition,
                "offset": self.offset, "event_time_ms": self.event_time_ms, "op": self.op}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(int(data["event_time_ms"]), str(data["topic"]), int(data["partition"]),
                   int(data["offset"]), str(data["department"]), str(data["table"]),
                   str(data["record_key"]), str(data["event_id"]), str(data.get("op", "")))


@dataclass(frozen=True)
class Contribution:
    """What one source record says about one subject.

    ``scalars`` compete by survivorship; ``facet`` names the list the record appears in (e.g.
    ``marriages``) with ``item`` as its entry there.
    """

    subject: str
    provenance: Provenance
    scalars: Mapping[str, Value] = field(default_factory=dict)
    facet: str | None = None
    item: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Conflict:
    """A source disagreeing with the field's authoritative source."""

    subject: str
    field: str
    authoritative_value: Value
    authoritative: Provenance
    other_value: Value
    other: Provenance

    @property
    def key(self) -> str:
        """Stable identity of the disagreement (the same one is reported once)."""
        return f"{self.subject}|{self.field}|{self.other.source}|{self.other.record_key}"

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "field": self.field,
                "authoritative_value": self.authoritative_value,
                "authoritative": self.authoritative.as_json(), "other_value": self.other_value,
                "other": self.other.as_json(), "addressed_to": self.authoritative.department}


@dataclass(frozen=True)
class Profile:
    """A derived profile: surviving scalar values with provenance, and facets."""

    subject: str
    fields: Mapping[str, tuple[Value, Provenance, str]]
    facets: Mapping[str, tuple[tuple[Mapping[str, Value], Provenance], ...]]

    def document(self) -> dict[str, Any]:
        """The JSON document stored per version (sorted, so equal profiles are equal text)."""
        return {
            "subject": self.subject,
            "fields": {name: {"value": value, "rule": rule, "provenance": provenance.as_json()}
                       for name, (value, provenance, rule) in sorted(self.fields.items())},
            "facets": {name: [{**dict(item), "provenance": provenance.as_json()}
                              for item, provenance in items]
                       for name, items in sorted(self.facets.items())},
        }


def derive(subject: str, contributions: Iterable[Contribution],
           authority: Mapping[str, str]) -> tuple[Profile, list[Conflict]]:
    """The profile of ``subject`` and its conflicts.

    ``authority`` maps a scalar field to its authoritative source (``dept.table``). Missing
    values (``None``) never win and never conflict.
    """
    ordered = sorted(contributions, key=lambda c: c.provenance)
    candidates: dict[str, list[tuple[Value, Provenance]]] = {}
    facets: dict[str, list[tuple[Mapping[str, Value], Provenance]]] = {}
    for contribution in ordered:
        for name, value in contribution.scalars.items():
            if value is not None:
                candidates.setdefault(name, []).append((value, contribution.provenance))
        if contribution.facet is not None:
            facets.setdefault(contribution.facet, []).append(
                (contribution.item, contribution.provenance))
    fields: dict[str, tuple[Value, Provenance, str]] = {}
    conflicts: list[Conflict] = []
    for name, values in candidates.items():
        fields[name], found = _survivor(subject, name, values, authority.get(name))
        conflicts += found
    return Profile(subject, fields, {k: tuple(v) for k, v in facets.items()}), conflicts


def _survivor(subject: str, name: str, values: Sequence[tuple[Value, Provenance]],
              authority: str | None) -> tuple[tuple[Value, Provenance, str], list[Conflict]]:
    official = [v for v in values if authority is not None and v[1].source == authority]
    if not official:
        value, provenance = values[-1]  # ordered by event time, then log position
        return (value, provenance, MOST_RECENT), []
    value, provenance = official[-1]
    conflicts = [Conflict(subject, name, value, provenance, other_value, other)
                 for other_value, other in values
                 if other.source != authority and other_value != value]
    return (value, provenance, AUTHORITATIVE), conflicts
