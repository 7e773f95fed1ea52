"""``diff`` reads its scan ahead of acknowledgements, but its deletes and the next pass wait
for the hashes of every batch before them; a group's checkpoint carries all their hashes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from adapters.capture.engines.sqlite import SqliteDialect
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


async def test_a_group_checkpoint_restores_every_batch_of_the_group(tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.db", range(1, 8))
    capture = source(tmp_path)
    batches = capture.read(None)
    scan = [await anext(batches) for _ in range(3)]
    await batches.aclose()
    await capture.close()

    stored = capture.group_checkpoint([b.checkpoint for b in scan])
    assert stored["seq"] == scan[-1].checkpoint["seq"]

    # A crash after Kafka committed the group, before any batch was applied: the restarted
    # read applies the stored checkpoint, and every row of the group is known.
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
