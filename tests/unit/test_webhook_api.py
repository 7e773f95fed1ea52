"""/v1/webhooks: registration behind auth, validation as problem+json, each client its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import load_settings
from bus.web.app import create_web_app
from bus.web.webhooks import STORE
from bus.webhooks.store import Attempt
from tests.access import add_client, headers

BODY = {"url": "https://app.example.gov.cn/hooks",
        "filters": {"types": ["rongtong.std.person.upserted"], "department": "gongan"},
        "description": "新生儿 app", "purpose": "service-desk"}
Api = tuple[TestClient[Any, Any], dict[str, str]]


@pytest.fixture(scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[tuple[TestClient[Any, Any], Path]]:
    state = tmp_path_factory.mktemp("webhook-api")
    settings = load_settings(state_dir=state)
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog()))) as client:
        yield client, state


@pytest.fixture
def api(service: tuple[TestClient[Any, Any], Path]) -> Api:
    """The service and clients of this test's own (the service is shared by the module)."""
    client, state = service
    tag = uuid.uuid4().hex[:8]
    return client, {"app": add_client(state, f"app-{tag}"), "other": add_client(state, f"other-{tag}"),
                    "public": add_client(state, f"public-{tag}", classifications=("public",)),
                    "no-reader": add_client(state, f"no-reader-{tag}", roles=())}


async def test_a_registration_answers_201_with_the_secret_once_and_lists_without_it(api: Api) -> None:
    client, keys = api
    created = await client.post("/v1/webhooks", json=BODY, headers=headers(keys["app"], None))
    assert created.status == 201, await created.text()
    webhook = await created.json()
    assert webhook["secret"].startswith("whsec_") and webhook["state"] == "active"
    assert webhook["filters"] == {"types": ["rongtong.std.person.upserted"], "subject": None,
                                  "department": "gongan"}
    assert created.headers["Location"] == f"/v1/webhooks/{webhook['id']}"
    listed = await (await client.get("/v1/webhooks", headers=headers(keys["app"], None))).json()
    assert [w["id"] for w in listed["items"]] == [webhook["id"]]
    one = await (await client.get(f"/v1/webhooks/{webhook['id']}",
                                  headers=headers(keys["app"], None))).json()
    assert "secret" not in one and "secret" not in listed["items"][0]


async def test_another_clients_webhook_is_not_found_and_cannot_be_deleted(api: Api) -> None:
    client, keys = api
    created = await (await client.post("/v1/webhooks", json=BODY,
                                       headers=headers(keys["app"], None))).json()
    path = f"/v1/webhooks/{created['id']}"
    for method in ("GET", "DELETE"):
        response = await client.request(method, path, headers=headers(keys["other"], None))
        assert response.status == 404
        assert response.content_type == "application/problem+json"
    listed = await (await client.get("/v1/webhooks", headers=headers(keys["other"], None))).json()
    assert listed["items"] == []
    deleted = await client.delete(path, headers=headers(keys["app"], None))
    assert deleted.status == 200
    assert (await client.get(path, headers=headers(keys["app"], None))).status == 404


async def test_without_credentials_grant_or_internal_data_the_answer_is_401_or_403(api: Api) -> None:
    client, keys = api
    assert (await client.post("/v1/webhooks", json=BODY)).status == 401
    assert (await client.get("/v1/webhooks", headers=headers(keys["no-reader"], None))).status == 403
    refused = await client.post("/v1/webhooks", json=BODY, headers=headers(keys["public"], None))
    assert refused.status == 403 and (await refused.json())["type"] == "/problems/forbidden"
    purpose = await client.post("/v1/webhooks", json={**BODY, "purpose": "marketing"},
                                headers=headers(keys["app"], None))
    assert purpose.status == 403
    assert (await purpose.json())["type"] == "/problems/purpose-not-granted"


