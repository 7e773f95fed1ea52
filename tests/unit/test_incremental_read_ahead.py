"""The ``incremental`` poll read ahead: while a full poll's rows become changes, the next poll
is read from where it will most likely start — and used only if it did start there (a SQLite
file, the strategy's generator as the capture runs it)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import Batch, Checkpoint, TableSpec
from adapters.capture.strategies import incremental
from adapters.capture.strategies.common import Fetched, Throttle
from adapters.capture.strategies.incremental import IncrementalPoller, Position

SPEC = TableSpec("d", "t", ("id",), "incremental", updated_column="upd", batch_size=4,
                 poll_interval=0.001)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """Rows in runs sharing an update time, across the batches' boundaries."""
    path = tmp_path / "legacy.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, upd TEXT NOT NULL)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)",
                   [(i, f"v{i}", f"2026-11-28 10:00:{i // 3:02d}") for i in range(1, 24)])
    db.commit()
    db.close()
    return path


async def published(path: Path, throttle: Throttle, checkpoint: Checkpoint | None = None,
                    ) -> tuple[list[tuple[str, str | None, str]], Checkpoint]:
    """(op, key, position) of every change until caught up, and the checkpoint then."""
    dialect = SqliteDialect(path)
    connection = dialect.connect()
    order = dialect.key_order(connection, "t", SPEC.key_columns)
    found: list[tuple[str, str | None, str]] = []
    batches = incremental.incremental_batches(dialect, connection, SPEC, order, checkpoint,
                                              throttle)
    try:
        async for batch in batches:
            found += [(c.op, c.key["id"], c.position) for c in batch.changes]
            if not batch.changes and batch.state == "streaming":
                return found, batch.checkpoint
    finally:
        await batches.aclose()
        connection.close()
    raise AssertionError("the generator ended")


def one_at_a_time() -> Throttle:
    """A pace no poll reaches, which turns the read ahead off."""
    return Throttle(10_000_000)


class Reads:
    """Counts the polls read from a checkpoint and those read ahead (from a Position)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.from_checkpoint = self.ahead = 0
        fetch = IncrementalPoller.fetch

        async def counted(poller: IncrementalPoller, at: Any) -> Fetched:
            if isinstance(at, Position):
                self.ahead += 1
            else:
                self.from_checkpoint += 1
            return await fetch(poller, at)

        monkeypatch.setattr(IncrementalPoller, "fetch", counted)


async def test_polls_read_ahead_publish_what_polls_read_one_at_a_time(
    legacy: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected, expected_cp = await published(legacy, one_at_a_time())
    reads = Reads(monkeypatch)

    found, cp = await published(legacy, Throttle(None))

    assert found == expected and cp == expected_cp
    assert len({key for _, key, _ in found}) == 23
    assert reads.ahead >= 4, "no poll was read ahead"
    assert reads.from_checkpoint == 1, "a poll read ahead started elsewhere than its checkpoint"


async def test_a_poll_read_ahead_from_elsewhere_is_not_used(
    legacy: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected, expected_cp = await published(legacy, one_at_a_time())
    monkeypatch.setattr(IncrementalPoller, "likely_position",
                        lambda self, fetched: Position("2026-11-28 10:00:00", ("1",), True))
    reads = Reads(monkeypatch)

    found, cp = await published(legacy, Throttle(None))

    assert found == expected and cp == expected_cp
    assert reads.ahead >= 4 and reads.from_checkpoint == reads.ahead + 1


async def test_closing_the_read_waits_for_the_poll_read_ahead(
    legacy: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connection is closed after the generator: no query may still run on it."""
    running = threading.Event()
    ended = threading.Event()
    fetch_at = IncrementalPoller._fetch

    def slow(poller: IncrementalPoller, at: Position) -> Fetched:
        if at.updated:  # a poll after the first
            running.set()
            time.sleep(0.3)
        try:
            return fetch_at(poller, at)
        finally:
            ended.set()

    monkeypatch.setattr(IncrementalPoller, "_fetch", slow)
    dialect = SqliteDialect(legacy)
    connection = dialect.connect()
    batches = incremental.incremental_batches(
        dialect, connection, SPEC, dialect.key_order(connection, "t", SPEC.key_columns), None,
        Throttle(None))
    first: Batch = await anext(batches)
    assert first.changes and await asyncio.to_thread(running.wait, 5)
    ended.clear()

    await batches.aclose()

    assert ended.is_set(), "the generator closed while its poll read ahead was still running"
    connection.close()
    await asyncio.sleep(0)
