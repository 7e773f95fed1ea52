"""Runs profile projections on a faust app: one agent per input topic, one outbox publisher.

Each agent takes its events in batches (:mod:`projections.batching`) and applies a batch in one
store transaction with the input positions (:mod:`projections.profiles.store`): each event still
replaces what its source record says about its subjects and writes its own versions, but the
commit — the dominant cost of a transaction per event — is paid once per batch. Scale out by
partitions: workers of the same app id split them, and the store's transaction keeps a subject
consistent whichever worker touched it last.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from bus.serde.avro import AvroSerde
from projections.batching import event_batches
from projections.kafka_time import timestamp_ms
from projections.live import LiveStore as SharedLiveStore
from projections.profiles.location import StoreLocation
from projections.profiles.projection import ProfileProjection
from projections.profiles.publisher import OutboxService
from projections.profiles.store import Change, InputPosition, ProfileStore

__all__ = ["LiveStore", "add_profile_projection", "project_event", "project_messages"]

log = logging.getLogger(__name__)


def add_profile_projection(app: faust.App, projection: ProfileProjection, *, store_path: StoreLocation,
                           bootstrap: str, registry_url: str) -> None:
    """Add ``projection``'s agents and outbox publisher to ``app`` (nothing connects yet)."""
    lives: dict[str, LiveStore] = {}

    def live_for(topic_name: str) -> LiveStore:
        if topic_name not in lives:
            lives[topic_name] = LiveStore(store_path, projection, bootstrap, registry_url)
        return lives[topic_name]

    for topic_name in projection.topics:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

        def agent_for(topic_name: str) -> Callable[[Any], Awaitable[None]]:
            async def project(stream: Any) -> None:
                # Each agent has its own connection; SQLite serializes their transactions.
                live = live_for(topic_name)
                try:
                    async for events in event_batches(stream):
                        await live.follow()
                        await project_messages(projection, live.store, live.serde,
                                               [event.message for event in events],
                                               gap_filler=live.fill_gap)
                finally:
                    await live.close()
                    lives.pop(topic_name, None)

            return project

        name = f"{projection.name}_{topic_name.replace('.', '_')}"
        app.agent(topic, name=name)(agent_for(topic_name))

    async def fill_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Start filling each newly assigned partition the store is behind on (see LiveStore)."""
        assigned: set[Any] = args[0] if args else kwargs.get("assigned", set())
        for tp in assigned:
            if tp.topic in projection.topics:
                live_for(tp.topic).start_filling(tp.topic, tp.partition)

    app.on_partitions_assigned.connect(fill_assigned)
    app.service(OutboxService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path,
        projection=projection.name, authority=dict(projection.authority)))


GapFiller = Callable[[AvroSerde, InputPosition], Awaitable[None]]


async def project_event(projection: ProfileProjection, store: ProfileStore, serde: AvroSerde,
                        message: Any, gap_filler: GapFiller | None = None) -> bool:
    """Apply one canonical message; False when its position was already applied."""
    return await project_messages(projection, store, serde, [message], gap_filler) == 1


async def project_messages(projection: ProfileProjection, store: ProfileStore, serde: AvroSerde,
                           messages: Sequence[Any], gap_filler: GapFiller | None = None) -> int:
    """Apply canonical messages in their order, in one transaction; how many were applied
    (not already applied before)."""
    changes: list[Change] = []
    known: dict[tuple[str, int], int] = {}
    for message in messages:
        at = InputPosition(message.topic, message.partition, message.offset, timestamp_ms(message))
        if gap_filler is not None:
            await gap_filler(serde, at)
        partition = (at.topic, at.partition)
        if partition not in known:
            known[partition] = store.next_offset(at.topic, at.partition)
        if at.offset < known[partition]:
            continue  # skip the Avro decode of a redelivered message; the store checks again
        key = await serde.decode(message.key)
        event = None if message.value is None else await serde.decode(message.value)
        changes.append(Change(at, *projection.from_event(at, key, event)))
    if not changes:
        return 0
    return sum(result is not None for result in store.apply_batch(changes))


class LiveStore(SharedLiveStore[ProfileStore]):
    """The live read store of one profile agent (:class:`projections.live.LiveStore`): input
    positions live in the store, each assigned partition is filled from the store's position
    first, and a rebuilt store is adopted before the next batch."""

    def __init__(self, default: StoreLocation, projection: ProfileProjection, bootstrap: str,
                 registry_url: str) -> None:
        async def apply(store: ProfileStore, serde: AvroSerde, messages: Sequence[Any]) -> int:
            return await project_messages(projection, store, serde, messages)

        super().__init__(projection.name, default,
                         lambda location: ProfileStore(location, projection.authority), apply,
                         bootstrap, registry_url)
        self.projection = projection

    async def fill_gap(self, serde: AvroSerde, at: InputPosition) -> None:
        """Before ``at`` is applied: wait for its partition's fill, or fill up to ``at`` now."""
        await self.wait_filled(at.topic, at.partition, at.offset)
