"""Kafka plumbing shared by every bus process: topic creation, producers, consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class TopicSpec:
    """A topic the bus owns: name, partitions and its configuration (e.g. compaction)."""

    name: str
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def compacted(cls, name: str, partitions: int = 1) -> TopicSpec:
        return cls(name, partitions, {"cleanup.policy": "compact"})

    @classmethod
    def history(cls, name: str, partitions: int = 1) -> TopicSpec:
        """A topic that keeps every event forever (Kafka is the source of truth)."""
        return cls(name, partitions, {"retention.ms": "-1", "retention.bytes": "-1"})


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in missing]
            )
        except TopicAlreadyExistsError:
            pass  # another process created it meanwhile
        await _wait_for_metadata(admin, {s.name for s in missing})
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(50):
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


def transactional_producer(bootstrap: str, transactional_id: str) -> AIOKafkaProducer:
    """Idempotent producer whose sends commit atomically with the positions they advance."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=transactional_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


def committed_reader(bootstrap: str, *topics: str, group_id: str | None = None) -> AIOKafkaConsumer:
    """Consumer that sees only committed transactions and commits offsets explicitly."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
