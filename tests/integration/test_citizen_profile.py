"""The citizen_profile worker on real Kafka: several departments' canonical events → one file per
citizen in the read store, its versions on ``projection.citizen_profile``, conflicts on
``bus.data_conflicts``; a SIGKILL in the middle changes nothing of the outcome."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from projections.citizen_profile.queries import CitizenProfileQueries
from schemas.avro_schemas import load_avro_schema
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, read_topic, wait_for

pytestmark = pytest.mark.integration

WANG, LI = "330106199003071236", "330106199205081227"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid(body: str) -> str:
    """``body`` (17 digits) with its GB 11643 check character."""
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def couple(day: int) -> tuple[str, str]:
    """A husband and a wife nobody else in the run uses (the tests share the stack's topics)."""
    return valid(f"330106199003{day:02d}123"), valid(f"330106199205{day:02d}122")


def source(department: str, table: str, key: str, minute: int) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"evt-{key}",
            "op": "c", "updated_at": datetime(2024, 3, 7, 8, minute, tzinfo=UTC)}


def person(number: str, name: str, minute: int = 0) -> dict[str, Any]:
    return {"identity_number": number, "name": name, "sex_code": "1", "birth_date": date(1990, 3, 7),
            "division_code": "330106", "household_address": "杭州市西湖区",
            "source": source("gongan", "hj_ryxx", f"R{number[-6:]}", minute)}


def events(husband: str = WANG, wife: str = LI) -> list[tuple[str, str, dict[str, Any]]]:
    """Two people, the husband's insurance (a different spelling of his name) and the marriage."""
    insurance, marriage = f"S{husband[-6:]}", f"M{husband[-6:]}"
    return [
        ("std.person", "person", person(husband, "王小明")),
        ("std.person", "person", person(wife, "李丽")),
        ("std.social_insurance", "social_insurance", {
            "insurance_number": insurance, "identity_number": husband, "name": "王晓明",
            "sex_code": "1", "birth_date": date(1990, 3, 7), "employer_credit_code": None,
            "status_code": "paying", "source": source("rsj", "ac01", insurance, 5)}),
        ("std.marriage", "marriage", {
            "registration_number": marriage, "husband_identity_number": husband,
            "husband_name": "王小明", "wife_identity_number": wife, "wife_name": "李丽",
            "registration_type": "marriage", "registration_date": date(2015, 5, 20),
            "source": source("mz", "hydj", marriage, 9)}),
    ]


EVENTS = events()
KEYS = {"person": "identity_number", "social_insurance": "insurance_number",
        "marriage": "registration_number"}


async def publish(settings: Settings, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    await ensure_topics(settings.kafka_bootstrap, [TopicSpec.history(t) for t, _e, _v in events])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with RegistryClient(settings.registry_url) as registry:
            serde = AvroSerde(registry)
            for topic, entity, value in events:
                key_field = KEYS[entity]
                key = await serde.encode(subject_for(topic, is_key=True),
                                         load_avro_schema(f"{entity}_key"), {key_field: value[key_field]})
                body = await serde.encode(subject_for(topic), load_avro_schema(entity), value)
                headers = CloudEvent(f"rongtong.std.{entity}.upserted", "/test").to_headers()
                await producer.send_and_wait(topic, body, key, headers=headers)
    finally:
        await producer.stop()


def versions_of(stack: Settings, subject: str) -> dict[int, Any]:
    """The versions of ``subject`` on projection.citizen_profile (other tests of the run may
    have published the same subject from stores of their own: look for ours, not the last)."""
    outputs = read_topic(stack.kafka_bootstrap, stack.registry_url, "projection.citizen_profile")
    return {v["version"]: v for k, v in zip(outputs.keys, outputs.records, strict=True)
            if v is not None and k["subject"] == subject}


def test_profiles_from_several_departments_with_provenance_outputs_and_a_kill(
        stack: Settings, tmp_path: Path) -> None:
    env = bus_environment(stack, tmp_path / "state")
    queries = CitizenProfileQueries(tmp_path / "state" / "projections" / "citizen_profile.sqlite")
    asyncio.run(publish(stack, EVENTS[:2]))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: queries.get(LI), 90, "the first profiles")
        worker.kill()  # mid-run, before the other departments' events
        asyncio.run(publish(stack, EVENTS[2:]))
        worker.start()
        wang = wait_for(lambda: (p := queries.get(WANG)) and p.get("marriages")
                        and p.get("social_insurance") and p, 90, "the married, insured profile")
        wait_for(lambda: read_topic(stack.kafka_bootstrap, stack.registry_url,
                                    "bus.data_conflicts").records, 60, "the conflict event")
        wait_for(lambda: 3 in versions_of(stack, WANG), 60,
                 "the third version on projection.citizen_profile")
    finally:
        worker.stop()
    assert wang["name"] == "王小明" and wang["provenance"]["name"]["rule"] == "authoritative_source"
    assert wang["social_insurance"][0]["insurance_number"] == f"S{WANG[-6:]}"
    assert wang["marriages"][0]["spouse_identity_number"] == LI
    li = queries.get(LI)
    assert li is not None and li["marriages"][0]["role"] == "wife"
    assert (wang["version"], li["version"]) == (3, 2)  # person, insurance, marriage / person, marriage

    third = versions_of(stack, WANG)[3]
    assert third["fields"]["name"]["provenance"]["department"] == "gongan"
    assert {f: len(items) for f, items in third["facets"].items()} == {
        "marriages": 1, "social_insurance": 1}

    conflicts = read_topic(stack.kafka_bootstrap, stack.registry_url, "bus.data_conflicts")
    assert [(c["subject"], c["field"], c["other_value"], c["addressed_to"])
            for c in conflicts.records if c and c["subject"] == WANG] == [
        (WANG, "name", "王晓明", "gongan")]
