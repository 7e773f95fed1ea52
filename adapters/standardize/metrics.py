"""Prometheus metrics of the standardize stages in this process (one registry, no globals).

Served with the capture metrics on the adapters' status server (``:8091/metrics``). They count
**events** since the process started; the distinct-record figures over the whole log are
``GET /v1/quality`` and ``bus quality report`` (docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from adapters.standardize.mapping import Mapping
from adapters.standardize.outcomes import Outcome

__all__ = ["OUTCOMES", "StandardizeMetrics"]

OUTCOMES = ("accepted", "deleted", "quarantined")


class StandardizeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "bus_standardize_records",
            "Raw change events standardized, by outcome: accepted (a canonical upsert), deleted "
            "(a canonical tombstone) or quarantined.",
            ["department", "table", "entity", "outcome"], registry=registry)
        self.rejections = Counter(
            "bus_standardize_rejections", "Rows sent to quarantine, by the rule they broke.",
            ["department", "table", "rule"], registry=registry)
        self.last_commit = Gauge(
            "bus_standardize_last_commit_timestamp_seconds",
            "When the stage last committed a transaction to Kafka.", ["department", "table"],
            registry=registry)

    def prepare(self, mapping: Mapping) -> None:
        """Expose every outcome of ``mapping`` at 0, so rates work before the first event."""
        for outcome in OUTCOMES:
            self.records.labels(mapping.department, mapping.table, mapping.entity, outcome)

    def committed(self, mapping: Mapping, outcomes: Iterable[Outcome], at: float) -> None:
        """Count a committed transaction's outcomes."""
        for outcome in outcomes:
            self.records.labels(mapping.department, mapping.table, mapping.entity,
                                outcome.kind).inc()
            if outcome.rule_id is not None:
                self.rejections.labels(mapping.department, mapping.table, outcome.rule_id).inc()
        self.last_commit.labels(mapping.department, mapping.table).set(at)
