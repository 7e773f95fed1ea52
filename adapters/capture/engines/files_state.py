"""The ``full``-mode state: each extract generation's key → (row hash, row), in SQLite.

A generation is written in one SQLite transaction *before* the batch that publishes its last
changes is handed to the runner, and older generations are deleted only after Kafka
confirmed a checkpoint of a newer one. So whatever checkpoint the runner hands back after a
crash, the state file holds the generation that checkpoint names; generations newer than
the checkpoint were never published and are discarded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

from adapters.capture.source import SourceMisconfigured

#: key (JSON list of the key values) → (row hash, row as JSON)
ExtractRows = dict[str, tuple[str, str]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL, row_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS extract_rows (
    generation INTEGER NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (generation, key)) WITHOUT ROWID;
"""


class ExtractState:
    """The state file of one table; every method opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise SourceMisconfigured(
                f"cannot open the full-mode state {self.path} (options.state_dir): {exc}") from exc
        with closing(connection):
            connection.executescript(_SCHEMA)
            yield connection

    def load(self, generation: int) -> ExtractRows:
        """The rows of ``generation`` (0: no extract yet, empty); newer generations are dropped."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM extract_rows WHERE generation > ?", (generation,))
            db.execute("DELETE FROM generations WHERE generation > ?", (generation,))
            db.execute("COMMIT")
            if generation == 0:
                return {}
            found = db.execute("SELECT row_count FROM generations WHERE generation = ?",
                               (generation,)).fetchone()
            if found is None:
                raise SourceMisconfigured(
                    f"the full-mode state of extract generation {generation} is missing from "
                    f"{self.path} (options.state_dir); restore that file or reset the checkpoint")
            rows = db.execute("SELECT key, hash, row FROM extract_rows WHERE generation = ?",
                              (generation,))
            return {key: (digest, row) for key, digest, row in rows}

    def save(self, generation: int, file: str, sha256: str, rows: Mapping[str, tuple[str, str]]) -> None:
        """Write ``generation`` atomically, replacing any earlier attempt at it."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM extract_rows WHERE generation = ?", (generation,))
                db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?)",
                           (generation, file, sha256, len(rows)))
                db.executemany("INSERT INTO extract_rows VALUES (?, ?, ?, ?)",
                               ((generation, k, h, r) for k, (h, r) in rows.items()))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def prune_before(self, generation: int) -> None:
        """Forget generations older than ``generation`` (Kafka confirmed it)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM extract_rows WHERE generation < ?", (generation,))
            db.execute("DELETE FROM generations WHERE generation < ?", (generation,))
            db.execute("COMMIT")
