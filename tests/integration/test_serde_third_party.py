"""Our events are readable by a third-party client: confluent-kafka's AvroDeserializer."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from schemas.avro_schemas import load_avro_schema

pytestmark = pytest.mark.integration


def a_person() -> dict[str, object]:
    return {
        "identity_number": "11010519491231002X", "name": "王芳", "sex_code": "2",
        "birth_date": date(1949, 12, 31), "division_code": "110105",
        "household_address": "北京市朝阳区", "source": {
            "department": "gongan", "table": "hj_ryxx", "record_key": "R1",
            "event_id": "e-1", "op": "c", "updated_at": None,
        },
    }


async def test_confluent_avro_deserializer_reads_what_the_bus_produced(stack: Settings) -> None:
    topic = f"std.person.test{uuid.uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic)])
    event = CloudEvent(type="rongtong.std.person.upserted", source="/tests",
                       subject="person/11010519491231002X", dataclassification="sensitive_personal")
    async with RegistryClient(stack.registry_url) as registry:
        serde = AvroSerde(registry)
        value = await serde.encode(subject_for(topic), load_avro_schema("person"), a_person())
        key = await serde.encode(subject_for(topic, is_key=True), load_avro_schema("person_key"),
                                 {"identity_number": "11010519491231002X"})
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=event.to_headers())
    finally:
        await producer.stop()

    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": topic,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        deserializer = AvroDeserializer(SchemaRegistryClient({"url": stack.registry_url}))
        record = deserializer(message.value(), SerializationContext(topic, MessageField.VALUE))
        key_record = deserializer(message.key(), SerializationContext(topic, MessageField.KEY))
        headers = dict(message.headers() or [])
    finally:
        consumer.close()

    assert record["identity_number"] == "11010519491231002X"
    assert record["name"] == "王芳"
    assert record["birth_date"] == date(1949, 12, 31)
    assert record["source"]["department"] == "gongan"
    assert key_record == {"identity_number": "11010519491231002X"}
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"rongtong.std.person.upserted"
    assert headers["ce_id"] == event.id.encode()
    assert headers["dataclassification"] == b"sensitive_personal"


async def test_registering_the_same_schema_twice_returns_the_same_id(stack: Settings) -> None:
    subject = f"twice{uuid.uuid4().hex[:8]}-value"
    async with RegistryClient(stack.registry_url) as first, \
            RegistryClient(stack.registry_url) as second:
        id_one = await first.register(subject, load_avro_schema("person"))
        id_two = await second.register(subject, load_avro_schema("person"))
    assert id_one == id_two
