"""Partition fills: an agent waits for its partition's catch-up, a partition never filled is
filled up to the event about to be applied, and a new store is checked again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from projections.fill import PartitionFills


class RecordingFills(PartitionFills):
    """Fills that record what they would read instead of reading Kafka."""

    def __init__(self) -> None:
        super().__init__("test", "127.0.0.1:9", lambda topic, partition: 0, self._nothing)
        self.filled: list[tuple[str, int, int | None]] = []
        self.release = asyncio.Event()

    @staticmethod
    async def _nothing(messages: Sequence[Any]) -> int:
        return 0

    async def _fill(self, topic: str, partition: int, until: int | None) -> None:
        await self.release.wait()
        self.filled.append((topic, partition, until))


async def test_an_agent_waits_for_the_fill_started_at_assignment() -> None:
    fills = RecordingFills()
    fills.start("std.person", 0)
    fills.start("std.person", 0)  # a second assignment while it runs starts nothing new
    waiting = asyncio.ensure_future(fills.wait("std.person", 0, 10))
    await asyncio.sleep(0.01)
    assert not waiting.done()

    fills.release.set()
    await asyncio.wait_for(waiting, 1)
    assert fills.filled == [("std.person", 0, None)]
    await fills.wait("std.person", 0, 11)  # filled once: nothing more to do
    assert fills.filled == [("std.person", 0, None)]


async def test_a_partition_never_assigned_is_filled_up_to_the_event_once() -> None:
    fills = RecordingFills()
    fills.release.set()
    await fills.wait("std.person", 1, 42)
    await fills.wait("std.person", 1, 43)
    assert fills.filled == [("std.person", 1, 42)]

    fills.reset()  # a rebuilt store was adopted: check every partition again
    await fills.wait("std.person", 1, 44)
    assert fills.filled == [("std.person", 1, 42), ("std.person", 1, 44)]
