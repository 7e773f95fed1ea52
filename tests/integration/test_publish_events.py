"""New applications publish through the API onto real Kafka: once, with the bus's provenance."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from tests.access import add_client, headers
from tests.e2e.harness import read_topic

pytestmark = pytest.mark.integration


async def test_an_event_published_twice_with_one_key_is_on_kafka_once_with_its_id(
        stack: Settings, tmp_path: Path) -> None:
    case_id = f"ZW{uuid.uuid4().hex[:12].upper()}"
    body: dict[str, Any] = {
        "case_id": case_id, "case_type": "newborn", "status_code": "submitted",
        "applicant_identity_number": "330106199003071236", "applicant_name": "王小明",
        "submitted_at": "2026-11-27T08:00:00+08:00", "updated_at": "2026-11-27T08:00:00+08:00",
        "steps": [{"department": "gongan", "task": "household_registration", "status_code": "submitted"}]}
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    key = add_client(tmp_path, "newborn-app", publishes=("service_case",))
    sent = {**headers(key, None), "Idempotency-Key": f"apply-{case_id}"}
    app = create_web_app(settings, audit=MemoryAuditLog())
    async with TestClient(TestServer(app)) as client:
        answers = [await client.post("/v1/events/rongtong.std.service_case.upserted", json=body,
                                     headers=sent) for _ in range(2)]
        assert [a.status for a in answers] == [202, 202]
        first, second = [await a.json() for a in answers]
    assert first == second

    contents = await asyncio.to_thread(read_topic, stack.kafka_bootstrap, stack.registry_url,
                                       "std.service_case")
    mine = [(record, head) for record, head in zip(contents.records, contents.headers, strict=True)
            if record and record["case_id"] == case_id]
    assert len(mine) == 1, "published once"
    [(record, head)] = mine
    assert head["ce_id"] == first["event_id"] and head["ce_type"] == "rongtong.std.service_case.upserted"
    assert head["ce_source"] == "/clients/newborn-app"
    assert record["source"]["department"] == "newborn-app"
    assert record["source"]["event_id"] == first["event_id"]
    assert record["steps"][0]["task"] == "household_registration"
    assert first["topic"] == "std.service_case" and first["position"].startswith("std.service_case:")
