"""Incremental capture of a SQLite table by polling its update-time column.

Rows are read in ``(update_time, key)`` order after the stored position, so rows that share a
timestamp are neither skipped nor read twice. Each batch of change events is published in one
Kafka transaction together with the new position (``bus.positions``): a crash at any instant
resumes after the last committed batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer

from adapters.capture.change_event import (
    SourceInfo,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from bus.envelope import CloudEvent
from bus.positions import read_position, send_position
from bus.serde.avro import AvroSerde, subject_for

log = logging.getLogger(__name__)
LEGACY_TIMEZONE = ZoneInfo("Asia/Shanghai")
CHANGE_EVENT_TYPE = "rongtong.legacy.row.changed"


@dataclass(frozen=True)
class PolledTable:
    """A legacy table captured by polling; names come from the adapter configuration."""

    department: str
    table: str
    key_column: str
    updated_column: str
    classification: str = "sensitive_personal"

    @property
    def topic(self) -> str:
        return f"legacy.{self.department}.{self.table}"

    @property
    def owner(self) -> str:
        return f"capture.{self.department}.{self.table}"


@dataclass(frozen=True)
class PollPosition:
    """Where the next poll starts.

    ``updated``/``key`` are the last row read in ``(update time, key)`` order. ``boundary``
    holds a hash of every row already read at exactly ``updated``: a row updated again within
    that same second keeps its timestamp, so it is found only by re-reading that second and
    comparing hashes. ``max_rowid`` tells new rows (c) from updated ones (u).
    """

    updated: str = ""
    key: str = ""
    max_rowid: int = 0
    snapshot_done: bool = False
    boundary: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"updated": self.updated, "key": self.key, "max_rowid": self.max_rowid,
                "snapshot_done": self.snapshot_done, "boundary": self.boundary}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PollPosition:
        if not data:
            return cls()
        return cls(str(data.get("updated", "")), str(data.get("key", "")),
                   int(data.get("max_rowid", 0)), bool(data.get("snapshot_done", False)),
                   {str(k): str(v) for k, v in dict(data.get("boundary", {})).items()})

    def advanced(self, rows: list[tuple[int, str, str, str]], snapshot_done: bool) -> PollPosition:
        """The position after ``rows`` (rowid, update time, key, hash) in read order."""
        updated, key, boundary = self.updated, self.key, dict(self.boundary)
        max_rowid = self.max_rowid
        for rowid, row_updated, row_key, digest in rows:
            if row_updated != updated:
                updated, key, boundary = row_updated, "", {}
            boundary[row_key] = digest
            key = max(key, row_key)
            max_rowid = max(max_rowid, rowid)
        return PollPosition(updated, key, max_rowid, snapshot_done, boundary)


Row = dict[str, str | None]


def row_digest(row: Row) -> str:
    return hashlib.sha256(repr(sorted(row.items())).encode("utf-8")).hexdigest()[:16]


class SqlitePollingCapture:
    """Publishes every insert and update of one SQLite table to ``legacy.<dept>.<table>``."""

    def __init__(
        self, table: PolledTable, db_path: Path, producer: AIOKafkaProducer, serde: AvroSerde,
        bootstrap: str, *, batch_size: int = 500, poll_interval: float = 1.0,
    ) -> None:
        self.table = table
        self.db_path = db_path
        self.producer = producer
        self.serde = serde
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.position = PollPosition()
        self.published = 0
        self._schemas: dict[tuple[str, ...], dict[str, Any]] = {}
        self._key_schema = change_key_schema(table.department, table.table, [table.key_column])

    def _value_schema(self, columns: Sequence[str]) -> dict[str, Any]:
        """The change schema for these columns; a new column yields a new schema version."""
        schema = self._schemas.get(tuple(columns))
        if schema is None:
            schema = change_value_schema(self.table.department, self.table.table, columns)
            self._schemas[tuple(columns)] = schema
        return schema

    async def load_position(self) -> PollPosition:
        stored = await read_position(self.bootstrap, self.table.owner)
        self.position = PollPosition.from_dict(stored)
        return self.position

    async def run(self, stop: asyncio.Event) -> None:
        await self.load_position()
        log.info("capturing %s from %s after (%r, %r)", self.table.topic, self.db_path,
                 self.position.updated, self.position.key)
        while not stop.is_set():
            published = await self.poll_once()
            if published < self.batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def poll_once(self) -> int:
        """Publish the next batch with its position in one transaction; rows published."""
        position = self.position
        columns, rechecked, rows = await asyncio.to_thread(self._read, position)
        snapshot = not position.snapshot_done
        changed = [(rowid, row) for rowid, row in rechecked
                   if position.boundary.get(row[self.table.key_column] or "") != row_digest(row)]
        ordered = [
            (rowid, row.get(self.table.updated_column) or "", row[self.table.key_column] or "",
             row_digest(row))
            for rowid, row in [*changed, *rows]
        ]
        done = len(rows) < self.batch_size
        new_position = position.advanced(ordered, snapshot_done=position.snapshot_done or done)
        if not changed and not rows:
            if new_position != position:
                await self._commit([], new_position)
            return 0
        messages = []
        for rowid, row in [*changed, *rows]:
            op = "r" if snapshot else ("c" if rowid > position.max_rowid else "u")
            messages.append(await self._encode(columns, op, row, new_position, snapshot))
        await self._commit(messages, new_position)
        self.published += len(messages)
        return len(messages)

    async def _commit(self, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]],
                      position: PollPosition) -> None:
        async with self.producer.transaction():
            for key, value, headers in messages:
                await self.producer.send(self.table.topic, key=key, value=value, headers=headers)
            await send_position(self.producer, self.table.owner, position.as_dict())
        self.position = position

    async def _encode(
        self, columns: Sequence[str], op: str, row: Row,
        position: PollPosition, snapshot: bool,
    ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        t = self.table
        key = row[t.key_column] or ""
        source = SourceInfo(
            department=t.department, engine="sqlite", database=self.db_path.name, table=t.table,
            position=f"{position.updated}|{position.key}", snapshot=snapshot,
            ts_ms=_legacy_time_ms(row.get(t.updated_column)),
        )
        now_ms = int(time.time() * 1000)
        value = await self.serde.encode(
            subject_for(t.topic), self._value_schema(columns),
            change_record(op, None, row, source, now_ms),
        )
        encoded_key = await self.serde.encode(
            subject_for(t.topic, is_key=True),
            self._key_schema, {t.key_column: key},
        )
        event = CloudEvent(
            type=CHANGE_EVENT_TYPE, source=f"/adapters/{t.department}/sqlite/{t.table}",
            id=change_event_id(t.department, t.table, key, row), subject=f"{t.table}/{key}",
            dataclassification=t.classification,
        )
        return encoded_key, value, event.to_headers()

    def _read(
        self, position: PollPosition
    ) -> tuple[list[str], list[tuple[int, Row]], list[tuple[int, Row]]]:
        """Columns, the rows of the boundary second to re-check, and the next batch.

        Rows without an update time sort first (as ''), read by key; then the timestamped
        rows in ``(update time, key)`` order. The queries are shaped so an index on the
        update-time column serves them (no expression on the column).
        """
        t = self.table
        upd, table = f'"{t.updated_column}"', f'"{t.table}"'
        # Keys compare as text, as the position stores them: an INTEGER key column would
        # otherwise sort 9 after 10 in SQL but before it in Python.
        key = f'CAST("{t.key_column}" AS TEXT)'
        select = f'SELECT rowid AS "__rowid", * FROM {table}'
        undated = f"({upd} IS NULL OR {upd} = '')"
        # Read-only connection: the legacy database is a guest's house.
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            connection.execute("BEGIN")  # one read snapshot for every query below
            columns = [d[0] for d in connection.execute(f"{select} LIMIT 0").description][1:]
            rechecked: list[tuple[int, Row]] = []
            if position.boundary:
                where = undated if not position.updated else f"{upd} = :updated"
                rechecked = _rows(connection.execute(
                    f"{select} WHERE {where} AND {key} <= :key ORDER BY {key}",
                    {"updated": position.updated, "key": position.key}))
            rows: list[tuple[int, Row]] = []
            if not position.updated:
                rows = _rows(connection.execute(
                    f"{select} WHERE {undated} AND {key} > :key ORDER BY {key} LIMIT :n",
                    {"key": position.key, "n": self.batch_size}))
                after = f"{upd} > ''"
            else:
                after = f"{upd} >= :updated AND ({upd} > :updated OR {key} > :key)"
            if len(rows) < self.batch_size:
                rows += _rows(connection.execute(
                    f"{select} WHERE {after} ORDER BY {upd}, {key} LIMIT :n",
                    {"updated": position.updated, "key": position.key,
                     "n": self.batch_size - len(rows)}))
            return columns, rechecked, rows
        finally:
            connection.close()


def _rows(cursor: sqlite3.Cursor) -> list[tuple[int, Row]]:
    names = [d[0] for d in cursor.description][1:]
    return [(int(r[0]), {n: _as_text(v) for n, v in zip(names, r[1:], strict=True)})
            for r in cursor.fetchall()]


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        for encoding in ("utf-8", "gb18030"):
            try:
                return value.decode(encoding)
            except UnicodeDecodeError:
                continue
        return value.hex()
    return str(value)


def _legacy_time_ms(text: str | None) -> int:
    """Milliseconds of a legacy local timestamp; 0 when it is missing or unreadable."""
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LEGACY_TIMEZONE)
    return int(moment.timestamp() * 1000)
