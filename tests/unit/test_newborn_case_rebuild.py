"""What ``bus projections rebuild newborn_case`` relies on in the case store: a checksum that is
the same for the same log read in another interleaving of the input topics (not the version
count) but tells different cases or commands apart, and the hand-over from the live store (its
published messages are not sent again, version numbers continue above its own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiokafka import TopicPartition

from projections.newborn_case.rebuild import rebuild
from projections.newborn_case.store import CaseStore
from projections.profiles.pg import PostgresSchema
from projections.profiles.store import InputPosition
from projections.rebuilding import LogReader, RebuildUnsupported
from tests.unit.test_newborn_case_store import (
    APPLICATION,
    CERTIFICATE,
    CERTIFICATE_NO,
    KEYS,
    PARENTS,
    REGISTERED,
    insurance,
)

# One log: each topic's events in their own (partition) order, at fixed offsets and Kafka times.
# The live worker reads the four topics concurrently, so the same log may be applied in several
# interleavings; only the order within a topic is given.
LOG: dict[str, tuple[str, int, int, dict[str, Any]]] = {
    "mother": ("std.person", 0, 1_000, PARENTS[0][1]),
    "father": ("std.person", 1, 1_001, PARENTS[1][1]),
    "certificate": ("std.birth_certificate", 0, 1_002, CERTIFICATE[1]),
    "application": ("std.service_case", 0, 1_003, APPLICATION[1]),
    "newborn": ("std.person", 2, 1_004, REGISTERED[1]),
    "insured": ("std.social_insurance", 0, 1_005, insurance()),
}
IN_TIME_ORDER = ["mother", "father", "certificate", "application", "newborn", "insured"]
# the certificate and application first: both departments are ordered, as in time order, but
# the household row and the enrolment arrive together in the end (one version fewer)
CERTIFICATE_FIRST = ["certificate", "application", "insured", "mother", "father", "newborn"]
# every department's row before the application: the case completes without ordering anyone
ROWS_FIRST = ["mother", "father", "newborn", "insured", "certificate", "application"]


def apply(store: CaseStore, names: list[str], log: dict[str, tuple[str, int, int, dict[str, Any]]]
          = LOG) -> None:
    for name in names:
        topic, offset, time_ms, value = log[name]
        store.apply(InputPosition(topic, 0, offset, time_ms), {KEYS[topic]: value[KEYS[topic]]}, value)


def built(tmp_path: Path, name: str, order: list[str],
          log: dict[str, tuple[str, int, int, dict[str, Any]]] = LOG) -> CaseStore:
    store = CaseStore(tmp_path / f"{name}.sqlite")
    apply(store, order, log)
    return store


def test_the_same_log_in_another_interleaving_has_the_same_checksum_but_not_the_same_versions(
        tmp_path: Path) -> None:
    timely, early = built(tmp_path, "timely", IN_TIME_ORDER), built(tmp_path, "early", CERTIFICATE_FIRST)

    assert [v.document["status"] for v in timely.versions(CERTIFICATE_NO)] == \
        ["born", "applied", "household_registered", "completed"]
    assert [v.document["status"] for v in early.versions(CERTIFICATE_NO)] == \
        ["born", "applied", "completed"]
    assert timely.checksum() == early.checksum()
    assert timely.case_digests() == early.case_digests()


def test_another_outcome_of_a_case_has_another_checksum(tmp_path: Path) -> None:
    ended = dict(LOG, insured=("std.social_insurance", 0, 1_005, insurance(status="terminated")))
    timely = built(tmp_path, "timely", IN_TIME_ORDER)
    terminated = built(tmp_path, "ended", IN_TIME_ORDER, ended)

    assert terminated.case(CERTIFICATE_NO).document["status"] == "household_registered"  # type: ignore[union-attr]
    assert timely.checksum() != terminated.checksum()


def test_a_case_that_issued_other_commands_has_another_checksum(tmp_path: Path) -> None:
    timely, rows_first = built(tmp_path, "timely", IN_TIME_ORDER), built(tmp_path, "rows", ROWS_FIRST)

    done = [s.case(CERTIFICATE_NO) for s in (timely, rows_first)]
    assert [c.document["status"] for c in done if c] == ["completed", "completed"]
    assert [c.command_id for c, _open in timely.commands(CERTIFICATE_NO)] == ["ZW-1-CB1", "ZW-1-HJ1"]
    assert rows_first.commands(CERTIFICATE_NO) == []
    assert timely.checksum() != rows_first.checksum()


def test_a_fact_held_for_no_case_yet_counts_in_the_checksum(tmp_path: Path) -> None:
    parents, fewer = built(tmp_path, "parents", ["mother", "father"]), built(tmp_path, "mother", ["mother"])

    assert parents.case_digests() == fewer.case_digests() == {}
    assert parents.checksum() != fewer.checksum()


def test_the_rebuilt_store_takes_over_without_sending_again_what_the_live_one_published(
        tmp_path: Path) -> None:
    live = built(tmp_path, "live", IN_TIME_ORDER[:5])  # born, applied, household_registered
    assert [json.loads(body)["version"] for _id, _key, body in live.pending()] == [1, 2, 3]
    rebuilt = built(tmp_path, "rebuilt", ["certificate", "application", "mother", "father"])
    assert rebuilt.pending() and rebuilt.pending_commands()

    assert rebuilt.take_over_from(live) > 0
    assert rebuilt.pending() == [] and rebuilt.pending_commands() == []
    assert rebuilt.covers(live)

    apply(rebuilt, ["newborn"])  # the gap an adopting worker fills: the live store published it
    assert rebuilt.pending() == []
    apply(rebuilt, ["insured"])  # after the live store's positions: the new store publishes it
    (_id, key, body), = rebuilt.pending()
    document = json.loads(body)
    assert (key, document["status"]) == (CERTIFICATE_NO, "completed")
    assert document["version"] > 3  # above every version the live store published
    assert rebuilt.case(CERTIFICATE_NO).version == document["version"]  # type: ignore[union-attr]
    assert rebuilt.pending_commands() == []  # the orders went out from the live store
    assert rebuilt.checksum() == built(tmp_path, "whole", IN_TIME_ORDER).checksum()

    apply(live, ["insured"])
    assert not rebuilt.covers(live)  # the live store moved on: a worker still writes to it


def test_a_store_of_the_earlier_layout_gets_the_outbox_cause_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "newborn_case.sqlite"
    old = sqlite3.connect(path)
    old.executescript("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
                      "body TEXT NOT NULL); INSERT INTO outbox (key, body) VALUES ('X', '{}');"
                      "CREATE TABLE command_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                      "command_id TEXT NOT NULL);")
    old.close()

    store = CaseStore(path)
    assert [row[1] for row in store.pending()] == ["X"]  # still sent
    apply(store, ["certificate"])
    assert len(store.pending()) == 2
    assert store.take_over_from(built(tmp_path, "live", ["certificate"])) == 1  # the new row only
    assert [row[1] for row in store.pending()] == ["X"]



class _Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int


class _Consumer:
    """An in-memory stand-in for the rebuild's consumer: each fetch gives at most ``cut``
    records of each partition asked for, as unevenly as Kafka may."""

    def __init__(self, log: dict[TopicPartition, list[int]], cut: dict[TopicPartition, int]) -> None:
        self.records = {tp: [_Record(tp.topic, tp.partition, o, t) for o, t in enumerate(times)]
                        for tp, times in log.items()}
        self.cut = cut
        self.positions = dict.fromkeys(log, 0)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[_Record]]:
        fetched = {}
        for tp in tps:
            start = self.positions[tp]
            fetched[tp] = self.records[tp][start:start + self.cut[tp]]
            self.positions[tp] += len(fetched[tp])
        return {tp: records for tp, records in fetched.items() if records}


async def test_the_rebuild_applies_the_topics_merged_in_kafka_time_order_however_fetches_are_cut() -> None:
    person, certificate = TopicPartition("std.person", 0), TopicPartition("std.birth_certificate", 0)
    log = {person: [1, 2, 5, 6, 9], certificate: [3, 4, 7, 8]}
    applied: list[int] = []

    async def apply(records: list[Any]) -> None:
        applied.extend(r.timestamp for r in records)

    for cut in ({person: 5, certificate: 1}, {person: 1, certificate: 4}, {person: 2, certificate: 3}):
        applied.clear()
        reader = LogReader(_Consumer(log, cut), ("std.person", "std.birth_certificate"),
                           apply, None)
        await reader.read_until({person: 3, certificate: 2}, 9)  # a live store's positions
        assert applied == [1, 2, 3, 4, 5]
        await reader.read_until({person: 5, certificate: 4}, 9)  # then on to the end
        assert applied == [1, 2, 3, 4, 5, 6, 7, 8, 9]
        assert reader.events == 9


async def test_a_rebuild_on_the_postgresql_read_store_is_refused_in_one_line() -> None:
    with pytest.raises(RebuildUnsupported, match="SQLite read store only"):
        await rebuild(default_path=PostgresSchema("postgresql://nowhere/rongtong", "newborn_case"),
                      bootstrap="127.0.0.1:1", registry_url="http://127.0.0.1:1")
