"""The contract every write-back target passes, on real Kafka and a real database or directory.

An engine's test module subclasses :class:`WritebackContract` and provides a ``legacy`` fixture:
a :class:`LegacyTarget` holding a fresh legacy table (or export directory) that a department's
clerks can change, with the reference mapping of that table. The suite runs the production
sink runner and targets against it: events published on a topic of the test's own, the legacy
side read back as the department sees it.
"""

from __future__ import annotations

import abc
import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer

from adapters.capture.config import parse_config
from adapters.capture.engines.registry import build_sources
from adapters.capture.runner import CaptureRunner
from adapters.sinks.config import SinkConfig, parse_sink_config
from adapters.sinks.process import build_target
from adapters.sinks.runner import SinkRunner
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from schemas.avro_schemas import load_avro_schema
from tests.e2e.harness import TopicContents, read_topic

Rows = dict[str, dict[str, str | None]]


def household_registration(number: int, **changes: Any) -> dict[str, Any]:
    """A std.household_registration value as the newborn process manager would publish it."""
    value: dict[str, Any] = {
        "registration_id": f"R{number:05d}", "case_id": f"C{number:05d}",
        "certificate_number": f"Q44{number:07d}", "name": f"张小{'一二三四五六七八九十'[number % 10]}",
        "sex_code": "1" if number % 2 else "2", "birth_date": date(2026, 11, 1 + number % 20),
        "division_code": "110105", "household_address": "北京市朝阳区某街道1号",
        "mother_identity_number": "11010519900307002X", "father_identity_number": None,
        "requested_at": datetime(2026, 11, 25, 8, 30, tzinfo=UTC),
        "source": {"department": "rongtong.newborn_case", "table": "newborn_case",
                   "record_key": f"Q44{number:07d}", "event_id": str(uuid.uuid4()), "op": "c",
                   "updated_at": None},
    }
    value.update(changes)
    return value


def insurance_enrolment(number: int, **changes: Any) -> dict[str, Any]:
    """A std.insurance_enrolment value as the newborn process manager would publish it."""
    value: dict[str, Any] = {
        "enrolment_id": f"E{number:05d}", "case_id": f"C{number:05d}",
        "certificate_number": f"Q44{number:07d}", "identity_number": None,
        "name": f"李小{'一二三四五六七八九十'[number % 10]}", "sex_code": "1" if number % 2 else "2",
        "birth_date": date(2026, 11, 1 + number % 20), "employer_credit_code": None,
        "requested_at": datetime(2026, 11, 25, 8, 30, tzinfo=UTC),
        "source": {"department": "rongtong.newborn_case", "table": "newborn_case",
                   "record_key": f"Q44{number:07d}", "event_id": str(uuid.uuid4()), "op": "c",
                   "updated_at": None},
    }
    value.update(changes)
    return value


def register_columns(value: dict[str, Any]) -> dict[str, str | None]:
    """hj_ryxx as the reference mapping writes a registration: pending (no SFZH), local codes."""
    return {"RYBH": f"WB{value['registration_id']}", "SFZH": None, "XM": value["name"],
            "XB": value["sex_code"], "CSRQ": value["birth_date"].strftime("%Y%m%d"),
            "HJDZ": value["household_address"], "XZQH": value["division_code"]}


EVENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "household_registration": household_registration,
    "insurance_enrolment": insurance_enrolment,
}


