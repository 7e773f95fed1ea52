"""SQLite as a legacy engine: a read-only connection to the department's database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from adapters.capture.source import SourceMisconfigured, SourceUnavailable, TableInfo
from adapters.capture.sql import DbApiConnection, DbApiCursor


class SqliteDialect:
    engine = "sqlite"
    param = "?"
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
