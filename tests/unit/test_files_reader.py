"""The file-drop reader process: batches cross intact, a dead child is an outage the read
resumes from, and closing the read ends the child."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from adapters.capture.engines.files import FileDropSource
from adapters.capture.engines.files_progress import CurrentFile, FileProgress
from adapters.capture.engines.files_reader import _packed, _unpacked
from adapters.capture.source import Batch, Change, SourceUnavailable, TableSpec
from tests.processes import gone

OLD = 1_700_000_000


def full_spec(directory: Path, batch_size: int) -> TableSpec:
    return TableSpec("minzheng", "hy_djxx", ("DJBH",), "diff", batch_size=batch_size,
                     poll_interval=0.001, options={
                         "directory": str(directory), "pattern": "hy_*.csv", "encoding": "gbk",
                         "settle_seconds": 0, "mode": "full", "state_dir": str(directory / "state"),
                         "reader": "process"})


def drop(directory: Path, name: str, rows: list[str]) -> None:
    path = directory / name
    path.write_bytes("".join(f"{line}\r\n" for line in ["DJBH,XM,DJRQ", *rows]).encode("gbk"))
    os.utime(path, (OLD, OLD))


def test_a_batch_crosses_to_the_capture_as_it_was_read() -> None:
    row = {"DJBH": "D001", "XM": "王小明", "DJRQ": "2024-01-02"}
    changes = [
        Change("u", {"DJBH": "D001"}, {**row, "XM": "王晓明"}, row, "hy_1.csv:1", 1_700_000_000_000),
        Change("r", {"DJBH": "D002"}, None, {"DJBH": "D002", "XM": None}, "hy_1.csv:2", 1, True),
        Change("c", {"DJBH": "D00?"}, None, {"_line": "D00\\xff"}, "hy_1.csv:3", 1, False,
               ("_line",)),
        Change("d", {"DJBH": "D003"}, row, None, "hy_1.csv:d1", 1),
    ]
    progress = FileProgress(current=CurrentFile("hy_1.csv", 10, "ab" * 32, 5, records=3),
                            generation=1)
    batch = Batch(changes, progress.as_checkpoint(), ("DJBH", "XM", "DJRQ"), "snapshotting")

    taken = _unpacked(_packed((batch, progress)))

    assert taken is not None
    crossed, crossed_progress = taken
    assert crossed == Batch(changes, batch.checkpoint, batch.columns, "snapshotting")
    assert all(type(change) is Change for change in crossed.changes)
    assert crossed_progress == progress
    assert _unpacked(_packed(None)) is None


def child_pids() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


async def test_a_reader_process_killed_mid_file_fails_the_read_and_a_new_read_resumes_exactly(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "hy_1.csv", [f"D{i:04},名{i},x" for i in range(3000)])
    before = child_pids()

    read = FileDropSource(full_spec(tmp_path, 10)).read(None)
    committed = [await anext(read) for _ in range(3)]
    (child,) = child_pids() - before
    os.kill(child, signal.SIGKILL)
    assert gone(child)
    await asyncio.sleep(0.2)  # the pool has seen it: the next call is refused when asked for
    with pytest.raises(SourceUnavailable, match=r"reader process of legacy\.minzheng\.hy_djxx"):
        while True:  # batches the child finished before it died may still arrive
            committed.append(await anext(read))
    await read.aclose()

    rest = []
    resumed = FileDropSource(full_spec(tmp_path, 10)).read(committed[-1].checkpoint)
    while (batch := await anext(resumed)).changes:
        rest.append(batch)
    await resumed.aclose()

    keys = [c.key["DJBH"] for b in committed + rest for c in b.changes]
    assert keys == [f"D{i:04}" for i in range(3000)]
    for left in child_pids() - before:  # shut down without waiting: give it time
        assert gone(left), "closing the read ends its child"


async def test_closing_a_read_mid_file_ends_its_reader_process(tmp_path: Path) -> None:
    drop(tmp_path, "hy_1.csv", [f"D{i:04},名{i},x" for i in range(100)])
    before = child_pids()
    read = FileDropSource(full_spec(tmp_path, 10)).read(None)
    await anext(read)
    (child,) = child_pids() - before

    await read.aclose()

    assert gone(child)
