"""``bus schemas check`` as operators run it: a subprocess against a real registry on Kafka.

The registry here is the bus's own server on a ``_schemas`` topic of its own, so that subjects
other tests register on the session's registry do not change the verdict.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient

from bus.registry.app import create_registry_app
from bus.registry.check import repository_schemas
from bus.settings import Settings

pytestmark = pytest.mark.integration

BUS = str(Path(sys.executable).with_name("bus"))
CT = "application/vnd.schemaregistry.v1+json"


@pytest.fixture
async def registry(stack: Settings) -> AsyncIterator[str]:
    """A registry of its own on the session's broker; yields its URL."""
    topic = f"_schemas_check_{uuid.uuid4().hex[:12]}"
    runner = web.AppRunner(create_registry_app(stack.kafka_bootstrap, topic=topic))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def register(url: str, subject: str, schema: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession(headers={"Content-Type": CT}) as http,
        http.post(f"{url}/subjects/{subject}/versions", json={"schema": json.dumps(schema)}) as response,
    ):
        assert response.status == 200, await response.text()


async def register_repository(url: str) -> None:
    """What the bus does when it first produces: every shipped schema under its subject."""
    for repo in repository_schemas():
        await register(url, repo.subject.replace("*", "gongan.hj_ryxx"), repo.schema)


async def bus_schemas_check(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        BUS, "schemas", "check", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_check_passes_when_the_registry_holds_the_repository_schemas(registry: str) -> None:
    code, out, err = await bus_schemas_check("--registry", registry)
    assert code == 0, out + err
    assert "std.person-value" in out and "new" in out
    await register_repository(registry)
    code, out, err = await bus_schemas_check("--registry", registry)
    assert code == 0, out + err
    assert "quarantine.gongan.hj_ryxx-value" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("std.", "quarantine."))]
    assert rows and all(row[-1] == "unchanged" for row in rows), out
    assert out.rstrip().endswith(f"all {len(rows)} subjects compatible (or new).")


async def test_check_fails_with_a_readable_diff_when_the_repository_would_break(
    registry: str,
) -> None:
    await register_repository(registry)
    person = next(r.schema for r in repository_schemas() if r.name == "person")
    required = next(f for f in person["fields"][1:] if "default" not in f)
    # Someone registered a version without a field the repository's schema needs (allowed:
    # dropping a field is BACKWARD-compatible); the repository's schema cannot read its data.
    dropped = {**person, "fields": [f for f in person["fields"] if f is not required]}
    await register(registry, "std.person-value", dropped)
    code, out, err = await bus_schemas_check("--registry", registry)
    assert code == 1, out + err
    assert out.startswith(
        "✗ std.person-value: schemas/avro/person.avsc is incompatible with registered version 2"
        " under BACKWARD"
    ), out
    assert f"+ field {required['name']}: " in out and "no default" in out
    assert f"breaks BACKWARD: data written without {required['name']} cannot be read" in out
    assert "why:" in out and "version 2" in out
    assert "Traceback" not in out + err


async def test_unreachable_registry_is_one_line_and_exit_code_2() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = await bus_schemas_check("--registry", f"http://127.0.0.1:{port}")
    assert code == 2
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"error: schema registry at http://127.0.0.1:{port} is unreachable")
