"""POST /v1/events/{type}: schema and standard checks, grants, idempotency, the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.envelope import CloudEvent
from bus.events.publisher import Published
from bus.governance.sources import CanonicalEntity
from bus.settings import load_settings
from bus.web.app import create_web_app
from tests.access import add_client, headers

CASE = {"case_id": "ZW2026000001", "case_type": "newborn", "status_code": "submitted",
        "applicant_identity_number": "330106199003071236", "applicant_name": "王小明",
        "submitted_at": "2026-11-27T08:00:00+08:00", "updated_at": "2026-11-27T08:00:00+08:00",
        "steps": [{"department": "gongan", "task": "household_registration",
                   "status_code": "submitted"}]}


class MemoryPublisher:
    """Stands in for Kafka: positions in order of publication."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any] | None, CloudEvent]] = []
        self.fail = fail

    async def publish(self, entity: CanonicalEntity, key: dict[str, Any],
                      value: dict[str, Any] | None, event: CloudEvent) -> Published:
        if self.fail:
            raise OSError("broker down")
        self.sent.append((entity.topic, key, value, event))
        return Published(entity.topic, 0, len(self.sent) - 1)

    async def close(self) -> None:
        return None


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], MemoryPublisher, dict[str, str]]]:
    settings = load_settings(state_dir=tmp_path)
    publisher = MemoryPublisher()
    keys = {"app": add_client(tmp_path, "newborn-app", publishes=("service_case",)),
            "reader": add_client(tmp_path, "reader")}
    app = create_web_app(settings, audit=MemoryAuditLog(), publisher=publisher)
    async with TestClient(TestServer(app)) as client:
        yield client, publisher, keys


async def test_a_valid_event_is_published_with_the_bus_filling_its_source(
        api: tuple[TestClient[Any, Any], MemoryPublisher, dict[str, str]]) -> None:
    client, publisher, keys = api
    response = await client.post("/v1/events/rongtong.std.service_case.upserted",
                                 json={**CASE, "applicant_identity_number": "330106900307123"},
                                 headers=headers(keys["app"], None))
    assert response.status == 202
    answer = await response.json()
    [(topic, key, value, event)] = publisher.sent
    assert (topic, key) == ("std.service_case", {"case_id": "ZW2026000001"})
    assert value is not None and value["applicant_identity_number"] == "330106199003071236", \
        "15-digit numbers are upgraded like the standardize stage does"
    assert value["source"]["department"] == "newborn-app" and value["source"]["table"] == "api"
    assert value["source"]["event_id"] == event.id == answer["event_id"]
    assert answer["position"] == "std.service_case:0:1" and answer["offset"] == 0
    assert event.type == "rongtong.std.service_case.upserted" and event.source == "/clients/newborn-app"


async def test_every_field_error_is_listed_in_one_problem(
        api: tuple[TestClient[Any, Any], MemoryPublisher, dict[str, str]]) -> None:
    client, publisher, keys = api
    body = {**CASE, "case_type": "wedding", "applicant_identity_number": "330106199003071235",
            "submitted_at": "yesterday", "colour": "blue", "source": {"department": "gongan"},
            "steps": [{"department": "gongan", "task": "x", "status_code": "maybe", "extra": 1}]}
    del body["status_code"]
    response = await client.post("/v1/events/rongtong.std.service_case.upserted", json=body,
                                 headers=headers(keys["app"], None))
    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "/problems/invalid-event"
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"case_type", "applicant_identity_number", "submitted_at", "colour", "source",
                      "status_code", "steps[0].status_code", "steps[0].extra"}
    assert publisher.sent == []


@pytest.mark.parametrize(("path", "who", "status", "type_"), [
    ("/v1/events/rongtong.std.service_case.upserted", "reader", 403, "forbidden"),
    ("/v1/events/rongtong.std.person.upserted", "app", 403, "forbidden"),
    ("/v1/events/rongtong.std.nothing.upserted", "app", 404, "event-type-not-found"),
    ("/v1/events/drop table", "app", 404, "event-type-not-found"),
    ("/v1/events/rongtong.std.service_case.upserted", None, 401, "unauthenticated"),
])
async def test_only_granted_clients_publish_known_types(
        api: tuple[TestClient[Any, Any], MemoryPublisher, dict[str, str]], path: str,
        who: str | None, status: int, type_: str) -> None:
    client, publisher, keys = api
    response = await client.post(path, json=CASE, headers=headers(keys[who], None) if who else {})
    assert response.status == status
    assert (await response.json())["type"] == f"/problems/{type_}"
    assert publisher.sent == []


async def test_an_idempotency_key_publishes_once_and_refuses_another_body(
        api: tuple[TestClient[Any, Any], MemoryPublisher, dict[str, str]]) -> None:
    client, publisher, keys = api
    sent = {**headers(keys["app"], None), "Idempotency-Key": "apply-42"}
    first = await client.post("/v1/events/rongtong.std.service_case.upserted", json=CASE, headers=sent)
    again = await client.post("/v1/events/rongtong.std.service_case.upserted", json=CASE, headers=sent)
    assert first.status == again.status == 202
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(publisher.sent) == 1
    other = await client.post("/v1/events/rongtong.std.service_case.upserted",
                              json={**CASE, "status_code": "cancelled"}, headers=sent)
    assert other.status == 422 and (await other.json())["type"] == "/problems/idempotency-key-reused"
    bad = await client.post("/v1/events/rongtong.std.service_case.upserted", json=CASE,
                            headers={**sent, "Idempotency-Key": "no spaces please"})
    assert bad.status == 400


async def test_a_tombstone_needs_only_the_key_and_kafka_down_is_a_503(tmp_path: Path) -> None:
    publisher = MemoryPublisher()
    key = add_client(tmp_path, "newborn-app", publishes=("service_case",))
    app = create_web_app(load_settings(state_dir=tmp_path), audit=MemoryAuditLog(), publisher=publisher)
    async with TestClient(TestServer(app)) as client:
        gone = await client.post("/v1/events/rongtong.std.service_case.deleted",
                                 json={"case_id": "ZW2026000001"}, headers=headers(key, None))
        assert gone.status == 202 and publisher.sent[0][2] is None
        publisher.fail = True
        down = await client.post("/v1/events/rongtong.std.service_case.upserted", json=CASE,
                                 headers=headers(key, None))
        assert down.status == 503 and down.headers["Retry-After"]
