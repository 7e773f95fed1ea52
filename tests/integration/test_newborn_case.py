"""newborn_case on real Kafka, run by ``bus projections run``: one whole flow (with a SIGKILL of
the worker in the middle) and one flow whose events arrive in the reverse order, each ending
``completed`` in the read store and on the compacted ``projection.newborn_case``."""

from __future__ import annotations

import asyncio
import sqlite3
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
from projections.newborn_case.store import StoredCase, read_case
from projections.profiles.store import connect
from schemas.avro_schemas import load_avro_schema
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, TopicContents, read_topic, wait_for

pytestmark = pytest.mark.integration

KEYS = {"person": "identity_number", "social_insurance": "insurance_number",
        "birth_certificate": "certificate_number", "service_case": "case_id"}
AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def source(department: str, table: str, key: str) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"evt-{key}",
            "op": "c", "updated_at": AT}


def person(number: str, name: str, sex: str, born: date, address: str) -> tuple[str, dict[str, Any]]:
    return "person", {"identity_number": number, "name": name, "sex_code": sex, "birth_date": born,
                      "division_code": number[:6], "household_address": address,
                      "source": source("gongan", "hj_ryxx", f"R{number[-6:]}")}


def certificate(number: str, mother: str, father: str, name: str, born: date) -> tuple[str, dict[str, Any]]:
    return "birth_certificate", {
        "certificate_number": number, "mother_identity_number": mother, "mother_name": "母亲",
        "father_identity_number": father, "father_name": "父亲", "newborn_sex_code": "2",
        "birth_date": born, "newborn_name": name, "birth_time": None, "birth_place": "市妇幼保健院",
        "issue_date": born, "source": source("wsjk", "csyxzm", number)}


def application(case_id: str, certificate_number: str, applicant: str) -> tuple[str, dict[str, Any]]:
    return "service_case", {
        "case_id": case_id, "case_type": "newborn", "status_code": "submitted",
        "applicant_identity_number": applicant, "applicant_name": "母亲",
        "subject_reference": f"wsjk.csyxzm/{certificate_number}", "steps": [], "submitted_at": AT,
        "updated_at": AT, "source": source("zwfw", "service_case", case_id)}


def insurance(number: str, identity: str, name: str, born: date) -> tuple[str, dict[str, Any]]:
    return "social_insurance", {
        "insurance_number": number, "identity_number": identity, "name": name, "sex_code": "2",
        "birth_date": born, "employer_credit_code": None, "status_code": "paying",
        "source": source("rsj", "ac01", number)}


# Flow A, in order: 陈 family of 上城区.
HOME_A, BORN_A = "杭州市上城区清泰街8号", date(2025, 1, 2)
FLOW_A_START = [
    person("330102199304150025", "赵敏", "2", date(1993, 4, 15), HOME_A),
    person("330102199101200017", "陈刚", "1", date(1991, 1, 20), HOME_A),
    certificate("NBA0000001", "330102199304150025", "330102199101200017", "陈思思", BORN_A),
    application("ZW-NB-A", "NBA0000001", "330102199304150025"),
]
FLOW_A_END = [
    person("330102202501020028", "陈思思", "2", BORN_A, HOME_A),
    insurance("NB-S-A", "330102202501020028", "陈思思", BORN_A),
]
# Flow B, every event before the one it depends on: 周 family of 拱墅区.
HOME_B, BORN_B = "杭州市拱墅区湖墅南路3号", date(2025, 2, 3)
FLOW_B_REVERSED = [
    insurance("NB-S-B", "330105202502030046", "周悦", BORN_B),
    person("330105202502030046", "周悦", "2", BORN_B, HOME_B),
    application("ZW-NB-B", "NBB0000001", "330105199402100048"),
    certificate("NBB0000001", "330105199402100048", "330105199206060011", "周悦", BORN_B),
    person("330105199402100048", "孙丽", "2", date(1994, 2, 10), HOME_B),
]


async def publish(settings: Settings, events: list[tuple[str, dict[str, Any]]]) -> None:
    await ensure_topics(settings.kafka_bootstrap, [TopicSpec.history(f"std.{e}") for e, _v in events])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with RegistryClient(settings.registry_url) as registry:
            serde = AvroSerde(registry)
            for entity, value in events:
                topic, key_field = f"std.{entity}", KEYS[entity]
                key = await serde.encode(subject_for(topic, is_key=True),
                                         load_avro_schema(f"{entity}_key"), {key_field: value[key_field]})
                body = await serde.encode(subject_for(topic), load_avro_schema(entity), value)
                headers = CloudEvent(f"rongtong.std.{entity}.upserted", "/test").to_headers()
                await producer.send_and_wait(topic, body, key, headers=headers)
    finally:
        await producer.stop()


def case_of(store: Path, number: str) -> StoredCase | None:
    if not store.exists():
        return None
    db = connect(store, readonly=True)
    try:
        return read_case(db, number)
    except sqlite3.OperationalError:
        return None  # the worker has not created its tables yet
    finally:
        db.close()


def in_status(store: Path, number: str, status: str) -> StoredCase | None:
    case = case_of(store, number)
    return case if case is not None and case.document["status"] == status else None


def version_causes(store: Path, number: str) -> list[tuple[str, int, int]]:
    db = connect(store, readonly=True)
    try:
        return [(str(r[0]), int(r[1]), int(r[2])) for r in db.execute(
            "SELECT cause_topic, cause_partition, cause_offset FROM case_version "
            "WHERE certificate_number = ? ORDER BY version", (number,))]
    finally:
        db.close()


