"""Profile reads: history, explain, ETag / If-None-Match, positions and min_position."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.web import profile_reads
from bus.web.app import create_web_app
from bus.web.consistency import InvalidPosition, parse_positions
from projections.citizen_profile.extract import authority, from_event
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers
from tests.unit.test_web_api import VALID_ID, person


def apply_person(settings: Settings, offset: int, **changes: Any) -> None:
    store = ProfileStore(settings.read_store_path, authority())
    try:
        at = InputPosition("std.person", 0, offset, 1_700_000_000_000 + offset * 60_000)
        store.apply(at, *from_event(at, {"identity_number": VALID_ID}, {**person(VALID_ID), **changes}))
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(state_dir=tmp_path)
    apply_person(settings, 0)
    apply_person(settings, 1, name="王晓明")
    apply_person(settings, 2, household_address="杭州市上城区")
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[tuple[TestClient[Any, Any], MemoryAuditLog]]:
    audit = MemoryAuditLog()
    key = add_client(settings.state_dir)
    async with TestClient(TestServer(create_web_app(settings, audit=audit)),
                          headers=headers(key)) as client:
        yield client, audit


async def test_history_lists_every_version_with_its_cause_a_page_at_a_time(
        client: tuple[TestClient[Any, Any], MemoryAuditLog]) -> None:
    http, audit = client
    first = await (await http.get(f"/v1/citizens/{VALID_ID}/history", params={"limit": "2"})).json()
    assert [v["version"] for v in first["versions"]] == [1, 2]
    assert [v["profile"]["name"] for v in first["versions"]] == ["王小明", "王晓明"]
    assert first["versions"][1]["cause"] == {"topic": "std.person", "partition": 0, "offset": 1}
    assert first["next"] == "2"
    rest = await (await http.get(f"/v1/citizens/{VALID_ID}/history",
                                 params={"after": first["next"]})).json()
    assert [v["version"] for v in rest["versions"]] == [3] and rest["next"] is None
    assert rest["versions"][0]["profile"]["household_address"] == "杭州市上城区"
    assert [r.endpoint for r in audit.records] == ["GET /v1/citizens/{identity_number}/history"] * 2
    missing = await http.get("/v1/citizens/110101199003071233/history")
    assert missing.status == 404
    bad = await http.get(f"/v1/citizens/{VALID_ID}/history", params={"after": "-1"})
    assert bad.status == 400


async def test_provenance_only_when_asked_to_explain(
        client: tuple[TestClient[Any, Any], MemoryAuditLog]) -> None:
    http, _ = client
    plain = await (await http.get(f"/v1/citizens/{VALID_ID}")).json()
    explained = await (await http.get(f"/v1/citizens/{VALID_ID}", params={"explain": "true"})).json()
    assert "provenance" not in plain
    assert explained["provenance"]["name"]["department"] == "gongan"
    assert explained["provenance"]["name"]["rule"] == "authoritative_source"
    bad = await http.get(f"/v1/citizens/{VALID_ID}", params={"explain": "maybe"})
    assert bad.status == 400


async def test_an_unchanged_profile_answers_304_to_its_etag_and_a_changed_one_200(
        client: tuple[TestClient[Any, Any], MemoryAuditLog], settings: Settings) -> None:
    http, _ = client
    first = await http.get(f"/v1/citizens/{VALID_ID}")
    etag = first.headers["ETag"]
    again = await http.get(f"/v1/citizens/{VALID_ID}", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    apply_person(settings, 3, name="王小明")
    changed = await http.get(f"/v1/citizens/{VALID_ID}", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag


async def test_each_answer_carries_its_position_and_min_position_waits_for_it(
        client: tuple[TestClient[Any, Any], MemoryAuditLog], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    http, _ = client
    response = await http.get(f"/v1/citizens/{VALID_ID}")
    assert response.headers["X-Projection-Position"] == "std.person:0:3"

    async def later() -> None:
        await asyncio.sleep(0.3)
        apply_person(settings, 3, name="王大明")

    writer = asyncio.create_task(later())
    waited = await http.get(f"/v1/citizens/{VALID_ID}", params={"min_position": "std.person:0:4"})
    await writer
    assert waited.status == 200 and (await waited.json())["name"] == "王大明"
    assert waited.headers["X-Projection-Position"] == "std.person:0:4"

    monkeypatch.setattr(profile_reads, "MAX_WAIT_SECONDS", 0.2)
    behind = await http.get(f"/v1/citizens/{VALID_ID}", params={"min_position": "std.person:0:99"})
    assert behind.status == 503 and behind.headers["Retry-After"]
    assert (await behind.json())["type"] == "/problems/projection-behind"
    bad = await http.get(f"/v1/citizens/{VALID_ID}", params={"min_position": "std.person;0"})
    assert bad.status == 400


@pytest.mark.parametrize("text", ["", "a:b:c", "std.person:0", "x:0:1;DROP", "t:0:" + "9" * 30,
                                  ",".join(["t:0:1"] * 300)])
def test_malformed_positions_are_refused(text: str) -> None:
    with pytest.raises(InvalidPosition):
        parse_positions(text)


def test_positions_keep_the_highest_offset_per_partition() -> None:
    assert parse_positions("std.person:0:5, std.person:0:7,std.marriage:1:2") == {
        ("std.person", 0): 7, ("std.marriage", 1): 2}
