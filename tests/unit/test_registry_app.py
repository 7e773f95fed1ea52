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
from bus.registry.compat import CompatibilityLevel
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


SCHEMA_V2 = json.dumps(
    {
        "type": "record",
        "name": "P",
        "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0}],
    }
)


async def test_soft_then_hard_delete_of_a_version_with_confluent_errors(url: str) -> None:
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA})
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA_V2})
    status, _, body = await call("DELETE", f"{url}/subjects/s/versions/1?permanent=true")
    assert (status, body["error_code"]) == (404, 40407)
    assert (await call("DELETE", f"{url}/subjects/s/versions/1"))[::2] == (200, 1)
    status, _, body = await call("DELETE", f"{url}/subjects/s/versions/1")
    assert (status, body) == (
        404,
        {
            "error_code": 40406,
            "message": "Subject 's' Version 1 was soft deleted.Set permanent=true to delete permanently",
        },
    )
    assert (await call("GET", f"{url}/subjects/s/versions"))[2] == [2]
    assert (await call("GET", f"{url}/subjects/s/versions?deleted=true"))[2] == [1, 2]
    assert (await call("GET", f"{url}/subjects/s/versions?deletedOnly=true"))[2] == [1]
    status, _, body = await call("GET", f"{url}/subjects/s/versions/1")
    assert (status, body) == (404, {"error_code": 40402, "message": "Version 1 not found."})
    status, _, body = await call("GET", f"{url}/subjects/s/versions/1?deleted=true")
    assert (status, body["id"]) == (200, 1)
    assert (await call("GET", f"{url}/schemas/ids/1"))[0] == 200
    assert (await call("DELETE", f"{url}/subjects/s/versions/1?permanent=true"))[::2] == (200, 1)
    status, _, body = await call("GET", f"{url}/schemas/ids/1")
    assert (status, body) == (404, {"error_code": 40403, "message": "Schema 1 not found"})
    status, _, body = await call("DELETE", f"{url}/subjects/s/versions/9")
    assert (status, body["error_code"]) == (404, 40402)


async def test_soft_then_hard_delete_of_a_subject_with_confluent_errors(url: str) -> None:
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA})
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA_V2})
    status, _, body = await call("DELETE", f"{url}/subjects/s?permanent=true")
    assert (status, body) == (
        404,
        {
            "error_code": 40405,
            "message": "Subject 's' was not deleted first before being permanently deleted",
        },
    )
    assert (await call("DELETE", f"{url}/subjects/s"))[::2] == (200, [1, 2])
    assert (await call("GET", f"{url}/subjects"))[2] == []
    assert (await call("GET", f"{url}/subjects?deleted=true"))[2] == ["s"]
    assert (await call("GET", f"{url}/subjects/s/versions"))[2]["error_code"] == 40401
    status, _, body = await call("DELETE", f"{url}/subjects/s")
    assert (status, body["error_code"]) == (404, 40404)
    assert "soft deleted.Set permanent=true" in body["message"]
    status, _, found = await call("POST", f"{url}/subjects/s?deleted=true", {"schema": SCHEMA})
    assert (status, found["version"]) == (200, 1)
    assert (await call("DELETE", f"{url}/subjects/s?permanent=true"))[::2] == (200, [1, 2])
    assert (await call("GET", f"{url}/subjects?deleted=true"))[2] == []
    status, _, body = await call("DELETE", f"{url}/subjects/s")
    assert (status, body) == (404, {"error_code": 40401, "message": "Subject 's' not found."})


async def test_ids_list_the_subject_versions_that_use_them(url: str) -> None:
    await call("POST", f"{url}/subjects/a/versions", {"schema": SCHEMA})
    await call("POST", f"{url}/subjects/b/versions", {"schema": SCHEMA})
    await call("DELETE", f"{url}/subjects/b")
    assert (await call("GET", f"{url}/schemas/ids/1/versions"))[2] == [{"subject": "a", "version": 1}]
    assert (await call("GET", f"{url}/schemas/ids/1/versions?deleted=true"))[2] == [
        {"subject": "a", "version": 1},
        {"subject": "b", "version": 1},
    ]
    assert (await call("GET", f"{url}/schemas/ids/1/subjects"))[2] == ["a"]
    assert (await call("GET", f"{url}/schemas/ids/1/subjects?deleted=true"))[2] == ["a", "b"]
    status, _, body = await call("GET", f"{url}/schemas/ids/7/subjects")
    assert (status, body) == (404, {"error_code": 40403, "message": "Schema not found"})
    assert (await call("GET", f"{url}/schemas/ids/1/schema"))[2] == json.loads(SCHEMA)


async def test_referencedby_is_empty_and_mode_is_readwrite(url: str) -> None:
    await call("POST", f"{url}/subjects/s/versions", {"schema": SCHEMA})
    assert (await call("GET", f"{url}/subjects/s/versions/1/referencedby"))[::2] == (200, [])
    assert (await call("GET", f"{url}/subjects/s/versions/2/referencedby"))[2]["error_code"] == 40402
    assert (await call("GET", f"{url}/mode"))[2] == {"mode": "READWRITE"}
    assert (await call("GET", f"{url}/mode/s?defaultToGlobal=true"))[2] == {"mode": "READWRITE"}
    assert (await call("GET", f"{url}/mode/s"))[2]["error_code"] == 40409


@pytest.mark.parametrize("level", [level.value for level in CompatibilityLevel])
async def test_every_level_can_be_set_globally_and_per_subject(url: str, level: str) -> None:
    assert (await call("PUT", f"{url}/config", {"compatibility": level}))[2] == {"compatibility": level}
    assert (await call("PUT", f"{url}/config/s", {"compatibility": level}))[2] == {"compatibility": level}
    assert (await call("GET", f"{url}/config"))[2] == {"compatibilityLevel": level}
    assert (await call("GET", f"{url}/config/s"))[2] == {"compatibilityLevel": level}
