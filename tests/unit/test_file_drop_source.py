"""FileDropSource on real temporary directories: complete files once, in order, resumable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines import files_listing
from adapters.capture.engines.files import FileDropSource
from adapters.capture.engines.files_records import LINE_COLUMN
from adapters.capture.source import (
    Batch,
    CaptureSource,
    Change,
    Checkpoint,
    SourceMisconfigured,
    TableSpec,
)

OLD = 1_700_000_000  # an mtime long past, so files count as settled

#: Where the sources of the running test read their files (``options.reader``).
_reader = "process"


@pytest.fixture(autouse=True, params=["process", "thread"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test reads in a child process and in a worker thread: the same batches."""
    monkeypatch.setattr(f"{__name__}._reader", request.param)
    return str(request.param)


def spec(directory: Path, batch_size: int = 100, **options: Any) -> TableSpec:
    base = {"directory": str(directory), "pattern": "hy_*.csv", "encoding": "gbk",
            "settle_seconds": 0, "reader": _reader}
    base.update(options)
    return TableSpec("minzheng", "hy_djxx", ("DJBH",), "diff", batch_size=batch_size,
                     poll_interval=0.001, options=base)


def drop(directory: Path, name: str, rows: list[str], *, header: str = "DJBH,XM,DJRQ",
         encoding: str = "gbk", mtime: int = OLD) -> Path:
    path = directory / name
    path.write_bytes("".join(f"{line}\r\n" for line in [header, *rows]).encode(encoding))
    os.utime(path, (mtime, mtime))
    return path


async def drain(source: FileDropSource, checkpoint: Checkpoint | None) -> list[Batch]:
    """Every batch until the source is idle (an empty batch repeating the checkpoint)."""
    batches: list[Batch] = []
    reader = source.read(checkpoint)
    try:
        async for batch in reader:
            if batch.changes or not batches or batch.checkpoint != batches[-1].checkpoint:
                batches.append(batch)
            else:
                return batches
    finally:
        await reader.aclose()
    return batches


async def first_batches(source: FileDropSource, checkpoint: Checkpoint | None, n: int) -> list[Batch]:
    """The first ``n`` batches, then the reader is dropped as by a crash."""
    reader = source.read(checkpoint)
    batches = [await anext(reader) for _ in range(n)]
    await reader.aclose()
    return batches


def changes(batches: list[Batch]) -> list[Change]:
    return [c for b in batches for c in b.changes]


def summary(batches: list[Batch]) -> list[tuple[str, str | None, str | None]]:
    return [(c.op, (c.after or c.before or {}).get("DJBH"), (c.after or {}).get("XM"))
            for c in changes(batches)]


# --- append mode ---------------------------------------------------------------------------

async def test_a_gbk_csv_drop_becomes_creates_with_file_positions_and_mtime(tmp_path: Path) -> None:
    drop(tmp_path, "hy_20240601.csv", ["D001,王小明,1990年3月7日", "D002,李娜,1991年12月1日"])

    batches = await drain(FileDropSource(spec(tmp_path)), None)

    found = changes(batches)
    assert [c.op for c in found] == ["c", "c"]
    assert found[0].after == {"DJBH": "D001", "XM": "王小明", "DJRQ": "1990年3月7日"}
    assert found[0].key == {"DJBH": "D001"}
    assert found[1].position == "hy_20240601.csv:2"
    assert found[0].commit_ts_ms == OLD * 1000
    assert batches[0].columns == ("DJBH", "XM", "DJRQ")
    assert batches[-1].checkpoint["current"] is None


async def test_files_are_taken_in_name_order_and_each_only_once_across_restarts(tmp_path: Path) -> None:
    drop(tmp_path, "hy_20240602.csv", ["D002,李娜,x"], mtime=OLD - 10)
    drop(tmp_path, "hy_20240601.csv", ["D001,王小明,x"])
    first = await drain(FileDropSource(spec(tmp_path)), None)
    drop(tmp_path, "hy_20240603.csv", ["D003,张伟,x"])

    second = await drain(FileDropSource(spec(tmp_path)), first[-1].checkpoint)
    third = await drain(FileDropSource(spec(tmp_path)), second[-1].checkpoint)

    assert [c.position for c in changes(first)] == ["hy_20240601.csv:1", "hy_20240602.csv:1"]
    assert [c.position for c in changes(second)] == ["hy_20240603.csv:1"]
    assert changes(third) == []


