"""Runs one capture source: read batches, publish them with their checkpoint, acknowledge.

A batch's records — its change events, a tombstone after every delete, quarantine records for
rows that could not be decoded — and its checkpoint go out in one Kafka transaction; with the
pipeline, consecutive batches already built share one (:mod:`adapters.capture.group_commit`),
with the last checkpoint. The checkpoint is therefore never ahead of what Kafka has stored,
and after a crash the source resumes exactly after the last committed batch. Source and broker
outages are retried with exponential backoff and jitter; a misconfigured source fails at once
with a message naming the setting.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import BrokenExecutor
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from adapters.capture.change_event import (
    ChangeEventIds,
    ChangeRecords,
    change_key_schema,
    change_value_schema,
)
from adapters.capture.echo import EchoFilter, echo_filter_for
from adapters.capture.group_commit import GroupCommitter
from adapters.capture.record_workers import (
    Built,
    RecordPlan,
    RecordWorkers,
    build_records,
    key_record,
    outgoing_records,
    shared_workers,
    wire,
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
from bus.envelope import CloudEvent, HeaderTemplate
from bus.kafka import OutgoingRecord, send_batched
from bus.positions import read_position, send_position
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.encoder import Encoder
from bus.serde.registry_client import RegistryError
from bus.serde.wire import header, schema_id_of
from schemas.avro_schemas import load_avro_schema

log = logging.getLogger(__name__)
#: Batches read ahead of the last committed one when the source allows it (``pipeline``);
#: also the most batches one transaction commits together. Each transaction waits on round
#: trips (partitions added, produce requests, markers): at 4, a SQLite snapshot's commits took
#: a third of the time with the CPU idle; 16 keeps the broker busy (32 gained nothing more).
PIPELINE_DEPTH = 16
#: Batches smaller than this are built in-process: shipping them costs more than it saves.
WORKER_MIN_BATCH = 32
CHANGE_EVENT_TYPE = "rongtong.legacy.row.changed"
#: A batch without the sinks' echoes, and the records that publish it.
_Prepared = tuple[Batch, list[OutgoingRecord]]
QUARANTINE_EVENT_TYPE = "rongtong.quarantine.record.rejected"


@dataclass(frozen=True)
class _Encoding:
    """What encodes the rows of one column set: its value encoder and record builder."""

    value: Encoder
    records: ChangeRecords
    #: What a worker process needs to build the same records (None: in-process only).
    plan: RecordPlan | None = None


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
        echoes: EchoFilter | None = None, pipeline: bool = False, workers: int = 0,
    ) -> None:
        self.source = source
        #: Drops the rows write-back sinks wrote (adapters/capture/echo.py); SQL sources only.
        self.echoes = echoes if echoes is not None else echo_filter_for(source)
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
        self._encodings: dict[tuple[str, ...], _Encoding] = {}
        self._key_schema = change_key_schema(self.spec.department, self.spec.table,
                                             self.spec.key_columns)
        self._quarantine_schema = load_avro_schema("quarantined_record")
        # Per-row constants, computed once.
        self._key_subject = subject_for(self.spec.topic, is_key=True)
        self._value_subject = subject_for(self.spec.topic)
        self._event_source = (f"/adapters/{self.spec.department}/{source.engine}/"
                              f"{self.spec.table}")
        self._event_ids = ChangeEventIds(self.spec.department, self.spec.table)
        self._subject_prefix = f"{self.spec.table}/"
        self._key_record = key_record(self.spec.key_columns)
        #: Read the next batches while earlier ones are built and committed — only for sources
        #: whose next read does not wait for the previous acknowledgement (``reads_ahead``).
        self.pipeline = pipeline and bool(getattr(source, "reads_ahead", False))
        #: Worker processes building the records (``BUS_CAPTURE_WORKERS``; Avro serde only),
        #: while the event loop reads ahead. Without the pipeline there is nothing to overlap:
        #: handing a batch over and back costs more than the worker saves (measured on diff).
        self.workers: RecordWorkers | None = (
            shared_workers(workers)
            if workers > 0 and self.pipeline and isinstance(serde, AvroSerde) else None)

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
            except (TimeoutError, SourceError, KafkaError, RegistryError, OSError,
                    BrokenExecutor) as exc:
                if isinstance(exc, BrokenExecutor) and self.workers is not None:
                    self.workers.reset()  # a worker process died: start a new pool
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
                if self.pipeline:
                    await self._pipelined(producer, batches, checkpoint, stop, backoff)
                    return
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
            if self.echoes is not None:
                self.echoes.close()

    async def _pipelined(self, producer: AIOKafkaProducer, batches: AsyncGenerator[Batch, None],
                         checkpoint: Checkpoint | None, stop: asyncio.Event,
                         backoff: Backoff) -> None:
        """The loop of :meth:`_run_once` with reading, building and committing overlapped.

        Up to :data:`PIPELINE_DEPTH` batches are read ahead of the last committed one; the
        sinks' echoes are dropped and the records built as they arrive, off the reading path
        (in worker processes when configured), and committed in reading order by a
        :class:`GroupCommitter`, every batch already built joining the transaction of the
        oldest with the last checkpoint. One transaction at a time, so a checkpoint is never
        stored before the batches it follows. A failed commit fails the
        batches after it; the runner then restarts from the last committed checkpoint.
        """
        committer: GroupCommitter[Batch, _Prepared] = GroupCommitter(
            functools.partial(self._commit_group, producer), PIPELINE_DEPTH)
        try:
            while True:
                try:  # a failed commit ends a read waiting on acknowledgements, too
                    batch = await committer.alongside(anext(batches))
                except StopAsyncIteration:
                    break
                if batch.changes or batch.checkpoint != checkpoint:
                    await committer.submit(batch, asyncio.ensure_future(self._prepared(batch)))
                    checkpoint = batch.checkpoint
                else:  # nothing new: report liveness once everything read is committed
                    await committer.drain()
                    self._observe(batch)
                backoff.reset()
                if stop.is_set():
                    break
            await committer.drain()
        finally:
            await committer.close()

    async def _prepared(self, batch: Batch) -> _Prepared:
        """``batch`` without the sinks' echoes, and its records (off the reading path)."""
        kept = await self._without_echoes(batch)
        return kept, await self._records(kept)

    async def _commit_group(self, producer: AIOKafkaProducer, batches: Sequence[Batch],
                            prepared: Sequence[_Prepared]) -> None:
        """One transaction for consecutive ``batches``: all their records, the last checkpoint."""
        kept = [batch for batch, _ in prepared]
        if len(kept) == 1:
            group, records = prepared[0]
        else:
            group = replace(kept[-1], changes=[c for batch in kept for c in batch.changes])
            records = [record for _, batch_records in prepared for record in batch_records]
        await self._commit_in_time(producer, group, records)
        # Checkpoints are cumulative: the group's last acknowledges every batch in it (a diff
        # applies its staged hashes, a file drop archives, once per transaction).
        await self.source.acknowledge(kept[-1].checkpoint)
        for batch in kept:
            self._observe(batch)

    async def _publish_in_time(self, producer: AIOKafkaProducer, batch: Batch) -> None:
        try:
            await asyncio.wait_for(self._publish(producer, batch), self.publish_timeout)
        except TimeoutError as exc:
            raise KafkaTimeoutError(
                f"Kafka did not commit a batch within {self.publish_timeout:.0f}s") from exc

    async def _commit_in_time(self, producer: AIOKafkaProducer, batch: Batch,
                              records: list[OutgoingRecord]) -> None:
        try:
            await asyncio.wait_for(self._commit(producer, batch, records), self.publish_timeout)
        except TimeoutError as exc:
            raise KafkaTimeoutError(
                f"Kafka did not commit a batch within {self.publish_timeout:.0f}s") from exc

    async def _publish(self, producer: AIOKafkaProducer, batch: Batch) -> None:
        batch = await self._without_echoes(batch)
        await self._commit(producer, batch, await self._records(batch))

    async def _without_echoes(self, batch: Batch) -> Batch:
        if self.echoes is not None and batch.changes:
            kept = await self.echoes.drop_echoes(self.spec.table, batch.changes)
            if len(kept) < len(batch.changes):
                self._count_echoes(len(batch.changes) - len(kept))
                batch = replace(batch, changes=kept)
        return batch

    async def _commit(self, producer: AIOKafkaProducer, batch: Batch,
                      records: list[OutgoingRecord]) -> None:
        """One transaction: the batch's records, then its checkpoint."""
        async with producer.transaction():
            if batch.durable is None:
                await send_batched(producer, records)
            else:  # the source's own record reaches the disk while the records are sent
                await asyncio.gather(send_batched(producer, records), batch.durable())
            await send_position(producer, self.spec.owner, batch.checkpoint)
        quarantined = sum(1 for c in batch.changes if c.undecodable)
        if self.metrics:
            labels = self._labels()
            self.metrics.last_commit.labels(*labels).set(time.time())
            if quarantined:
                self.metrics.quarantined.labels(*labels).inc(quarantined)
            for op, count in Counter(c.op for c in batch.changes if not c.undecodable).items():
                self.metrics.rows.labels(*labels, op).inc(count)
        self.status.quarantined += quarantined

    async def _records(self, batch: Batch) -> list[OutgoingRecord]:
        """Every record that publishes ``batch``: events, tombstones, quarantine records."""
        if not batch.changes:
            return []
        columns = batch.columns or self._columns or _columns_of(batch.changes)
        self._columns = columns
        encoding = await self._encoding(columns)
        encode_key = await self.serde.encoder(self._key_subject, self._key_schema)
        captured = datetime.now(UTC)
        captured_ms = int(captured.timestamp() * 1000)
        template = HeaderTemplate(CHANGE_EVENT_TYPE, self._event_source, captured,
                                  dataclassification=self.spec.classification)
        topic, key_record = self.spec.topic, self._key_record
        build, encode_value = encoding.records.record, encoding.value
        event_id, subject_prefix = self._event_ids.of_change, self._subject_prefix
        if isinstance(self.serde, AvroSerde) and not any(
                change.undecodable for change in batch.changes):
            built = await self._built(batch.changes, encoding, encode_key, captured_ms)
            return outgoing_records(topic, batch.changes, built, template, subject_prefix)
        headers = template.headers
        records: list[OutgoingRecord] = []
        for change in batch.changes:
            if change.undecodable:
                records.append(await self._quarantine(change))
                continue
            op, change_key, after = change.op, change.key, change.after
            key_string = key_text(change_key)
            key = encode_key(key_record(change_key))
            value = encode_value(build(op, change.before, after, position=change.position,
                                       snapshot=change.snapshot, ts_ms=change.commit_ts_ms,
                                       captured_ms=captured_ms))
            event_headers = headers(event_id(key_string, op, after or change_key),
                                    subject_prefix + key_string)
            records.append((topic, key, value, event_headers))
            if op == "d":  # compacted consumers forget the row
                records.append((topic, key, None, event_headers))
        return records

    async def _built(self, changes: Sequence[Change], encoding: _Encoding, encode_key: Encoder,
                     captured_ms: int) -> list[Built]:
        """Keys, values, event ids and key texts of ``changes``: by the worker processes while
        the event loop reads the next batch, or here (through the C speedups when built)."""
        plan = encoding.plan
        if plan is None:
            plan = self._plan(encoding, encode_key)
            self._encodings[encoding.records.columns] = replace(encoding, plan=plan)
        if self.workers is not None and len(changes) >= WORKER_MIN_BATCH:
            return await self.workers.build(plan, [wire(change) for change in changes],
                                            captured_ms)
        return build_records(plan, changes, captured_ms)

    def _plan(self, encoding: _Encoding, encode_key: Encoder) -> RecordPlan:
        """The worker's copy of this column set's encoding: schemas and wire headers."""
        columns, spec = encoding.records.columns, self.spec
        value_schema = change_value_schema(spec.department, spec.table, columns)
        probe = encoding.records.record("r", None, None, position="", snapshot=True, ts_ms=0,
                                        captured_ms=0)
        value_prefix = header(schema_id_of(encoding.value(probe)))
        key_prefix = header(schema_id_of(encode_key(self._key_record({}))))
        return RecordPlan(spec.department, spec.table, self.source.engine, self.source.database,
                          columns, spec.key_columns,
                          json.dumps(value_schema, ensure_ascii=False, sort_keys=True),
                          value_prefix, json.dumps(self._key_schema, ensure_ascii=False,
                                                   sort_keys=True), key_prefix)

    async def _encoding(self, columns: tuple[str, ...]) -> _Encoding:
        """Encoder and record builder of a column set, built (and registered) once."""
        encoding = self._encodings.get(columns)
        if encoding is None:
            schema = change_value_schema(self.spec.department, self.spec.table, columns)
            encoding = _Encoding(
                await self.serde.encoder(self._value_subject, schema),
                ChangeRecords(columns, department=self.spec.department, engine=self.source.engine,
                              database=self.source.database, table=self.spec.table))
            self._encodings[columns] = encoding
        return encoding

    async def _quarantine(self, change: Change) -> OutgoingRecord:
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

    def _count_echoes(self, count: int) -> None:
        self.status.echoes_suppressed += count
        if self.metrics:
            self.metrics.echoes.labels(*self._labels()).inc(count)

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
