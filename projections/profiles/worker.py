"""Runs profile projections on a faust app: one agent per input topic, one outbox publisher.

Each event replaces what its source record says about its subjects in the read store, in one
transaction with the input position (:mod:`projections.profiles.store`). Scale out by
partitions: workers of the same app id split them, and the store's transaction keeps a subject
consistent whichever worker touched it last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.profiles.projection import ProfileProjection
from projections.profiles.publisher import OutboxService
from projections.profiles.store import InputPosition, ProfileStore

__all__ = ["add_profile_projection", "project_event"]


def add_profile_projection(app: faust.App, projection: ProfileProjection, *, store_path: Path,
                           bootstrap: str, registry_url: str) -> None:
    """Add ``projection``'s agents and outbox publisher to ``app`` (nothing connects yet)."""
    for topic_name in projection.topics:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

        async def project(stream: Any) -> None:
            # Each agent has its own connection; SQLite serializes their transactions.
            store = ProfileStore(store_path, projection.authority)
            registry = RegistryClient(registry_url)
            serde = AvroSerde(registry)
            try:
                async for event in stream.events():
                    await project_event(projection, store, serde, event.message)
            finally:
                await registry.close()
                store.close()

        name = f"{projection.name}_{topic_name.replace('.', '_')}"
        app.agent(topic, name=name)(project)

    app.service(OutboxService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path,
        projection=projection.name, authority=dict(projection.authority)))


async def project_event(projection: ProfileProjection, store: ProfileStore, serde: AvroSerde,
                        message: Any) -> bool:
    """Apply one canonical message; False when its position was already applied."""
    at = InputPosition(message.topic, message.partition, message.offset,
                       int(message.timestamp or 0))
    if at.offset < store.next_offset(at.topic, at.partition):
        return False  # skip the Avro decode of a redelivered message; apply() checks again
    key = await serde.decode(message.key)
    event = None if message.value is None else await serde.decode(message.value)
    source_key, contributions = projection.from_event(at, key, event)
    return store.apply(at, source_key, contributions) is not None
