"""The ``newborn_case`` agents, added to a faust app (the one ``bus projections run`` starts).

One agent per input topic (``store.INPUT_TOPICS``), each first catching the store up on a newly
assigned partition from the store's own position (:mod:`projections.fill`) and adopting a rebuilt
store when ``bus projections rebuild newborn_case`` switched readers (:mod:`projections.live`,
:meth:`CaseStore.take_over_from`); each event updates
the case store — facts, affected cases, their versions and outbox messages — with its input
position, a batch of events (:mod:`projections.batching`) per transaction. The agents share the
faust app (and so its consumer group) of the other projections: faust hands each message of a
topic to every agent subscribed to it, and each projection keeps its own positions with its own
state, so neither can skip or double the other's work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from bus.serde.avro import AvroSerde
from projections.batching import event_batches
from projections.kafka_time import timestamp_ms
from projections.live import LiveStore
from projections.newborn_case.publisher import CasePublisherService
from projections.newborn_case.store import INPUT_TOPICS, CaseStore
from projections.profiles.location import StoreLocation
from projections.profiles.store import InputPosition

__all__ = ["INPUT_TOPICS", "add_newborn_case", "project_event", "project_messages"]

log = logging.getLogger(__name__)


def add_newborn_case(app: faust.App, *, bootstrap: str, registry_url: str,
                     store_path: StoreLocation) -> faust.App:
    """Register the case agents and the outbox publisher on ``app``; nothing connects until
    the worker starts. ``store_path`` is the default store file (after ``bus projections
    rebuild newborn_case`` the pointer file beside it names the live one) or the schema
    ``newborn_case`` in the PostgreSQL read store (``store_location``)."""
    lives: dict[str, LiveStore[CaseStore]] = {}  # per input topic, while its agent runs

    def live_for(topic_name: str) -> LiveStore[CaseStore]:
        if topic_name not in lives:
            # each agent its own connection; SQLite serializes them
            lives[topic_name] = LiveStore("newborn_case", store_path, open_store, project_messages,
                                          bootstrap, registry_url, adopt=take_over)
        return lives[topic_name]

    def agent_for(topic_name: str) -> Callable[[Any], Awaitable[None]]:
        async def project(stream: Any) -> None:
            live = live_for(topic_name)
            try:
                async for events in event_batches(stream):
                    await live.follow()
                    messages = [event.message for event in events]
                    for message in messages:
                        await live.wait_filled(message.topic, message.partition, message.offset)
                    await project_messages(live.store, live.serde, messages)
            finally:
                await live.close()
                lives.pop(topic_name, None)

        return project

    for topic_name in INPUT_TOPICS:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        app.agent(topic, name=f"newborn_case_{topic_name.replace('.', '_')}")(agent_for(topic_name))

    async def fill_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Catch the store up on each newly assigned partition (``projections.fill``)."""
        assigned: set[Any] = args[0] if args else kwargs.get("assigned", set())
        for tp in assigned:
            if tp.topic in INPUT_TOPICS:
                live_for(tp.topic).start_filling(tp.topic, tp.partition)

    app.on_partitions_assigned.connect(fill_assigned)
    app.service(CasePublisherService(  # type: ignore[arg-type]  # faust takes instances too
        bootstrap=bootstrap, registry_url=registry_url, store_path=store_path))
    return app


def open_store(location: StoreLocation) -> CaseStore:
    return CaseStore(location)


def take_over(old: CaseStore, new: CaseStore) -> None:
    """An agent adopting the rebuilt store: what the old store applied, it publishes."""
    dropped = new.take_over_from(old)
    log.info("newborn_case: the rebuilt store leaves %d messages to the old store's outbox", dropped)


async def project_event(store: CaseStore, serde: AvroSerde, message: Any) -> bool:
    """Apply one canonical message; False when its position was already applied."""
    return await project_messages(store, serde, [message]) == 1


async def project_messages(store: CaseStore, serde: AvroSerde, messages: Sequence[Any]) -> int:
    """Apply canonical messages in order in one transaction; how many were not applied before."""
    events = []
    known: dict[tuple[str, int], int] = {}
    for message in messages:
        at = InputPosition(message.topic, message.partition, message.offset, timestamp_ms(message))
        partition = (at.topic, at.partition)
        if partition not in known:
            known[partition] = store.next_offset(at.topic, at.partition)
        if at.offset < known[partition]:
            continue  # skip the Avro decode of a redelivered message; apply_batch checks again
        key = await serde.decode(message.key)
        events.append((at, key, None if message.value is None else await serde.decode(message.value)))
    if not events:
        return 0
    applied = sum(changed is not None for changed in store.apply_batch(events))
    for said in store.messages:
        log.debug("newborn_case %s", said)
    return applied
