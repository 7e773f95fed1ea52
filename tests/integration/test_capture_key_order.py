"""The SQL strategies page keys in their own order, on SQLite, PostgreSQL and MariaDB alike.

Integer keys whose text order is not their order (``9`` < ``10``), identity-number keys beyond
a double's precision, composite keys, and checkpoints stored by the version that compared keys
as text: each row is read once, the diff still finds inserts, updates and deletes (the last
keys included), and a text-ordered checkpoint resumes without losing or repeating a row.
Driven through :class:`SqlTableSource` as the runner drives it; no Kafka.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import aclosing, closing
from pathlib import Path
from typing import Any

import pytest

from adapters.capture import keys
from adapters.capture.engines.mariadb_sql import MariaDbDialect, MariaDbSettings
from adapters.capture.engines.postgres import PostgresDialect
from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import Batch, Change, Checkpoint, TableSpec
from adapters.capture.sql import DbApiConnection, KeyOrder, SqlDialect
from adapters.capture.sql_source import SqlTableSource
from tests.servers.mariadb import running_mariadb
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

T1, T2, T3 = "2024-01-01 00:00:01", "2024-01-01 00:00:02", "2024-01-01 00:00:03"
BIG = 110101199000000000  # 18-digit identity numbers: beyond 2**53, doubles merge neighbours


class Legacy:
    """One engine's legacy database: statements in autocommit, and its dialect."""

    def __init__(self, engine: str, dialect: SqlDialect, run: Any) -> None:
        self.engine = engine
        self.dialect = dialect
        self._run = run
        self.tables = 0

    def execute(self, *statements: str) -> None:
        self._run(statements)

    def table(self, columns: str, *, integer_key: str = "id BIGINT") -> str:
        """A fresh table; ``integer_key`` as SQLite's rowid when the engine is SQLite."""
        self.tables += 1
        name = f"t{self.tables}"
        if self.engine == "sqlite":
            integer_key = integer_key.replace("BIGINT", "INTEGER")
        self.execute(f"CREATE TABLE {name} ({integer_key}, {columns})")
        return name


@pytest.fixture(scope="module", params=["sqlite", "postgres", "mariadb"])
def legacy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Legacy]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "legacy.sqlite"

        def run_sqlite(statements: Sequence[str]) -> None:
            with closing(sqlite3.connect(path, isolation_level=None)) as db:
                for statement in statements:
                    db.execute(statement)

        run_sqlite(["PRAGMA journal_mode=WAL"])
        yield Legacy("sqlite", SqliteDialect(path), run_sqlite)
    elif request.param == "postgres":
        with PostgresServer() as pg:
            yield Legacy("postgres", PostgresDialect(pg.dsn), lambda s: pg.execute(*s))
    else:
        with running_mariadb() as server:
            dialect = MariaDbDialect(MariaDbSettings(**server.connection_settings()))
            yield Legacy("mariadb", dialect, lambda s: server.execute(*s))


class TextOrdered:
    """The dialect as the previous version used it: every key compared as text."""

    def __init__(self, dialect: SqlDialect) -> None:
        self._dialect = dialect

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dialect, name)

    def key_order(self, connection: DbApiConnection, table: str, columns: Sequence[str]) -> KeyOrder:
        return keys.text_order(self._dialect, columns)


def as_stored_before(checkpoint: Checkpoint) -> Checkpoint:
    """A checkpoint as the previous version stored it: no key order recorded, through JSON."""
    old = json.loads(json.dumps(checkpoint))
    assert old.pop(keys.ORDER_FIELD) == "text"
    return dict(old)


def source(legacy: Legacy, table: str, strategy: str, state_dir: Path, *,
           key: tuple[str, ...] = ("id",), batch_size: int = 5, text_ordered: bool = False
           ) -> SqlTableSource:
    spec = TableSpec(department="keys", table=table, key_columns=key,
                     strategy=strategy,  # type: ignore[arg-type]
                     updated_column="upd" if strategy == "incremental" else None,
                     batch_size=batch_size, poll_interval=0, options={"diff_interval_seconds": 0})
    dialect: Any = TextOrdered(legacy.dialect) if text_ordered else legacy.dialect
    return SqlTableSource(dialect, spec, state_dir=state_dir)


