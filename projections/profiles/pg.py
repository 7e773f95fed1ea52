"""The PostgreSQL side of the profile read store: one schema per projection in one database.

The store's SQL is written once (SQLite spelling, ``?`` placeholders); this module is the
dialect seam for PostgreSQL through psycopg2:

- placeholders become ``%s``; rows allow access by name and by index, like ``sqlite3.Row``;
- the DDL: ``INTEGER`` becomes ``BIGINT`` (offsets and Kafka times exceed 32 bits), the outbox
  id an identity column, and every ``TEXT`` column compares bytewise (``COLLATE "C"``) so that
  orderings — the checksum's, the paging cursor's — are SQLite's whatever the database locale;
- the layout version lives in a ``store_format`` table instead of ``PRAGMA user_version``;
- writers serialize on a **transaction-level advisory lock** per projection schema (where
  SQLite takes its write lock with ``BEGIN IMMEDIATE``). See :meth:`PostgresDatabase.begin`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras

__all__ = ["PostgresDatabase", "PostgresSchema", "postgres_ddl"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class PostgresSchema:
    """A projection's read store on PostgreSQL: the schema ``schema`` in the database ``url``."""

    url: str
    schema: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.schema):
            raise ValueError(f"{self.schema!r} is not a plain lower-case schema name")

    @property
    def name(self) -> str:
        return self.schema

    def exists(self) -> bool:
        """Whether a worker has created the store's tables."""
        connection = psycopg2.connect(self.url)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", (f'"{self.schema}".profile',))
                row = cursor.fetchone()
            return row is not None and row[0] is not None
        finally:
            connection.close()

    def __str__(self) -> str:  # never print the URL: it may hold a password
        return f"postgresql schema {self.schema}"


def postgres_ddl(ddl: str) -> str:
    """The store's SQLite DDL in PostgreSQL's spelling."""
    ddl = ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                      "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    ddl = re.sub(r"\bINTEGER\b", "BIGINT", ddl)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', ddl)


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"rongtong.profile_store:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresDatabase:
    """One connection to a projection's schema, in autocommit mode with explicit transactions."""

    #: What a reader gets before a worker has created the tables.
    not_ready: tuple[type[Exception], ...] = (psycopg2.errors.UndefinedTable,)

    def __init__(self, location: PostgresSchema, *, readonly: bool = False) -> None:
        self.location = location
        self._lock = _lock_key(location.schema)
        self._connection = psycopg2.connect(location.url)
        self._connection.set_session(autocommit=True, readonly=readonly)
        self.execute(f'SET search_path TO "{location.schema}"')

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor yields rows readable by name and by index."""
        cursor = self._connection.cursor(cursor_factory=psycopg2.extras.DictCursor)
        cursor.execute(sql.replace("?", "%s"), tuple(params) if params else None)
        return cursor

    def begin(self) -> None:
        """Start a writing transaction, holding the projection's write lock until it ends.

        ``pg_advisory_xact_lock`` makes writers of one projection take turns, exactly as SQLite's
        ``BEGIN IMMEDIATE`` does: the transaction then reads committed positions and
        contributions, so a subject touched by two workers never loses an update, and outbox ids
        are committed in id order (the publisher deletes ``id <= last sent``, which is only safe
        if no smaller id can commit later). Per-subject locks would let more writers run at
        once, but the subjects an event affects are only known after reading the record's old
        contributions; SERIALIZABLE would need a retry loop and abort on index-page conflicts.
        A transaction lasts milliseconds, so the single lock is not the bottleneck (decoding and
        Kafka are, and those run in parallel).
        """
        self.execute("BEGIN")
        self.execute("SELECT pg_advisory_xact_lock(?)", (self._lock,))

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if not self._connection.closed:
            self.execute("ROLLBACK")

    def prepare(self, ddl: str, layout: int) -> None:
        """Create the schema and tables of layout ``layout`` (under the write lock, so that
        workers starting together do not race); a schema of another layout is set aside as
        ``<schema>_format<N>`` and built again from the log."""
        schema = self.location.schema
        self.begin()
        try:
            self.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            found = self._layout()
            if found is not None and found != layout:
                aside = f"{schema}_format{found}"
                log.warning("schema %s has layout %s, not %s: set aside as %s; it is rebuilt from "
                            "the log", schema, found, layout, aside)
                self.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{aside}"')
                self.execute(f'CREATE SCHEMA "{schema}"')
            self.execute(postgres_ddl(ddl))
            self.execute("CREATE TABLE IF NOT EXISTS store_format (format INTEGER NOT NULL)")
            if self.execute("SELECT count(*) FROM store_format").fetchone()[0] == 0:
                self.execute("INSERT INTO store_format VALUES (?)", (layout,))
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def _layout(self) -> int | None:
        """The layout of the existing tables (0 before layouts were recorded), None if none."""
        schema = self.location.schema
        tables = self.execute("SELECT count(*) FROM pg_tables WHERE schemaname = ?",
                              (schema,)).fetchone()[0]
        if not tables:
            return None
        if self.execute("SELECT to_regclass(?)", (f'"{schema}".store_format',)).fetchone()[0] is None:
            return 0
        row = self.execute("SELECT format FROM store_format").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._connection.close()
