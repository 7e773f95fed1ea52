"""Two projection workers split the input partitions; when one is killed the other takes over,
and no event is applied twice (each profile's version count is exactly its changes)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from bus.kafka import TopicSpec, ensure_topics
from bus.settings import Settings
from projections.citizen_profile.queries import CitizenProfileQueries
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, wait_for
from tests.integration.test_citizen_profile import person, publish

pytestmark = pytest.mark.integration
NUMBERS = [f"11010519850101{n:03d}" for n in range(100, 140)]  # nobody else in the run


def valid(body: str) -> str:
    """``body`` (17 digits) with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def person_partitions(log: str) -> list[set[int]]:
    """The ``std.person`` partitions of each assignment a faust worker logged (``{0, 2}``,
    ``{0-3}``), in order."""
    found = []
    for listed in re.findall(r"\| std\.person\s+\| \{([0-9, -]+)\}", log):
        partitions: set[int] = set()
        for part in listed.split(","):
            low, _, high = part.strip().partition("-")
            partitions.update(range(int(low), int(high or low) + 1))
        found.append(partitions)
    return found


async def four_person_partitions(settings: Settings) -> None:
    await ensure_topics(settings.kafka_bootstrap, [TopicSpec.history("std.person", partitions=4)])
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(["std.person"])
        if len(described[0]["partitions"]) < 4:  # created earlier in the run with one
            await admin.create_partitions({"std.person": NewPartitions(4)})
    finally:
        await admin.close()


def test_two_workers_share_the_work_and_survive_a_kill(stack: Settings, tmp_path: Path) -> None:
    people = [valid(n[:17]) for n in NUMBERS]
    asyncio.run(four_person_partitions(stack))
    env = bus_environment(stack, tmp_path / "state")
    queries = CitizenProfileQueries(tmp_path / "state" / "projections" / "citizen_profile.sqlite")
    first = BusProcess("worker-1", ["projections", "run"], env, tmp_path / "logs").start()
    second = BusProcess("worker-2", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        # Both joined and split std.person's four partitions between them.
        wait_for(lambda: (a := person_partitions(first.log())) and (b := person_partitions(
            second.log())) and a[-1] and b[-1] and not a[-1] & b[-1], 120, "a split assignment")
        asyncio.run(publish(stack, [("std.person", "person", person(n, "甲")) for n in people[:20]]))
        wait_for(lambda: all(queries.get(n) for n in people[:20]), 120, "the first twenty profiles")
        first.kill()
        asyncio.run(publish(stack, [("std.person", "person", person(n, "乙", minute=5))
                                    for n in people]))
        # (The shared test stack's topics may hold other tests' events too.)
        wait_for(lambda: all((p := queries.get(n)) and p["name"] == "乙" for n in people), 120,
                 "every profile after the kill")
        assert second.alive()
    finally:
        first.stop()
        second.stop()
    # After the kill the survivor holds all four.
    assert person_partitions(second.log())[-1] == {0, 1, 2, 3}
    versions = {n: (queries.get(n) or {}).get("version") for n in people}
    assert versions == {n: 2 if i < 20 else 1 for i, n in enumerate(people)}
