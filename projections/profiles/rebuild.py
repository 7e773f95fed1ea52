"""``bus projections rebuild <name>``: a new store beside the live one, from the start of the log.

1. Snapshot the live store (SQLite backup: its profiles and positions at one instant).
2. Read every input partition from the beginning into a new file, first exactly up to the
   snapshot's positions — then the two must hold the same profiles: the checksums are compared
   and reported (a projection is a deterministic function of the log).
3. Read on to the end of the log (progress and ETA on the way).
4. Drop from the new outbox what the live store already published, and switch readers with one
   atomic rename of the pointer file (:mod:`projections.profiles.location`). The live workers
   adopt the new store at their next event and fill the moment between (``LiveStore``).

Only the SQLite read store can be rebuilt this way; on PostgreSQL the rebuild is refused
(:class:`RebuildUnsupported`): drop the projection's schema and restart the workers instead.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from projections.batching import BATCH_SIZE
from projections.profiles.location import StoreLocation, live_store, switch_to
from projections.profiles.pg import PostgresSchema
from projections.profiles.projection import ProfileProjection
from projections.profiles.store import ProfileStore
from projections.profiles.worker import project_messages

__all__ = ["RebuildReport", "RebuildUnsupported", "rebuild"]

Progress = Callable[[int, int], None]
Positions = dict[tuple[str, int], int]


class RebuildUnsupported(ValueError):
    """The store cannot be rebuilt beside the live one (a PostgreSQL read store)."""


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


def _snapshot(live: Path, authority: dict[str, str]) -> tuple[Positions, str] | None:
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
        snapshot = ProfileStore(copy, authority)
        try:
            return snapshot.position_map(), snapshot.checksum()
        finally:
            snapshot.close()


class _Reader:
    """Every partition of the projection's inputs, from the beginning, in time order."""

    def __init__(self, consumer: AIOKafkaConsumer, projection: ProfileProjection,
                 store: ProfileStore, serde: AvroSerde, progress: Progress | None) -> None:
        self.consumer = consumer
        self.projection = projection
        self.store = store
        self.serde = serde
        self.progress = progress
        self.events = 0
        self.held: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = {}

    async def partitions(self) -> list[TopicPartition]:
        await self.consumer._client.force_metadata_update()
        return [TopicPartition(topic, p) for topic in self.projection.topics
                for p in sorted(self.consumer.partitions_for_topic(topic) or ())]

    async def read_until(self, limits: dict[TopicPartition, int], total: int) -> None:
        """Apply every record below ``limits`` (records at or past a limit are held back)."""
        for tp, held in list(self.held.items()):
            await self._apply([r for r in held if r.offset < limits[tp]])
            self.held[tp] = [r for r in held if r.offset >= limits[tp]]
        open_ = {tp for tp, limit in limits.items()
                 if await self.consumer.position(tp) < limit and not self.held.get(tp)}
        while open_:
            batches = await self.consumer.getmany(*open_, timeout_ms=1000)
            records = sorted((r for rs in batches.values() for r in rs),
                             key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
            await self._apply([r for r in records if r.offset < limits[TopicPartition(r.topic, r.partition)]])
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                if record.offset >= limits[tp]:
                    self.held.setdefault(tp, []).append(record)
            for tp in list(open_):
                if self.held.get(tp) or await self.consumer.position(tp) >= limits[tp]:
                    open_.discard(tp)
            if self.progress is not None:
                self.progress(self.events, total)

    async def _apply(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        """Apply ``records`` in their order, a transaction per :data:`BATCH_SIZE` of them (the
        live worker's batches: the same history, whichever way the events were grouped)."""
        for start in range(0, len(records), BATCH_SIZE):
            await project_messages(self.projection, self.store, self.serde,
                                   records[start:start + BATCH_SIZE])
        self.events += len(records)


async def rebuild(projection: ProfileProjection, *, default_path: StoreLocation, bootstrap: str,
                  registry_url: str, progress: Progress | None = None,
                  switch: bool = True) -> RebuildReport:
    if isinstance(default_path, PostgresSchema):
        raise RebuildUnsupported(
            f"{projection.name}: rebuild is implemented for the SQLite read store only; on "
            f"PostgreSQL drop schema {default_path.schema} and restart the workers to rebuild it "
            "from the log")
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    new_path = default_path.with_name(f"{projection.name}.{stamp}.sqlite")
    report = RebuildReport(projection.name, new_path)
    authority = dict(projection.authority)
    snapshot = _snapshot(live_store(default_path), authority)
    store = ProfileStore(new_path, authority)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        async with RegistryClient(registry_url) as registry:
            reader = _Reader(consumer, projection, store, AvroSerde(registry), progress)
            tps = await reader.partitions()
            if tps:
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps) if tps else {}
            total = sum(ends.values())
            if snapshot is not None:
                positions, report.live_checksum = snapshot
                limits = {tp: positions.get((tp.topic, tp.partition), 0) for tp in tps}
                await reader.read_until(limits, total)
                report.compared_at = {(tp.topic, tp.partition): o for tp, o in limits.items()}
                report.rebuilt_checksum = store.checksum()
            ends = await consumer.end_offsets(tps) if tps else {}
            await reader.read_until(dict(ends), sum(ends.values()))
            report.events = reader.events
        if switch:
            _switch(default_path, store, authority)
            report.switched = True
    finally:
        await consumer.stop()
        store.close()
    report.seconds = time.monotonic() - started
    return report


def _switch(default_path: Path, store: ProfileStore, authority: dict[str, str]) -> None:
    """Point readers at ``store``; the live store keeps publishing what it has applied."""
    assert isinstance(store.path, Path)
    live = live_store(default_path)
    if live.exists():
        current = ProfileStore(live, authority)
        try:
            store.forget_published_before(current.position_map())
        finally:
            current.close()
    switch_to(default_path, store.path)
