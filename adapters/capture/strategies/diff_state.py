"""The hashes a ``diff`` capture compares against, kept in a local SQLite file.

The file is derived state: it is updated only when Kafka has confirmed a batch
(:meth:`DiffState.apply`), and each checkpoint carries the hashes of its own batch — of every
batch committed in the same transaction (:func:`grouped`) — so after a crash between Kafka's
commit and this file's update the lost batches are applied again from the checkpoint: the
file never lags Kafka by more than that one transaction, and never leads it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from adapters.capture.source import Checkpoint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS row_hash (key TEXT PRIMARY KEY, hash TEXT NOT NULL, pass INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied (id INTEGER PRIMARY KEY CHECK (id = 1), mark TEXT NOT NULL);
"""


def mark_of(checkpoint: Checkpoint) -> str:
    """Identifies a checkpoint without its (large) list of hashes."""
    return json.dumps([checkpoint.get("pass"), checkpoint.get("stage"), checkpoint.get("after"),
                       checkpoint.get("seq")])


class DiffState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        #: The scan reads ahead (on the event loop) while acknowledged batches are applied
        #: (in a worker thread): one statement or transaction at a time on the connection.
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def applied_mark(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT mark FROM applied WHERE id = 1").fetchone()
        return str(row[0]) if row else None

    def hashes(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(
                    f"SELECT key, hash FROM row_hash WHERE key IN ({marks})", chunk).fetchall())
        return found

    def unseen(self, pass_number: int, after: str, limit: int) -> list[str]:
        """Keys not seen in ``pass_number`` (deleted at the source), in key order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM row_hash WHERE pass < ? AND key > ? ORDER BY key LIMIT ?",
                (pass_number, after, limit)).fetchall()
        return [str(r[0]) for r in rows]

    def apply(self, checkpoint: Checkpoint) -> None:
        """Record the batch behind ``checkpoint`` (idempotent)."""
        entries: Iterable[list[object]] = checkpoint.get("batch", [])
        pass_number = int(checkpoint.get("pass", 0))
        # A batch names each key once, so deletes and upserts can go in two statements.
        gone = [(key,) for key, digest in entries if digest is None]
        seen = [(key, digest, pass_number) for key, digest in entries if digest is not None]
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM row_hash WHERE key = ?", gone)
                db.executemany(
                    "INSERT INTO row_hash (key, hash, pass) VALUES (?, ?, ?) ON CONFLICT (key) "
                    "DO UPDATE SET hash = excluded.hash, pass = excluded.pass", seen)
                db.execute("INSERT INTO applied (id, mark) VALUES (1, ?) ON CONFLICT (id) DO "
                           "UPDATE SET mark = excluded.mark", (mark_of(checkpoint),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise


def grouped(checkpoints: Sequence[Checkpoint]) -> Checkpoint:
    """One checkpoint for batches committed together: the last, carrying every batch's
    hashes, so that after a crash the state gets all of them back (not only the last's)."""
    last = checkpoints[-1]
    if len(checkpoints) == 1:
        return last
    return {**last, "batch": [entry for cp in checkpoints for entry in cp.get("batch", [])]}
