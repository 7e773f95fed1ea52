"""newborn_case and live resolution apply a batch of events in one transaction: the same rows as
one by one, nothing of a batch left after a failure inside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from projections.newborn_case.store import CaseStore
from projections.profiles.store import InputPosition
from projections.resolution.live import LiveResolver
from projections.resolution.store import ResolutionStore
from tests.unit.test_newborn_case_store import APPLICATION, CERTIFICATE, INSURED, KEYS, PARENTS, REGISTERED
from tests.unit.test_resolution_live import AT, P, Q, R


def dump(path: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    finally:
        db.close()


def newborn_events() -> list[tuple[InputPosition, dict[str, Any], dict[str, Any] | None]]:
    offsets: dict[str, int] = {}
    events = []
    for n, (topic, value) in enumerate([CERTIFICATE, *PARENTS, APPLICATION, REGISTERED, INSURED,
                                        (REGISTERED[0], None)]):
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        key = {KEYS[topic]: (value or REGISTERED[1])[KEYS[topic]]}
        events.append((InputPosition(topic, 0, offset, 1_000 + n), key, value))
    return events


CASE_TABLES = ("certificate", "application", "person", "insurance", "newborn_case", "case_version",
               "outbox", "projection_position")


def test_a_newborn_batch_writes_what_one_by_one_writes(tmp_path: Path) -> None:
    one, batched = CaseStore(tmp_path / "one.sqlite"), CaseStore(tmp_path / "batch.sqlite")
    try:
        singles = [one.apply(*event) for event in newborn_events()]
        assert batched.apply_batch(newborn_events()) == singles
        assert batched.apply_batch(newborn_events()) == [None] * len(singles)
    finally:
        one.close()
        batched.close()
    assert dump(tmp_path / "batch.sqlite", CASE_TABLES) == dump(tmp_path / "one.sqlite", CASE_TABLES)
    assert any(dump(tmp_path / "one.sqlite", ("case_version",))["case_version"])


def test_a_failing_newborn_event_leaves_nothing_of_its_batch(tmp_path: Path) -> None:
    store = CaseStore(tmp_path / "case.sqlite")
    events = newborn_events()
    broken = (InputPosition("std.unknown", 0, 0, 9), {}, {})
    try:
        with pytest.raises(ValueError):
            store.apply_batch([*events[:3], broken])
        assert store.next_offset("std.birth_certificate", 0) == 0
        assert all(result is not None for result in store.apply_batch(events[:3]))
    finally:
        store.close()
    rows = dump(tmp_path / "case.sqlite", ("certificate", "projection_position"))
    assert len(rows["certificate"]) == 1  # from the second, successful batch only


RESOLUTION_TABLES = ("record", "block", "pair", "decision", "outbox", "projection_position")


def feed_resolution(resolver: LiveResolver) -> None:
    for offset, record in enumerate([P, Q, R]):
        at = InputPosition("std.person", 0, offset, int(AT.timestamp() * 1000) + (offset + 1) * 60_000)
        resolver.on_records(at, record.ref.key, [record])


def test_resolution_events_inside_one_transaction_write_what_one_by_one_writes(tmp_path: Path) -> None:
    one, batched = ResolutionStore(tmp_path / "one.sqlite"), ResolutionStore(tmp_path / "batch.sqlite")
    try:
        feed_resolution(LiveResolver(one))
        with batched.transaction():
            feed_resolution(LiveResolver(batched))
    finally:
        one.close()
        batched.close()
    rows = dump(tmp_path / "one.sqlite", RESOLUTION_TABLES)
    assert dump(tmp_path / "batch.sqlite", RESOLUTION_TABLES) == rows
    assert rows["decision"] and rows["outbox"]  # decisions were taken, not just records kept


def test_a_failure_inside_a_resolution_batch_rolls_all_of_it_back(tmp_path: Path) -> None:
    store = ResolutionStore(tmp_path / "resolution.sqlite")
    try:
        with pytest.raises(RuntimeError), store.transaction():
            feed_resolution(LiveResolver(store))
            raise RuntimeError("crash mid-batch")
        assert store.next_offset("std.person", 0) == 0
        assert store.record_count() == 0
        feed_resolution(LiveResolver(store))  # the connection is usable again
        assert store.next_offset("std.person", 0) == 3
    finally:
        store.close()
