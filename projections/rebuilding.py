"""Rebuilding a projection's SQLite store beside the live one (``bus projections rebuild``).

The steps every projection shares; each projection says how to open its store, apply records
and hand over from the live store (:func:`rebuild_beside`):

1. Snapshot the live store (SQLite backup: its state and positions at one instant).
2. Read every input partition from the beginning into a new file, in Kafka time order, first
   exactly up to the snapshot's positions — then the two must hold the same state: the
   checksums are compared and reported (a projection is a deterministic function of the log).
3. Read on to the end of the log (progress and ETA on the way), and at least as far as the live
   store has come meanwhile.
4. Hand over (drop from the new outboxes what the live store publishes itself) and switch
   readers with one atomic rename of the pointer file (:mod:`projections.profiles.location`).
   The live workers adopt the new store at their next batch (:mod:`projections.live`).
"""

from __future__ import annotations

import heapq
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.batching import BATCH_SIZE
from projections.live import ApplyMessages
from projections.profiles.location import live_store, switch_to

__all__ = ["Positions", "Progress", "RebuildReport", "RebuildUnsupported", "RebuildableStore",
           "rebuild_beside"]

Progress = Callable[[int, int], None]
Positions = dict[tuple[str, int], int]


class RebuildUnsupported(ValueError):
    """The store cannot be rebuilt beside the live one (a PostgreSQL read store)."""


class RebuildableStore(Protocol):
    """What a rebuild needs of a projection's store."""

    @property
    def path(self) -> Any: ...

    def next_offset(self, topic: str, partition: int) -> int: ...

    def position_map(self) -> dict[tuple[str, int], int]: ...

    def checksum(self) -> str: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=RebuildableStore)


@dataclass
class RebuildReport:
    projection: str
    store: Path
    events: int = 0
    seconds: float = 0.0
    compared_at: Positions = field(default_factory=dict)
    live_checksum: str | None = None
    rebuilt_checksum: str | None = None
    switched: bool = False

    @property
    def equal(self) -> bool | None:
        """Whether the rebuild equals the live store at the same positions (None: no live store)."""
        if self.live_checksum is None:
            return None
        return self.live_checksum == self.rebuilt_checksum

    def as_json(self) -> dict[str, Any]:
        return {"projection": self.projection, "store": str(self.store), "events": self.events,
                "seconds": round(self.seconds, 3), "equal": self.equal,
                "live_checksum": self.live_checksum, "rebuilt_checksum": self.rebuilt_checksum,
                "compared_at": {f"{t}:{p}": o for (t, p), o in sorted(self.compared_at.items())},
                "switched": self.switched}


