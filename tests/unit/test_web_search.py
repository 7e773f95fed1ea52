"""Search by name + birth date, division, legal representative, status — purpose-bound, masked,
audited, paged, and never finding a profile the store no longer holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.standards.idcard import compute_check_char
from bus.web.app import create_web_app
from projections.citizen_profile.extract import authority, from_event
from projections.enterprise_profile.extract import enterprise_projection
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers
from tests.unit.test_enterprise_profile import CODE, REGISTER, feed
from tests.unit.test_web_api import person


def number(body: str) -> str:
    return body + compute_check_char(body)


TWINS = [number(f"33010619900307{n:03d}") for n in (101, 102, 103)]
OTHER = number("33010219850101001")


def apply(settings: Settings, offset: int, identity: str, **changes: Any) -> None:
    store = ProfileStore(settings.read_store_path, authority())
    try:
        at = InputPosition("std.person", 0, offset)
        event = {**person(identity), **changes}
        event["source"] = {**event["source"], "event_id": f"e{offset}"}
        store.apply(at, *from_event(at, {"identity_number": identity}, event))
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(state_dir=tmp_path)
    for offset, identity in enumerate(TWINS):
        apply(settings, offset, identity, name="王 小明")
    apply(settings, 3, OTHER, name="王小明", birth_date=None, division_code="330102")
    store = ProfileStore(settings.projection_store_path("enterprise_profile"),
                         enterprise_projection().authority)
    try:
        register = {**REGISTER, "legal_rep_identity_number": TWINS[0]}
        feed(store, [("std.enterprise", {"credit_code": CODE}, register)])
    finally:
        store.close()
    return settings


@pytest.fixture
async def service(settings: Settings
                  ) -> AsyncIterator[tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]]:
    keys = {"desk": add_client(settings.state_dir, "desk"),
            "internal": add_client(settings.state_dir, "internal", classifications=("public", "internal"))}
    audit = MemoryAuditLog()
    async with TestClient(TestServer(create_web_app(settings, audit=audit))) as client:
        yield client, audit, keys


async def test_citizens_by_name_and_birth_date_a_page_at_a_time(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, audit, keys = service
    first = await (await client.get("/v1/citizens/search", params={
        "name": "王小明", "birth_date": "1990-03-07", "limit": "2"}, headers=headers(keys["desk"]))).json()
    assert [p["identity_number"] for p in first["items"]] == TWINS[:2]
    assert first["next"] and TWINS[1] not in first["next"]
    rest = await (await client.get("/v1/citizens/search", params={
        "name": "王小明", "birth_date": "1990-03-07", "after": first["next"]},
        headers=headers(keys["desk"]))).json()
    assert [p["identity_number"] for p in rest["items"]] == TWINS[2:] and rest["next"] is None
    everyone = await (await client.get("/v1/citizens/search", params={"name": "王小明"},
                                       headers=headers(keys["desk"]))).json()
    assert len(everyone["items"]) == 4, "names match without their spaces"
    in_district = await (await client.get("/v1/citizens/search", params={
        "name": "王小明", "division_code": "330102"}, headers=headers(keys["desk"]))).json()
    assert [p["identity_number"] for p in in_district["items"]] == [OTHER]
    assert len(audit.records) == 3 + 4 + 1, "each profile returned is an audited read"
    assert {r.endpoint for r in audit.records} == {"GET /v1/citizens/search"}


async def test_searching_by_personal_data_needs_a_granted_purpose(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, audit, keys = service
    for who, purpose in (("desk", None), ("internal", None)):
        response = await client.get("/v1/citizens/search", params={"name": "王小明"},
                                    headers=headers(keys[who], purpose))
        assert response.status == 403
        assert (await response.json())["type"] == "/problems/purpose-required"
    assert audit.records == []
    missing = await client.get("/v1/citizens/search", params={"division_code": "330106"},
                               headers=headers(keys["desk"]))
    assert missing.status == 400, "no mass retrieval by district alone"


async def test_enterprises_by_status_freely_and_by_legal_representative_with_a_purpose(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, _, keys = service
    public = await (await client.get("/v1/enterprises/search", params={"status": "active"},
                                     headers=headers(keys["internal"], None))).json()
    [found] = public["items"]
    assert found["credit_code"] == CODE and TWINS[0] not in str(found)
    by_rep = await (await client.get("/v1/enterprises/search", params={"legal_rep": TWINS[0]},
                                     headers=headers(keys["desk"]))).json()
    assert [e["credit_code"] for e in by_rep["items"]] == [CODE]
    refused = await client.get("/v1/enterprises/search", params={"legal_rep": TWINS[0]},
                               headers=headers(keys["internal"], None))
    assert refused.status == 403
    nothing = await client.get("/v1/enterprises/search", headers=headers(keys["desk"]))
    assert nothing.status == 400


async def test_a_changed_or_deleted_profile_leaves_the_index_with_it(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]], settings: Settings) -> None:
    client, _, keys = service
    apply(settings, 4, TWINS[0], name="王晓明")
    store = ProfileStore(settings.read_store_path, authority())
    try:
        at = InputPosition("std.person", 0, 5)
        store.apply(at, *from_event(at, {"identity_number": TWINS[1]}, None))
    finally:
        store.close()
    found = await (await client.get("/v1/citizens/search",
                                    params={"name": "王小明", "birth_date": "1990-03-07"},
                                    headers=headers(keys["desk"]))).json()
    assert [p["identity_number"] for p in found["items"]] == TWINS[2:]
    renamed = await (await client.get("/v1/citizens/search", params={"name": "王晓明"},
                                      headers=headers(keys["desk"]))).json()
    assert [p["identity_number"] for p in renamed["items"]] == [TWINS[0]]
