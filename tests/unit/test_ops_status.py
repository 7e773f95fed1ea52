"""Rebuild progress from the read-store directory, and ``bus status``'s tables."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from rich.console import Console

from bus.cli_status import print_figures
from bus.web.ops.collector import Collector, KafkaSampler
from bus.web.ops.rebuilds import ACTIVE_SECONDS, progress_of, rebuild_reader, store_positions
from bus.web.ops.samples import GroupSample, PartitionOffsets, Sample
from bus.web.ops.views import projection_rows

LIVE = [{"topic": "std.person", "partition": 0, "next_offset": 80}]


def store(path: Path, next_offset: int) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE projection_position (topic TEXT, partition INTEGER, next_offset INTEGER)")
        db.execute("INSERT INTO projection_position VALUES ('std.person', 0, ?)", (next_offset,))
    return path


def test_a_recent_store_beside_the_live_one_is_a_rebuild_in_progress(tmp_path: Path) -> None:
    default = tmp_path / "citizen_profile.sqlite"
    live = store(tmp_path / "citizen_profile.20260101T000000.sqlite", 80)
    (tmp_path / "citizen_profile.current").write_text(live.name + "\n", encoding="utf-8")
    store(tmp_path / "citizen_profile.20260102T000000.sqlite", 25)
    abandoned = store(tmp_path / "citizen_profile.20251231T000000.sqlite", 5)
    old = time.time() - ACTIVE_SECONDS - 10
    os.utime(abandoned, (old, old))
    store(tmp_path / "enterprise_profile.20260102T000000.sqlite", 1)
    [rebuild] = rebuild_reader("citizen_profile", default)()
    assert rebuild == {"store": "citizen_profile.20260102T000000.sqlite",
                       "positions": [{"topic": "std.person", "partition": 0, "next_offset": 25}]}
    latest = Sample(1.0, {"std.person": {0: PartitionOffsets(0, 100)}})
    assert progress_of(rebuild, LIVE, latest) == {
        "store": rebuild["store"], "events": 25, "total": 100, "progress": 0.25}


def test_a_stores_positions_are_read_from_the_live_store_the_pointer_names(tmp_path: Path) -> None:
    default = tmp_path / "newborn_case.sqlite"
    assert store_positions(default)() == []  # no store yet
    store(default, 3)
    assert store_positions(default)() == [{"topic": "std.person", "partition": 0, "next_offset": 3}]
    rebuilt = store(tmp_path / "newborn_case.20260102T000000.sqlite", 9)
    (tmp_path / "newborn_case.current").write_text(rebuilt.name + "\n", encoding="utf-8")
    assert store_positions(default)()[0]["next_offset"] == 9


def test_no_directory_no_rebuilds(tmp_path: Path) -> None:
    assert rebuild_reader("citizen_profile", tmp_path / "nowhere" / "citizen_profile.sqlite")() == []


def test_bus_status_prints_topics_groups_adapters_and_projections() -> None:
    collector = Collector(KafkaSampler("127.0.0.1:9"))
    for at, end in ((1000.0, 100), (1001.0, 130)):
        collector.history.add(Sample(at, {"std.person": {0: PartitionOffsets(0, end)}}, {
            "rongtong-projections": GroupSample("rongtong-projections", {("std.person", 0): 90},
                                                "Stable", 1)}, {"std.person": end * 1024}))
    collector.adapters = [{"department": "gongan", "table": "hj_ryxx", "engine": "sqlite",
                           "strategy": "incremental", "state": "streaming", "rows": 130,
                           "rows_per_second": 30.0, "quarantined": 2, "errors": 0, "retries": 0,
                           "source_reachable": True, "position": "2024-05-06"}]
    collector.positions = {"citizen_profile": LIVE}
    console = Console(record=True, width=200)
    print_figures(console, collector, limit=5, projection_groups=["rongtong-projections"])
    text = console.export_text()
    assert "std.person" in text and "30.0" in text and "130.0 KiB" in text  # msg/s and size
    assert "rongtong-projections" in text and "40" in text  # lag 130 - 90
    assert "gongan.hj_ryxx" in text and "streaming" in text and "up" in text
    [row] = projection_rows(collector.history, collector.positions)
    assert row["lag"] == 50 and "citizen_profile" in text
