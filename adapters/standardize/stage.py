"""The standardize stage: legacy change events in, canonical or quarantine events out.

Consume, map and produce happen in one Kafka transaction together with the consumer offsets
(``send_offsets_to_transaction``), so every raw event leads to exactly one canonical or
quarantine event even when the stage is killed half-way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from adapters.standardize.entity import Entity, canonical_entity
from adapters.standardize.mapping import Mapping, Rejection
from adapters.standardize.metrics import StandardizeMetrics
from adapters.standardize.outcomes import Outcome, OutcomeEncoder, RawOrigin
from bus.envelope import CloudEvent, InvalidEnvelope, header_value
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryError
from bus.serde.wire import WireFormatError

log = logging.getLogger(__name__)

__all__ = ["Entity", "Outcome", "StandardizeStage", "canonical_entity"]


class StandardizeStage:
    """Runs one mapping: ``legacy.<dept>.<table>`` → ``std.<entity>`` | ``quarantine.…``.

    The entity (schema, key schema, key field, classification) comes from the mapping's
    ``entity`` and ``schemas/avro/<entity>.avsc`` + ``<entity>_key.avsc``.
    """

    def __init__(self, mapping: Mapping, consumer: AIOKafkaConsumer,
                 producer: AIOKafkaProducer, serde: AvroSerde,
                 metrics: StandardizeMetrics | None = None) -> None:
        self.mapping = mapping
        self.outcomes = OutcomeEncoder(mapping, serde)
        self.entity = self.outcomes.entity
        self.consumer = consumer
        self.producer = producer
        self.serde = serde
        self.metrics = metrics
        self.accepted = 0
        self.quarantined: Counter[str] = Counter()
        if metrics is not None:
            metrics.prepare(mapping)

    @property
    def group_id(self) -> str:
        return f"bus.standardize.{self.mapping.department}.{self.mapping.table}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                if records:
                    await self.process(tp, records)

    async def process(self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> None:
        decided = [await self.decide(record) for record in records]
        outcomes = [outcome for outcome in decided if outcome is not None]
        async with self.producer.transaction():
            for outcome in outcomes:
                await self.producer.send(outcome.topic, key=outcome.key, value=outcome.value,
                                         headers=outcome.headers)
            await self.producer.send_offsets_to_transaction(
                {tp: records[-1].offset + 1}, self.group_id
            )
        for outcome in outcomes:
            if outcome.rule_id is None:
                self.accepted += 1
            else:
                self.quarantined[outcome.rule_id] += 1
        if self.metrics is not None:
            self.metrics.committed(self.mapping, outcomes, time.time())

    async def decide(self, record: ConsumerRecord[Any, Any]) -> Outcome | None:
        """The canonical or quarantine event of one raw event; None for a raw tombstone."""
        try:
            cause = CloudEvent.from_headers(record.headers)
            change = await self.serde.decode(record.value) if record.value is not None else None
        except (InvalidEnvelope, WireFormatError, RegistryError) as exc:
            return await self._quarantine(
                record, None, Rejection("event.undecodable", f"无法解码的事件：{exc}",
                                        f"undecodable event: {exc}", None), None, None)
        if change is None:
            # A tombstone on the raw topic only lets compaction forget the row; the delete event
            # before it already produced the canonical tombstone. Nothing to do.
            return None
        op = str(change["op"])
        row = change["before"] if op == "d" else change["after"]
        if row is None:
            return await self._quarantine(
                record, cause, Rejection("event.no_row_image", "变更事件缺少行数据",
                                         "change event carries no row image", None), op, None)
        result = self.mapping.apply(row)
        if isinstance(result, Rejection):
            return await self._quarantine(record, cause, result, op, row)
        updated_ms = int(change["source"]["ts_ms"])
        return await self.outcomes.canonical(cause, cause.id, op, row, result, updated_ms)

    async def _quarantine(self, record: ConsumerRecord[Any, Any], cause: CloudEvent | None,
                          rejection: Rejection, op: str | None,
                          row: dict[str, str | None] | None) -> Outcome:
        log.info("quarantined %s/%s offset %s: %s", record.topic, record.partition,
                 record.offset, rejection.rule_id)
        origin = RawOrigin(record.topic, record.partition, record.offset,
                           header_value(record.headers, "ce_id"))
        return await self.outcomes.quarantine(origin, cause, rejection, op, row)
