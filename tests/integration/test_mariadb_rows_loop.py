"""A capture connection reads a buffered result's rows as PyMySQL does, against a real server:
every row and value, a row longer than one packet, and an error in the middle of the rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pymysql.err
import pytest

from adapters.capture.engines.mariadb_rows import MAX_PACKET_LEN, CaptureConnection
from adapters.capture.engines.mariadb_sql import MariaDbSettings, text_time_conversions
from bus.speedups import speedups
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(speedups() is None, reason="speedups not built")]
ROWS = 3000


@pytest.fixture(scope="module")
def server() -> Iterator[MariaDbServer]:
    with running_mariadb() as started:
        started.execute("SET GLOBAL max_allowed_packet = 67108864")  # the 17 MB row below
        started.execute(  # on a new connection, which has the new limit
            "CREATE TABLE wide (id INT PRIMARY KEY, name VARCHAR(300), born DATE, "
            "seen DATETIME(6), amount DECIMAL(12, 2), photo BLOB, note TEXT)",
            "INSERT INTO wide SELECT seq, IF(seq % 7 = 0, NULL, CONCAT('张三', REPEAT('李', seq % 90))), "
            "IF(seq % 5 = 0, NULL, DATE_ADD('1950-01-01', INTERVAL seq DAY)), "
            "TIMESTAMPADD(MICROSECOND, seq * 1000001, '2024-01-01'), seq / 3, "
            "IF(seq % 3 = 0, UNHEX(MD5(seq)), NULL), REPEAT('x', seq % 400) "
            f"FROM seq_1_to_{ROWS}",
            "CREATE TABLE big (id INT PRIMARY KEY, payload LONGTEXT)",
            f"INSERT INTO big VALUES (1, 'short'), (2, REPEAT('大', {MAX_PACKET_LEN // 3 + 10})), "
            "(3, 'after')",
        )
        yield started


def connections(server: MariaDbServer) -> tuple[Any, Any]:
    """A capture connection and PyMySQL's own, with the same settings and conversions."""
    kwargs = {**MariaDbSettings(**server.connection_settings()).pymysql_kwargs(),
              "autocommit": True, "conv": text_time_conversions()}
    return CaptureConnection(**kwargs), pymysql.connections.Connection(**kwargs)


def rows_of(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_every_row_and_value_as_pymysql_reads_them(server: MariaDbServer) -> None:
    capture, plain = connections(server)
    try:
        for sql in ("SELECT * FROM wide ORDER BY id", "SELECT note, id FROM wide WHERE id < 0",
                    "SELECT * FROM wide ORDER BY id DESC LIMIT 1"):
            assert rows_of(capture, sql) == rows_of(plain, sql)
        assert len(rows_of(capture, "SELECT * FROM wide")) == ROWS
    finally:
        capture.close()
        plain.close()


def test_a_row_longer_than_one_packet_and_the_rows_after_it(server: MariaDbServer) -> None:
    capture, plain = connections(server)
    try:
        sql = "SELECT payload, id FROM big ORDER BY id"  # the long value first: an 8-byte length
        read = rows_of(capture, sql)
        assert [row[1] for row in read] == [1, 2, 3]
        assert len(read[1][0].encode()) > MAX_PACKET_LEN
        assert read == rows_of(plain, sql)
    finally:
        capture.close()
        plain.close()


def test_an_error_after_some_rows_is_raised_and_the_connection_reads_on(
        server: MariaDbServer) -> None:
    capture, plain = connections(server)
    sql = "SELECT id, EXP(id) FROM wide ORDER BY id"  # out of range from id 710 on
    try:
        raised = []
        for connection in (capture, plain):
            with pytest.raises(pymysql.err.MySQLError) as caught:
                rows_of(connection, sql)
            raised.append((type(caught.value), caught.value.args))
        assert raised[0] == raised[1]
        assert rows_of(capture, "SELECT COUNT(*) FROM wide") == [(ROWS,)]
    finally:
        capture.close()
        plain.close()
