"""``bus projections rebuild newborn_case`` beside a running ``bus projections run``: the rebuilt
case store equals the live one by checksum, readers switch, the worker carries the case on in the
new store, and neither a case version nor an order to a department is sent twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bus.settings import Settings
from projections.newborn_case.store import StoredCase
from projections.profiles.location import live_store
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, read_topic, wait_for
from tests.integration.test_newborn_case import (
    application,
    case_of,
    certificate,
    insurance,
    person,
    publish,
)

pytestmark = pytest.mark.integration

HOME, BORN = "杭州市西湖区玉古路6号", date(2025, 3, 4)
MOTHER, FATHER, NEWBORN = "330106199305120021", "330106199107080014", "330106202503040025"
NUMBER, CASE = "NBR0000001", "ZW-NB-R"
BIRTH = [person(MOTHER, "吴芳", "2", date(1993, 5, 12), HOME),
         person(FATHER, "郑伟", "1", date(1991, 7, 8), HOME),
         certificate(NUMBER, MOTHER, FATHER, "郑小雨", BORN)]
APPLIED = [application(CASE, NUMBER, MOTHER)]
REGISTERED = [person(NEWBORN, "郑小雨", "2", BORN, HOME)]
INSURED = [insurance("NB-S-R", NEWBORN, "郑小雨", BORN)]


def rebuild(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bus", "projections", "rebuild", "newborn_case",
                           "--json"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def in_status(default: Path, status: str) -> StoredCase | None:
    case = case_of(live_store(default), NUMBER)
    return case if case is not None and case.document["status"] == status else None


def orders(stack: Settings) -> Counter[str]:
    """How often each of this case's orders was published."""
    sent: Counter[str] = Counter()
    for topic, key_field in (("std.household_registration", "registration_id"),
                             ("std.insurance_enrolment", "enrolment_id")):
        contents = read_topic(stack.kafka_bootstrap, stack.registry_url, topic)
        sent.update(k[key_field] for k in contents.keys if k[key_field].startswith(CASE))
    return sent


def published_versions(stack: Settings) -> list[tuple[int, str]]:
    """(version, status) of every message of this case on projection.newborn_case, in order."""
    contents = read_topic(stack.kafka_bootstrap, stack.registry_url, "projection.newborn_case")
    return [(v["version"], v["status"]) for k, v in zip(contents.keys, contents.records, strict=True)
            if k["certificate_number"] == NUMBER and v is not None]


def test_a_rebuilt_case_store_equals_the_live_one_and_takes_over_sending_nothing_twice(
        stack: Settings, tmp_path: Path) -> None:
    env = bus_environment(stack, tmp_path / "state")
    default = tmp_path / "state" / "projections" / "newborn_case.sqlite"
    asyncio.run(publish(stack, BIRTH))
    # The topics are shared with the other tests of the session: a first rebuild (no live store
    # yet: nothing to compare) applies what they hold in time order, so the live worker starts
    # at the end of the log and applies this test's flow as it happens.
    first = rebuild(env)
    assert first["equal"] is None and first["switched"] is True
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: in_status(default, "born"), 90, "the born case")
        asyncio.run(publish(stack, APPLIED))
        wait_for(lambda: in_status(default, "applied"), 60, "the applied case")
        wait_for(lambda: len(orders(stack)) == 2, 60, "the orders to both departments")
        asyncio.run(publish(stack, REGISTERED))
        wait_for(lambda: in_status(default, "household_registered"), 60, "the registered household")

        report = rebuild(env)
        assert report["equal"] is True and report["switched"] is True, report
        assert report["live_checksum"] == report["rebuilt_checksum"]
        assert report["events"] >= len(BIRTH + APPLIED + REGISTERED)
        assert report["compared_at"]["std.service_case:0"] >= 1
        assert live_store(default).name == Path(report["store"]).name != Path(first["store"]).name

        # the worker carries the case on in the new store, which the readers now use
        asyncio.run(publish(stack, INSURED))
        completed = wait_for(lambda: in_status(default, "completed"), 60, "the completed case")
        wait_for(lambda: (4, "completed") in published_versions(stack), 60,
                 "the completed version on projection.newborn_case")
    finally:
        worker.stop()
    assert "adopting the rebuilt store" in worker.log()
    assert completed.document["newborn_identity_number"] == NEWBORN
    assert completed.document["insurance"]["insurance_number"] == "NB-S-R"

    # nothing the live store had published was sent again by the rebuilt one
    assert published_versions(stack) == [(1, "born"), (2, "applied"), (3, "household_registered"),
                                         (4, "completed")]
    assert orders(stack) == {f"{CASE}-HJ1": 1, f"{CASE}-CB1": 1}
