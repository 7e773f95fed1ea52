"""Compatibility levels and the check of a candidate schema against a subject's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from bus.registry.errors import InvalidCompatibilityLevel

__all__ = ["CompatibilityLevel", "PastVersion", "incompatibilities", "parse_level"]


class CompatibilityLevel(StrEnum):
    """Confluent's compatibility levels.

    BACKWARD: the new schema (reader) reads data written with the previous one (writer).
    FORWARD: the previous schema reads data written with the new one. FULL: both.
    ``_TRANSITIVE``: against every earlier version instead of the latest only.
    """

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def checks_backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def checks_forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")


def parse_level(value: object) -> CompatibilityLevel:
    """The level named by ``value`` (any case); else InvalidCompatibilityLevel (42203)."""
    if isinstance(value, str):
        try:
            return CompatibilityLevel(value.upper())
        except ValueError:
            pass
    raise InvalidCompatibilityLevel(value)


@dataclass(frozen=True, slots=True)
class PastVersion:
    """An earlier version of a subject, as the compatibility check needs it."""

    version: int
    schema: avro.schema.Schema


def incompatibilities(
    candidate: avro.schema.Schema,
    history: Sequence[PastVersion],
    level: CompatibilityLevel,
) -> list[str]:
    """Human-readable reasons why ``candidate`` breaks ``level`` against ``history``.

    ``history`` is oldest first; non-transitive levels look at its last entry only.
    An empty list means compatible.
    """
    if level is CompatibilityLevel.NONE or not history:
        return []
    against = history if level.transitive else history[-1:]
    messages: list[str] = []
    for past in against:
        if level.checks_backward:
            messages += _describe(
                reader=candidate,
                writer=past.schema,
                what=f"the new schema cannot read data written with version {past.version}",
            )
        if level.checks_forward:
            messages += _describe(
                reader=past.schema,
                writer=candidate,
                what=f"version {past.version} cannot read data written with the new schema",
            )
    return messages


def _describe(reader: avro.schema.Schema, writer: avro.schema.Schema, what: str) -> list[str]:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    where = ", ".join(sorted(result.locations))
    details = "; ".join(sorted(result.messages)) or "incompatible"
    return [f"{what}: {details} (at {where})"]
