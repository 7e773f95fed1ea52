"""Incremental capture of a SQLite table by polling its update-time column.

Rows are read in ``(update_time, key)`` order after the stored position, so rows that share a
timestamp are neither skipped nor read twice. Each batch of change events is published in one
Kafka transaction together with the new position (``bus.positions``): a crash at any instant
resumes after the last committed batch.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
    """Where the next poll starts; ``max_rowid`` tells new rows (c) from updated ones (u)."""

    updated: str = ""
    key: str = ""
    max_rowid: int = 0
    snapshot_done: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"updated": self.updated, "key": self.key, "max_rowid": self.max_rowid,
                "snapshot_done": self.snapshot_done}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PollPosition:
        if not data:
            return cls()
        return cls(str(data.get("updated", "")), str(data.get("key", "")),
                   int(data.get("max_rowid", 0)), bool(data.get("snapshot_done", False)))


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

    async def load_position(self) -> PollPosition:
        self.position = PollPosition.from_dict(await read_position(self.bootstrap, self.table.owner))
        return self.position

    async def run(self, stop: asyncio.Event) -> None:
        await self.load_position()
        log.info("capturing %s from %s at %s", self.table.topic, self.db_path, self.position)
        while not stop.is_set():
            published = await self.poll_once()
            if published < self.batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def poll_once(self) -> int:
        """Publish the next batch with its position in one transaction; rows published."""
        columns, rows = await asyncio.to_thread(self._read_batch, self.position)
        snapshot = not self.position.snapshot_done
        if not rows:
            if snapshot:
                await self._commit([], PollPosition(
                    self.position.updated, self.position.key, self.position.max_rowid, True))
            return 0
        position = self.position
        messages = []
        for rowid, row in rows:
            op = "r" if snapshot else ("c" if rowid > self.position.max_rowid else "u")
            position = PollPosition(
                row.get(self.table.updated_column) or "", row[self.table.key_column] or "",
                max(position.max_rowid, rowid), False,
            )
            messages.append(await self._encode(columns, op, row, position, snapshot))
        done = len(rows) < self.batch_size
        if (snapshot and done) or not snapshot:
            position = PollPosition(position.updated, position.key, position.max_rowid, True)
        await self._commit(messages, position)
        self.published += len(rows)
        return len(rows)

    async def _commit(self, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]],
                      position: PollPosition) -> None:
        async with self.producer.transaction():
            for key, value, headers in messages:
                await self.producer.send(self.table.topic, key=key, value=value, headers=headers)
            await send_position(self.producer, self.table.owner, position.as_dict())
        self.position = position

    async def _encode(
        self, columns: Sequence[str], op: str, row: dict[str, str | None],
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
            subject_for(t.topic), change_value_schema(t.department, t.table, columns),
            change_record(op, None, row, source, now_ms),
        )
        encoded_key = await self.serde.encode(
            subject_for(t.topic, is_key=True),
            change_key_schema(t.department, t.table, [t.key_column]), {t.key_column: key},
        )
        event = CloudEvent(
            type=CHANGE_EVENT_TYPE, source=f"/adapters/{t.department}/sqlite/{t.table}",
            id=change_event_id(t.department, t.table, key, row), subject=f"{t.table}/{key}",
            dataclassification=t.classification,
        )
        return encoded_key, value, event.to_headers()

    def _read_batch(
        self, position: PollPosition
    ) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
        t = self.table
        # Read-only connection: the legacy database is a guest's house.
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            updated = f'COALESCE("{t.updated_column}", \'\')'
            cursor = connection.execute(
                f'SELECT rowid AS "__rowid", * FROM "{t.table}" '
                f'WHERE {updated} > ? OR ({updated} = ? AND "{t.key_column}" > ?) '
                f'ORDER BY {updated}, "{t.key_column}" LIMIT ?',
                (position.updated, position.updated, position.key, self.batch_size),
            )
            names = [d[0] for d in cursor.description][1:]
            rows = [
                (int(r[0]), {n: _as_text(v) for n, v in zip(names, r[1:], strict=True)})
                for r in cursor.fetchall()
            ]
            return names, rows
        finally:
            connection.close()


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
