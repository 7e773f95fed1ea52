"""The query API over the citizen_profile read store: health, paging, lookups, problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from projections.citizen_profile.extract import authority, from_event
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers

VALID_ID = "330106199003071236"
OLD_15_ID = "330106900307123"
UNKNOWN_VALID_ID = "110101199003071233"
NUMBERS = [f"3301061990030{i:04d}" for i in range(5)]


def person(number: str) -> dict[str, Any]:
    return {
        "identity_number": number, "name": "王小明", "sex_code": "1", "birth_date": date(1990, 3, 7),
        "division_code": "330106", "household_address": "杭州市西湖区",
        "source": {"department": "gongan", "table": "hj_ryxx", "record_key": f"R{number[-4:]}",
                   "event_id": f"evt-{number}", "op": "r",
                   "updated_at": datetime(2024, 3, 7, 0, 30, 15, tzinfo=UTC)},
    }


def populate(settings: Settings, numbers: list[str]) -> None:
    store = ProfileStore(settings.read_store_path, authority())
    try:
        for offset, number in enumerate(numbers):
            at = InputPosition("std.person", 0, offset)
            store.apply(at, *from_event(at, {"identity_number": number}, person(number)))
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(state_dir=tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    key = add_client(settings.state_dir)
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog())),
                          headers=headers(key)) as client:
        yield client


@pytest.fixture
async def filled(settings: Settings, client: TestClient[Any, Any]) -> TestClient[Any, Any]:
    populate(settings, [VALID_ID, *NUMBERS])
    return client


async def problem_of(response: ClientResponse, status: int, type_: str) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = await response.json(content_type=PROBLEM_CONTENT_TYPE)
    assert body["type"] == type_
    assert body["status"] == status
    assert body["title"]
    return body


async def test_healthz_answers_ok_without_a_store(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_503_problem_json_until_the_store_exists(
    settings: Settings, client: TestClient[Any, Any],
) -> None:
    await problem_of(await client.get("/readyz"), 503, "/problems/not-ready")

    populate(settings, [VALID_ID])
    response = await client.get("/readyz")

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ready"
    assert [(p["topic"], p["partition"], p["next_offset"]) for p in body["positions"]] == [
        ("std.person", 0, 1),
    ]


async def test_listing_citizens_pages_in_identity_number_order_with_a_next_cursor(
    filled: TestClient[Any, Any],
) -> None:
    everyone = sorted([VALID_ID, *NUMBERS])

    first = await (await filled.get("/v1/citizens", params={"limit": "4"})).json()
    second = await (await filled.get("/v1/citizens",
                                     params={"limit": "4", "after": first["next"]})).json()

    assert [p["identity_number"] for p in first["items"]] == everyone[:4]
    assert everyone[3] not in first["next"], "the cursor is opaque"
    assert [p["identity_number"] for p in second["items"]] == everyone[4:]
    assert second["next"] is None


async def test_listing_without_a_limit_uses_the_default_and_returns_everything_here(
    filled: TestClient[Any, Any],
) -> None:
    response = await filled.get("/v1/citizens")

    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert len(body["items"]) == 6
    assert body["next"] is None


async def test_listing_before_the_store_exists_is_an_empty_page(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v1/citizens")

    assert response.status == 200
    assert await response.json() == {"items": [], "next": None}


@pytest.mark.parametrize("limit", ["0", "abc", "501", "-1", "1.5", ""])
async def test_a_limit_outside_1_to_500_is_a_400_invalid_parameter(
    client: TestClient[Any, Any], limit: str,
) -> None:
    body = await problem_of(await client.get("/v1/citizens", params={"limit": limit}),
                            400, "/problems/invalid-parameter")

    assert body["parameter"] == "limit"
    assert "500" in body["detail"]


async def test_a_limit_of_unicode_superscript_digits_is_a_400_not_a_500(
    client: TestClient[Any, Any],
) -> None:
    await problem_of(await client.get("/v1/citizens", params={"limit": "²"}),
                     400, "/problems/invalid-parameter")


@pytest.mark.parametrize("limit", ["1", "500"])
async def test_the_limits_1_and_500_are_accepted(filled: TestClient[Any, Any], limit: str) -> None:
    response = await filled.get("/v1/citizens", params={"limit": limit})

    assert response.status == 200
    assert len((await response.json())["items"]) == min(int(limit), 6)


async def test_a_citizen_is_found_by_identity_number_with_its_source(filled: TestClient[Any, Any]) -> None:
    response = await filled.get(f"/v1/citizens/{VALID_ID}")

    assert response.status == 200
    profile = await response.json()
    assert profile["identity_number"] == VALID_ID
    assert profile["name"] == "王小明"
    assert profile["birth_date"] == "1990-03-07"
    assert profile["source"]["department"] == "gongan"
    assert profile["source"]["event_id"] == f"evt-{VALID_ID}"
    assert profile["source"]["updated_at"] == "2024-03-07T00:30:15+00:00"


async def test_an_old_15_digit_number_finds_the_upgraded_18_digit_profile(
    filled: TestClient[Any, Any],
) -> None:
    response = await filled.get(f"/v1/citizens/{OLD_15_ID}")

    assert response.status == 200
    assert (await response.json())["identity_number"] == VALID_ID


async def test_a_lower_case_x_check_character_finds_the_profile(
    settings: Settings, client: TestClient[Any, Any],
) -> None:
    populate(settings, ["11010519491231002X"])

    response = await client.get("/v1/citizens/11010519491231002x")

    assert response.status == 200
    assert (await response.json())["identity_number"] == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "rule_id"),
    [("12345", "id.length"), (VALID_ID[:-1] + "7", "id.checksum"), ("33010619900307123A", "id.charset")],
)
async def test_a_malformed_identity_number_is_a_400_naming_the_broken_rule(
    filled: TestClient[Any, Any], raw: str, rule_id: str,
) -> None:
    body = await problem_of(await filled.get(f"/v1/citizens/{raw}"),
                            400, "/problems/invalid-identity-number")

    assert body["rule_id"] == rule_id
    assert body["detail"]
    assert body["detail_zh"]


async def test_an_unknown_but_valid_identity_number_is_a_404_citizen_not_found(
    filled: TestClient[Any, Any],
) -> None:
    await problem_of(await filled.get(f"/v1/citizens/{UNKNOWN_VALID_ID}"),
                     404, "/problems/citizen-not-found")


async def test_an_unknown_route_is_a_404_problem_json(client: TestClient[Any, Any]) -> None:
    body = await problem_of(await client.get("/v2/nothing-here"), 404, "/problems/not-found")

    assert "Traceback" not in str(body)


async def test_a_wrong_method_is_a_405_problem_json(client: TestClient[Any, Any]) -> None:
    await problem_of(await client.post("/v1/citizens"), 405, "/problems/method-not-allowed")
