"""A GBK CSV export directory passes the write-back contract (Civil Affairs, mz.csdj).

An export has no conflicts and no echoes (its department never writes it, the capture never
reads it); what it must show is the rest: one whole file per batch, every event once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.writeback_contract import LegacyTarget, Rows, WritebackContract

pytestmark = pytest.mark.integration


class CivilAffairsExport(LegacyTarget):
    engine = "files"
    mapping = "writeback/mz.csdj.yaml"
    entity = "household_registration"
    department = "mz"
    table = "csdj"
    key_column = "DJBH"
    name_column = "XM"
    updated_column = "SQSJ"
    changeable = False

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def connection(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "encoding": "gbk"}

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def lines(self) -> list[dict[str, str]]:
        """Every exported line, file by file in offset order (hidden temporary files excluded)."""
        found: list[dict[str, str]] = []
        for path in sorted(self.directory.glob("csdj_p*.csv")):
            with open(path, encoding="gbk", newline="") as handle:
                found.extend(csv.DictReader(handle))
        return found

    def rows(self) -> Rows:
        return {line["DJBH"]: {k: v or None for k, v in line.items()} for line in self.lines()}

    def line_count(self) -> int:
        return len(self.lines())

    def expected(self, value: dict[str, Any]) -> dict[str, str | None]:
        born = value["birth_date"]
        return {"DJBH": value["registration_id"], "XM": value["name"],
                "XB": "男" if value["sex_code"] == "1" else "女",
                "CSRQ": f"{born.year}年{born.month}月{born.day}日",
                "CSZMBH": value["certificate_number"], "FQ_SFZH": None,
                "SQSJ": "2026-11-25 16:30:00"}


class TestFileExportWriteback(WritebackContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTarget]:
        yield CivilAffairsExport(tmp_path / "mz" / "export")
