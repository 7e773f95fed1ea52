"""A profile projection declared as data: its name, the topics it reads and what each says.

Each input topic has an extractor turning one decoded canonical event (with its provenance)
into contributions; the profile store, the worker and the outbox are shared by every profile
projection (``citizen_profile``, ``enterprise_profile``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from projections.profiles.model import Contribution, Provenance, Value
from projections.profiles.store import InputPosition

__all__ = ["Extractor", "ProfileProjection", "plain"]

Extractor = Callable[[Mapping[str, Any], Provenance], list[Contribution]]


def plain(value: Any) -> Value:
    """A JSON-safe rendering of an Avro value: dates ISO 8601, decimals as exact text."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass(frozen=True)
class ProfileProjection:
    """``extractors`` maps an input topic to (its key field, its extractor)."""

    name: str
    extractors: Mapping[str, tuple[str, Extractor]]
    authority: Mapping[str, str]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self.extractors)

    @property
    def output_topic(self) -> str:
        return f"projection.{self.name}"

    def from_event(self, at: InputPosition, key: Mapping[str, Any], event: Mapping[str, Any] | None
                   ) -> tuple[str, list[Contribution] | None]:
        """The source record a decoded message is about and its contributions (None for a
        tombstone: the record is gone)."""
        key_field, extract = self.extractors[at.topic]
        source_key = str(key[key_field])
        if event is None:
            return source_key, None
        source = event["source"]
        updated = source.get("updated_at")
        provenance = Provenance(
            int(updated.timestamp() * 1000) if isinstance(updated, dt.datetime) else at.timestamp_ms,
            at.topic, at.partition, at.offset, str(source["department"]), str(source["table"]),
            str(source["record_key"]), str(source["event_id"]), str(source.get("op") or ""))
        return source_key, extract(event, provenance)
