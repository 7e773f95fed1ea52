"""SQLite as a legacy engine: a read-only connection to the department's database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.capture.keys import text_order
from adapters.capture.source import SourceMisconfigured, SourceUnavailable, TableInfo
from adapters.capture.sql import DbApiConnection, DbApiCursor, KeyOrder


class SqliteDialect:
    engine = "sqlite"
    param = "?"
    autocommit_reads = False  # BEGIN and ROLLBACK are calls into the library, not round trips
    #: SQLite rows carry an increasing rowid: rows past the highest seen are inserts.
    rowid = "rowid"

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.database = path.name
        #: How long a read waits while the legacy application holds a write lock.
        self.busy_timeout = busy_timeout

    def connect(self) -> DbApiConnection:
        if not self.path.exists():
            raise SourceUnavailable(f"SQLite database {self.path} does not exist")
        try:
            # Read-only: the legacy database is a guest's house.
            connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.busy_timeout,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"SQLite database {self.path} cannot be opened: {exc}") from exc
        return connection

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"

    def key_order(self, connection: DbApiConnection, table: str, columns: Sequence[str]) -> KeyOrder:
        # Only an INTEGER PRIMARY KEY (the rowid) holds nothing but integers, which compare
        # with a text parameter numerically (INTEGER affinity). Other columns may hold any
        # storage class, and integers, text and blobs compare by class before value, which a
        # key's text cannot reproduce: they stay in text order.
        if len(columns) == 1 and self._is_rowid(connection, table, columns[0]):
            return KeyOrder("native", (self.quote(columns[0]),), ("CAST(? AS INTEGER)",))
        return text_order(self, columns)

    def _is_rowid(self, connection: DbApiConnection, table: str, column: str) -> bool:
        cursor: Any = connection.cursor()
        try:
            info = cursor.execute(f"PRAGMA table_info({self.quote(table)})").fetchall()
            indexes = cursor.execute(f"PRAGMA index_list({self.quote(table)})").fetchall()
        finally:
            cursor.close()
        key = [r for r in info if r[5]]
        # A WITHOUT ROWID table or a non-alias primary key has an index of origin 'pk'.
        return (len(key) == 1 and key[0][1].lower() == column.lower()
                and str(key[0][2]).upper() == "INTEGER" and not any(i[3] == "pk" for i in indexes))

    def begin_consistent_read(self, cursor: DbApiCursor) -> None:
        cursor.execute("BEGIN")  # a read transaction sees one snapshot in WAL and rollback modes

    def describe(self, connection: DbApiConnection, table: str) -> TableInfo:
        cursor: Any = connection.cursor()
        try:
            rows = cursor.execute(f"PRAGMA table_info({self.quote(table)})").fetchall()
        finally:
            cursor.close()
        if not rows:
            raise SourceMisconfigured(f"table {table!r} does not exist in {self.path}")
        columns = tuple(str(r[1]) for r in rows)
        keys = tuple(str(r[1]) for r in sorted((r for r in rows if r[5]), key=lambda r: r[5]))
        return TableInfo(table, columns, keys)

    def tables(self, connection: DbApiConnection) -> list[str]:
        cursor: Any = connection.cursor()
        try:
            rows = cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        finally:
            cursor.close()
        return [str(r[0]) for r in rows]
