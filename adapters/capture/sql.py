"""What the generic SQL strategies (snapshot, incremental, diff) need from an engine.

Each SQL engine (SQLite, PostgreSQL, MariaDB/MySQL) provides a :class:`SqlDialect`; the
strategies in :mod:`adapters.capture.strategies` build their queries from it and run them on a
DB-API 2.0 connection in a worker thread. Placeholders are positional (``dialect.param``).
"""

from __future__ import annotations

from typing import Any, Protocol

from adapters.capture.source import TableInfo


class DbApiCursor(Protocol):
    description: Any

    def execute(self, operation: str, parameters: Any = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ...) -> list[Any]: ...
    def close(self) -> None: ...


class DbApiConnection(Protocol):
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class SqlDialect(Protocol):
    """An engine's SQL flavour and how to reach one database of it (read-only)."""

    engine: str
    #: A label for ``source.database`` in change events (database name or file name).
    database: str
    #: The positional placeholder: ``?`` (sqlite3) or ``%s`` (psycopg2, PyMySQL).
    param: str

    def connect(self) -> DbApiConnection:
        """A new read-only connection; raises SourceUnavailable / SourceMisconfigured."""

    def quote(self, identifier: str) -> str:
        """The identifier quoted for this engine (``"X"`` or ```X```)."""

    def as_text(self, expression: str) -> str:
        """SQL casting ``expression`` to text, so keys compare as the checkpoint stores them."""

    def begin_consistent_read(self, cursor: DbApiCursor) -> None:
        """Start a transaction whose reads all see one snapshot (e.g. REPEATABLE READ)."""

    def describe(self, connection: DbApiConnection, table: str) -> TableInfo:
        """Columns (in table order) and primary-key columns of ``table``."""

    def tables(self, connection: DbApiConnection) -> list[str]:
        """Names of the base tables of the database."""
