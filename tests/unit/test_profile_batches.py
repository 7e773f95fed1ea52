"""Batches of events in one store transaction write the history one-by-one application writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from projections.citizen_profile.extract import authority, citizen_projection, from_event
from projections.profiles.location import LiveLocation, switch_to
from projections.profiles.model import Contribution, Provenance
from projections.profiles.store import Change, InputPosition, ProfileStore
from projections.profiles.worker import project_messages
from tests.unit.test_profiles import LI, T0, WANG, ZHAO, insured, marriage, person


def events() -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """Several events about the same subjects, a tombstone and a record that moves."""
    return [
        ("std.person", {"identity_number": WANG}, person()),
        ("std.social_insurance", {"insurance_number": f"S{WANG[-6:]}"}, insured(name="王晓明")),
        ("std.person", {"identity_number": WANG}, person(name="王小名", minute=9)),
        ("std.marriage", {"registration_number": "M1"}, marriage(WANG, ZHAO)),
        ("std.marriage", {"registration_number": "M1"}, marriage(WANG, LI)),
        ("std.person", {"identity_number": LI}, person(LI, "李丽")),
        ("std.person", {"identity_number": LI}, None),
        ("std.person", {"identity_number": LI}, person(LI, "李丽", minute=3)),
        ("std.social_insurance", {"insurance_number": f"S{WANG[-6:]}"}, insured(name="王小明", minute=8)),
    ]


def changes() -> list[Change]:
    offsets: dict[str, int] = {}
    result = []
    for n, (topic, key, event) in enumerate(events()):
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        at = InputPosition(topic, 0, offset, T0 + 1000 * n)
        result.append(Change(at, *from_event(at, key, event)))
    return result


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a store holds that a batch could change (outbox ids included)."""
    db = sqlite3.connect(path)
    try:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
                for table in ("contribution", "profile", "profile_version", "conflict", "outbox",
                              "projection_position")}
    finally:
        db.close()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[ProfileStore, ProfileStore]]:
    one, batched = (ProfileStore(tmp_path / f"{name}.sqlite", authority()) for name in ("one", "batch"))
    yield one, batched
    one.close()
    batched.close()


def test_a_batch_writes_the_same_versions_outbox_and_checksum_as_one_by_one(
        stores: tuple[ProfileStore, ProfileStore]) -> None:
    one, batched = stores
    singles = [one.apply(c.at, c.source_key, c.contributions) for c in changes()]

    assert batched.apply_batch(changes()) == singles

    assert isinstance(one.path, Path) and isinstance(batched.path, Path)
    assert dump(batched.path) == dump(one.path)
    assert batched.checksum() == one.checksum()
    versions = [v[1] for v in dump(batched.path)["profile_version"] if v[0] == WANG]
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 4  # none merged
    assert batched.profile(WANG, as_of_ms=T0 + 1000) == one.profile(WANG, as_of_ms=T0 + 1000)


def test_a_batch_split_anywhere_gives_the_same_store(
        stores: tuple[ProfileStore, ProfileStore]) -> None:
    one, batched = stores
    all_changes = changes()
    batched.apply_batch(all_changes[:3])
    batched.apply_batch(all_changes[3:])
    one.apply_batch(all_changes)
    assert isinstance(one.path, Path) and isinstance(batched.path, Path)
    assert dump(batched.path) == dump(one.path)


def test_events_already_applied_are_skipped_inside_a_batch(
        stores: tuple[ProfileStore, ProfileStore]) -> None:
    _one, store = stores
    all_changes = changes()
    store.apply_batch(all_changes[:4])

    results = store.apply_batch(all_changes)

    assert results[:4] == [None] * 4
    assert all(r is not None for r in results[4:])
    assert store.apply_batch([all_changes[0], all_changes[0]]) == [None, None]
    assert store.next_offset("std.person", 0) == 5


def test_a_failing_event_leaves_nothing_of_its_batch(
        stores: tuple[ProfileStore, ProfileStore]) -> None:
    _one, store = stores
    good = changes()[:3]
    provenance = Provenance(0, "std.person", 0, 3, "gongan", "hj_ryxx", "R9", "evt-9")
    unstorable = Contribution(ZHAO, provenance, {"name": "赵刚"}, "x",
                              {"bad": object()})  # type: ignore[dict-item]
    bad = Change(InputPosition("std.person", 0, 3, T0), ZHAO, [unstorable])
    assert isinstance(store.path, Path)
    empty = dump(store.path)

    with pytest.raises(TypeError):
        store.apply_batch([*good, bad])

    assert dump(store.path) == empty
    assert store.next_offset("std.person", 0) == 0
    assert all(r is not None for r in store.apply_batch(good))


@dataclass(frozen=True)
class Message:
    """A consumed record as aiokafka gives it (timestamp in milliseconds)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: Any
    value: Any


class PlainSerde:
    """Decodes nothing: the messages carry decoded records already."""

    async def decode(self, data: Any) -> Any:
        return data


async def test_messages_apply_as_one_batch_and_redelivery_is_skipped(
        stores: tuple[ProfileStore, ProfileStore]) -> None:
    one, store = stores
    messages = [Message(c.at.topic, 0, c.at.offset, c.at.timestamp_ms, key, event)
                for c, (_topic, key, event) in zip(changes(), events(), strict=True)]
    for c in changes():
        one.apply(c.at, c.source_key, c.contributions)

    projection = citizen_projection()
    serde: Any = PlainSerde()
    assert await project_messages(projection, store, serde, messages[:5]) == 5
    assert await project_messages(projection, store, serde, messages) == len(messages) - 5
    assert await project_messages(projection, store, serde, messages) == 0

    assert isinstance(one.path, Path) and isinstance(store.path, Path)
    assert dump(store.path) == dump(one.path)


def test_the_live_location_follows_a_switch_and_reads_the_pointer_only_when_it_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = tmp_path / "citizen_profile.sqlite"
    location = LiveLocation(default)
    assert location.current() == default

    switch_to(default, tmp_path / "citizen_profile.1.sqlite")
    assert location.current() == tmp_path / "citizen_profile.1.sqlite"

    reads: list[Path] = []
    original = Path.read_text

    def counting(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    assert location.current() == tmp_path / "citizen_profile.1.sqlite"
    assert reads == []
    switch_to(default, tmp_path / "citizen_profile.2.sqlite")
    assert location.current() == tmp_path / "citizen_profile.2.sqlite"
    assert len(reads) == 1
