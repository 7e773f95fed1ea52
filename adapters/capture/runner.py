"""Runs one capture source: read batches, publish them with their checkpoint, acknowledge.

Each batch — its change events, a tombstone after every delete, quarantine records for rows
that could not be decoded, and the checkpoint — is one Kafka transaction. The checkpoint is
therefore never ahead of what Kafka has stored, and after a crash the source resumes exactly
after the last committed batch. Source and broker outages are retried with exponential
backoff and jitter; a misconfigured source fails at once with a message naming the setting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from adapters.capture.change_event import (
    SourceInfo,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from adapters.capture.source import (
    Batch,
    CaptureSource,
    Change,
    Checkpoint,
    SourceError,
    SourceMisconfigured,
    key_text,
)
from adapters.capture.status import CaptureMetrics, CaptureStatus
from bus.envelope import CloudEvent
from bus.positions import read_position, send_position
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryError
from schemas.avro_schemas import load_avro_schema

log = logging.getLogger(__name__)
CHANGE_EVENT_TYPE = "rongtong.legacy.row.changed"
QUARANTINE_EVENT_TYPE = "rongtong.quarantine.record.rejected"
Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog), capped."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial, self.maximum, self.attempt = initial, maximum, 0

    def next_delay(self) -> float:
        self.attempt += 1
        return random.uniform(0, min(self.maximum, self.initial * 2 ** self.attempt))

    def reset(self) -> None:
        self.attempt = 0


class CaptureRunner:
    def __init__(
        self, source: CaptureSource, *, bootstrap: str, serde: AvroSerde,
        producer_factory: Callable[[str], AIOKafkaProducer],
        metrics: CaptureMetrics | None = None, publish_timeout: float = 30.0,
    ) -> None:
        self.source = source
        self.spec = source.spec
        self.bootstrap = bootstrap
        self.serde = serde
        self.producer_factory = producer_factory
        self.metrics = metrics
        #: A batch not committed by then counts as a broker outage: the runner backs off and
        #: starts a new producer, whose transactional id fences the stuck one.
        self.publish_timeout = publish_timeout
        self.status = CaptureStatus(self.spec.department, self.spec.table, source.engine,
                                    self.spec.strategy)
        self._columns: tuple[str, ...] = ()
        self._value_schemas: dict[tuple[str, ...], dict[str, Any]] = {}
        self._key_schema = change_key_schema(self.spec.department, self.spec.table,
                                             self.spec.key_columns)
        self._quarantine_schema = load_avro_schema("quarantined_record")
        # Per-row constants, computed once.
        self._key_subject = subject_for(self.spec.topic, is_key=True)
        self._value_subject = subject_for(self.spec.topic)
        self._event_source = (f"/adapters/{self.spec.department}/{source.engine}/"
                              f"{self.spec.table}")

    async def run(self, stop: asyncio.Event) -> None:
        """Capture until ``stop`` is set; raises only for a misconfigured source."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                await self._run_once(stop, backoff)
                break
            except SourceMisconfigured as exc:
                self._set_state("failed")
                self.status.last_error = str(exc)
                log.error("%s cannot run: %s", self.spec.owner, exc)
                raise
            except (TimeoutError, SourceError, KafkaError, RegistryError, OSError) as exc:
                self._record_error(exc)
                delay = backoff.next_delay()
                log.warning("%s: %s; retrying in %.1fs", self.spec.owner, exc, delay)
                self.status.retries += 1
                if self.metrics:
                    self.metrics.retries.labels(*self._labels()).inc()
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        self._set_state("stopped")

    async def _run_once(self, stop: asyncio.Event, backoff: Backoff) -> None:
        producer = self.producer_factory(self.spec.owner)
        try:
            await producer.start()
            checkpoint = await read_position(self.bootstrap, self.spec.owner)
            await self.source.check()
            self.status.source_reachable = True
            async with aclosing(self.source.read(checkpoint)) as batches:
                async for batch in batches:
                    if batch.changes or batch.checkpoint != checkpoint:
                        await self._publish_in_time(producer, batch)
                        await self.source.acknowledge(batch.checkpoint)
                        checkpoint = batch.checkpoint
                    self._observe(batch)
                    backoff.reset()
                    if stop.is_set():
                        break
        except SourceError:
            self.status.source_reachable = False
            raise
        finally:
            await _stop_quietly(producer)
            await self.source.close()

    async def _publish_in_time(self, producer: AIOKafkaProducer, batch: Batch) -> None:
        try:
            await asyncio.wait_for(self._publish(producer, batch), self.publish_timeout)
        except TimeoutError as exc:
            raise KafkaTimeoutError(
                f"Kafka did not commit a batch within {self.publish_timeout:.0f}s") from exc

    async def _publish(self, producer: AIOKafkaProducer, batch: Batch) -> None:
        columns = batch.columns or self._columns or _columns_of(batch.changes)
        self._columns = columns
        captured_ms = int(time.time() * 1000)
        messages = [m for change in batch.changes
                    for m in await self._messages(change, columns, captured_ms)]
        async with producer.transaction():
            for topic, key, value, headers in messages:
                await producer.send(topic, key=key, value=value, headers=headers)
            await send_position(producer, self.spec.owner, batch.checkpoint)
        if self.metrics:
            self.metrics.last_commit.labels(*self._labels()).set(time.time())
            for change in batch.changes:
                if change.undecodable:
                    self.metrics.quarantined.labels(*self._labels()).inc()
                else:
                    self.metrics.rows.labels(*self._labels(), change.op).inc()
        self.status.quarantined += sum(1 for c in batch.changes if c.undecodable)

    async def _messages(self, change: Change, columns: tuple[str, ...],
                        captured_ms: int) -> list[Message]:
        spec = self.spec
        key_string = key_text(change.key)
        if change.undecodable:
            return [await self._quarantine(change)]
        key = await self.serde.encode(self._key_subject, self._key_schema,
                                      {c: change.key.get(c) or "" for c in spec.key_columns})
        source = SourceInfo(spec.department, self.source.engine, self.source.database, spec.table,
                            change.position, change.snapshot, change.commit_ts_ms)
        value = await self.serde.encode(
            self._value_subject, self._value_schema(columns),
            change_record(change.op, _complete(change.before, columns),
                          _complete(change.after, columns), source, captured_ms))
        event = CloudEvent(
            type=CHANGE_EVENT_TYPE, source=self._event_source,
            id=change_event_id(spec.department, spec.table, key_string,
                               {"op": change.op, **(change.after or change.key)}),
            subject=f"{spec.table}/{key_string}", dataclassification=spec.classification,
        )
        messages: list[Message] = [(spec.topic, key, value, event.to_headers())]
        if change.op == "d":  # compacted consumers forget the row
            messages.append((spec.topic, key, None, event.to_headers()))
        return messages

    async def _quarantine(self, change: Change) -> Message:
        spec = self.spec
        row = change.after or change.before or change.key
        value = await self.serde.encode(subject_for(spec.quarantine_topic), self._quarantine_schema, {
            "rule_id": "capture.undecodable", "field": ",".join(change.undecodable),
            "message_zh": f"无法按配置的编码解码字段：{'、'.join(change.undecodable)}",
            "message_en": f"could not decode {', '.join(change.undecodable)} in the configured encoding",
            "department": spec.department, "table": spec.table,
            "record_key": key_text(change.key) or None, "op": change.op, "original": dict(row),
            "source_event_id": None, "source_topic": spec.topic, "source_partition": -1,
            "source_offset": -1, "quarantined_at": datetime.now(UTC),
        })
        event = CloudEvent(QUARANTINE_EVENT_TYPE, f"/adapters/{spec.department}/{spec.table}",
                           dataclassification="sensitive_personal")
        return (spec.quarantine_topic, key_text(change.key).encode() or None, value,
                event.to_headers())

    def _value_schema(self, columns: tuple[str, ...]) -> dict[str, Any]:
        schema = self._value_schemas.get(columns)
        if schema is None:
            schema = change_value_schema(self.spec.department, self.spec.table, columns)
            self._value_schemas[columns] = schema
        return schema

    def _observe(self, batch: Batch) -> None:
        self._set_state(batch.state)
        self.status.record_rows(len(batch.changes))
        cp = batch.checkpoint
        if batch.changes:
            self.status.position = batch.changes[-1].position
        if "total" in cp:
            self.status.snapshot_done, self.status.snapshot_total = cp.get("done"), cp.get("total")

    def _set_state(self, state: Any) -> None:
        self.status.state = state
        if self.metrics:
            self.metrics.set_state(self.spec, self.source.engine, state)

    def _record_error(self, exc: BaseException) -> None:
        self._set_state("degraded")
        self.status.errors += 1
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        if self.metrics:
            self.metrics.errors.labels(*self._labels()).inc()

    def _labels(self) -> tuple[str, str, str, str]:
        return (self.spec.department, self.spec.table, self.source.engine, self.spec.strategy)


def _complete(row: dict[str, str | None] | None, columns: Sequence[str]) -> dict[str, str | None] | None:
    """The row with every column of the schema (absent ones null)."""
    if row is None:
        return None
    if len(row) == len(columns) and all(c in row for c in columns):
        return row  # already complete: no copy
    return {c: row.get(c) for c in columns}


def _columns_of(changes: Sequence[Change]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for change in changes:
        for row in (change.before, change.after, change.key):
            for column in row or {}:
                seen.setdefault(column, None)
    return tuple(seen)


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 10)
    except Exception as exc:  # a dead broker must not hide the error that got us here
        log.debug("producer stop failed: %s", exc)


__all__ = ["Backoff", "CaptureRunner", "Checkpoint"]
