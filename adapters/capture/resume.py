"""Exact resume of an interrupted log-capture snapshot, for any engine.

A log source snapshots a table in one consistent read pinned to a log position, then streams
the log from that position. If the capture restarts half-way through the table, the consistent
read is gone: the rest of the table is read in a *new* one, at a later log position, while
the stream still starts at the first. For the keys the new read covered, the stream's changes
committed before its position are already in what it read; publishing them again would double
rows and show older images after newer ones.

A :class:`ResumedSegment` records one such restart: keys after ``after_key`` were read at
``position``. :class:`CoveredKeys` drops exactly the stream changes those segments hold. Key
order comes from the database (``rank``), never from the keys' text, so that it is the order of
the snapshot's ``ORDER BY`` (``10`` after ``9`` for integers, the column's collation for text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from adapters.capture.source import Change

__all__ = ["CoveredKeys", "KeyValues", "ResumedSegment"]

P = TypeVar("P")
KeyValues = tuple[str | None, ...]
#: Dense ranks of key values in the table's key order (equal keys share a rank).
Ranker = Callable[[Sequence[KeyValues]], list[int]]


@dataclass(frozen=True)
class ResumedSegment(Generic[P]):
    """Keys strictly after ``after_key`` (every key when None) were read at ``position``."""

    after_key: KeyValues | None
    position: P


class CoveredKeys(Generic[P]):
    """Drops stream changes that a resumed snapshot segment already published.

    ``in_snapshot(tx, at)`` says whether a transaction at log position ``tx`` (as the engine
    records it) is visible to a consistent read taken at ``at``.
    """

    def __init__(self, segments: Sequence[ResumedSegment[P]], key_columns: Sequence[str],
                 rank: Ranker, in_snapshot: Callable[[P, P], bool]) -> None:
        self.segments = list(segments)
        self.key_columns = tuple(key_columns)
        self.rank = rank
        self.in_snapshot = in_snapshot

    def passed(self, position: P) -> None:
        """The stream stands at ``position``: forget segments no later change can be in."""
        self.segments = [s for s in self.segments if self.in_snapshot(position, s.position)]

    def filter(self, transactions: Sequence[tuple[P, Sequence[Change]]]) -> list[list[Change]]:
        """The changes of each transaction that no segment covers (same order and length)."""
        window = [(at, changes) for at, changes in transactions
                  if any(self.in_snapshot(at, s.position) for s in self.segments)]
        if not window:
            return [list(changes) for _at, changes in transactions]
        keys = [self._key(c) for _at, changes in window for c in changes]
        bounds = [s.after_key for s in self.segments if s.after_key is not None]
        ranks = self.rank([*keys, *bounds])
        key_rank = dict(zip(keys, ranks[:len(keys)], strict=True))
        bound_rank = dict(zip(bounds, ranks[len(keys):], strict=True))
        return [[c for c in changes if not self._covered(at, key_rank[self._key(c)], bound_rank)]
                if any(self.in_snapshot(at, s.position) for s in self.segments) else list(changes)
                for at, changes in transactions]

    def _key(self, change: Change) -> KeyValues:
        return tuple(change.key.get(k) for k in self.key_columns)

    def _covered(self, at: P, rank: int, bound_rank: dict[KeyValues, int]) -> bool:
        # Segments are in resume order, so their start keys only grow: the one that read this
        # key is the last whose start key lies before it. The first snapshot (the position the
        # stream starts from) holds nothing the stream would repeat.
        reader: ResumedSegment[P] | None = None
        for segment in self.segments:
            if segment.after_key is None or rank > bound_rank[segment.after_key]:
                reader = segment
        return reader is not None and self.in_snapshot(at, reader.position)