def clerk_time(offset_seconds: int = 0) -> str:
    """A clerk's stamp: local time to the second; an update passes a second to come after the sink's.

    A clerk's insert takes the time as it is: stamped ahead, it could pass the sink's rows of the
    same moment, and an incremental capture with no look-back would rightly never read them.
    """
    moment = datetime.now() + timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class LegacyTarget(abc.ABC):
    """One legacy table (or export directory) a sink writes, read as its department reads it."""

    engine: str
    mapping: str
    entity: str
    table: str
    department: str
    key_column: str
    name_column: str
    updated_column: str
    #: What a clerk's approval of a pending row sets (docs/writeback.md).
    approval: ClassVar[dict[str, str]] = {}
    #: The legacy side can change rows (SQL tables): conflicts and echoes apply.
    changeable = True
    #: How the department's capture reads the table in the echo test.
    capture_strategy = "incremental"

    def __init__(self) -> None:
        self.topic = f"wbtest.{uuid.uuid4().hex[:10]}.{self.entity}"

    @abc.abstractmethod
    def connection(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def create(self) -> None: ...

    @abc.abstractmethod
    def rows(self) -> Rows:
        """The legacy table by key, every value as text (the last line per key for files)."""

    @abc.abstractmethod
    def expected(self, value: dict[str, Any]) -> dict[str, str | None]:
        """Columns the reference mapping writes for ``value``, as the department reads them."""

    def capture_connection(self) -> dict[str, Any]:
        """How the capture reaches the table (a read-only account where the engine has one)."""
        return self.connection()

    def line_count(self) -> int:
        """Rows (or exported lines) in total."""
        return len(self.rows())

    def clerk_update(self, key: str, **values: str) -> None:
        """Change a row as the department's program would (stamping the update column)."""
        raise NotImplementedError

    def clerk_insert(self, key: str) -> None:
        """A row the department creates itself."""
        raise NotImplementedError

    def legacy_key(self, value: dict[str, Any]) -> str:
        identifier = value["registration_id" if self.entity == "household_registration"
                          else "enrolment_id"]
        return f"WB{identifier}" if self.changeable else str(identifier)

    def sink_config(self, policy: str = "legacy_wins") -> SinkConfig:
        [config] = parse_sink_config({"sinks": [{
            "department": self.department, "engine": self.engine, "connection": self.connection(),
            "topic": self.topic, "table": self.table, "mapping": self.mapping,
            "conflict_policy": policy, "batch_size": 50}]})
        return config


class EventWriter:
    """Publishes canonical events with chosen CloudEvents ids, as a producer of them would."""

    def __init__(self, stack: Settings, legacy: LegacyTarget) -> None:
        self.stack = stack
        self.legacy = legacy
        self.schema = load_avro_schema(legacy.entity)
        self.key_schema = load_avro_schema(f"{legacy.entity}_key")

    async def publish(self, *values: dict[str, Any], ids: list[str] | None = None) -> list[str]:
        ids = ids or [str(uuid.uuid4()) for _ in values]
        key_field = self.key_schema["fields"][0]["name"]
        async with RegistryClient(self.stack.registry_url) as registry:
            serde = AvroSerde(registry)
            producer = AIOKafkaProducer(bootstrap_servers=self.stack.kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for value, event_id in zip(values, ids, strict=True):
                    key = await serde.encode(subject_for(self.legacy.topic, is_key=True),
                                             self.key_schema, {key_field: value[key_field]})
                    body = await serde.encode(subject_for(self.legacy.topic), self.schema, value)
                    event = CloudEvent(f"rongtong.std.{self.legacy.entity}.upserted", "/tests",
                                       id=event_id, dataclassification="sensitive_personal")
                    await producer.send_and_wait(self.legacy.topic, body, key=key,
                                                 headers=event.to_headers())
            finally:
                await producer.stop()
        return ids


class WritebackContract:
    """Subclass and provide ``legacy`` (a fresh LegacyTarget per test)."""

    @pytest.fixture
    def legacy(self) -> Iterator[LegacyTarget]:
        raise NotImplementedError

    # --- helpers ------------------------------------------------------------------------
    @asynccontextmanager
    async def sink(self, stack: Settings, legacy: LegacyTarget, state_dir: Path,
                   policy: str = "legacy_wins") -> AsyncIterator[SinkRunner]:
        config = legacy.sink_config(policy)
        await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(legacy.topic)])
        async with RegistryClient(stack.registry_url) as registry:
            runner = SinkRunner(config, build_target(config, state_dir),
                                bootstrap=stack.kafka_bootstrap, serde=AvroSerde(registry),
                                poll_timeout=0.1)
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
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def side_topic(self, stack: Settings, legacy: LegacyTarget, kind: str) -> TopicContents:
        return read_topic(stack.kafka_bootstrap, stack.registry_url,
                          f"writeback.{kind}.{legacy.department}.{legacy.table}", decode_keys=False)

    def has_row(self, legacy: LegacyTarget, key: str, **expected: str | None) -> Callable[[], bool]:
        def check() -> bool:
            row = legacy.rows().get(key)
            return row is not None and all(row.get(c) == v for c, v in expected.items())
        return check

    # --- the contract -------------------------------------------------------------------
    async def test_events_become_rows_updates_replace_them_and_a_replay_changes_nothing(
        self, stack: Settings, legacy: LegacyTarget, tmp_path: Path
    ) -> None:
        legacy.create()
        make = EVENTS[legacy.entity]
        writer = EventWriter(stack, legacy)
        first = [make(i) for i in range(1, 4)]
        too_long = make(4, name="名" * 60)  # longer than any legacy name column: quarantined
        renamed = make(1, name="张新名")
        ids = await writer.publish(*first, too_long, renamed)
        marker = make(5)
        async with self.sink(stack, legacy, tmp_path) as runner:
            await self.until(self.has_row(legacy, legacy.legacy_key(renamed),
                                          **{legacy.name_column: "张新名"}), "the renamed row")
            await writer.publish(renamed, ids=[ids[4]])  # the same event again
            await writer.publish(marker)
            await self.until(self.has_row(legacy, legacy.legacy_key(marker)), "the marker row")
            assert runner.status.replayed == 1
            assert runner.status.quarantined == 1
        rows = legacy.rows()
        assert set(rows) == {legacy.legacy_key(v) for v in (*first, marker)}
        row = rows[legacy.legacy_key(first[1])]
        assert {c: row[c] for c in legacy.expected(first[1])} == legacy.expected(first[1])
        expected_lines = 4 if legacy.changeable else 5  # files: the update is a second line
        assert legacy.line_count() == expected_lines
        quarantined = [r for r in self.side_topic(stack, legacy, "quarantine").records
                       if r and r["source_event_id"] == ids[3]]
        assert [r["rule_id"] for r in quarantined] == ["writeback.too_long"]
        assert quarantined[0]["source_topic"] == legacy.topic

        # A new sink process resumes at the stored positions: nothing is written again.
        async with self.sink(stack, legacy, tmp_path) as again:
            late = make(6)
            await writer.publish(late)
            await self.until(self.has_row(legacy, legacy.legacy_key(late)), "the late row")
            assert again.status.written == 1
            assert again.status.replayed == 0
        assert legacy.line_count() == expected_lines + 1

    async def test_a_row_a_clerk_changed_is_kept_or_overwritten_by_policy_and_reported(
        self, stack: Settings, legacy: LegacyTarget, tmp_path: Path
    ) -> None:
        if not legacy.changeable:
            pytest.skip("an export file is never changed by its department: no conflicts")
        legacy.create()
        make = EVENTS[legacy.entity]
        writer = EventWriter(stack, legacy)
        value = make(1)
        key = legacy.legacy_key(value)
        await writer.publish(value)
        async with self.sink(stack, legacy, tmp_path):
            await self.until(self.has_row(legacy, key), "the first row")
        legacy.clerk_update(key, **{legacy.name_column: "柜员改名"})
        [kept_id] = await writer.publish(make(1, name="总线改名"))
        async with self.sink(stack, legacy, tmp_path, policy="legacy_wins") as runner:
            await self.until(lambda: runner.status.conflicts == 1, "the conflict")
        assert legacy.rows()[key][legacy.name_column] == "柜员改名"

        [overwritten_id] = await writer.publish(make(1, name="总线再改"))
        async with self.sink(stack, legacy, tmp_path, policy="bus_wins") as runner:
            await self.until(self.has_row(legacy, key, **{legacy.name_column: "总线再改"}),
                             "the bus's row")
            assert runner.status.conflicts == 1
        reported = self.side_topic(stack, legacy, "conflicts")
        conflicts = {r["event_id"]: r for r in reported.records
                     if r and r["event_id"] in (kept_id, overwritten_id)}
        [headers] = [h for r, h in zip(reported.records, reported.headers, strict=True)
                     if r and r["event_id"] == kept_id]
        assert headers["ce_type"] == "rongtong.writeback.conflict.detected"
        assert headers["causationid"] == kept_id
        assert headers["dataclassification"] == "sensitive_personal"
        assert conflicts[kept_id]["reason"] == "changed_in_legacy"
        assert conflicts[kept_id]["overwritten"] is False
        assert conflicts[kept_id]["legacy_image"][legacy.name_column] == "柜员改名"
        assert conflicts[kept_id]["bus_image"][legacy.name_column] == "总线改名"
        assert conflicts[overwritten_id]["overwritten"] is True
        assert conflicts[overwritten_id]["policy"] == "bus_wins"

    async def test_the_capture_skips_the_sinks_rows_and_publishes_a_clerks_approval(
        self, stack: Settings, legacy: LegacyTarget, tmp_path: Path
    ) -> None:
        if not legacy.changeable:
            pytest.skip("the capture never reads an export directory: no echoes")
        legacy.create()
        make = EVENTS[legacy.entity]
        values = [make(i) for i in range(1, 4)]
        capture_department = f"e{uuid.uuid4().hex[:10]}"
        topic = f"legacy.{capture_department}.{legacy.table}"
        table: dict[str, Any] = {"table": legacy.table, "key": [legacy.key_column],
                                 "strategy": legacy.capture_strategy, "batch_size": 50,
                                 "poll_interval": 0.2}
        if legacy.capture_strategy == "incremental":
            table["updated_column"] = legacy.updated_column
        [config] = parse_config({"sources": [{
            "department": capture_department, "engine": legacy.engine,
            "connection": legacy.capture_connection(), "tables": [table]}]})
        [source] = build_sources(config, tmp_path)
        await ensure_topics(stack.kafka_bootstrap, [
            POSITIONS_TOPIC_SPEC, TopicSpec.history(topic),
            TopicSpec.history(source.spec.quarantine_topic)])

        def published() -> set[str]:
            contents = read_topic(stack.kafka_bootstrap, stack.registry_url, topic)
            return {r["after"][legacy.key_column] for r in contents.records if r and r["after"]}

        approved = legacy.legacy_key(values[0])
        async with RegistryClient(stack.registry_url) as registry:
            runner = CaptureRunner(
                source, bootstrap=stack.kafka_bootstrap, serde=AvroSerde(registry),
                producer_factory=lambda owner: transactional_producer(stack.kafka_bootstrap, owner))
            stop = asyncio.Event()
            task = asyncio.create_task(runner.run(stop))
            try:
                legacy.clerk_insert("CLERK0001")  # the department's own row: published
                await self.until(lambda: "CLERK0001" in published(), "the clerk's first row")
                await EventWriter(stack, legacy).publish(*values)
                async with self.sink(stack, legacy, tmp_path):
                    await self.until(lambda: len(legacy.rows()) == 4, "the sink's rows")
                legacy.clerk_insert("CLERK0002")  # the capture reads past the sink's rows
                await self.until(lambda: "CLERK0002" in published(), "the clerk's second row")
                await self.until(lambda: runner.status.echoes_suppressed >= 3,
                                 "the sink's three rows recognized as echoes")
                assert published() == {"CLERK0001", "CLERK0002"}
                legacy.clerk_update(approved, **legacy.approval)
                await self.until(lambda: approved in published(), "the clerk's approval")
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)
        contents = read_topic(stack.kafka_bootstrap, stack.registry_url, topic)
        [approval] = [r for r in contents.records if r and r["after"][legacy.key_column] == approved]
        assert all(approval["after"][c] == v for c, v in legacy.approval.items())
        assert published() == {"CLERK0001", "CLERK0002", approved}
