"""How the projections' faust agents take their events: in batches, one store transaction each.

A transaction per event made the commit the largest single cost of a projection; a batch pays it
once. Each store still applies a batch's events one by one, in log order, each with its own
versions and Kafka time, so the history written does not depend on how events were grouped.

A batch is the event an agent waited for plus what faust delivers behind it within
:data:`BATCH_WITHIN` seconds (at once if a backlog already fills it), up to :data:`BATCH_SIZE`.
The window opens only when an event has arrived: an idle agent sleeps instead of waking to look
(faust's ``take_events`` wakes each of the worker's some thirty agents at every ``within``
interval, busy or not). faust hands messages over one at a time, yielding to the event loop for
each, so without the window a busy agent would see batches of one or two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["BATCH_SIZE", "BATCH_WITHIN", "event_batches"]

#: Most events an agent applies in one transaction.
BATCH_SIZE = 500
#: Seconds an agent lets events gather behind the first of a batch: the most batching adds to
#: freshness when events trickle in.
BATCH_WITHIN = 0.05


async def event_batches(stream: Any, size: int = BATCH_SIZE, within: float = BATCH_WITHIN
                        ) -> AsyncIterator[list[Any]]:
    """The events of a faust agent's ``stream`` in batches of at most ``size``.

    A batch's events are acknowledged only when the caller asks for the next batch — after it
    applied this one — so the consumer group never commits past an event not yet applied.
    """
    stream.enable_acks = False
    queue = stream.channel.queue  # where faust delivers the agent's messages
    batch: list[Any] = []
    async for event in stream.events():
        batch.append(event)
        if len(batch) == 1 and queue.qsize() < size - 1:
            await asyncio.sleep(within)  # let what follows the first event arrive
        if len(batch) < size and not queue.empty():
            continue
        yield batch
        for done in batch:
            await stream.ack(done)
        batch = []
