"""SIGKILL the capture (and the projection) again and again during a large Public Security load.

The household register is seeded with ``BUS_E2E_LOAD_ROWS`` persons (default 6,000) and
``bus adapters run`` / ``bus projections run`` run as real processes. While they work through
the load each is SIGKILLed three times (once more per 25,000 rows), mid-work, at moments drawn
from a seeded RNG (``BUS_E2E_KILL_SEED``), and restarted at once. The capture reads at most
a fifteenth of the load a second (``max_rows_per_second``, at least 400), so its work outlasts
its kills. Then, against the seed's ground truth:

- the raw topic holds every legacy row exactly once;
- ``std.person`` holds exactly one event per accepted row (keyed by its identity number) and the
  quarantine topic one per refused row, with the truth's rule;
- ``citizen_profile`` holds exactly the accepted identity numbers, each profile has one version
  per accepted row carrying its number, and no input event made two versions.

Why 6,000 by default: the projection must take in the whole load before its content can be
checked, and the suite's budget leaves about two minutes for this test. Measured locally (two
shared cores): 6,000 rows take 105–115 s in all, fixtures included; 10,000 rows took 68–146 s
(capture and standardize 40–55 s, the projection caught up at 47–108 s).
``BUS_E2E_LOAD_ROWS=100000`` passed in 1,205 s: seeding 9 s, capture and standardize 224 s
through seven SIGKILLs of the capture, the projection caught up 1,082 s after the start (its
``std.person`` agent goes no faster than live entity resolution's, ~120 events/s, which reads
the same topic in the same worker), the checks 95 s.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from bus.demo.seed import seed_gongan
from bus.demo.truth import read_truth
from projections.citizen_profile.queries import CitizenProfileQueries
from tests.e2e.crashes import (
    DEFAULT_KILL_SEED,
    Work,
    committed_counts,
    diff_counters,
    kill_repeatedly,
    logs_on_failure,
    running,
    store_counts,
    version_history,
)
from tests.e2e.harness import BusProcess, read_topic, wait_for

RAW, STD, QUARANTINE = "legacy.gongan.hj_ryxx", "std.person", "quarantine.gongan.hj_ryxx"
LINK_DECISIONS = "std.link_decision"


def load_rows() -> int:
    return int(os.environ.get("BUS_E2E_LOAD_ROWS", "6000"))


def kill_seed() -> int:
    return int(os.environ.get("BUS_E2E_KILL_SEED", str(DEFAULT_KILL_SEED)))


pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300 + load_rows() // 40)]


def test_repeated_sigkills_during_a_large_load_end_with_exactly_the_legacy_truth(
    bus_env: dict[str, str], tmp_path: Path,
) -> None:
    rows = load_rows()
    timings: dict[str, float] = {}
    started = time.monotonic()
    # Paced, so the load outlasts the kills: unpaced, a restarted capture took its remaining
    # rows in a second or two, before the killer saw it working again.
    env = dict(bus_env, BUS_CAPTURE_BATCH_SIZE="250",
               BUS_CAPTURE_MAX_ROWS_PER_SECOND=str(max(400, rows // 15)))
    state = Path(env["BUS_STATE_DIR"])
    report = seed_gongan(state / "legacy" / "gongan.sqlite", persons=rows)
    truth = read_truth(report.ground_truth_path)
    accepted = Counter(str(t["canonical_id"]) for t in truth if t["outcome"] == "accepted")
    refused = Counter((str(t["RYBH"]), str(t["reason"])) for t in truth if t["outcome"] == "quarantined")
    timings["seed"] = time.monotonic() - started
    bootstrap, registry = env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"]
    store = state / "projections" / "citizen_profile.sqlite"

    def standardized() -> int:
        counts = committed_counts(bootstrap, [STD, QUARANTINE])
        return counts[STD][0] + counts[QUARANTINE][0]

    expected_versions = sum(accepted.values())

    def caught_up() -> bool:
        profiles, _ = store_counts(store)
        versions = version_history(store).counts(excluding_topics=[LINK_DECISIONS])
        return profiles >= len(accepted) and sum(versions.values()) >= expected_versions
    adapters = BusProcess("adapters", ["adapters", "run"], env, tmp_path / "logs")
    projection = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs")
    with logs_on_failure(adapters, projection):
        adapters.start()
        projection.start()
        try:
            load_started = time.monotonic()
            kills = kill_repeatedly(
                [Work(adapters, standardized, rows),
                 Work(projection, lambda: store_counts(store)[1], expected_versions)],
                kills_each=3 + rows // 25_000, rng=random.Random(kill_seed()),
                # short pauses: a restarted capture is ready for its next kill within seconds,
                # and it finishes its rows soon after
                pause=(0.3, 1.0 + rows / 20_000))
            wait_for(lambda: running(adapters, projection) and standardized() >= rows,
                     60 + rows / 100, f"{rows} raw rows standardized")
            timings["capture+standardize"] = time.monotonic() - load_started
            wait_for(lambda: running(adapters, projection) and caught_up(), 120 + rows / 80,
                     f"{len(accepted)} profiles holding {expected_versions} versions")
            timings["projection caught up"] = time.monotonic() - load_started
        finally:
            adapters.stop()
            projection.stop()

        print(f"\n{rows} rows, kill seed {kill_seed()}: kills {', '.join(map(str, kills))}; "
              f"timings {({k: round(v, 1) for k, v in timings.items()})}")
        assert Counter(k.victim for k in kills)["adapters"] >= 2, \
            f"the capture must be killed at least twice during the load: {kills}"

        raw = read_topic(bootstrap, registry, RAW)
        assert len(raw) == rows, f"raw rows: {len(raw)}, legacy rows: {rows}"
        legacy_rows = Counter(str(t["RYBH"]) for t in truth)
        raw_keys = Counter(str(k["RYBH"]) for k in raw.keys)
        assert raw_keys == legacy_rows, f"each row exactly once: {diff_counters(legacy_rows, raw_keys)}"

        persons = read_topic(bootstrap, registry, STD)
        person_keys = Counter(str(k["identity_number"]) for k in persons.keys)
        assert person_keys == accepted, f"std.person: {diff_counters(accepted, person_keys)}"
        quarantined = read_topic(bootstrap, registry, QUARANTINE, decode_keys=False)
        rejected = Counter((str(r["record_key"]), str(r["rule_id"])) for r in quarantined.records if r)
        assert rejected == refused, f"quarantine against the truth: {diff_counters(refused, rejected)}"

        history = version_history(store)
        assert not history.applied_twice(), f"an event applied twice: {history.applied_twice()}"
        assert not history.out_of_order(), f"an old event applied again: {history.out_of_order()}"
        assert not history.gaps(), f"versions not 1..N: {dict(list(history.gaps().items())[:10])}"
        assert set(history.current) == set(accepted)
        # Each accepted row makes one version of its profile; links that entity resolution
        # decides for quarantined rows add versions of their own (checked above for doubles).
        versions = history.counts(excluding_topics=[LINK_DECISIONS])
        assert versions == accepted, f"versions per profile: {diff_counters(accepted, versions)}"
        page = CitizenProfileQueries(store).page(limit=rows)
        assert {p["identity_number"]: p["version"] for p in page.items} == history.current
        print(f"checks done after {time.monotonic() - started:.0f}s")
