"""A legacy SQL table captured with the snapshot, incremental or diff strategy.

Any engine with a :class:`SqlDialect` gets all three strategies; log-based capture is
engine-specific and lives with the engine (``adapters/capture/engines``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from adapters.capture.source import (
    Batch,
    Checkpoint,
    SourceMisconfigured,
    TableInfo,
    TableSpec,
)
from adapters.capture.sql import DbApiConnection, SqlDialect
from adapters.capture.strategies.common import Throttle, call
from adapters.capture.strategies.diff import diff_batches
from adapters.capture.strategies.diff_state import DiffState
from adapters.capture.strategies.incremental import incremental_batches
from adapters.capture.strategies.snapshot import snapshot_chunks


class SqlTableSource:
    """One table of one SQL database, read without ever writing to it."""

    def __init__(self, dialect: SqlDialect, spec: TableSpec, *, state_dir: Path) -> None:
        if spec.strategy not in ("snapshot", "incremental", "diff"):
            raise SourceMisconfigured(
                f"strategy {spec.strategy!r} is not available for {dialect.engine} "
                f"table {spec.table}; use snapshot, incremental or diff")
        self.dialect = dialect
        self.engine = dialect.engine
        self.database = dialect.database
        self.spec = spec
        self.state_dir = state_dir
        self._diff_state: DiffState | None = None
        self._throttle = Throttle(spec.max_rows_per_second)
        #: The next snapshot chunk or incremental poll depends only on what the strategy read
        #: before, never on the acknowledgement of the previous batch, so the runner may read
        #: ahead (``BUS_CAPTURE_PIPELINE``). So may a ``diff`` scan; its deletes and next pass
        #: wait until the hashes it applies on acknowledgement are in (``_applied``).
        self.reads_ahead = True
        self._applied_seq = 0
        self._applied_changed: asyncio.Condition | None = None

    async def _connect(self) -> DbApiConnection:
        return await call(self.dialect, self.dialect.connect)

    async def check(self) -> None:
        connection = await self._connect()
        try:
            info = await call(self.dialect, self.dialect.describe, connection, self.spec.table)
        finally:
            await asyncio.to_thread(connection.close)
        missing = [c for c in self.spec.key_columns if c not in info.columns]
        if missing or not self.spec.key_columns:
            raise SourceMisconfigured(
                f"{self.spec.department}.{self.spec.table}: key columns {missing or '(none)'} "
                f"not in the table (columns: {', '.join(info.columns)}); set 'key' in the adapter "
                "configuration")
        if self.spec.strategy == "incremental" and self.spec.updated_column not in info.columns:
            raise SourceMisconfigured(
                f"{self.spec.department}.{self.spec.table}: the incremental strategy needs "
                f"'updated_column' naming a column of the table, not {self.spec.updated_column!r}")

    async def discover(self) -> list[TableInfo]:
        connection = await self._connect()
        try:
            names = await call(self.dialect, self.dialect.tables, connection)
            return [await call(self.dialect, self.dialect.describe, connection, n) for n in names]
        finally:
            await asyncio.to_thread(connection.close)

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        connection = await self._connect()
        try:
            # Closed here, before the connection: a strategy may have a query running ahead.
            async with aclosing(self._batches(connection, checkpoint)) as batches:
                async for batch in batches:
                    yield batch
        finally:
            await asyncio.to_thread(connection.close)

    async def _batches(self, connection: DbApiConnection,
                       checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        order = await call(self.dialect, self.dialect.key_order, connection, self.spec.table,
                           self.spec.key_columns)
        if self.spec.strategy == "snapshot":
            async with aclosing(snapshot_chunks(self.dialect, connection, self.spec, order,
                                                checkpoint, self._throttle)) as chunks:
                async for batch in chunks:
                    checkpoint = batch.checkpoint
                    yield batch
            while True:  # a one-off copy: stay alive, report the final checkpoint
                yield Batch([], dict(checkpoint or {}), (), state="streaming")
                await asyncio.sleep(self.spec.poll_interval)
        elif self.spec.strategy == "incremental":
            async with aclosing(incremental_batches(self.dialect, connection, self.spec, order,
                                                    checkpoint, self._throttle)) as polls:
                async for batch in polls:
                    yield batch
        else:
            self._applied_seq = int((checkpoint or {}).get("seq", 0))
            self._applied_changed = None  # this read's event loop makes its own
            async with aclosing(diff_batches(self.dialect, connection, self.spec, order,
                                             checkpoint, self._state(), self._throttle,
                                             self._applied)) as passes:
                async for batch in passes:
                    yield batch

    def _state(self) -> DiffState:
        if self._diff_state is None:
            self._diff_state = DiffState(
                self.state_dir / "capture" / f"{self.spec.owner}.diff.sqlite")
        return self._diff_state

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        if self.spec.strategy == "diff":
            await asyncio.to_thread(self._state().apply, checkpoint)
            async with self._applied_condition():
                self._applied_seq = int(checkpoint.get("seq", 0))
                self._applied_condition().notify_all()

    async def _applied(self, checkpoint: Checkpoint) -> None:
        """Return once the ``diff`` batch of ``checkpoint`` is applied to the local state."""
        condition = self._applied_condition()
        async with condition:
            await condition.wait_for(lambda: self._applied_seq >= int(checkpoint.get("seq", 0)))

    def _applied_condition(self) -> asyncio.Condition:
        if self._applied_changed is None:  # made on the event loop that uses it
            self._applied_changed = asyncio.Condition()
        return self._applied_changed

    async def close(self) -> None:
        if self._diff_state is not None:
            self._diff_state.close()
            self._diff_state = None
