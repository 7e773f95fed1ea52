"""The standardize stage: legacy change events in, canonical or quarantine events out.

Consume, map and produce happen in one Kafka transaction together with the consumer offsets
(``send_offsets_to_transaction``), so every raw event leads to exactly one canonical or
quarantine event even when the stage is killed half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from adapters.standardize.entity import Entity, canonical_entity
from adapters.standardize.mapping import Mapping, Rejection
from bus.envelope import CloudEvent, InvalidEnvelope, header_value
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryError
from bus.serde.wire import WireFormatError
from schemas.avro_schemas import load_avro_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What the stage decided for one raw event: a topic and an encoded message."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    rule_id: str | None = None


__all__ = ["Entity", "Outcome", "StandardizeStage", "canonical_entity"]


class StandardizeStage:
    """Runs one mapping: ``legacy.<dept>.<table>`` → ``std.<entity>`` | ``quarantine.…``.

    The entity (schema, key schema, key field, classification) comes from the mapping's
    ``entity`` and ``schemas/avro/<entity>.avsc`` + ``<entity>_key.avsc``.
    """

    def __init__(self, mapping: Mapping, consumer: AIOKafkaConsumer,
                 producer: AIOKafkaProducer, serde: AvroSerde) -> None:
        self.mapping = mapping
        self.entity = canonical_entity(mapping.entity)
        self.quarantine_schema = load_avro_schema("quarantined_record")
        self.consumer = consumer
        self.producer = producer
        self.serde = serde
        self.accepted = 0
        self.quarantined: Counter[str] = Counter()

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
        outcomes = [await self.decide(record) for record in records]
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

    async def decide(self, record: ConsumerRecord[Any, Any]) -> Outcome:
        try:
            cause = CloudEvent.from_headers(record.headers)
            change = await self.serde.decode(record.value) if record.value is not None else None
        except (InvalidEnvelope, WireFormatError, RegistryError) as exc:
            return await self._quarantine(
                record, None, Rejection("event.undecodable", f"无法解码的事件：{exc}",
                                        f"undecodable event: {exc}", None), None, None)
        if change is None:
            # A tombstone on the raw topic: the delete event before it already did the work.
            return await self._quarantine(
                record, cause, Rejection("event.tombstone_without_delete", "孤立的墓碑消息",
                                         "tombstone without a delete event", None), None, None)
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
        return await self._canonical(cause, op, row, result, updated_ms)

    async def _canonical(self, cause: CloudEvent, op: str, row: dict[str, str | None],
                         fields: dict[str, Any], updated_ms: int) -> Outcome:
        entity, m = self.entity, self.mapping
        key_value = fields[entity.key_field]
        key = await self.serde.encode(subject_for(m.target_topic, is_key=True), entity.key_schema,
                                      {entity.key_field: key_value})
        event = cause.caused(
            f"rongtong.std.{entity.name}.{'deleted' if op == 'd' else 'upserted'}",
            f"/standardize/{m.department}/{m.table}", subject=f"{entity.name}/{key_value}",
            dataclassification=entity.classification,
        )
        if op == "d":
            return Outcome(m.target_topic, key, None, event.to_headers())
        value = entity.complete(fields)
        value["source"] = {
            "department": m.department, "table": m.table,
            "record_key": row.get(m.key_column) or "", "event_id": cause.id, "op": op,
            "updated_at": datetime.fromtimestamp(updated_ms / 1000, UTC) if updated_ms else None,
        }
        encoded = await self.serde.encode(subject_for(m.target_topic), entity.schema, value)
        return Outcome(m.target_topic, key, encoded, event.to_headers())

    async def _quarantine(self, record: ConsumerRecord[Any, Any], cause: CloudEvent | None,
                          rejection: Rejection, op: str | None,
                          row: dict[str, str | None] | None) -> Outcome:
        m = self.mapping
        record_key = (row or {}).get(m.key_column)
        value = {
            "rule_id": rejection.rule_id, "field": rejection.column,
            "message_zh": rejection.message_zh, "message_en": rejection.message_en,
            "department": m.department, "table": m.table, "record_key": record_key, "op": op,
            "original": row, "source_event_id": cause.id if cause else header_value(
                record.headers, "ce_id"),
            "source_topic": record.topic, "source_partition": record.partition,
            "source_offset": record.offset, "quarantined_at": datetime.now(UTC),
        }
        encoded = await self.serde.encode(subject_for(m.quarantine_topic),
                                          self.quarantine_schema, value)
        source = f"/standardize/{m.department}/{m.table}"
        event = (cause.caused("rongtong.quarantine.record.rejected", source,
                              dataclassification="sensitive_personal")
                 if cause else CloudEvent("rongtong.quarantine.record.rejected", source,
                                          dataclassification="sensitive_personal"))
        log.info("quarantined %s/%s offset %s: %s", record.topic, record.partition,
                 record.offset, rejection.rule_id)
        return Outcome(m.quarantine_topic, (record_key or "").encode("utf-8") or None, encoded,
                       event.to_headers(), rejection.rule_id)

