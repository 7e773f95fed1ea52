"""The live-store pointer and the store's file layout version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from projections.profiles.location import live_store, pointer_of, switch_to
from projections.profiles.store import FORMAT, InputPosition, ProfileStore


def test_the_default_store_is_live_until_a_switch(tmp_path: Path) -> None:
    default = tmp_path / "citizen_profile.sqlite"
    assert live_store(default) == default
    switch_to(default, tmp_path / "citizen_profile.20260101.sqlite")
    assert live_store(default) == tmp_path / "citizen_profile.20260101.sqlite"
    assert pointer_of(default).read_text().strip() == "citizen_profile.20260101.sqlite"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_switch_outside_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError):
        switch_to(tmp_path / "a.sqlite", tmp_path / "other" / "b.sqlite")


def test_a_store_of_an_older_layout_is_set_aside_and_started_anew(tmp_path: Path) -> None:
    path = tmp_path / "citizen_profile.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE projection_position (topic TEXT, partition INT, next_offset INT, "
                "updated_at TEXT NOT NULL)")
    old.execute("INSERT INTO projection_position VALUES ('std.person', 0, 9, 'x')")
    old.commit()
    old.close()

    store = ProfileStore(path, {})
    try:
        assert store.next_offset("std.person", 0) == 0  # rebuilt from the log, not trusted
        assert store.apply(InputPosition("std.person", 0, 0), "k", []) == []
    finally:
        store.close()
    assert (tmp_path / "citizen_profile.sqlite.format0").exists()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == FORMAT
    check.close()
