"""The ``citizen_profile`` read store in SQLite, input positions in the rows' transaction.

A change is applied only if its offset is past the stored position of its partition, and the
position moves in the same transaction as the row: redelivered events (after a crash before
the consumer committed its offsets) change nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS citizen_profile (
    identity_number   TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    sex_code          TEXT NOT NULL,
    birth_date        TEXT NOT NULL,
    division_code     TEXT,
    household_address TEXT,
    source_department TEXT NOT NULL,
    source_table      TEXT NOT NULL,
    source_record_key TEXT NOT NULL,
    source_event_id   TEXT NOT NULL,
    source_op         TEXT NOT NULL,
    source_updated_at TEXT,
    event_topic       TEXT NOT NULL,
    event_partition   INTEGER NOT NULL,
    event_offset      INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    projected_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projection_position (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


@dataclass(frozen=True)
class InputPosition:
    """Where an input event sits in Kafka."""

    topic: str
    partition: int
    offset: int


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
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


class CitizenProfileStore:
    """Writes profiles; one writer process per store file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def next_offset(self, topic: str, partition: int) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM projection_position WHERE topic = ? AND partition = ?",
            (topic, partition),
        ).fetchone()
        return int(row["next_offset"]) if row else 0

    def apply(self, at: InputPosition, identity_number: str, person: dict[str, Any] | None) -> bool:
        """Upsert (or, for ``None``, delete) one profile; False when ``at`` was already applied."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if at.offset < self.next_offset(at.topic, at.partition):
                db.execute("ROLLBACK")
                return False
            now = datetime.now(UTC).isoformat()
            if person is None:
                db.execute("DELETE FROM citizen_profile WHERE identity_number = ?",
                           (identity_number,))
            else:
                self._upsert(at, person, now)
            db.execute(
                "INSERT INTO projection_position (topic, partition, next_offset, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = excluded.next_offset, updated_at = excluded.updated_at",
                (at.topic, at.partition, at.offset + 1, now),
            )
            db.execute("COMMIT")
            return True
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _upsert(self, at: InputPosition, person: dict[str, Any], now: str) -> None:
        source = person["source"]
        updated = source.get("updated_at")
        self._db.execute(
            """
            INSERT INTO citizen_profile VALUES
                (:identity_number, :name, :sex_code, :birth_date, :division_code,
                 :household_address, :department, :table, :record_key, :event_id, :op,
                 :updated_at, :topic, :partition, :offset, 1, :now)
            ON CONFLICT (identity_number) DO UPDATE SET
                name = excluded.name, sex_code = excluded.sex_code,
                birth_date = excluded.birth_date, division_code = excluded.division_code,
                household_address = excluded.household_address,
                source_department = excluded.source_department,
                source_table = excluded.source_table,
                source_record_key = excluded.source_record_key,
                source_event_id = excluded.source_event_id, source_op = excluded.source_op,
                source_updated_at = excluded.source_updated_at,
                event_topic = excluded.event_topic, event_partition = excluded.event_partition,
                event_offset = excluded.event_offset,
                version = citizen_profile.version + 1, projected_at = excluded.projected_at
            """,
            {
                "identity_number": person["identity_number"], "name": person["name"],
                "sex_code": person["sex_code"], "birth_date": person["birth_date"].isoformat(),
                "division_code": person.get("division_code"),
                "household_address": person.get("household_address"),
                "department": source["department"], "table": source["table"],
                "record_key": source["record_key"], "event_id": source["event_id"],
                "op": source["op"], "updated_at": updated.isoformat() if updated else None,
                "topic": at.topic, "partition": at.partition, "offset": at.offset, "now": now,
            },
        )
