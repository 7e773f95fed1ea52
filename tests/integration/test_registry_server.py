"""The registry server against a real Kafka broker, spoken to over HTTP and by confluent-kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient

from bus.registry.app import create_registry_app
from bus.settings import Settings

pytestmark = pytest.mark.integration

CT = "application/vnd.schemaregistry.v1+json"


_stack_bootstrap: list[str] = []


@pytest.fixture(autouse=True, scope="module")
def _on_test_stack(stack: Settings) -> None:
    """Every test here talks to the session's real broker (see tests/conftest.py)."""
    _stack_bootstrap[:] = [stack.kafka_bootstrap]


def bootstrap() -> str:
    return _stack_bootstrap[0]


def person(*extra: dict[str, object], name: str = "Person") -> str:
    fields: list[dict[str, object]] = [{"name": "name", "type": "string"}, *extra]
    return json.dumps({"type": "record", "name": name, "namespace": "gov.test", "fields": fields})


@asynccontextmanager
async def running_registry(topic: str) -> AsyncIterator[str]:
    """A registry app on a free local port, storing into ``topic``; yields its base URL."""
    runner = web.AppRunner(create_registry_app(bootstrap(), topic=topic))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def delete_topics(*topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


def unique_topic() -> str:
    return f"_schemas_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
async def registry_topics() -> AsyncIterator[list[str]]:
    topics: list[str] = []
    yield topics
    await delete_topics(*topics)


@pytest.fixture(scope="module")
async def registry_url(registry_topics: list[str]) -> AsyncIterator[str]:
    topic = unique_topic()
    registry_topics.append(topic)
    async with running_registry(topic) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Content-Type": CT}) as session:
        yield session


def subject() -> str:
    return f"people-{uuid.uuid4().hex[:8]}-value"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body)
    async with http.request(method, url, data=data) as response:
        return response.status, await response.json(content_type=None)


async def test_register_then_fetch_by_id_and_by_version(
    registry_url: str, http: aiohttp.ClientSession
) -> None:
    s = subject()
    status, body = await call(
        http, "POST", f"{registry_url}/subjects/{s}/versions", {"schema": person()}
    )
    assert status == 200
    schema_id = body["id"]
    status, by_id = await call(http, "GET", f"{registry_url}/schemas/ids/{schema_id}")
    assert status == 200 and json.loads(by_id["schema"]) == json.loads(person())
    assert (await call(http, "GET", f"{registry_url}/subjects/{s}/versions")) == (200, [1])
    status, latest = await call(http, "GET", f"{registry_url}/subjects/{s}/versions/latest")
    assert latest == {"subject": s, "version": 1, "id": schema_id, "schema": by_id["schema"]}
    status, subjects = await call(http, "GET", f"{registry_url}/subjects")
    assert s in subjects


async def test_same_schema_twice_gets_the_same_id_and_one_version(
    registry_url: str, http: aiohttp.ClientSession
) -> None:
    s = subject()
    url = f"{registry_url}/subjects/{s}/versions"
    _, first = await call(http, "POST", url, {"schema": person()})
    _, again = await call(http, "POST", url, {"schema": person().replace(":", " : ")})
    assert first == again
    assert (await call(http, "GET", url)) == (200, [1])


async def test_incompatible_change_is_refused_with_409(
    registry_url: str, http: aiohttp.ClientSession
) -> None:
    s = subject()
    url = f"{registry_url}/subjects/{s}/versions"
    await call(http, "POST", url, {"schema": person()})
    status, body = await call(http, "POST", url, {"schema": person({"name": "age", "type": "int"})})
    assert status == 409 and body["error_code"] == 409
    assert "incompatible with an earlier schema" in body["message"]
    status, body = await call(
        http,
        "POST",
        f"{registry_url}/compatibility/subjects/{s}/versions/latest?verbose=true",
        {"schema": person({"name": "age", "type": "int"})},
    )
    assert status == 200 and body["is_compatible"] is False and body["messages"]
    assert (await call(http, "GET", url)) == (200, [1])


