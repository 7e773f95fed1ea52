"""An agent's events in batches: what is queued or arrives within the window joins the batch, an
idle agent waits without a timer, and events are acknowledged only once their batch was applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from projections.batching import event_batches


class FakeStream:
    """What ``event_batches`` uses of a faust stream: a channel queue, events, acks."""

    def __init__(self, queue: asyncio.Queue[int]) -> None:
        self.enable_acks = True
        self.channel = self
        self.queue = queue
        self.acked: list[int] = []

    async def events(self) -> AsyncIterator[int]:
        while True:
            yield await self.queue.get()

    async def ack(self, event: int) -> None:
        self.acked.append(event)


async def test_queued_events_join_a_batch_up_to_its_size_and_are_acked_after_it() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(5):
        queue.put_nowait(n)
    stream = FakeStream(queue)
    batches = event_batches(stream, size=3, within=0.01)

    assert await anext(batches) == [0, 1, 2]
    assert stream.enable_acks is False and stream.acked == []
    assert await anext(batches) == [3, 4]
    assert stream.acked == [0, 1, 2]

    later = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.05)
    assert not later.done()  # an empty queue: the agent sleeps until an event comes
    queue.put_nowait(5)
    await asyncio.sleep(0)
    queue.put_nowait(6)  # arrives within the window of the first
    assert await asyncio.wait_for(later, 1) == [5, 6]
    assert stream.acked == [0, 1, 2, 3, 4]
    await batches.aclose()
    assert stream.acked == [0, 1, 2, 3, 4]  # a batch not applied is never acknowledged