async def diff_pass(capture: SqlTableSource, checkpoint: Checkpoint | None,
                    limit: int | None = None) -> list[Batch]:
    """One diff pass (or its first ``limit`` batches), each batch acknowledged as Kafka would."""
    batches: list[Batch] = []
    start = 1 if checkpoint is None else checkpoint["pass"]
    async with aclosing(capture.read(checkpoint)) as reading:
        async for batch in reading:
            batches.append(batch)
            await capture.acknowledge(batch.checkpoint)
            if batch.checkpoint["pass"] != start or len(batches) == limit:
                return batches
    raise AssertionError("the source stopped")


async def polls(capture: SqlTableSource, checkpoint: Checkpoint | None,
                limit: int | None = None) -> list[Batch]:
    """Incremental or snapshot batches until the source is idle (or ``limit`` batches)."""
    batches: list[Batch] = []
    last = checkpoint
    async with aclosing(capture.read(checkpoint)) as reading:
        async for batch in reading:
            if not batch.changes and (batch.checkpoint == last or batch.checkpoint.get("complete")):
                return batches
            batches.append(batch)
            last = batch.checkpoint
            if len(batches) == limit:
                return batches
            assert len(batches) < 100, "the source never ran dry"
    raise AssertionError("the source stopped")


def changes(batches: Sequence[Batch]) -> list[Change]:
    return [c for b in batches for c in b.changes]


def ops(batches: Sequence[Batch], *key: str) -> list[tuple[str, str]]:
    return [(c.op, "|".join(c.key[k] or "" for k in key or ("id",))) for c in changes(batches)]


def ids(batches: Sequence[Batch]) -> list[int]:
    return [int(c.key["id"] or "") for c in changes(batches)]


def insert(legacy: Legacy, table: str, numbers: Sequence[int], updated: str = T1) -> None:
    values = ", ".join(f"({n}, 'v{n}', '{updated}')" for n in numbers)
    legacy.execute(f"INSERT INTO {table} (id, v, upd) VALUES {values}")


async def test_integer_keys_are_read_in_numeric_order_by_every_sql_strategy(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, range(1, 13))

    read = {strategy: await (diff_pass if strategy == "diff" else polls)(
                source(legacy, table, strategy, tmp_path / strategy), None)
            for strategy in ("snapshot", "diff", "incremental")}

    for strategy, batches in read.items():
        assert ids(batches) == list(range(1, 13)), strategy
        assert batches[0].checkpoint[keys.ORDER_FIELD] == "native", strategy


async def test_identity_numbers_beyond_a_doubles_precision_are_each_read_once(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, [BIG + n for n in range(1, 13)])

    batches = await diff_pass(source(legacy, table, "diff", tmp_path, batch_size=3), None)

    assert ids(batches) == [BIG + n for n in range(1, 13)]


async def test_diff_finds_inserts_updates_and_deletes_of_the_last_keys_in_integer_order(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, range(1, 13))
    capture = source(legacy, table, "diff", tmp_path)
    first = await diff_pass(capture, None)

    insert(legacy, table, [13])
    legacy.execute(f"UPDATE {table} SET v = 'changed' WHERE id = 2",
                   f"DELETE FROM {table} WHERE id IN (11, 12)")
    second = await diff_pass(capture, first[-1].checkpoint)
    third = await diff_pass(capture, second[-1].checkpoint)
    await capture.close()

    assert ops(second) == [("u", "2"), ("c", "13"), ("d", "11"), ("d", "12")]
    assert ops(third) == []