async def test_errors_carry_confluent_codes(registry_url: str, http: aiohttp.ClientSession) -> None:
    s = subject()
    assert (await call(http, "GET", f"{registry_url}/subjects/{s}/versions"))[1][
        "error_code"
    ] == 40401
    status, body = await call(
        http, "POST", f"{registry_url}/subjects/{s}/versions", {"schema": '{"type": "nope"}'}
    )
    assert (status, body["error_code"]) == (422, 42201)
    await call(http, "POST", f"{registry_url}/subjects/{s}/versions", {"schema": person()})
    status, body = await call(http, "GET", f"{registry_url}/subjects/{s}/versions/7")
    assert (status, body["error_code"]) == (404, 40402)
    status, body = await call(http, "GET", f"{registry_url}/subjects/{s}/versions/zero")
    assert (status, body["error_code"]) == (422, 42202)
    status, body = await call(http, "GET", f"{registry_url}/schemas/ids/999999")
    assert (status, body["error_code"]) == (404, 40403)


async def test_config_get_and_put_globally_and_per_subject(
    registry_url: str, http: aiohttp.ClientSession
) -> None:
    s = subject()
    assert (await call(http, "GET", f"{registry_url}/config")) == (
        200,
        {"compatibilityLevel": "BACKWARD"},
    )
    status, body = await call(http, "GET", f"{registry_url}/config/{s}")
    assert (status, body["error_code"]) == (404, 40408)
    assert (await call(http, "GET", f"{registry_url}/config/{s}?defaultToGlobal=true")) == (
        200,
        {"compatibilityLevel": "BACKWARD"},
    )
    assert (await call(http, "PUT", f"{registry_url}/config/{s}", {"compatibility": "NONE"})) == (
        200,
        {"compatibility": "NONE"},
    )
    assert (await call(http, "GET", f"{registry_url}/config/{s}")) == (
        200,
        {"compatibilityLevel": "NONE"},
    )
    status, body = await call(http, "PUT", f"{registry_url}/config/{s}", {"compatibility": "X"})
    assert (status, body["error_code"]) == (422, 42203)
    url = f"{registry_url}/subjects/{s}/versions"
    await call(http, "POST", url, {"schema": person()})
    status, body = await call(http, "POST", url, {"schema": person({"name": "a", "type": "int"})})
    assert status == 200, body


async def test_ids_and_versions_survive_a_restart(
    registry_topics: list[str], http: aiohttp.ClientSession
) -> None:
    topic = unique_topic()
    registry_topics.append(topic)
    async with running_registry(topic) as url:
        _, a = await call(http, "POST", f"{url}/subjects/a-value/versions", {"schema": person()})
        _, b = await call(
            http, "POST", f"{url}/subjects/b-value/versions", {"schema": person(name="Other")}
        )
        await call(
            http,
            "POST",
            f"{url}/subjects/a-value/versions",
            {"schema": person({"name": "age", "type": "int", "default": 0})},
        )
        await call(http, "PUT", f"{url}/config/b-value", {"compatibility": "FULL"})
    async with running_registry(topic) as url:
        assert (await call(http, "GET", f"{url}/subjects")) == (200, ["a-value", "b-value"])
        assert (await call(http, "GET", f"{url}/subjects/a-value/versions")) == (200, [1, 2])
        _, v1 = await call(http, "GET", f"{url}/subjects/a-value/versions/1")
        assert v1["id"] == a["id"]
        _, by_id = await call(http, "GET", f"{url}/schemas/ids/{b['id']}")
        assert json.loads(by_id["schema"])["name"] == "Other"
        assert (await call(http, "GET", f"{url}/config/b-value")) == (
            200,
            {"compatibilityLevel": "FULL"},
        )
        _, again = await call(
            http, "POST", f"{url}/subjects/a-value/versions", {"schema": person()}
        )
        assert again == a
        _, new = await call(
            http, "POST", f"{url}/subjects/c-value/versions", {"schema": '"string"'}
        )
        assert new["id"] == 4


