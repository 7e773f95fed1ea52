"""The faust worker building ``citizen_profile`` from five departments' canonical events.

One agent per input topic (``extract.INPUT_TOPICS``); each event replaces what its source
record says about its subjects in the read store, in one transaction with the input position
(``projections.profiles.store``). Scale out by partitions: workers of the same app id split
them, and the store's transaction keeps a subject consistent whichever worker touched it last.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faust

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.citizen_profile.extract import INPUT_TOPICS, authority, from_event
from projections.profiles.publisher import OutboxService
from projections.profiles.store import InputPosition, ProfileStore
from projections.read_committed import ReadCommittedApp

log = logging.getLogger(__name__)


def create_projection_app(
    *, bootstrap: str, registry_url: str, store_path: Path, data_dir: Path,
    app_id: str = "rongtong-citizen-profile",
) -> faust.App:
    """A faust app with one agent per input topic; nothing connects until the worker starts."""
    app = ReadCommittedApp(
        app_id,
        broker=f"kafka://{bootstrap}",
        datadir=str(data_dir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=200,
        broker_commit_interval=1.0,
    )
    for topic_name in INPUT_TOPICS:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

        async def project(stream: Any) -> None:
            # Each agent has its own connection; SQLite serializes their transactions.
            store = ProfileStore(store_path, authority())
            registry = RegistryClient(registry_url)
            serde = AvroSerde(registry)
            try:
                async for event in stream.events():
                    await project_event(store, serde, event.message)
            finally:
                await registry.close()
                store.close()

        app.agent(topic, name=f"project_{topic_name.replace('.', '_')}")(project)

    app.service(OutboxService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path,
        projection="citizen_profile", authority=authority()))

    return app


async def project_event(store: ProfileStore, serde: AvroSerde, message: Any) -> bool:
    """Apply one canonical message; False when its position was already applied."""
    at = InputPosition(message.topic, message.partition, message.offset,
                       int(message.timestamp or 0))
    if at.offset < store.next_offset(at.topic, at.partition):
        return False  # skip the Avro decode of a redelivered message; apply() checks again
    key = await serde.decode(message.key)
    event = None if message.value is None else await serde.decode(message.value)
    source_key, contributions = from_event(at, key, event)
    return store.apply(at, source_key, contributions) is not None
