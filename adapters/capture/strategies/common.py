"""Pieces the SQL strategies share: running queries in a thread, pacing, building changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from adapters.capture.rows import text_row
from adapters.capture.source import (
    Change,
    Op,
    Row,
    SourceError,
    SourceUnavailable,
    TableSpec,
    key_of,
)
from adapters.capture.sql import DbApiConnection, SqlDialect

T = TypeVar("T")


class Throttle:
    """Keeps the rows read per second under a bound, to spare the legacy database."""

    def __init__(self, max_rows_per_second: float | None) -> None:
        self.max_rows_per_second = max_rows_per_second
        self._started = time.monotonic()
        self._rows = 0

    async def pace(self, rows: int) -> None:
        if not self.max_rows_per_second or rows <= 0:
            return
        self._rows += rows
        due = self._started + self._rows / self.max_rows_per_second
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:  # idle for a while: do not allow a burst to "catch up"
            self._started, self._rows = time.monotonic(), 0


def fetch(
    dialect: SqlDialect, connection: DbApiConnection, sql: str, params: Sequence[object],
    *, consistent: bool = False,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one query (in a worker thread)."""
    cursor = connection.cursor()
    try:
        if consistent:
            dialect.begin_consistent_read(cursor)
        cursor.execute(sql, tuple(params))
        names = [str(d[0]) for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
        if consistent:
            connection.rollback()
        return names, rows
    finally:
        cursor.close()


async def query(
    dialect: SqlDialect, connection: DbApiConnection, sql: str, params: Sequence[object],
    *, consistent: bool = False,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    try:
        return await asyncio.to_thread(fetch, dialect, connection, sql, params,
                                       consistent=consistent)
    except (SourceError, asyncio.CancelledError):
        raise
    except Exception as exc:  # every DB-API error of every driver
        if _is_connection_error(exc):
            raise SourceUnavailable(f"{dialect.engine} {dialect.database}: {exc}") from exc
        raise


async def call(dialect: SqlDialect, function: Callable[..., T], *args: Any) -> T:
    """Run a blocking driver call in a thread; connection trouble becomes SourceUnavailable."""
    try:
        return await asyncio.to_thread(function, *args)
    except (SourceError, asyncio.CancelledError):
        raise
    except Exception as exc:
        if _is_connection_error(exc):
            raise SourceUnavailable(f"{dialect.engine} {dialect.database}: {exc}") from exc
        raise


def _is_connection_error(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in {"OperationalError", "InterfaceError", "DatabaseError"}


def change(
    spec: TableSpec, op: Op, columns: Sequence[str], values: Sequence[object], *,
    position: str, commit_ts_ms: int, snapshot: bool = False, before: Row | None = None,
) -> Change:
    row, undecodable = text_row(columns, values)
    return Change(op=op, key=key_of(row, spec.key_columns), before=before,
                  after=None if op == "d" else row, position=position,
                  commit_ts_ms=commit_ts_ms, snapshot=snapshot, undecodable=undecodable)


def now_ms() -> int:
    return int(time.time() * 1000)
