"""SQLite passes the write-back contract with the reference Public Security mapping (hj_ryxx)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.rows import text_row
from tests.contracts.household_register import HouseholdRegister
from tests.contracts.writeback_contract import LegacyTarget, Rows, WritebackContract, clerk_time

pytestmark = pytest.mark.integration

#: The demo's household register (bus/demo/seed.py).
HJ_RYXX = """CREATE TABLE hj_ryxx (
    RYBH TEXT PRIMARY KEY, SFZH TEXT, XM TEXT, XB TEXT, CSRQ TEXT, HJDZ TEXT, XZQH TEXT,
    GXSJ TEXT NOT NULL)"""


class SqliteRegister(HouseholdRegister):
    engine = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def connection(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def _execute(self, sql: str, params: Any = ()) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute(sql, params)
        db.close()

    def create(self) -> None:
        self._execute(HJ_RYXX)

    def rows(self) -> Rows:
        with sqlite3.connect(self.path) as db:
            cursor = db.execute("SELECT * FROM hj_ryxx")
            names = [d[0] for d in cursor.description]
            rows = {str(r[0]): text_row(names, r)[0] for r in cursor.fetchall()}
        db.close()
        return rows

    def clerk_update(self, key: str, **values: str) -> None:
        sets = ", ".join(f"{c} = ?" for c in values)
        self._execute(f"UPDATE hj_ryxx SET {sets}, GXSJ = ? WHERE RYBH = ?",
                      (*values.values(), clerk_time(1), key))

    def clerk_insert(self, key: str) -> None:
        self._execute("INSERT INTO hj_ryxx VALUES (?, '110105199001010011', '王五', '1', "
                      "'19900101', '北京市', '110105', ?)", (key, clerk_time()))


class TestSqliteWriteback(WritebackContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTarget]:
        yield SqliteRegister(tmp_path / "gongan.sqlite")
