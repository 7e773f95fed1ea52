"""Sends events new applications publish to their canonical topics (acks=all, idempotent)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from bus.envelope import CloudEvent
from bus.governance.sources import CanonicalEntity
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for

__all__ = ["EventPublisher", "EventSink", "Published"]


@dataclass(frozen=True)
class Published:
    topic: str
    partition: int
    offset: int


class EventSink(Protocol):
    async def publish(self, entity: CanonicalEntity, key: dict[str, Any],
                      value: dict[str, Any] | None, event: CloudEvent) -> Published:
        """Send the event; returns its position once Kafka has it."""

    async def close(self) -> None: ...


class EventPublisher:
    def __init__(self, bootstrap: str, serde: AvroSerde) -> None:
        self.bootstrap = bootstrap
        self.serde = serde
        self._producer: AIOKafkaProducer | None = None
        self._ensured: set[str] = set()
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        """The producer, started on first use (the API comes up without Kafka)."""
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap,
                                            enable_idempotence=True, acks="all", linger_ms=2)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, entity: CanonicalEntity, key: dict[str, Any],
                      value: dict[str, Any] | None, event: CloudEvent) -> Published:
        """``value`` on ``std.<entity>`` (None: a tombstone); returns once Kafka has it."""
        producer = await self._started()
        if entity.topic not in self._ensured:
            async with self._lock:
                await ensure_topics(self.bootstrap, [TopicSpec.history(entity.topic)])
                self._ensured.add(entity.topic)
        encoded_key = await self.serde.encode(subject_for(entity.topic, is_key=True),
                                              entity.key_schema, key)
        encoded = None if value is None else await self.serde.encode(
            subject_for(entity.topic), entity.value_schema, value)
        delivery = await producer.send(entity.topic, encoded, key=encoded_key,
                                             headers=event.to_headers())
        metadata = await delivery
        return Published(metadata.topic, metadata.partition, metadata.offset)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
