"""Runs the live resolver on the projections' faust app: one agent per input topic, one outbox.

Each agent has its own store connection (SQLite serializes their transactions), first catches
the store up on a newly assigned partition from the store's own position (:mod:`projections.fill`)
and applies its messages in batches (:mod:`projections.batching`), a transaction per batch. Each
message of a person-bearing ``std.<entity>`` or ``quarantine.<dept>.<table>`` topic updates
records, blocks and decisions with its input position, each message of ``std.link_decision`` applies a
decision (a reviewer's, or one already taken here: skipped by id). The outbox service publishes
the decisions taken on ``std.link_decision`` (key: the pair), one publisher at a time.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from mode import Service

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from projections.batching import event_batches
from projections.fill import PartitionFills
from projections.kafka_time import timestamp_ms
from projections.profiles.store import InputPosition
from projections.resolution.decisions import LinkDecision
from projections.resolution.live import DECISIONS_TOPIC, INPUT_TOPICS, LiveResolver, mentions, source_key
from projections.resolution.store import ResolutionStore
from schemas.avro_schemas import load_avro_schema

__all__ = ["INPUT_TOPICS", "OutboxService", "add_resolution", "encode_decision", "input_topic_specs",
           "resolve_message", "resolve_messages"]

log = logging.getLogger(__name__)

LEASE_MS = 15_000


def input_topic_specs() -> list[TopicSpec]:
    """Every topic the resolver reads, decisions included: all keep their history."""
    return [TopicSpec.history(topic) for topic in INPUT_TOPICS]


def add_resolution(app: faust.App, *, store_path: Path, bootstrap: str, registry_url: str) -> faust.App:
    """Register the resolver's agents and its outbox publisher; nothing connects until the worker starts."""
    fills: dict[str, PartitionFills] = {}  # per input topic, while its agent runs

    def agent_for(topic_name: str) -> Callable[[Any], Awaitable[None]]:
        async def resolve(stream: Any) -> None:
            store = ResolutionStore(store_path)
            resolver = LiveResolver(store)
            registry = RegistryClient(registry_url)
            serde = AvroSerde(registry)

            async def apply(messages: Sequence[Any]) -> int:
                return await resolve_messages(resolver, serde, messages)

            fills[topic_name] = catch_up = PartitionFills("resolution", bootstrap, store.next_offset,
                                                           apply)
            try:
                async for events in event_batches(stream):
                    messages = [event.message for event in events]
                    for message in messages:
                        await catch_up.wait(message.topic, message.partition, message.offset)
                    await apply(messages)
            finally:
                catch_up.cancel()
                fills.pop(topic_name, None)
                await registry.close()
                store.close()

        return resolve

    for topic_name in INPUT_TOPICS:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        app.agent(topic, name=f"resolution_{topic_name.replace('.', '_')}")(agent_for(topic_name))

    async def fill_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Catch the store up on each newly assigned partition (``projections.fill``)."""
        assigned: set[Any] = args[0] if args else kwargs.get("assigned", set())
        for tp in assigned:
            if tp.topic in fills:
                fills[tp.topic].start(tp.topic, tp.partition)

    app.on_partitions_assigned.connect(fill_assigned)
    app.service(OutboxService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path))
    return app


async def resolve_message(resolver: LiveResolver, serde: AvroSerde, message: Any) -> bool:
    """Apply one input message; False when its position was already applied."""
    return await resolve_messages(resolver, serde, [message]) == 1


async def resolve_messages(resolver: LiveResolver, serde: AvroSerde, messages: Sequence[Any]) -> int:
    """Apply input messages in order in one transaction; how many were not applied before."""
    decoded: list[tuple[InputPosition, bytes | None, Any, Any]] = []
    store = resolver.store
    known: dict[tuple[str, int], int] = {}
    for message in messages:
        at = InputPosition(message.topic, message.partition, message.offset, timestamp_ms(message))
        partition = (at.topic, at.partition)
        if partition not in known:
            known[partition] = store.next_offset(at.topic, at.partition)
        if at.offset < known[partition]:
            continue  # skip the Avro decode of a redelivered message; the store checks again
        value = None if message.value is None else await serde.decode(message.value)
        key = None
        if at.topic != DECISIONS_TOPIC and not at.topic.startswith("quarantine."):
            key = await serde.decode(message.key)
        decoded.append((at, message.key, key, value))
    applied = 0
    with store.transaction():
        for at, raw_key, key, value in decoded:
            applied += _resolve(resolver, at, raw_key, key, value)
    return applied


def _resolve(resolver: LiveResolver, at: InputPosition, raw_key: bytes | None, key: Any, value: Any
             ) -> bool:
    if at.topic == DECISIONS_TOPIC:
        if value is None:
            return resolver.skip(at)
        return resolver.on_decision(at, LinkDecision.from_avro(value)) is not None
    if at.topic.startswith("quarantine."):
        ref = source_key(at.topic, raw_key or b"")  # the stage keys quarantine by the row key
    else:
        ref = source_key(at.topic, key)
    records = None if value is None else mentions(at.topic, value)
    taken = resolver.on_records(at, ref, records)
    if taken:
        log.debug("resolution: %d decision(s) from %s/%s@%s", len(taken), at.topic, at.partition, at.offset)
    return taken is not None


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    """A schema loaded once: the serde caches its encoder by the schema object's identity (a
    fresh copy per decision would register and compile it again every time)."""
    return load_avro_schema(name)


async def encode_decision(serde: AvroSerde, decision: LinkDecision
                          ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and CloudEvents headers of a decision on ``std.link_decision``."""
    key = await serde.encode(subject_for(DECISIONS_TOPIC, is_key=True), _schema("link_decision_key"),
                             {"pair_id": decision.pair_id})
    value = await serde.encode(subject_for(DECISIONS_TOPIC), _schema("link_decision"),
                               decision.to_avro())
    event = CloudEvent(f"rongtong.resolution.link_decision.{decision.kind.value}", "/projections/resolution",
                       id=decision.decision_id, time=decision.decided_at, subject=decision.pair_id,
                       dataclassification="sensitive_personal" if decision.subject else "internal")
    return key, value, event.to_headers()


