"""Runs one write-back sink: consume a canonical topic, write the legacy side, report.

The sink reads ``std.<entity>`` (read_committed, no consumer group: its positions live in the
legacy database's ledger and it seeks there on start), maps each event to a legacy row, and
hands each partition's batch to its target in the sink's own worker thread — never on the
event loop. The target writes rows, ledger and positions in one transaction and leaves it
open; the runner publishes the batch's conflict and quarantine events (stable CloudEvents ids,
so a re-sent report is recognizable) and only then commits. A crash at any instant either
leaves the batch undone (the transaction never committed: it is read again) or done (the
positions are past it); the ledger's event ids make a re-sent event a no-op. The legacy
database or Kafka being down is retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from adapters.capture.runner import Backoff
from adapters.sinks.config import SinkConfig
from adapters.sinks.model import Applied, Conflict, InputEvent, Prepared, Target, TargetUnavailable
from adapters.sinks.reverse import Unmappable
from adapters.sinks.status import SinkMetrics, SinkStatus
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryError
from schemas.avro_schemas import load_avro_schema

__all__ = ["CONFLICT_EVENT_TYPE", "QUARANTINE_EVENT_TYPE", "SinkRunner"]

log = logging.getLogger(__name__)
CONFLICT_EVENT_TYPE = "rongtong.writeback.conflict.detected"
QUARANTINE_EVENT_TYPE = "rongtong.writeback.event.rejected"
_IDS = uuid.UUID("7b1f6a52-3c0e-4d8e-9a51-2f6c1d0e8b44")
_T = TypeVar("_T")


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                            enable_auto_commit=False, auto_offset_reset="earliest")


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                            linger_ms=2)


class SinkRunner:
    def __init__(
        self, config: SinkConfig, target: Target, *, bootstrap: str, serde: AvroSerde,
        metrics: SinkMetrics | None = None, poll_timeout: float = 0.5,
        consumer_factory: Callable[[str], AIOKafkaConsumer] = _consumer,
        producer_factory: Callable[[str], AIOKafkaProducer] = _producer,
    ) -> None:
        self.config = config
        self.target = target
        self.bootstrap = bootstrap
        self.serde = serde
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.status = SinkStatus(config.name, config.engine, config.topic, config.conflict_policy)
        self._conflict_schema = load_avro_schema("writeback_conflict")
        self._quarantine_schema = load_avro_schema("quarantined_record")
        self._executor: ThreadPoolExecutor | None = None
        self._labels = (config.name, config.engine)
        self._source = f"/sinks/{config.department}/{config.engine}/{config.table}"

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Write back until ``stop`` is set; outages are retried with backoff."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                await self._run_once(stop, backoff)
                break
            except (TargetUnavailable, KafkaError, RegistryError, OSError, TimeoutError) as exc:
                self._record_error(exc)
                delay = backoff.next_delay()
                log.warning("sink %s: %s; retrying in %.1fs", self.config.name, exc, delay)
                self.status.retries += 1
                if self.metrics:
                    self.metrics.retries.labels(*self._labels).inc()
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        self._set_state("stopped")

    async def _db(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function`` in the sink's worker thread (one thread: connections stay on it)."""
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def _run_once(self, stop: asyncio.Event, backoff: Backoff) -> None:
        config = self.config
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"sink-{config.name}")
        consumer = self.consumer_factory(self.bootstrap)
        producer = self.producer_factory(self.bootstrap)
        try:
            await ensure_topics(self.bootstrap, [TopicSpec.history(t) for t in (
                config.topic, config.conflict_topic, config.quarantine_topic)])
            await self._db(self.target.open)
            await consumer.start()
            await producer.start()
            partitions = await self._assign(consumer)
            self._set_state("running")
            # While the worker thread writes one fetch, the loop fetches and decodes the next.
            writing: asyncio.Task[None] | None = None
            try:
                while not stop.is_set():
                    fetched = await consumer.getmany(timeout_ms=int(self.poll_timeout * 1000),
                                                     max_records=config.batch_size)
                    batches = [(tp.partition, fetched[tp], await self._prepare_all(fetched[tp]))
                               for tp in sorted(fetched, key=lambda t: t.partition) if fetched[tp]]
                    if writing is not None:
                        await writing
                        writing = None
                    if batches:
                        writing = asyncio.create_task(self._write(producer, batches))
                    await self._observe(consumer, partitions)
                    backoff.reset()
                if writing is not None:
                    await writing
            finally:
                if writing is not None and not writing.done():
                    writing.cancel()
                    with suppress(BaseException):
                        await writing
        finally:
            await self._db(self.target.close)
            for client in (consumer, producer):
                try:
                    await asyncio.wait_for(client.stop(), 10)
                except Exception as exc:  # a dead broker must not hide the error that got us here
                    log.debug("stopping a Kafka client of %s: %s", config.name, exc)
            self._executor.shutdown(wait=False)
            self._executor = None

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        topic = self.config.topic
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + 30
        while not partitions:
            if time.monotonic() > deadline:
                raise TargetUnavailable(f"topic {topic} has no partitions")
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        positions = await self._db(self.target.positions, topic)
        for tp in assigned:
            if tp.partition in positions:
                consumer.seek(tp, positions[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        self.status.positions = {str(p): o for p, o in sorted(positions.items())}
        return assigned

    # -- one partition's batch -----------------------------------------------------------

    async def _write(self, producer: AIOKafkaProducer, batches: Sequence[tuple[
            int, Sequence[ConsumerRecord[bytes, bytes]], list[Prepared]]]) -> None:
        for partition, records, prepared in batches:
            await self._handle(producer, partition, records, prepared)

    async def _prepare_all(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Prepared]:
        now = datetime.now(UTC)
        return [await self._prepare(record, now) for record in records]

    async def _handle(self, producer: AIOKafkaProducer, partition: int,
                      records: Sequence[ConsumerRecord[bytes, bytes]],
                      prepared: list[Prepared] | None = None) -> None:
        if prepared is None:
            prepared = await self._prepare_all(records)
        next_offsets = {partition: records[-1].offset + 1}
        try:
            applied = await self._db(self.target.apply, prepared, self.config.topic, next_offsets)
        except TargetUnavailable:
            await self._db(self.target.rollback)
            raise
        except Exception as exc:
            # The database refused something of the batch (a value its column cannot take):
            # find the event, one at a time, and quarantine it rather than stall or drop it.
            await self._db(self.target.rollback)
            if len(records) > 1:
                for record, item in zip(records, prepared, strict=True):
                    await self._handle(producer, partition, [record], [item])
                return
            log.error("sink %s: the legacy database refused event %s: %s", self.config.name,
                      prepared[0].event.event_id, exc)
            refused = Prepared(prepared[0].event, None, Unmappable(
                "writeback.refused", None, f"the legacy database refused the row: {exc}",
                f"旧系统数据库拒绝写入该行：{exc}"))
            prepared = [refused]
            applied = await self._db(self.target.apply, prepared, self.config.topic, next_offsets)
        try:
            await self._report(producer, prepared, applied)
            await self._db(self.target.commit)
        except BaseException:
            await self._db(self.target.rollback)
            raise
        self.status.positions[str(partition)] = next_offsets[partition]
        self._count(applied)

    async def _prepare(self, record: ConsumerRecord[bytes, bytes], now: datetime) -> Prepared:
        headers = {k: v.decode("utf-8", errors="replace") for k, v in (record.headers or ())}
        value: Mapping[str, Any] | None = None
        problem: Unmappable | None = None
        if record.value is None:
            problem = Unmappable("writeback.delete", None,
                                 "a delete (tombstone) is not written back: the legacy row stays",
                                 "删除事件不回写：旧系统中的行保持不变")
        else:
            try:
                value = await self.serde.decode(record.value)
            except RegistryError:
                raise
            except Exception as exc:
                problem = Unmappable("writeback.undecodable", None,
                                     f"the event cannot be decoded: {exc}", f"事件无法解码：{exc}")
        event_id = headers.get("ce_id") or _source_event_id(value) or (
            f"{record.topic}:{record.partition}:{record.offset}")
        event = InputEvent(record.topic, record.partition, record.offset, event_id, value, headers)
        if problem is not None or value is None:
            return Prepared(event, None, problem)
        try:
            return Prepared(event, self.config.mapping.apply(value, now))
        except Unmappable as unmappable:
            return Prepared(event, None, unmappable)

    # -- reports -------------------------------------------------------------------------

    async def _report(self, producer: AIOKafkaProducer, prepared: Sequence[Prepared],
                      applied: Applied) -> None:
        """Publish the batch's quarantine and conflict events; returns once Kafka has them."""
        deliveries = []
        for item in prepared:
            if item.problem is not None and applied.outcomes.get(item.event.event_id) == "quarantined":
                deliveries.append(await self._send_quarantine(producer, item.event, item.problem))
        for conflict in applied.conflicts:
            deliveries.append(await self._send_conflict(producer, conflict))
        if deliveries:
            await asyncio.gather(*deliveries)

    async def _send_quarantine(self, producer: AIOKafkaProducer, event: InputEvent,
                               problem: Unmappable) -> Any:
        config = self.config
        value = await self.serde.encode(subject_for(config.quarantine_topic), self._quarantine_schema, {
            "rule_id": problem.rule_id, "field": problem.field, "message_zh": problem.message_zh,
            "message_en": problem.message_en, "department": config.department,
            "table": config.table, "record_key": None, "op": None,
            "original": _as_text_map(event.value), "source_event_id": event.event_id,
            "source_topic": event.topic, "source_partition": event.partition,
            "source_offset": event.offset, "quarantined_at": datetime.now(UTC)})
        headers = self._event(QUARANTINE_EVENT_TYPE, f"quarantine:{event.event_id}", event,
                              f"{config.table}/{event.event_id}").to_headers()
        return await producer.send(config.quarantine_topic, value, key=event.event_id.encode(),
                                   headers=headers)

    async def _send_conflict(self, producer: AIOKafkaProducer, conflict: Conflict) -> Any:
        config, event = self.config, conflict.event
        value = await self.serde.encode(subject_for(config.conflict_topic), self._conflict_schema, {
            "event_id": event.event_id, "department": config.department, "table": config.table,
            "record_key": conflict.record_key, "reason": conflict.reason,
            "policy": config.conflict_policy, "overwritten": conflict.overwritten,
            "legacy_image": conflict.legacy_image, "bus_image": conflict.bus_image,
            "ledger_hash": conflict.ledger_hash, "legacy_hash": conflict.legacy_hash,
            "source_topic": event.topic, "source_partition": event.partition,
            "source_offset": event.offset, "detected_at": datetime.now(UTC)})
        log.info("sink %s: %s for %s (%s)", config.name, conflict.reason, conflict.record_key,
                 "overwritten" if conflict.overwritten else "legacy row kept")
        headers = self._event(CONFLICT_EVENT_TYPE, f"conflict:{event.event_id}", event,
                              f"{config.table}/{conflict.record_key}").to_headers()
        return await producer.send(config.conflict_topic, value,
                                   key=conflict.record_key.encode(), headers=headers)

    def _event(self, type: str, name: str, event: InputEvent, subject: str) -> CloudEvent:
        return CloudEvent(type, self._source, id=str(uuid.uuid5(_IDS, f"{self.config.name}:{name}")),
                          subject=subject, dataclassification="sensitive_personal",
                          traceparent=event.headers.get("traceparent"),
                          correlationid=event.headers.get("correlationid"),
                          causationid=event.event_id)

    # -- status --------------------------------------------------------------------------

    def _count(self, applied: Applied) -> None:
        status = self.status
        status.written += applied.count("written") + applied.count("conflict_overwritten")
        status.replayed += applied.count("replayed")
        status.conflicts += len(applied.conflicts)
        status.quarantined += applied.count("quarantined")
        status.updated_at = time.time()
        if self.metrics:
            for outcome in ("written", "replayed", "conflict_kept", "conflict_overwritten",
                            "quarantined"):
                if count := applied.count(outcome):
                    self.metrics.events.labels(*self._labels, outcome).inc(count)
            self.metrics.last_commit.labels(*self._labels).set(time.time())

    async def _observe(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        lag = 0
        for tp in partitions:
            end = consumer.highwater(tp)
            if end is not None:
                lag += max(0, end - await consumer.position(tp))
        self.status.lag = lag
        if self.metrics:
            self.metrics.lag.labels(*self._labels).set(lag)

    def _set_state(self, state: Any) -> None:
        self.status.state = state
        if self.metrics:
            self.metrics.set_state(self.status)

    def _record_error(self, exc: BaseException) -> None:
        self._set_state("degraded")
        self.status.errors += 1
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        if self.metrics:
            self.metrics.errors.labels(*self._labels).inc()


def _source_event_id(value: Mapping[str, Any] | None) -> str | None:
    source = (value or {}).get("source")
    return str(source["event_id"]) if isinstance(source, Mapping) and source.get("event_id") else None


def _as_text_map(value: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    if value is None:
        return None
    return {name: _text(item) for name, item in value.items()}


def _text(item: Any) -> str | None:
    if item is None:
        return None
    if isinstance(item, datetime | date):
        return item.isoformat()
    if isinstance(item, Mapping | list):
        return json.dumps(item, ensure_ascii=False, default=str, sort_keys=True)
    return str(item)
