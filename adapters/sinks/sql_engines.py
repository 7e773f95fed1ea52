"""What the SQL target needs from each legacy engine: connecting, quoting, upserting, locking.

Connections are opened the way the capture opens them (:mod:`adapters.capture.engines`), minus
read-only, so a row read back after a write renders as the same text the capture will see —
the fingerprint the ledger keeps is then the capture's fingerprint of that row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from adapters.capture.rows import as_text
from adapters.capture.source import SourceError
from adapters.sinks.model import TargetUnavailable

__all__ = ["SqlEngine", "sql_engine"]


class SqlEngine(Protocol):
    engine: str
    param: str
    #: Appended to the SELECT of the rows a batch will write (row locks), or empty.
    lock: str
    #: Errors meaning "the database does not answer now" (retried), not "this row is refused".
    unavailable: tuple[type[BaseException], ...]

    def connect(self) -> Any: ...

    def begin(self, connection: Any) -> None: ...

    def quote(self, identifier: str) -> str: ...

    def upsert(self, table: str, columns: Sequence[str], key_columns: Sequence[str]) -> str: ...

    def columns(self, connection: Any, table: str) -> tuple[str, ...]: ...

    def executemany(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """``statement`` for every row, in order, in as few round trips as the driver allows."""


def _double_quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class SqliteEngine:
    engine = "sqlite"
    param = "?"
    lock = ""
    unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout

    def connect(self) -> Any:
        if not self.path.exists():
            raise TargetUnavailable(f"SQLite database {self.path} does not exist")
        try:
            return sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise TargetUnavailable(f"SQLite database {self.path}: {exc}") from exc

    def begin(self, connection: Any) -> None:
        connection.execute("BEGIN IMMEDIATE")  # the write lock first: no clerk writes in between

    def quote(self, identifier: str) -> str:
        return _double_quote(identifier)

    def upsert(self, table: str, columns: Sequence[str], key_columns: Sequence[str]) -> str:
        return _on_conflict(self, table, columns, key_columns)

    def columns(self, connection: Any, table: str) -> tuple[str, ...]:
        rows = connection.execute(f"PRAGMA table_info({self.quote(table)})").fetchall()
        return tuple(str(r[1]) for r in rows)

    def executemany(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor.executemany(statement, rows)


def _on_conflict(engine: SqlEngine, table: str, columns: Sequence[str],
                 key_columns: Sequence[str]) -> str:
    q = engine.quote
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in columns if c not in key_columns)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES "
            f"({', '.join([engine.param] * len(columns))}) "
            f"ON CONFLICT ({', '.join(q(k) for k in key_columns)}) {action}")


class PostgresEngine:
    engine = "postgres"
    param = "%s"
    lock = " FOR UPDATE"

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.dsn = dsn
        self.unavailable: tuple[type[BaseException], ...] = (
            psycopg2.OperationalError, psycopg2.InterfaceError)

    def connect(self) -> Any:
        from adapters.capture.engines.postgres_connect import connect

        try:
            return connect(self.dsn, read_only=False)
        except SourceError as exc:
            raise TargetUnavailable(str(exc)) from exc

    def begin(self, connection: Any) -> None:
        """psycopg2 opens a transaction with the first statement."""

    def executemany(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        # psycopg2's executemany makes a round trip per row; execute_batch joins pages of them.
        from psycopg2.extras import execute_batch

        execute_batch(cursor, statement, rows, page_size=250)

    def quote(self, identifier: str) -> str:
        return _double_quote(identifier)

    def upsert(self, table: str, columns: Sequence[str], key_columns: Sequence[str]) -> str:
        return _on_conflict(self, table, columns, key_columns)

    def columns(self, connection: Any, table: str) -> tuple[str, ...]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                           "AND table_schema = current_schema() ORDER BY ordinal_position", (table,))
            names = tuple(as_text(r[0])[0] or "" for r in cursor.fetchall())  # SQL_ASCII: bytes
        connection.rollback()
        return names


class MariaDbEngine:
    engine = "mariadb"
    param = "%s"
    lock = " FOR UPDATE"

    def __init__(self, connection: Mapping[str, Any]) -> None:
        import pymysql

        from adapters.capture.engines.mariadb_sql import MariaDbSettings

        self.settings = MariaDbSettings(
            host=str(connection.get("host", "127.0.0.1")), port=int(connection.get("port", 3306)),
            user=str(connection["user"]), password=str(connection.get("password", "")),
            database=str(connection["database"]))
        self.unavailable: tuple[type[BaseException], ...] = (
            pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)

    def connect(self) -> Any:
        from adapters.capture.engines.mariadb_sql import connect

        try:
            return connect(self.settings)
        except SourceError as exc:
            raise TargetUnavailable(str(exc)) from exc

    def begin(self, connection: Any) -> None:
        connection.begin()

    def executemany(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor.executemany(statement, rows)  # PyMySQL sends one multi-row INSERT

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def upsert(self, table: str, columns: Sequence[str], key_columns: Sequence[str]) -> str:
        q = self.quote
        updates = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in columns if c not in key_columns)
        return (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES "
                f"({', '.join(['%s'] * len(columns))})"
                + (f" ON DUPLICATE KEY UPDATE {updates}" if updates else ""))

    def columns(self, connection: Any, table: str) -> tuple[str, ...]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE "
                           "table_schema = DATABASE() AND table_name = %s "
                           "ORDER BY ordinal_position", (table,))
            names = tuple(str(r[0]) for r in cursor.fetchall())
        connection.rollback()
        return names


def sql_engine(engine: str, connection: Mapping[str, Any]) -> SqlEngine:
    if engine == "sqlite":
        return SqliteEngine(Path(str(connection["path"])).resolve(),
                            busy_timeout=float(connection.get("busy_timeout", 5.0)))
    if engine == "postgres":
        return PostgresEngine(str(connection["dsn"]))
    if engine == "mariadb":
        return MariaDbEngine(connection)
    raise ValueError(f"no SQL engine {engine!r}")