def snapshot(live: Path, open_store: Callable[[Path], S]) -> tuple[Positions, str] | None:
    """Positions and checksum of the live store at one instant (None if there is none)."""
    if not live.exists():
        return None
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "snapshot.sqlite"
        source = sqlite3.connect(f"file:{live}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        store = open_store(copy)
        try:
            return store.position_map(), store.checksum()
        finally:
            store.close()


class LogReader:
    """Every partition of a projection's inputs, from the beginning, merged in Kafka time order.

    A record is applied only when every partition that still has records to give holds one
    ahead of it, and the earliest of those heads — by (timestamp, topic, partition, offset) —
    goes first: the order does not depend on how the fetches happened to be cut, so two
    rebuilds of the same log apply it in the same order."""

    def __init__(self, consumer: AIOKafkaConsumer, topics: tuple[str, ...],
                 apply: Callable[[list[ConsumerRecord[Any, Any]]], Any],
                 progress: Progress | None) -> None:
        self.consumer = consumer
        self.topics = topics
        self.apply = apply
        self.progress = progress
        self.events = 0
        self.buffers: dict[TopicPartition, deque[ConsumerRecord[Any, Any]]] = {}

    async def partitions(self) -> list[TopicPartition]:
        await self.consumer._client.force_metadata_update()
        return [TopicPartition(topic, p) for topic in self.topics
                for p in sorted(self.consumer.partitions_for_topic(topic) or ())]

    async def read_until(self, limits: Mapping[TopicPartition, int], total: int) -> None:
        """Apply every record below ``limits`` (records at or past a limit stay buffered)."""
        batch: list[ConsumerRecord[Any, Any]] = []
        while True:
            empty = [tp for tp, limit in limits.items() if not self.buffers.get(tp)
                     and await self.consumer.position(tp) < limit]
            if empty:  # a partition may hold the next record in time: fetch before choosing
                await self._apply(batch, total)
                batch = []
                fetched = await self.consumer.getmany(*empty, timeout_ms=1000)
                for tp, records in fetched.items():
                    self.buffers.setdefault(tp, deque()).extend(records)
                continue
            heads = [(b[0].timestamp, tp.topic, tp.partition, b[0].offset, tp)
                     for tp, b in self.buffers.items() if b and tp in limits and b[0].offset < limits[tp]]
            heapq.heapify(heads)
            while heads:
                tp = heapq.heappop(heads)[-1]
                buffer = self.buffers[tp]
                batch.append(buffer.popleft())
                if len(batch) >= BATCH_SIZE:
                    await self._apply(batch, total)
                    batch = []
                if not buffer:
                    break  # its next record may come before the other heads: fetch first
                if buffer[0].offset < limits[tp]:
                    heapq.heappush(heads, (buffer[0].timestamp, tp.topic, tp.partition,
                                           buffer[0].offset, tp))
            else:
                await self._apply(batch, total)
                return

    async def _apply(self, records: list[ConsumerRecord[Any, Any]], total: int) -> None:
        """Apply ``records`` in their order in one transaction (at most :data:`BATCH_SIZE`, the
        live worker's batches: the same history, whichever way the events were grouped)."""
        if not records:
            return
        await self.apply(records)
        self.events += len(records)
        if self.progress is not None:
            self.progress(self.events, total)


async def rebuild_beside(name: str, topics: tuple[str, ...], *, default_path: Path,
                         open_store: Callable[[Path], S], apply: ApplyMessages[S],
                         hand_over: Callable[[S, S], None], bootstrap: str, registry_url: str,
                         progress: Progress | None = None, switch: bool = True) -> RebuildReport:
    """Build ``name``'s store anew from the start of ``topics`` beside the live one (see the
    module's doc). ``hand_over(live, rebuilt)`` runs just before readers switch."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    new_path = default_path.with_name(f"{name}.{stamp}.sqlite")
    report = RebuildReport(name, new_path)
    taken = snapshot(live_store(default_path), open_store)
    store = open_store(new_path)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        async with RegistryClient(registry_url) as registry:
            serde = AvroSerde(registry)

            async def apply_records(records: list[ConsumerRecord[Any, Any]]) -> None:
                await apply(store, serde, records)

            reader = LogReader(consumer, topics, apply_records, progress)
            tps = await reader.partitions()
            if tps:
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps) if tps else {}
            if taken is not None:
                positions, report.live_checksum = taken
                limits = {tp: positions.get((tp.topic, tp.partition), 0) for tp in tps}
                await reader.read_until(limits, sum(ends.values()))
                report.compared_at = {(tp.topic, tp.partition): o for tp, o in limits.items()}
                report.rebuilt_checksum = store.checksum()
            ends = await consumer.end_offsets(tps) if tps else {}
            await reader.read_until(dict(ends), sum(ends.values()))
            # the live store may have come further meanwhile: at least as far as it, so that
            # the workers adopting the new store have (almost) no gap to fill
            live = _live_positions(default_path, open_store)
            limits = {tp: max(ends[tp], live.get((tp.topic, tp.partition), 0)) for tp in tps}
            await reader.read_until(limits, sum(limits.values()))
            report.events = reader.events
        if switch:
            _switch(default_path, store, open_store, hand_over)
            report.switched = True
    finally:
        await consumer.stop()
        store.close()
    report.seconds = time.monotonic() - started
    return report


def _live_positions(default_path: Path, open_store: Callable[[Path], S]) -> Positions:
    live = live_store(default_path)
    if not live.exists():
        return {}
    current = open_store(live)
    try:
        return current.position_map()
    finally:
        current.close()


def _switch(default_path: Path, store: S, open_store: Callable[[Path], S],
            hand_over: Callable[[S, S], None]) -> None:
    """Point readers at ``store``; the live store keeps publishing what it has applied."""
    assert isinstance(store.path, Path)
    live = live_store(default_path)
    if live.exists():
        current = open_store(live)
        try:
            hand_over(current, store)
        finally:
            current.close()
    switch_to(default_path, store.path)
