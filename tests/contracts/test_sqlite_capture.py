"""SQLite passes the capture contract with the incremental and diff strategies."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.capture_contract import (
    BrokerOutageContract,
    CaptureContract,
    LegacyTable,
    Rows,
)

pytestmark = pytest.mark.integration
NOW = "strftime('%Y-%m-%d %H:%M:%S', 'now')"


class SqliteTable(LegacyTable):
    engine = "sqlite"

    def __init__(self, path: Path, strategy: str) -> None:
        super().__init__()
        self.path = path
        self.strategy = strategy
        self.sees_deletes = strategy != "incremental"
        self._lock: sqlite3.Connection | None = None

    def connection(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def table_config(self) -> dict[str, Any]:
        config = super().table_config()
        if self.strategy == "incremental":
            config["updated_column"] = "GXSJ"
        return config

    def _execute(self, sql: str, params: Any = ()) -> None:
        with sqlite3.connect(self.path) as db:
            if isinstance(params, list):
                db.executemany(sql, params)
            else:
                db.execute(sql, params)

    def create(self, rows: list[dict[str, str]]) -> None:
        self._execute('CREATE TABLE people (ID TEXT PRIMARY KEY, NAME TEXT, NOTE TEXT, GXSJ TEXT)')
        self.insert(rows)

    def insert(self, rows: list[dict[str, str]]) -> None:
        for row in rows:
            columns = list(row)
            marks = ", ".join("?" * len(columns))
            self._execute(f"INSERT INTO people ({', '.join(columns)}, GXSJ) VALUES ({marks}, {NOW})",
                          tuple(row.values()))

    def update(self, key: str, **values: str) -> None:
        sets = ", ".join(f"{c} = ?" for c in values)
        self._execute(f"UPDATE people SET {sets}, GXSJ = {NOW} WHERE ID = ?",
                      (*values.values(), key))

    def delete(self, key: str) -> None:
        self._execute("DELETE FROM people WHERE ID = ?", (key,))

    def add_column(self, name: str) -> None:
        self._execute(f"ALTER TABLE people ADD COLUMN {name} TEXT")

    def insert_undecodable(self, key: str) -> None:
        self._execute(f"INSERT INTO people (ID, NAME, NOTE, GXSJ) VALUES (?, ?, 'x', {NOW})",
                      (key, b"\xff\xff\xfe"))

    def rows(self) -> Rows:
        with sqlite3.connect(self.path) as db:
            db.row_factory = sqlite3.Row
            return {r["ID"]: dict(r) for r in db.execute("SELECT * FROM people")
                    if not isinstance(r["NAME"], bytes)}

    def stop(self) -> None:
        # The legacy application holds an exclusive lock: readers cannot get in.
        self._lock = sqlite3.connect(self.path, isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def start(self) -> None:
        if self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None


class TestSqliteIncremental(CaptureContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTable]:
        table = SqliteTable(tmp_path / "legacy.sqlite", "incremental")
        yield table
        table.start()


class TestSqliteIncrementalWithWorkers(TestSqliteIncremental):
    """The same contract with records built in a worker process (``BUS_CAPTURE_WORKERS``)."""

    pipeline = True
    workers = 1


class TestSqliteIncrementalOneBatchAtATime(TestSqliteIncremental):
    """The same contract without reading ahead (``BUS_CAPTURE_PIPELINE=false``)."""

    pipeline = False
    workers = 0


class TestSqliteDiff(CaptureContract):
    @pytest.fixture
    def legacy(self, tmp_path: Path) -> Iterator[LegacyTable]:
        table = SqliteTable(tmp_path / "legacy.sqlite", "diff")
        yield table
        table.start()


class TestSqliteDiffInCaptureProcess(TestSqliteDiff):
    """The same contract with the source in the capture process
    (``BUS_CAPTURE_SOURCE_PROCESS=false``; SQLite sources run in a child of their own by
    default, where ``diff`` calls back into them for each transaction's ``durable``)."""

    source_process = False


class TestSqliteBrokerOutage(BrokerOutageContract):
    @pytest.fixture(params=["incremental", "diff"])
    def legacy(self, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LegacyTable]:
        table = SqliteTable(tmp_path / "legacy.sqlite", request.param)
        yield table
        table.start()
