"""A table read in key order, chunk by chunk, the next chunk's query running meanwhile.

``snapshot`` and a ``diff`` pass read chunks whose position is the last key of the chunk
before, known as soon as that chunk arrives: so the next query is sent to the legacy database
(in a worker thread) while the caller turns this chunk into a batch. Each chunk is still one
query, read in a transaction of its own; at most one query runs on the connection at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from adapters.capture import keys
from adapters.capture.source import Row, TableSpec
from adapters.capture.sql import DbApiConnection, KeyOrder, SqlDialect
from adapters.capture.strategies.common import images, query

Chunk = tuple[list[str], list[tuple[Any, ...]]]


def position_of(key: Row, key_columns: Sequence[str]) -> list[str]:
    """A row's key as the position a chunk ends at (and the next one starts after)."""
    return [key[column] or "" for column in key_columns]


def last_key(spec: TableSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """The position of the last of ``rows``: where the next chunk starts."""
    return position_of(images(spec, columns, rows[-1:]).keys[0], spec.key_columns)


async def key_chunks(dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec,
                     order: KeyOrder, after: list[str] | None) -> AsyncGenerator[Chunk, None]:
    """Column names and rows of each chunk of ``spec.batch_size`` rows after ``after``, up
    to the first shorter one (the table's end)."""
    size = spec.batch_size

    def read(position: list[str] | None) -> asyncio.Task[Chunk]:
        sql, params = keys.next_chunk_sql(dialect, spec.table, order, position, size)
        return asyncio.ensure_future(query(dialect, connection, sql, params, consistent=True))

    pending = read(after)
    try:
        while True:
            names, rows = await pending
            if len(rows) < size:
                yield names, rows
                return
            pending = read(last_key(spec, names, rows))
            yield names, rows
    finally:
        # The query runs in a thread whatever happens to its task: the connection is not
        # the caller's again (to close, or to read from) before it returns.
        if not pending.done():
            await asyncio.wait({pending})
        if not pending.cancelled():
            pending.exception()  # a read nobody asked for: its error does not matter
