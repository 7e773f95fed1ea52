"""Catching a store up on a partition with a plain consumer, beside the faust agents.

A store's position can be behind the consumer group (a store set aside or lost, a crash between
an agent's commit and faust's) and, after a start on a long log, far behind the end of it. For
each partition the worker is assigned, :class:`PartitionFills` reads from the store's own
position to the end of the partition with a plain ``AIOKafkaConsumer`` in large batches, and the
partition's agent waits for that before it applies its next batch (whose events the fill has
then applied: the store skips them by position). Nothing is skipped, nothing applied twice, and
a backlog is read without faust handing each message to every agent of its topic one by one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.batching import BATCH_SIZE

__all__ = ["Apply", "NextOffset", "PartitionFills"]

log = logging.getLogger(__name__)

#: Applies consumed records in order (one store transaction); how many were not applied before.
Apply = Callable[[Sequence[Any]], Awaitable[int]]
#: The store's next offset to apply for (topic, partition).
NextOffset = Callable[[str, int], int]


class PartitionFills:
    """Background fills of one store, one per assigned partition."""

    def __init__(self, name: str, bootstrap: str, next_offset: NextOffset, apply: Apply) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.next_offset = next_offset
        self.apply = apply
        self._checked: set[tuple[str, int]] = set()  # partitions filled since the start
        self._fills: dict[tuple[str, int], asyncio.Task[None]] = {}

    def start(self, topic: str, partition: int) -> None:
        """Fill ``topic``/``partition`` to its current end in the background (after each
        assignment: another worker may have held it meanwhile)."""
        key = (topic, partition)
        previous = self._fills.get(key)
        if previous is not None and not previous.done():
            return
        self._checked.add(key)
        self._fills[key] = asyncio.create_task(self._fill(topic, partition, None))

    async def wait(self, topic: str, partition: int, offset: int) -> None:
        """Before the event at ``offset`` is applied: wait for its partition's fill, or fill up
        to ``offset`` now if the partition was never filled."""
        key = (topic, partition)
        task = self._fills.pop(key, None)
        if task is not None:
            await task
            return
        if key in self._checked:
            return
        self._checked.add(key)
        await self._fill(topic, partition, offset)

    async def wait_all(self) -> None:
        """Wait for every running fill (before the store they write to is replaced)."""
        for task in list(self._fills.values()):
            await task
        self._fills = {}

    def reset(self) -> None:
        """A new store: every partition must be checked again."""
        self._checked = set()
        self._fills = {}

    async def _fill(self, topic: str, partition: int, until: int | None) -> None:
        start = self.next_offset(topic, partition)
        tp = TopicPartition(topic, partition)
        if until is not None and start >= until:
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed")
        await consumer.start()
        # aiokafka 0.14: stopping a consumer whose committed-offsets task never ran re-raises
        # that task's CancelledError; let it start first.
        await asyncio.sleep(0)
        applied = 0
        try:
            end = until if until is not None else (await consumer.end_offsets([tp]))[tp]
            if start >= end:
                return
            consumer.assign([tp])
            consumer.seek(tp, start)
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=BATCH_SIZE)
                applied += await self.apply([m for m in batch.get(tp, []) if m.offset < end])
        finally:
            await consumer.stop()
        if applied:  # (a gap of transaction markers only is the usual case: nothing to say)
            log.info("%s: the store was behind the consumer group on %s/%s: applied %d events "
                     "from offset %d", self.name, topic, partition, applied, start)

    def cancel(self) -> None:
        for task in self._fills.values():
            task.cancel()