async def test_a_crash_mid_file_resumes_after_the_last_committed_batch(tmp_path: Path) -> None:
    drop(tmp_path, "hy_20240601.csv", [f"D{i:03},名{i},x" for i in range(7)])
    whole = await drain(FileDropSource(spec(tmp_path, batch_size=2)), None)

    before_crash = await first_batches(FileDropSource(spec(tmp_path, batch_size=2)), None, 2)
    after_crash = await drain(FileDropSource(spec(tmp_path, batch_size=2)), before_crash[-1].checkpoint)

    assert before_crash[-1].checkpoint["current"]["records"] == 4
    assert changes(before_crash) + changes(after_crash) == changes(whole)
    assert len(changes(whole)) == 7


async def test_a_file_redelivered_under_the_same_name_with_other_content_is_taken_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    drop(tmp_path, "hy_20240601.csv", ["D001,王小明,x"])
    first = await drain(FileDropSource(spec(tmp_path)), None)
    drop(tmp_path, "hy_20240601.csv", ["D001,王小明,x"], mtime=OLD + 5)  # same content, touched
    same = await drain(FileDropSource(spec(tmp_path)), first[-1].checkpoint)
    drop(tmp_path, "hy_20240601.csv", ["D001,王晓明,x"], mtime=OLD + 9)

    other = await drain(FileDropSource(spec(tmp_path)), same[-1].checkpoint)

    assert changes(same) == []
    assert summary(other) == [("c", "D001", "王晓明")]
    assert "delivered again with other content" in caplog.text
    assert [f["name"] for f in other[-1].checkpoint["taken"]] == ["hy_20240601.csv"] * 2


async def test_bad_lines_become_undecodable_changes_with_their_raw_text(tmp_path: Path) -> None:
    path = tmp_path / "hy_20240601.csv"
    path.write_bytes("DJBH,XM,DJRQ\nD001,王小明,x\n".encode("gbk") + b"D002,\xff\xff,x\nD003,x\n\n")

    found = changes(await drain(FileDropSource(spec(tmp_path)), None))

    assert [c.undecodable for c in found] == [(), (LINE_COLUMN,), (LINE_COLUMN,)]
    assert found[1].after is not None and found[1].after[LINE_COLUMN] == "D002,\\xff\\xff,x"
    assert found[2].after is not None and found[2].after[LINE_COLUMN] == "D003,x"


async def test_a_gbk_fixed_width_drop_is_sliced_in_bytes(tmp_path: Path) -> None:
    fields = [{"name": "DJBH", "start": 0, "width": 4}, {"name": "XM", "start": 4, "width": 8}]
    path = tmp_path / "hy_20240601.dat"
    path.write_bytes(b"D001" + "王小明\u3000".encode("gbk") + b"\nD002" + "欧阳娜娜".encode("gbk") + b"\n")

    found = changes(await drain(FileDropSource(
        spec(tmp_path, pattern="hy_*.dat", format="fixed_width", fields=fields)), None))

    assert [c.after for c in found] == [{"DJBH": "D001", "XM": "王小明"}, {"DJBH": "D002", "XM": "欧阳娜娜"}]


async def test_auto_encoding_reads_a_utf8_file_with_a_bom_and_a_gb18030_file(tmp_path: Path) -> None:
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x"], header="\ufeffDJBH,XM,DJRQ", encoding="utf-8")
    drop(tmp_path, "hy_2.csv", ["D002,𠀀娜,x"], encoding="gb18030")

    found = changes(await drain(FileDropSource(spec(tmp_path, encoding="auto")), None))

    assert [c.after and c.after["XM"] for c in found] == ["王小明", "𠀀娜"]


# --- half-written files --------------------------------------------------------------------

async def test_a_file_being_written_under_a_temporary_name_is_taken_only_after_the_rename(
    tmp_path: Path,
) -> None:
    pattern = "hy_*"
    for suffix in (".tmp", ".part"):
        drop(tmp_path, f"hy_20240601.csv{suffix}", ["D001,王小明,x"])
    (tmp_path / ".hy_20240601.csv.swp").write_bytes(b"junk")
    idle = await drain(FileDropSource(spec(tmp_path, pattern=pattern)), None)
    (tmp_path / "hy_20240601.csv.part").rename(tmp_path / "hy_20240601.csv")

    taken = await drain(FileDropSource(spec(tmp_path, pattern=pattern)), idle[-1].checkpoint)

    assert changes(idle) == []
    assert [c.position for c in changes(taken)] == ["hy_20240601.csv:1"]


async def test_with_markers_required_a_file_waits_for_its_done_or_ok_marker_and_keeps_order(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "hy_20240601.csv", ["D001,王小明,x"])
    drop(tmp_path, "hy_20240602.csv", ["D002,李娜,x"])
    (tmp_path / "hy_20240602.csv.done").touch()
    waiting = await drain(FileDropSource(spec(tmp_path, require_marker=True)), None)
    (tmp_path / "hy_20240601.csv.ok").touch()

    taken = await drain(FileDropSource(spec(tmp_path, require_marker=True)), waiting[-1].checkpoint)

    assert changes(waiting) == []  # 0602 is complete but must not overtake 0601
    assert [c.position for c in changes(taken)] == ["hy_20240601.csv:1", "hy_20240602.csv:1"]


