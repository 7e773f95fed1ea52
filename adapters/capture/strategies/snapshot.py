"""``snapshot``: read the whole table once, in key order, chunk by chunk, resumably.

The checkpoint records the last key of the last published chunk, so a crash resumes with the
next chunk instead of starting over; ``done``/``total`` give progress and an ETA. A snapshot
begun in another key order (text, before keys were paged natively) finishes in that order:
its last key marks what was read only there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from adapters.capture import keys
from adapters.capture.source import Batch, Change, Checkpoint, TableSpec
from adapters.capture.sql import DbApiConnection, KeyOrder, SqlDialect
from adapters.capture.strategies.chunks import key_chunks, position_of
from adapters.capture.strategies.common import Throttle, images, now_ms, query

log = logging.getLogger(__name__)


async def count_rows(dialect: SqlDialect, connection: DbApiConnection, table: str) -> int:
    _, rows = await query(dialect, connection, f"SELECT COUNT(*) FROM {dialect.quote(table)}", ())
    return int(rows[0][0])


async def snapshot_chunks(
    dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec, order: KeyOrder,
    checkpoint: Checkpoint | None, throttle: Throttle,
) -> AsyncGenerator[Batch, None]:
    """Batches of op ``r`` until the table is read; the last one has ``complete: true``."""
    state: dict[str, Any] = dict(checkpoint or {})
    if state.get("complete"):
        return
    if "total" not in state:
        state = {"phase": "snapshot", "after": None, "done": 0,
                 "total": await count_rows(dialect, connection, spec.table)}
    elif state["after"] is not None and keys.order_of(state) != order.name:
        if keys.order_of(state) == "text":
            order = keys.text_order(dialect, spec.key_columns)
        else:  # the key lost its native order (table changed): read it all again
            log.warning("snapshot of %s restarts: its key can no longer be compared natively",
                        spec.table)
            state = {**state, "after": None, "done": 0}
    state[keys.ORDER_FIELD] = order.name
    chunks = key_chunks(dialect, connection, spec, order, state["after"])
    try:
        async for columns, rows in chunks:
            read = images(spec, columns, rows)
            read_ms, done = now_ms(), state["done"]
            changes = [Change("r", key, None, row, f"snapshot:{number}", read_ms, True, bad)
                       for number, row, key, bad
                       in zip(range(done + 1, done + len(rows) + 1), read.rows, read.keys,
                              read.undecodable, strict=True)]
            complete = len(rows) < spec.batch_size
            last = position_of(read.keys[-1], spec.key_columns) if rows else state["after"]
            state = {**state, "after": last, "done": state["done"] + len(rows),
                     "complete": complete}
            state["total"] = max(state["total"], state["done"])
            yield Batch(changes, dict(state), tuple(columns), state="snapshotting")
            if complete:
                return
            await throttle.pace(len(rows))
            await asyncio.sleep(0)
    finally:
        await chunks.aclose()