@pytest.mark.parametrize(("change", "field"), [
    ({"url": "ftp://app.example.gov.cn/"}, "url"),
    ({"url": "http://127.0.0.1:9000/hook"}, "url"),
    ({"url": "http://169.254.169.254/"}, "url"),
    ({"filters": {"types": ["rongtong.std.nothing.upserted"]}}, "filters.types"),
    ({"filters": {"types": []}}, "filters.types"),
    ({"filters": {"types": ["rongtong.std.person.upserted"], "subject": "no slash"}},
     "filters.subject"),
    ({"filters": {"types": ["rongtong.std.person.upserted"], "department": "GONG AN"}},
     "filters.department"),
    ({"secret": "mine"}, "secret"),
    ({"start": "tomorrow"}, "start"),
])
async def test_a_body_that_does_not_fit_is_a_422_naming_the_field(
        api: Api, change: dict[str, Any], field: str) -> None:
    client, keys = api
    response = await client.post("/v1/webhooks", json={**BODY, **change},
                                 headers=headers(keys["app"], None))
    assert response.status == 422 and response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["type"] == "/problems/invalid-webhook"
    assert field in [e["field"] for e in problem["errors"]], problem


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    client, keys = api
    response = await client.post("/v1/webhooks", data=b"{nope",
                                 headers={**headers(keys["app"], None),
                                          "Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["type"] == "/problems/invalid-body"


async def test_the_allow_list_opens_a_local_receiver(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, webhooks_allowed_hosts="127.0.0.1")
    key = add_client(tmp_path, "app")
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog()))) as client:
        response = await client.post("/v1/webhooks", json={**BODY, "url": "http://127.0.0.1:9/h"},
                                     headers=headers(key, None))
        assert response.status == 201


async def test_a_rotation_returns_a_new_secret_and_both_sign_for_the_grace(api: Api) -> None:
    client, keys = api
    created = await (await client.post("/v1/webhooks", json=BODY,
                                       headers=headers(keys["app"], None))).json()
    rotated = await client.post(f"/v1/webhooks/{created['id']}/rotate-secret",
                                headers=headers(keys["app"], None))
    assert rotated.status == 200
    secret = (await rotated.json())["secret"]
    assert secret != created["secret"]
    stored = client.app[STORE].get(created["id"])
    assert stored is not None and stored.secrets == (secret, created["secret"])


async def test_the_delivery_log_is_paged_and_its_parameters_checked(api: Api) -> None:
    client, keys = api
    created = await (await client.post("/v1/webhooks", json=BODY,
                                       headers=headers(keys["app"], None))).json()
    store = client.app[STORE]
    for n in range(3):
        store.record(Attempt(created["id"], f"e{n}", "rongtong.std.person.upserted", "std.person",
                             0, n, 1, 1_800_000_000_000 + n, 500, None, 2.5, "failed"))
    path = f"/v1/webhooks/{created['id']}/deliveries"
    first = await (await client.get(path, params={"limit": "2"},
                                    headers=headers(keys["app"], None))).json()
    assert [a["event_id"] for a in first["items"]] == ["e2", "e1"]
    assert first["items"][0] == {"event_id": "e2", "event_type": "rongtong.std.person.upserted",
                                 "position": "std.person:0:2", "attempt": 1,
                                 "at": "2027-01-15T08:00:00.002Z", "status": 500, "error": None,
                                 "duration_ms": 2.5, "outcome": "failed"}
    rest = await (await client.get(path, params={"after": str(first["next"])},
                                   headers=headers(keys["app"], None))).json()
    assert [a["event_id"] for a in rest["items"]] == ["e0"] and rest["next"] is None
    bad = await client.get(path, params={"limit": "0"}, headers=headers(keys["app"], None))
    assert bad.status == 400 and (await bad.json())["parameter"] == "limit"


async def test_the_types_a_subscription_takes_a_webhook_takes_too(api: Api) -> None:
    client, keys = api
    body = {**BODY, "filters": {"types": ["rongtong.projection.newborn_case.changed",
                                          "rongtong.std.birth_certificate.upserted"]}}
    response = await client.post("/v1/webhooks", json=body, headers=headers(keys["app"], None))
    assert response.status == 201, await response.text()
    assert (await response.json())["filters"]["types"] == [
        "rongtong.projection.newborn_case.changed", "rongtong.std.birth_certificate.upserted"]
