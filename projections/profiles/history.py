"""Read side of a profile store: a profile's versions and the store's input positions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from projections.profiles.readers import Readers
from projections.profiles.store import StoredProfile

__all__ = ["HistoryPage", "Version", "read_history", "read_positions"]


@dataclass(frozen=True)
class Version:
    """One version: the profile then, or None when the profile was gone at that version."""

    version: int
    believed_at_ms: int
    profile: StoredProfile | None
    cause: tuple[str, int, int]


@dataclass(frozen=True)
class HistoryPage:
    versions: list[Version]
    next_after: int | None


def read_history(readers: Readers, subject: str, *, after: int = 0, limit: int = 50
                 ) -> HistoryPage | None:
    """Versions of ``subject`` after version ``after``, oldest first; None when it has none."""
    with readers.connection() as db:
        if db is None:
            return None
        try:
            rows = db.execute(
                "SELECT version, believed_at_ms, document, cause_topic, cause_partition, "
                "cause_offset FROM profile_version WHERE subject = ? AND version > ? "
                "ORDER BY version LIMIT ?", (subject, after, limit + 1)).fetchall()
        except db.not_ready:
            return None
    if not rows and after == 0:
        return None
    versions = [Version(int(r[0]), int(r[1]), None if r[2] is None else StoredProfile(
        subject, int(r[0]), int(r[1]), json.loads(r[2])), (str(r[3]), int(r[4]), int(r[5])))
        for r in rows[:limit]]
    return HistoryPage(versions, versions[-1].version if len(rows) > limit else None)


def read_positions(readers: Readers) -> dict[tuple[str, int], int]:
    """The store's next input offset per topic partition (empty before the worker ran)."""
    with readers.connection() as db:
        if db is None:
            return {}
        try:
            rows: list[Any] = db.execute(
                "SELECT topic, partition, next_offset FROM projection_position").fetchall()
        except db.not_ready:
            return {}
    return {(str(r[0]), int(r[1])): int(r[2]) for r in rows}