async def test_composite_keys_are_read_once_each_in_the_engines_key_order(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("b VARCHAR(10) NOT NULL, v VARCHAR(20), PRIMARY KEY (a, b)",
                         integer_key="a INT NOT NULL")
    legacy.execute(f"INSERT INTO {table} (a, b, v) VALUES (9, 'b', ''), (10, 'a', ''), "
                   "(9, 'a', ''), (100, 'a', ''), (10, 'c', ''), (2, 'z', '')")

    batches = await diff_pass(source(legacy, table, "diff", tmp_path, key=("a", "b"),
                                     batch_size=2), None)

    read = [key for _op, key in ops(batches, "a", "b")]
    if legacy.engine == "sqlite":  # a composite SQLite key may hold any storage class: text
        assert read == ["10|a", "10|c", "100|a", "2|z", "9|a", "9|b"]
    else:
        assert read == ["2|z", "9|a", "9|b", "10|a", "10|c", "100|a"]


async def test_a_diff_pass_checkpointed_in_text_order_ends_without_loss_or_repeat(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, range(1, 13))
    before = source(legacy, table, "diff", tmp_path, batch_size=4, text_ordered=True)
    first = await diff_pass(before, None)
    [stopped] = await diff_pass(before, first[-1].checkpoint, limit=1)  # 1, 10, 11, 12
    await before.close()
    legacy.execute(f"UPDATE {table} SET v = 'changed' WHERE id IN (3, 10)",
                   f"DELETE FROM {table} WHERE id = 12")

    after = source(legacy, table, "diff", tmp_path, batch_size=4)
    rest = await diff_pass(after, as_stored_before(stopped.checkpoint))
    following = await diff_pass(after, rest[-1].checkpoint)
    await after.close()

    assert ops([stopped]) == []
    # The pass scans again from 1: rows unchanged since publish nothing, none unread is taken
    # for a delete; 12, seen in this pass before it went, is a delete of the next pass.
    assert ops(rest) == [("u", "3"), ("u", "10")]
    assert ops(following) == [("d", "12")]


async def test_an_incremental_checkpoint_in_text_order_resumes_without_loss_or_repeat(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, range(1, 13), T1)
    insert(legacy, table, range(13, 16), T2)
    [stopped] = await polls(source(legacy, table, "incremental", tmp_path, text_ordered=True),
                            None, limit=1)
    legacy.execute(f"UPDATE {table} SET v = 'changed' WHERE id = 11")  # same update time

    resumed = await polls(source(legacy, table, "incremental", tmp_path),
                          as_stored_before(stopped.checkpoint))
    legacy.execute(f"UPDATE {table} SET v = 'again', upd = '{T3}' WHERE id = 1")
    later = await polls(source(legacy, table, "incremental", tmp_path), resumed[-1].checkpoint)

    # Read before the upgrade: 1, 10, 11, 12 and 2 of the same second; 10 and 12 come after 2
    # in the new order but are not published again, 11 is, as it changed since.
    assert ids([stopped]) == [1, 10, 11, 12, 2]
    assert sorted(ids(resumed)) == [3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15]
    assert [(c.after or {})["v"] for c in changes(resumed) if c.key["id"] == "11"] == ["changed"]
    assert ids(later) == [1]
    assert resumed[-1].checkpoint[keys.ORDER_FIELD] == "native"


async def test_a_snapshot_begun_in_text_order_finishes_in_it_without_loss_or_repeat(
        legacy: Legacy, tmp_path: Path) -> None:
    table = legacy.table("v VARCHAR(20), upd VARCHAR(30)", integer_key="id BIGINT PRIMARY KEY")
    insert(legacy, table, range(1, 13))
    [stopped] = await polls(source(legacy, table, "snapshot", tmp_path, text_ordered=True),
                            None, limit=1)

    rest = await polls(source(legacy, table, "snapshot", tmp_path),
                       as_stored_before(stopped.checkpoint))

    assert sorted(ids([stopped, *rest])) == list(range(1, 13))
    assert rest[-1].checkpoint["complete"] is True
