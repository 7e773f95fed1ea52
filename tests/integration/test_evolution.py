"""A breaking change with an upcaster: QuarantinedRecord v1 events already in Kafka read as v2.

The v1 schema (schemas/avro/history/quarantined_record.v1.avsc) is registered and v1 events
are produced, as the first cut of the bus did; then v2 (schemas/avro/quarantined_record.avsc)
is registered the way docs/schema-governance.md prescribes for a breaking change, and more
events are produced. A consumer built like the bus's (committed reader + AvroSerde) reads
every event, old and new, in the v2 shape.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import fastavro
import pytest
from aiokafka import AIOKafkaProducer
from fastavro.validation import validate

from bus.kafka import TopicSpec, committed_reader, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient, RegistryError
from bus.serde.upcast import Upcasters, history_schema
from bus.settings import Settings
from schemas.avro_schemas import load_avro_schema

pytestmark = pytest.mark.integration

V1 = history_schema("quarantined_record", 1)
V2 = load_avro_schema("quarantined_record")
CT = "application/vnd.schemaregistry.v1+json"


def v1_event(offset: int) -> dict[str, Any]:
    return {
        "rule": "id.checksum", "column": "SFZH",
        "messages": {"zh": "身份证号校验位错误", "en": "identity number check digit is wrong"},
        "department": "gongan", "table": "hj_ryxx", "record_key": f"R{offset}", "op": "c",
        "row": {"SFZH": "110105194912310021", "XM": "王芳"}, "source_event_id": f"e-{offset}",
        "source": f"legacy.gongan.hj_ryxx:0:{offset}",
        "quarantined_at": "2024-05-01T08:30:00+08:00",
    }


def v2_event(offset: int) -> dict[str, Any]:
    return {
        "rule_id": "sex.code", "field": "XB", "message_zh": "性别代码无效",
        "message_en": "unknown sex code", "department": "gongan", "table": "hj_ryxx",
        "record_key": f"R{offset}", "op": "u", "original": {"XB": "X"},
        "source_event_id": f"e-{offset}", "source_topic": "legacy.gongan.hj_ryxx",
        "source_partition": 0, "source_offset": offset,
        "quarantined_at": datetime(2024, 6, 1, tzinfo=UTC),
    }


async def set_level(registry_url: str, subject: str, level: str | None) -> None:
    async with aiohttp.ClientSession(headers={"Content-Type": CT}) as http:
        if level is None:
            response = await http.delete(f"{registry_url}/config/{subject}")
        else:
            response = await http.put(f"{registry_url}/config/{subject}", json={"compatibility": level})
        assert response.status == 200, await response.text()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value)
    finally:
        await producer.stop()


async def consume_all(stack: Settings, topic: str, count: int) -> list[Any]:
    """What a bus consumer does: a committed reader, and the serde's decode for every value."""
    group = f"evolution-{uuid.uuid4().hex[:8]}"
    consumer = committed_reader(stack.kafka_bootstrap, topic, group_id=group)
    await consumer.start()
    records: list[Any] = []
    try:
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=10_000)
                assert batches, f"only {len(records)} of {count} events arrived"
                for messages in batches.values():
                    records += [await serde.decode(m.value) for m in messages]
    finally:
        await consumer.stop()
    return records


async def test_v1_quarantine_events_in_kafka_are_read_as_v2(stack: Settings) -> None:
    topic = f"quarantine.evolution{uuid.uuid4().hex[:8]}.hj_ryxx"
    subject = subject_for(topic)
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(topic)])

    async with RegistryClient(stack.registry_url) as registry:
        first_cut = AvroSerde(registry, Upcasters())
        old = [await first_cut.encode(subject, V1, v1_event(offset)) for offset in (1, 2)]
        await produce(stack.kafka_bootstrap, topic, old)

        # v2 is a breaking change: the subject's BACKWARD level refuses it...
        with pytest.raises(RegistryError) as refused:
            await AvroSerde(registry).encode(subject, V2, v2_event(3))
        assert refused.value.error_code == 409
        # ...so it is registered once under NONE, because its upcaster keeps v1 readable.
        await set_level(stack.registry_url, subject, "NONE")
        new = await AvroSerde(registry).encode(subject, V2, v2_event(3))
        await set_level(stack.registry_url, subject, None)
        await produce(stack.kafka_bootstrap, topic, [new])

    records = await consume_all(stack, topic, 3)

    parsed_v2 = fastavro.parse_schema(V2)
    assert all(validate(r, parsed_v2, raise_errors=False) for r in records)
    assert [sorted(r) for r in records] == [sorted(f["name"] for f in V2["fields"])] * 3
    assert [(r["rule_id"], r["source_offset"], r["message_en"]) for r in records] == [
        ("id.checksum", 1, "identity number check digit is wrong"),
        ("id.checksum", 2, "identity number check digit is wrong"),
        ("sex.code", 3, "unknown sex code"),
    ]
    assert records[0]["original"] == {"SFZH": "110105194912310021", "XM": "王芳"}
    assert records[0]["source_topic"] == "legacy.gongan.hj_ryxx"
    assert records[0]["quarantined_at"].isoformat() == "2024-05-01T00:30:00+00:00"
