"""Pieces the SQL strategies share: running queries in a thread, pacing, reading rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from adapters.capture.rows import as_text, text_rows
from adapters.capture.source import (
    Row,
    SourceError,
    SourceUnavailable,
    TableSpec,
)
from adapters.capture.sql import DbApiConnection, SqlDialect
from bus.speedups import speedups

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
    """Column names and rows of one query (in a worker thread); ``consistent``: read from one
    snapshot, in a transaction of its own unless the statement alone is one
    (``autocommit_reads``)."""
    in_transaction = consistent and not dialect.autocommit_reads
    cursor = connection.cursor()
    try:
        if in_transaction:
            dialect.begin_consistent_read(cursor)
        cursor.execute(sql, tuple(params))
        names = [str(d[0]) for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
        if in_transaction:
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


@dataclass(frozen=True)
class Images:
    """A fetched batch as text: per row its image, key, key text and undecodable columns.

    Computed once per row for the whole batch (:func:`images`), so a strategy building its
    changes, positions and checkpoint reads them instead of converting or joining again.
    """

    rows: list[Row]
    keys: list[Row]
    #: :func:`adapters.capture.source.key_text` of each key.
    key_texts: list[str]
    undecodable: list[tuple[str, ...]]


def images(spec: TableSpec, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
           skip: int = 0) -> Images:
    """The rows of one query as :class:`Images` (``skip`` leading values are not columns)."""
    # What key_of keeps of repeated key columns.
    return row_images(columns, rows, tuple(dict.fromkeys(spec.key_columns)), skip=skip)


def row_images(columns: Sequence[str], rows: Sequence[Sequence[Any]],
               key_columns: tuple[str, ...], *, skip: int = 0,
               text: Callable[[object], tuple[str | None, bool]] = as_text) -> Images:
    """:func:`images` with the key columns given (distinct), each value that is not text, an
    integer or None turned into text by ``text`` (an engine's own may replace ``as_text``)."""
    accelerated = speedups()
    if accelerated is not None and rows:  # the same, from one C call (bus/_speedups.c)
        return Images(*accelerated.text_images(tuple(columns), list(rows), skip, key_columns,
                                               text))
    texts, undecodable = text_rows(columns, rows, skip=skip, text=text)
    if len(key_columns) == 1:
        (column,) = key_columns
        keys: list[Row] = [{column: row.get(column)} for row in texts]
        key_texts = [row.get(column) or "" for row in texts]
    else:
        keys = [{column: row.get(column) for column in key_columns} for row in texts]
        key_texts = ["|".join([value or "" for value in key.values()]) for key in keys]
    return Images(texts, keys, key_texts, undecodable)


class Fetched(NamedTuple):
    """Rows a poll read: column names, rows re-read in the look-back window, new rows."""

    columns: tuple[str, ...]
    rechecked: list[tuple[Any, ...]]
    rows: list[tuple[Any, ...]]


def now_ms() -> int:
    return int(time.time() * 1000)
