"""The catalog, lineage and AsyncAPI endpoints of the web service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import load_settings
from bus.web.app import create_web_app
from tests.access import add_client, headers


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_web_app(load_settings(state_dir=tmp_path), audit=MemoryAuditLog())
    async with TestClient(TestServer(app), headers=headers(add_client(tmp_path))) as client:
        yield client


async def test_the_catalog_lists_datasets_of_every_kind(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v1/catalog")
    assert response.status == 200
    body = await response.json()
    assert {d["kind"] for d in body["datasets"]} == {
        "legacy_table", "raw_topic", "canonical", "projection", "api"}
    canonical = await (await client.get("/v1/catalog", params={"kind": "canonical"})).json()
    assert {d["kind"] for d in canonical["datasets"]} == {"canonical"}


async def test_search_narrows_the_catalog(client: TestClient[Any, Any]) -> None:
    body = await (await client.get("/v1/catalog", params={"search": "GB 11643"})).json()
    ids = {f["id"] for d in body["datasets"] for f in d["fields"]}
    assert "std.person.identity_number" in ids and "std.person.name" not in ids


async def test_lineage_of_a_field_and_problems_for_bad_questions(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v1/catalog/lineage", params={"field": "std.person.name"})
    assert response.status == 200
    body = await response.json()
    assert body["field"]["id"] == "std.person.name"
    assert any(p[0] == "gongan.hj_ryxx.XM" and p[-1].startswith("GET /v1/citizens")
               for p in body["paths"])
    missing = await client.get("/v1/catalog/lineage", params={"field": "std.person.nope"})
    assert missing.status == 404 and missing.content_type == PROBLEM_CONTENT_TYPE
    empty = await client.get("/v1/catalog/lineage")
    assert empty.status == 400 and empty.content_type == PROBLEM_CONTENT_TYPE
    bad_kind = await client.get("/v1/catalog", params={"kind": "spreadsheet"})
    assert bad_kind.status == 400 and bad_kind.content_type == PROBLEM_CONTENT_TYPE


async def test_the_asyncapi_document_is_served(client: TestClient[Any, Any]) -> None:
    response = await client.get("/asyncapi.json")
    assert response.status == 200
    body = await response.json()
    assert body["asyncapi"] == "3.0.0"
    assert "legacy.gongan.hj_ryxx" in {c["address"] for c in body["channels"].values()}