class OutboxService(Service):
    """Publishes the resolver's decisions (a faust app service beside its agents)."""

    def __init__(self, *, bootstrap: str, registry_url: str, store_path: Path, interval: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.store_path = store_path
        self.interval = interval
        self.holder = uuid.uuid4().hex
        self._producer: AIOKafkaProducer | None = None
        self._registry: RegistryClient | None = None
        self._serde: AvroSerde | None = None
        self._store: ResolutionStore | None = None

    async def on_start(self) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec.history(DECISIONS_TOPIC)])
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                          enable_idempotence=True, linger_ms=20)
        await self._producer.start()
        self._registry = RegistryClient(self.registry_url)
        self._serde = AvroSerde(self._registry)  # one for the service: its encoders are cached
        self._store = ResolutionStore(self.store_path)
        self.add_future(self._run())

    async def drain(self, limit: int = 500) -> int:
        assert self._store is not None and self._producer is not None and self._serde is not None
        if not self._store.lease(self.holder, int(time.time() * 1000), LEASE_MS):
            return 0
        rows = self._store.outbox(limit)
        if not rows:
            return 0
        serde = self._serde
        futures = []
        for _id, decision in rows:
            key, value, headers = await encode_decision(serde, decision)
            futures.append(await self._producer.send(DECISIONS_TOPIC, value, key, headers=headers))
        for future in futures:
            await future
        self._store.published(rows[-1][0])
        return len(rows)

    async def _run(self) -> None:
        while not self.should_stop:
            try:
                sent = await self.drain()
            except Exception:  # Kafka or the registry away: keep the outbox, try again
                log.warning("publishing the resolution outbox failed; retrying", exc_info=True)
                sent = 0
            if not sent:
                await self.sleep(self.interval)

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._registry is not None:
            await self._registry.close()
        if self._store is not None:
            self._store.close()
