"""An export directory as a write-back target: one CSV file per batch, never half-written.

For a department that takes file drops (Civil Affairs, ``mz``), each batch of one partition
becomes ``<table>_p<partition>_<first offset>-<next offset>.csv`` in the configured encoding
(GBK), written as a hidden temporary file, flushed to disk and renamed into place: a reader of
the directory sees a whole file or none. The ledger (event ids) and positions live in a SQLite
file in the sink's state directory, written after the rename. A crash between the rename and
the ledger is repaired on start: the offsets in the names of the exported files move the
positions past them. Files are exports only: the department never writes them back, so they
have no conflicts and no echoes (the capture never reads the export directory).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from adapters.sinks.config import SinkConfig
from adapters.sinks.model import Applied, Outcome, Prepared, TargetUnavailable

__all__ = ["FileTarget"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS rongtong_writeback (event_id TEXT PRIMARY KEY, record_key TEXT, "
    "outcome TEXT NOT NULL, file TEXT, topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, "
    "kafka_offset INTEGER NOT NULL, written_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rongtong_writeback_position (topic TEXT NOT NULL, "
    "kafka_partition INTEGER NOT NULL, next_offset INTEGER NOT NULL, "
    "PRIMARY KEY (topic, kafka_partition))",
)


class FileTarget:
    def __init__(self, config: SinkConfig, state_dir: Path) -> None:
        self.config = config
        self.directory = Path(str(config.connection["directory"])).resolve()
        self.encoding = str(config.connection.get("encoding", config.mapping.encoding or "utf-8"))
        self.ledger_path = state_dir / "sinks" / f"{config.name}.sqlite"
        self.columns = config.mapping.column_names
        self._names = re.compile(rf"{re.escape(config.table)}_p(\d+)_(\d+)-(\d+)\.csv")
        self._db: sqlite3.Connection | None = None
        self._pending: tuple[Path, Path] | None = None

    def open(self) -> None:
        self.close()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.ledger_path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.ledger_path, isolation_level=None, check_same_thread=False)
            for statement in _DDL:
                db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise TargetUnavailable(f"{self.config.name}: {exc}") from exc
        for leftover in self.directory.glob(f".{self.config.table}_*.tmp"):
            leftover.unlink()  # a batch that never reached its rename
        self._db = db
        self._recover()

    def _recover(self) -> None:
        """Positions behind an exported file (a crash after its rename): move them past it."""
        db = self._live()
        for path in sorted(self.directory.glob(f"{self.config.table}_p*.csv")):
            match = self._names.fullmatch(path.name)
            if match is None:
                continue
            partition, next_offset = int(match.group(1)), int(match.group(3))
            for topic, in db.execute("SELECT DISTINCT topic FROM rongtong_writeback_position "
                                     "UNION SELECT ?", (self.config.topic,)).fetchall():
                db.execute("INSERT INTO rongtong_writeback_position VALUES (?, ?, ?) "
                           "ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = "
                           "max(next_offset, excluded.next_offset)", (topic, partition, next_offset))

    def _live(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    def positions(self, topic: str) -> dict[int, int]:
        rows = self._live().execute("SELECT kafka_partition, next_offset FROM "
                                    "rongtong_writeback_position WHERE topic = ?", (topic,))
        return {int(p): int(o) for p, o in rows.fetchall()}

    def apply(self, batch: Sequence[Prepared], topic: str, next_offsets: Mapping[int, int]) -> Applied:
        db = self._live()
        db.execute("BEGIN IMMEDIATE")
        applied = Applied()
        ids = [p.event.event_id for p in batch]
        seen = {str(r[0]) for start in range(0, len(ids), 300) for r in db.execute(
            f"SELECT event_id FROM rongtong_writeback WHERE event_id IN "
            f"({', '.join('?' * len(ids[start:start + 300]))})", ids[start:start + 300])}
        lines: list[Prepared] = []
        recorded: list[Prepared] = []
        for prepared in batch:
            event_id = prepared.event.event_id
            if event_id in seen or event_id in applied.outcomes:
                applied.outcomes.setdefault(event_id, "replayed")
                continue
            outcome: Outcome = "written" if prepared.row is not None else "quarantined"
            applied.outcomes[event_id] = outcome
            recorded.append(prepared)
            if prepared.row is not None:
                lines.append(prepared)
        file_name = None
        if lines:
            if len(next_offsets) != 1:
                raise ValueError("a files sink writes one partition per batch")
            [(partition, next_offset)] = next_offsets.items()
            first = min(p.event.offset for p in batch)
            file_name = f"{self.config.table}_p{partition}_{first:012d}-{next_offset:012d}.csv"
            self._pending = self._write_temporary(file_name, lines)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        db.executemany("INSERT INTO rongtong_writeback VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (p.event.event_id, p.row.key_text if p.row else None, applied.outcomes[p.event.event_id],
             file_name if p.row else None, p.event.topic, p.event.partition, p.event.offset, now)
            for p in recorded])
        db.executemany("INSERT INTO rongtong_writeback_position VALUES (?, ?, ?) ON CONFLICT "
                       "(topic, kafka_partition) DO UPDATE SET next_offset = excluded.next_offset",
                       [(topic, p, o) for p, o in sorted(next_offsets.items())])
        return applied

    def _write_temporary(self, file_name: str, lines: Sequence[Prepared]) -> tuple[Path, Path]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.columns)
        for prepared in lines:
            assert prepared.row is not None
            writer.writerow(["" if prepared.row.values[c] is None else prepared.row.values[c]
                             for c in self.columns])
        data = buffer.getvalue().encode(self.encoding)  # the mapping checked encodability
        temporary = self.directory / f".{file_name}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise TargetUnavailable(f"{self.config.name}: writing {temporary}: {exc}") from exc
        return temporary, self.directory / file_name

    def commit(self) -> None:
        db = self._live()
        if self._pending is not None:
            temporary, final = self._pending
            try:
                os.replace(temporary, final)
                _sync_directory(self.directory)
            except OSError as exc:
                db.execute("ROLLBACK")
                raise TargetUnavailable(f"{self.config.name}: renaming {temporary}: {exc}") from exc
            self._pending = None
        db.execute("COMMIT")

    def rollback(self) -> None:
        if self._pending is not None:
            self._pending[0].unlink(missing_ok=True)
            self._pending = None
        if self._db is not None and self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        if self._db is not None:
            self.rollback()
            self._db.close()
            self._db = None


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
