"""SIGKILL the capture and the projection again and again: nothing lost, nothing doubled."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from bus.demo.seed import seed_gongan
from bus.demo.truth import read_truth
from projections.citizen_profile.queries import CitizenProfileQueries
from tests.e2e.harness import BusProcess, read_topic, wait_for

pytestmark = pytest.mark.e2e

PERSONS = 3000


def test_repeated_sigkills_end_with_exactly_the_expected_profiles(
    bus_env: dict[str, str], tmp_path: Path,
) -> None:
    env = dict(bus_env, BUS_CAPTURE_BATCH_SIZE="40")
    state = Path(env["BUS_STATE_DIR"])
    report = seed_gongan(state / "legacy" / "gongan.sqlite", persons=PERSONS)
    truth = read_truth(report.ground_truth_path)
    accepted = Counter(str(t["canonical_id"]) for t in truth if t["outcome"] == "accepted")
    quarantined = sum(t["outcome"] == "quarantined" for t in truth)
    queries = CitizenProfileQueries(state / "projections" / "citizen_profile.sqlite")

    adapters = BusProcess("adapters", ["adapters", "run"], env, tmp_path / "logs")
    projection = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs")
    rng = random.Random(20261127)
    adapters.start()
    projection.start()
    try:
        for _ in range(4):
            time.sleep(rng.uniform(2.0, 4.0))
            victim = rng.choice([adapters, projection])
            victim.kill()
            time.sleep(rng.uniform(0.1, 1.0))
            victim.start()
        wait_for(lambda: queries.count() == len(accepted) or None, 180,
                 f"{len(accepted)} profiles after the crashes")
        time.sleep(3)  # a late duplicate would show up in the checks below
    finally:
        adapters.stop()
        projection.stop()

    assert adapters.starts + projection.starts >= 6
    bootstrap, registry = env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"]
    raw = read_topic(bootstrap, registry, "legacy.gongan.hj_ryxx")
    assert len(raw) == PERSONS, "each legacy row published exactly once"
    assert max(raw.key_counts().values()) == 1
    persons = read_topic(bootstrap, registry, "std.person")
    rejected = read_topic(bootstrap, registry, "quarantine.gongan.hj_ryxx", decode_keys=False)
    assert len(persons) == sum(accepted.values())
    assert len(rejected) == quarantined

    page = queries.page(limit=PERSONS)
    assert {p["identity_number"] for p in page.items} == set(accepted)
    # Each profile's version counts the events applied to it: a redelivered event applied
    # twice would push it past the number of accepted rows carrying that identity number.
    assert {p["identity_number"]: p["version"] for p in page.items} == dict(accepted)
