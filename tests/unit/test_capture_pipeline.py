"""The runner's pipeline (read ahead, commit in order) and records built in a worker process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.capture import runner as runner_module
from adapters.capture.runner import CaptureRunner
from adapters.capture.source import Batch, Checkpoint
from bus.kafka import OutgoingRecord
from bus.positions import POSITIONS_TOPIC
from bus.serde.avro import AvroSerde
from tests.unit.test_capture_runner import (
    COLUMNS,
    SPEC,
    FakeProducer,
    JsonSerde,
    ScriptedSource,
    change,
)
from tests.unit.test_serde import FakeRegistry


class ReadingAheadSource(ScriptedSource):
    """A source that allows reading ahead; notes how far it read before each acknowledgement."""

    reads_ahead = True

    def __init__(self, batches: list[Batch], stop: asyncio.Event) -> None:
        super().__init__(batches, stop)
        self.ahead: list[int] = []  # batches handed out but not yet acknowledged, per read

    def acknowledged_seq(self) -> int:
        """Checkpoints are cumulative: the last acknowledged covers every batch before it."""
        return int(self.acknowledged[-1]["seq"]) if self.acknowledged else 0

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        self.read_from.append(checkpoint)
        done = 0 if checkpoint is None else int(checkpoint["seq"])
        for handed, batch in enumerate(self.batches[done:], start=done + 1):
            self.ahead.append(handed - self.acknowledged_seq())
            yield batch
            await asyncio.sleep(0)


def batches(count: int) -> list[Batch]:
    return [Batch([change("c", f"R{n}-{i}") for i in range(3)], {"seq": n}, COLUMNS)
            for n in range(1, count + 1)]


async def run_pipelined(source_batches: list[Batch], producer: FakeProducer,
                        monkeypatch: pytest.MonkeyPatch) -> ReadingAheadSource:
    async def stored_position(_bootstrap: str, _owner: str) -> Checkpoint | None:
        return producer.last_position()

    monkeypatch.setattr(runner_module, "read_position", stored_position)
    monkeypatch.setattr(runner_module.Backoff, "next_delay", lambda self: 0.0)
    stop = asyncio.Event()
    source = ReadingAheadSource(source_batches, stop)
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=JsonSerde(),  # type: ignore[arg-type]
                           producer_factory=lambda owner: producer,
                           pipeline=True)
    assert runner.pipeline
    await asyncio.wait_for(runner.run(stop), 10)
    return source


def transactions(producer: FakeProducer) -> list[tuple[list[str], int]]:
    """Each committed transaction: its record keys and the checkpoint it ends with."""
    committed = []
    for sent in producer.committed:
        *records, position = sent
        assert position.topic == POSITIONS_TOPIC, "a transaction ends with its checkpoint"
        assert all(m.topic == SPEC.topic for m in records)
        committed.append(([json.loads(m.key or b"")["RYBH"] for m in records],
                          int(json.loads(position.value or b"")["seq"])))
    return committed


def assert_grouped_in_order(producer: FakeProducer, count: int) -> None:
    """Transactions hold consecutive whole batches, in reading order, each with the checkpoint
    of its last batch."""
    done = 0
    for keys, seq in transactions(producer):
        assert seq > done
        assert keys == [f"R{n}-{i}" for n in range(done + 1, seq + 1) for i in range(3)]
        done = seq
    assert done == count


async def test_pipelined_batches_commit_in_reading_order_each_group_with_its_last_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()

    source = await run_pipelined(batches(6), producer, monkeypatch)

    assert max(source.ahead) > 1, "the runner never read ahead of the acknowledgements"
    assert max(source.ahead) <= runner_module.PIPELINE_DEPTH + 1
    assert_grouped_in_order(producer, 6)
    # Once per transaction, with its last checkpoint.
    assert source.acknowledged == [{"seq": seq} for _, seq in transactions(producer)]


class SlowCommits(FakeProducer):
    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> None:
        await asyncio.sleep(0.05)  # the broker's round trips: the reader runs ahead
        await super().send_batch(batch, topic, partition=partition)


async def test_batches_read_while_a_transaction_commits_share_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = SlowCommits()
    count = 3 * runner_module.PIPELINE_DEPTH

    source = await run_pipelined(batches(count), producer, monkeypatch)

    assert_grouped_in_order(producer, count)
    sizes = [len(keys) // 3 for keys, _ in transactions(producer)]
    assert max(sizes) > 1, f"every batch had a transaction of its own: {sizes}"
    assert max(sizes) <= runner_module.PIPELINE_DEPTH
    assert max(source.ahead) <= runner_module.PIPELINE_DEPTH + 1
    assert source.acknowledged == [{"seq": seq} for _, seq in transactions(producer)]


async def test_a_failed_commit_fails_the_batches_read_after_it_and_resumes_from_its_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = FakeProducer()
    producer.fail_on_topic = SPEC.topic  # the first batch's records: the broker is away

    source = await run_pipelined(batches(5), producer, monkeypatch)

    assert producer.aborted == 1
    assert source.read_from == [None, None]  # nothing was committed before the failure
    assert_grouped_in_order(producer, 5)
    keys = [m.key for m in producer.messages(SPEC.topic)]
    assert len(keys) == len(set(keys)) == 15


async def test_a_read_waiting_for_an_acknowledgement_ends_when_the_commit_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class WaitsForItsFirstBatch(ReadingAheadSource):
        """Like a ``diff`` pass before its deletes: reads on once its batch is applied."""

        async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
            async for batch in super().read(checkpoint):
                yield batch
                while self.acknowledged_seq() < int(batch.checkpoint["seq"]):
                    await asyncio.sleep(0.01)

    producer = FakeProducer()
    producer.fail_on_topic = SPEC.topic  # the first batch is never acknowledged

    stop = asyncio.Event()
    source = WaitsForItsFirstBatch(batches(3), stop)
    monkeypatch.setattr(runner_module, "read_position",
                        lambda _bootstrap, _owner: asyncio.sleep(0, producer.last_position()))
    monkeypatch.setattr(runner_module.Backoff, "next_delay", lambda self: 0.0)
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=JsonSerde(),  # type: ignore[arg-type]
                           producer_factory=lambda owner: producer, pipeline=True)
    await asyncio.wait_for(runner.run(stop), 10)

    assert producer.aborted == 1 and runner.status.retries == 1
    assert source.read_from == [None, None]
    assert_grouped_in_order(producer, 3)


async def test_sources_that_wait_for_acknowledgements_are_not_read_ahead() -> None:
    source = ScriptedSource([], asyncio.Event())
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=JsonSerde(),  # type: ignore[arg-type]
                           producer_factory=lambda owner: FakeProducer(),
                           pipeline=True)
    assert not runner.pipeline


async def records_of(batch: Batch, *, pipeline: bool, workers: int,
                     monkeypatch: pytest.MonkeyPatch) -> tuple[CaptureRunner, list[OutgoingRecord]]:
    class FixedClock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> FixedClock:
            return cls(2024, 3, 7, 1, 2, 3, 456000, tzinfo=UTC)

    monkeypatch.setattr(runner_module, "datetime", FixedClock)
    source = ScriptedSource([], asyncio.Event())
    source.reads_ahead = True  # type: ignore[attr-defined]
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=AvroSerde(FakeRegistry()),  # type: ignore[arg-type]
                           producer_factory=lambda owner: FakeProducer(),
                           pipeline=pipeline, workers=workers)
    return runner, await runner._records(batch)


async def test_records_built_by_a_worker_process_are_byte_identical(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changes = [change("c" if i % 3 else "u", f"R{i}", f"名{i}") for i in range(40)]
    changes[7] = change("d", "R7")
    batch = Batch(changes, {"seq": 1}, COLUMNS)

    _, here = await records_of(batch, pipeline=False, workers=0, monkeypatch=monkeypatch)
    runner, built = await records_of(batch, pipeline=True, workers=1, monkeypatch=monkeypatch)

    assert runner.workers is not None
    assert len(here) == 41  # the delete's tombstone
    assert built == here


async def test_without_the_pipeline_records_are_built_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner, _ = await records_of(Batch([change("c", "R1")], {"seq": 1}, COLUMNS),
                                 pipeline=False, workers=1, monkeypatch=monkeypatch)
    assert runner.workers is None


KEEPS_A_WORKER = """
import asyncio, sys
from adapters.capture.record_workers import RecordWorkers, build_records

