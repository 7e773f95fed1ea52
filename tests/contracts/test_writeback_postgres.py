"""PostgreSQL passes the write-back contract with the same Public Security mapping as SQLite.

Production Public Security runs its register on PostgreSQL; the sink writes it with the very
mapping the demo's SQLite register uses, and the department's capture reads it from the log
(pgoutput), whose text the ledger's fingerprints must match. One throw-away server serves the
module; every test gets a ``SQL_ASCII`` database of its own, as legacy ones often are (values,
ledger ids and catalog names come back as bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.capture.engines.postgres_connect import connect
from adapters.capture.rows import text_row
from tests.contracts.household_register import HouseholdRegister
from tests.contracts.servers import (
    connect_utf8,
    create_sql_ascii_database,
    drop_replication_slots,
    execute_once,
    postgres_or_skip,
)
from tests.contracts.writeback_contract import LegacyTarget, Rows, WritebackContract, clerk_time
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

HJ_RYXX = """CREATE TABLE hj_ryxx (
    "RYBH" varchar(32) PRIMARY KEY, "SFZH" varchar(18), "XM" varchar(40), "XB" varchar(4),
    "CSRQ" varchar(10), "HJDZ" text, "XZQH" char(6), "GXSJ" timestamp(0) NOT NULL)"""


class PostgresRegister(HouseholdRegister):
    engine = "postgres"
    capture_strategy = "log"

    def __init__(self, server: PostgresServer) -> None:
        super().__init__()
        self.server = server
        self.dbname = f"wb{uuid.uuid4().hex[:10]}"
        # SQL_ASCII, as many legacy databases are: the server stores the client's bytes
        # unchecked, so the sink names the encoding its text is written in (client_encoding).
        create_sql_ascii_database(server, self.dbname)

    def connection(self) -> dict[str, Any]:
        return {"dsn": self.server.dsn_for(self.server.user, self.dbname, client_encoding="UTF8")}

    def capture_connection(self) -> dict[str, Any]:
        return {"dsn": self.server.dsn_for(self.server.user, self.dbname)}

    def _execute(self, sql: str, params: Any = ()) -> None:
        execute_once(connect_utf8(self.server, self.dbname), sql, params)

    def create(self) -> None:
        self._execute(HJ_RYXX)

    def rows(self) -> Rows:
        connection = connect(self.server.dsn_for(self.server.user, self.dbname))  # as the capture
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM hj_ryxx")
                names = [d[0] for d in cursor.description]
                images = [text_row(names, r)[0] for r in cursor.fetchall()]
                return {str(image["RYBH"]): image for image in images}
        finally:
            connection.close()

    def clerk_update(self, key: str, **values: str) -> None:
        sets = ", ".join(f'"{c}" = %s' for c in values)
        self._execute(f'UPDATE hj_ryxx SET {sets}, "GXSJ" = %s WHERE "RYBH" = %s',
                      (*values.values(), clerk_time(1), key))

    def clerk_insert(self, key: str) -> None:
        self._execute("INSERT INTO hj_ryxx VALUES (%s, '110105199001010011', '王五', '1', "
                      "'19900101', '北京市', '110105', %s)", (key, clerk_time()))

    def release(self) -> None:
        """The capture's replication slot goes with the test (a walsender may take a moment)."""
        drop_replication_slots(self.server, self.dbname)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_or_skip()


class TestPostgresWriteback(WritebackContract):
    @pytest.fixture
    def legacy(self, pg: PostgresServer) -> Iterator[LegacyTarget]:
        register = PostgresRegister(pg)
        yield register
        register.release()
