"""Exact resume of an interrupted PostgreSQL snapshot (see :mod:`adapters.capture.resume`).

The rest of the table is read in a snapshot exported by a temporary slot at a known LSN; the
stream then skips what that snapshot holds. Here: the PostgreSQL side of it — segments in the
checkpoint, key order from the server, and when a transaction is in a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.capture.engines.postgres_connect import catalog_rows, connect, translated_errors
from adapters.capture.engines.postgres_keys import key_casts
from adapters.capture.engines.postgres_pgoutput import lsn_text, parse_lsn
from adapters.capture.resume import CoveredKeys, KeyValues, ResumedSegment

__all__ = ["KeyOrder", "covered_keys", "segments_from_checkpoint", "segments_to_checkpoint"]


def segments_from_checkpoint(checkpoint: dict[str, Any]) -> list[ResumedSegment[int]]:
    return [ResumedSegment(None if s.get("after_key") is None else tuple(s["after_key"]),
                           parse_lsn(str(s["lsn"]))) for s in checkpoint.get("resumed", [])]


def segments_to_checkpoint(segments: Sequence[ResumedSegment[int]]) -> list[dict[str, Any]]:
    return [{"after_key": None if s.after_key is None else list(s.after_key),
             "lsn": lsn_text(s.position)} for s in segments]


def in_snapshot(commit_lsn: int, snapshot_lsn: int) -> bool:
    """A snapshot exported at LSN L holds a transaction exactly when it committed before L."""
    return commit_lsn < snapshot_lsn


def covered_keys(dsn: str, qualified_table: str, key: Sequence[str],
                 segments: Sequence[ResumedSegment[int]]) -> CoveredKeys[int]:
    return CoveredKeys(segments, key, KeyOrder(dsn, qualified_table, key).ranks, in_snapshot)


class KeyOrder:
    """Ranks key values as the table's ``ORDER BY key`` would (one query per call, own thread)."""

    def __init__(self, dsn: str, qualified_table: str, key: Sequence[str]) -> None:
        self.dsn = dsn
        self.qualified_table = qualified_table
        self.key = tuple(key)
        self._casts: list[str] | None = None

    def _column_casts(self, cursor: Any) -> list[str]:
        if self._casts is None:
            self._casts = key_casts(cursor, self.qualified_table, self.key,
                                    [f"v.k{i}" for i in range(len(self.key))])
        return self._casts

    def ranks(self, values: Sequence[KeyValues]) -> list[int]:
        """Dense ranks of ``values`` in key order: equal keys share a rank."""
        if not values:
            return []
        width = len(self.key)
        connection: Any = connect(self.dsn)
        try:
            with translated_errors(self.dsn, "ordering keys of a resumed snapshot"), \
                    connection.cursor() as cursor:
                casts = self._column_casts(cursor)
                rows = ", ".join(["(%s" + ", %s" * width + ")"] * len(values))
                params: list[Any] = []
                for n, value in enumerate(values):
                    params.append(n)
                    params.extend(value)
                columns = ", ".join(f"k{i}" for i in range(width))
                cursor.execute(
                    f"SELECT v.n, dense_rank() OVER (ORDER BY {', '.join(casts)}) "
                    f"FROM (VALUES {rows}) AS v(n, {columns})", params)
                ranked = {int(n): int(rank) for n, rank in catalog_rows(cursor.fetchall())}
        finally:
            connection.close()
        return [ranked[n] for n in range(len(values))]
