"""What a running sink reports — position, lag, rows, conflicts, errors — and as metrics."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["SinkMetrics", "SinkState", "SinkStatus"]

SinkState = Literal["starting", "running", "degraded", "stopped"]
STATES: tuple[SinkState, ...] = ("starting", "running", "degraded", "stopped")


@dataclass
class SinkStatus:
    sink: str
    engine: str
    topic: str
    conflict_policy: str
    state: SinkState = "starting"
    #: Next offset per partition (as text keys, for JSON) and how far behind the topic's end.
    positions: dict[str, int] = field(default_factory=dict)
    lag: int = 0
    written: int = 0
    replayed: int = 0
    conflicts: int = 0
    quarantined: int = 0
    errors: int = 0
    retries: int = 0
    last_error: str | None = None
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SinkMetrics:
    """Prometheus metrics of every sink in this process (one registry, no globals)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["sink", "engine"]
        self.events = Counter("bus_sink_events", "Input events handled, by outcome "
                              "(written, replayed, conflict_kept, conflict_overwritten, quarantined).",
                              [*labels, "outcome"], registry=registry)
        self.errors = Counter("bus_sink_errors", "Errors writing the legacy side or Kafka.",
                              labels, registry=registry)
        self.retries = Counter("bus_sink_retries", "Restarts after an error, with backoff.",
                               labels, registry=registry)
        self.lag = Gauge("bus_sink_lag_events", "Events on the input topic not yet written back.",
                         labels, registry=registry)
        self.state = Gauge("bus_sink_state", "1 for the sink's current state.", [*labels, "state"],
                           registry=registry)
        self.last_commit = Gauge("bus_sink_last_commit_timestamp_seconds",
                                 "When the sink last committed a batch to the legacy side.", labels,
                                 registry=registry)

    def set_state(self, status: SinkStatus) -> None:
        for candidate in STATES:
            self.state.labels(status.sink, status.engine, candidate).set(
                1 if candidate == status.state else 0)
