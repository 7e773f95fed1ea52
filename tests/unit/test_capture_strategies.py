"""The SQL capture strategies (incremental, diff, snapshot) read straight from SQLite files.

Each test drives :meth:`SqlTableSource.read` with a checkpoint, as the runner does, and
acknowledges every batch the way the runner does once Kafka has committed it; no Kafka here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import aclosing, closing
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import Batch, Change, Checkpoint, TableSpec
from adapters.capture.sql_source import SqlTableSource
from adapters.capture.strategies.diff_state import DiffState

T1, T2, T3, T4, T5 = (f"2024-01-01 00:00:0{i}" for i in range(1, 6))


class LegacyDb:
    """The 公安 household register as a legacy SQLite file, changed like its clerks would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.execute("CREATE TABLE hj_ryxx (RYBH TEXT PRIMARY KEY, SFZH TEXT, XM TEXT, XB TEXT, "
                     "CSRQ TEXT, HJDZ TEXT, XZQH TEXT, GXSJ TEXT)")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            db.execute(sql, tuple(params))

    def insert(self, key: str, updated: str | None, name: object = "张三") -> None:
        self.execute("INSERT INTO hj_ryxx VALUES (?, '330106199003071236', ?, '1', '19900307', "
                     "'杭州', '330106', ?)", (key, name, updated))

    def update(self, key: str, updated: str | None, name: str) -> None:
        self.execute("UPDATE hj_ryxx SET XM = ?, GXSJ = ? WHERE RYBH = ?", (name, updated, key))

    def delete(self, key: str) -> None:
        self.execute("DELETE FROM hj_ryxx WHERE RYBH = ?", (key,))


@pytest.fixture
def db(tmp_path: Path) -> LegacyDb:
    return LegacyDb(tmp_path / "gongan.sqlite")


def source_of(path: Path, state_dir: Path, strategy: str = "incremental", batch_size: int = 500,
              table: str = "hj_ryxx", key: str = "RYBH") -> SqlTableSource:
    spec = TableSpec(department="gongan", table=table, key_columns=(key,),
                     strategy=strategy,  # type: ignore[arg-type]
                     updated_column="GXSJ" if strategy == "incremental" else None,
                     batch_size=batch_size, poll_interval=0,
                     options={"diff_interval_seconds": 0})
    return SqlTableSource(SqliteDialect(path), spec, state_dir=state_dir)


async def drain(source: SqlTableSource, checkpoint: Checkpoint | None) -> list[Batch]:
    """Incremental batches after ``checkpoint`` until the source reports it is idle."""
    batches: list[Batch] = []
    last = checkpoint
    async with aclosing(source.read(checkpoint)) as reading:
        async for batch in reading:
            if not batch.changes and batch.checkpoint == last:
                return batches
            batches.append(batch)
            last = batch.checkpoint
            assert len(batches) < 50, "the source never ran dry"
    raise AssertionError("the source stopped")


def keys_of(batches: Sequence[Batch]) -> list[str]:
    return [c.key["RYBH"] or "" for b in batches for c in b.changes]


def ops_of(batches: Sequence[Batch]) -> list[tuple[str, str]]:
    return [(c.op, c.key["RYBH"] or "") for b in batches for c in b.changes]


def changes_of(batches: Sequence[Batch]) -> list[Change]:
    return [c for b in batches for c in b.changes]


def productive(batches: Sequence[Batch]) -> list[int]:
    return [len(b.changes) for b in batches if b.changes]


# --- incremental --------------------------------------------------------------------------------

