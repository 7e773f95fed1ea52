"""Live entity resolution on real Kafka, through ``bus projections run`` and ``bus serve``: a
quarantined marriage row whose husband's number has a broken check digit is linked to his
person record and shows in his citizen profile; a social-insurance row without a number and a
one-character name typo waits for review, is listed by the API and accepted through it; a split
takes the first row out of the profile again — every step an event on std.link_decision."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.standards.idcard import compute_check_char
from schemas.avro_schemas import load_avro_schema
from tests.access import add_client, headers
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, http_get, read_topic, wait_for

pytestmark = pytest.mark.integration

# The stack is shared: a person of this run only (random birth date, rare surname).
_RNG = random.Random(uuid.uuid4().int)
BORN = date(_RNG.randint(1950, 1999), _RNG.randint(1, 12), _RNG.randint(1, 28))
BODY = f"330106{BORN:%Y%m%d}{_RNG.randint(100, 999)}"
NUMBER = BODY + compute_check_char(BODY)
BROKEN = BODY + ("0" if NUMBER[-1] != "0" else "1")
NAME, TYPO = "司马明远", "司马明源"
SEX = "1" if int(BODY[-1]) % 2 else "2"
RUN = uuid.uuid4().hex[:8]
HY, AC = f"HY{RUN}", f"AC{RUN}"
Q_REF, R_REF = f"mz.hydj/{HY}#husband", f"rsj.ac01/{AC}#insured"


def person() -> dict[str, Any]:
    return {"identity_number": NUMBER, "name": NAME, "sex_code": SEX, "birth_date": BORN,
            "division_code": "330106", "household_address": "杭州市西湖区文三路1号",
            "source": {"department": "gongan", "table": "hj_ryxx", "record_key": f"R{RUN}",
                       "event_id": f"evt-R{RUN}", "op": "c",
                       "updated_at": datetime(2024, 3, 7, 8, 0, tzinfo=UTC)}}


def quarantined(department: str, table: str, key: str, rule: str, row: dict[str, str | None]
                ) -> dict[str, Any]:
    return {"rule_id": rule, "field": None, "message_zh": "身份证号码有误",
            "message_en": "bad identity number", "department": department, "table": table,
            "record_key": key, "op": "c", "original": row,
            "source_event_id": f"raw-{key}", "source_topic": f"legacy.{department}.{table}",
            "source_partition": 0, "source_offset": 0, "quarantined_at": datetime(2024, 3, 7, 9, tzinfo=UTC)}


async def publish(settings: Settings) -> None:
    topics = ["std.person", "quarantine.mz.hydj", "quarantine.rsj.ac01"]
    await ensure_topics(settings.kafka_bootstrap, [TopicSpec.history(t) for t in topics])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with RegistryClient(settings.registry_url) as registry:
            serde = AvroSerde(registry)
            key = await serde.encode(subject_for("std.person", is_key=True), load_avro_schema("person_key"),
                                     {"identity_number": NUMBER})
            value = await serde.encode(subject_for("std.person"), load_avro_schema("person"), person())
            headers = CloudEvent("rongtong.std.person.upserted", "/test").to_headers()
            await producer.send_and_wait("std.person", value, key, headers=headers)
            rows = [("quarantine.mz.hydj", quarantined("mz", "hydj", HY, "id.checksum", {
                        "NF_SFZH": BROKEN, "NF_XM": NAME, "NV_SFZH": None, "NV_XM": None})),
                    ("quarantine.rsj.ac01", quarantined("rsj", "ac01", AC, "id.missing", {
                        "AAC002": None, "AAC003": TYPO, "AAC006": BORN.isoformat(), "AAC004": SEX}))]
            for topic, record in rows:
                body = await serde.encode(subject_for(topic), load_avro_schema("quarantined_record"), record)
                await producer.send_and_wait(topic, body, record["record_key"].encode())
    finally:
        await producer.stop()


def http_post(url: str, body: dict[str, Any], auth: dict[str, str]) -> tuple[int, Any]:
    async def post() -> tuple[int, Any]:
        async with aiohttp.ClientSession(headers=auth) as session, \
                session.post(url, json=body) as response:
            return response.status, await response.json(content_type=None)

    return asyncio.run(post())


def linked_records(base: str, auth: dict[str, str]) -> list[str] | None:
    status, profile = http_get(f"{base}/v1/citizens/{NUMBER}", auth)
    if status != 200:
        return None
    return sorted(item["record"] for item in profile.get("linked_records", []))


def test_a_quarantined_row_joins_its_persons_profile_a_review_accepts_another_and_a_split_undoes(
        stack: Settings, tmp_path: Path) -> None:
    env = bus_environment(stack, tmp_path / "state")
    base = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
    auth = headers(add_client(Path(env["BUS_STATE_DIR"])))
    asyncio.run(publish(stack))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    web = BusProcess("web", ["serve"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: linked_records(base, auth) == [Q_REF] or None, 120,
                 "the quarantined row in the profile")
        status, profile = http_get(f"{base}/v1/citizens/{NUMBER}", auth)
        [item] = profile["linked_records"]
        assert item["linked_to"] == f"gongan.hj_ryxx/R{RUN}#person" and item["score"] >= 16
        assert "identity_number=close" in item["explanation"] and item["source"]["department"] == "mz"

        def review() -> dict[str, Any] | None:
            status, page = http_get(f"{base}/v1/resolution/reviews?limit=200", auth)
            mine = [i for i in (page or {}).get("items", [])
                    if R_REF in i["pair_id"] and "gongan" in i["pair_id"]]
            return mine[0] if status == 200 and mine else None

        pending = wait_for(review, 60, "the review-band pair listed by the API")
        assert 8 <= pending["score"] < 16
        assert {w["field"] for w in pending["weights"]} >= {"name", "birth_date"}
        status, decided = http_post(f"{base}{pending['href']}",
                                    {"decision": "accept", "reviewer": "zhang", "reason": "same person"},
                                    auth)
        assert status == 202 and decided["kind"] == "accepted" and decided["subject"] == NUMBER
        status, again = http_post(f"{base}/v1/resolution/reviews/{quote(Q_REF + '|x', safe='')}",
                                  {"decision": "accept", "reviewer": "zhang"}, auth)
        assert status == 404 and again["type"] == "/problems/pair-not-found"
        wait_for(lambda: linked_records(base, auth) == sorted([Q_REF, R_REF]) or None, 60,
                 "the reviewed row joined")

        link = f"gongan.hj_ryxx/R{RUN}#person|{Q_REF}"
        status, split = http_post(f"{base}/v1/resolution/links/{quote(link, safe='')}/split",
                                  {"reviewer": "zhang", "reason": "another man"}, auth)
        assert status == 202 and split["kind"] == "split"
        wait_for(lambda: linked_records(base, auth) == [R_REF] or None, 60,
                 "the split row gone from the profile")
    finally:
        web.stop()
        worker.stop()

    decisions = read_topic(stack.kafka_bootstrap, stack.registry_url, "std.link_decision")
    mine = [(d["pair_id"], d["kind"], d["decided_by"]) for d in decisions.records
            if d and RUN in d["pair_id"] and "gongan" in d["pair_id"]]
    assert (link, "accepted", "engine") in mine and (link, "split", "reviewer:zhang") in mine
    assert (pending["pair_id"], "proposed", "engine") in mine
    assert (pending["pair_id"], "accepted", "reviewer:zhang") in mine
