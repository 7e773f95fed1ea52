"""The contract every capture engine and strategy passes, on real Kafka and a real database.

An engine's test module subclasses :class:`CaptureContract` and provides a ``legacy`` fixture:
a :class:`LegacyTable` that changes the legacy table the way a department's clerks would, and
tells the suite how to configure a capture of it. The suite runs the production runner and
engine factories and checks what lands on the topic against the table itself.
"""

from __future__ import annotations

import abc
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.capture.config import parse_config
from adapters.capture.engines.registry import build_sources
from adapters.capture.runner import CaptureRunner
from adapters.capture.source import CaptureSource
from bus.kafka import TopicSpec, ensure_topics, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.stack.local import LocalStack
from tests.e2e.harness import TopicContents, read_topic

Rows = dict[str, dict[str, str | None]]
COMPARED = ("ID", "NAME", "NOTE")


class LegacyTable(abc.ABC):
    """One legacy table of one engine, driven like a department's clerks would drive it."""

    engine: str
    strategy: str
    sees_deletes = True
    key = "ID"
    table = "people"

    def __init__(self) -> None:
        self.department = f"c{uuid.uuid4().hex[:10]}"

    # --- the capture configuration of this table -------------------------------------
    @abc.abstractmethod
    def connection(self) -> dict[str, Any]: ...

    def table_config(self) -> dict[str, Any]:
        return {"table": self.table, "key": [self.key], "strategy": self.strategy,
                "batch_size": 50, "poll_interval": 0.2}

    # --- what clerks do ------------------------------------------------------------------
    @abc.abstractmethod
    def create(self, rows: list[dict[str, str]]) -> None: ...

    @abc.abstractmethod
    def insert(self, rows: list[dict[str, str]]) -> None: ...

    @abc.abstractmethod
    def update(self, key: str, **values: str) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def add_column(self, name: str) -> None:
        """Add a nullable text column; existing rows keep NULL."""

    @abc.abstractmethod
    def insert_undecodable(self, key: str) -> None:
        """Insert a row whose NAME holds bytes that are neither UTF-8 nor GB18030."""

    @abc.abstractmethod
    def rows(self) -> Rows:
        """The table's current content by key (the truth the topic must converge to)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Make the source unreachable (server down, directory gone)."""

    @abc.abstractmethod
    def start(self) -> None: ...


def people(start: int, count: int, prefix: str = "name") -> list[dict[str, str]]:
    return [{"ID": f"K{i:06d}", "NAME": f"{prefix}-{i}", "NOTE": f"张{i}"}
            for i in range(start, start + count)]


def final_state(contents: TopicContents) -> Rows:
    """Replay the change events: the last after-image per key, deletes remove the key."""
    state: Rows = {}
    for key, record in zip(contents.keys, contents.records, strict=True):
        if record is None:
            continue
        key_value = str(key["ID"])
        if record["op"] == "d":
            state.pop(key_value, None)
        else:
            state[key_value] = record["after"]
    return state


def repeated_images(contents: TopicContents) -> list[str]:
    """Keys that got the same after-image twice in a row: a doubled event."""
    last: dict[str, Any] = {}
    doubled = []
    for key, record in zip(contents.keys, contents.records, strict=True):
        if record is None or record["op"] == "d":
            last.pop(str(key["ID"]) if key else "", None)
            continue
        image = {c: record["after"].get(c) for c in COMPARED}
        if last.get(str(key["ID"])) == image:
            doubled.append(str(key["ID"]))
        last[str(key["ID"])] = image
    return doubled


def compared(rows: Rows) -> Rows:
    return {k: {c: (v or {}).get(c) for c in COMPARED} for k, v in rows.items()}


