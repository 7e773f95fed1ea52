"""Quality figures and quarantine replay against the real broker and registry.

Raw change events with good and bad rows go through a real StandardizeStage; ``GET /v1/quality``
(the web app's own log reader) and ``bus quality report --json`` must give the exact figures.
Then the mapping is "fixed" in a mapping file passed with ``bus quarantine replay --mapping``:
the rows it now accepts appear on ``std.person`` once, with the quarantine event as their
cause, and a second replay publishes nothing.

The test's rows belong to a department of their own (``qt<run>``), so other tests sharing the
session's broker (and ``std.person``) do not change its figures.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from adapters.capture.change_event import (
    SourceInfo,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from adapters.standardize.mapping import Mapping, load_mapping_file
from adapters.standardize.metrics import StandardizeMetrics
from adapters.standardize.stage import StandardizeStage
from bus.access.audit import MemoryAuditLog
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, committed_reader, ensure_topics, transactional_producer
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings, load_settings
from bus.standards.idcard import compute_check_char
from bus.web.app import create_web_app
from tests.access import add_client, headers
from tests.conftest import bus_environment
from tests.e2e.harness import read_topic

pytestmark = pytest.mark.integration

COLUMNS = ["RYBH", "SFZH", "XM", "XB", "CSRQ", "XZQH", "HJDZ", "GXSJ"]
Row = dict[str, str | None]


def identity(sequence: int) -> str:
    first17 = f"33010619900307{sequence:03d}"
    return first17 + compute_check_char(first17)


def person(key: str, sequence: int, **changes: str | None) -> Row:
    row: Row = {"RYBH": key, "SFZH": identity(sequence), "XM": "王小明", "XB": "1",
                "CSRQ": "19900307", "XZQH": "330106", "HJDZ": None, "GXSJ": "2024-05-06 08:30:00"}
    row.update(changes)
    return row


def bad_checksum(sequence: int) -> str:
    good = identity(sequence)
    return good[:17] + ("0" if good[17] != "0" else "1")


#: (op, before, after); None for a raw tombstone (what the capture writes after a delete).
CHANGES: list[tuple[str, Row | None, Row | None] | None] = [
    ("r", None, person("R1", 101)),
    ("r", None, person("R2", 102)),
    ("c", None, person("R3", 103, XZQH=None)),            # division.unknown, fixed by the new mapping
    ("c", None, person("R4", 104, XZQH="")),              # division.unknown, fixed by the new mapping
    ("c", None, person("R5", 105, SFZH=bad_checksum(105))),  # id.checksum, stays in quarantine
    ("c", None, person("R6", 106)),
    ("d", person("R6", 106), None),                       # deleted: not an accepted row
    None,                                                 # the raw tombstone of R6
    ("c", None, person("R7", 107, SFZH=bad_checksum(107))),
    ("u", None, person("R7", 107)),                       # fixed in the legacy system: accepted
]


def mapping_file(path: Path, department: str, *, division_required: bool) -> Path:
    document = yaml.safe_load(Path("schemas/mappings/gongan.hj_ryxx.yaml").read_text(encoding="utf-8"))
    document["department"] = department
    document["fields"]["division_code"]["required"] = division_required
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


async def publish_raw(stack: Settings, serde: AvroSerde, mapping: Mapping) -> int:
    value_schema = change_value_schema(mapping.department, mapping.table, COLUMNS)
    key_schema = change_key_schema(mapping.department, mapping.table, [mapping.key_column])
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        previous_key = b""
        for position, change in enumerate(CHANGES):
            if change is None:
                event = CloudEvent("rongtong.legacy.hj_ryxx.changed",
                                   f"/adapters/{mapping.department}/hj_ryxx")
                await producer.send_and_wait(mapping.source_topic, key=previous_key, value=None,
                                             headers=event.to_headers())
                continue
            op, before, after = change
            row = after or before or {}
            record_key = row["RYBH"] or ""
            source = SourceInfo(mapping.department, "test", mapping.department, mapping.table,
                                str(position), op == "r", 1_717_400_000_000 + position)
            value = await serde.encode(subject_for(mapping.source_topic), value_schema,
                                       change_record(op, before, after, source, 1_717_400_000_500))
            previous_key = await serde.encode(subject_for(mapping.source_topic, is_key=True), key_schema,
                                              {mapping.key_column: record_key})
            event = CloudEvent("rongtong.legacy.hj_ryxx.changed", f"/adapters/{mapping.department}/hj_ryxx",
                               id=change_event_id(mapping.department, mapping.table, record_key,
                                                  {"op": op, **row}),
                               subject=record_key, dataclassification="sensitive_personal")
            await producer.send_and_wait(mapping.source_topic, key=previous_key, value=value,
                                         headers=event.to_headers())
    finally:
        await producer.stop()
    # what the stage answers with an outcome: a raw tombstone only lets compaction forget the row
    return sum(1 for change in CHANGES if change is not None)


async def run_stage(stack: Settings, mapping: Mapping, metrics: StandardizeMetrics) -> None:
    run = uuid.uuid4().hex[:8]
    async with RegistryClient(stack.registry_url) as registry:
        serde = AvroSerde(registry)
        sent = await publish_raw(stack, serde, mapping)
        producer = transactional_producer(stack.kafka_bootstrap, f"test.quality.{run}")
        consumer = committed_reader(stack.kafka_bootstrap, mapping.source_topic,
                                    group_id=f"test.quality.{run}")
        await producer.start()
        await consumer.start()
        stage = StandardizeStage(mapping, consumer, producer, serde, metrics)
        stop = asyncio.Event()
        task = asyncio.create_task(stage.run(stop))
        try:
            for _ in range(240):
                if stage.accepted + sum(stage.quarantined.values()) >= sent:
                    break
                await asyncio.sleep(0.25)
        finally:
            stop.set()
            await task
            await consumer.stop()
            await producer.stop()


def bus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bus", *args], env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def table_figures(body: dict[str, Any]) -> dict[str, Any]:
    [table] = body["tables"]
    return {"accepted": table["accepted"], "quarantined": table["quarantined"],
            "deleted": table["deleted"], "events": table["events"],
            "rules": {r["rule_id"]: (r["records"], r["examples"]) for r in table["rules"]}}


async def web_quality(stack: Settings, state_dir: Path, department: str) -> dict[str, Any]:
    settings = load_settings(state_dir=state_dir, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    app = create_web_app(settings, audit=MemoryAuditLog())  # reads audited elsewhere
    key = add_client(settings.state_dir)
    async with TestClient(TestServer(app), headers=headers(key)) as client:
        for _ in range(240):
            response = await client.get("/v1/quality", params={"department": department})
            if response.status == 200:
                body: dict[str, Any] = await response.json()
                return body
            assert response.status == 503 and response.headers["Retry-After"]
            await asyncio.sleep(0.25)
    raise AssertionError("/v1/quality never caught up with the log")


def std_events_of(stack: Settings, department: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    contents = read_topic(stack.kafka_bootstrap, stack.registry_url, "std.person")
    return [(record, headers) for record, headers in zip(contents.records, contents.headers, strict=True)
            if record is not None and record["source"]["department"] == department]


async def test_quality_figures_and_replay_after_a_mapping_fix(stack: Settings, tmp_path: Path) -> None:
    department = f"qt{uuid.uuid4().hex[:8]}"
    strict = load_mapping_file(mapping_file(tmp_path / "strict.yaml", department, division_required=True))
    fixed_file = mapping_file(tmp_path / "fixed.yaml", department, division_required=False)
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(t) for t in (
        strict.source_topic, strict.target_topic, strict.quarantine_topic)])
    registry = CollectorRegistry()
    await run_stage(stack, strict, StandardizeMetrics(registry))

    # the stage's metrics count events
    labels = {"department": department, "table": "hj_ryxx", "entity": "person"}
    assert {outcome: registry.get_sample_value("bus_standardize_records_total",
                                               {**labels, "outcome": outcome})
            for outcome in ("accepted", "deleted", "quarantined")} == {
        "accepted": 4, "deleted": 1, "quarantined": 4}
    assert {rule: registry.get_sample_value("bus_standardize_rejections_total", {
        "department": department, "table": "hj_ryxx", "rule": rule})
        for rule in ("division.unknown", "id.checksum")} == {"division.unknown": 2, "id.checksum": 2}
    assert registry.get_sample_value("bus_standardize_rejections_total", {
        "department": department, "table": "hj_ryxx",
        "rule": "event.tombstone_without_delete"}) is None  # a raw tombstone is not a change

    # the figures count distinct records in their latest state
    expected = {
        "accepted": 3, "quarantined": 3, "deleted": 1,
        "events": {"canonical": 4, "tombstones": 1, "quarantined": 4, "not_a_row": 0},
        "rules": {"division.unknown": (2, ["R3", "R4"]), "id.checksum": (1, ["R5"])},
    }
    assert table_figures(await web_quality(stack, tmp_path / "web", department)) == expected
    env = bus_environment(stack, tmp_path / "cli")
    html = tmp_path / "quality.html"
    report = await asyncio.to_thread(bus, env, "quality", "report", "--json", "--department", department,
                                     "--html", str(html))
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert table_figures(body) == expected
    assert body["totals"]["accepted_ratio"] == 0.5
    assert "division.unknown" in html.read_text(encoding="utf-8")

    # the fix: XZQH becomes optional; R3 and R4 pass, R5 still fails its checksum
    dry = await asyncio.to_thread(bus, env, "quarantine", "replay", "--department", department,
                                  "--mapping", str(fixed_file), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert [(r["passed"], r["published"]) for r in json.loads(dry.stdout)] == [(2, 0)]
    assert len(std_events_of(stack, department)) == 4  # a dry run publishes nothing

    first = await asyncio.to_thread(bus, env, "quarantine", "replay", "--department", department,
                                    "--mapping", str(fixed_file), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == [{
        "department": department, "table": "hj_ryxx", "entity": "person", "dry_run": False,
        "candidates": 3, "passed": 2, "published": 2, "still_failing": {"id.checksum": 1},
        "not_replayable": 0}]
    events = std_events_of(stack, department)
    replayed = [(r, h) for r, h in events if r["source"]["record_key"] in ("R3", "R4")]
    assert sorted(r["source"]["record_key"] for r, _ in replayed) == ["R3", "R4"]
    quarantine = read_topic(stack.kafka_bootstrap, stack.registry_url, strict.quarantine_topic,
                            decode_keys=False)
    cause = {record["record_key"]: headers["ce_id"]
             for record, headers in zip(quarantine.records, quarantine.headers, strict=True) if record}
    assert {r["source"]["record_key"]: h["causationid"] for r, h in replayed} == {
        "R3": cause["R3"], "R4": cause["R4"]}
    assert all(r["division_code"] is None and h["ce_type"] == "rongtong.std.person.upserted"
               for r, h in replayed)

    second = await asyncio.to_thread(bus, env, "quarantine", "replay", "--department", department,
                                     "--mapping", str(fixed_file), "--json")
    assert second.returncode == 0, second.stderr
    assert [(r["candidates"], r["passed"], r["published"], r["still_failing"])
            for r in json.loads(second.stdout)] == [(1, 0, 0, {"id.checksum": 1})]
    assert len(std_events_of(stack, department)) == len(events) == 6
    assert len(read_topic(stack.kafka_bootstrap, stack.registry_url, strict.quarantine_topic,
                          decode_keys=False)) == len(quarantine)

    after = await asyncio.to_thread(bus, env, "quality", "report", "--json", "--department", department)
    assert after.returncode == 0, after.stderr
    totals = json.loads(after.stdout)["totals"]
    assert (totals["accepted"], totals["quarantined"], totals["deleted"]) == (5, 1, 1)

    wide = {**env, "COLUMNS": "200"}
    table = await asyncio.to_thread(bus, wide, "quarantine", "replay", "--department", department,
                                    "--mapping", str(fixed_file))
    assert table.returncode == 0 and "id.checksum: 1" in table.stdout, table.stdout
