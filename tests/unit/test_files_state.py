"""The ``full``-mode state file: generations stored as chunks of lines read back exactly,
generations stored a row per table row (before chunks) still read, and a damaged generation
refused with the setting to look at."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.capture.engines import files_state
from adapters.capture.engines.files_diff import _to_json, key_json, row_hash
from adapters.capture.engines.files_state import ExtractRows, ExtractState
from adapters.capture.source import SourceMisconfigured


def generation(values: list[str]) -> ExtractRows:
    rows: ExtractRows = {}
    for i, value in enumerate(values):
        row = {"id": str(i), "v": value, "empty": None}
        rows[key_json(row, ["id"])] = (row_hash(row), _to_json(row))
    return rows


AWKWARD = ["张三", "tab\there", "line\nbreak", "cr\r", "\\t", "\u2028", "", "a\tb\nc", "末"]


def test_a_generation_is_read_back_exactly_over_chunk_boundaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_state, "CHUNK_ROWS", 4)
    state = ExtractState(tmp_path / "state.sqlite")
    rows = generation(AWKWARD * 3)  # 27 rows: six chunks of four, one of three

    state.save(1, "a.csv", "sha", rows)

    assert state.load(1) == rows
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT count(*) FROM extract_chunks").fetchone() == (7,)


def test_saving_again_replaces_an_earlier_attempt_and_loading_drops_newer_generations(
        tmp_path: Path) -> None:
    state = ExtractState(tmp_path / "state.sqlite")
    first, second = generation(["a", "b"]), generation(["x"])
    state.save(1, "a.csv", "sha1", first)
    state.save(2, "b.csv", "sha2", generation(["never", "published"]))
    state.save(2, "b.csv", "sha2", second)  # the same generation again, after a crash
    assert state.load(2) == second

    assert state.load(1) == first  # a checkpoint of generation 1: 2 was never published
    with pytest.raises(SourceMisconfigured, match="generation 2 is missing"):
        state.load(2)


def test_a_generation_stored_a_row_per_table_row_is_still_read_and_pruned(tmp_path: Path) -> None:
    state = ExtractState(tmp_path / "state.sqlite")
    old = generation(AWKWARD)
    state.load(0)  # creates the tables
    with sqlite3.connect(state.path) as db:
        db.execute("INSERT INTO generations VALUES (1, 'a.csv', 'sha', ?)", (len(old),))
        db.executemany("INSERT INTO extract_rows VALUES (1, ?, ?, ?)",
                       [(key, digest, row) for key, (digest, row) in old.items()])

    assert state.load(1) == old
    state.save(2, "b.csv", "sha2", generation(["new"]))
    state.prune_before(2)
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT count(*) FROM extract_rows").fetchone() == (0,)
    assert state.load(2) == generation(["new"])


def test_a_generation_missing_rows_is_refused_naming_the_state_setting(tmp_path: Path) -> None:
    state = ExtractState(tmp_path / "state.sqlite")
    state.save(1, "a.csv", "sha", generation(AWKWARD))
    with sqlite3.connect(state.path) as db:
        db.execute("UPDATE generations SET row_count = row_count + 1")

    with pytest.raises(SourceMisconfigured, match=r"options\.state_dir\) holds 9 rows, not 10"):
        state.load(1)
