"""``diff`` reads its scan ahead of acknowledgements, but its deletes and the next pass wait
for the hashes of every batch before them; the hashes are staged locally under each batch's
sequence number, applied up to a committed checkpoint, and dropped when never committed."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.rows import row_digest
from adapters.capture.source import Batch, TableSpec
from adapters.capture.sql_source import SqlTableSource
from adapters.capture.strategies.diff_state import DiffState


def legacy(path: Path, keys: range) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("DELETE FROM t")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(k, f"v{k}") for k in keys])
    db.commit()
    db.close()


def source(tmp_path: Path) -> SqlTableSource:
    spec = TableSpec("d", "t", ("id",), "diff", batch_size=3, poll_interval=0.01)
    return SqlTableSource(SqliteDialect(tmp_path / "legacy.db"), spec, state_dir=tmp_path)


async def settle() -> None:
    for _ in range(20):  # let every ready task run (the thread hop of a query included)
        await asyncio.sleep(0.01)


async def test_the_scan_reads_ahead_and_the_deletes_wait_for_every_batch_before_them(
        tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.db", range(1, 8))
    capture = source(tmp_path)
    batches = capture.read(None)
    scan = [await anext(batches) for _ in range(3)]  # 3 + 3 + 1 rows, none acknowledged
    assert [len(b.changes) for b in scan] == [3, 3, 1]
    assert scan[-1].checkpoint["stage"] == "deletes"

    legacy(tmp_path / "legacy.db", range(1, 7))  # row 7 goes before pass 2
    deletes: asyncio.Task[Batch] = asyncio.ensure_future(anext(batches))
    await settle()
    assert not deletes.done()  # the deletes of pass 1 read the state the scan leaves

    for batch in scan[:2]:
        await capture.acknowledge(batch.checkpoint)
    await settle()
    assert not deletes.done()
    await capture.acknowledge(scan[2].checkpoint)
    assert (await deletes).changes == []  # nothing deleted: every key's pass was recorded

    await capture.acknowledge((await deletes).checkpoint)
    pass_two = [await anext(batches) for _ in range(3)]
    assert [c.op for b in pass_two for c in b.changes] == []  # unchanged rows, row 7 gone
    for batch in pass_two:
        await capture.acknowledge(batch.checkpoint)
    gone = await anext(batches)
    assert [(c.op, c.key) for c in gone.changes] == [("d", {"id": "7"})]
    await batches.aclose()
    await capture.close()


async def test_the_last_checkpoint_of_a_group_restores_every_batch_of_the_group(
        tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.db", range(1, 8))
    capture = source(tmp_path)
    batches = capture.read(None)
    scan = [await anext(batches) for _ in range(3)]
    await batches.aclose()
    await capture.close()
    stored = scan[-1].checkpoint  # one transaction committed all three, with the last's
    assert "batch" not in stored and len(json.dumps(stored)) < 200  # hashes stay local

    # A crash after Kafka committed the group, before any batch was applied: the restarted
    # read applies what was staged up to the stored checkpoint, and every row is known.
    state = DiffState(tmp_path / "capture" / "capture.d.t.diff.sqlite")
    assert state.applied_mark() is None
    state.close()
    restarted = source(tmp_path)
    again = restarted.read(stored)
    deletes = await anext(again)
    assert deletes.changes == []  # no row of the group taken for deleted
    await again.aclose()
    state = restarted._state()
    assert sorted(state.hashes([str(k) for k in range(1, 8)])) == [str(k) for k in range(1, 8)]
    await restarted.close()


async def test_batches_staged_but_never_committed_are_read_again_not_applied(
        tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.db", range(1, 8))
    capture = source(tmp_path)
    batches = capture.read(None)
    scan = [await anext(batches) for _ in range(3)]  # staged 1-3, 4-6, 7
    await batches.aclose()
    await capture.close()

    # Only the first batch reached Kafka; row 5 goes before the restart, so the batches read
    # again hold other keys under the same sequence numbers (4, 6, 7 then none).
    legacy(tmp_path / "legacy.db", [k for k in range(1, 8) if k != 5])
    restarted = source(tmp_path)
    again = restarted.read(scan[0].checkpoint)
    reread = [await anext(again) for _ in range(2)]
    assert [[c.key["id"] for c in b.changes] for b in reread] == [["4", "6", "7"], []]
    for batch in [*reread]:
        await restarted.acknowledge(batch.checkpoint)
    state = restarted._state()
    assert sorted(state.hashes([str(k) for k in range(1, 8)])) == ["1", "2", "3", "4", "6", "7"]
    await again.aclose()
    await restarted.close()


async def test_a_checkpoint_that_carries_its_hashes_is_still_applied(tmp_path: Path) -> None:
    """Checkpoints stored before hashes were staged locally carry their batch's hashes."""
    legacy(tmp_path / "legacy.db", range(1, 4))
    first = source(tmp_path / "elsewhere")  # the images as the capture renders them
    first.dialect = SqliteDialect(tmp_path / "legacy.db")
    read = first.read(None)
    images = [c.after for c in (await anext(read)).changes]
    await read.aclose()
    await first.close()
    images[2] = {**(images[2] or {}), "v": "before"}  # row 3 changed since that pass
    carried = {"phase": "diff", "order": "native", "pass": 1, "stage": "deletes",
               "after": None, "seq": 1,
               "batch": [[str(k), row_digest(image or {})] for k, image in zip(
                   range(1, 4), images, strict=True)]}
    capture = source(tmp_path)
    batches = capture.read(carried)
    deletes = await anext(batches)
    assert deletes.changes == [] and "batch" not in deletes.checkpoint
    await capture.acknowledge(deletes.checkpoint)
    second_pass = await anext(batches)
    assert [(c.op, c.key) for c in second_pass.changes] == [("u", {"id": "3"})]
    await batches.aclose()
    await capture.close()