async def test_the_snapshot_reads_every_row_as_r_in_update_time_then_key_order_across_batches(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key, updated in [("R5", T3), ("R1", T2), ("R4", T1), ("R2", T2), ("R3", T4), ("R0", T1),
                         ("R6", T5)]:
        db.insert(key, updated)

    batches = await drain(source_of(db.path, tmp_path, batch_size=3), None)

    assert productive(batches) == [3, 3, 1]
    assert keys_of(batches) == ["R0", "R4", "R1", "R2", "R5", "R3", "R6"]
    assert {c.op for c in changes_of(batches)} == {"r"}
    assert all(c.snapshot for c in changes_of(batches))
    assert batches[-1].checkpoint["snapshot_done"] is True
    assert batches[0].state == "snapshotting"


async def test_a_change_carries_the_legacy_update_time_in_shanghai_time_and_its_position(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", "2024-03-07 08:30:15", name="王小明")

    [change] = changes_of(await drain(source_of(db.path, tmp_path), None))

    assert change.commit_ts_ms == 1_709_771_415_000  # 2024-03-07T00:30:15Z
    assert change.position == "2024-03-07 08:30:15|R1"
    assert change.before is None
    assert change.after is not None and change.after["XM"] == "王小明"
    assert change.key == {"RYBH": "R1"}


async def test_after_the_snapshot_an_insert_is_c_and_an_update_is_u_by_sqlite_rowid(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1)
    db.insert("R2", T2)
    source = source_of(db.path, tmp_path)
    snapshot = await drain(source, None)

    db.insert("R3", T3)
    db.update("R1", T4, name="李四")
    later = await drain(source, snapshot[-1].checkpoint)

    assert productive(later) == [2]
    assert [(c.op, c.key["RYBH"], c.snapshot) for c in changes_of(later)] == [
        ("c", "R3", False), ("u", "R1", False)]
    assert changes_of(later)[1].after == {**(changes_of(snapshot)[0].after or {}), "XM": "李四",
                                          "GXSJ": T4}


async def test_rows_sharing_one_second_split_across_batches_are_each_read_once(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key in ["R3", "R1", "R5", "R2", "R4"]:
        db.insert(key, T1)
    db.insert("R0", T2)

    batches = await drain(source_of(db.path, tmp_path, batch_size=2), None)

    assert productive(batches) == [2, 2, 2]
    assert keys_of(batches) == ["R1", "R2", "R3", "R4", "R5", "R0"]


async def test_rows_arriving_later_in_an_already_read_second_are_read_once_as_c(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key in ["R1", "R2", "R3"]:
        db.insert(key, T1)
    source = source_of(db.path, tmp_path, batch_size=2)
    snapshot = await drain(source, None)

    db.insert("R4", T1)
    db.insert("R0", T1)  # sorts before the last key read
    later = await drain(source, snapshot[-1].checkpoint)
    again = await drain(source, later[-1].checkpoint)

    assert sorted(ops_of(later)) == [("c", "R0"), ("c", "R4")]
    assert again == []


async def test_a_row_changed_again_within_the_last_read_second_is_captured_once_as_u(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1)
    db.insert("R2", T1)
    source = source_of(db.path, tmp_path)
    snapshot = await drain(source, None)

    db.update("R1", T1, name="李四")
    later = await drain(source, snapshot[-1].checkpoint)
    again = await drain(source, later[-1].checkpoint)

    [change] = changes_of(later)
    assert (change.op, change.key["RYBH"]) == ("u", "R1")
    assert change.after is not None and change.after["XM"] == "李四"
    assert again == []


async def test_a_row_committed_late_within_the_lookback_window_is_still_captured(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1)
    db.insert("R2", T3)
    spec_source = source_of(db.path, tmp_path)
    source = SqlTableSource(spec_source.dialect, TableSpec(
        "gongan", "hj_ryxx", ("RYBH",), "incremental", updated_column="GXSJ", poll_interval=0,
        options={"lookback_seconds": 5}), state_dir=tmp_path)
    snapshot = await drain(source, None)

    db.insert("R3", T2)  # committed after R2 was read, with an older update time
    later = await drain(source, snapshot[-1].checkpoint)

    assert ops_of(later) == [("c", "R3")]
    assert await drain(source, later[-1].checkpoint) == []


async def test_an_unchanged_table_read_again_yields_nothing_and_keeps_the_checkpoint(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1)
    source = source_of(db.path, tmp_path)
    checkpoint = (await drain(source, None))[-1].checkpoint

    for _ in range(3):
        assert await drain(source, checkpoint) == []


async def test_an_empty_table_completes_its_snapshot_with_a_checkpoint_and_no_changes(
    db: LegacyDb, tmp_path: Path,
) -> None:
    [batch] = await drain(source_of(db.path, tmp_path), None)

    assert batch.changes == []
    assert batch.checkpoint["snapshot_done"] is True


async def test_rows_without_an_update_time_are_read_first_by_key(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R2", None)
    db.insert("R1", T1)
    db.insert("R4", "")
    db.insert("R3", None)

    batches = await drain(source_of(db.path, tmp_path, batch_size=2), None)

    assert productive(batches) == [2, 2]
    assert keys_of(batches) == ["R2", "R3", "R4", "R1"]
    read = changes_of(batches)
    assert read[0].after is not None and read[0].after["GXSJ"] is None
    assert read[2].after is not None and read[2].after["GXSJ"] == ""
    assert read[0].commit_ts_ms == 0


async def test_a_checkpoint_round_trips_through_json_and_a_new_source_loses_and_repeats_nothing(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key in ["R1", "R2", "R3", "R4", "R5"]:
        db.insert(key, T1)
    first_batch: Batch | None = None
    async with aclosing(source_of(db.path, tmp_path, batch_size=2).read(None)) as reading:
        async for batch in reading:
            first_batch = batch
            break
    assert first_batch is not None and keys_of([first_batch]) == ["R1", "R2"]
    db.update("R1", T1, name="改名")  # changed inside the boundary second
    db.insert("R6", T2)

    stored = json.loads(json.dumps(first_batch.checkpoint))
    resumed = await drain(source_of(db.path, tmp_path, batch_size=2), stored)

    assert stored == first_batch.checkpoint
    assert keys_of([first_batch, *resumed]) == ["R1", "R2", "R1", "R3", "R4", "R5", "R6"]
    assert changes_of(resumed)[0].after is not None
    assert (changes_of(resumed)[0].after or {})["XM"] == "改名"


async def test_an_integer_key_column_is_read_once_per_row_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "numeric.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE t (ID INTEGER PRIMARY KEY, V TEXT, GXSJ TEXT)")
        for key in (9, 10, 11):
            db.execute("INSERT INTO t VALUES (?, 'v', ?)", (key, T1))

    batches = await drain(source_of(path, tmp_path, batch_size=2, table="t", key="ID"), None)

    # An INTEGER PRIMARY KEY is paged in numeric order, and each row is read exactly once.
    assert [c.key["ID"] for c in changes_of(batches)] == ["9", "10", "11"]
    assert batches[-1].checkpoint["key_order"] == "native"


async def test_a_column_added_between_polls_appears_in_later_changes_and_columns(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1)
    source = source_of(db.path, tmp_path)
    snapshot = await drain(source, None)

    db.execute("ALTER TABLE hj_ryxx ADD COLUMN LXDH TEXT")
    db.execute("UPDATE hj_ryxx SET LXDH = '13800000000', GXSJ = ?", (T2,))
    later = await drain(source, snapshot[-1].checkpoint)

    assert "LXDH" not in (changes_of(snapshot)[0].after or {})
    [change] = changes_of(later)
    assert (change.op, (change.after or {})["LXDH"]) == ("u", "13800000000")
    assert "LXDH" in later[0].columns


async def test_bytes_that_are_neither_utf8_nor_gb18030_are_flagged_undecodable(
    db: LegacyDb, tmp_path: Path,
) -> None:
    db.insert("R1", T1, name=b"\xff\xff\xfe")
    db.insert("R2", T1, name="王小明".encode("gbk"))

    first, second = changes_of(await drain(source_of(db.path, tmp_path), None))

    assert first.undecodable == ("XM",)
    assert first.after is not None and first.after["XM"] == "\\xff\\xff\\xfe"
    assert second.undecodable == ()
    assert second.after is not None and second.after["XM"] == "王小明"


# --- diff ---------------------------------------------------------------------------------------

async def diff_pass(source: SqlTableSource, checkpoint: Checkpoint | None,
                    *, acknowledge_last: bool = True) -> list[Batch]:
    """The batches of one diff pass, each acknowledged as the runner would after Kafka's commit."""
    batches: list[Batch] = []
    start = None if checkpoint is None else checkpoint["pass"]
    async with aclosing(source.read(checkpoint)) as reading:
        async for batch in reading:
            batches.append(batch)
            pass_ended = batch.checkpoint["pass"] != (start or 1)
            if acknowledge_last or not pass_ended:
                await source.acknowledge(batch.checkpoint)
            if pass_ended:
                return batches
    raise AssertionError("the source stopped")


async def test_diff_reads_r_first_then_c_u_and_d_against_the_previous_pass(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key in ["R1", "R2", "R3"]:
        db.insert(key, None)
    source = source_of(db.path, tmp_path, "diff", batch_size=2)
    first = await diff_pass(source, None)

    db.insert("R4", None)
    db.update("R2", None, name="李四")
    db.delete("R3")
    second = await diff_pass(source, first[-1].checkpoint)
    third = await diff_pass(source, second[-1].checkpoint)
    await source.close()

    assert ops_of(first) == [("r", "R1"), ("r", "R2"), ("r", "R3")]
    assert all(c.snapshot for c in changes_of(first))
    assert sorted(ops_of(second)) == [("c", "R4"), ("d", "R3"), ("u", "R2")]
    assert ops_of(second)[-1] == ("d", "R3")  # deletes follow the scan
    assert ops_of(third) == []


async def test_diff_resumes_mid_pass_from_a_checkpoint_without_loss_or_repeat(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for i in range(5):
        db.insert(f"R{i}", None)
    source = source_of(db.path, tmp_path, "diff", batch_size=2)
    async with aclosing(source.read(None)) as reading:
        first = await anext(reading)
        await source.acknowledge(first.checkpoint)
    await source.close()

    resumed = source_of(db.path, tmp_path, "diff", batch_size=2)
    rest = await diff_pass(resumed, json.loads(json.dumps(first.checkpoint)))
    await resumed.close()

    assert keys_of([first, *rest]) == ["R0", "R1", "R2", "R3", "R4"]
    assert {c.op for c in changes_of([first, *rest])} == {"r"}


async def test_diff_state_reapplies_a_checkpoint_that_kafka_committed_but_the_local_file_missed(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for key in ["R1", "R2"]:
        db.insert(key, None)
    source = source_of(db.path, tmp_path, "diff")
    first = await diff_pass(source, None, acknowledge_last=False)  # crash before acknowledge
    await source.close()
    db.insert("R3", None)

    resumed = source_of(db.path, tmp_path, "diff")
    second = await diff_pass(resumed, first[-1].checkpoint)
    await resumed.close()

    assert ops_of(second) == [("c", "R3")]
    state = DiffState(tmp_path / "capture" / "capture.gongan.hj_ryxx.diff.sqlite")
    try:
        assert set(state.hashes(["R1", "R2", "R3"])) == {"R1", "R2", "R3"}
    finally:
        state.close()


# --- snapshot -----------------------------------------------------------------------------------

async def snapshot_batches(source: SqlTableSource, checkpoint: Checkpoint | None,
                           limit: int | None = None) -> list[Batch]:
    batches: list[Batch] = []
    async with aclosing(source.read(checkpoint)) as reading:
        async for batch in reading:
            if not batch.changes and batch.checkpoint.get("complete"):
                return batches
            batches.append(batch)
            if batch.checkpoint.get("complete") or len(batches) == limit:
                return batches
    raise AssertionError("the source stopped")


async def test_the_snapshot_strategy_reads_in_key_chunks_with_done_and_total_progress(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for i in range(5):
        db.insert(f"R{i}", T1)

    batches = await snapshot_batches(source_of(db.path, tmp_path, "snapshot", batch_size=2), None)

    assert productive(batches) == [2, 2, 1]
    assert keys_of(batches) == ["R0", "R1", "R2", "R3", "R4"]
    assert {c.op for c in changes_of(batches)} == {"r"}
    assert [(b.checkpoint["done"], b.checkpoint["total"]) for b in batches] == [(2, 5), (4, 5),
                                                                                (5, 5)]
    assert batches[-1].checkpoint["complete"] is True


async def test_the_snapshot_resumes_after_the_last_chunk_and_a_complete_one_reads_nothing(
    db: LegacyDb, tmp_path: Path,
) -> None:
    for i in range(5):
        db.insert(f"R{i}", T1)
    [first] = await snapshot_batches(source_of(db.path, tmp_path, "snapshot", batch_size=2), None,
                                     limit=1)

    rest = await snapshot_batches(source_of(db.path, tmp_path, "snapshot", batch_size=2),
                                  json.loads(json.dumps(first.checkpoint)))
    after = await snapshot_batches(source_of(db.path, tmp_path, "snapshot", batch_size=2),
                                   rest[-1].checkpoint)

    assert keys_of([first, *rest]) == ["R0", "R1", "R2", "R3", "R4"]
    assert after == []
