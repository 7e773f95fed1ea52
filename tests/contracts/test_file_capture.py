"""File drops pass the capture contract: full extracts (``diff``) and append-only drops.

The legacy "table" is a directory a department's system drops GBK CSV files into. Every file
is written to ``.tmp`` and renamed, as well-behaved producers do. In ``full`` mode each change
drops a new complete extract; in ``append`` mode each change drops a file of the new rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bus.settings import Settings
from tests.contracts.capture_contract import (
    BrokerOutageContract,
    CaptureContract,
    LegacyTable,
    Rows,
)

pytestmark = pytest.mark.integration
UNDECODABLE = b"\xff\xff\xfe"  # no GBK (nor GB18030, nor UTF-8) character starts with 0xFF


class DropDirectory(LegacyTable):
    """A drop directory; ``full``: every write is a complete extract, ``append``: new rows."""

    engine = "files"

    def __init__(self, directory: Path, mode: str) -> None:
        super().__init__()
        self.directory = directory
        self.mode = mode
        # ``diff`` is what full extracts mean for files; an append-only drop has no strategy
        # of its own, so it is configured as a one-off ``snapshot`` with ``mode: append``.
        self.strategy = "diff" if mode == "full" else "snapshot"
        self.sees_deletes = mode == "full"
        self.columns = ["ID", "NAME", "NOTE"]
        self.truth: dict[str, dict[str, str | None]] = {}
        self.bad_lines: list[bytes] = []
        self._sequence = itertools.count(1)
        directory.mkdir(parents=True, exist_ok=True)

    def connection(self) -> dict[str, Any]:
        return {"directory": str(self.directory)}

    def table_config(self) -> dict[str, Any]:
        return {**super().table_config(),
                "options": {"format": "csv", "encoding": "gbk", "header": True,
                            "settle_seconds": 0.2, "pattern": "people_*.csv", "mode": self.mode}}

    # --- writing files ---------------------------------------------------------------------
    def _line(self, values: list[str | None]) -> bytes:
        return ",".join(v or "" for v in values).encode("gbk")

    def _drop(self, rows: list[dict[str, str | None]], bad_lines: Sequence[bytes] = ()) -> None:
        """Write one file atomically: ``.tmp`` first, renamed when complete."""
        name = f"people_{next(self._sequence):06d}.csv"
        lines = [self._line(list(self.columns)),
                 *(self._line([row.get(c) for c in self.columns]) for row in rows), *bad_lines]
        temporary = self.directory / f"{name}.tmp"
        temporary.write_bytes(b"\r\n".join(lines) + b"\r\n")
        temporary.rename(self.directory / name)

    def _changed(self, rows: list[dict[str, str | None]]) -> None:
        """Drop what changed: the whole extract (full) or just these rows (append)."""
        if self.mode == "full":
            self._drop(list(self.truth.values()), self.bad_lines)
        else:
            self._drop(rows)

    # --- what clerks do --------------------------------------------------------------------
    def create(self, rows: list[dict[str, str]]) -> None:
        self.insert(rows)

    def insert(self, rows: list[dict[str, str]]) -> None:
        for row in rows:
            self.truth[row["ID"]] = {c: row.get(c) for c in self.columns}
            for column in row:
                if column not in self.columns:
                    raise AssertionError(f"column {column} was never added")
        self._changed([self.truth[row["ID"]] for row in rows])

    def update(self, key: str, **values: str) -> None:
        self.truth[key] = {**self.truth[key], **values}
        self._changed([self.truth[key]])

    def delete(self, key: str) -> None:
        if self.mode != "full":
            raise NotImplementedError("an append-only drop cannot express a delete")
        del self.truth[key]
        self._changed([])

    def add_column(self, name: str) -> None:
        self.columns.append(name)
        for row in self.truth.values():
            row.setdefault(name, None)

    def insert_undecodable(self, key: str) -> None:
        line = f"{key},".encode("gbk") + UNDECODABLE + b",x" + b"," * (len(self.columns) - 3)
        if self.mode == "full":
            self.bad_lines.append(line)  # part of the table: in every later extract too
            self._changed([])
        else:
            self._drop([], [line])

    def rows(self) -> Rows:
        return {k: dict(v) for k, v in self.truth.items()}

    # --- outages ---------------------------------------------------------------------------
    @property
    def _away(self) -> Path:
        return self.directory.with_name(self.directory.name + ".away")

    def stop(self) -> None:
        """The share is unmounted: the directory is gone (renamed away, contents kept)."""
        self.directory.rename(self._away)

    def start(self) -> None:
        if self._away.exists():
            self._away.rename(self.directory)


APPEND_HAS_NO_UPDATES = (
    "append mode publishes every record of every file as a create ('c'): a changed row "
    "arrives as a new 'c' (the topic still converges to it, checked by the other tests), never "
    "as 'u', and deletes cannot be expressed")


class TestFileDropFullExtracts(CaptureContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTable]:
        table = DropDirectory(tmp_path / "drops", "full")
        yield table
        table.start()


class TestFileDropAppend(CaptureContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTable]:
        table = DropDirectory(tmp_path / "drops", "append")
        yield table
        table.start()

    @pytest.mark.skip(reason=APPEND_HAS_NO_UPDATES)
    async def test_inserts_updates_and_deletes_arrive_after_the_snapshot(
        self, stack: Settings, legacy: LegacyTable, tmp_path: Path
    ) -> None:
        raise AssertionError("not applicable to append mode")


class TestFileDropBrokerOutage(BrokerOutageContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTable]:
        table = DropDirectory(tmp_path / "drops", "full")
        yield table
        table.start()
