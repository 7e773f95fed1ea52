"""Batched produce: the partitions of the default partitioner, per-partition order kept."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import given
from hypothesis import strategies as st

from bus.kafka import OutgoingRecord, partition_for, send_batched


@given(key=st.binary(max_size=64), count=st.integers(min_value=1, max_value=24))
def test_a_keyed_record_gets_the_partition_the_default_partitioner_gives(key: bytes, count: int) -> None:
    partitions = list(range(count))

    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


class RecordingProducer:
    """``partitions_for``, ``create_batch``, ``send_batch`` and ``send``, recording submissions."""

    def __init__(self, partitions: int, batch_size: int = 16 * 1024) -> None:
        self.partitions, self.batch_size = partitions, batch_size
        self.batches: list[tuple[str, int, Any]] = []
        self.sent: list[tuple[str, bytes | None]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0, is_transactional=1)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> str:
        assert batch.closed(), "submitted batches are closed: no linger, no later appends"
        self.batches.append((topic, partition, batch))
        return f"batch-{len(self.batches)}"

    async def send(self, topic: str, value: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> str:
        self.sent.append((topic, value))
        return "single"

    def keys_by_partition(self, topic: str) -> dict[int, list[bytes]]:
        keys: dict[int, list[bytes]] = {}
        for batch_topic, partition, batch in self.batches:
            if batch_topic == topic:
                keys.setdefault(partition, []).extend(_keys(batch))
        return keys


def _records(batch: BatchBuilder) -> list[Any]:
    return list(DefaultRecordBatch(bytearray(batch._build())))


def _keys(batch: BatchBuilder) -> list[bytes]:
    return [bytes(r.key) for r in _records(batch)]


def record(topic: str, key: bytes | None, value: bytes | None = b"v") -> OutgoingRecord:
    return (topic, key, value, [("ce_id", key or b"")])


@pytest.mark.parametrize("partitions", [1, 3])
async def test_each_record_lands_on_its_partition_in_the_order_given(partitions: int) -> None:
    producer = RecordingProducer(partitions)
    keys = [f"k{i}".encode() for i in range(40)]

    await send_batched(producer, [record("t", k) for k in keys])  # type: ignore[arg-type]

    expected: dict[int, list[bytes]] = {}
    for key in keys:
        expected.setdefault(partition_for(key, list(range(partitions))), []).append(key)
    assert producer.keys_by_partition("t") == expected
    assert len(producer.batches) == len(expected)


async def test_a_full_batch_is_submitted_and_the_rest_continues_in_a_new_one() -> None:
    producer = RecordingProducer(1, batch_size=1024)
    keys = [f"k{i:03}".encode() for i in range(50)]

    records = [record("t", k, b"x" * 100) for k in keys]

    futures = await send_batched(producer, records)  # type: ignore[arg-type]

    assert len(producer.batches) > 1
    assert len(futures) == len(producer.batches)
    assert producer.keys_by_partition("t") == {0: keys}


async def test_records_without_a_key_go_through_send_and_tombstones_keep_their_place() -> None:
    producer = RecordingProducer(1)

    records = [record("t", b"a"), record("t", b"a", None), record("q", None)]

    await send_batched(producer, records)  # type: ignore[arg-type]

    assert producer.sent == [("q", b"v")]
    [(_, _, batch)] = producer.batches
    assert [r.value for r in _records(batch)] == [b"v", None]
