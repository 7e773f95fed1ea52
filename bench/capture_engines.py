"""Capture throughput per engine and strategy, beside raw aiokafka producing the same bytes.

For every engine the same ``persons`` table (id, 中文 name and address, id card, dates, an
MD5 note, an update time: ~500 bytes per event on the wire) is loaded with ``--rows`` rows
(untimed), then captured on the production path: the source is built from a declarative
configuration (``build_sources(parse_config(...))``) and driven by ``CaptureRunner`` with the
transactional producer until the topic holds every row. Timed from the runner's start to the
commit of the last row. Then the produced (key, value, headers) are read back (untimed) and a
plain idempotent ``AIOKafkaProducer`` sends the same bytes (``raw``, one ``send()`` per
record); the ratio capture/raw is what the aim of issue 3 is about (≥ 0.7). Because the
capture queues its records with ``create_batch()``/``send_batch`` (``bus.kafka.send_batched``),
the same bytes are also sent that way (``raw batch``, ``--batch-size`` records at a time, no
transactions) and ``capture / raw batch`` is printed beside it, so the ratio is not flattered.

Snapshot runs:

- ``sqlite/incremental``: first pass of the incremental strategy;
- ``postgres/log``: the slot's exported-snapshot phase; ``postgres/diff``: first pass;
  ``postgres/incremental``: first pass (needed for the change phase below);
- ``mariadb/log``: the consistent-snapshot phase; ``mariadb/incremental``: first pass;
- ``files/diff``: one GBK CSV full extract (``mode: full``).

Change runs (``--changes`` M, default 50,000): after the snapshot of ``postgres`` and
``mariadb`` with ``incremental`` and ``log`` the runner keeps going while a writer updates M
rows (``--change-batch`` rows per legacy transaction, as fast as the database allows); timed
from the first update until the M-th change event is committed in Kafka, beside raw producing
those M events' bytes. Then (``--backlog``, on by default) the runner stops, the writer updates
M rows again, and a new runner resumes from the stored position: timed from its first
committed batch until the M-th change is committed (the first batch's rows not counted), as
the raw producers are timed from their first send after their start; the start-up and the
rate from the runner's start are in the note. The live phase cannot go faster than the legacy
writer on the same two cores (its note gives the writer's rate in that phase, capture /
writer, and how long after the writer's last commit the last change was committed); the
backlog phase shows what the capture path itself sustains.

Before each timed phase (untimed) PostgreSQL vacuums the shared table, so its autovacuum does
not take a core in the middle of the next phase after the previous one's updates, and the
harness's objects are collected and frozen (``gc.freeze``), so neither the capture nor a raw
producer pays for scanning what earlier phases or the harness hold.

PostgreSQL and MariaDB are throw-away servers from Debian's packages
(``tests/servers``); Kafka and the registry are the running stack (``BUS_KAFKA_BOOTSTRAP``,
``BUS_REGISTRY_URL``). Every run uses fresh departments (``b<run>...``) and deletes its
topics at the end unless ``--keep-topics``.

    .venv/bin/python bench/capture_engines.py --rows 100000 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import io
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.capture.config import parse_config
from adapters.capture.engines.registry import build_sources
from adapters.capture.runner import CaptureRunner
from adapters.capture.source import CaptureSource
from bench.capture_throughput import (
    Message,
    console,
    delete_topics,
    payload_size,
    progress_bar,
    time_raw,
    time_raw_batched,
)
from bus.collector import pace_collector
from bus.kafka import TopicSpec, ensure_topics, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings

TABLE = "persons"
COLUMNS = ("id", "name", "id_card", "gender", "birth", "address", "phone", "status", "note",
           "updated_at")
ALL_RUNS = ("sqlite-incremental", "postgres-log", "postgres-diff", "postgres-incremental",
            "mariadb-log", "mariadb-incremental", "files-diff")
CHANGE_RUNS = ("postgres-log", "postgres-incremental", "mariadb-log", "mariadb-incremental")


@dataclass
class Result:
    engine: str
    strategy: str
    phase: str  # "snapshot", "changes" or "backlog"
    rows: int
    seconds: float
    raw_seconds: float
    payload_bytes: int
    note: str = ""
    batch_seconds: float = float("nan")
    #: Rows the capture's ``seconds`` cover when fewer than ``rows`` (the first batch's
    #: are not when timed from the first committed batch); the raw producers send ``rows``.
    timed_rows: int | None = None

    @property
    def rate(self) -> float:
        return (self.rows if self.timed_rows is None else self.timed_rows) / self.seconds

    @property
    def raw_rate(self) -> float:
        return self.rows / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.raw_rate

    @property
    def batch_rate(self) -> float:
        return self.rows / self.batch_seconds

    @property
    def batch_ratio(self) -> float:
        return self.rate / self.batch_rate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each legacy table")
    parser.add_argument("--changes", type=int, default=50_000,
                        help="updates applied after the snapshot (0: no change runs)")
    parser.add_argument("--change-batch", type=int, default=500,
                        help="rows per legacy UPDATE transaction in the change runs")
    parser.add_argument("--backlog", action=argparse.BooleanOptionalAction, default=True,
                        help="after each change run, the same number of changes written while "
                             "the capture is stopped, then taken by a restarted runner")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="capture batch_size: rows per read and per Kafka transaction")
    parser.add_argument("--runs", default=",".join(ALL_RUNS),
                        help=f"comma-separated subset of {','.join(ALL_RUNS)}")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw baselines")
    parser.add_argument("--pipeline", action=argparse.BooleanOptionalAction,
                        default=Settings.model_fields["capture_pipeline"].default,
                        help="read ahead while batches are built and committed (BUS_CAPTURE_PIPELINE)")
    parser.add_argument("--workers", type=int,
                        default=Settings.model_fields["capture_workers"].default,
                        help="worker processes building the records (BUS_CAPTURE_WORKERS)")
    parser.add_argument("--source-process", choices=("auto", "true", "false"),
                        default=Settings.model_fields["capture_source_process"].default,
                        help="run each source in a child process (BUS_CAPTURE_SOURCE_PROCESS)")
    parser.add_argument("--file-reader", choices=("process", "thread"), default="process",
                        help="where the file drop is read, parsed and compared (options.reader)")
    parser.add_argument("--bootstrap", default=os.environ.get("BUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry",
                        default=os.environ.get("BUS_REGISTRY_URL", "http://127.0.0.1:8081"))
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    parser.add_argument("--keep-topics", action="store_true")
    args = parser.parse_args(argv)
    args.runs = [r for r in args.runs.split(",") if r]
    unknown = set(args.runs) - set(ALL_RUNS)
    if unknown:
        parser.error(f"unknown runs {sorted(unknown)}")
    if args.rows <= 0 or args.changes < 0 or args.changes > args.rows:
        parser.error("--rows must be positive and --changes between 0 and --rows")
    return args


# -- legacy tables ------------------------------------------------------------------------------

def person(i: int) -> tuple[Any, ...]:
    """Row ``i`` as the file drop writes it (the SQL engines generate the same shape)."""
    return (i, f"张{i}", f"{110101199000000000 + i:018d}", "F" if i % 2 == 0 else "M",
            f"{1950 + i % 60:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            f"北京市东城区和平里街道{i % 997}号院{i % 13}单元", f"138{i % 100_000_000:08d}",
            "active", f"{i * 2654435761 % 2**128:032x}",
            f"2024-01-{1 + i // 86400 % 28:02d} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}")


def load_sqlite(path: Path, rows: int) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(f"""
            CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT, id_card TEXT, gender TEXT,
                birth TEXT, address TEXT, phone TEXT, status TEXT, note TEXT,
                updated_at TEXT NOT NULL);
            CREATE INDEX {TABLE}_updated ON {TABLE}(updated_at, id);""")
        connection.execute(f"""
            WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
            INSERT INTO {TABLE} SELECT x, '张' || x, printf('%018d', 110101199000000000 + x),
                CASE WHEN x % 2 = 0 THEN 'F' ELSE 'M' END,
                date('1950-01-01', '+' || (x % 20000) || ' days'),
                '北京市东城区和平里街道' || (x % 997) || '号院' || (x % 13) || '单元',
                printf('138%08d', x % 100000000), 'active', lower(hex(randomblob(16))),
                strftime('%Y-%m-%d %H:%M:%f', '2024-01-01', '+' || x || ' seconds') FROM g""",
                           (rows,))
        connection.commit()
    finally:
        connection.close()


PG_TABLE = f"""CREATE TABLE {TABLE} (id bigint PRIMARY KEY, name varchar(40), id_card char(18),
    gender char(1), birth date, address varchar(200), phone varchar(20), status varchar(10),
    note varchar(200), updated_at timestamp(6) NOT NULL DEFAULT clock_timestamp())"""
PG_LOAD = f"""INSERT INTO {TABLE} SELECT g, '张' || g, lpad((110101199000000000 + g)::text, 18, '0'),
    CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END, date '1950-01-01' + (g % 20000),
    '北京市东城区和平里街道' || (g % 997) || '号院' || (g % 13) || '单元',
    '138' || lpad((g % 100000000)::text, 8, '0'), 'active', md5(g::text),
    timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, {{rows}}) g"""
MARIA_TABLE = f"""CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, name VARCHAR(40), id_card CHAR(18),
    gender CHAR(1), birth DATE, address VARCHAR(200), phone VARCHAR(20), status VARCHAR(10),
    note VARCHAR(200), updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY {TABLE}_updated (updated_at, id)) DEFAULT CHARSET utf8mb4"""
MARIA_LOAD = f"""INSERT INTO {TABLE} SELECT seq, CONCAT('张', seq), LPAD(110101199000000000 + seq, 18, '0'),
    IF(seq % 2 = 0, 'F', 'M'), DATE_ADD('1950-01-01', INTERVAL seq % 20000 DAY),
    CONCAT('北京市东城区和平里街道', seq % 997, '号院', seq % 13, '单元'),
    CONCAT('138', LPAD(seq % 100000000, 8, '0')), 'active', MD5(seq),
    TIMESTAMPADD(SECOND, seq, '2024-01-01') FROM seq_1_to_{{rows}}"""


def load_postgres(pg: Any, rows: int) -> None:
    connection = pg.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(PG_TABLE)
            cursor.execute(f"CREATE INDEX {TABLE}_updated ON {TABLE}(updated_at, id)")
            cursor.execute(PG_LOAD.format(rows=rows))
            cursor.execute(f"VACUUM ANALYZE {TABLE}")
    finally:
        connection.close()


def load_mariadb(server: Any, rows: int) -> None:
    server.execute(MARIA_TABLE, MARIA_LOAD.format(rows=rows))


def write_gbk_extract(directory: Path, rows: int) -> Path:
    """One complete GBK CSV full extract of ``rows`` persons (mtime in the past: settled)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "persons_full_20240101.csv"
    with path.open("wb") as out:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(1, rows + 1):
            writer.writerow(person(i))
            if i % 50_000 == 0:
                out.write(text.getvalue().encode("gbk"))
                text.seek(0)
                text.truncate()
        out.write(text.getvalue().encode("gbk"))
    past = time.time() - 3600
    os.utime(path, (past, past))
    return path


