"""PostgreSQL passes the write-back contract with the same Public Security mapping as SQLite.

Production Public Security runs its register on PostgreSQL; the sink writes it with the very
mapping the demo's SQLite register uses, and the department's capture reads it from the log
(pgoutput), whose text the ledger's fingerprints must match. One throw-away server serves the
module; every test gets a ``SQL_ASCII`` database of its own, as legacy ones often are (values,
ledger ids and catalog names come back as bytes).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import psycopg2
import pytest

from adapters.capture.engines.postgres_connect import connect
from adapters.capture.rows import text_row
from tests.contracts.writeback_contract import (
    LegacyTarget,
    Rows,
    WritebackContract,
    clerk_time,
    register_columns,
)
from tests.servers.postgres import PostgresServer, postgres_bin_dir, postgres_server

pytestmark = pytest.mark.integration

HJ_RYXX = """CREATE TABLE hj_ryxx (
    "RYBH" varchar(32) PRIMARY KEY, "SFZH" varchar(18), "XM" varchar(40), "XB" varchar(4),
    "CSRQ" varchar(10), "HJDZ" text, "XZQH" char(6), "GXSJ" timestamp(0) NOT NULL)"""


class PostgresRegister(LegacyTarget):
    engine = "postgres"
    mapping = "writeback/gongan.hj_ryxx.yaml"
    entity = "household_registration"
    department = "gongan"
    table = "hj_ryxx"
    key_column = "RYBH"
    name_column = "XM"
    updated_column = "GXSJ"
    capture_strategy = "log"
    approval: ClassVar[dict[str, str]] = {"SFZH": "110105202611020013"}

    def __init__(self, server: PostgresServer) -> None:
        super().__init__()
        self.server = server
        self.dbname = f"wb{uuid.uuid4().hex[:10]}"
        # SQL_ASCII, as many legacy databases are: the server stores the client's bytes
        # unchecked, so the sink names the encoding its text is written in (client_encoding).
        server.execute(f'CREATE DATABASE "{self.dbname}" ENCODING \'SQL_ASCII\' '
                       "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", dbname="postgres")

    def connection(self) -> dict[str, Any]:
        return {"dsn": self.server.dsn_for(self.server.user, self.dbname, client_encoding="UTF8")}

    def capture_connection(self) -> dict[str, Any]:
        return {"dsn": self.server.dsn_for(self.server.user, self.dbname)}

    def _execute(self, sql: str, params: Any = ()) -> None:
        connection = psycopg2.connect(self.server.dsn_for(self.server.user, self.dbname),
                                      client_encoding="UTF8")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        finally:
            connection.close()

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

    def expected(self, value: dict[str, Any]) -> dict[str, str | None]:
        return register_columns(value)

    def clerk_update(self, key: str, **values: str) -> None:
        sets = ", ".join(f'"{c}" = %s' for c in values)
        self._execute(f'UPDATE hj_ryxx SET {sets}, "GXSJ" = %s WHERE "RYBH" = %s',
                      (*values.values(), clerk_time(1), key))

    def clerk_insert(self, key: str) -> None:
        self._execute("INSERT INTO hj_ryxx VALUES (%s, '110105199001010011', '王五', '1', "
                      "'19900101', '北京市', '110105', %s)", (key, clerk_time()))

    def release(self) -> None:
        """The capture's replication slot goes with the test (a walsender may take a moment)."""
        deadline = time.monotonic() + 15
        while True:
            connection = self.server.connect(dbname="postgres")
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE database = %s AND NOT active", (self.dbname,))
                    cursor.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s",
                                   (self.dbname,))
                    left = int(cursor.fetchone()[0])
            finally:
                connection.close()
            if not left or time.monotonic() > deadline:
                return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    try:
        postgres_bin_dir()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield from postgres_server()


class TestPostgresWriteback(WritebackContract):
    @pytest.fixture
    def legacy(self, pg: PostgresServer) -> Iterator[LegacyTarget]:
        register = PostgresRegister(pg)
        yield register
        register.release()