async def test_confluent_kafka_client_speaks_to_the_registry(registry_url: str) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    def scenario() -> None:
        client = SchemaRegistryClient({"url": registry_url})
        s = subject()
        schema_id = client.register_schema(s, Schema(person(), "AVRO"))
        assert json.loads(str(client.get_schema(schema_id).schema_str)) == json.loads(person())
        latest = client.get_latest_version(s)
        assert (latest.schema_id, latest.version, latest.subject) == (schema_id, 1, s)
        registered = client.lookup_schema(s, Schema(person(), "AVRO"))
        assert registered.version == 1
        compatible = Schema(person({"name": "age", "type": "int", "default": 0}), "AVRO")
        incompatible = Schema(person({"name": "age", "type": "int"}), "AVRO")
        assert client.test_compatibility(s, compatible) is True
        assert client.test_compatibility(s, incompatible) is False
        assert client.get_versions(s) == [1]
        assert client.get_subjects().count(s) == 1

    await asyncio.to_thread(scenario)


async def test_confluent_avro_serde_round_trips_through_the_registry(registry_url: str) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    def scenario() -> None:
        client = SchemaRegistryClient({"url": registry_url})
        topic = f"people-{uuid.uuid4().hex[:8]}"
        serializer = AvroSerializer(client, person())
        deserializer = AvroDeserializer(client)
        context = SerializationContext(topic, MessageField.VALUE)
        payload = serializer({"name": "Li Wei"}, context)
        assert payload is not None and payload[0] == 0
        schema_id = int.from_bytes(payload[1:5], "big")
        assert client.get_latest_version(f"{topic}-value").schema_id == schema_id
        assert deserializer(payload, context) == {"name": "Li Wei"}

    await asyncio.to_thread(scenario)


async def test_the_schemas_topic_is_created_compacted(registry_topics: list[str]) -> None:
    # confluent_kafka.admin re-exports ConfigResource without declaring it (no __all__ entry)
    from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

    topic = unique_topic()
    registry_topics.append(topic)
    async with running_registry(topic):
        pass

    def cleanup_policy() -> str:
        admin = AdminClient({"bootstrap.servers": bootstrap()})
        futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
        configs = next(iter(futures.values())).result(timeout=30)
        return str(configs["cleanup.policy"].value)

    assert await asyncio.to_thread(cleanup_policy) == "compact"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_registry_process_serves_and_exits_cleanly_on_sigterm(
    registry_topics: list[str],
) -> None:
    import signal
    import sys

    topic = unique_topic()
    registry_topics.append(topic)
    port = free_port()
    code = (
        "from bus.registry.server import run_registry; "
        f"run_registry({bootstrap()!r}, '127.0.0.1', {port}, {topic!r})"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the registry process never answered")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_soft_and_hard_deletes_survive_a_restart(
    registry_topics: list[str], http: aiohttp.ClientSession
) -> None:
    topic = unique_topic()
    registry_topics.append(topic)
    age = {"name": "age", "type": "int", "default": 0}
    async with running_registry(topic) as url:
        for s in ("kept-value", "soft-value", "hard-value"):
            await call(http, "POST", f"{url}/subjects/{s}/versions", {"schema": person(name=s[:4])})
        await call(http, "POST", f"{url}/subjects/kept-value/versions", {"schema": person(age, name="kept")})
        assert (await call(http, "DELETE", f"{url}/subjects/kept-value/versions/1")) == (200, 1)
        assert (await call(http, "DELETE", f"{url}/subjects/soft-value")) == (200, [1])
        assert (await call(http, "DELETE", f"{url}/subjects/hard-value")) == (200, [1])
        assert (await call(http, "DELETE", f"{url}/subjects/hard-value?permanent=true")) == (200, [1])
        _, hard_id = await call(http, "GET", f"{url}/schemas/ids/3/versions?deleted=true")
    async with running_registry(topic) as url:
        assert (await call(http, "GET", f"{url}/subjects")) == (200, ["kept-value"])
        assert (await call(http, "GET", f"{url}/subjects?deleted=true")) == (
            200,
            ["kept-value", "soft-value"],
        )
        assert (await call(http, "GET", f"{url}/subjects/kept-value/versions")) == (200, [2])
        status, body = await call(http, "GET", f"{url}/subjects/kept-value/versions/1?deleted=true")
        assert (status, body["id"]) == (200, 1)
        assert (await call(http, "GET", f"{url}/schemas/ids/2"))[0] == 200
        status, body = await call(http, "GET", f"{url}/schemas/ids/3")
        assert (status, body["error_code"]) == (404, 40403)
        status, body = await call(http, "DELETE", f"{url}/subjects/soft-value")
        assert (status, body["error_code"]) == (404, 40404)
    assert hard_id == {"error_code": 40403, "message": "Schema not found"}


