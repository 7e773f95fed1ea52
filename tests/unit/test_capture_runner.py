"""The capture runner with a scripted source, a fake transactional producer and a JSON serde."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import fastavro
import pytest
from aiokafka.errors import KafkaConnectionError

from adapters.capture import runner as runner_module
from adapters.capture.change_event import change_event_id
from adapters.capture.runner import CHANGE_EVENT_TYPE, CaptureRunner
from adapters.capture.source import Batch, Change, Checkpoint, TableInfo, TableSpec
from bus.envelope import CloudEvent
from bus.positions import POSITIONS_TOPIC

SPEC = TableSpec(department="gongan", table="hj_ryxx", key_columns=("RYBH",),
                 strategy="incremental", updated_column="GXSJ", poll_interval=0)
COLUMNS = ("RYBH", "XM", "GXSJ")


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class FakeBatch:
    """What ``AIOKafkaProducer.create_batch()`` returns, keeping the appended records."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.closed = False

    def append(self, *, timestamp: int | None, key: bytes | None, value: bytes | None,
               headers: list[tuple[str, bytes]]) -> object:
        assert not self.closed
        self.records.append((key, value, list(headers)))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Transactional producer: sends become visible only when their transaction commits."""

    def __init__(self) -> None:
        self.committed: list[list[Sent]] = []
        self.aborted = 0
        self.fail_on_topic: str | None = None
        self._pending: list[Sent] | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        assert self._pending is None, "transactions do not nest"
        self._pending = []
        try:
            yield
        except BaseException:
            self.aborted += 1
            raise
        else:
            self.committed.append(self._pending)
        finally:
            self._pending = None

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> None:
        assert self._pending is not None, "send outside a transaction"
        if topic == self.fail_on_topic:
            self.fail_on_topic = None  # the broker comes back for the retry
            raise KafkaConnectionError(topic)
        self._pending.append(Sent(topic, key, value, list(headers or [])))

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> None:
        assert self._pending is not None, "send_batch outside a transaction"
        assert batch.closed, "a batch is closed before it is submitted"
        assert partition == 0
        if topic == self.fail_on_topic:
            self.fail_on_topic = None
            raise KafkaConnectionError(topic)
        self._pending.extend(Sent(topic, key, value, headers) for key, value, headers in batch.records)

    def messages(self, topic: str) -> list[Sent]:
        return [m for batch in self.committed for m in batch if m.topic == topic]

    def last_position(self) -> Checkpoint | None:
        stored = self.messages(POSITIONS_TOPIC)
        return json.loads(stored[-1].value or b"") if stored else None


class JsonSerde:
    """Checks each record against its Avro schema, then encodes it as JSON."""

    async def encode(self, subject: str, schema: dict[str, Any], record: Any) -> bytes:
        assert fastavro.validation.validate(record, fastavro.parse_schema(schema), raise_errors=True)
        return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")

    async def encoder(self, subject: str, schema: dict[str, Any]) -> Callable[[Any], bytes]:
        parsed = fastavro.parse_schema(schema)

        def encode(record: Any) -> bytes:
            assert fastavro.validation.validate(record, parsed, raise_errors=True)
            return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")

        return encode


class ScriptedSource:
    """Yields its batches after the checkpoint it is given; stops the runner once all are acked."""

    engine = "sqlite"
    database = "gongan.sqlite"
    spec = SPEC

    def __init__(self, batches: list[Batch], stop: asyncio.Event) -> None:
        self.batches, self.stop = batches, stop
        self.read_from: list[Checkpoint | None] = []
        self.acknowledged: list[Checkpoint] = []

    async def check(self) -> None:
        pass

    async def discover(self) -> list[TableInfo]:
        return [TableInfo(SPEC.table, COLUMNS, SPEC.key_columns)]

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        self.read_from.append(checkpoint)
        done = 0 if checkpoint is None else int(checkpoint["seq"])
        for batch in self.batches[done:]:
            yield batch

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        self.acknowledged.append(checkpoint)
        if checkpoint == self.batches[-1].checkpoint:
            self.stop.set()

    async def close(self) -> None:
        pass


def row(key: str, name: str) -> dict[str, str | None]:
    return {"RYBH": key, "XM": name, "GXSJ": "2024-03-07 08:30:15"}


def change(op: str, key: str, name: str = "张三", undecodable: tuple[str, ...] = ()) -> Change:
    after = None if op == "d" else row(key, name)
    return Change(op, {"RYBH": key}, row(key, name) if op == "d" else None,  # type: ignore[arg-type]
                  after, f"p-{key}", 1_709_771_415_000, undecodable=undecodable)


async def run_capture(batches: list[Batch], producer: FakeProducer,
                      monkeypatch: pytest.MonkeyPatch) -> ScriptedSource:
    async def stored_position(_bootstrap: str, _owner: str) -> Checkpoint | None:
        return producer.last_position()

    monkeypatch.setattr(runner_module, "read_position", stored_position)
    monkeypatch.setattr(runner_module.Backoff, "next_delay", lambda self: 0.0)
    stop = asyncio.Event()
    source = ScriptedSource(batches, stop)
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=JsonSerde(),  # type: ignore[arg-type]
                           producer_factory=lambda owner: producer)  # type: ignore[arg-type,return-value]
    await asyncio.wait_for(runner.run(stop), 10)
    return source


async def test_each_batch_is_one_transaction_with_its_checkpoint_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    batches = [Batch([change("c", "R1"), change("c", "R2")], {"seq": 1}, COLUMNS),
               Batch([change("u", "R1", "李四")], {"seq": 2}, COLUMNS)]

    source = await run_capture(batches, producer, monkeypatch)

    assert [[m.topic for m in t] for t in producer.committed] == [
        [SPEC.topic, SPEC.topic, POSITIONS_TOPIC], [SPEC.topic, POSITIONS_TOPIC]]
    assert [json.loads(t[-1].value or b"") for t in producer.committed] == [{"seq": 1}, {"seq": 2}]
    assert producer.committed[0][-1].key == b"capture.gongan.hj_ryxx"
    assert source.acknowledged == [{"seq": 1}, {"seq": 2}]


async def test_every_event_carries_a_cloudevents_envelope_naming_the_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()

    await run_capture([Batch([change("c", "R1", "王小明")], {"seq": 1}, COLUMNS)], producer,
                      monkeypatch)

    [sent] = producer.messages(SPEC.topic)
    event = CloudEvent.from_headers(sent.headers)
    record = json.loads(sent.value or b"")
    assert json.loads(sent.key or b"") == {"RYBH": "R1"}
    assert event.type == CHANGE_EVENT_TYPE
    assert event.source == "/adapters/gongan/sqlite/hj_ryxx"
    assert event.subject == "hj_ryxx/R1"
    assert event.dataclassification == "sensitive_personal"
    assert event.id == change_event_id("gongan", "hj_ryxx", "R1", {"op": "c", **record["after"]})
    assert record["source"]["ts_ms"] == 1_709_771_415_000
    assert record["source"]["database"] == "gongan.sqlite"
    assert (record["op"], record["before"], record["after"]["XM"]) == ("c", None, "王小明")


async def test_a_delete_is_followed_by_a_tombstone_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()

    await run_capture([Batch([change("d", "R1")], {"seq": 1}, COLUMNS)], producer, monkeypatch)

    delete, tombstone = producer.messages(SPEC.topic)
    assert json.loads(delete.value or b"")["op"] == "d"
    assert (tombstone.key, tombstone.value) == (delete.key, None)


async def test_an_undecodable_row_goes_to_the_quarantine_topic_instead_of_the_change_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    bad = change("c", "R2", "\\xff\\xfe", undecodable=("XM",))

    await run_capture([Batch([change("c", "R1"), bad], {"seq": 1}, COLUMNS)], producer, monkeypatch)

    assert [json.loads(m.key or b"") for m in producer.messages(SPEC.topic)] == [{"RYBH": "R1"}]
    [quarantined] = producer.messages(SPEC.quarantine_topic)
    record = json.loads(quarantined.value or b"")
    assert quarantined.key == b"R2"
    assert (record["rule_id"], record["field"]) == ("capture.undecodable", "XM")
    assert record["original"]["XM"] == "\\xff\\xfe"


async def test_a_failed_transaction_leaves_the_checkpoint_and_the_retry_publishes_the_batch_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    batches = [Batch([change("c", "R1")], {"seq": 1}, COLUMNS),
               Batch([change("c", "R2")], {"seq": 2}, COLUMNS)]
    original_send = producer.send

    async def fail_second_position(topic: str, **kwargs: Any) -> None:
        if topic == POSITIONS_TOPIC and len(producer.committed) == 1:
            producer.fail_on_topic = POSITIONS_TOPIC
            producer.send = original_send  # type: ignore[method-assign]
        await original_send(topic, **kwargs)

    producer.send = fail_second_position  # type: ignore[method-assign]
    source = await run_capture(batches, producer, monkeypatch)

    assert producer.aborted == 1
    assert source.read_from == [None, {"seq": 1}]  # the retry resumed after the committed batch
    assert source.acknowledged == [{"seq": 1}, {"seq": 2}]
    assert [json.loads(m.key or b"")["RYBH"] for m in producer.messages(SPEC.topic)] == ["R1", "R2"]
