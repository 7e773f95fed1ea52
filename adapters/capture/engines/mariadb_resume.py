"""Exact resume of an interrupted MariaDB/MySQL snapshot (see :mod:`adapters.capture.resume`).

The rest of the table is read in a new consistent read whose binlog position the server
reports; the stream then skips what that read holds. Here: the MariaDB side of it — segments in
the checkpoint, key order from the server, and when a transaction is in a consistent read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.capture.engines.mariadb_keys import ColumnType, column_types, typed
from adapters.capture.engines.mariadb_sql import (
    DRIVER_ERRORS,
    MariaDbSettings,
    connect,
    translate_error,
)
from adapters.capture.resume import CoveredKeys, KeyValues, ResumedSegment

__all__ = ["BinlogPosition", "KeyOrder", "covered_keys", "segments_from_checkpoint",
           "segments_to_checkpoint"]


@dataclass(frozen=True, order=True)
class BinlogPosition:
    """A place in the server's binlog: file name and byte offset of the next event."""

    file: str
    pos: int

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"


def segments_from_checkpoint(checkpoint: dict[str, Any] | None) -> list[ResumedSegment[BinlogPosition]]:
    return [ResumedSegment(None if s.get("after_key") is None else tuple(s["after_key"]),
                           BinlogPosition(str(s["binlog_file"]), int(s["binlog_pos"])))
            for s in (checkpoint or {}).get("resumed", [])]


def segments_to_checkpoint(segments: Sequence[ResumedSegment[BinlogPosition]]) -> list[dict[str, Any]]:
    return [{"after_key": None if s.after_key is None else list(s.after_key),
             "binlog_file": s.position.file, "binlog_pos": s.position.pos} for s in segments]


def in_snapshot(transaction_end: BinlogPosition, snapshot: BinlogPosition) -> bool:
    """A consistent read at binlog position P holds the transactions that end at or before P.

    Binlog files are named with a zero-padded sequence number, so (file, offset) order is
    binlog order.
    """
    return transaction_end <= snapshot


class KeyOrder:
    """Ranks key values as the table's ``ORDER BY key`` would (one query per call, own thread)."""

    def __init__(self, settings: MariaDbSettings, table: str, key: Sequence[str]) -> None:
        self.settings = settings
        self.table = table
        self.key = tuple(key)
        self._casts: list[ColumnType] | None = None

    def _column_types(self, cursor: Any) -> list[ColumnType]:
        if self._casts is None:
            self._casts = column_types(cursor, self.settings.database, self.table, self.key)
        return self._casts

    def ranks(self, values: Sequence[KeyValues]) -> list[int]:
        """Dense ranks of ``values`` in key order: equal keys share a rank."""
        if not values:
            return []
        connection = connect(self.settings, autocommit=True)
        try:
            cursor = connection.cursor()
            types = self._column_types(cursor)
            columns = [f"{typed(column, '%s')} AS k{i}" for i, column in enumerate(types)]
            select = f"SELECT %s AS n, {', '.join(columns)}"
            params: list[Any] = []
            for n, value in enumerate(values):
                params += [n, *value]
            order = ", ".join(f"k{i}" for i in range(len(types)))
            cursor.execute(f"SELECT n, DENSE_RANK() OVER (ORDER BY {order}) FROM "
                           f"({' UNION ALL '.join([select] * len(values))}) AS v", params)
            ranked = {int(n): int(rank) for n, rank in cursor.fetchall()}
        except DRIVER_ERRORS as error:
            raise translate_error(error, self.settings) from error
        finally:
            connection.close()
        return [ranked[n] for n in range(len(values))]


def covered_keys(settings: MariaDbSettings, table: str, key: Sequence[str],
                 segments: Sequence[ResumedSegment[BinlogPosition]]) -> CoveredKeys[BinlogPosition]:
    return CoveredKeys(segments, key, KeyOrder(settings, table, key).ranks, in_snapshot)
