"""A change in the legacy database arrives in the unified query answer; bad rows in quarantine."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bus.access.tokens import mint
from bus.demo.seed import seed_gongan
from bus.demo.truth import read_truth
from bus.standards.idcard import compute_check_char
from tests.access import add_client, headers
from tests.e2e.harness import BusProcess, http_get, read_topic, wait_for

pytestmark = pytest.mark.e2e


def now_text() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def valid_identity_number(rng: random.Random) -> str:
    body = f"330106{rng.randint(1950, 2005)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}{rng.randint(100, 999)}"
    return body + compute_check_char(body)


def legacy_db(env: dict[str, str]) -> Path:
    return Path(env["BUS_STATE_DIR"]) / "legacy" / "gongan.sqlite"


def execute(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(sql, params)


@pytest.fixture
def running_bus(bus_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    seed_gongan(legacy_db(bus_env), persons=60)
    bus_env["BUS_JWT_SECRET"] = "e2e-secret-" + "x" * 32
    processes = [
        BusProcess(name, args, bus_env, tmp_path / "logs").start()
        for name, args in (("adapters", ["adapters", "run"]),
                           ("projections", ["projections", "run"]),
                           ("web", ["serve"]))
    ]
    try:
        yield bus_env
    finally:
        for process in processes:
            process.stop()


def test_a_row_inserted_by_hand_appears_in_the_api_and_a_bad_row_in_quarantine(
    running_bus: dict[str, str],
) -> None:
    env = running_bus
    web = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
    auth = headers(add_client(Path(env["BUS_STATE_DIR"]), "service-desk"))
    db = legacy_db(env)
    truth = read_truth(db.with_name("gongan.truth.jsonl"))
    accepted_ids = {t["canonical_id"] for t in truth if t["outcome"] == "accepted"}

    def seeded_profiles() -> int | None:
        status, body = http_get(f"{web}/v1/citizens?limit=500", auth)
        count = len(body["items"]) if status == 200 else 0
        return count if count == len(accepted_ids) else None

    wait_for(seeded_profiles, 90, f"{len(accepted_ids)} seeded profiles in the API")

    rng = random.Random(7)
    number = valid_identity_number(rng)
    execute(db, "INSERT INTO hj_ryxx (RYBH, SFZH, XM, XB, CSRQ, HJDZ, XZQH, GXSJ) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            "R9000001", number, "林 小 雨", "2", f"{number[6:10]}年{int(number[10:12])}月"
            f"{int(number[12:14])}日", "浙江省杭州市西湖区文三路1号", "330106", now_text())
    profile = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(
        http_get(f"{web}/v1/citizens/{number}", auth)), 30, "the inserted citizen")
    assert profile["name"] == "林小雨"
    assert profile["sex_code"] == "2"
    assert profile["birth_date"] == f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    assert profile["source"] == profile["source"] | {"department": "gongan", "table": "hj_ryxx",
                                                     "record_key": "R9000001", "op": "c"}

    execute(db, "UPDATE hj_ryxx SET XM = ?, GXSJ = ? WHERE RYBH = ?", "林晓雨", now_text(),
            "R9000001")
    updated = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["name"] == "林晓雨"
                                else None)(http_get(f"{web}/v1/citizens/{number}", auth)),
                       30, "the updated name")
    assert updated["version"] == 2
    assert updated["source"]["op"] == "u"

    bad = number[:17] + ("0" if number[17] != "0" else "1")
    execute(db, "INSERT INTO hj_ryxx (RYBH, SFZH, XM, XB, CSRQ, GXSJ) VALUES (?, ?, ?, ?, ?, ?)",
            "R9000002", bad, "错号码", "1", "19900307", now_text())

    def quarantined() -> list[dict[str, object]] | None:
        contents = read_topic(env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"],
                              "quarantine.gongan.hj_ryxx", decode_keys=False)
        found = [r for r in contents.records if r and r["record_key"] == "R9000002"]
        return found or None

    [record] = wait_for(quarantined, 30, "the bad row in quarantine")
    assert record["rule_id"] == "id.checksum"
    assert record["field"] == "SFZH"
    assert record["original"]["SFZH"] == bad
    assert "校验码" in str(record["message_zh"])
    status, problem = http_get(f"{web}/v1/citizens/{bad}", auth)
    assert status == 400 and problem["type"] == "/problems/invalid-identity-number"

    # Nothing lost: every raw change (tombstones are not changes) became exactly one canonical
    # or quarantine event.
    bootstrap, registry = env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"]
    raw = read_topic(bootstrap, registry, "legacy.gongan.hj_ryxx")
    persons = read_topic(bootstrap, registry, "std.person")
    rejected = read_topic(bootstrap, registry, "quarantine.gongan.hj_ryxx", decode_keys=False)
    assert len(raw) == 60 + 3
    assert len(persons) + len(rejected) == sum(r is not None for r in raw.records)
    assert len(rejected) == sum(t["outcome"] == "quarantined" for t in truth) + 1


def test_reads_are_masked_without_a_purpose_audited_on_kafka_and_shown_to_the_citizen(
    running_bus: dict[str, str], tmp_path: Path,
) -> None:
    env = running_bus
    web = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
    state = Path(env["BUS_STATE_DIR"])
    analyst = add_client(state, "analyst", projections=("citizen_profile",),
                         classifications=("internal", "personal", "sensitive_personal"))
    truth = read_truth(legacy_db(env).with_name("gongan.truth.jsonl"))
    number = next(str(t["canonical_id"]) for t in truth if t["outcome"] == "accepted")

    full = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(
        http_get(f"{web}/v1/citizens/{number}", headers(analyst))), 90, "the citizen")
    assert full["identity_number"] == number and "birth_date" in full
    status, masked = http_get(f"{web}/v1/citizens/{number}", headers(analyst, purpose=None))
    assert status == 200
    assert masked["identity_number"] == number[:6] + "********" + number[-4:]
    assert masked["name"] == full["name"][0] + "*" * (len(full["name"]) - 1)
    assert "birth_date" not in masked and "household_address" not in masked
    status, problem = http_get(f"{web}/v1/citizens/{number}", headers(analyst, purpose="marketing"))
    assert status == 403 and problem["type"] == "/problems/purpose-not-granted"
    assert number not in str(problem)
    status, problem = http_get(f"{web}/v1/citizens/{number}")
    assert status == 401 and problem["type"] == "/problems/unauthenticated"

    citizen = {"Authorization": "Bearer " + mint(env["BUS_JWT_SECRET"], f"citizen:{number}")}

    def my_log() -> list[dict[str, object]] | None:
        status, body = http_get(f"{web}/v1/me/access-log", citizen)
        items = body["items"] if status == 200 else []
        # The masked read came last; the lookups that waited for the profile (404s are audited
        # too) may come before it, all with the service-desk purpose.
        return items if any(i["client"] == "analyst" and i["purpose"] is None
                            for i in items) else None

    items = wait_for(my_log, 30, "the analyst's reads in the citizen's access log")
    purposes = {i["purpose"] for i in items if i["client"] == "analyst"}
    assert purposes == {"service-desk", None}
    assert any("identity_number" in i["fields"] for i in items)
    status, _ = http_get(f"{web}/v1/citizens/{number}", citizen)
    assert status == 403, "a citizen's token opens only /v1/me"

    verified = subprocess.run([sys.executable, "-m", "bus", "audit", "verify", "--json"],
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["records"] >= 3


def test_an_application_publishes_a_person_and_reads_it_back_with_min_position(
    running_bus: dict[str, str],
) -> None:
    env = running_bus
    web = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
    state = Path(env["BUS_STATE_DIR"])
    registrar = add_client(state, "registrar", publishes=("person",))
    number = valid_identity_number(random.Random(99))
    body = {"identity_number": number, "name": "周新", "sex_code": "1",
            "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
            "division_code": "330106", "household_address": "浙江省杭州市西湖区文三路2号"}

    async def publish() -> tuple[int, Any]:
        try:
            async with aiohttp.ClientSession(headers=headers(registrar, None)) as session, \
                    session.post(f"{web}/v1/events/rongtong.std.person.upserted",
                                 json=body) as response:
                return response.status, await response.json()
        except aiohttp.ClientError:
            return 0, None  # the service is still starting

    status, answer = wait_for(lambda: (lambda r: r if r[0] == 202 else None)(asyncio.run(publish())),
                              60, "the event published")
    position = answer["position"]
    status, profile = http_get(f"{web}/v1/citizens/{number}?min_position={position}",
                               headers(registrar))
    assert status == 200, profile
    assert profile["name"] == "周新" and profile["source"]["department"] == "registrar"
