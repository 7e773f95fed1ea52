"""Rebuilds in progress, seen from the read-store directory.

``bus projections rebuild NAME`` builds ``<name>.<stamp>.sqlite`` beside the live store and
stores its input positions as it goes; at the end it becomes the live store (or, with
``--no-switch``, stays aside). A store that is not the live one and was written within the
last :data:`ACTIVE_SECONDS` is a rebuild in progress; its positions against the log's end
offsets (of the live store's input partitions) are its progress.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bus.web.ops.samples import Sample
from projections.profiles.location import live_store

__all__ = ["ACTIVE_SECONDS", "RebuildReader", "progress_of", "rebuild_reader", "store_positions"]

ACTIVE_SECONDS = 60.0
RebuildReader = Callable[[], list[dict[str, Any]]]


def _written_at(path: Path) -> float:
    times = [p.stat().st_mtime for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return max(times, default=0.0)


def _positions(path: Path) -> list[dict[str, Any]]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT topic, partition, next_offset FROM projection_position").fetchall()
    except sqlite3.Error:
        return []  # no store, or no table yet
    return [{"topic": str(t), "partition": int(p), "next_offset": int(o)} for t, p, o in rows]


def store_positions(default: Path) -> RebuildReader:
    """The input positions of the live SQLite store of ``default`` (none before it exists)."""
    def read() -> list[dict[str, Any]]:
        live = live_store(default)
        return _positions(live) if live.exists() else []
    return read


def rebuild_reader(name: str, default: Path) -> RebuildReader:
    """Lists ``name``'s rebuilds in progress: ``{"store", "positions"}``."""
    def read() -> list[dict[str, Any]]:
        if not default.parent.is_dir():
            return []
        live = live_store(default).resolve()
        now = time.time()
        found = []
        for path in sorted(default.parent.glob(f"{name}.*.sqlite")):
            if path.resolve() == live or now - _written_at(path) > ACTIVE_SECONDS:
                continue
            found.append({"store": path.name, "positions": _positions(path)})
        return found
    return read


def progress_of(rebuild: Mapping[str, Any], live: Sequence[Mapping[str, Any]],
                latest: Sample | None) -> dict[str, Any]:
    """Events the rebuild has read of the events on the live store's input partitions."""
    done = {(p["topic"], p["partition"]): int(p["next_offset"]) for p in rebuild["positions"]}
    inputs = {(str(p["topic"]), int(p["partition"])) for p in live} | set(done)
    total = 0
    for topic, partition in inputs:
        end = None if latest is None else latest.end(topic, partition)
        total += end if end is not None else done.get((topic, partition), 0)
    read = sum(done.values())
    return {"store": rebuild["store"], "events": read, "total": total,
            "progress": None if total == 0 else round(min(1.0, read / total), 4)}
