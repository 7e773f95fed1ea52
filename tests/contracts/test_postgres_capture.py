"""PostgreSQL passes the capture contract with the incremental, diff and log strategies.

One throw-away server serves the module; every test gets a database of its own, named after
its department. The databases are ``SQL_ASCII`` like many legacy ones: PostgreSQL stores the
bytes clients send without checking them, so a clerk's program can leave bytes in a text column
that are neither UTF-8 nor GB18030 — which is how an undecodable row comes to exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from tests.contracts.capture_contract import (
    BrokerOutageContract,
    CaptureContract,
    LegacyTable,
    Rows,
)
from tests.contracts.servers import (
    UNDECODABLE,
    connect_utf8,
    create_sql_ascii_database,
    decoded_rows,
    drop_replication_slots,
    execute_once,
    postgres_or_skip,
)
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration
#: Legacy programs stamp rows to the second, from the statement's start.
NOW = "date_trunc('second', LOCALTIMESTAMP)"


class PostgresTable(LegacyTable):
    engine = "postgres"

    def __init__(self, server: PostgresServer, strategy: str) -> None:
        super().__init__()
        self.server = server
        self.strategy = strategy
        self.sees_deletes = strategy != "incremental"
        self.dbname = self.department
        create_sql_ascii_database(server, self.dbname)

    def connection(self) -> dict[str, Any]:
        return {"dsn": self.server.dsn_for(self.server.user, self.dbname)}

    def table_config(self) -> dict[str, Any]:
        config = super().table_config()
        if self.strategy == "incremental":
            config["updated_column"] = "GXSJ"
        return config

    def _connect(self) -> Any:
        # The clerks' program writes UTF-8; a SQL_ASCII database stores it unchanged.
        return connect_utf8(self.server, self.dbname)

    def _execute(self, sql: str, params: Any = ()) -> None:
        execute_once(self._connect(), sql, params)

    def create(self, rows: list[dict[str, str]]) -> None:
        self._execute('CREATE TABLE people ("ID" text PRIMARY KEY, "NAME" text, "NOTE" text, '
                      '"GXSJ" timestamp(0))')
        self.insert(rows)

    def insert(self, rows: list[dict[str, str]]) -> None:
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                for row in rows:  # one statement (and transaction) per row, like a clerk
                    columns = ", ".join(f'"{c}"' for c in row)
                    marks = ", ".join(["%s"] * len(row))
                    cursor.execute(f'INSERT INTO people ({columns}, "GXSJ") VALUES ({marks}, {NOW})',
                                   tuple(row.values()))
        finally:
            connection.close()

    def update(self, key: str, **values: str) -> None:
        sets = ", ".join(f'"{c}" = %s' for c in values)
        self._execute(f'UPDATE people SET {sets}, "GXSJ" = {NOW} WHERE "ID" = %s',
                      (*values.values(), key))

    def delete(self, key: str) -> None:
        self._execute('DELETE FROM people WHERE "ID" = %s', (key,))

    def add_column(self, name: str) -> None:
        self._execute(f'ALTER TABLE people ADD COLUMN "{name}" text')

    def insert_undecodable(self, key: str) -> None:
        # convert_from(bytes, 'SQL_ASCII') into a SQL_ASCII database copies the bytes unchecked.
        self._execute(f'INSERT INTO people ("ID", "NAME", "NOTE", "GXSJ") VALUES '
                      f"(%s, convert_from(%s, 'SQL_ASCII'), 'x', {NOW})",
                      (key, psycopg2.Binary(UNDECODABLE)))

    def rows(self) -> Rows:
        connection = psycopg2.connect(self.server.dsn_for(self.server.user, self.dbname))
        try:
            psycopg2.extensions.register_type(psycopg2.extensions.BYTES, connection)
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM people")
                return decoded_rows(cursor, "ID")
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def release(self) -> None:
        """After the test: the server up again, and this database's replication slot gone."""
        self.server.start()
        drop_replication_slots(self.server, self.dbname)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_or_skip()


def _table(server: PostgresServer, strategy: str) -> Iterator[LegacyTable]:
    table = PostgresTable(server, strategy)
    try:
        yield table
    finally:
        table.release()


class TestPostgresIncremental(CaptureContract):
    @pytest.fixture
    def legacy(self, pg: PostgresServer) -> Iterator[LegacyTable]:
        yield from _table(pg, "incremental")


class TestPostgresDiff(CaptureContract):
    @pytest.fixture
    def legacy(self, pg: PostgresServer) -> Iterator[LegacyTable]:
        yield from _table(pg, "diff")


class TestPostgresLog(CaptureContract):
    @pytest.fixture
    def legacy(self, pg: PostgresServer) -> Iterator[LegacyTable]:
        yield from _table(pg, "log")


class TestPostgresBrokerOutage(BrokerOutageContract):
    @pytest.fixture(params=["incremental", "diff", "log"])
    def legacy(self, pg: PostgresServer, request: pytest.FixtureRequest) -> Iterator[LegacyTable]:
        yield from _table(pg, request.param)