class CaptureContract:
    """Subclass and provide ``legacy`` (a fresh LegacyTable per test)."""

    #: The runner's pipeline and record workers; None: the stack's settings (BUS_CAPTURE_*).
    pipeline: bool | None = None
    workers: int | None = None
    #: Whether the source runs in a child process; None: as its engine does by default
    #: (``BUS_CAPTURE_SOURCE_PROCESS=auto``).
    source_process: bool | None = None

    @pytest.fixture
    def legacy(self) -> Iterator[LegacyTable]:
        raise NotImplementedError

    # --- helpers ------------------------------------------------------------------------
    def config(self, legacy: LegacyTable) -> dict[str, Any]:
        return {"sources": [{"department": legacy.department, "engine": legacy.engine,
                             "connection": legacy.connection(), "tables": [legacy.table_config()]}]}

    def source(self, legacy: LegacyTable, state_dir: Path) -> CaptureSource:
        [config] = parse_config(self.config(legacy))
        [source] = build_sources(config, state_dir, separate_processes=self.source_process)
        return source

    def topic(self, stack: Settings, legacy: LegacyTable) -> TopicContents:
        return read_topic(stack.kafka_bootstrap, stack.registry_url,
                          f"legacy.{legacy.department}.{legacy.table}")

    def quarantine(self, stack: Settings, legacy: LegacyTable) -> TopicContents:
        return read_topic(stack.kafka_bootstrap, stack.registry_url,
                          f"quarantine.{legacy.department}.{legacy.table}", decode_keys=False)

    @asynccontextmanager
    async def running(self, stack: Settings, legacy: LegacyTable, state_dir: Path,
                      publish_timeout: float = 30.0) -> AsyncIterator[CaptureRunner]:
        source = self.source(legacy, state_dir)
        await ensure_topics(stack.kafka_bootstrap, [
            POSITIONS_TOPIC_SPEC, TopicSpec.history(source.spec.topic),
            TopicSpec.history(source.spec.quarantine_topic)])
        async with RegistryClient(stack.registry_url) as registry:
            runner = CaptureRunner(
                source, bootstrap=stack.kafka_bootstrap, serde=AvroSerde(registry),
                producer_factory=lambda owner: transactional_producer(stack.kafka_bootstrap, owner),
                publish_timeout=publish_timeout,
                pipeline=stack.capture_pipeline if self.pipeline is None else self.pipeline,
                workers=stack.capture_workers if self.workers is None else self.workers)
            stop = asyncio.Event()
            task = asyncio.create_task(runner.run(stop))
            try:
                yield runner
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(check):
                return
            await asyncio.sleep(0.3)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def converged(self, stack: Settings, legacy: LegacyTable) -> Callable[[], bool]:
        def check() -> bool:
            expected = compared(legacy.rows())
            return compared(final_state(self.topic(stack, legacy))) == expected
        return check

    # --- the contract -------------------------------------------------------------------
    async def test_the_snapshot_publishes_every_row_exactly_once(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 120))
        async with self.running(stack, legacy, tmp_path):
            await self.until(self.converged(stack, legacy), "the snapshot")
        contents = self.topic(stack, legacy)
        assert len(contents) == 120
        assert {r["op"] for r in contents.records if r} <= {"r", "c"}
        assert all(r["source"]["department"] == legacy.department for r in contents.records if r)
        assert repeated_images(contents) == []

    async def test_inserts_updates_and_deletes_arrive_after_the_snapshot(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 10))
        async with self.running(stack, legacy, tmp_path):
            await self.until(self.converged(stack, legacy), "the snapshot")
            legacy.insert(people(10, 3))
            legacy.update("K000002", NAME="renamed")
            if legacy.sees_deletes:
                legacy.delete("K000005")
            await self.until(self.converged(stack, legacy), "the changes")
        contents = self.topic(stack, legacy)
        ops = [r["op"] for r in contents.records[10:] if r]
        assert "u" in ops
        if legacy.sees_deletes:
            assert "d" in ops
            deleted = [i for i, r in enumerate(contents.records) if r and r["op"] == "d"]
            # The delete is followed by a tombstone for compacted topics.
            assert contents.records[deleted[0] + 1] is None
        assert repeated_images(contents) == []

    async def test_many_rows_changed_within_one_second_are_all_captured_once(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 5))
        async with self.running(stack, legacy, tmp_path):
            await self.until(self.converged(stack, legacy), "the snapshot")
            legacy.insert(people(5, 300))
            for i in range(0, 300, 7):
                legacy.update(f"K{5 + i:06d}", NOTE="same-second")
            await self.until(self.converged(stack, legacy), "300 rows in one second")
        assert repeated_images(self.topic(stack, legacy)) == []

    async def test_a_column_added_to_the_legacy_table_appears_in_later_events(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 5))
        async with self.running(stack, legacy, tmp_path):
            await self.until(self.converged(stack, legacy), "the snapshot")
            legacy.add_column("PHONE")
            legacy.insert([{"ID": "K900000", "NAME": "new", "NOTE": "with phone",
                            "PHONE": "13800138000"}])
            await self.until(self.converged(stack, legacy), "the row with the new column")
        contents = self.topic(stack, legacy)
        newest = [r for r in contents.records if r and r["after"] and r["after"]["ID"] == "K900000"]
        assert newest[-1]["after"]["PHONE"] == "13800138000"

    async def test_an_undecodable_row_goes_to_quarantine_with_its_raw_text(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 3))
        async with self.running(stack, legacy, tmp_path):
            await self.until(self.converged(stack, legacy), "the snapshot")
            legacy.insert_undecodable("K800000")
            await self.until(lambda: len(self.quarantine(stack, legacy)) >= 1, "the quarantine")
        [record] = self.quarantine(stack, legacy).records
        assert record is not None and record["rule_id"] == "capture.undecodable"
        assert record["original"] and "\\x" in json.dumps(record["original"])

    async def test_the_source_going_down_and_back_loses_nothing(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 20))
        async with self.running(stack, legacy, tmp_path) as runner:
            await self.until(self.converged(stack, legacy), "the snapshot")
            legacy.stop()
            await self.until(lambda: runner.status.state == "degraded", "a degraded state", 30)
            legacy.start()
            legacy.insert(people(20, 10))
            await self.until(self.converged(stack, legacy), "the rows after the outage", 90)
            assert runner.status.retries >= 1
        assert repeated_images(self.topic(stack, legacy)) == []

    def test_sigkill_at_random_points_neither_loses_nor_doubles_a_row(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        legacy.create(people(0, 1500))
        config_path = tmp_path / "adapters.yaml"
        config_path.write_text(yaml.safe_dump(self.config(legacy)), encoding="utf-8")
        env = {**os.environ, "BUS_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
               "BUS_REGISTRY_URL": stack.registry_url, "BUS_STATE_DIR": str(tmp_path / "state"),
               "BUS_ADAPTERS_CONFIG": str(config_path), "BUS_ADAPTERS_PORT": "0",
               "BUS_CAPTURE_SOURCE_PROCESS": {None: "auto", True: "true", False: "false"}[
                   self.source_process]}
        rng = random.Random(11)
        log = open(tmp_path / "adapters.log", "ab")  # noqa: SIM115
        process = None
        try:
            for round_ in range(4):
                process = subprocess.Popen([sys.executable, "-m", "bus", "adapters", "run"],
                                           env=env, stdout=log, stderr=subprocess.STDOUT)
                time.sleep(rng.uniform(1.5, 3.5))
                legacy.insert(people(2000 + round_ * 40, 40, prefix="during"))
                process.send_signal(signal.SIGKILL)
                process.wait()
            process = subprocess.Popen([sys.executable, "-m", "bus", "adapters", "run"],
                                       env=env, stdout=log, stderr=subprocess.STDOUT)
            asyncio.run(self.until(self.converged(stack, legacy), "convergence after kills", 120))
        finally:
            if process and process.poll() is None:
                process.terminate()
                process.wait(30)
            log.close()
        contents = self.topic(stack, legacy)
        assert repeated_images(contents) == [], "a row was published twice"
        assert len(contents) == len(legacy.rows())


class BrokerOutageContract:
    """The broker going down and back: on a stack of the test's own (slower, so separate)."""

    @pytest.fixture
    def legacy(self) -> Iterator[LegacyTable]:
        raise NotImplementedError

    async def test_the_broker_going_down_and_back_loses_nothing(
        self, legacy: LegacyTable, tmp_path: Path, outage_stack: tuple[Settings, LocalStack]
    ) -> None:
        settings, local = outage_stack
        await asyncio.to_thread(local.up, timeout=180)
        contract = CaptureContract()
        legacy.create(people(0, 20))
        async with contract.running(settings, legacy, tmp_path, publish_timeout=10) as runner:
            await contract.until(contract.converged(settings, legacy), "the snapshot")
            await asyncio.to_thread(local.kafka.stop, 60)
            legacy.insert(people(20, 15))
            await contract.until(lambda: runner.status.state == "degraded",
                                 "a degraded state", 90)
            await asyncio.to_thread(local.up, timeout=180)
            await contract.until(contract.converged(settings, legacy),
                                 "the rows written while the broker was down", 180)
        assert repeated_images(contract.topic(settings, legacy)) == []
