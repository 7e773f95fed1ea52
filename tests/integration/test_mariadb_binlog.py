"""Binlog capture of MariaDB tables, read directly (no Kafka), against a real server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Sequence

import pytest

from adapters.capture.engines.mariadb import MariaDbBinlogSource, MariaDbSettings
from adapters.capture.source import (
    Batch,
    CaptureSource,
    Change,
    Checkpoint,
    SourceMisconfigured,
    SourceUnavailable,
    TableSpec,
)
from tests.servers.mariadb import MariaDbServer, running_mariadb

pytestmark = pytest.mark.integration
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[MariaDbServer]:
    with running_mariadb() as started:
        yield started


def new_table(server: MariaDbServer, rows: int = 0) -> str:
    """A fresh table ``t<n>`` (id, name, born, amount, raw) holding ``rows`` rows."""
    table = f"t{next(_names)}"
    server.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(40), born DATE, "
                   "amount DECIMAL(10,2), raw VARBINARY(16))")
    if rows:
        with server.transaction() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} (id, name, born, amount) VALUES (%s, %s, %s, %s)",
                [(i, f"名{i}", "1990-03-07", "12.50") for i in range(1, rows + 1)])
    return table


def source_for(server: MariaDbServer, table: str, batch_size: int = 10,
               **options: object) -> MariaDbBinlogSource:
    spec = TableSpec("hrss", table, (), "log", batch_size=batch_size, poll_interval=0.1,
                     options=options)
    return MariaDbBinlogSource(spec, MariaDbSettings(**server.connection_settings()))


class Reader:
    """Reads batches from a source until a condition holds, keeping the generator open."""

    def __init__(self, source: MariaDbBinlogSource, checkpoint: Checkpoint | None) -> None:
        self.source = source
        self.stream = source.read(checkpoint)
        self.batches: list[Batch] = []

    async def until(self, done: Callable[[list[Batch]], bool], timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not done(self.batches):
                self.batches.append(await anext(self.stream))

    async def until_changes(self, count: int, timeout: float = 30) -> None:
        await self.until(lambda batches: len(changes_of(batches)) >= count, timeout)

    async def streaming(self) -> None:
        """Until the snapshot is over and one idle streaming batch came."""
        await self.until(lambda b: bool(b) and b[-1].state == "streaming" and not b[-1].changes)

    async def close(self) -> None:
        await self.stream.aclose()
        await self.source.close()


def changes_of(batches: Sequence[Batch]) -> list[Change]:
    return [change for batch in batches for change in batch.changes]


def apply(state: dict[str, dict[str, str | None]], changes: Sequence[Change]) -> None:
    """What a downstream upsert/delete consumer makes of the changes."""
    for change in changes:
        key = change.key["id"] or ""
        if change.op == "d":
            state.pop(key, None)
        else:
            assert change.after is not None
            state[key] = change.after


def table_state(server: MariaDbServer, table: str) -> dict[str, dict[str, str | None]]:
    rows = server.query(f"SELECT id, name, CAST(born AS CHAR), CAST(amount AS CHAR), raw "
                        f"FROM {table}")
    return {str(r[0]): {"id": str(r[0]), "name": r[1], "born": r[2], "amount": r[3],
                        "raw": None if r[4] is None else r[4].decode()} for r in rows}


def test_the_source_implements_the_capture_port(server: MariaDbServer) -> None:
    assert isinstance(source_for(server, "any"), CaptureSource)


async def test_snapshot_in_key_ordered_chunks_then_inserts_updates_and_deletes(
    server: MariaDbServer,
) -> None:
    table = new_table(server, rows=25)
    reader = Reader(source_for(server, table), None)
    try:
        await reader.streaming()
        snapshot = [b for b in reader.batches if b.state == "snapshotting"]
        assert [len(b.changes) for b in snapshot] == [10, 10, 5]
        rows = changes_of(snapshot)
        assert [c.key["id"] for c in rows] == [str(i) for i in range(1, 26)]
        assert {(c.op, c.snapshot, c.before) for c in rows} == {("r", True, None)}
        assert rows[0].after == {"id": "1", "name": "名1", "born": "1990-03-07",
                                 "amount": "12.50", "raw": None}
        assert [b.checkpoint["phase"] for b in snapshot] == ["snapshot", "snapshot", "stream"]
        assert snapshot[0].checkpoint["after_key"] == ["10"]

        server.execute(f"INSERT INTO {table} (id, name) VALUES (100, '新')",
                       f"UPDATE {table} SET name = '改' WHERE id = 1",
                       f"DELETE FROM {table} WHERE id = 2")
        await reader.until_changes(28)
        insert, update, delete = changes_of(reader.batches)[25:]
        assert (insert.op, insert.key, insert.before) == ("c", {"id": "100"}, None)
        assert insert.after is not None and insert.after["name"] == "新"
        assert update.op == "u" and update.key == {"id": "1"}
        assert update.before is not None and update.before["name"] == "名1"
        assert update.after is not None and update.after["name"] == "改"
        assert update.after["amount"] == "12.50" and update.after["born"] == "1990-03-07"
        assert (delete.op, delete.key, delete.after) == ("d", {"id": "2"}, None)
        assert delete.before is not None and delete.before["name"] == "名2"
        assert all(not c.snapshot and c.commit_ts_ms > 0 for c in (insert, update, delete))
        assert insert.position.startswith("binlog.")
    finally:
        await reader.close()


async def test_an_idle_stream_yields_empty_batches(server: MariaDbServer) -> None:
    table = new_table(server)
    reader = Reader(source_for(server, table), None)
    try:
        await reader.streaming()
        await reader.until(lambda b: len(b) >= 5, timeout=10)
        assert not changes_of(reader.batches)
    finally:
        await reader.close()


async def test_a_multi_row_transaction_is_never_split_across_checkpoints(
    server: MariaDbServer,
) -> None:
    table = new_table(server)
    reader = Reader(source_for(server, table, batch_size=2), None)
    try:
        await reader.streaming()
        with server.transaction() as cursor:
            cursor.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(i,) for i in range(1, 6)])
            cursor.execute(f"UPDATE {table} SET name = 'x' WHERE id = 3")
        server.execute(f"INSERT INTO {table} (id) VALUES (6)", f"INSERT INTO {table} (id) VALUES (7)")
        await reader.until_changes(8)
        transaction = {"1", "2", "3", "4", "5"}
        for batch in reader.batches:
            ids = {c.key["id"] for c in batch.changes if c.key["id"] in transaction}
            assert ids in (set(), transaction), f"transaction split: {ids} in one batch"
        first = next(b for b in reader.batches if b.changes)
        assert len(first.changes) == 6  # the whole transaction, beyond batch_size
    finally:
        await reader.close()


async def test_resuming_from_a_stored_checkpoint_reads_everything_after_it_exactly_once(
    server: MariaDbServer,
) -> None:
    table = new_table(server, rows=3)
    reader = Reader(source_for(server, table, batch_size=3), None)
    await reader.streaming()
    for i in range(10, 16):
        server.execute(f"INSERT INTO {table} (id) VALUES ({i})")
    await reader.until_changes(3 + 4)  # the snapshot and (at least) four single-row commits
    stored = reader.batches[-1].checkpoint
    seen = changes_of(reader.batches)
    await reader.close()  # the process goes away mid-stream
    del reader

    server.execute(f"UPDATE {table} SET name = 'later' WHERE id = 1",
                   f"DELETE FROM {table} WHERE id = 10")
    resumed = Reader(source_for(server, table, batch_size=3), stored)
    try:
        await resumed.until_changes(3 + 6 - len(seen) + 2)
        await resumed.until(lambda b: not b[-1].changes)
        after = changes_of(resumed.batches)
        assert [(c.op, c.key["id"]) for c in seen + after] == [
            ("r", "1"), ("r", "2"), ("r", "3"),
            *[("c", str(i)) for i in range(10, 16)], ("u", "1"), ("d", "10")]
    finally:
        await resumed.close()


async def test_an_interrupted_snapshot_resumes_and_converges_to_the_table(
    server: MariaDbServer,
) -> None:
    table = new_table(server, rows=30)
    reader = Reader(source_for(server, table), None)
    await reader.until(lambda b: len(b) == 1)
    stored = reader.batches[0].checkpoint
    assert stored["phase"] == "snapshot"
    await reader.close()

    server.execute(f"UPDATE {table} SET name = 'read already' WHERE id = 5",
                   f"UPDATE {table} SET name = 'not read yet' WHERE id = 25",
                   f"INSERT INTO {table} (id) VALUES (40)",
                   f"DELETE FROM {table} WHERE id = 15")
    resumed = Reader(source_for(server, table), stored)
    try:
        await resumed.streaming()
        await resumed.until_changes(20 + 1)
        rest = changes_of(resumed.batches)
        snapshot_keys = [c.key["id"] for c in rest if c.op == "r"]
        assert snapshot_keys == [str(i) for i in [*range(11, 31), 40] if i != 15]
        # Only the row read before the interruption has its change streamed: the resumed read
        # already shows the others, so the binlog's copies are not published again.
        assert [(c.op, c.key["id"]) for c in rest if c.op != "r"] == [("u", "5")]
        state: dict[str, dict[str, str | None]] = {}
        apply(state, changes_of(reader.batches) + rest)
        assert state == table_state(server, table)
    finally:
        await resumed.close()


async def test_a_snapshot_interrupted_twice_publishes_every_row_once_and_in_order(
    server: MariaDbServer,
) -> None:
    table = new_table(server, rows=30)

    async def one_chunk(checkpoint: Checkpoint | None) -> Batch:
        reader = Reader(source_for(server, table), checkpoint)
        try:
            await reader.until(lambda b: len(b) == 1)
        finally:
            await reader.close()
        return reader.batches[0]

    first = await one_chunk(None)
    assert first.checkpoint["after_key"] == ["10"]
    # Integer keys order 9 < 10 < 100, unlike their text.
    server.execute(f"UPDATE {table} SET name = 'early' WHERE id = 5",
                   f"UPDATE {table} SET name = 'first' WHERE id = 25",
                   f"DELETE FROM {table} WHERE id = 12",
                   f"INSERT INTO {table} (id, name) VALUES (100, 'hundred')")
    second = await one_chunk(first.checkpoint)
    assert [c.key["id"] for c in second.changes] == ["11", *map(str, range(13, 22))]
    assert second.checkpoint["after_key"] == ["21"] and len(second.checkpoint["resumed"]) == 1
    server.execute(f"UPDATE {table} SET name = 'later' WHERE id = 15",   # read by the second run
                   f"UPDATE {table} SET name = 'second' WHERE id = 25",  # not read yet
                   f"UPDATE {table} SET name = 'late' WHERE id = 3")     # read by the first run

    last = Reader(source_for(server, table), second.checkpoint)
    try:
        await last.until(lambda b: bool(b) and b[-1].checkpoint["phase"] == "stream")
        assert "resumed" in last.batches[-1].checkpoint
        server.execute(f"UPDATE {table} SET name = 'third' WHERE id = 25")
        await last.until(lambda b: sum(1 for c in changes_of(b) if c.op != "r") >= 4)
        await last.until(lambda b: not b[-1].changes)
    finally:
        await last.close()
    third = [c for c in changes_of(last.batches) if c.op == "r"]
    assert [c.key["id"] for c in third] == [*map(str, range(22, 31)), "100"]
    assert {c.key["id"]: (c.after or {}).get("name") for c in third}["25"] == "second"
    stream = [(c.op, c.key["id"], (c.after or {}).get("name")) for c in changes_of(last.batches)
              if c.op != "r"]
    assert stream == [("u", "5", "early"), ("u", "15", "later"), ("u", "3", "late"),
                      ("u", "25", "third")]
    published = [c.key["id"] for c in [*first.changes, *second.changes, *third]]
    assert sorted(published, key=int) == [str(i) for i in [*range(1, 12), *range(13, 31), 100]]
    assert "resumed" not in last.batches[-1].checkpoint


async def test_undecodable_bytes_are_listed_in_snapshot_and_stream(server: MariaDbServer) -> None:
    table = new_table(server)
    server.execute(f"INSERT INTO {table} (id, raw) VALUES (1, x'fffefd'), (2, 'ok')")
    reader = Reader(source_for(server, table), None)
    try:
        await reader.streaming()
        server.execute(f"INSERT INTO {table} (id, raw) VALUES (3, x'ff')")
        await reader.until_changes(3)
        assert [c.undecodable for c in changes_of(reader.batches)] == [("raw",), (), ("raw",)]
    finally:
        await reader.close()


async def test_a_ten_thousand_row_snapshot_completes(server: MariaDbServer) -> None:
    table = new_table(server, rows=10_000)
    reader = Reader(source_for(server, table, batch_size=1000), None)
    try:
        await reader.streaming()
        keys = [c.key["id"] for c in changes_of(reader.batches)]
        assert len(keys) == 10_000 and len(set(keys)) == 10_000
    finally:
        await reader.close()


async def test_a_user_without_replication_slave_is_told_the_grant(server: MariaDbServer) -> None:
    table = new_table(server)
    server.create_user("noslave", "pw", "SELECT, BINLOG MONITOR")
    settings = MariaDbSettings(server.host, server.port, "noslave", "pw", server.database)
    source = MariaDbBinlogSource(TableSpec("hrss", table, (), "log"), settings)
    with pytest.raises(SourceMisconfigured, match="GRANT REPLICATION SLAVE"):
        await source.check()


async def test_statement_binlog_format_is_a_misconfiguration_naming_binlog_format() -> None:
    with running_mariadb(settings={"binlog-format": "STATEMENT"}) as server:
        table = new_table(server)
        source = source_for(server, table)
        with pytest.raises(SourceMisconfigured, match="binlog_format is STATEMENT, must be ROW"):
            await source.check()
        with pytest.raises(SourceMisconfigured, match="binlog_format"):
            await anext(source.read(None))


async def test_a_stopped_server_is_unavailable_and_capture_continues_after_it_is_back() -> None:
    with running_mariadb() as server:
        table = new_table(server, rows=2)
        reader = Reader(source_for(server, table), None)
        await reader.streaming()
        server.execute(f"INSERT INTO {table} (id) VALUES (3)")
        await reader.until_changes(3)
        stored = reader.batches[-1].checkpoint
        server.stop()
        with pytest.raises(SourceUnavailable, match="does not answer"):
            await reader.until(lambda b: False, timeout=30)
        await reader.source.close()

        server.start()
        server.execute(f"INSERT INTO {table} (id) VALUES (4)")
        resumed = Reader(source_for(server, table), stored)
        try:
            await resumed.until_changes(1)
            assert [(c.op, c.key["id"]) for c in changes_of(resumed.batches)] == [("c", "4")]
        finally:
            await resumed.close()
