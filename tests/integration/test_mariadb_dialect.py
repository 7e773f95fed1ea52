"""The MariaDB dialect and value conversion against a real throw-away MariaDB server."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest

from adapters.capture.engines.mariadb_sql import (
    MariaDbDialect,
    MariaDbSettings,
    float32_text,
    row_text,
    text_of,
)
from adapters.capture.source import SourceMisconfigured, SourceUnavailable
from adapters.capture.sql import SqlDialect
from adapters.capture.strategies.common import fetch
from tests.servers.mariadb import MariaDbServer, free_port, running_mariadb

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[MariaDbServer]:
    with running_mariadb() as started:
        started.execute(
            "CREATE TABLE person (sfzh VARCHAR(18), seq INT, xm VARCHAR(40) NOT NULL, "
            "csrq DATE, PRIMARY KEY (seq, sfzh))",
            "CREATE TABLE plain (id INT PRIMARY KEY)",
            "CREATE VIEW person_view AS SELECT xm FROM person",
        )
        yield started


def dialect_for(server: MariaDbServer, **overrides: object) -> MariaDbDialect:
    settings = {**server.connection_settings(), **overrides}
    return MariaDbDialect(MariaDbSettings(**settings))


def test_the_dialect_satisfies_the_sql_dialect_protocol(server: MariaDbServer) -> None:
    dialect: SqlDialect = dialect_for(server)
    assert (dialect.engine, dialect.param, dialect.database) == ("mariadb", "%s", "legacy")
    assert dialect.quote("we`ird") == "`we``ird`"
    assert dialect.as_text("`seq`") == "CAST(`seq` AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin"


def test_describe_reports_columns_in_table_order_and_the_composite_primary_key(
    server: MariaDbServer,
) -> None:
    dialect = dialect_for(server)
    connection = dialect.connect()
    try:
        info = dialect.describe(connection, "person")
    finally:
        connection.close()
    assert info.columns == ("sfzh", "seq", "xm", "csrq")
    assert info.key_columns == ("seq", "sfzh")


def test_tables_lists_base_tables_but_not_views(server: MariaDbServer) -> None:
    dialect = dialect_for(server)
    connection = dialect.connect()
    try:
        assert dialect.tables(connection) == ["person", "plain"]
    finally:
        connection.close()


def test_describe_of_a_missing_table_names_the_table(server: MariaDbServer) -> None:
    dialect = dialect_for(server)
    connection = dialect.connect()
    try:
        with pytest.raises(SourceMisconfigured, match=r"legacy\.nosuch"):
            dialect.describe(connection, "nosuch")
    finally:
        connection.close()


def test_a_consistent_read_does_not_see_rows_committed_after_it_began(
    server: MariaDbServer,
) -> None:
    dialect = dialect_for(server)
    server.execute("INSERT INTO plain VALUES (1)")
    connection = dialect.connect()
    try:
        cursor = connection.cursor()
        dialect.begin_consistent_read(cursor)
        cursor.execute(f"SELECT COUNT(*) FROM {dialect.quote('plain')}")
        before = cursor.fetchall()[0][0]
        server.execute("INSERT INTO plain VALUES (2)")
        cursor.execute(f"SELECT COUNT(*) FROM {dialect.quote('plain')}")
        assert cursor.fetchall()[0][0] == before
        connection.rollback()
    finally:
        connection.close()


def test_a_capture_read_is_its_own_transaction_and_the_next_one_sees_later_commits(
    server: MariaDbServer,
) -> None:
    """``autocommit_reads``: no transaction is opened or ended around a read, none is left
    open between polls, and each read sees what was committed before it."""
    dialect = dialect_for(server)
    assert dialect.autocommit_reads
    connection = dialect.connect()
    count = f"SELECT COUNT(*) FROM {dialect.quote('plain')}"
    try:
        _, (before,) = fetch(dialect, connection, count, [], consistent=True)
        server.execute(f"INSERT INTO plain VALUES ({before[0] + 100})")
        _, (after,) = fetch(dialect, connection, count, [], consistent=True)
        _, ((open_transaction,),) = fetch(dialect, connection, "SELECT @@in_transaction", [])
    finally:
        connection.close()

    assert after[0] == before[0] + 1
    assert open_transaction == 0


def test_keys_compare_as_text_through_as_text(server: MariaDbServer) -> None:
    server.execute("INSERT INTO person VALUES ('110101199003077777', 9, '张三', '1990-03-07'), "
                   "('110101199003077778', 10, '李四', NULL)")
    dialect = dialect_for(server)
    connection = dialect.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT xm FROM person WHERE {dialect.as_text('seq')} > {dialect.param} "
                       "ORDER BY xm", ("2",))
        assert [row[0] for row in cursor.fetchall()] == ["张三"]  # as text '9' > '2' but '10' < '2'
    finally:
        connection.close()


def test_values_become_text_like_the_sqlite_capture(server: MariaDbServer) -> None:
    assert text_of(datetime.date(1990, 3, 7)) == ("1990-03-07", True)
    assert text_of(datetime.datetime(2020, 1, 2, 3, 4, 5)) == ("2020-01-02 03:04:05", True)
    assert text_of(datetime.timedelta(hours=10, minutes=1, seconds=2)) == ("10:01:02", True)
    assert text_of(Decimal("12.50")) == ("12.50", True)
    assert text_of("张三".encode("gb18030")) == ("张三", True)
    assert text_of(b"\xff\xfe\xfd") == ("\\xff\\xfe\\xfd", False)
    assert float32_text(1.100000023841858) == "1.1"
    row, bad = row_text({"a": 1, "b": None, "c": b"\xff\xff"})
    assert row == {"a": "1", "b": None, "c": "\\xff\\xff"} and bad == ("c",)


def test_a_server_that_does_not_answer_is_unavailable_and_named() -> None:
    settings = MariaDbSettings("127.0.0.1", free_port(), "capture", "pw", "legacy", 2.0)
    with pytest.raises(SourceUnavailable, match=r"MariaDB at 127\.0\.0\.1:\d+ does not answer"):
        MariaDbDialect(settings).connect()


def test_a_wrong_password_is_a_misconfiguration_naming_the_user(server: MariaDbServer) -> None:
    with pytest.raises(SourceMisconfigured, match="'capture'"):
        dialect_for(server, password="wrong").connect()


def test_a_user_without_select_is_told_the_grant(server: MariaDbServer) -> None:
    server.create_user("noselect", "pw", "USAGE")
    with pytest.raises(SourceMisconfigured, match="GRANT SELECT ON `legacy`"):
        dialect_for(server, user="noselect", password="pw").connect()
