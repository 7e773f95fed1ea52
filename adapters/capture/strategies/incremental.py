"""``incremental``: poll by an update-time column (and key), with a look-back window.

Rows are read in ``(update time, key)`` order after the checkpoint, so rows sharing a
timestamp are neither skipped nor read twice across batches. The checkpoint also keeps a hash
of every row read within the look-back window behind the last update time (at least that last
second); each poll re-reads the window and publishes rows whose hash changed or that are new
there — a row updated again within the same second, or committed late with an older time.
The first pass over the table is the snapshot (op ``r``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.capture import keys
from adapters.capture.rows import row_digest, text_row
from adapters.capture.source import Batch, Change, Checkpoint, Op, State, TableSpec, key_text
from adapters.capture.sql import DbApiConnection, SqlDialect
from adapters.capture.strategies.common import Throttle, change, query
from bus.standards.dates import normalize_datetime
from bus.standards.errors import StandardViolation


def _window_start(updated: str, lookback_seconds: float) -> str:
    """The earliest update time still re-read; the same text when it cannot be parsed."""
    if not updated or lookback_seconds <= 0:
        return updated
    try:
        moment = datetime.fromisoformat(updated.replace("/", "-"))
    except ValueError:
        return updated
    return (moment - timedelta(seconds=lookback_seconds)).isoformat(sep=" ")


@functools.lru_cache(maxsize=4096)  # rows of one batch share few distinct update times
def _commit_ms(updated: str | None) -> int:
    """Milliseconds of a legacy update time (local time when it has no zone); 0 if unknown."""
    if not updated:
        return 0
    try:
        return int(normalize_datetime(updated).timestamp() * 1000)
    except StandardViolation:
        return 0


class IncrementalPoller:
    """Reads the next batch after a checkpoint; one instance per open connection."""

    def __init__(self, dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec) -> None:
        if spec.updated_column is None:
            raise ValueError("the incremental strategy needs updated_column")
        self.dialect = dialect
        self.connection = connection
        self.spec = spec
        self.updated_column: str = spec.updated_column
        self.lookback = float(spec.options.get("lookback_seconds", 0))
        d = dialect
        self.upd = d.quote(spec.updated_column)
        self.undated = f"({self.upd} IS NULL OR {d.as_text(self.upd)} = '')"
        rowid = getattr(dialect, "rowid", None)
        self.select = (f"SELECT {rowid} AS __rowid, * FROM {d.quote(spec.table)}" if rowid
                       else f"SELECT NULL AS __rowid, t.* FROM {d.quote(spec.table)} t")
        self.order = f"{self.upd}, {keys.order_by(d, spec.key_columns)}"

    async def poll(self, checkpoint: Checkpoint) -> tuple[list[Change], Checkpoint, tuple[str, ...]]:
        cp = dict(checkpoint)
        updated: str = cp.get("updated", "")
        key = self._key(cp)
        boundary: dict[str, list[str]] = cp.get("boundary", {})
        snapshot = not cp.get("snapshot_done", False)
        columns, rechecked = await self._recheck(updated, key, boundary)
        columns2, rows = await self._next(updated, key)
        columns = columns or columns2
        changed = [r for r in rechecked
                   if boundary.get(self._key_text(columns, r), [None, None])[1] != self._digest(columns, r)]
        # Inserts are rows past the highest rowid of the *previous* batches: a batch may hold
        # re-checked rows with higher rowids before later-read new rows with lower ones.
        seen_rowid = max_rowid = int(cp.get("max_rowid", 0))
        changes: list[Change] = []
        for raw in [*changed, *rows]:
            rowid = raw[0]
            op: Op = "r" if snapshot else (
                "c" if rowid is not None and int(rowid) > seen_rowid else "u")
            c = change(self.spec, op, columns, raw[1:], position="", commit_ts_ms=0,
                       snapshot=snapshot)
            upd_text = (c.after or {}).get(self.updated_column) or ""
            changes.append(Change(c.op, c.key, None, c.after, f"{upd_text}|{key_text(c.key)}",
                                  _commit_ms(upd_text),
                                  c.snapshot, c.undecodable))
            if rowid is not None:
                max_rowid = max(max_rowid, int(rowid))
        new_cp = self._advance(cp, changes, columns, max_rowid,
                               snapshot_done=not snapshot or len(rows) < self.spec.batch_size)
        return changes, new_cp, tuple(columns)

    def _key(self, checkpoint: Checkpoint) -> list[str]:
        """The checkpoint's key as a list (first-cut checkpoints stored a single string)."""
        key = checkpoint.get("key") or [""] * len(self.spec.key_columns)
        return [key] if isinstance(key, str) else [str(k) for k in key]

    def _key_text(self, columns: Sequence[str], raw: tuple[Any, ...]) -> str:
        row, _ = text_row(columns, raw[1:])
        return key_text({c: row[c] for c in self.spec.key_columns})

    def _digest(self, columns: Sequence[str], raw: tuple[Any, ...]) -> str:
        row, _ = text_row(columns, raw[1:])
        return row_digest(row)

    def _advance(self, cp: dict[str, Any], changes: list[Change], columns: Sequence[str],
                 max_rowid: int, *, snapshot_done: bool) -> Checkpoint:
        updated: str = cp.get("updated", "")
        key = self._key(cp)
        boundary: dict[str, list[str]] = dict(cp.get("boundary", {}))
        for c in changes:
            row = c.after or {}
            row_updated = row.get(self.updated_column) or ""
            row_key = [row.get(k) or "" for k in self.spec.key_columns]
            if (row_updated, row_key) > (updated, key):
                updated, key = row_updated, row_key
        start = _window_start(updated, self.lookback)
        boundary = {k: v for k, v in boundary.items() if v[0] >= start}
        for c in changes:  # only rows inside the window are hashed: the others are not re-read
            row = c.after or {}
            row_updated = row.get(self.updated_column) or ""
            if row_updated >= start:
                boundary[key_text(c.key)] = [row_updated, row_digest(row)]
            else:
                boundary.pop(key_text(c.key), None)
        return {"phase": "incremental", "updated": updated, "key": key, "boundary": boundary,
                "max_rowid": max_rowid, "snapshot_done": snapshot_done}

    async def _recheck(self, updated: str, key: list[str],
                       boundary: dict[str, list[str]]) -> tuple[list[str], list[tuple[Any, ...]]]:
        if not boundary:
            return [], []
        d = self.dialect
        not_after, params = keys.at_or_before(d, self.spec.key_columns, key)
        if not updated:
            where, args = f"{self.undated} AND {not_after}", params
        else:
            p = d.param
            where = (f"NOT {self.undated} AND {self.upd} >= {p} AND "
                     f"({self.upd} < {p} OR ({self.upd} = {p} AND {not_after}))")
            args = [_window_start(updated, self.lookback), updated, updated, *params]
        names, rows = await query(d, self.connection, f"{self.select} WHERE {where} ORDER BY {self.order}",
                                  args, consistent=True)
        return names[1:], rows

    async def _next(self, updated: str, key: list[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        d, limit = self.dialect, int(self.spec.batch_size)
        names: list[str] = []
        rows: list[tuple[Any, ...]] = []
        if not updated:
            after_key, params = keys.after(d, self.spec.key_columns, key)
            names, rows = await query(
                d, self.connection,
                f"{self.select} WHERE {self.undated} AND {after_key} "
                f"ORDER BY {keys.order_by(d, self.spec.key_columns)} LIMIT {limit}",
                params, consistent=True)
            where, args = f"NOT {self.undated}", []
        else:
            after_key, params = keys.after(d, self.spec.key_columns, key)
            p = d.param
            where = f"{self.upd} >= {p} AND ({self.upd} > {p} OR ({self.upd} = {p} AND {after_key}))"
            args = [updated, updated, updated, *params]
        if len(rows) < limit:
            names, more = await query(
                d, self.connection,
                f"{self.select} WHERE {where} ORDER BY {self.order} LIMIT {limit - len(rows)}",
                args, consistent=True)
            rows += more
        return names[1:], rows


async def incremental_batches(
    dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec,
    checkpoint: Checkpoint | None, throttle: Throttle,
) -> AsyncIterator[Batch]:
    poller = IncrementalPoller(dialect, connection, spec)
    cp: Checkpoint = dict(checkpoint or {"phase": "incremental"})
    while True:
        changes, new_cp, columns = await poller.poll(cp)
        if changes or new_cp != cp:
            state: State = "snapshotting" if not cp.get("snapshot_done") else "streaming"
            yield Batch(changes, new_cp, columns, state=state)
            cp = new_cp
        if len(changes) < spec.batch_size:
            yield Batch([], cp, columns, state="streaming")
            await asyncio.sleep(spec.poll_interval)
        await throttle.pace(len(changes))
