"""The registry's HTTP layer over an in-memory store: routes, content types, error bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bus.registry.app import CONTENT_TYPE, create_registry_app_for
from bus.registry.records import LogRecord
from bus.registry.store import MemorySchemaStore

SCHEMA = json.dumps({"type": "record", "name": "P", "fields": [{"name": "a", "type": "int"}]})


class BrokenStore(MemorySchemaStore):
    async def append(self, record: LogRecord) -> None:
        raise RuntimeError("disk on fire")


@asynccontextmanager
async def serving(store: MemorySchemaStore) -> AsyncIterator[str]:
    runner = web.AppRunner(create_registry_app_for(store))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with serving(MemorySchemaStore()) as base:
        yield base


async def call(
    method: str, url: str, body: Any = None, content_type: str = CONTENT_TYPE
) -> tuple[int, str, Any]:
    data = None if body is None else json.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers={"Content-Type": content_type}) as response,
    ):
        return response.status, response.content_type, await response.json(content_type=None)


async def test_health_root_and_schema_types(url: str) -> None:
    assert await call("GET", f"{url}/") == (200, CONTENT_TYPE, {})
    assert (await call("GET", f"{url}/schemas/types"))[2] == ["AVRO"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/vnd.schemaregistry+json", CONTENT_TYPE],
)
async def test_register_accepts_the_confluent_and_plain_json_types(
    url: str, content_type: str
) -> None:
    status, _, body = await call(
        "POST", f"{url}/subjects/s/versions", {"schema": SCHEMA}, content_type
    )
    assert (status, body) == (200, {"id": 1})


async def test_other_body_types_are_refused_with_415(url: str) -> None:
    status, _, body = await call(
        "POST", f"{url}/subjects/s/versions", {"schema": SCHEMA}, "text/html"
    )
    assert (status, body["error_code"]) == (415, 415)


async def test_lookup_and_raw_schema_endpoints(url: str) -> None:
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA})
    status, _, found = await call("POST", f"{url}/subjects/s", {"schema": SCHEMA})
    assert status == 200 and (found["subject"], found["id"], found["version"]) == ("s", 1, 1)
    status, _, missing = await call("POST", f"{url}/subjects/s", {"schema": '"string"'})
    assert (status, missing["error_code"]) == (404, 40403)
    status, _, raw = await call("GET", f"{url}/subjects/s/versions/1/schema")
    assert status == 200 and raw == json.loads(SCHEMA)


async def test_malformed_bodies_get_400_not_a_traceback(url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/subjects/s/versions", data="{not json", headers={"Content-Type": CONTENT_TYPE}
        ) as response,
    ):
        body = await response.json(content_type=None)
    assert (response.status, body["error_code"]) == (400, 400)
    status, _, body = await call("POST", f"{url}/subjects/s/versions", {"schemaa": SCHEMA})
    assert (status, body["error_code"]) == (400, 400)


async def test_unknown_routes_answer_confluent_style_json(url: str) -> None:
    status, content_type, body = await call("GET", f"{url}/nowhere")
    assert (status, content_type, body["error_code"]) == (404, CONTENT_TYPE, 404)


async def test_store_failures_become_50001_without_a_traceback() -> None:
    async with serving(BrokenStore()) as base:
        status, _, body = await call("POST", f"{base}/subjects/s/versions", {"schema": SCHEMA})
    assert (status, body["error_code"]) == (500, 50001)
    assert "Traceback" not in body["message"] and "disk on fire" not in body["message"]


async def test_global_config_put_echoes_and_delete_subject_config_resets(url: str) -> None:
    assert (await call("PUT", f"{url}/config", {"compatibility": "full"}))[2] == {
        "compatibility": "FULL"
    }
    assert (await call("GET", f"{url}/config"))[2] == {"compatibilityLevel": "FULL"}
    await call("PUT", f"{url}/config/s", {"compatibility": "NONE"})
    assert (await call("DELETE", f"{url}/config/s"))[2] == {"compatibilityLevel": "NONE"}
    assert (await call("GET", f"{url}/config/s"))[0] == 404
