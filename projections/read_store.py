"""What the projections' read stores share: the SQLite connection, the dialect seam, the input
positions and the outbox lease.

A store holds one :class:`Database` — a SQLite file (:class:`SqliteConnection`) or a PostgreSQL
schema (:mod:`projections.profiles.pg`) — and keeps its input positions in the table
``projection_position`` and its publisher's lease in ``outbox_lease`` (same layout in every
store), so :class:`ReadStore` reads and writes them once for all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Database", "ReadStore", "SqliteConnection", "connect"]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` (a writer's in WAL mode, the file created)."""
    if readonly:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10,
                                     check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    connection.row_factory = sqlite3.Row
    return connection


class Database(Protocol):
    """The dialect seam: one connection, SQL with ``?`` placeholders, rows by name and index."""

    not_ready: tuple[type[Exception], ...]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def begin(self) -> None:
        """Start a transaction that writes, waiting for other writers of the store."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class SqliteConnection:
    """A :class:`Database` on one SQLite connection; ``BEGIN IMMEDIATE`` takes the file's write
    lock at once."""

    not_ready: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.connection.execute(sql, tuple(params))

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()


class ReadStore:
    """A projection's writer on one :class:`Database`: transactions, input positions, the
    outbox lease."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _writing(self) -> Iterator[Database]:
        """One transaction, holding the store's write lock (committed unless it raises)."""
        self._db.begin()
        try:
            yield self._db
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    # -- positions ------------------------------------------------------------------------

    def next_offset(self, topic: str, partition: int) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM projection_position WHERE topic = ? AND partition = ?",
            (topic, partition)).fetchone()
        return int(row["next_offset"]) if row else 0

    def positions(self) -> dict[str, int]:
        return {f"{r['topic']}:{r['partition']}": int(r["next_offset"]) for r in self._db.execute(
            "SELECT topic, partition, next_offset FROM projection_position ORDER BY 1, 2")}

    def position_map(self) -> dict[tuple[str, int], int]:
        return {(str(r["topic"]), int(r["partition"])): int(r["next_offset"])
                for r in self._db.execute("SELECT topic, partition, next_offset FROM projection_position")}

    # -- outbox ---------------------------------------------------------------------------

    def lease(self, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Whether ``holder`` may publish the outbox now (one publisher at a time, so the
        versions of a subject leave in order even with several workers on one store)."""
        with self._writing() as db:
            row = db.execute("SELECT holder, expires_ms FROM outbox_lease WHERE name = 'outbox'"
                             ).fetchone()
            mine = row is None or row["holder"] == holder or int(row["expires_ms"]) < now_ms
            if mine:
                db.execute("INSERT INTO outbox_lease VALUES ('outbox', ?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms",
                           (holder, now_ms + ttl_ms))
            return mine

    def published(self, up_to_id: int) -> None:
        """Forget the outbox messages up to ``up_to_id`` (sent)."""
        self._db.execute("DELETE FROM outbox WHERE id <= ?", (up_to_id,))
