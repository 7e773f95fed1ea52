"""Log-based capture of PostgreSQL (pgoutput) against a real throw-away server, without Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from adapters.capture.engines.postgres import PostgresLogSource
from adapters.capture.source import (
    Batch,
    Change,
    Checkpoint,
    SourceMisconfigured,
    SourceUnavailable,
    TableSpec,
)
from tests.servers.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_server()


@pytest.fixture(autouse=True)
def _drop_slots(pg: PostgresServer) -> Iterator[None]:
    yield
    pg.drop_replication_slots()


_counter = iter(range(1_000_000))


@pytest.fixture
def make_table(pg: PostgresServer) -> Callable[..., str]:
    """Creates a fresh table ``people_<n>`` with ``rows`` rows; returns its name."""

    def make(rows: int = 0, *, extra: str = "") -> str:
        name = f"people_{next(_counter)}"
        pg.execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, name text, born date, "
                   f"score numeric(6,2){extra})")
        if rows:
            pg.execute(f"INSERT INTO {name} SELECT g, 'p' || g, DATE '2000-01-01' + g, g / 4.0 "
                       f"FROM generate_series(1, {rows}) g")
        return name

    return make


def spec_for(table: str, **overrides: Any) -> TableSpec:
    values: dict[str, Any] = {"department": "gongan", "table": table, "key_columns": ("id",),
                              "strategy": "log", "batch_size": 100, "poll_interval": 0.2}
    values.update(overrides)
    return TableSpec(**values)


async def collect(batches: AsyncIterator[Batch], until: Callable[[list[Batch]], bool],
                  timeout: float = 30.0) -> list[Batch]:
    """Batches until ``until(batches)`` holds (the iterator is left open for more)."""
    seen: list[Batch] = []

    async def run() -> None:
        async for batch in batches:
            seen.append(batch)
            if until(seen):
                return

    await asyncio.wait_for(run(), timeout)
    return seen


def changes(batches: list[Batch]) -> list[Change]:
    return [c for b in batches for c in b.changes]


def streamed(count: int) -> Callable[[list[Batch]], bool]:
    return lambda seen: sum(1 for c in changes(seen) if not c.snapshot) >= count


def snapshot_done(seen: list[Batch]) -> bool:
    return bool(seen) and seen[-1].checkpoint["phase"] == "stream"


@contextlib.asynccontextmanager
async def opened(source: PostgresLogSource, checkpoint: Checkpoint | None) -> AsyncIterator[
        AsyncIterator[Batch]]:
    batches = source.read(checkpoint)
    try:
        yield batches
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await source.close()


async def test_snapshot_then_inserts_updates_and_deletes_arrive_as_c_u_d(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(250)
    pg.execute(f"ALTER TABLE {table} REPLICA IDENTITY FULL")
    source = PostgresLogSource(pg.dsn, spec_for(table))
    await source.check()
    async with opened(source, None) as batches:
        snap = await collect(batches, snapshot_done)
        assert [len(b.changes) for b in snap] == [100, 100, 50]
        assert all(c.op == "r" and c.snapshot for c in changes(snap))
        assert [c.key["id"] for c in changes(snap)] == [str(i) for i in range(1, 251)]
        assert changes(snap)[0].after == {"id": "1", "name": "p1", "born": "2000-01-02",
                                          "score": "0.25"}
        assert snap[0].checkpoint["phase"] == "snapshot" and snap[0].state == "snapshotting"

        pg.execute(f"INSERT INTO {table} VALUES (1000, '张三', '1990-03-07', 1.5)",
                   f"UPDATE {table} SET name = '李四' WHERE id = 1000",
                   f"DELETE FROM {table} WHERE id = 2")
        got = changes(await collect(batches, streamed(3)))

    assert [(c.op, c.key) for c in got] == [("c", {"id": "1000"}), ("u", {"id": "1000"}),
                                            ("d", {"id": "2"})]
    created, updated, deleted = got
    assert created.before is None and created.after == {
        "id": "1000", "name": "张三", "born": "1990-03-07", "score": "1.50"}
    assert updated.before is not None and updated.before["name"] == "张三"
    assert updated.after is not None and updated.after["name"] == "李四"
    assert deleted.after is None and deleted.before == {
        "id": "2", "name": "p2", "born": "2000-01-03", "score": "0.50"}
    assert all(c.commit_ts_ms > 1_600_000_000_000 and "/" in c.position for c in got)


async def test_default_identity_deletes_carry_the_key_only(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(3)
    source = PostgresLogSource(pg.dsn, spec_for(table))
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"UPDATE {table} SET name = 'x' WHERE id = 1", f"DELETE FROM {table} WHERE id = 3")
        got = changes(await collect(batches, streamed(2)))
    assert got[0].op == "u" and got[0].before is None and got[0].after is not None
    assert got[1].op == "d" and got[1].key == {"id": "3"}
    assert got[1].before == {"id": "3", "name": None, "born": None, "score": None}


async def test_batches_end_at_transaction_boundaries(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(0)
    source = PostgresLogSource(pg.dsn, spec_for(table, batch_size=5))
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        # One transaction of 8 rows (bigger than a batch), then two of 3.
        pg.execute(f"INSERT INTO {table} (id) SELECT generate_series(1, 8)")
        pg.execute(f"INSERT INTO {table} (id) SELECT generate_series(11, 13)")
        pg.execute(f"INSERT INTO {table} (id) SELECT generate_series(21, 23)")
        seen = await collect(batches, streamed(14))
    sizes = [len(b.changes) for b in seen if b.changes]
    assert sizes[0] == 8  # never split a transaction
    assert sum(sizes) == 14 and all(s in (3, 6, 8) for s in sizes)
    lsns = [b.checkpoint["lsn"] for b in seen if b.changes]
    assert len(set(lsns)) == len(lsns)


async def test_resume_redelivers_what_was_not_acknowledged_and_nothing_that_was(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(10)
    spec = spec_for(table)
    source = PostgresLogSource(pg.dsn, spec)
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"INSERT INTO {table} (id, name) VALUES (101, 'a')")
        first = await collect(batches, streamed(1))
        acknowledged = [b for b in first if b.changes][-1].checkpoint
        await source.acknowledge(acknowledged)
        pg.execute(f"INSERT INTO {table} (id, name) VALUES (102, 'b')",
                   f"UPDATE {table} SET name = 'bb' WHERE id = 102")
        await collect(batches, streamed(2))
        # "Crash": drop everything without acknowledging the second pair of changes.

    again = PostgresLogSource(pg.dsn, spec)
    async with opened(again, acknowledged) as batches:
        got = changes(await collect(batches, streamed(2)))
        await asyncio.sleep(0.5)
    assert [(c.op, c.key["id"]) for c in got] == [("c", "102"), ("u", "102")]

    # The slot itself was confirmed only up to the acknowledged LSN.
    state = again.slot_state()
    assert state is not None and state[0] == acknowledged["lsn"]


async def test_resume_from_a_checkpoint_ahead_of_the_slot_skips_delivered_transactions(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    """Kafka stored the checkpoint but the process died before acknowledging it."""
    table = make_table(0)
    spec = spec_for(table)
    source = PostgresLogSource(pg.dsn, spec)
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"INSERT INTO {table} (id) VALUES (1)")
        stored = [b for b in await collect(batches, streamed(1)) if b.changes][-1].checkpoint
    pg.execute(f"INSERT INTO {table} (id) VALUES (2)")
    again = PostgresLogSource(pg.dsn, spec)
    async with opened(again, stored) as batches:
        got = changes(await collect(batches, streamed(1)))
    assert [c.key["id"] for c in got] == ["2"]


async def test_interrupted_snapshot_resumes_after_the_last_chunk_and_hands_over_without_gap(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(30)
    spec = spec_for(table, batch_size=10)
    source = PostgresLogSource(pg.dsn, spec)
    async with opened(source, None) as batches:
        first = await collect(batches, lambda seen: len(seen) == 1)
    checkpoint = first[0].checkpoint
    assert checkpoint["phase"] == "snapshot" and checkpoint["after_key"] == ["10"]

    pg.execute(f"UPDATE {table} SET name = 'changed' WHERE id = 5",
               f"INSERT INTO {table} (id, name) VALUES (31, 'new')")
    again = PostgresLogSource(pg.dsn, spec)
    async with opened(again, checkpoint) as batches:
        rest = await collect(batches, streamed(1))
    snap = [c for c in changes(rest) if c.snapshot]
    assert [c.key["id"] for c in snap] == [str(i) for i in range(11, 32)]
    # Row 5 was read before the interruption: its change comes from the slot. Row 31 is in the
    # resumed snapshot, so the slot's copy of its insert is not published again.
    assert [(c.op, c.key["id"]) for c in changes(rest) if not c.snapshot] == [("u", "5")]


async def test_a_snapshot_interrupted_twice_publishes_every_row_once_and_in_order(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(30)
    spec = spec_for(table, batch_size=10)

    async def one_chunk(checkpoint: Checkpoint | None) -> Batch:
        async with opened(PostgresLogSource(pg.dsn, spec), checkpoint) as batches:
            return (await collect(batches, lambda seen: len(seen) == 1))[0]

    first = await one_chunk(None)
    assert first.checkpoint["after_key"] == ["10"]
    # While nothing runs: a change before the resume point, and changes after it that the
    # resumed snapshot will already show. Integer keys order 9 < 10 < 100, unlike their text.
    pg.execute(f"UPDATE {table} SET name = 'early' WHERE id = 5",
               f"UPDATE {table} SET name = 'first' WHERE id = 25",
               f"DELETE FROM {table} WHERE id = 12",
               f"INSERT INTO {table} (id, name) VALUES (100, 'hundred')")
    second = await one_chunk(first.checkpoint)
    assert [c.key["id"] for c in second.changes] == ["11", *map(str, range(13, 22))]
    assert second.checkpoint["after_key"] == ["21"] and len(second.checkpoint["resumed"]) == 1
    pg.execute(f"UPDATE {table} SET name = 'later' WHERE id = 15",   # read by the second run
               f"UPDATE {table} SET name = 'second' WHERE id = 25",  # not read yet
               f"UPDATE {table} SET name = 'late' WHERE id = 3")     # read by the first run

    seen: list[Batch] = []
    async with opened(PostgresLogSource(pg.dsn, spec), second.checkpoint) as batches:
        seen += await collect(batches, snapshot_done)
        assert "resumed" in seen[-1].checkpoint  # the stream has not passed the resumes yet
        pg.execute(f"UPDATE {table} SET name = 'third' WHERE id = 25")
        seen += await collect(batches, lambda more: sum(
            1 for c in changes(seen + more) if not c.snapshot) >= 4)
        later = await collect(batches, lambda more: bool(more) and not more[-1].changes)
    third = [c for c in changes(seen) if c.snapshot]
    assert [c.key["id"] for c in third] == [*map(str, range(22, 31)), "100"]
    assert {c.key["id"]: c.after["name"] for c in third if c.after}["25"] == "second"
    stream = [(c.op, c.key["id"], (c.after or {}).get("name")) for c in changes(seen + later)
              if not c.snapshot]
    assert stream == [("u", "5", "early"), ("u", "15", "later"), ("u", "3", "late"),
                      ("u", "25", "third")]
    published = [c.key["id"] for c in [*first.changes, *second.changes, *third]]
    assert sorted(published, key=int) == [str(i) for i in [*range(1, 12), *range(13, 31), 100]]
    assert "resumed" not in later[-1].checkpoint


async def test_a_ten_thousand_row_snapshot_completes(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(10_000)
    source = PostgresLogSource(pg.dsn, spec_for(table, batch_size=1000))
    async with opened(source, None) as batches:
        seen = await collect(batches, snapshot_done, timeout=120)
    keys = [c.key["id"] for c in changes(seen)]
    assert len(keys) == 10_000 and len(set(keys)) == 10_000


async def test_key_change_is_a_delete_of_the_old_key_and_a_create(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(1)
    source = PostgresLogSource(pg.dsn, spec_for(table))
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"UPDATE {table} SET id = 7 WHERE id = 1")
        got = changes(await collect(batches, streamed(2)))
    assert [(c.op, c.key["id"]) for c in got] == [("d", "1"), ("c", "7")]


async def test_undecodable_and_binary_values(pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(0, extra=", photo bytea")
    source = PostgresLogSource(pg.dsn, spec_for(table))
    gbk = "王五".encode("gb18030").hex()
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"INSERT INTO {table} (id, photo) VALUES (1, '\\x{gbk}'), (2, '\\xff00fe')")
        got = changes(await collect(batches, streamed(2)))
    assert got[0].after is not None and got[0].after["photo"] == "王五" and got[0].undecodable == ()
    assert got[1].undecodable == ("photo",)


async def test_idle_stream_yields_empty_batches(pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(0)
    source = PostgresLogSource(pg.dsn, spec_for(table, poll_interval=0.1))
    async with opened(source, None) as batches:
        seen = await collect(batches, lambda s: len(s) >= 6, timeout=10)
    assert all(not b.changes for b in seen)
    assert seen[-1].state == "streaming" and seen[-1].checkpoint["phase"] == "stream"


async def test_truncate_stops_with_a_clear_message(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(2)
    source = PostgresLogSource(pg.dsn, spec_for(table))
    async with opened(source, None) as batches:
        await collect(batches, snapshot_done)
        pg.execute(f"TRUNCATE {table}")
        with pytest.raises(SourceMisconfigured, match="TRUNCATE"):
            await collect(batches, lambda s: False, timeout=10)


async def test_table_without_primary_key_needs_replica_identity_full(pg: PostgresServer) -> None:
    pg.execute("CREATE TABLE nokey (id integer, name text)")
    source = PostgresLogSource(pg.dsn, spec_for("nokey"))
    with pytest.raises(SourceMisconfigured, match="REPLICA IDENTITY FULL"):
        await source.check()
    pg.execute("ALTER TABLE nokey REPLICA IDENTITY FULL")
    await source.check()


async def test_role_without_replication_is_told_what_to_grant(
        pg: PostgresServer, make_table: Callable[..., str]) -> None:
    table = make_table(1)
    pg.execute("CREATE ROLE clerk LOGIN", f"GRANT SELECT ON {table} TO clerk")
    source = PostgresLogSource(pg.dsn_for("clerk"), spec_for(table))
    with pytest.raises(SourceMisconfigured, match="ALTER ROLE clerk REPLICATION"):
        await source.check()


async def test_missing_database_is_a_misconfiguration(pg: PostgresServer) -> None:
    source = PostgresLogSource(pg.dsn_for(pg.user, "nosuchdb"), spec_for("x"))
    with pytest.raises(SourceMisconfigured, match="nosuchdb"):
        await source.check()


async def test_wal_level_replica_is_a_misconfiguration_naming_wal_level() -> None:
    with PostgresServer(settings={"wal_level": "replica"}) as replica:
        replica.execute("CREATE TABLE t (id integer PRIMARY KEY)")
        source = PostgresLogSource(replica.dsn, spec_for("t"))
        with pytest.raises(SourceMisconfigured, match="wal_level"):
            await source.check()


async def test_server_down_is_unavailable_and_streaming_resumes_after_start(
        make_table: Callable[..., str]) -> None:
    with PostgresServer() as server:
        server.execute("CREATE TABLE t (id integer PRIMARY KEY, name text)",
                       "INSERT INTO t VALUES (1, 'a')")
        spec = spec_for("t")
        source = PostgresLogSource(server.dsn, spec)
        batches = source.read(None)
        seen = await collect(batches, snapshot_done)
        checkpoint = seen[-1].checkpoint
        await source.acknowledge(checkpoint)
        server.stop()
        with pytest.raises(SourceUnavailable, match="does not answer"):
            await collect(batches, lambda s: False, timeout=20)
        await source.close()
        with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{server.port}"):
            await PostgresLogSource(server.dsn, spec).check()

        server.start()
        server.execute("INSERT INTO t VALUES (2, 'b')")
        again = PostgresLogSource(server.dsn, spec)
        async with opened(again, checkpoint) as batches:
            got = changes(await collect(batches, streamed(1)))
        assert [(c.op, c.key["id"]) for c in got] == [("c", "2")]
