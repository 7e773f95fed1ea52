"""MariaDB passes the capture contract with the incremental, diff and log strategies.

One throw-away server serves the module; every test gets a database of its own, named after
its department (the capture user may read every database). Each log capture reads the binlog
under its own replica ``server_id``, derived from the department, so no two collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contracts.capture_contract import (
    BrokerOutageContract,
    CaptureContract,
    LegacyTable,
    Rows,
)
from tests.contracts.servers import UNDECODABLE, decoded_rows, execute_once
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = pytest.mark.integration


class MariaDbTable(LegacyTable):
    engine = "mariadb"

    def __init__(self, server: MariaDbServer, strategy: str) -> None:
        super().__init__()
        self.server = server
        self.strategy = strategy
        self.sees_deletes = strategy != "incremental"
        self.database = self.department
        server.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4",
                       database="mysql")

    def connection(self) -> dict[str, Any]:
        return {**self.server.connection_settings(), "database": self.database}

    def table_config(self) -> dict[str, Any]:
        config = super().table_config()
        if self.strategy == "incremental":
            config["updated_column"] = "GXSJ"
        return config

    def _execute(self, sql: str, params: Any = ()) -> None:
        execute_once(self.server.admin(self.database), sql, params)

    def create(self, rows: list[dict[str, str]]) -> None:
        # NAME is a binary string, as in legacy systems that store whatever bytes (often GBK)
        # their program hands over. MariaDB converts and validates character columns, so no
        # reader ever sees invalid bytes in them; only a binary column can hold (and deliver,
        # to SELECTs and to the binlog alike) bytes that are neither UTF-8 nor GB18030.
        self._execute("CREATE TABLE people (ID VARCHAR(20) PRIMARY KEY, NAME VARBINARY(200), "
                      "NOTE TEXT, GXSJ TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP "
                      "ON UPDATE CURRENT_TIMESTAMP)")
        self.insert(rows)

    def insert(self, rows: list[dict[str, str]]) -> None:
        connection = self.server.admin(self.database)
        try:
            with connection.cursor() as cursor:
                for row in rows:  # one statement (and transaction) per row, like a clerk
                    columns = ", ".join(f"`{c}`" for c in row)
                    marks = ", ".join(["%s"] * len(row))
                    cursor.execute(f"INSERT INTO people ({columns}, GXSJ) "
                                   f"VALUES ({marks}, CURRENT_TIMESTAMP)", tuple(row.values()))
        finally:
            connection.close()

    def update(self, key: str, **values: str) -> None:
        sets = ", ".join(f"`{c}` = %s" for c in values)
        self._execute(f"UPDATE people SET {sets}, GXSJ = CURRENT_TIMESTAMP WHERE ID = %s",
                      (*values.values(), key))

    def delete(self, key: str) -> None:
        self._execute("DELETE FROM people WHERE ID = %s", (key,))

    def add_column(self, name: str) -> None:
        self._execute(f"ALTER TABLE people ADD COLUMN `{name}` TEXT")

    def insert_undecodable(self, key: str) -> None:
        self._execute("INSERT INTO people (ID, NAME, NOTE, GXSJ) "
                      "VALUES (%s, %s, 'x', CURRENT_TIMESTAMP)", (key, UNDECODABLE))

    def rows(self) -> Rows:
        connection = self.server.admin(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM people")
                return decoded_rows(cursor, "ID")
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDbServer]:
    with running_mariadb() as server:
        yield server


def _table(server: MariaDbServer, strategy: str) -> Iterator[LegacyTable]:
    table = MariaDbTable(server, strategy)
    try:
        yield table
    finally:
        table.start()


class TestMariaDbIncremental(CaptureContract):
    @pytest.fixture
    def legacy(self, mariadb: MariaDbServer) -> Iterator[LegacyTable]:
        yield from _table(mariadb, "incremental")


class TestMariaDbIncrementalInSourceProcess(TestMariaDbIncremental):
    """The same contract with the source in a child process (``BUS_CAPTURE_SOURCE_PROCESS``)."""

    source_process = True


class TestMariaDbDiff(CaptureContract):
    @pytest.fixture
    def legacy(self, mariadb: MariaDbServer) -> Iterator[LegacyTable]:
        yield from _table(mariadb, "diff")


class TestMariaDbLog(CaptureContract):
    @pytest.fixture
    def legacy(self, mariadb: MariaDbServer) -> Iterator[LegacyTable]:
        yield from _table(mariadb, "log")


class TestMariaDbBrokerOutage(BrokerOutageContract):
    @pytest.fixture(params=["incremental", "diff", "log"])
    def legacy(self, mariadb: MariaDbServer, request: pytest.FixtureRequest
               ) -> Iterator[LegacyTable]:
        yield from _table(mariadb, request.param)
