"""What the engines' contract modules share about their throw-away servers: a PostgreSQL server
(or a skip), ``SQL_ASCII`` databases, statements run by a clerk's program, rows as text, and
the replication slots a log capture leaves behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from tests.servers.postgres import PostgresServer, postgres_bin_dir, postgres_server

#: A text column's value that is neither UTF-8 nor GB18030 (0xFF starts no character of either).
UNDECODABLE = b"\xff\xff\xfe"


def postgres_or_skip() -> Iterator[PostgresServer]:
    """Generator for a module's server fixture: skips where no PostgreSQL is installed."""
    try:
        postgres_bin_dir()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield from postgres_server()


def create_sql_ascii_database(server: PostgresServer, dbname: str) -> None:
    """A ``SQL_ASCII`` database, as many legacy ones are: the server stores the bytes clients
    send unchecked."""
    server.execute(f'CREATE DATABASE "{dbname}" ENCODING \'SQL_ASCII\' '
                   "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", dbname="postgres")


def connect_utf8(server: PostgresServer, dbname: str) -> Any:
    """An autocommit connection writing UTF-8, as the clerks' programs do."""
    connection = psycopg2.connect(server.dsn_for(server.user, dbname), client_encoding="UTF8")
    connection.autocommit = True
    return connection


def execute_once(connection: Any, sql: str, params: Any = ()) -> None:
    """Run one statement on a DB-API ``connection``, then close it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        connection.close()


def decoded_rows(cursor: Any, key: str) -> dict[str, dict[str, str | None]]:
    """The rows of the last query on ``cursor`` by ``key``, every value as text; a row with bytes
    that are not UTF-8 is left out (it is in quarantine, not on the topic)."""
    names = [str(d[0]) for d in cursor.description]
    found: dict[str, dict[str, str | None]] = {}
    for values in cursor.fetchall():
        try:
            row = {n: v.decode("utf-8") if isinstance(v, bytes) else
                   (None if v is None else str(v))
                   for n, v in zip(names, values, strict=True)}
        except UnicodeDecodeError:
            continue
        found[str(row[key])] = row
    return found


def drop_replication_slots(server: PostgresServer, dbname: str) -> None:
    """Drop the replication slots of ``dbname`` (a stopped capture's walsender may need a
    moment to let go of its slot; gives up after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        connection = server.connect(dbname="postgres")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE database = %s AND NOT active", (dbname,))
                cursor.execute("SELECT count(*) FROM pg_replication_slots WHERE database = %s",
                               (dbname,))
                left = int(cursor.fetchone()[0])
        finally:
            connection.close()
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.2)
