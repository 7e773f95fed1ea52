"""``bus sinks run`` SIGKILLed again and again under load: every event lands exactly once.

A few thousand registration requests wait on a topic; one sinks process writes them into a
SQLite household register and a GBK export directory, and is killed with SIGKILL at seeded
random moments mid-work and restarted at once. In the end the register holds exactly one row
per event and the export exactly one line per event: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import sqlite3
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from adapters.sinks.config import parse_sink_config
from adapters.sinks.file_target import FileTarget
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from schemas.avro_schemas import load_avro_schema
from tests.conftest import bus_environment, free_port
from tests.contracts.writeback_contract import household_registration
from tests.e2e.crashes import DEFAULT_KILL_SEED, Work, kill_repeatedly, logs_on_failure
from tests.e2e.harness import BusProcess

pytestmark = pytest.mark.integration
EVENTS = int(os.environ.get("BUS_WRITEBACK_CRASH_EVENTS", "6000"))
HJ_RYXX = """CREATE TABLE hj_ryxx (RYBH TEXT PRIMARY KEY, SFZH TEXT, XM TEXT, XB TEXT, CSRQ TEXT,
    HJDZ TEXT, XZQH TEXT, GXSJ TEXT NOT NULL)"""


async def publish(stack: Settings, topic: str, count: int) -> None:
    schema, key_schema = load_avro_schema("household_registration"), load_avro_schema(
        "household_registration_key")
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(topic, partitions=2)])
    async with RegistryClient(stack.registry_url) as registry:
        serde = AvroSerde(registry)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all",
                                    linger_ms=5)
        await producer.start()
        try:
            deliveries = []
            for number in range(count):
                value = household_registration(number)
                key = await serde.encode(subject_for(topic, is_key=True), key_schema,
                                         {"registration_id": value["registration_id"]})
                body = await serde.encode(subject_for(topic), schema, value)
                event = CloudEvent("rongtong.std.household_registration.upserted", "/tests")
                deliveries.append(await producer.send(topic, body, key=key,
                                                      headers=event.to_headers()))
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()


def register_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        keys = [str(r[0]) for r in db.execute("SELECT RYBH FROM hj_ryxx")]
    db.close()
    return keys


def export_lines(directory: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(directory.glob("csdj_p*.csv")):
        with open(path, encoding="gbk", newline="") as handle:
            lines.extend(row["DJBH"] for row in csv.DictReader(handle))
    return lines


def test_sigkilled_sinks_leave_exactly_one_row_and_one_line_per_event(
    stack: Settings, tmp_path: Path
) -> None:
    topic = f"wbcrash.{uuid.uuid4().hex[:8]}.household_registration"
    register, export = tmp_path / "legacy" / "gongan.sqlite", tmp_path / "legacy" / "mz" / "export"
    register.parent.mkdir(parents=True)
    with sqlite3.connect(register) as db:
        db.execute(HJ_RYXX)
    db.close()
    config = tmp_path / "writeback.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"batch_size": 25}, "sinks": [
        {"department": "gongan", "engine": "sqlite", "connection": {"path": str(register)},
         "topic": topic, "table": "hj_ryxx", "mapping": "writeback/gongan.hj_ryxx.yaml"},
        {"department": "mz", "engine": "files",
         "connection": {"directory": str(export), "encoding": "gbk"},
         "topic": topic, "table": "csdj", "mapping": "writeback/mz.csdj.yaml"},
    ]}), encoding="utf-8")
    asyncio.run(publish(stack, topic, EVENTS))
    env = {**bus_environment(stack, tmp_path / "state"), "BUS_WRITEBACK_CONFIG": str(config),
           "BUS_SINKS_PORT": str(free_port())}
    sinks = BusProcess("sinks", ["sinks", "run"], env, tmp_path / "logs").start()

    def done() -> int:
        return min(len(register_rows(register)), len(export_lines(export)))

    rng = random.Random(int(os.environ.get("BUS_E2E_KILL_SEED", DEFAULT_KILL_SEED)))
    try:
        with logs_on_failure(sinks):
            kills = kill_repeatedly([Work(sinks, done, EVENTS)], kills_each=4, rng=rng,
                                    pause=(0.5, 1.5))  # a quiet machine writes ~1,000 a second
            for _ in range(600):
                if done() >= EVENTS:
                    break
                assert sinks.alive(), "the sinks process exited by itself"
                time.sleep(0.2)
            print("kills:", ", ".join(map(str, kills)))
            rows, lines = register_rows(register), export_lines(export)
            assert len(kills) >= 2, f"the sinks finished before they could be killed: {kills}"
            expected = {f"WBR{n:05d}" for n in range(EVENTS)}
            assert len(rows) == EVENTS and set(rows) == expected
            doubled = {k: c for k, c in Counter(lines).items() if c > 1}
            assert doubled == {}, f"exported twice after {kills}: {list(doubled)[:10]}"
            assert set(lines) == {k.removeprefix("WB") for k in expected}
            with sqlite3.connect(register) as db:
                outcomes = dict(db.execute("SELECT outcome, count(*) FROM rongtong_writeback "
                                           "GROUP BY outcome").fetchall())
            db.close()
            assert outcomes == {"written": EVENTS}
            assert not list(export.glob(".*.tmp")) or sinks.alive()
    finally:
        sinks.stop()


def test_an_export_renamed_before_its_ledger_was_written_moves_the_position_past_it(
    tmp_path: Path
) -> None:
    export = tmp_path / "export"
    [config] = parse_sink_config({"sinks": [{
        "department": "mz", "engine": "files", "topic": "std.household_registration",
        "connection": {"directory": str(export), "encoding": "gbk"}, "table": "csdj",
        "mapping": "writeback/mz.csdj.yaml"}]})
    target = FileTarget(config, tmp_path / "state")
    target.open()
    assert target.positions("std.household_registration") == {}
    target.close()
    # The crash came after the rename of partition 1's batch up to offset 75, before its ledger.
    (export / "csdj_p1_000000000050-000000000075.csv").write_bytes("DJBH\r\n".encode("gbk"))
    (export / ".csdj_p0_000000000000-000000000010.csv.tmp").write_bytes(b"half")
    target.open()
    try:
        assert target.positions("std.household_registration") == {1: 75}
        assert not (export / ".csdj_p0_000000000000-000000000010.csv.tmp").exists()
    finally:
        target.close()
