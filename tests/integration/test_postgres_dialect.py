"""PostgresDialect against a real throw-away server: what the generic SQL strategies rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from adapters.capture.engines.postgres import PostgresDialect
from adapters.capture.source import SourceMisconfigured, SourceUnavailable
from adapters.capture.strategies.common import fetch
from tests.servers.postgres import PostgresServer, free_port, postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    for server in postgres_server():
        server.execute(
            'CREATE TABLE "HJ_RYXX" ("SFZH" varchar(18), "SEQ" integer, "XM" text, '
            '"CSRQ" date, "GXSJ" timestamp, "OK" boolean, "JE" numeric(8,2), "ZP" bytea, '
            'PRIMARY KEY ("SEQ", "SFZH"))',
            "CREATE TABLE no_key (a text)",
            "CREATE VIEW not_a_table AS SELECT 1 AS one",
            """INSERT INTO "HJ_RYXX" VALUES ('110101199003071234', 9, '张三', '1990-03-07',
               '2024-03-07 08:00:00.5', true, 12.50, '\\xcdf5cee5'),
               ('110101199003071234', 10, NULL, NULL, NULL, NULL, NULL, NULL)""")
        yield server


@pytest.fixture
def dialect(pg: PostgresServer) -> PostgresDialect:
    return PostgresDialect(pg.dsn)


@pytest.fixture
def connection(dialect: PostgresDialect) -> Iterator[Any]:
    conn: Any = dialect.connect()
    yield conn
    conn.close()


def test_describe_reports_columns_in_table_order_and_the_primary_key(
        dialect: PostgresDialect, connection: Any) -> None:
    info = dialect.describe(connection, "HJ_RYXX")
    assert info.columns == ("SFZH", "SEQ", "XM", "CSRQ", "GXSJ", "OK", "JE", "ZP")
    assert info.key_columns == ("SEQ", "SFZH")
    assert dialect.describe(connection, "no_key").key_columns == ()


def test_tables_lists_base_tables_only(dialect: PostgresDialect, connection: Any) -> None:
    assert dialect.tables(connection) == ["HJ_RYXX", "no_key"]


def test_missing_table_is_a_misconfiguration(dialect: PostgresDialect, connection: Any) -> None:
    with pytest.raises(SourceMisconfigured, match="nope"):
        dialect.describe(connection, "nope")


def test_values_come_back_as_postgresql_text(dialect: PostgresDialect, connection: Any) -> None:
    cursor = connection.cursor()
    cursor.execute(f'SELECT * FROM {dialect.qualified("HJ_RYXX")} ORDER BY "SEQ"')
    first, second = cursor.fetchall()
    assert first[:7] == ("110101199003071234", 9, "张三", "1990-03-07", "2024-03-07 08:00:00.5",
                         "t", "12.50")
    assert bytes(first[7]).decode("gb18030") == "王五"
    assert second[2:] == (None,) * 6


def test_as_text_orders_keys_like_python_does(dialect: PostgresDialect, connection: Any) -> None:
    cursor = connection.cursor()
    seq = dialect.as_text(dialect.quote("SEQ"))
    cursor.execute(f'SELECT {seq} FROM "HJ_RYXX" WHERE {seq} > {dialect.param} ORDER BY {seq}',
                   ("0",))
    values = [r[0] for r in cursor.fetchall()]
    assert values == sorted(["9", "10"]) == ["10", "9"]


def test_connections_are_read_only(dialect: PostgresDialect, connection: Any) -> None:
    cursor = connection.cursor()
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        cursor.execute("CREATE TABLE forbidden (a int)")


def test_begin_consistent_read_sees_one_snapshot(
        pg: PostgresServer, dialect: PostgresDialect, connection: Any) -> None:
    connection.autocommit = False  # as a caller that reads in transactions has it
    cursor = connection.cursor()
    cursor.execute("SELECT 1")  # a transaction is already open: it is replaced
    dialect.begin_consistent_read(cursor)
    cursor.execute('SELECT count(*) FROM "HJ_RYXX"')
    before = cursor.fetchone()[0]
    pg.execute("""INSERT INTO "HJ_RYXX" ("SFZH", "SEQ") VALUES ('x', 99)""")
    try:
        cursor.execute('SELECT count(*) FROM "HJ_RYXX"')
        assert cursor.fetchone()[0] == before
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone()[0] == "repeatable read"
    finally:
        connection.rollback()
        pg.execute("""DELETE FROM "HJ_RYXX" WHERE "SEQ" = 99""")


def test_quote_escapes_double_quotes(dialect: PostgresDialect) -> None:
    assert dialect.quote('a"b') == '"a""b"'
    assert dialect.param == "%s" and dialect.database == "legacy" and dialect.engine == "postgresql"


def test_nobody_listening_is_unavailable_naming_host_and_port() -> None:
    port = free_port()
    dialect = PostgresDialect(f"host=127.0.0.1 port={port} dbname=x user=y connect_timeout=3")
    with pytest.raises(SourceUnavailable, match=f"PostgreSQL at 127.0.0.1:{port} does not answer"):
        dialect.connect()


def test_unknown_role_is_a_misconfiguration(pg: PostgresServer) -> None:
    with pytest.raises(SourceMisconfigured, match="role 'ghost' does not exist"):
        PostgresDialect(pg.dsn_for("ghost")).connect()


def test_a_capture_read_is_its_own_read_only_transaction_and_sees_later_commits(
        pg: PostgresServer, dialect: PostgresDialect, connection: Any) -> None:
    """``autocommit_reads``: a read is one statement, no transaction is left open between
    polls (none would hold back vacuum), each read sees what was committed before it, and
    the connection still cannot write."""
    assert dialect.autocommit_reads
    count = f"SELECT COUNT(*) FROM {dialect.quote('no_key')}"
    _, [(before,)] = fetch(dialect, connection, count, [], consistent=True)
    pg.execute("INSERT INTO no_key VALUES ('later')")
    _, [(after,)] = fetch(dialect, connection, count, [], consistent=True)

    assert int(after) == int(before) + 1
    assert connection.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        connection.cursor().execute("INSERT INTO no_key VALUES ('written')")
