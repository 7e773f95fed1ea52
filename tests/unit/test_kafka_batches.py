"""Batched produce: the partitions of the default partitioner, per-partition order kept."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bus.kafka import OutgoingRecord, partition_for, send_batched
from bus.kafka_batches import EncodedBatch, encoded_batch_size
from bus.speedups import speedups


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


# -- batches written in C (bus/kafka_batches.py) -----------------------------------------------

_header_names = st.sampled_from(["ce_id", "ce_subject", "content-type", "类别", ""])
_headers = st.lists(st.tuples(_header_names, st.none() | st.binary(max_size=40)), max_size=6)
_record_lists = st.lists(
    st.tuples(st.sampled_from(["t", "other"]), st.none() | st.binary(max_size=30),
              st.none() | st.binary(max_size=300), _headers),
    max_size=60)


def aiokafka_batches(records: list[OutgoingRecord], topic: str, partitions: int,
                     batch_size: int, timestamp_ms: int) -> list[tuple[int, bytes]]:
    """What filling aiokafka's own builders gives, in submission order per partition."""
    open_: dict[int, BatchBuilder] = {}
    done: list[tuple[int, BatchBuilder]] = []
    for record_topic, key, value, headers in records:
        if record_topic != topic or key is None:
            continue
        partition = partition_for(key, list(range(partitions)))
        builder = open_.setdefault(partition, BatchBuilder(batch_size, 0, is_transactional=1))
        if builder.append(timestamp=timestamp_ms, key=key, value=value, headers=headers) is None:
            done.append((partition, builder))
            builder = open_[partition] = BatchBuilder(batch_size, 0, is_transactional=1)
            builder.append(timestamp=timestamp_ms, key=key, value=value, headers=headers)
    done.extend(sorted(open_.items(), key=lambda item: item[0]))
    built = []
    for partition, builder in done:
        builder._set_producer_state(7, 3, 11)
        built.append((partition, bytes(builder._build())))
    return built


@settings(max_examples=300, deadline=None)
# The second record would fill the 100 bytes exactly: aiokafka's C builder starts a new batch.
@example(records=[("t", b"\0", b"\0" * 13, []), ("t", b"\0" * 9, None, [("", None)])],
         partitions=1, batch_size=100)
@given(records=_record_lists, partitions=st.integers(min_value=1, max_value=5),
       batch_size=st.sampled_from([100, 400, 2000, 256 * 1024]))
def test_batches_written_in_c_are_the_bytes_aiokafka_writes(
        records: list[OutgoingRecord], partitions: int, batch_size: int) -> None:
    native = speedups()
    if native is None:
        pytest.skip("the C speedups are not built")
    timestamp_ms = 1_790_000_000_123

    written = []
    for partition, buffer, count in native.kafka_batches(records, "t", partitions, batch_size):
        batch = EncodedBatch(buffer, count, timestamp_ms, transactional=True)
        batch._set_producer_state(7, 3, 11)
        written.append((partition, bytes(batch._build())))

    # aiokafka submits a partition's full batches as they fill, the open ones at the end.
    expected = aiokafka_batches(records, "t", partitions, batch_size, timestamp_ms)
    assert sorted(written, key=lambda item: item[0]) == sorted(expected, key=lambda item: item[0])
    for _, data in written:
        batch = DefaultRecordBatch(bytearray(data))
        assert batch.validate_crc() and batch.is_transactional


def test_an_encoded_batch_is_closed_to_appends_and_built_once() -> None:
    native = speedups()
    if native is None:
        pytest.skip("the C speedups are not built")
    [(_, buffer, count)] = native.kafka_batches([record("t", b"k")], "t", 1, 16384)
    batch = EncodedBatch(buffer, count, 5, transactional=False)

    assert batch.closed() and batch.record_count() == 1
    assert batch.append(timestamp=None, key=b"x", value=b"y") is None
    batch._set_producer_state(1, 0, 0)
    first = bytes(batch._build())
    batch._set_producer_state(2, 0, 0)
    assert bytes(batch._build()) == first  # retries resend the same bytes
    assert batch.size() == len(first)
    [read] = list(DefaultRecordBatch(bytearray(first)))
    assert (read.key, read.value, read.headers) == (b"k", b"v", [("ce_id", b"k")])


@pytest.mark.parametrize("bad", [
    [("t", "text key", b"v", [])],
    [("t", b"k", 5, [])],
    [("t", b"k", b"v", [("name",)])],
    [("t", b"k", b"v", [(b"name", b"v")])],
    [("t", b"k", b"v", ("not", "a list"))],
])
def test_malformed_records_are_refused_with_a_type_error(bad: list[Any]) -> None:
    native = speedups()
    if native is None:
        pytest.skip("the C speedups are not built")
    with pytest.raises(TypeError):
        native.kafka_batches(bad, "t", 1, 16384)


def test_a_producer_with_compression_keeps_aiokafkas_builder() -> None:
    from aiokafka import AIOKafkaProducer

    async def settings_of(**options: Any) -> tuple[int, bool] | None:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options)
        return encoded_batch_size(producer)

    import asyncio

    assert asyncio.run(settings_of(max_batch_size=1000)) == (1000, False)
    assert asyncio.run(settings_of(compression_type="gzip")) is None
    assert asyncio.run(settings_of(value_serializer=bytes)) is None
    assert asyncio.run(settings_of(transactional_id="t")) == (16384, True)


@pytest.mark.parametrize("batch_size", [16 * 1024, 3000])
def test_long_batches_split_where_aiokafka_splits_them(batch_size: int) -> None:
    native = speedups()
    if native is None:
        pytest.skip("the C speedups are not built")
    records: list[OutgoingRecord] = [
        ("t", f"key-{i}".encode(), b"v" * (i % 50) if i % 7 else None,
         [("ce_id", str(i).encode())]) for i in range(400)]

    written = []
    for partition, buffer, count in native.kafka_batches(records, "t", 2, batch_size):
        batch = EncodedBatch(buffer, count, 42, transactional=True)
        batch._set_producer_state(7, 3, 11)
        written.append((partition, bytes(batch._build())))

    expected = aiokafka_batches(records, "t", 2, batch_size, 42)
    assert sorted(written, key=lambda item: item[0]) == sorted(expected, key=lambda item: item[0])
    assert len(written) >= (2 if batch_size > 10_000 else 4)
