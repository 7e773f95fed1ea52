"""Exact resume of an interrupted PostgreSQL snapshot.

The snapshot a replication slot exports dies with the connection that imported it. When the
capture restarts half-way through a table, the rest of the table is read in a *new* snapshot,
exported by a temporary slot at a later LSN, while the stream still starts at the permanent
slot's consistent point. For the keys the new snapshot read, the stream's changes committed
before its LSN are already in what it read; publishing them again would double rows and show
old images after newer ones.

A :class:`ResumedSegment` records one such restart: the keys after ``after_key`` were read at
``lsn``. :class:`CoveredKeys` drops exactly the stream changes those segments cover. Keys are
ordered by PostgreSQL itself (the column types and collations of the snapshot's ``ORDER BY``),
never by their text, so ``'10' > '9'`` holds for integer keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.capture.engines.postgres_connect import connect, translated_errors
from adapters.capture.engines.postgres_pgoutput import lsn_text, parse_lsn
from adapters.capture.engines.postgres_stream import Transaction
from adapters.capture.source import Change

__all__ = ["CoveredKeys", "KeyOrder", "ResumedSegment"]

KeyValues = tuple[str | None, ...]


@dataclass(frozen=True)
class ResumedSegment:
    """Keys strictly after ``after_key`` (all keys when None) were read in a snapshot at ``lsn``."""

    after_key: KeyValues | None
    lsn: int

    def to_checkpoint(self) -> dict[str, Any]:
        return {"after_key": None if self.after_key is None else list(self.after_key),
                "lsn": lsn_text(self.lsn)}

    @classmethod
    def from_checkpoint(cls, data: dict[str, Any]) -> ResumedSegment:
        after_key = data.get("after_key")
        return cls(None if after_key is None else tuple(after_key), parse_lsn(str(data["lsn"])))


def segments_from_checkpoint(checkpoint: dict[str, Any]) -> list[ResumedSegment]:
    return [ResumedSegment.from_checkpoint(s) for s in checkpoint.get("resumed", [])]


def segments_to_checkpoint(segments: Sequence[ResumedSegment]) -> list[dict[str, Any]]:
    return [s.to_checkpoint() for s in segments]


_KEY_TYPES_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.collname
FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation AND a.attcollation <> 0
WHERE a.attrelid = to_regclass(%s) AND a.attname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped"""


class KeyOrder:
    """Ranks key values as the table's ``ORDER BY key`` would (one query per call, own thread)."""

    def __init__(self, dsn: str, qualified_table: str, key: Sequence[str]) -> None:
        self.dsn = dsn
        self.qualified_table = qualified_table
        self.key = tuple(key)
        self._casts: list[str] | None = None

    def _column_casts(self, cursor: Any) -> list[str]:
        if self._casts is None:
            cursor.execute(_KEY_TYPES_SQL, (self.qualified_table, list(self.key)))
            found = {str(name): (str(type_), collation) for name, type_, collation in cursor.fetchall()}
            casts = []
            for i, column in enumerate(self.key):
                type_, collation = found[column]
                collate = "" if collation is None else ' COLLATE "' + str(collation).replace('"', '""') + '"'
                casts.append(f"CAST(v.k{i} AS {type_}){collate}")
            self._casts = casts
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
                ranked = {int(n): int(rank) for n, rank in cursor.fetchall()}
        finally:
            connection.close()
        return [ranked[n] for n in range(len(values))]


class CoveredKeys:
    """Drops stream changes that a resumed snapshot segment already published."""

    def __init__(self, segments: Sequence[ResumedSegment], order: KeyOrder) -> None:
        self.segments = list(segments)
        self.order = order

    @property
    def horizon(self) -> int:
        """The stream LSN after which nothing is covered any more (0 when nothing is)."""
        return max((s.lsn for s in self.segments), default=0)

    def pending(self, position: int) -> list[ResumedSegment]:
        """Segments still relevant to a stream standing at ``position`` (for the checkpoint)."""
        return [s for s in self.segments if s.lsn > position]

    def filter(self, transactions: Sequence[Transaction]) -> list[Transaction]:
        """``transactions`` without the changes that segments cover."""
        horizon = self.horizon
        window = [tx for tx in transactions if tx.commit_lsn < horizon]
        if not window:
            return list(transactions)
        keys = [tuple(c.key[k] for k in self.order.key) for tx in window for c in tx.changes]
        bounds = [s.after_key for s in self.segments if s.after_key is not None]
        ranks = self.order.ranks([*keys, *bounds])
        key_ranks = dict(zip(keys, ranks[:len(keys)], strict=True))
        bound_ranks = dict(zip(bounds, ranks[len(keys):], strict=True))
        kept: list[Transaction] = []
        for tx in transactions:
            if tx.commit_lsn >= horizon:
                kept.append(tx)
                continue
            changes = tuple(c for c in tx.changes if not self._covers(c, tx, key_ranks, bound_ranks))
            if changes:
                kept.append(Transaction(tx.end_lsn, tx.commit_ts_ms, changes, tx.columns, tx.commit_lsn))
        return kept

    def _covers(self, change: Change, tx: Transaction, key_ranks: dict[KeyValues, int],
                bound_ranks: dict[KeyValues, int]) -> bool:
        rank = key_ranks[tuple(change.key[k] for k in self.order.key)]
        # The segment that read this key is the last one starting before it; the original
        # snapshot (the slot's consistent point, where the stream starts) covers nothing extra.
        reader: ResumedSegment | None = None
        for segment in self.segments:
            if segment.after_key is None or rank > bound_ranks[segment.after_key]:
                reader = segment
        # A transaction is in a snapshot exported at LSN L exactly when it committed before L.
        return reader is not None and tx.commit_lsn < reader.lsn