def versions(store: Path, number: str) -> list[tuple[int, str]]:
    db = connect(store, readonly=True)
    try:
        return [(int(r[0]), str(r[1])) for r in db.execute(
            "SELECT version, status FROM case_version WHERE certificate_number = ? ORDER BY version",
            (number,))]
    finally:
        db.close()


def published_completed(stack: Settings) -> TopicContents | None:
    """projection.newborn_case once its latest versions of both cases are completed."""
    outputs = read_topic(stack.kafka_bootstrap, stack.registry_url, "projection.newborn_case")
    latest = {k["certificate_number"]: v for k, v in zip(outputs.keys, outputs.records, strict=True)}
    done = all((latest.get(n) or {}).get("status") == "completed" for n in ("NBA0000001", "NBB0000001"))
    return outputs if done else None


def test_a_whole_flow_and_a_reversed_flow_complete_their_cases(stack: Settings, tmp_path: Path) -> None:
    env = bus_environment(stack, tmp_path / "state")
    store = tmp_path / "state" / "projections" / "newborn_case.sqlite"
    asyncio.run(publish(stack, FLOW_A_START))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: in_status(store, "NBA0000001", "applied"), 120, "the applied case A")
        worker.kill()  # the departments' rows come back while the worker is down
        asyncio.run(publish(stack, FLOW_A_END + FLOW_B_REVERSED))
        worker.start()
        case_a = wait_for(lambda: in_status(store, "NBA0000001", "completed"), 120, "case A completed")
        case_b = wait_for(lambda: in_status(store, "NBB0000001", "completed"), 60, "case B completed")
        outputs = wait_for(lambda: published_completed(stack), 60,
                           "both completed cases on projection.newborn_case")
    finally:
        worker.stop()

    # The agents of the four topics run concurrently: the application may be projected before
    # the certificate (awaiting_certificate, then applied), the insurance row before the household
    # row (applied, then completed) — the order within a topic is all Kafka promises.
    history_a, history_b = versions(store, "NBA0000001"), versions(store, "NBB0000001")
    assert "applied" in [s for _v, s in history_a] and history_a[-1][1] == "completed"
    assert history_b[-1][1] == "completed"
    for history in (history_a, history_b):
        assert [v for v, _s in history] == list(range(1, len(history) + 1))
    for number in ("NBA0000001", "NBB0000001"):
        # nothing doubled: no input event made two versions (a status may repeat: a department's
        # row that arrives before the application is held as a fact, in a version of its own)
        causes = version_causes(store, number)
        assert len(set(causes)) == len(causes), causes
    for case, newborn, rule in ((case_a, "330102202501020028", "birth_and_parent_household"),
                                (case_b, "330105202502030046", "birth_and_parent_household")):
        assert case.document["newborn_identity_number"] == newborn
        assert case.document["household"]["link_rule"] == rule
        assert case.document["awaiting"] == [] and case.document["anomalies"] == []

    latest: dict[str, dict[str, Any]] = {}
    published: set[tuple[str, int]] = set()
    for key, value in zip(outputs.keys, outputs.records, strict=True):
        if key["certificate_number"] not in ("NBA0000001", "NBB0000001"):
            continue  # other tests' cases on the shared broker
        assert value is not None
        latest[key["certificate_number"]] = value
        published.add((key["certificate_number"], value["version"]))
    assert {("NBA0000001", v) for v, _s in history_a} | {("NBB0000001", v) for v, _s in history_b} \
        == published
    a, b = latest["NBA0000001"], latest["NBB0000001"]
    assert (a["status"], a["version"], a["case_id"]) == ("completed", len(history_a), "ZW-NB-A")
    assert a["birth_date"] == BORN_A and a["insurance"]["insurance_number"] == "NB-S-A"
    assert a["household"]["identity_number"] == "330102202501020028"
    assert (b["status"], b["version"], b["case_id"]) == ("completed", len(history_b), "ZW-NB-B")
    assert b["household"]["record_key"] == "R030046" and b["mother_identity_number"] == "330105199402100048"

    # the orders to the departments: one per case and step, whatever the crash re-sent (case B's
    # rows may all be there when its certificate arrives: then nobody needs to be ordered)
    for topic, key_field, step in (("std.household_registration", "registration_id", "HJ"),
                                   ("std.insurance_enrolment", "enrolment_id", "CB")):
        orders = read_topic(stack.kafka_bootstrap, stack.registry_url, topic)
        ids = {(k[key_field], h["ce_id"]) for k, h in zip(orders.keys, orders.headers, strict=True)
               if k[key_field].startswith(("ZW-NB-A-", "ZW-NB-B-"))}  # not other tests' cases
        assert {f"ZW-NB-A-{step}1"} <= {i for i, _e in ids} <= \
            {f"ZW-NB-A-{step}1", f"ZW-NB-B-{step}1"}, ids
        assert len(ids) == len({i for i, _e in ids})  # a re-sent order keeps its event id
        first = next(r for r in orders.records if r and r["case_id"] == "ZW-NB-A")
        assert (first["certificate_number"], first["name"], first["birth_date"]) == \
            ("NBA0000001", "陈思思", BORN_A)
        if step == "HJ" and first["division_code"] is not None:
            # the mother's household, when her record was projected before the application
            assert (first["division_code"], first["household_address"]) == ("330102", HOME_A)
