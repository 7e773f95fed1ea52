"""How the projections' faust agents take their events: in batches, one store transaction each.

A transaction per event made the commit the largest single cost of a projection; a batch pays it
once. Each store still applies a batch's events one by one, in log order, each with its own
versions and Kafka time, so the history written does not depend on how events were grouped.

A batch is the event an agent waited for plus whatever is already queued behind it, up to
:data:`BATCH_SIZE` — no timer: an event arriving alone is applied at once (batching adds
nothing to freshness), a backlog is taken in full batches, and an idle agent sleeps instead of
waking to look (faust's ``take_events`` wakes every agent at its ``within`` interval; the
worker runs some thirty agents).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

__all__ = ["BATCH_SIZE", "event_batches"]

#: Most events an agent applies in one transaction.
BATCH_SIZE = 500


async def event_batches(stream: Any, size: int = BATCH_SIZE) -> AsyncIterator[list[Any]]:
    """The events of a faust agent's ``stream`` in batches of at most ``size``.

    A batch's events are acknowledged only when the caller asks for the next batch — after it
    applied this one — so the consumer group never commits past an event not yet applied.
    """
    stream.enable_acks = False
    queue = stream.channel.queue  # where faust delivers the agent's messages
    batch: list[Any] = []
    async for event in stream.events():
        batch.append(event)
        if len(batch) < size and not queue.empty():
            continue
        yield batch
        for done in batch:
            await stream.ack(done)
        batch = []
