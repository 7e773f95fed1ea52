"""The ``full``-mode state: each extract generation's key → (row hash, row), in SQLite.

A generation is written in one SQLite transaction *before* the batch that publishes its last
changes is handed to the runner, and older generations are deleted only after Kafka
confirmed a checkpoint of a newer one. So whatever checkpoint the runner hands back after a
crash, the state file holds the generation that checkpoint names; generations newer than
the checkpoint were never published and are discarded.

A generation is only ever read whole, so its rows are stored as chunks of lines
``key<TAB>hash<TAB>row`` (JSON escapes tabs and line breaks, hashes are hex): one insert per
:data:`CHUNK_ROWS` rows instead of one per row. Generations written a row per table row
(``extract_rows``, before chunks) are still read.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

from adapters.capture.source import SourceMisconfigured

#: key (JSON list of the key values) → (row hash, row as JSON)
ExtractRows = dict[str, tuple[str, str]]

#: Rows per stored chunk (a few MB of text for ~500-byte rows).
CHUNK_ROWS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL, row_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS extract_chunks (
    generation INTEGER NOT NULL, chunk INTEGER NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (generation, chunk));
CREATE TABLE IF NOT EXISTS extract_rows (
    generation INTEGER NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (generation, key)) WITHOUT ROWID;
"""


def _chunks(rows: Mapping[str, tuple[str, str]]) -> Iterator[str]:
    """``rows`` as chunks of ``key<TAB>hash<TAB>row`` lines."""
    items = iter(rows.items())
    while chunk := list(itertools.islice(items, CHUNK_ROWS)):
        yield "\n".join([f"{key}\t{digest}\t{row}" for key, (digest, row) in chunk])


def _rows_of(chunks: Iterable[tuple[str]]) -> Iterator[tuple[str, tuple[str, str]]]:
    for (lines,) in chunks:
        for line in lines.split("\n"):
            key, digest, row = line.split("\t", 2)
            yield key, (digest, row)


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
            self._delete(db, "generation > ?", generation)
            db.execute("COMMIT")
            if generation == 0:
                return {}
            found = db.execute("SELECT row_count FROM generations WHERE generation = ?",
                               (generation,)).fetchone()
            if found is None:
                raise SourceMisconfigured(
                    f"the full-mode state of extract generation {generation} is missing from "
                    f"{self.path} (options.state_dir); restore that file or reset the checkpoint")
            rows = {key: (digest, row) for key, digest, row in db.execute(
                "SELECT key, hash, row FROM extract_rows WHERE generation = ?", (generation,))}
            rows.update(_rows_of(db.execute(
                "SELECT lines FROM extract_chunks WHERE generation = ? ORDER BY chunk", (generation,))))
            if len(rows) != found[0]:
                raise SourceMisconfigured(
                    f"the full-mode state of extract generation {generation} in {self.path} "
                    f"(options.state_dir) holds {len(rows)} rows, not {found[0]}; restore that "
                    f"file or reset the checkpoint")
            return rows

    def save(self, generation: int, file: str, sha256: str, rows: Mapping[str, tuple[str, str]]) -> None:
        """Write ``generation`` atomically, replacing any earlier attempt at it."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._delete(db, "generation = ?", generation)
                db.execute("INSERT INTO generations VALUES (?, ?, ?, ?)",
                           (generation, file, sha256, len(rows)))
                db.executemany("INSERT INTO extract_chunks VALUES (?, ?, ?)",
                               ((generation, n, lines) for n, lines in enumerate(_chunks(rows))))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def prune_before(self, generation: int) -> None:
        """Forget generations older than ``generation`` (Kafka confirmed it)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            self._delete(db, "generation < ?", generation)
            db.execute("COMMIT")

    @staticmethod
    def _delete(db: sqlite3.Connection, where: str, generation: int) -> None:
        for table in ("extract_chunks", "extract_rows", "generations"):
            db.execute(f"DELETE FROM {table} WHERE {where}", (generation,))
