"""How the projections' faust agents take their events: in batches, one store transaction each.

A transaction per event made the commit the largest single cost of a projection; a batch pays it
once. Each store still applies a batch's events one by one, in log order, each with its own
versions and Kafka time, so the history written does not depend on how events were grouped.
"""

from __future__ import annotations

__all__ = ["BATCH_SIZE", "BATCH_WITHIN"]

#: Most events an agent applies in one transaction.
BATCH_SIZE = 500
#: Seconds an agent waits to fill a batch: the most batching adds to freshness when events
#: trickle in.
BATCH_WITHIN = 0.05
