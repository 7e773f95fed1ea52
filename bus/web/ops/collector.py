"""The ops collector: one background task samples Kafka, the adapters and the projections.

Every ``interval`` seconds it takes one :class:`~bus.web.ops.samples.Sample` of the broker
(topics with first/next offsets and, when the broker answers DescribeLogDirs, their size;
consumer groups with state, members and committed offsets), the adapters process's
``/status`` and each projection's stored positions, and keeps them in memory. The JSON
endpoints, the SSE stream, ``/metrics`` and ``bus status`` only read what it holds; nothing of
a request waits on Kafka.

It samples while someone looks: a dashboard request or a ``/metrics`` scrape keeps it awake
for ``idle_after`` seconds, so a service nobody watches puts no load on the broker.
Kafka or the adapters being away is a state the dashboard shows, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bus.web.ops.logdirs import topic_sizes
from bus.web.ops.samples import GroupSample, History, PartitionOffsets, Sample

__all__ = ["Collector", "KafkaSampler", "PositionsReader"]

log = logging.getLogger(__name__)

#: A projection's stored input positions: [{"topic", "partition", "next_offset"}].
PositionsReader = Callable[[], list[dict[str, Any]]]
#: Offset fetches in flight at once while sampling many groups.
_CONCURRENT_FETCHES = 32
#: Seconds between two looks at every group's state and members, beyond this many groups
#: (up to it, every round).
_STATE_REFRESH = 10.0
_DESCRIBE_ALWAYS = 100


class KafkaSampler:
    """Takes samples of one broker cluster with an admin client and a group-less consumer."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._coordinators: dict[str, int] = {}
        self._states: dict[str, tuple[str, int]] = {}
        self._states_at = 0.0
        self._sizes_supported = True

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                        request_timeout_ms=10_000)
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _quietly_close(admin, consumer)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        await _quietly_close(admin, consumer)

    async def sample(self) -> Sample:
        try:
            return await self._sample()
        except BaseException:
            await self.close()  # a fresh connection and fresh coordinators next time
            self._coordinators.clear()
            raise

    async def _sample(self) -> Sample:
        admin, consumer = await self._clients()
        # The consumer's own metadata must know every topic's leaders for the offset lookups:
        # track all names the cluster has (set_topics refreshes when a name is new).
        names = sorted(await consumer.topics())
        await consumer._client.set_topics(names)
        cluster = consumer._client.cluster
        tps = [TopicPartition(t, p) for t in names
               for p in sorted(cluster.partitions_for_topic(t) or ())]
        begins = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        topics: dict[str, dict[int, PartitionOffsets]] = {}
        for tp in tps:
            topics.setdefault(tp.topic, {})[tp.partition] = PartitionOffsets(
                int(begins.get(tp, 0)), int(ends.get(tp, 0)))
        groups = await self._groups(admin)
        sizes = None
        if self._sizes_supported:
            try:
                sizes = await topic_sizes(admin, [b.nodeId for b in cluster.brokers()])
            except Exception as exc:  # an older or restricted broker: sizes stay unknown
                log.info("topic sizes unavailable (%s); showing message counts only", exc)
                self._sizes_supported = False
        return Sample(time.time(), topics, groups, sizes)

    async def _groups(self, admin: AIOKafkaAdminClient) -> dict[str, GroupSample]:
        listed = [str(g[0]) for g in await admin.list_consumer_groups()]
        described = await self._described(admin, listed)
        limit = asyncio.Semaphore(_CONCURRENT_FETCHES)

        async def committed(group: str) -> tuple[str, dict[tuple[str, int], int] | None]:
            async with limit:
                try:
                    coordinator = await self._coordinator(admin, group)
                    offsets = await admin.list_consumer_group_offsets(group, coordinator)
                except KafkaError as exc:  # moved or deleted meanwhile: next round
                    log.debug("offsets of group %s not read: %s", group, exc)
                    self._coordinators.pop(group, None)
                    return group, None
            return group, {(tp.topic, tp.partition): int(meta.offset)
                           for tp, meta in offsets.items() if meta.offset >= 0}

        found = await asyncio.gather(*(committed(g) for g in listed))
        return {group: GroupSample(group, offsets, *described.get(group, ("", 0)))
                for group, offsets in found if offsets is not None}

    async def _coordinator(self, admin: AIOKafkaAdminClient, group: str) -> int:
        node = self._coordinators.get(group)
        if node is None:
            node = self._coordinators[group] = int(await admin.find_coordinator(group))
        return node

    async def _described(self, admin: AIOKafkaAdminClient, groups: list[str]
                         ) -> dict[str, tuple[str, int]]:
        """group → (state, members), every round or, past :data:`_DESCRIBE_ALWAYS` groups,
        every :data:`_STATE_REFRESH` seconds.

        One DescribeGroups request per group: aiokafka 0.14 cannot decode the broker's answer
        about several groups at once.
        """
        now = time.monotonic()
        if (len(groups) > _DESCRIBE_ALWAYS and now - self._states_at < _STATE_REFRESH
                and set(groups) <= set(self._states)):
            return self._states
        limit = asyncio.Semaphore(_CONCURRENT_FETCHES)

        async def describe(group: str) -> tuple[str, tuple[str, int]]:
            async with limit:
                try:
                    node = await self._coordinator(admin, group)
                    [response] = await admin.describe_consumer_groups([group], node)
                except KafkaError as exc:  # state unknown this round
                    log.debug("group %s not described: %s", group, exc)
                    self._coordinators.pop(group, None)
                    return group, ("", 0)
            [entry] = response.groups
            return group, (str(entry[2]), len(entry[5]))

        self._states = dict(await asyncio.gather(*(describe(g) for g in groups)))
        self._states_at = now
        return self._states


