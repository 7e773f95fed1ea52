"""A source in a child process: the same batches as in the capture process, errors with
their own type, a dead child an outage the next call recovers from, and no child left."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from adapters.capture.config import parse_config
from adapters.capture.echo import echo_filter_for
from adapters.capture.engines.registry import build_sources
from adapters.capture.source import (
    Batch,
    CaptureSource,
    SourceMisconfigured,
    SourceUnavailable,
)
from adapters.capture.source_process import ProcessSource
from tests.processes import gone


def legacy(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE hj_ryxx (RYBH TEXT PRIMARY KEY, XM TEXT, GXSJ TEXT)")
        db.executemany("INSERT INTO hj_ryxx VALUES (?, ?, ?)",
                       [(f"R{i:05}", f"姓名{i}", "2024-01-01 00:00:00") for i in range(rows)])
    return path


def sources(tmp_path: Path, strategy: str, *, separate: bool, table: str = "hj_ryxx",
            batch_size: int = 10) -> CaptureSource:
    [config] = parse_config({"sources": [{
        "department": "gongan", "engine": "sqlite",
        "connection": {"path": str(tmp_path / "legacy.sqlite")},
        "tables": [{"table": table, "key": "RYBH", "strategy": strategy,
                    "batch_size": batch_size, "poll_interval": 0.01,
                    **({"updated_column": "GXSJ"} if strategy == "incremental" else {})}]}]})
    [source] = build_sources(config, tmp_path / f"state-{separate}", separate_processes=separate)
    return source


async def batches_until_idle(source: CaptureSource, checkpoint: dict[str, object] | None,
                             acknowledge: bool = True) -> list[Batch]:
    out: list[Batch] = []
    reader = source.read(checkpoint)
    try:
        async for batch in reader:
            if batch.durable is not None:
                await batch.durable()
            if acknowledge:
                await source.acknowledge(batch.checkpoint)
            if not batch.changes and out and not out[-1].changes:
                return out
            out.append(batch)
    finally:
        await reader.aclose()
    return out


def child_pid(source: CaptureSource) -> int:
    assert isinstance(source, ProcessSource) and source._child is not None
    pid = source._child.process.pid
    assert pid is not None
    return pid


@pytest.mark.parametrize("strategy", ["incremental", "diff"])
async def test_a_source_in_a_child_reads_what_it_reads_in_the_capture_process(
        tmp_path: Path, strategy: str) -> None:
    legacy(tmp_path / "legacy.sqlite", 95)
    here = sources(tmp_path, strategy, separate=False)
    there = sources(tmp_path, strategy, separate=True)
    assert (there.engine, there.database, there.spec) == (here.engine, here.database, here.spec)
    assert getattr(there, "reads_ahead", False) == getattr(here, "reads_ahead", False)
    assert echo_filter_for(there) is not None, "the runner still drops the sinks' echoes"
    try:
        await there.check()
        assert await there.discover() == await here.discover()
        expected = await batches_until_idle(here, None)
        found = await batches_until_idle(there, None)
        def seen(batches: list[Batch]) -> list[object]:  # a diff stamps its scan's time
            return [([c._replace(commit_ts_ms=0) for c in b.changes], b.state) for b in batches]

        assert seen(found) == seen(expected)
        assert (strategy == "diff") == any(b.durable is not None for b in found)
    finally:
        await here.close()
        await there.close()


async def test_a_read_ended_early_leaves_nothing_for_the_next_read(tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.sqlite", 200)
    source = sources(tmp_path, "incremental", separate=True)
    try:
        first = source.read(None)
        await anext(first)  # the child has read ahead by now
        await asyncio.sleep(0.2)
        await first.aclose()
        again = await batches_until_idle(source, None, acknowledge=False)
        keys = [c.key["RYBH"] for b in again for c in b.changes]
        assert keys == [f"R{i:05}" for i in range(200)]
    finally:
        await source.close()


async def test_an_error_in_the_child_keeps_its_type(tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.sqlite", 1)
    source = sources(tmp_path, "incremental", separate=True, table="absent")
    try:
        with pytest.raises(SourceMisconfigured, match="absent"):
            await source.check()
    finally:
        await source.close()


async def test_a_killed_child_is_an_outage_and_the_next_call_starts_a_new_one(
        tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.sqlite", 500)
    source = sources(tmp_path, "incremental", separate=True)
    try:
        reader = source.read(None)
        await anext(reader)
        killed = child_pid(source)
        os.kill(killed, signal.SIGKILL)
        with pytest.raises(SourceUnavailable, match="ended unexpectedly"):
            while True:
                await anext(reader)
        await reader.aclose()

        await source.check()  # a new child
        assert child_pid(source) != killed
        assert len([c for b in await batches_until_idle(source, None) for c in b.changes]) == 500
    finally:
        await source.close()


async def test_closing_the_source_ends_its_child(tmp_path: Path) -> None:
    legacy(tmp_path / "legacy.sqlite", 1)
    source = sources(tmp_path, "incremental", separate=True)
    await source.check()
    pid = child_pid(source)

    await source.close()

    assert gone(pid)
