"""``bus projections rebuild`` beside a running worker: equal at the same positions, readers
switched atomically, and the worker adopts the new store without losing an event."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bus.settings import Settings
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.profiles.location import live_store
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, wait_for
from tests.integration.test_citizen_profile import couple, events, person, publish

pytestmark = pytest.mark.integration


def test_a_rebuild_equals_the_live_store_and_takes_over(stack: Settings, tmp_path: Path) -> None:
    WANG, LI = couple(11)
    EVENTS = events(WANG, LI)
    env = bus_environment(stack, tmp_path / "state")
    default = tmp_path / "state" / "projections" / "citizen_profile.sqlite"
    queries = CitizenProfileQueries(default)
    asyncio.run(publish(stack, EVENTS))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: (p := queries.get(WANG)) and p.get("marriages") and p, 90, "the profiles")
        done = subprocess.run([sys.executable, "-m", "bus", "projections", "rebuild",
                               "citizen_profile", "--json"], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["equal"] is True and report["switched"] is True
        assert report["events"] >= len(EVENTS)  # (and std.link_decision's, which it also reads)
        assert live_store(default).name == Path(report["store"]).name != default.name

        # The worker follows: a new change lands in the new store the readers now use.
        asyncio.run(publish(stack, [("std.person", "person", person(WANG, "王晓明", minute=30))]))
        renamed = wait_for(lambda: (p := queries.get(WANG)) and p["name"] == "王晓明" and p, 60,
                           "the change after the switch")
    finally:
        worker.stop()
    assert renamed["marriages"][0]["spouse_identity_number"] == LI
    assert "adopting the rebuilt store" in worker.log()

    unknown = subprocess.run([sys.executable, "-m", "bus", "projections", "rebuild", "nope"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "no projection 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_lost_store_is_filled_again_from_the_log(stack: Settings, tmp_path: Path) -> None:
    """Positions live in the store: a worker whose consumer group is at the end of the log but
    whose store is gone (deleted, or set aside for an older layout) reads the log again."""
    WANG, LI = couple(12)
    EVENTS = events(WANG, LI)
    env = bus_environment(stack, tmp_path / "state")
    default = tmp_path / "state" / "projections" / "citizen_profile.sqlite"
    queries = CitizenProfileQueries(default)
    asyncio.run(publish(stack, EVENTS))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    try:
        wait_for(lambda: (p := queries.get(WANG)) and p.get("marriages") and p, 90, "the profiles")
        worker.stop()  # a clean stop: the group's offsets are committed at the end
        for path in default.parent.glob("citizen_profile.sqlite*"):
            path.unlink()
        assert queries.get(WANG) is None
        worker.start()
        asyncio.run(publish(stack, [("std.person", "person", person(LI, "李莉", minute=40))]))
        wait_for(lambda: (p := queries.get(LI)) and p["name"] == "李莉" and p, 90, "the new change")
        wang = wait_for(lambda: (p := queries.get(WANG)) and p.get("marriages") and p, 90,
                        "the history before it")
    finally:
        worker.stop()
    assert wang["marriages"][0]["spouse_identity_number"] == LI