def test_a_batch_larger_than_one_staging_statement_is_staged_and_applied_whole(
        tmp_path: Path) -> None:
    state = DiffState(tmp_path / "state.sqlite")
    first = [(f"k{i:04d}", f"h{i}") for i in range(601)]  # three statements: 250, 250, 101
    assert state.stage(1, 1, first) == {}
    state.apply({"pass": 1, "stage": "scan", "after": "x", "seq": 1})
    again = [(key, None if i % 2 else f"new{i}") for i, (key, _) in enumerate(first)]

    known = state.stage(2, 2, again)
    state.apply({"pass": 2, "stage": "scan", "after": "y", "seq": 2})

    assert known == {key: f"h{i}" for i, (key, _) in enumerate(first) if i % 2 == 0}
    assert state.hashes([key for key, _ in first]) == {
        key: f"new{i}" for i, (key, _) in enumerate(first) if i % 2 == 0}
    state.close()


async def test_the_hashes_staged_by_a_batch_reach_the_disk_through_its_durable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staging only writes SQLite's log; the runner awaits a batch's ``durable`` before Kafka
    commits it, and that flushes the log (and, the first time, its directory)."""
    synced: list[str] = []
    fsync = os.fsync

    def noting_fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", noting_fsync)
    legacy(tmp_path / "legacy.db", range(1, 5))
    capture = source(tmp_path)
    batches = capture.read(None)
    scan = [await anext(batches) for _ in range(2)]  # 3 + 1 rows
    state = capture._state()
    assert state._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL: no fsync each
    assert synced == []

    durables = [batch.durable for batch in scan]
    assert None not in durables
    await scan[-1].durable()  # type: ignore[misc]
    log_file = str(tmp_path / "capture" / "capture.d.t.diff.sqlite-wal")
    assert synced == [log_file, str(tmp_path / "capture")]
    await scan[0].durable()  # type: ignore[misc]
    assert synced == [log_file, str(tmp_path / "capture"), log_file]
    await batches.aclose()
    await capture.close()
