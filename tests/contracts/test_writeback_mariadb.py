"""MariaDB passes the write-back contract with the reference HRSS mapping (rsj.ac01).

The sink writes as an account allowed to write; the department's capture reads the binlog as
its read-only capture account, as in the demo. One throw-away server serves the module; every
test gets a database of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from adapters.capture.engines.mariadb_sql import MariaDbSettings, connect
from adapters.capture.rows import text_row
from tests.contracts.servers import execute_once
from tests.contracts.writeback_contract import LegacyTarget, Rows, WritebackContract, clerk_time
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = pytest.mark.integration
WRITER = "wbsink"

#: The demo's insured-persons table (bus/demo/departments/hrss.py).
AC01 = """CREATE TABLE ac01 (
    AAC001 VARCHAR(20) NOT NULL, AAC002 VARCHAR(40), AAC003 VARCHAR(40), AAC004 VARCHAR(4),
    AAC006 DATE, AAB001 VARCHAR(20), AAC008 CHAR(1), AAE036 DATETIME NOT NULL,
    PRIMARY KEY (AAC001)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


class MariaDbInsured(LegacyTarget):
    engine = "mariadb"
    mapping = "writeback/rsj.ac01.yaml"
    entity = "insurance_enrolment"
    department = "rsj"
    table = "ac01"
    key_column = "AAC001"
    name_column = "AAC003"
    updated_column = "AAE036"
    capture_strategy = "log"
    approval: ClassVar[dict[str, str]] = {"AAC008": "1", "AAC002": "110105202611020013"}

    def __init__(self, server: MariaDbServer) -> None:
        super().__init__()
        self.server = server
        self.database = f"wb{uuid.uuid4().hex[:10]}"
        server.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4", database="mysql")

    def connection(self) -> dict[str, Any]:
        return {**self.server.connection_settings(), "database": self.database,
                "user": WRITER, "password": WRITER}

    def capture_connection(self) -> dict[str, Any]:
        return {**self.server.connection_settings(), "database": self.database}

    def _execute(self, sql: str, params: Any = ()) -> None:
        execute_once(self.server.admin(self.database), sql, params)

    def create(self) -> None:
        self._execute(AC01)

    def rows(self) -> Rows:
        settings = self.server.connection_settings()
        connection = connect(MariaDbSettings(settings["host"], int(settings["port"]), WRITER,
                                             WRITER, self.database), autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM ac01")
                names = [d[0] for d in cursor.description]
                return {str(r[0]): text_row(names, r)[0] for r in cursor.fetchall()}
        finally:
            connection.close()

    def expected(self, value: dict[str, Any]) -> dict[str, str | None]:
        return {"AAC001": f"WB{value['enrolment_id']}", "AAC002": None, "AAC003": value["name"],
                "AAC004": "M" if value["sex_code"] == "1" else "F",
                "AAC006": value["birth_date"].isoformat(), "AAB001": None, "AAC008": "0"}

    def clerk_update(self, key: str, **values: str) -> None:
        sets = ", ".join(f"{c} = %s" for c in values)
        self._execute(f"UPDATE ac01 SET {sets}, AAE036 = %s WHERE AAC001 = %s",
                      (*values.values(), clerk_time(1), key))

    def clerk_insert(self, key: str) -> None:
        self._execute("INSERT INTO ac01 VALUES (%s, '110105199001010011', '王五', 'M', "
                      "'1990-01-01', NULL, '1', %s)", (key, clerk_time()))


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDbServer]:
    with running_mariadb() as server:
        server.create_user(WRITER, WRITER, "ALL PRIVILEGES")
        yield server


class TestMariaDbWriteback(WritebackContract):
    @pytest.fixture
    def legacy(self, mariadb: MariaDbServer) -> Iterator[LegacyTarget]:
        yield MariaDbInsured(mariadb)
