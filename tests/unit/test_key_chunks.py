"""``snapshot`` and ``diff`` read a table's chunks in key order with the next chunk's query
already running; closing a read waits for that query before the connection is closed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import TableSpec
from adapters.capture.sql import DbApiConnection
from adapters.capture.sql_source import SqlTableSource
from adapters.capture.strategies.chunks import key_chunks


def legacy(path: Path, rows: int) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(k, f"v{k}") for k in range(1, rows + 1)])
    db.commit()
    db.close()


class Watched:
    """A connection whose queries take a while, noting what ran and when it was closed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.queries, self.running = inner, 0, 0
        self.closed_while_running = False
        self._lock = threading.Lock()

    def cursor(self) -> Any:
        watched = self
        cursor = self.inner.cursor()

        class Cursor:
            description: Any = None

            def execute(self, sql: str, params: Any = ()) -> Cursor:
                with watched._lock:
                    watched.running += 1
                try:
                    if sql.startswith("SELECT * FROM"):
                        watched.queries += 1
                        time.sleep(0.05)
                    cursor.execute(sql, params)
                    Cursor.description = cursor.description
                    return self
                finally:
                    with watched._lock:
                        watched.running -= 1

            def fetchall(self) -> list[Any]:
                return list(cursor.fetchall())

            def close(self) -> None:
                cursor.close()

        return Cursor()

    def commit(self) -> None:
        self.inner.commit()

    def rollback(self) -> None:
        self.inner.rollback()

    def close(self) -> None:
        with self._lock:
            self.closed_while_running |= self.running > 0
        self.inner.close()


class WatchedDialect(SqliteDialect):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.connections: list[Watched] = []

    def connect(self) -> DbApiConnection:
        connection = Watched(super().connect())
        self.connections.append(connection)
        return connection


def spec(strategy: str, batch_size: int) -> TableSpec:
    return TableSpec("d", "t", ("id",), strategy, batch_size=batch_size, poll_interval=0.01)


@pytest.mark.parametrize("rows", [7, 9, 0])
async def test_every_row_once_in_key_order_up_to_the_first_short_chunk(
        tmp_path: Path, rows: int) -> None:
    legacy(tmp_path / "legacy.db", rows)
    dialect = SqliteDialect(tmp_path / "legacy.db")
    connection = dialect.connect()
    order = dialect.key_order(connection, "t", ("id",))
    sizes, ids = [], []
    async for _, chunk in key_chunks(dialect, connection, spec("snapshot", 3), order, None):
        sizes.append(len(chunk))
        ids += [row[0] for row in chunk]
    connection.close()
    assert ids == list(range(1, rows + 1))
    assert sizes[-1] < 3 and all(size == 3 for size in sizes[:-1])  # 9 rows: 3, 3, 3, 0


async def test_the_next_chunk_is_queried_while_the_caller_works_on_this_one(
        tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.db", 9)
    dialect = WatchedDialect(tmp_path / "legacy.db")
    connection = dialect.connect()
    order = dialect.key_order(connection, "t", ("id",))
    chunks = key_chunks(dialect, connection, spec("snapshot", 3), order, None)
    await anext(chunks)
    for _ in range(50):
        if dialect.connections[0].queries == 2:
            break
        await asyncio.sleep(0.01)
    assert dialect.connections[0].queries == 2  # chunk 2 asked for before anyone wanted it
    await chunks.aclose()
    assert dialect.connections[0].running == 0  # closing waited for it
    connection.close()


@pytest.mark.parametrize("strategy", ["snapshot", "diff"])
async def test_closing_a_read_waits_for_the_query_running_ahead_before_closing_the_connection(
        tmp_path: Path, strategy: str) -> None:
    legacy(tmp_path / "legacy.db", 20)
    dialect = WatchedDialect(tmp_path / "legacy.db")
    source = SqlTableSource(dialect, spec(strategy, 3), state_dir=tmp_path)
    batches = source.read(None)
    first = await anext(batches)
    assert len(first.changes) == 3
    await batches.aclose()  # the second chunk's query is running now
    await source.close()
    (connection,) = dialect.connections
    assert connection.queries == 2
    assert not connection.closed_while_running
