"""What the ops collector saw of Kafka, sample by sample, and the figures derived from it.

A :class:`Sample` is one look at the broker: each topic's partitions with their first and next
offsets (and bytes on disk when known) and each consumer group's committed offsets. A
:class:`History` keeps the last samples in a ring buffer; rates and lag come from it, with no
I/O, so they are unit-tested on made-up samples.

Lag in seconds: the message at a group's committed offset ``c`` is the oldest one the group has
not processed. It was written after the last sample whose end offset was still ``<= c``; so
the lag in seconds is the age of the first sample whose end offset passed ``c`` (precise to one
sample interval). When even the oldest sample in the buffer is past ``c`` the message is older
than the buffer: the lag is then the buffer's age plus the messages older than it divided by
the partition's recent produce rate, and flagged as an estimate (``lag_seconds_estimated``).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GroupSample", "History", "PartitionOffsets", "Sample", "TopicPartitionKey",
           "group_detail", "group_rows", "kind_of", "topic_rows"]

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionOffsets:
    """One partition's log: the first offset still kept and the next offset to be written."""

    begin: int
    end: int

    @property
    def messages(self) -> int:
        return max(0, self.end - self.begin)


@dataclass(frozen=True)
class GroupSample:
    """A consumer group: its state, members and committed offsets per partition."""

    group: str
    committed: dict[TopicPartitionKey, int]
    state: str = ""
    members: int = 0


@dataclass(frozen=True)
class Sample:
    """One look at the broker at ``at`` (epoch seconds)."""

    at: float
    topics: dict[str, dict[int, PartitionOffsets]]
    groups: dict[str, GroupSample] = field(default_factory=dict)
    #: Bytes of each topic on the broker's disks (None: the broker did not say).
    sizes: dict[str, int] | None = None

    def end(self, topic: str, partition: int) -> int | None:
        offsets = self.topics.get(topic, {}).get(partition)
        return None if offsets is None else offsets.end

    def topic_end(self, topic: str) -> int:
        return sum(p.end for p in self.topics.get(topic, {}).values())


def kind_of(topic: str) -> str:
    """The topic family the bus names it by: legacy, std, quarantine, projection, bus, other."""
    head = topic.split(".", 1)[0]
    if head in ("legacy", "std", "quarantine", "projection", "bus"):
        return head
    if topic == "_schemas" or topic.startswith("__"):
        return "internal"
    return "other"


