"""The live read store of one faust agent, whichever projection it writes.

Input positions live in the store, not in the consumer group. The group's committed offset may
be ahead of the store — a store set aside for an older layout, deleted by an operator, or a
rebuilt store adopted after ``bus projections rebuild`` switched readers (it stopped reading a
moment before the switch). So each partition the worker is assigned is first filled from Kafka,
from the store's position to the end of the partition (:mod:`projections.fill`), and the agent
waits for that before it applies the partition's next event (which it then skips if the fill
already applied it): nothing is skipped, nothing applied twice.

Before each batch the agent calls :meth:`LiveStore.follow`: when a rebuild switched the pointer
file (:mod:`projections.profiles.location`), it waits for its fills, hands the old store and the
new one to the projection's ``adopt`` hook (e.g. to keep the new outbox from sending again what
the old store publishes), and writes to the new store from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.fill import PartitionFills
from projections.profiles.location import LiveLocation, StoreLocation

__all__ = ["Adopt", "ApplyMessages", "LiveStore", "PositionedStore"]

log = logging.getLogger(__name__)


class PositionedStore(Protocol):
    """What a live store needs of a projection's store."""

    @property
    def path(self) -> Any: ...

    def next_offset(self, topic: str, partition: int) -> int: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=PositionedStore)

#: Applies consumed messages to a store in order (one transaction); how many were new.
ApplyMessages = Callable[[S, AvroSerde, Sequence[Any]], Awaitable[int]]
#: Called with (old store, new store) when an agent adopts a rebuilt store.
Adopt = Callable[[S, S], None]


class LiveStore(Generic[S]):
    """One agent's connection to a projection's live store (see the module's doc)."""

    def __init__(self, name: str, default: StoreLocation, open_store: Callable[[StoreLocation], S],
                 apply: ApplyMessages[S], bootstrap: str, registry_url: str,
                 adopt: Adopt[S] | None = None) -> None:
        self.name = name
        self.default = default
        self.location = LiveLocation(default)
        self.open_store = open_store
        self.apply_messages = apply
        self.adopt = adopt
        self.bootstrap = bootstrap
        self.registry = RegistryClient(registry_url)
        self.serde = AvroSerde(self.registry)
        self.store: S = open_store(self.location.current())
        self.fills = PartitionFills(name, bootstrap, self._next_offset, self._apply)

    def _next_offset(self, topic: str, partition: int) -> int:
        return self.store.next_offset(topic, partition)

    async def _apply(self, messages: Sequence[Any]) -> int:
        return await self.apply_messages(self.store, self.serde, messages)

    async def follow(self) -> None:
        """Adopt the store a rebuild switched readers to, if it did (a ``stat`` per call)."""
        path = self.location.current()
        if path == self.store.path:
            return
        log.info("%s: adopting the rebuilt store %s", self.name, getattr(path, "name", path))
        await self.fills.wait_all()
        old, self.store = self.store, self.open_store(path)
        try:
            if self.adopt is not None:
                self.adopt(old, self.store)
        finally:
            old.close()
        self.fills.reset()

    def start_filling(self, topic: str, partition: int) -> None:
        """Fill ``topic``/``partition`` to its current end in the background (after each
        assignment: another worker may have held it meanwhile)."""
        self.fills.start(topic, partition)

    async def wait_filled(self, topic: str, partition: int, offset: int) -> None:
        """Before the event at ``offset`` is applied: wait for its partition's fill, or fill up
        to ``offset`` now."""
        await self.fills.wait(topic, partition, offset)

    async def close(self) -> None:
        self.fills.cancel()
        await self.registry.close()
        self.store.close()

