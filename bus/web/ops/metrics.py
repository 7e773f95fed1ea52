"""``GET /metrics``: the dashboard's figures as Prometheus gauges.

A custom collector turns the ops collector's latest sample into gauges at scrape time (no
labelled gauge lingers after a topic or group is gone); a scrape keeps the collector awake.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bus.web.ops.api import COLLECTOR
from bus.web.ops.collector import Collector
from bus.web.ops.samples import group_rows, topic_rows
from bus.web.ops.views import projection_rows

__all__ = ["OpsMetrics", "metrics_registry"]

_ADAPTER_STATES = ("starting", "snapshotting", "streaming", "degraded", "failed", "stopped")


class OpsMetrics:
    """A Prometheus collector over an ops :class:`Collector`."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        c = self.collector
        history = c.history
        up = GaugeMetricFamily("bus_ops_kafka_up", "1 when the last sample of Kafka succeeded.")
        up.add_metric([], 0 if c.kafka_error or history.latest is None else 1)
        yield up
        topic = ["topic", "kind"]
        messages = GaugeMetricFamily("bus_topic_messages", "Messages kept in the topic.", labels=topic)
        end = GaugeMetricFamily("bus_topic_end_offset", "Sum of the partitions' next offsets.",
                                labels=topic)
        rate = GaugeMetricFamily("bus_topic_messages_per_second",
                                 "Messages written per second (last 10 s).", labels=topic)
        size = GaugeMetricFamily("bus_topic_size_bytes", "Bytes of the topic on the brokers' disks.",
                                 labels=topic)
        partitions = GaugeMetricFamily("bus_topic_partitions", "Partitions of the topic.",
                                       labels=topic)
        for t in topic_rows(history, include_internal=True):
            labels = [t["name"], t["kind"]]
            messages.add_metric(labels, t["messages"])
            end.add_metric(labels, t["end_offset"])
            rate.add_metric(labels, t["messages_per_second"])
            partitions.add_metric(labels, t["partitions"])
            if t["bytes"] is not None:
                size.add_metric(labels, t["bytes"])
        yield from (messages, end, rate, size, partitions)
        lag = GaugeMetricFamily("bus_consumer_group_lag", "Messages the group has not committed.",
                                labels=["group"])
        lag_seconds = GaugeMetricFamily(
            "bus_consumer_group_lag_seconds",
            "How long the oldest uncommitted message of the group has waited.", labels=["group"])
        members = GaugeMetricFamily("bus_consumer_group_members", "Members of the group.",
                                    labels=["group"])
        for g in group_rows(history):
            lag.add_metric([g["group"]], g["lag"])
            lag_seconds.add_metric([g["group"]], g["lag_seconds"])
            members.add_metric([g["group"]], g["members"])
        yield from (lag, lag_seconds, members)
        projection_lag = GaugeMetricFamily(
            "bus_projection_lag", "Messages of the inputs the read store has not applied.",
            labels=["projection"])
        for p in projection_rows(history, c.positions):
            if p["lag"] is not None:
                projection_lag.add_metric([p["name"]], p["lag"])
        yield projection_lag
        state = GaugeMetricFamily("bus_ops_adapter_state", "1 for the capture's current state "
                                  "(as the dashboard saw it).", labels=["adapter", "state"])
        for a in c.adapters:
            name = f"{a.get('department')}.{a.get('table')}"
            for candidate in _ADAPTER_STATES:
                state.add_metric([name, candidate], 1 if a.get("state") == candidate else 0)
        yield state


def metrics_registry(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(OpsMetrics(collector))
    return registry


METRICS = web.AppKey("ops_metrics", CollectorRegistry)


async def get_metrics(request: web.Request) -> web.Response:
    request.app[COLLECTOR].watch()
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