async def test_a_file_still_growing_is_not_taken_until_it_settles(tmp_path: Path) -> None:
    now = [float(OLD + 100)]
    path = drop(tmp_path, "hy_20240601.csv", ["D001,王小明,x"], mtime=OLD + 99)
    source = FileDropSource(spec(tmp_path, settle_seconds=5), clock=lambda: now[0])
    reader = source.read(None)

    assert not (await anext(reader)).changes  # modified 1 s ago
    now[0] += 3
    with path.open("ab") as stream:
        stream.write("D002,李娜,x\r\n".encode("gbk"))
    os.utime(path, (OLD + 103, OLD + 103))
    assert not (await anext(reader)).changes  # it grew: the clock restarts
    now[0] += 4
    assert not (await anext(reader)).changes  # 4 s unchanged is not enough
    now[0] += 2
    batch = await anext(reader)
    await reader.aclose()

    assert [c.key["DJBH"] for c in batch.changes] == ["D001", "D002"]


# --- full mode -----------------------------------------------------------------------------

def full(directory: Path, batch_size: int = 100) -> FileDropSource:
    return FileDropSource(spec(directory, batch_size, mode="full", state_dir=str(directory / "state")))


async def test_the_first_full_extract_is_a_snapshot_and_the_next_ones_yield_creates_updates_deletes(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x", "D002,李娜,x", "D003,张伟,x"])
    first = await drain(full(tmp_path), None)
    drop(tmp_path, "hy_2.csv", ["D001,王小明,x", "D002,李娜娜,x", "D004,赵六,x"])

    second = await drain(full(tmp_path), first[-1].checkpoint)  # a restart in between

    assert {c.op for c in changes(first)} == {"r"} and all(c.snapshot for c in changes(first))
    assert first[0].state == "snapshotting"
    assert summary(second) == [("u", "D002", "李娜娜"), ("c", "D004", "赵六"), ("d", "D003", None)]
    update, _, delete = changes(second)
    assert update.before == {"DJBH": "D002", "XM": "李娜", "DJRQ": "x"}
    assert delete.before == {"DJBH": "D003", "XM": "张伟", "DJRQ": "x"} and delete.after is None
    assert second[-1].checkpoint["generation"] == 2


async def test_a_crash_anywhere_in_a_full_extract_neither_loses_nor_doubles_a_change(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "hy_1.csv", [f"D{i:03},名{i},x" for i in range(6)])
    base = (await drain(full(tmp_path, 2), None))[-1].checkpoint
    drop(tmp_path, "hy_2.csv", ["D000,改,x", "D001,名1,x", "D007,新,x"])
    whole = await drain(full(tmp_path, 2), base)
    assert summary(whole) == [("u", "D000", "改"), ("c", "D007", "新"), ("d", "D002", None),
                              ("d", "D003", None), ("d", "D004", None), ("d", "D005", None)]

    for crash_after in range(1, len(whole)):
        committed = await first_batches(full(tmp_path, 2), base, crash_after)
        rest = await drain(full(tmp_path, 2), committed[-1].checkpoint)
        assert summary(committed) + summary(rest) == summary(whole), crash_after

    drop(tmp_path, "hy_3.csv", ["D000,改,x", "D007,新,x", "D008,又,x"])
    after = await drain(full(tmp_path, 2), whole[-1].checkpoint)
    assert summary(after) == [("c", "D008", "又"), ("d", "D001", None)]


async def test_a_line_whose_key_cannot_be_read_holds_back_the_deletes_until_a_clean_extract(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x", "D002,李娜,x"])
    first = await drain(full(tmp_path), None)
    (tmp_path / "hy_2.csv").write_bytes("DJBH,XM,DJRQ\nD001,王小明,x\n".encode("gbk") + b"D00\xff,?,x\n")
    os.utime(tmp_path / "hy_2.csv", (OLD, OLD))
    second = await drain(full(tmp_path), first[-1].checkpoint)
    drop(tmp_path, "hy_3.csv", ["D001,王小明,x"])

    third = await drain(full(tmp_path), second[-1].checkpoint)

    assert [(c.op, c.undecodable) for c in changes(second)] == [("c", (LINE_COLUMN,))]
    assert summary(third) == [("d", "D002", None)]


async def test_a_lost_state_file_is_reported_naming_the_state_dir(tmp_path: Path) -> None:
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x"])
    checkpoint = (await drain(full(tmp_path), None))[-1].checkpoint
    for file in (tmp_path / "state").iterdir():
        file.unlink()

    with pytest.raises(SourceMisconfigured, match=r"options\.state_dir"):
        await drain(full(tmp_path), checkpoint)


# --- check, discover, acknowledge ----------------------------------------------------------

async def test_check_names_the_directory_option_when_it_is_missing(tmp_path: Path) -> None:
    source: CaptureSource = FileDropSource(spec(tmp_path))  # the port, checked by mypy too
    assert isinstance(source, CaptureSource)
    with pytest.raises(SourceMisconfigured, match=r"options\.directory"):
        await FileDropSource(spec(tmp_path / "absent")).check()
    await FileDropSource(spec(tmp_path)).check()


async def test_discover_reports_the_table_with_the_columns_of_the_latest_header(tmp_path: Path) -> None:
    drop(tmp_path, "hy_1.csv", [], header="DJBH,XM")
    drop(tmp_path, "hy_2.csv", [], header="DJBH,XM,DJRQ")

    (info,) = await FileDropSource(spec(tmp_path)).discover()

    assert (info.name, info.columns, info.key_columns) == ("hy_djxx", ("DJBH", "XM", "DJRQ"), ("DJBH",))


async def test_acknowledge_archives_only_files_taken_in_the_acknowledged_checkpoint(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x"])
    (tmp_path / "hy_1.csv.done").touch()
    source = FileDropSource(spec(tmp_path, archive_directory=str(archive)))
    batches = await drain(source, None)
    drop(tmp_path, "hy_2.csv", ["D002,李娜,x"])

    await source.acknowledge(batches[-1].checkpoint)

    assert sorted(p.name for p in archive.iterdir()) == ["hy_1.csv", "hy_1.csv.done"]
    assert sorted(p.name for p in tmp_path.glob("hy_*")) == ["hy_2.csv"]
    again = await drain(FileDropSource(spec(tmp_path, archive_directory=str(archive))),
                        batches[-1].checkpoint)
    assert [c.position for c in changes(again)] == ["hy_2.csv:1"]


async def test_reading_ahead_of_the_acknowledgements_neither_loses_nor_doubles_a_change(
    tmp_path: Path,
) -> None:
    """The runner reads ahead (pipeline): generations are saved and files finished before the
    batches before them are acknowledged, and prunes and archives run alongside the read."""
    archive = tmp_path / "archive"

    def source() -> FileDropSource:
        return FileDropSource(spec(tmp_path, 2, mode="full", state_dir=str(tmp_path / "state"),
                                   archive_directory=str(archive)))

    drop(tmp_path, "hy_1.csv", [f"D{i:03},名{i},x" for i in range(5)])
    drop(tmp_path, "hy_2.csv", ["D000,改,x", "D001,名1,x", "D007,新,x"])
    ahead = await drain(source(), None)  # both files read before any acknowledgement
    first_file = next(i for i, b in enumerate(ahead) if b.checkpoint["generation"] == 1
                      and b.checkpoint["current"] is None)

    acknowledging = source()
    for batch in ahead[:first_file + 1]:  # Kafka confirmed the first file only: then a crash
        await acknowledging.acknowledge(batch.checkpoint)
    assert sorted(p.name for p in archive.iterdir()) == ["hy_1.csv"]
    rest = await drain(source(), ahead[first_file].checkpoint)

    assert summary(rest) == summary(ahead[first_file + 1:])
    assert summary(rest) == [("u", "D000", "改"), ("c", "D007", "新"), ("d", "D002", None),
                             ("d", "D003", None), ("d", "D004", None)]
    for batch in rest:
        await acknowledging.acknowledge(batch.checkpoint)
    drop(tmp_path, "hy_3.csv", ["D000,改,x", "D007,新,x", "D008,又,x"])
    assert summary(await drain(source(), rest[-1].checkpoint)) == [
        ("c", "D008", "又"), ("d", "D001", None)]


async def test_a_file_moved_away_while_the_directory_is_listed_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An acknowledgement archiving a taken file while the read lists the directory."""
    drop(tmp_path, "hy_1.csv", ["D001,王小明,x"])
    drop(tmp_path, "hy_2.csv", ["D002,李娜,x"])
    scandir = os.scandir

    def scandir_then_archive(path: Any) -> Any:
        entries = list(scandir(path))
        (tmp_path / "hy_1.csv").unlink()  # after the scan, before the entries' stat
        return iter(entries)

    monkeypatch.setattr(files_listing.os, "scandir", scandir_then_archive)
    listing = files_listing.list_directory(FileDropSource(spec(tmp_path)).options)

    assert [f.name for f in listing.files] == ["hy_2.csv"]