async def main() -> None:
    workers = RecordWorkers(1)
    pool = workers._executor()
    await asyncio.get_running_loop().run_in_executor(pool, sum, [1, 2])
    print(*pool._processes, flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_a_worker_leaves_when_its_capture_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "keeps_a_worker.py"
    script.write_text(KEEPS_A_WORKER, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive while its parent is
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its killed parent")


class CommitLog(FakeProducer):
    """Notes, beside the sources' ``durable`` calls, when each transaction commits."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with super().transaction():
            yield
        position = self.last_position()
        self.events.append(f"commit {position['seq'] if position else None}")


@pytest.mark.parametrize("pipeline", [True, False])
async def test_what_a_source_recorded_is_durable_before_kafka_commits_its_batch(
    pipeline: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []

    def batch(seq: int) -> Batch:
        async def durable() -> None:
            await asyncio.sleep(0.01)  # a slow disk: the records are sent meanwhile
            events.append(f"durable by {seq}")
        return replace(batches(seq)[-1], durable=durable)

    producer = CommitLog(events)
    stop = asyncio.Event()
    source = ReadingAheadSource([batch(n) for n in range(1, 6)], stop)
    monkeypatch.setattr(runner_module, "read_position",
                        lambda _bootstrap, _owner: asyncio.sleep(0, producer.last_position()))
    runner = CaptureRunner(source, bootstrap="127.0.0.1:1", serde=JsonSerde(),  # type: ignore[arg-type]
                           producer_factory=lambda owner: producer, pipeline=pipeline)
    await asyncio.wait_for(runner.run(stop), 10)

    commits = [i for i, event in enumerate(events) if event.startswith("commit")]
    assert len(commits) == len(transactions(producer)) >= 1
    for before, at in zip([-1, *commits], commits, strict=False):
        seq = events[at].removeprefix("commit ")
        # The group's last batch's durable, which covers the batches before it, ran inside
        # the transaction, before its commit.
        assert f"durable by {seq}" in events[before + 1:at], events
