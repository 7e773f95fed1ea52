"""The hashes a ``diff`` capture compares against, kept in a local SQLite file.

The file is derived state that never leads Kafka. A scan batch's hashes are first staged
(:meth:`DiffState.stage`, before the batch is handed to the runner) under the batch's sequence
number, which its checkpoint carries, and are on disk before Kafka commits the batch
(:meth:`DiffState.sync`, the batch's ``durable``); they become the compared hashes only when Kafka
has confirmed the batch (:meth:`DiffState.apply`, up to a checkpoint's sequence). So a crash
between Kafka's commit and the apply is mended on restart by applying what is staged up to the
stored checkpoint, and batches staged but never committed are dropped (:meth:`discard_after`)
and read again. The checkpoint itself stays a few bytes however many batches one transaction
commits.

Checkpoints stored before staging existed carry their batch's hashes (``"batch"``); applying
one still records them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from adapters.capture.source import Checkpoint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS row_hash (key TEXT PRIMARY KEY, hash TEXT NOT NULL, pass INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied (id INTEGER PRIMARY KEY CHECK (id = 1), mark TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged (
    seq INTEGER NOT NULL, key TEXT NOT NULL, hash TEXT, pass INTEGER NOT NULL,
    PRIMARY KEY (seq, key)
) WITHOUT ROWID;
"""
#: Keys per ``IN (...)`` lookup (SQLite allows 32,766 parameters; smaller is as fast).
_LOOKUP_CHUNK = 500
#: Rows per staging ``INSERT``: one statement of many rows binds its values in C, where
#: ``executemany`` steps once per row (0.41 against 0.65 ms a 500-row batch).
_STAGE_CHUNK = 250


def mark_of(checkpoint: Checkpoint) -> str:
    """Identifies a checkpoint (without the hashes an earlier version stored in it)."""
    return json.dumps([checkpoint.get("pass"), checkpoint.get("stage"), checkpoint.get("after"),
                       checkpoint.get("seq")])


class DiffState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        (mode,) = self._db.execute("PRAGMA journal_mode=WAL").fetchone()
        #: The write-ahead log :meth:`sync` flushes; None where the file system refused WAL and
        #: every commit is synced itself (synchronous=FULL, SQLite's default).
        self._wal: Path | None = None
        self._directory_synced = False
        if str(mode).lower() == "wal":
            # Commits are written to the log but not synced, which no process crash can lose;
            # sync() then flushes every one of them with a single fsync per Kafka transaction
            # instead of one per batch (0.5 ms each, on the event loop).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._wal = path.with_name(f"{path.name}-wal")
        self._db.executescript(_SCHEMA)
        #: Batches are staged (reading ahead, on the event loop) while acknowledged ones are
        #: applied (in a worker thread): one statement or transaction at a time.
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def sync(self) -> None:
        """Put every batch staged so far on disk, so a restart after a power loss still finds
        each batch a checkpoint stored in Kafka covers (called before Kafka commits them).

        The log holds every commit since the last checkpoint of the file and SQLite replays it
        on opening, so one fsync of it makes them all durable; what a checkpoint of the file
        moved out of the log SQLite synced itself.
        """
        if self._wal is None:
            return
        try:
            log_file = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:  # removed by the last connection closing: nothing is in it
            return
        try:
            os.fsync(log_file)
        finally:
            os.close(log_file)
        if not self._directory_synced:  # the log's own directory entry, once
            directory = os.open(self._wal.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._directory_synced = True

    def applied_mark(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT mark FROM applied WHERE id = 1").fetchone()
        return str(row[0]) if row else None

    def hashes(self, keys: Sequence[str]) -> dict[str, str]:
        """The applied hashes of those of ``keys`` that have one."""
        with self._lock:
            return self._hashes(keys)

    def _hashes(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(
                f"SELECT key, hash FROM row_hash WHERE key IN ({marks})", chunk).fetchall())
        return found

    def stage(self, seq: int, pass_number: int,
              entries: Sequence[tuple[str, str | None]]) -> dict[str, str]:
        """Keep the (key, hash or None for gone) ``entries`` of batch ``seq`` until it is
        applied, and return the applied hashes of the scanned keys among them.

        The lookup and the staging are one transaction: a batch applied in between cannot
        make the returned hashes differ from what the batch is staged against.
        """
        scanned = [key for key, digest in entries if digest is not None]
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                known = self._hashes(scanned)
                for start in range(0, len(entries), _STAGE_CHUNK):
                    chunk = entries[start:start + _STAGE_CHUNK]
                    db.execute("INSERT OR REPLACE INTO staged (seq, key, hash, pass) VALUES "
                               + ",".join(["(?, ?, ?, ?)"] * len(chunk)),
                               [value for key, digest in chunk
                                for value in (seq, key, digest, pass_number)])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return known

    def discard_after(self, seq: int) -> None:
        """Drop batches staged after ``seq``: Kafka never committed them, so they are read
        again (under the same sequence numbers)."""
        with self._lock:
            self._db.execute("DELETE FROM staged WHERE seq > ?", (seq,))

    def unseen(self, pass_number: int, after: str, limit: int) -> list[str]:
        """Keys not seen in ``pass_number`` (deleted at the source), in key order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM row_hash WHERE pass < ? AND key > ? ORDER BY key LIMIT ?",
                (pass_number, after, limit)).fetchall()
        return [str(r[0]) for r in rows]

    def apply(self, checkpoint: Checkpoint) -> None:
        """Record every batch staged up to ``checkpoint`` (idempotent)."""
        seq = int(checkpoint.get("seq", 0))
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                _apply_carried(db, checkpoint)
                # A key is staged once per pass and a pass starts only when the one before is
                # applied, so the order of the batches applied together does not matter.
                db.execute("DELETE FROM row_hash WHERE key IN "
                           "(SELECT key FROM staged WHERE seq <= ? AND hash IS NULL)", (seq,))
                db.execute("INSERT INTO row_hash (key, hash, pass) SELECT key, hash, pass "
                           "FROM staged WHERE seq <= ? AND hash IS NOT NULL ON CONFLICT (key) "
                           "DO UPDATE SET hash = excluded.hash, pass = excluded.pass", (seq,))
                db.execute("DELETE FROM staged WHERE seq <= ?", (seq,))
                db.execute("INSERT INTO applied (id, mark) VALUES (1, ?) ON CONFLICT (id) DO "
                           "UPDATE SET mark = excluded.mark", (mark_of(checkpoint),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise


def _apply_carried(db: sqlite3.Connection, checkpoint: Checkpoint) -> None:
    """The hashes a checkpoint stored before staging existed carries (``"batch"``)."""
    entries: Iterable[list[object]] = checkpoint.get("batch", [])
    pass_number = int(checkpoint.get("pass", 0))
    gone = [(key,) for key, digest in entries if digest is None]
    seen = [(key, digest, pass_number) for key, digest in entries if digest is not None]
    db.executemany("DELETE FROM row_hash WHERE key = ?", gone)
    db.executemany("INSERT INTO row_hash (key, hash, pass) VALUES (?, ?, ?) ON CONFLICT (key) "
                   "DO UPDATE SET hash = excluded.hash, pass = excluded.pass", seen)
