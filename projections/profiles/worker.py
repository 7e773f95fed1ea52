"""Runs profile projections on a faust app: one agent per input topic, one outbox publisher.

Each event replaces what its source record says about its subjects in the read store, in one
transaction with the input position (:mod:`projections.profiles.store`). Scale out by
partitions: workers of the same app id split them, and the store's transaction keeps a subject
consistent whichever worker touched it last.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.profiles.location import live_store
from projections.profiles.projection import ProfileProjection
from projections.profiles.publisher import OutboxService
from projections.profiles.store import InputPosition, ProfileStore

__all__ = ["LiveStore", "add_profile_projection", "project_event"]

log = logging.getLogger(__name__)


def add_profile_projection(app: faust.App, projection: ProfileProjection, *, store_path: Path,
                           bootstrap: str, registry_url: str) -> None:
    """Add ``projection``'s agents and outbox publisher to ``app`` (nothing connects yet)."""
    for topic_name in projection.topics:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

        async def project(stream: Any) -> None:
            # Each agent has its own connection; SQLite serializes their transactions.
            live = LiveStore(store_path, projection, bootstrap)
            registry = RegistryClient(registry_url)
            serde = AvroSerde(registry)
            try:
                async for event in stream.events():
                    await live.follow(serde)
                    await project_event(projection, live.store, serde, event.message,
                                        gap_filler=live.fill_gap)
            finally:
                await registry.close()
                live.close()

        name = f"{projection.name}_{topic_name.replace('.', '_')}"
        app.agent(topic, name=name)(project)

    app.service(OutboxService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path,
        projection=projection.name, authority=dict(projection.authority)))


GapFiller = Callable[[AvroSerde, InputPosition], Awaitable[None]]


async def project_event(projection: ProfileProjection, store: ProfileStore, serde: AvroSerde,
                        message: Any, gap_filler: GapFiller | None = None) -> bool:
    """Apply one canonical message; False when its position was already applied."""
    at = InputPosition(message.topic, message.partition, message.offset,
                       int(message.timestamp or 0))
    if at.offset < store.next_offset(at.topic, at.partition):
        return False  # skip the Avro decode of a redelivered message; apply() checks again
    if gap_filler is not None:
        await gap_filler(serde, at)
    key = await serde.decode(message.key)
    event = None if message.value is None else await serde.decode(message.value)
    source_key, contributions = projection.from_event(at, key, event)
    return store.apply(at, source_key, contributions) is not None


class LiveStore:
    """The live read store of one agent, following a rebuild's switch.

    When ``bus projections rebuild`` points readers at a new store, the agent adopts it. The
    new store's positions may lag what this agent already consumed (the rebuild stopped reading
    a moment before the switch), so the first event of each partition after adopting fills that
    gap from Kafka before it is applied: nothing is skipped, nothing applied twice.
    """

    def __init__(self, default: Path, projection: ProfileProjection, bootstrap: str) -> None:
        self.default = default
        self.projection = projection
        self.bootstrap = bootstrap
        self.store = ProfileStore(live_store(default), projection.authority)
        self._unchecked: set[tuple[str, int]] | None = None  # partitions to check after a switch

    async def follow(self, serde: AvroSerde) -> None:
        path = live_store(self.default)
        if path == self.store.path:
            return
        log.info("%s: adopting the rebuilt store %s", self.projection.name, path.name)
        self.store.close()
        self.store = ProfileStore(path, self.projection.authority)
        self._unchecked = set()

    async def fill_gap(self, serde: AvroSerde, at: InputPosition) -> None:
        if self._unchecked is None or (at.topic, at.partition) in self._unchecked:
            return
        self._unchecked.add((at.topic, at.partition))
        start = self.store.next_offset(at.topic, at.partition)
        if start >= at.offset:
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed")
        await consumer.start()
        try:
            tp = TopicPartition(at.topic, at.partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            while await consumer.position(tp) < at.offset:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for message in batch.get(tp, []):
                    if message.offset < at.offset:
                        await project_event(self.projection, self.store, serde, message)
        finally:
            await consumer.stop()
        log.info("%s: filled %s/%s from %d to %d after adopting the rebuilt store",
                 self.projection.name, at.topic, at.partition, start, at.offset)

    def close(self) -> None:
        self.store.close()
