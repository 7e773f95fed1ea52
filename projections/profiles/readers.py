"""Read-only connections to a projection's live store, reused across queries.

Opening a SQLite connection costs more than a profile lookup (milliseconds against tens of
microseconds), so the query side keeps a few open. A connection is handed out only while it
still reads the live store: after a rebuild switched readers, or after the worker set an old
layout aside (the file at the path is then a new one), the old connections are closed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from projections.profiles.location import LiveLocation, StoreLocation
from projections.profiles.pg import PostgresDatabase, PostgresSchema
from projections.profiles.store import Database, SqliteDatabase

__all__ = ["Readers"]

_Identity = tuple[StoreLocation, int | None]


def _identity(location: StoreLocation) -> _Identity | None:
    """What a connection was opened on: the location and, for a file, its inode (None: no file)."""
    if isinstance(location, PostgresSchema):
        return location, None
    try:
        return location, os.stat(location).st_ino
    except FileNotFoundError:
        return None


class Readers:
    """Up to ``keep`` idle read-only connections to the live store of ``default``; thread-safe."""

    def __init__(self, default: StoreLocation, keep: int = 8) -> None:
        self.default = default
        #: Whether a query waits on the network (PostgreSQL) rather than a local file: callers
        #: on an event loop run the former in a thread, the latter inline (a primary-key lookup
        #: in SQLite takes less than handing work to a thread and back).
        self.blocking = isinstance(default, PostgresSchema)
        self.keep = keep
        self._live = LiveLocation(default)
        self._lock = threading.Lock()
        self._idle: list[tuple[_Identity, Database]] = []

    @contextmanager
    def connection(self) -> Iterator[Database | None]:
        """A connection to the live store (None when there is no store yet)."""
        with self._lock:
            location = self._live.current()
        identity = _identity(location)
        if identity is None:
            yield None
            return
        db = self._checkout(identity)
        try:
            yield db
        except BaseException:
            db.close()  # it may be in any state now
            raise
        self._checkin(identity, db)

    def _checkout(self, identity: _Identity) -> Database:
        stale: list[Database] = []
        found: Database | None = None
        with self._lock:
            while self._idle:
                held, db = self._idle.pop()
                if held == identity:
                    found = db
                    break
                stale.append(db)
        for db in stale:
            db.close()
        if found is not None:
            return found
        location = identity[0]
        if isinstance(location, PostgresSchema):
            return PostgresDatabase(location, readonly=True)
        return SqliteDatabase(Path(location), readonly=True)

    def _checkin(self, identity: _Identity, db: Database) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append((identity, db))
                return
        db.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, db in idle:
            db.close()
