"""Values passed between the sink runner and its targets: input events and what became of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from adapters.sinks.reverse import LegacyRow, Unmappable

__all__ = ["Applied", "Conflict", "InputEvent", "Outcome", "Prepared", "Target", "TargetUnavailable"]

Outcome = Literal["written", "replayed", "conflict_kept", "conflict_overwritten", "quarantined"]


class TargetUnavailable(Exception):
    """The legacy database or directory cannot be written now; the runner retries with backoff."""


@dataclass(frozen=True)
class InputEvent:
    """One canonical event as consumed: where it was, its CloudEvents id, its decoded value."""

    topic: str
    partition: int
    offset: int
    event_id: str
    value: Mapping[str, Any] | None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """An input event and its legacy row, or why it has none."""

    event: InputEvent
    row: LegacyRow | None
    problem: Unmappable | None = None


@dataclass(frozen=True)
class Conflict:
    """The legacy row changed since the bus last wrote it (or the bus never wrote it)."""

    event: InputEvent
    record_key: str
    reason: str
    legacy_image: dict[str, str | None] | None
    bus_image: dict[str, str | None]
    ledger_hash: str | None
    legacy_hash: str | None
    overwritten: bool


@dataclass
class Applied:
    """What one batch did: the outcome of every event, the conflicts to report."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


class Target(Protocol):
    """A legacy table (or export directory) the sink writes, with its ledger and positions.

    Every method runs in the sink's own worker thread. :meth:`apply` leaves its transaction
    open; the runner publishes the batch's conflict and quarantine events, then calls
    :meth:`commit` (or :meth:`rollback` when Kafka failed), so those reports are never lost.
    """

    def open(self) -> None:
        """Connect and create the ledger if needed; raises TargetUnavailable."""

    def positions(self, topic: str) -> dict[int, int]:
        """Next offset per partition of ``topic`` (partitions never written are absent)."""

    def apply(self, batch: Sequence[Prepared], topic: str, next_offsets: Mapping[int, int]) -> Applied:
        """Write ``batch`` and its ledger rows and positions, without committing."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...