def update_rows(engine: str, server: Any, first: int, count: int, batch: int) -> float:
    """Update rows ``first..first+count-1`` (note and update time), ``batch`` rows per commit."""
    started = time.perf_counter()
    if engine == "postgres":
        connection = server.connect(autocommit=False)
        statement = (f"UPDATE {TABLE} SET note = md5(random()::text), updated_at = clock_timestamp() "
                     "WHERE id BETWEEN %s AND %s")
    else:
        connection = server.admin(server.database)
        statement = (f"UPDATE {TABLE} SET note = MD5(RAND()), updated_at = NOW(6) "
                     "WHERE id BETWEEN %s AND %s")
    try:
        with connection.cursor() as cursor:
            for low in range(first, first + count, batch):
                high = min(low + batch, first + count) - 1
                if engine != "postgres":
                    connection.begin()
                cursor.execute(statement, (low, high))
                connection.commit()
    finally:
        connection.close()
    return time.perf_counter() - started


def settle_server(engine: str, server: Any) -> None:
    """Untimed, before a timed phase: PostgreSQL vacuums what the previous phase's updates left,
    instead of its autovacuum taking one of the two cores in the middle of the next phase."""
    if engine == "postgres" and server is not None:
        server.execute(f"VACUUM ANALYZE {TABLE}")


