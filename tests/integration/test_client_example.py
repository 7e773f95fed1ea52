"""The newborn example app against the real service and broker: it applies once and prints each
status of its case, read over SSE from ``projection.newborn_case``, until ``completed``."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bus.client import BusClient, NewbornCase
from bus.client.models import CaseCause
from bus.envelope import CloudEvent
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings, load_settings
from schemas.avro_schemas import load_avro_schema
from tests.access import PURPOSE, add_client
from tests.conftest import free_port
from tests.e2e.harness import read_topic
from tests.integration.test_client_sdk import APPLICANT, serving

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "newborn_app" / "app.py"
TOPIC = "projection.newborn_case"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newborn_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def version(number: str, n: int, status: str, case_id: str | None) -> NewbornCase:
    """A case version as the newborn_case projection publishes it."""
    return NewbornCase(certificate_number=number, version=n, status=status, case_id=case_id,
                       believed_at=dt.datetime(2026, 11, 27, 8, n, tzinfo=dt.UTC),
                       applicant_identity_number=APPLICANT if case_id else None,
                       cause=CaseCause(topic="std.service_case", partition=0, offset=n))


async def publish_versions(settings: Settings, versions: list[NewbornCase]) -> None:
    registry = RegistryClient(settings.registry_url)
    serde = AvroSerde(registry)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for case in versions:
            record: dict[str, Any] = case.model_dump()
            value = await serde.encode(subject_for(TOPIC), load_avro_schema("newborn_case"), record)
            key = await serde.encode(subject_for(TOPIC, is_key=True), load_avro_schema("newborn_case_key"),
                                     {"certificate_number": case.certificate_number})
            event = CloudEvent("rongtong.projection.newborn_case.changed", "/projections/newborn_case",
                               subject=f"newborn_case/{case.certificate_number}",
                               dataclassification="sensitive_personal")
            await producer.send_and_wait(TOPIC, value, key, headers=event.to_headers())
    finally:
        await producer.stop()
        await registry.close()


async def test_the_newborn_example_applies_once_and_prints_each_status_until_completed(
        stack: Settings, tmp_path: Path) -> None:
    app = example()
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    port = free_port()
    key = add_client(tmp_path, "citizen-app", publishes=("service_case",))
    number = f"N{uuid.uuid4().hex[:12].upper()}"
    case_id = f"APP{uuid.uuid4().hex[:10].upper()}"
    other = [version(number, 1, "born", None)]  # before anyone applied
    lines: list[str] = []
    async with serving(settings, port), BusClient(f"http://127.0.0.1:{port}", key, purpose=PURPOSE) as bus:
        await publish_versions(settings, other)
        following = asyncio.create_task(app.apply_and_follow(bus, number, APPLICANT, "王芳", case_id,
                                                             say=lines.append))
        for _ in range(600):
            if any(line.startswith("applied:") for line in lines) or following.done():
                break
            await asyncio.sleep(0.05)
        assert not following.done(), following
        await publish_versions(settings, [
            version(number, 2, "applied", case_id), version(number, 3, "household_registered", case_id),
            version(number, 4, "household_registered", case_id), version(number, 5, "completed", case_id)])
        status = await asyncio.wait_for(following, 60)
    assert status == "completed"
    shown = [line.split(": ")[1].split(" ")[0] for line in lines[1:]]
    assert shown == ["born", "applied", "household_registered", "completed"], lines
    assert "已办结" in lines[-1]
    contents = await asyncio.to_thread(read_topic, stack.kafka_bootstrap, stack.registry_url,
                                       "std.service_case")
    [application] = [r for r in contents.records if r and r["case_id"] == case_id]
    assert application["case_type"] == "newborn"
    assert application["subject_reference"] == f"wsjk.csyxzm/{number}"
    assert [s["department"] for s in application["steps"]] == ["gongan", "rsj"]
    assert application["source"]["department"] == "citizen-app"
