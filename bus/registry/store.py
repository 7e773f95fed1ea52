"""Durable storage of registry records: the compacted Kafka topic ``_schemas``.

``KafkaSchemaStore`` rebuilds the state at start by reading the topic from the beginning up
to the end offset seen at start, then appends each write with ``acks=all`` and applies it
only once Kafka confirmed it. ``MemorySchemaStore`` keeps records in a list, for tests.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from bus.registry.errors import StoreError
from bus.registry.records import LogRecord, decode_record, encode_record
from bus.registry.state import RegistryState

__all__ = ["DEFAULT_TOPIC", "KafkaSchemaStore", "MemorySchemaStore"]

DEFAULT_TOPIC = "_schemas"
_TOPIC_ALREADY_EXISTS = 36

log = logging.getLogger(__name__)


class MemorySchemaStore:
    """A store that keeps its records in memory (tests, and a registry without Kafka)."""

    def __init__(self, records: list[LogRecord] | None = None) -> None:
        self.records: list[LogRecord] = list(records or [])
        self._state = RegistryState()

    @property
    def state(self) -> RegistryState:
        return self._state

    async def start(self) -> None:
        self._state = RegistryState()
        for record in self.records:
            self._state.apply(record)

    async def stop(self) -> None:
        return None

    async def append(self, record: LogRecord) -> None:
        self.records.append(record)
        self._state.apply(record)


class KafkaSchemaStore:
    """Registry records in a single-partition compacted topic, in Confluent's format."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = DEFAULT_TOPIC,
        *,
        replication_factor: int = 1,
        load_timeout_s: float = 60.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._replication_factor = replication_factor
        self._load_timeout_s = load_timeout_s
        self._state = RegistryState()
        self._producer: AIOKafkaProducer | None = None

    @property
    def state(self) -> RegistryState:
        return self._state

    @property
    def topic(self) -> str:
        return self._topic

    async def start(self) -> None:
        await self._ensure_topic()
        self._state = RegistryState()
        count = await asyncio.wait_for(self._load(), self._load_timeout_s)
        log.info("registry loaded %d records from %s", count, self._topic)
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id="rongtong-registry",
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def append(self, record: LogRecord) -> None:
        if self._producer is None:
            raise StoreError("The schema store is not started")
        key, value = encode_record(record)
        try:
            await self._producer.send_and_wait(self._topic, value=value, key=key, partition=0)
        except KafkaError as exc:
            log.exception("writing to %s failed", self._topic)
            raise StoreError(f"Error while writing to the schema store: {exc}") from exc
        self._state.apply(record)

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            if self._topic in await admin.list_topics():
                return
            topic = NewTopic(
                self._topic,
                num_partitions=1,
                replication_factor=self._replication_factor,
                topic_configs={"cleanup.policy": "compact"},
            )
            response = await admin.create_topics([topic])
            for name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise StoreError(f"Cannot create topic {name}: error {code} {rest}")
            log.info("created compacted topic %s", self._topic)
        finally:
            await admin.close()

    async def _load(self) -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            return await self._read_to_end(consumer)
        finally:
            await consumer.stop()

    async def _read_to_end(self, consumer: AIOKafkaConsumer) -> int:
        partition = TopicPartition(self._topic, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        await consumer.seek_to_beginning(partition)
        count = 0
        while await consumer.position(partition) < end:
            batches = await consumer.getmany(partition, timeout_ms=500)
            for message in batches.get(partition, []):
                if message.offset >= end:
                    break
                record = decode_record(message.key, message.value)
                if record is not None:
                    self._state.apply(record)
                    count += 1
        return count