def settle_collector() -> None:
    """Untimed, before a timed phase: the harness's own objects (earlier phases' leftovers, the
    messages a raw producer is about to send) are left out of Python's cycle collector, so
    neither side pays for scanning what the other or the harness holds."""
    gc.collect()
    gc.freeze()


# -- capture ------------------------------------------------------------------------------------

def build_source(department: str, engine: str, connection: dict[str, Any], strategy: str,
                 args: argparse.Namespace, state_dir: Path, poll_interval: float = 0.2,
                 options: dict[str, Any] | None = None, table_name: str = TABLE,
                 ) -> CaptureSource:
    """The capture source exactly as the adapter builds it from its YAML configuration."""
    table: dict[str, Any] = {"table": table_name, "key": "id", "strategy": strategy,
                             "batch_size": args.batch_size, "poll_interval": poll_interval}
    if strategy == "incremental":
        table["updated_column"] = "updated_at"
    if options:
        table["options"] = options
    document = {"sources": [{"department": department, "engine": engine,
                             "connection": connection, "tables": [table]}]}
    (config,) = parse_config(document)
    separate = Settings(capture_source_process=args.source_process).separate_source_processes
    (source,) = build_sources(config, state_dir, separate_processes=separate)
    return source


class LiveCapture:
    """A CaptureRunner running in the background; wait until it has published N rows."""

    def __init__(self, source: CaptureSource, bootstrap: str, serde: AvroSerde, *,
                 pipeline: bool = Settings.model_fields["capture_pipeline"].default,
                 workers: int = Settings.model_fields["capture_workers"].default) -> None:
        self.runner = CaptureRunner(
            source, bootstrap=bootstrap, serde=serde,
            producer_factory=lambda owner: transactional_producer(bootstrap, owner),
            pipeline=pipeline, workers=workers)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.started = 0.0
        #: When the first rows were committed, and how many (the last wait_rows).
        self.first_rows_at: float | None = None
        self.first_rows = 0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.task = asyncio.create_task(self.runner.run(self.stop_event))

    async def wait_rows(self, target: int, label: str, total: int, offset: int = 0,
                        since: float | None = None) -> float:
        """Seconds from ``since`` (default: the start) until ``target`` rows are committed."""
        since = self.started if since is None else since
        assert self.task is not None
        with progress_bar() as progress:
            task = progress.add_task(label, total=total, rate="")
            last_rows, last_time = -1, since
            self.first_rows_at, self.first_rows = None, 0
            while True:
                rows = self.runner.status.rows
                now = time.perf_counter()
                if rows != last_rows:
                    last_rows, last_time = rows, now
                    if self.first_rows_at is None and rows > offset:
                        self.first_rows_at, self.first_rows = now, rows - offset
                done = rows - offset
                progress.update(task, completed=done,
                                rate=f"{done / (now - since):,.0f} rows/s" if now > since else "")
                if rows >= target:
                    return last_time - since
                if self.task.done():
                    self.task.result()
                    raise SystemExit(f"{label}: the runner stopped at {rows} rows")
                if self.runner.status.errors:
                    console.print(f"[yellow]{label}: {self.runner.status.last_error}")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await self.task
        if self.runner.status.errors:
            console.print(f"[yellow]{self.runner.spec.owner}: {self.runner.status.errors} errors, "
                          f"last: {self.runner.status.last_error}")


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def read_range(bootstrap: str, topic: str, start: int, expected: int) -> list[Message]:
    """The committed messages of ``topic`` from offset ``start`` (untimed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, start)
        end = (await consumer.end_offsets([tp]))[tp]
        messages: list[Message] = []
        with progress_bar() as progress:
            task = progress.add_task(f"reading back {topic}", total=expected, rate="")
            while len(messages) < expected and await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
                for record in batch.get(tp, []):
                    if record.key is not None and record.value is not None \
                            and len(messages) < expected:
                        messages.append((record.key, record.value, list(record.headers)))
                progress.update(task, completed=len(messages))
    finally:
        await consumer.stop()
    if len(messages) != expected:
        raise SystemExit(f"read back {len(messages)} messages from {topic}, expected {expected}")
    return messages


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, serde: AvroSerde) -> None:
        self.args, self.tmp, self.serde = args, tmp, serde
        self.run_id = uuid.uuid4().hex[:6]
        self.topics: list[str] = []
        self.results: list[Result] = []

    async def topic_for(self, department: str) -> str:
        topic = f"legacy.{department}.{TABLE}"
        raw, batch = f"bench.raw.{department}", f"bench.raw-batch.{department}"
        await ensure_topics(self.args.bootstrap, [TopicSpec.history(t) for t in (topic, raw, batch)])
        self.topics += [topic, raw, batch, f"quarantine.{department}.{TABLE}"]
        return topic

    async def raw(self, department: str, topic: str, start: int,
                  count: int) -> tuple[float, float, int]:
        """Seconds of the ``send()`` and the ``send_batch`` baselines, and the payload size."""
        if self.args.no_raw:
            return float("nan"), float("nan"), 0
        messages = await read_range(self.args.bootstrap, topic, start, count)
        console.print(f"  raw aiokafka producer, {count:,} records…")
        settle_collector()
        seconds = await time_raw(self.args.bootstrap, f"bench.raw.{department}", messages)
        console.print(f"  raw send_batch, {count:,} records…")
        settle_collector()
        batch_seconds = await time_raw_batched(self.args.bootstrap, f"bench.raw-batch.{department}",
                                               messages, self.args.batch_size)
        return seconds, batch_seconds, payload_size(messages)

    async def run(self, engine: str, strategy: str, connection: dict[str, Any],
                  server: Any = None, options: dict[str, Any] | None = None) -> None:
        args = self.args
        department = f"b{self.run_id}{engine[:2]}{strategy[:3]}"
        topic = await self.topic_for(department)
        source = build_source(department, engine, connection, strategy, args,
                              self.tmp / "state" / department, options=options)
        live = LiveCapture(source, args.bootstrap, self.serde, pipeline=args.pipeline,
                           workers=args.workers)
        changes = args.changes if f"{engine}-{strategy}" in CHANGE_RUNS and server else 0
        await asyncio.to_thread(settle_server, engine, server)
        settle_collector()
        try:
            live.start()
            seconds = await live.wait_rows(args.rows, f"{engine}/{strategy} snapshot", args.rows)
            if changes:
                # Let the runner reach the streaming phase before the writer starts.
                while live.runner.status.state != "streaming":
                    await asyncio.sleep(0.05)
                offset = await end_offset(args.bootstrap, topic)
                started = time.perf_counter()
                writer = asyncio.create_task(asyncio.to_thread(
                    update_rows, engine, server, 1, changes, args.change_batch))
                change_seconds = await live.wait_rows(args.rows + changes,
                                                      f"{engine}/{strategy} changes", changes,
                                                      offset=args.rows, since=started)
                writer_seconds = await writer
        finally:
            await live.stop()
        raw_seconds, batch_seconds, size = await self.raw(department, topic, 0, args.rows)
        self.add(Result(engine, strategy, "snapshot", args.rows, seconds, raw_seconds, size,
                        batch_seconds=batch_seconds))
        if changes:
            raw_seconds, batch_seconds, size = await self.raw(department, topic, offset, changes)
            writer_rate = changes / writer_seconds
            self.add(Result(engine, strategy, "changes", changes, change_seconds, raw_seconds, size,
                            f"writer {writer_rate:,.0f} rows/s in the same phase, capture / "
                            f"writer {changes / change_seconds / writer_rate:.2f}; last change "
                            f"committed {max(change_seconds - writer_seconds, 0):.2f}s after "
                            f"the writer's last", batch_seconds=batch_seconds))
            if args.backlog:
                await self.backlog(engine, strategy, connection, server, options, department,
                                   topic, changes)

    async def backlog(self, engine: str, strategy: str, connection: dict[str, Any], server: Any,
                      options: dict[str, Any] | None, department: str, topic: str,
                      changes: int) -> None:
        """Changes written while the capture is stopped, then taken by a restarted runner:
        what the capture path sustains when the legacy writer is not the limit."""
        await asyncio.to_thread(update_rows, engine, server, 1, changes, self.args.change_batch)
        offset = await end_offset(self.args.bootstrap, topic)
        source = build_source(department, engine, connection, strategy, self.args,
                              self.tmp / "state" / department, options=options)
        live = LiveCapture(source, self.args.bootstrap, self.serde, pipeline=self.args.pipeline,
                           workers=self.args.workers)
        await asyncio.to_thread(settle_server, engine, server)
        settle_collector()
        try:
            live.start()
            seconds = await live.wait_rows(changes, f"{engine}/{strategy} backlog", changes)
        finally:
            await live.stop()
        assert live.first_rows_at is not None
        # Timed as the raw producers are, from the first record on (they are started before
        # their clock starts): from the first committed batch, whose rows are not counted.
        start_up = live.first_rows_at - live.started
        raw_seconds, batch_seconds, size = await self.raw(department, topic, offset, changes)
        self.add(Result(engine, strategy, "backlog", changes, seconds - start_up, raw_seconds,
                        size, f"written while stopped; from the first committed batch "
                        f"({live.first_rows:,} rows, {start_up:.2f}s after the start; "
                        f"{changes / seconds:,.0f} rows/s from the start)",
                        batch_seconds=batch_seconds, timed_rows=changes - live.first_rows))

    def add(self, result: Result) -> None:
        self.results.append(result)
        console.print(f"  {result.engine}/{result.strategy} {result.phase}: {result.rows:,} rows "
                      f"in {result.seconds:.2f}s = {result.rate:,.0f} rows/s; raw "
                      f"{result.raw_rate:,.0f} rows/s, ratio {result.ratio:.2f}; raw batch "
                      f"{result.batch_rate:,.0f} rows/s, ratio {result.batch_ratio:.2f} "
                      f"{result.note}")


async def with_postgres(bench: Bench, runs: Sequence[str]) -> None:
    from tests.servers.postgres import PostgresServer

    with PostgresServer() as pg:
        console.print(f"PostgreSQL on port {pg.port}: loading {bench.args.rows:,} rows…")
        started = time.perf_counter()
        await asyncio.to_thread(load_postgres, pg, bench.args.rows)
        console.print(f"  loaded in {time.perf_counter() - started:.1f}s")
        for strategy in ("log", "diff", "incremental"):
            if f"postgres-{strategy}" in runs:
                await bench.run("postgres", strategy, {"dsn": pg.dsn}, pg)
                pg.drop_replication_slots()


async def with_mariadb(bench: Bench, runs: Sequence[str]) -> None:
    from tests.servers.mariadb import MariaDbServer

    server = MariaDbServer()
    try:
        await asyncio.to_thread(server.install)
        console.print(f"MariaDB on port {server.port}: loading {bench.args.rows:,} rows…")
        started = time.perf_counter()
        await asyncio.to_thread(load_mariadb, server, bench.args.rows)
        console.print(f"  loaded in {time.perf_counter() - started:.1f}s")
        for strategy in ("log", "incremental"):
            if f"mariadb-{strategy}" in runs:
                await bench.run("mariadb", strategy, server.connection_settings(), server)
    finally:
        server.close()


async def run(args: argparse.Namespace) -> list[Result]:
    registry = RegistryClient(args.registry)
    await ensure_topics(args.bootstrap, [POSITIONS_TOPIC_SPEC])
    with tempfile.TemporaryDirectory(prefix="rongtong-bench-") as name:
        tmp = Path(name)
        bench = Bench(args, tmp, AvroSerde(registry))
        console.print(f"run {bench.run_id}: {args.rows:,} rows per engine, {args.changes:,} "
                      f"changes, batch {args.batch_size}; Kafka {args.bootstrap}; "
                      f"pipeline {'on' if args.pipeline else 'off'}, {args.workers} workers; "
                      f"load average {os.getloadavg()[0]:.1f}")
        try:
            if "sqlite-incremental" in args.runs:
                db = tmp / "legacy.sqlite"
                await asyncio.to_thread(load_sqlite, db, args.rows)
                await bench.run("sqlite", "incremental", {"path": str(db)})
            if any(r.startswith("postgres") for r in args.runs):
                await with_postgres(bench, args.runs)
            if any(r.startswith("mariadb") for r in args.runs):
                await with_mariadb(bench, args.runs)
            if "files-diff" in args.runs:
                drops = tmp / "drops"
                await asyncio.to_thread(write_gbk_extract, drops, args.rows)
                await bench.run("files", "diff", {"directory": str(drops)}, options={
                    "pattern": "*.csv", "format": "csv", "encoding": "gbk",
                    "settle_seconds": 0, "reader": args.file_reader})
        finally:
            await registry.close()
            if not args.keep_topics and bench.topics:
                await delete_topics(args.bootstrap, bench.topics)
    return bench.results


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    headers = ("engine", "strategy", "phase", "rows", "seconds", "rows/s", "raw rows/s",
               "capture / raw", "raw batch rows/s", "capture / raw batch", "note")
    table = Table(title=f"capture per engine — batch {args.batch_size}, Kafka {args.bootstrap}")
    for header in headers:
        table.add_column(header, justify="left" if header in ("engine", "strategy", "phase", "note")
                         else "right")
    lines: list[tuple[str, ...]] = []
    for r in results:
        cells = (r.engine, r.strategy, r.phase, f"{r.rows:,}", f"{r.seconds:.2f}",
                 f"{r.rate:,.0f}", f"{r.raw_rate:,.0f}", f"{r.ratio:.2f}", f"{r.batch_rate:,.0f}",
                 f"{r.batch_ratio:.2f}", r.note)
        table.add_row(*cells)
        lines.append(cells)
    console.print(table)
    if args.markdown:
        print("\n| " + " | ".join(headers) + " |")
        print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
        print()
    sizes = [r.payload_bytes / r.rows for r in results if r.payload_bytes]
    if sizes:
        console.print(f"payload {min(sizes):,.0f}–{max(sizes):,.0f} bytes/record; python "
                      f"{platform.python_version()}, {os.cpu_count()} CPUs")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The process runs the captures as `bus adapters run` does, its collector paced alike
    # (the raw baselines share the process and the setting).
    pace_collector(Settings().capture_gc_threshold)
    results = asyncio.run(run(args))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
