"""What the generic SQL strategies (snapshot, incremental, diff) need from an engine.

Each SQL engine (SQLite, PostgreSQL, MariaDB/MySQL) provides a :class:`SqlDialect`; the
strategies in :mod:`adapters.capture.strategies` build their queries from it and run them on a
DB-API 2.0 connection in a worker thread. Placeholders are positional (``dialect.param``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from adapters.capture.source import TableInfo

#: How a checkpoint's key position compares: ``native`` in the key columns' own order (their
#: type and collation, which the primary-key index serves), ``text`` as text. Checkpoints
#: written before ``native`` existed carry no order and were compared as text.
OrderName = Literal["native", "text"]


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


@dataclass(frozen=True)
class KeyOrder:
    """How keyset paging compares and orders a table's key (built by the engine's dialect).

    ``terms`` are the SQL expressions ordered by, one per key column; ``params`` the
    placeholders a key value (as text) is compared through, typed like its column so the
    database reads it as a value of that column and the index serves the comparison.
    """

    name: OrderName
    terms: tuple[str, ...]
    params: tuple[str, ...]
    #: ``(a, b) > (x, y)`` is lexicographic and index-served on this engine.
    row_values: bool = False


class SqlDialect(Protocol):
    """An engine's SQL flavour and how to reach one database of it (read-only)."""

    engine: str
    #: A label for ``source.database`` in change events (database name or file name).
    database: str
    #: The positional placeholder: ``?`` (sqlite3) or ``%s`` (psycopg2, PyMySQL).
    param: str
    #: Whether :meth:`connect`'s connections autocommit, each statement reading one
    #: consistent snapshot of its own: a single read then needs no transaction opened and
    #: ended around it (two or three round trips saved per read).
    autocommit_reads: bool

    def connect(self) -> DbApiConnection:
        """A new read-only connection; raises SourceUnavailable / SourceMisconfigured."""

    def quote(self, identifier: str) -> str:
        """The identifier quoted for this engine (``"X"`` or ```X```)."""

    def as_text(self, expression: str) -> str:
        """SQL casting ``expression`` to text, comparing in Python's code-point order."""

    def key_order(self, connection: DbApiConnection, table: str, columns: Sequence[str]) -> KeyOrder:
        """How to page ``table`` by ``columns``: natively where a key value's text reads back
        as the same value of its column, else as text (:func:`adapters.capture.keys.text_order`)."""

    def begin_consistent_read(self, cursor: DbApiCursor) -> None:
        """Start a transaction whose reads all see one snapshot (e.g. REPEATABLE READ)."""

    def describe(self, connection: DbApiConnection, table: str) -> TableInfo:
        """Columns (in table order) and primary-key columns of ``table``."""

    def tables(self, connection: DbApiConnection) -> list[str]:
        """Names of the base tables of the database."""