async def test_deletes_are_confluent_records_in_the_schemas_topic(registry_topics: list[str]) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = unique_topic()
    registry_topics.append(topic)
    async with running_registry(topic) as url, aiohttp.ClientSession(headers={"Content-Type": CT}) as http:
        await call(http, "POST", f"{url}/subjects/s-value/versions", {"schema": person()})
        await call(http, "POST", f"{url}/subjects/t-value/versions", {"schema": person(name="T")})
        await call(http, "DELETE", f"{url}/subjects/s-value/versions/1")
        await call(http, "DELETE", f"{url}/subjects/s-value/versions/1?permanent=true")
        await call(http, "DELETE", f"{url}/subjects/t-value")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(), auto_offset_reset="earliest")
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        batches = await consumer.getmany(partition, timeout_ms=5000, max_records=10)
        messages = batches[partition]
    finally:
        await consumer.stop()
    log = [(json.loads(m.key), None if m.value is None else json.loads(m.value)) for m in messages]
    soft_key, soft_value = log[2]
    assert soft_key == {"keytype": "SCHEMA", "subject": "s-value", "version": 1, "magic": 1}
    assert soft_value is not None and soft_value["deleted"] is True
    assert log[3] == (soft_key, None)
    assert log[4] == (
        {"keytype": "DELETE_SUBJECT", "subject": "t-value", "magic": 0},
        {"subject": "t-value", "version": 1},
    )


async def test_confluent_kafka_client_sets_levels_and_deletes(registry_url: str) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    def scenario() -> None:
        client = SchemaRegistryClient({"url": registry_url})
        s = subject()
        v1 = Schema(person(), "AVRO")
        v2 = Schema(person({"name": "age", "type": "int", "default": 0}), "AVRO")
        v3 = Schema(person({"name": "age", "type": "int"}), "AVRO")
        client.register_schema(s, v1)
        client.register_schema(s, v2)
        # v3 reads v2 data (age present) but not v1 data: only transitive levels refuse it.
        client.set_compatibility(s, "BACKWARD_TRANSITIVE")
        assert client.get_compatibility(s) == "BACKWARD_TRANSITIVE"
        assert client.test_compatibility(s, v3) is False
        assert client.test_compatibility(s, v3, version=2) is True
        client.set_compatibility(s, "BACKWARD")
        assert client.test_compatibility(s, v3) is True
        client.set_compatibility(s, "FULL_TRANSITIVE")
        try:
            client.register_schema(s, v3)
        except SchemaRegistryError as exc:
            assert exc.http_status_code == 409
        else:
            raise AssertionError("FULL_TRANSITIVE accepted a breaking schema")
        assert client.delete_version(s, 1) == 1
        assert client.get_versions(s) == [2]
        try:
            client.delete_version(s, 1)
        except SchemaRegistryError as exc:
            assert exc.error_code == 40406
        else:
            raise AssertionError("a second soft delete succeeded")
        assert client.delete_version(s, 1, permanent=True) == 1
        assert client.delete_subject(s) == [2]
        assert s not in client.get_subjects()
        assert client.delete_subject(s, permanent=True) == [2]
        try:
            client.get_versions(s)
        except SchemaRegistryError as exc:
            assert exc.error_code == 40401
        else:
            raise AssertionError("a permanently deleted subject still has versions")

    await asyncio.to_thread(scenario)