async def _quietly_close(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None
                         ) -> None:
    for stop in (consumer.stop if consumer else None, admin.close if admin else None):
        if stop is not None:
            with suppress(Exception):
                await stop()


@dataclass
class Collector:
    """Holds the latest view of the bus; :meth:`run` keeps it fresh while it is watched."""

    sampler: KafkaSampler
    adapters_url: str | None = None
    projections: Mapping[str, PositionsReader] = field(default_factory=dict)
    #: Each projection's rebuilds in progress (see :mod:`bus.web.ops.rebuilds`).
    rebuild_readers: Mapping[str, PositionsReader] = field(default_factory=dict)
    interval: float = 2.0
    idle_after: float = 60.0
    history: History = field(default_factory=History)
    kafka_error: str | None = None
    adapters: list[dict[str, Any]] = field(default_factory=list)
    adapters_error: str | None = None
    positions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rebuilds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    samples_taken: int = 0
    _memo: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _watched_until: float = 0.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _sampled: asyncio.Condition = field(default_factory=asyncio.Condition)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per round: every dashboard's stream shares one overview."""
        found = self._memo.get(key)
        if found is None or found[0] != self.samples_taken:
            found = self._memo[key] = (self.samples_taken, compute())
        return found[1]

    def watch(self) -> None:
        """Someone looks: keep sampling for ``idle_after`` seconds (wakes an idle collector)."""
        self._watched_until = time.monotonic() + self.idle_after
        self._wake.set()

    @property
    def watched(self) -> bool:
        return time.monotonic() < self._watched_until

    async def collect_once(self) -> None:
        """One round: Kafka, adapters and projections, each failing on its own."""
        try:
            self.history.add(await self.sampler.sample())
            self.kafka_error = None
        except Exception as exc:
            self.kafka_error = f"{type(exc).__name__}: {exc}"
            log.warning("ops collector: Kafka not sampled: %s", self.kafka_error)
        if self.adapters_url:
            await self._collect_adapters(self.adapters_url)
        for found, readers in ((self.positions, self.projections),
                               (self.rebuilds, self.rebuild_readers)):
            for name, reader in readers.items():
                try:
                    found[name] = await asyncio.to_thread(reader)
                except Exception as exc:
                    log.warning("ops collector: positions of %s not read: %s", name, exc)
        self.samples_taken += 1
        async with self._sampled:
            self._sampled.notify_all()

    async def _collect_adapters(self, url: str) -> None:
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(f"{url}/status") as response:
                body = await response.json()
            self.adapters, self.adapters_error = list(body["captures"]), None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            self.adapters_error = f"the adapters process does not answer on {url}/status ({exc})"

    async def next_sample(self, after: int, timeout: float) -> int:
        """Wait until more than ``after`` rounds were taken (or ``timeout``); the count."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._sampled:
                await self._sampled.wait_for(lambda: self.samples_taken > after)
        return self.samples_taken

    async def run(self) -> None:
        try:
            while True:
                if not self.watched:
                    self._wake.clear()
                    await self._wake.wait()
                started = time.monotonic()
                await self.collect_once()
                await asyncio.sleep(max(0.1, self.interval - (time.monotonic() - started)))
        finally:
            await self.sampler.close()
