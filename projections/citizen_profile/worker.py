"""The faust worker projecting ``std.person`` into the ``citizen_profile`` read store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faust

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.citizen_profile.store import CitizenProfileStore, InputPosition
from projections.read_committed import ReadCommittedApp

log = logging.getLogger(__name__)
INPUT_TOPIC = "std.person"


def create_projection_app(
    *, bootstrap: str, registry_url: str, store_path: Path, data_dir: Path,
    app_id: str = "rongtong-citizen-profile",
) -> faust.App:
    """A faust app with one agent; nothing connects until the worker starts it."""
    app = ReadCommittedApp(
        app_id,
        broker=f"kafka://{bootstrap}",
        datadir=str(data_dir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=200,
        broker_commit_interval=1.0,
    )
    topic = app.topic(INPUT_TOPIC, key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def project_person(stream: Any) -> None:
        store = CitizenProfileStore(store_path)
        registry = RegistryClient(registry_url)
        serde = AvroSerde(registry)
        try:
            async for event in stream.events():
                await project_event(store, serde, event.message)
        finally:
            await registry.close()
            store.close()

    return app


async def project_event(store: CitizenProfileStore, serde: AvroSerde, message: Any) -> bool:
    """Apply one ``std.person`` message; False when its position was already applied."""
    at = InputPosition(message.topic, message.partition, message.offset)
    if at.offset < store.next_offset(at.topic, at.partition):
        return False
    key = await serde.decode(message.key)
    person = await serde.decode(message.value) if message.value is not None else None
    applied = store.apply(at, str(key["identity_number"]), person)
    if not applied:
        log.debug("skipped already projected %s", at)
    return applied
