"""The whole matrix: each kind of client × each endpoint × each field class.

Expectations are written out per field (shown in full, masked, or left out) rather than
computed, so a change to the policy shows up here as a diff of what each client sees.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.access.clients import ClientStore
from bus.access.tokens import mint
from bus.settings import Settings, load_settings
from bus.standards.idcard import compute_check_char
from bus.web.app import create_web_app
from projections.citizen_profile.extract import authority, from_event
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers
from tests.unit.test_enterprise_profile import CODE, EMPLOYEE, REGISTER, fill_enterprise_store
from tests.unit.test_web_api import VALID_ID, person

SECRET = "matrix-secret-" + "s" * 32
FULL, MASKED, OMITTED = "full", "masked", "omitted"
EMPLOYEE_ID = str(EMPLOYEE["identity_number"])
LEGAL_REP_ID = str(REGISTER["legal_rep_identity_number"])

#: client id → (classifications, purposes granted, purpose sent)
CLIENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "public-only": (("public",), (), None),
    "internal": (("public", "internal"), (), None),
    "personal-no-purpose": (("public", "internal", "personal"), ("desk",), None),
    "personal": (("public", "internal", "personal"), ("desk",), "desk"),
    "sensitive": (("public", "internal", "personal", "sensitive_personal"), ("desk",), "desk"),
}

#: citizen field (classification) → what each client sees
CITIZEN_FIELDS = {
    "identity_number": ("sensitive_personal",
                        {"public-only": OMITTED, "internal": MASKED, "personal-no-purpose": MASKED,
                         "personal": MASKED, "sensitive": FULL}),
    "name": ("personal", {"public-only": OMITTED, "internal": MASKED, "personal-no-purpose": MASKED,
                          "personal": FULL, "sensitive": FULL}),
    "birth_date": ("personal", {"public-only": OMITTED, "internal": OMITTED,
                                "personal-no-purpose": OMITTED, "personal": FULL, "sensitive": FULL}),
    "sex_code": ("personal", {"public-only": OMITTED, "internal": OMITTED,
                              "personal-no-purpose": OMITTED, "personal": FULL, "sensitive": FULL}),
    "household_address": ("personal", {"public-only": OMITTED, "internal": OMITTED,
                                       "personal-no-purpose": OMITTED, "personal": FULL,
                                       "sensitive": FULL}),
    "division_code": ("internal", {"public-only": OMITTED, "internal": FULL,
                                   "personal-no-purpose": FULL, "personal": FULL, "sensitive": FULL}),
    "version": ("internal", {"public-only": OMITTED, "internal": FULL, "personal-no-purpose": FULL,
                             "personal": FULL, "sensitive": FULL}),
}

ENTERPRISE_FIELDS = {
    "name": ("public", {c: FULL for c in CLIENTS}),
    "registered_capital": ("public", {c: FULL for c in CLIENTS}),
    "legal_rep_name": ("personal", {"public-only": OMITTED, "internal": MASKED,
                                    "personal-no-purpose": MASKED, "personal": FULL,
                                    "sensitive": FULL}),
    "legal_rep_identity_number": ("sensitive_personal",
                                  {"public-only": OMITTED, "internal": MASKED,
                                   "personal-no-purpose": MASKED, "personal": MASKED,
                                   "sensitive": FULL}),
}


def populate(settings: Settings, numbers: list[str]) -> None:
    """Citizens whose event ids, like real ones, say nothing of the person."""
    store = ProfileStore(settings.read_store_path, authority())
    try:
        start = len(store.positions()) and store.next_offset("std.person", 0)
        for offset, number in enumerate(numbers, start):
            at = InputPosition("std.person", 0, offset)
            event = person(number)
            event["source"] = {**event["source"], "event_id": f"6f1c2e0a-{offset:04d}"}
            store.apply(at, *from_event(at, {"identity_number": number}, event))
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(state_dir=tmp_path, jwt_secret=SECRET)
    populate(settings, [VALID_ID])
    fill_enterprise_store(settings)
    return settings


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[tuple[TestClient[Any, Any], MemoryAuditLog,
                                                             dict[str, str]]]:
    keys = {client_id: add_client(settings.state_dir, client_id, roles=("reader",),
                                  projections=("citizen_profile", "enterprise_profile"),
                                  classifications=classes, purposes=purposes)
            for client_id, (classes, purposes, _) in CLIENTS.items()}
    keys["no-grant"] = add_client(settings.state_dir, "no-grant", projections=())
    keys["operator"] = add_client(settings.state_dir, "operator", roles=("reader", "operator"))
    keys["revoked"] = add_client(settings.state_dir, "revoked")
    store = ClientStore(settings.clients_path)
    store.revoke("revoked")
    store.close()
    audit = MemoryAuditLog()
    async with TestClient(TestServer(create_web_app(settings, audit=audit))) as client:
        yield client, audit, keys


def expected(value: Any, what: str) -> Any:
    if what == FULL:
        return value
    return None


def check_fields(body: dict[str, Any], full: dict[str, Any], fields: dict[str, Any], client: str) -> None:
    for field, (_, seen_by) in fields.items():
        what = seen_by[client]
        if what == FULL:
            assert body.get(field) == full[field], (client, field)
        elif what == MASKED:
            assert field in body and body[field] != full[field] and "*" in str(body[field]), \
                (client, field, body.get(field))
        else:
            assert field not in body, (client, field)


async def test_each_client_sees_each_citizen_field_as_its_grants_allow(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, audit, keys = service
    full = await (await client.get(f"/v1/citizens/{VALID_ID}",
                                   headers=headers(keys["sensitive"], "desk"))).json()
    reads = 1
    for name, (_, _, purpose) in CLIENTS.items():
        for path in (f"/v1/citizens/{VALID_ID}?explain=true", "/v1/citizens"):
            response = await client.get(path, headers=headers(keys[name], purpose))
            assert response.status == 200, (name, path)
            text = await response.text()
            body = json.loads(text)
            body = body["items"][0] if path == "/v1/citizens" else body
            check_fields(body, full, CITIZEN_FIELDS, name)
            reads += 1
            if CITIZEN_FIELDS["identity_number"][1][name] != FULL:
                assert VALID_ID not in text, f"{name} must not see the identity number anywhere"
            if path.endswith("explain=true") and name != "public-only":
                # provenance only of the fields the client sees in full
                shown = {f for f, (_, seen) in CITIZEN_FIELDS.items() if seen[name] == FULL}
                assert set(body["provenance"]) == shown - {"version", "identity_number"}, name
    assert len(audit.records) == reads, "every read of a citizen is audited"
    by_client = {r.client: r for r in audit.records}
    assert by_client["sensitive"].fields and "identity_number" in by_client["sensitive"].fields
    assert by_client["internal"].fields == () and "name" in by_client["internal"].masked
    assert by_client["personal"].purpose == "desk" and by_client["internal"].purpose is None


async def test_each_client_sees_each_enterprise_field_and_employee_as_its_grants_allow(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, _, keys = service
    full = await (await client.get(f"/v1/enterprises/{CODE}",
                                   headers=headers(keys["sensitive"], "desk"))).json()
    assert full["insured_employees"][0]["identity_number"] == EMPLOYEE_ID
    for name, (_, _, purpose) in CLIENTS.items():
        response = await client.get(f"/v1/enterprises/{CODE}", headers=headers(keys[name], purpose))
        assert response.status == 200
        text = await response.text()
        body = json.loads(text)
        check_fields(body, full, ENTERPRISE_FIELDS, name)
        employees = body.get("insured_employees", [])
        if name == "sensitive":
            assert employees[0]["identity_number"] == EMPLOYEE_ID
        else:
            assert EMPLOYEE_ID not in text and LEGAL_REP_ID not in text, name
        if name == "public-only":
            assert employees == []


@pytest.mark.parametrize(("path", "who", "status", "problem"), [
    ("/v1/citizens/" + VALID_ID, None, 401, "unauthenticated"),
    ("/v1/citizens", "revoked", 401, "unauthenticated"),
    ("/v1/enterprises/" + CODE, "garbage", 401, "unauthenticated"),
    ("/v1/citizens/" + VALID_ID, "no-grant", 403, "forbidden"),
    ("/v1/enterprises/" + CODE, "no-grant", 403, "forbidden"),
    ("/v1/resolution/reviews", "sensitive", 403, "forbidden"),
    ("/v1/resolution/reviews", "operator", 200, None),
    ("/v1/catalog", "public-only", 200, None),
    ("/v1/catalog", None, 401, "unauthenticated"),
    ("/v1/me/access-log", "sensitive", 403, "forbidden"),
    ("/v1/citizens/" + VALID_ID, "citizen", 403, "forbidden"),
    ("/v1/me/access-log", "citizen", 200, None),
    ("/v1/citizens/" + VALID_ID, "wrong-purpose", 403, "purpose-not-granted"),
    ("/v1/citizens/" + VALID_ID, "bad-purpose", 400, "invalid-purpose"),
    ("/healthz", None, 200, None),
])
async def test_who_may_enter_which_endpoint(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]], path: str,
        who: str | None, status: int, problem: str | None) -> None:
    client, _, keys = service
    sent: dict[str, str] = {}
    if who == "citizen":
        sent = {"Authorization": "Bearer " + mint(SECRET, f"citizen:{VALID_ID}")}
    elif who == "garbage":
        sent = {"Authorization": "Bearer rtk_nothing"}
    elif who == "wrong-purpose":
        sent = headers(keys["sensitive"], "marketing")
    elif who == "bad-purpose":
        sent = headers(keys["sensitive"], "DROP TABLE client;")
    elif who is not None:
        sent = headers(keys[who], None)
    response = await client.get(path, headers=sent)
    assert response.status == status
    assert response.headers.get("X-Request-ID")
    if problem is not None:
        body = await response.json(content_type=None)
        assert body["type"] == f"/problems/{problem}"
        assert VALID_ID not in json.dumps(body, ensure_ascii=False)


async def test_the_citizen_sees_who_read_their_data_and_why(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, _, keys = service
    await client.get(f"/v1/citizens/{VALID_ID}", headers={**headers(keys["personal"], "desk"),
                                                           "X-Request-ID": "req-42"})
    token = mint(SECRET, f"citizen:{VALID_ID}")
    body = await (await client.get("/v1/me/access-log",
                                   headers={"Authorization": f"Bearer {token}"})).json()
    [item] = body["items"]
    assert (item["client"], item["purpose"], item["request_id"]) == ("personal", "desk", "req-42")
    assert "name" in item["fields"] and "identity_number" in item["masked"]
    other = mint(SECRET, "citizen:110101199003071233")
    body = await (await client.get("/v1/me/access-log",
                                   headers={"Authorization": f"Bearer {other}"})).json()
    assert body["items"] == []


async def test_an_expired_or_foreign_token_is_refused(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]]) -> None:
    client, _, _ = service
    for token in (mint(SECRET, f"citizen:{VALID_ID}", ttl_seconds=-120),
                  mint("another-secret-" + "x" * 32, f"citizen:{VALID_ID}")):
        response = await client.get("/v1/me/access-log", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401


async def test_a_tampered_cursor_is_refused(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]], settings: Settings) -> None:
    client, _, keys = service
    populate(settings, [f"3301061990030{i:04d}" for i in range(3)])
    page = await (await client.get("/v1/citizens", params={"limit": "1"},
                                   headers=headers(keys["sensitive"], "desk"))).json()
    cursor = page["next"]
    assert cursor and VALID_ID not in cursor
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    response = await client.get("/v1/citizens", params={"after": flipped},
                                headers=headers(keys["sensitive"], "desk"))
    assert response.status == 400
    ok = await client.get("/v1/citizens", params={"after": cursor},
                          headers=headers(keys["sensitive"], "desk"))
    assert ok.status == 200


async def test_links_show_the_enterprises_a_citizen_leads_or_works_for_as_far_as_granted(
        service: tuple[TestClient[Any, Any], MemoryAuditLog, dict[str, str]], settings: Settings) -> None:
    client, audit, keys = service
    worker_id = "33010619920508122" + compute_check_char("33010619920508122")
    populate(settings, [worker_id, LEGAL_REP_ID])
    store = ProfileStore(settings.read_store_path, authority())
    try:
        at = InputPosition("std.enterprise", 0, 0)
        store.apply(at, *from_event(at, {"credit_code": CODE}, REGISTER))
        at = InputPosition("std.social_insurance", 0, 0)
        store.apply(at, *from_event(at, {"insurance_number": "S1"},
                                    {**EMPLOYEE, "identity_number": worker_id}))
    finally:
        store.close()
    rep = await (await client.get(f"/v1/citizens/{LEGAL_REP_ID}/links",
                                  headers=headers(keys["personal"], "desk"))).json()
    assert rep["legal_representative_of"] == [
        {"credit_code": CODE, "name": REGISTER["name"], "status_code": "active"}]
    assert rep["links"] == [f"/v1/enterprises/{CODE}"]
    worker = await (await client.get(f"/v1/citizens/{worker_id}/links",
                                     headers=headers(keys["personal"], "desk"))).json()
    assert worker["insured_by_employer"] == [
        {"credit_code": CODE, "name": REGISTER["name"], "insurance_status": ["paying"]}]
    hidden = await (await client.get(f"/v1/citizens/{worker_id}/links",
                                     headers=headers(keys["internal"], None))).json()
    assert hidden["insured_by_employer"] == [], "employment is personal: no purpose, no link"
    assert audit.records[-1].endpoint == "GET /v1/citizens/{identity_number}/links"
