"""Dashboard sign-in, roles and masking, on the service with no broker behind it."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.access.clients import Client, ClientStore
from bus.access.policy import Access
from bus.settings import load_settings
from bus.web.app import create_web_app
from bus.web.ops.quarantine import masked_row
from bus.web.ops.samples import History, PartitionOffsets, Sample
from bus.web.ops.views import adapter_rows, group_health, overview
from tests.access import PURPOSE, add_client


async def service(tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    app = create_web_app(load_settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9",
                                       registry_url="http://127.0.0.1:9"), audit=MemoryAuditLog())
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_the_page_sends_a_visitor_to_sign_in_and_the_api_answers_401(tmp_path: Path) -> None:
    client = await service(tmp_path)
    try:
        page = await client.get("/ops/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/ops/login"
        assert (await client.get("/ops/login")).status == 200
        api = await client.get("/ops/api/topics")
        assert api.status == 401 and api.content_type == "application/problem+json"
        asset = await client.get("/ops/static/ops.js")
        assert asset.status == 200 and "EventSource" in await asset.text()
    finally:
        await client.close()


async def test_a_key_signs_in_to_an_httponly_session_that_a_revocation_ends(tmp_path: Path) -> None:
    key = add_client(tmp_path, "desk-operator")
    client = await service(tmp_path)
    try:
        refused = await client.post("/ops/api/login", json={"api_key": "rtk_nope_nope"})
        assert refused.status == 401
        signed = await client.post("/ops/api/login", json={"api_key": key, "purpose": PURPOSE})
        assert signed.status == 200
        cookie = signed.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ops/" in cookie
        me = await client.get("/ops/api/me")
        assert (await me.json())["client"] == "desk-operator"
        assert (await me.json())["purpose"] == PURPOSE
        page = await client.get("/ops/", allow_redirects=False)
        assert page.status == 200 and "ops.js" in await page.text()
        store = ClientStore(tmp_path / "access" / "clients.sqlite")
        store.revoke("desk-operator")
        store.close()
        assert (await client.get("/ops/api/me")).status == 401
    finally:
        await client.close()


async def test_actions_need_the_operator_role_and_the_action_header(tmp_path: Path) -> None:
    reader = add_client(tmp_path, "desk-reader", roles=("reader",))
    operator = add_client(tmp_path, "desk-operator")
    nobody = add_client(tmp_path, "app-without-role", roles=())
    client = await service(tmp_path)
    body = {"department": "gongan", "table": "no_such_table"}
    try:
        assert (await client.post("/ops/api/login", json={"api_key": nobody})).status == 403
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert (await client.get("/ops/api/me", headers=as_reader)).status == 200
        denied = await client.post("/ops/api/quarantine/replay", json=body, headers=as_reader)
        assert denied.status == 403 and "operator" in (await denied.json())["detail"]
        assert (await client.post("/ops/api/login", json={"api_key": operator})).status == 200
        ridden = await client.post("/ops/api/quarantine/replay", json=body)
        assert ridden.status == 403
        assert (await ridden.json())["type"] == "/problems/missing-action-header"
        allowed = await client.post("/ops/api/quarantine/replay", json=body,
                                    headers={"X-Ops-Request": "1"})
        assert allowed.status == 404  # past the checks: the table has no mapping
        assert (await client.post("/ops/api/logout", headers={"X-Ops-Request": "1"})).status == 200
        assert (await client.get("/ops/api/me")).status == 401
    finally:
        await client.close()


def test_quarantined_rows_are_masked_unless_sensitive_data_is_granted_with_a_purpose() -> None:
    row = {"SFZH": "110101199003071234", "XM": "王小明", "XZQH": None}
    full = Client("desk", "desk", classifications=frozenset({"sensitive_personal"}),
                  purposes=frozenset({PURPOSE}))
    assert masked_row(row, Access(full, PURPOSE)) == row
    assert masked_row(row, Access(full, None)) == {
        "SFZH": "110101********1234", "XM": "王**", "XZQH": None}


def test_health_colours_of_groups_and_adapters() -> None:
    base = {"lag": 0, "members": 1, "lag_seconds": 0.0}
    assert group_health(base) == "ok"
    assert group_health({**base, "lag": 5, "lag_seconds": 45.0}) == "warn"
    assert group_health({**base, "lag": 5, "lag_seconds": 400.0}) == "bad"
    assert group_health({**base, "lag": 5, "members": 0, "lag_seconds": 45.0}) == "bad"
    states = [a["health"] for a in adapter_rows([{"department": "gongan", "table": "t", "state": s}
                                                 for s in ("streaming", "degraded", "failed")])]
    assert states == ["ok", "warn", "bad"]


def test_the_overview_topology_runs_from_databases_to_the_api() -> None:
    history = History()
    history.add(Sample(1.0, {"std.person": {0: PartitionOffsets(0, 3)}}))
    body = overview(history, kafka_error=None,
                    adapters=[{"department": "gongan", "table": "hj_ryxx", "engine": "sqlite",
                               "state": "failed", "source_reachable": False}],
                    adapters_error=None, positions={}, projection_groups=["rongtong-projections"])
    nodes = {n["id"]: n for column in body["topology"]["columns"] for n in column}
    assert nodes["db.gongan"]["health"] == "bad" and nodes["adapter.gongan"]["health"] == "bad"
    assert nodes["topics.std"]["count"] == 1 and nodes["api"]["health"] == "ok"
    assert {"from": "db.gongan", "to": "adapter.gongan"} in body["topology"]["edges"]
