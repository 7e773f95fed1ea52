"""What a running capture reports: state, position, throughput, errors — and as metrics."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from adapters.capture.source import State, TableSpec

STATES: tuple[State, ...] = ("starting", "snapshotting", "streaming", "degraded", "failed",
                             "stopped")


@dataclass
class CaptureStatus:
    department: str
    table: str
    engine: str
    strategy: str
    state: State = "starting"
    position: str = ""
    rows: int = 0
    rows_per_second: float = 0.0
    quarantined: int = 0
    echoes_suppressed: int = 0
    errors: int = 0
    retries: int = 0
    last_error: str | None = None
    source_reachable: bool | None = None
    snapshot_done: int | None = None
    snapshot_total: int | None = None
    updated_at: float = field(default_factory=time.time)
    #: (time, rows) of the last ten seconds' batches, oldest first.
    _window: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def record_rows(self, count: int) -> None:
        now = time.monotonic()
        self.rows += count
        window = self._window
        window.append((now, self.rows))
        while now - window[0][0] > 10.0:  # a capture records a hundred batches a second
            window.popleft()
        first_time, first_rows = window[0]
        self.rows_per_second = ((self.rows - first_rows) / (now - first_time)
                                if now > first_time else 0.0)
        self.updated_at = time.time()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, _window=deque()))
        data.pop("_window", None)
        return data


class CaptureMetrics:
    """Prometheus metrics of every capture in this process (one registry, no globals)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["department", "table", "engine", "strategy"]
        self.rows = Counter("bus_capture_rows", "Change events published.", [*labels, "op"],
                            registry=registry)
        self.quarantined = Counter("bus_capture_quarantined_rows",
                                   "Rows the capture could not decode, sent to quarantine.",
                                   labels, registry=registry)
        self.echoes = Counter("bus_capture_echoes_suppressed",
                              "Rows a write-back sink wrote, recognized and not published again.",
                              labels, registry=registry)
        self.errors = Counter("bus_capture_errors", "Errors reading the source or writing Kafka.",
                              labels, registry=registry)
        self.retries = Counter("bus_capture_retries", "Restarts after an error, with backoff.",
                               labels, registry=registry)
        self.state = Gauge("bus_capture_state", "1 for the capture's current state.",
                           [*labels, "state"], registry=registry)
        self.last_commit = Gauge("bus_capture_last_commit_timestamp_seconds",
                                 "When the capture last committed a batch to Kafka.", labels,
                                 registry=registry)

    def set_state(self, spec: TableSpec, engine: str, state: State) -> None:
        for candidate in STATES:
            self.state.labels(spec.department, spec.table, engine, spec.strategy,
                              candidate).set(1 if candidate == state else 0)
