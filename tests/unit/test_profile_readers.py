"""Reused read connections follow the live store: a rebuild's switch, a set-aside file."""

from __future__ import annotations

from pathlib import Path

from projections.citizen_profile.extract import authority, from_event
from projections.profiles.location import switch_to
from projections.profiles.readers import Readers
from projections.profiles.store import InputPosition, ProfileStore
from tests.unit.test_web_api import VALID_ID, person


def write(path: Path, name: str) -> None:
    store = ProfileStore(path, authority())
    try:
        at = InputPosition("std.person", 0, store.next_offset("std.person", 0))
        store.apply(at, *from_event(at, {"identity_number": VALID_ID}, {**person(VALID_ID), "name": name}))
    finally:
        store.close()


def name_in(readers: Readers) -> str | None:
    with readers.connection() as db:
        if db is None:
            return None
        row = db.execute("SELECT document FROM profile").fetchone()
        return None if row is None else str(row[0]).split('"name":{')[1].split('"value":"')[1].split('"')[0]


def test_connections_are_reused_and_follow_a_switch_and_a_replaced_file(tmp_path: Path) -> None:
    live = tmp_path / "citizen_profile.sqlite"
    readers = Readers(live)
    assert name_in(readers) is None, "no store yet"
    write(live, "王小明")
    with readers.connection() as first:
        pass
    with readers.connection() as again:
        assert again is first, "an idle connection is handed out again"
    assert name_in(readers) == "王小明"

    rebuilt = tmp_path / "citizen_profile.rebuilt.sqlite"
    write(rebuilt, "王晓明")
    switch_to(live, rebuilt)
    assert name_in(readers) == "王晓明", "readers follow the rebuild's switch"

    switch_to(live, live)
    live.rename(tmp_path / "citizen_profile.sqlite.format2")
    write(live, "王大明")
    assert name_in(readers) == "王大明", "a file replaced at the same path is a new store"
    readers.close()