class History:
    """The last ``size`` samples, oldest first."""

    def __init__(self, size: int = 90) -> None:
        self._samples: deque[Sample] = deque(maxlen=size)

    def add(self, sample: Sample) -> None:
        self._samples.append(sample)

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    @property
    def latest(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    def _pair(self, window: float) -> tuple[Sample, Sample] | None:
        """The latest sample and the oldest one at most ``window`` seconds before it."""
        if len(self._samples) < 2:
            return None
        latest = self._samples[-1]
        for sample in self._samples:
            if latest.at - sample.at <= window and sample is not latest:
                return sample, latest
        return self._samples[-2], latest

    def topic_rate(self, topic: str, window: float = 10.0) -> float:
        """Messages per second written to ``topic`` over the last ``window`` seconds."""
        pair = self._pair(window)
        if pair is None:
            return 0.0
        old, new = pair
        seconds = new.at - old.at
        return max(0, new.topic_end(topic) - old.topic_end(topic)) / seconds if seconds > 0 else 0.0

    def partition_rate(self, topic: str, partition: int, window: float = 10.0) -> float:
        pair = self._pair(window)
        if pair is None:
            return 0.0
        old, new = pair
        seconds = new.at - old.at
        before, after = old.end(topic, partition), new.end(topic, partition)
        if before is None or after is None or seconds <= 0:
            return 0.0
        return max(0, after - before) / seconds

    def byte_rate(self, topic: str, window: float = 10.0) -> float | None:
        pair = self._pair(window)
        if pair is None:
            return None
        old, new = pair
        if old.sizes is None or new.sizes is None or topic not in new.sizes:
            return None
        seconds = new.at - old.at
        grown = new.sizes[topic] - old.sizes.get(topic, new.sizes[topic])
        return max(0, grown) / seconds if seconds > 0 else 0.0

    def rate_series(self, topic: str, points: int = 30) -> list[float]:
        """Messages/s between consecutive samples, the last ``points`` of them (sparklines)."""
        samples = list(self._samples)[-(points + 1):]
        series = []
        for old, new in itertools.pairwise(samples):
            seconds = new.at - old.at
            grown = max(0, new.topic_end(topic) - old.topic_end(topic))
            series.append(round(grown / seconds, 2) if seconds > 0 else 0.0)
        return series

    def lag_series(self, group: str, points: int = 30) -> list[int]:
        """A group's total lag in messages, sample by sample."""
        series = []
        for sample in list(self._samples)[-points:]:
            found = sample.groups.get(group)
            series.append(0 if found is None else _group_lag(sample, found))
        return series

    def lag_seconds(self, topic: str, partition: int, committed: int) -> tuple[float, bool]:
        """(seconds, estimated) the message at ``committed`` has waited; see the module doc."""
        latest = self.latest
        if latest is None:
            return 0.0, False
        end = latest.end(topic, partition)
        if end is None or committed >= end:
            return 0.0, False
        samples = list(self._samples)
        oldest = samples[0]
        oldest_end = oldest.end(topic, partition)
        if oldest_end is not None and oldest_end <= committed:
            for sample in samples:
                sample_end = sample.end(topic, partition)
                if sample_end is not None and sample_end > committed:
                    return max(0.0, latest.at - sample.at), False
        rate = self.partition_rate(topic, partition, window=latest.at - oldest.at)
        older = (oldest_end if oldest_end is not None else end) - committed
        extra = older / rate if rate > 0 else 0.0
        return latest.at - oldest.at + extra, True


def _group_lag(sample: Sample, group: GroupSample) -> int:
    lag = 0
    for (topic, partition), committed in group.committed.items():
        end = sample.end(topic, partition)
        if end is not None and committed >= 0:
            lag += max(0, end - committed)
    return lag


def topic_rows(history: History, *, include_internal: bool = False) -> list[dict[str, Any]]:
    """One row per topic of the latest sample: partitions, messages, rates and size."""
    latest = history.latest
    if latest is None:
        return []
    rows = []
    for name, partitions in latest.topics.items():
        kind = kind_of(name)
        if kind == "internal" and not include_internal:
            continue
        size = None if latest.sizes is None else latest.sizes.get(name)
        rows.append({"name": name, "kind": kind, "partitions": len(partitions),
                     "messages": sum(p.messages for p in partitions.values()),
                     "end_offset": sum(p.end for p in partitions.values()),
                     "messages_per_second": round(history.topic_rate(name), 2),
                     "bytes": size,
                     "bytes_per_second": _rounded(history.byte_rate(name))})
    return rows


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _lag_of(history: History, latest: Sample, items: Iterable[tuple[TopicPartitionKey, int]]
            ) -> tuple[int, float, bool]:
    lag, seconds, estimated = 0, 0.0, False
    for (topic, partition), committed in items:
        end = latest.end(topic, partition)
        if end is None or committed < 0:
            continue
        lag += max(0, end - committed)
        waited, guessed = history.lag_seconds(topic, partition, committed)
        if waited > seconds:
            seconds, estimated = waited, guessed
    return lag, seconds, estimated


def group_rows(history: History) -> list[dict[str, Any]]:
    """One row per consumer group: state, members, topics, lag in messages and in seconds."""
    latest = history.latest
    if latest is None:
        return []
    rows = []
    for name, group in latest.groups.items():
        lag, seconds, estimated = _lag_of(history, latest, group.committed.items())
        rows.append({"group": name, "state": group.state, "members": group.members,
                     "topics": sorted({t for t, _ in group.committed}),
                     "partitions": len(group.committed), "lag": lag,
                     "lag_seconds": round(seconds, 1), "lag_seconds_estimated": estimated})
    return rows


def group_detail(history: History, group: str) -> list[dict[str, Any]] | None:
    """A group's partitions: committed and end offsets, lag; None when the group is unknown."""
    latest = history.latest
    found = None if latest is None else latest.groups.get(group)
    if latest is None or found is None:
        return None
    rows = []
    for (topic, partition), committed in sorted(found.committed.items()):
        end = latest.end(topic, partition)
        waited, estimated = history.lag_seconds(topic, partition, committed)
        rows.append({"topic": topic, "partition": partition, "committed": committed,
                     "end_offset": end, "lag": None if end is None else max(0, end - committed),
                     "lag_seconds": round(waited, 1), "lag_seconds_estimated": estimated,
                     "messages_per_second": round(history.partition_rate(topic, partition), 2)})
    return rows
