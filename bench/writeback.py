"""Write-back throughput per engine, beside a bare ``executemany`` of the same rows.

For every engine a fresh topic gets ``--events`` canonical requests (untimed: household
registrations for SQLite, PostgreSQL and the GBK export, insurance enrolments for MariaDB),
then the production sink — ``SinkRunner`` with the target the configuration builds, the
reference reverse mapping, ``--batch-size`` events per legacy transaction — writes them into
an empty legacy table (``hj_ryxx``, ``ac01``) or export directory. Timed from the runner's start
until its last batch is committed: consuming, decoding, reverse mapping, locking and reading
the rows, upserts, read-back, ledger and positions.

The baseline, in the same run on the same engine: the same legacy rows (mapped untimed)
inserted into a fresh copy of the table by a bare ``cursor.executemany`` of a plain ``INSERT``,
committed every ``--batch-size`` rows — or, for files, written as one CSV file per batch with
``csv.writer`` (no fsync, no rename, no ledger). ``ratio`` is sink / baseline.

PostgreSQL and MariaDB are throw-away servers from Debian's packages (``tests/servers``); Kafka
and the registry are the running stack (``BUS_KAFKA_BOOTSTRAP``, ``BUS_REGISTRY_URL``).

    .venv/bin/python bench/writeback.py --events 20000 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.sinks.config import SinkConfig, parse_sink_config
from adapters.sinks.process import build_target
from adapters.sinks.runner import SinkRunner
from adapters.sinks.sql_engines import SqlEngine, sql_engine
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from schemas.avro_schemas import load_avro_schema

console = Console()
ENGINES = ("sqlite", "postgres", "mariadb", "files")
HJ_RYXX = ('CREATE TABLE {table} ("RYBH" varchar(32) PRIMARY KEY, "SFZH" varchar(18), '
           '"XM" varchar(40), "XB" varchar(4), "CSRQ" varchar(10), "HJDZ" text, "XZQH" varchar(6), '
           '"GXSJ" {stamp} NOT NULL)')
AC01 = ("CREATE TABLE {table} (AAC001 VARCHAR(20) NOT NULL PRIMARY KEY, AAC002 VARCHAR(40), "
        "AAC003 VARCHAR(40), AAC004 VARCHAR(4), AAC006 DATE, AAB001 VARCHAR(20), AAC008 CHAR(1), "
        "AAE036 DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


@dataclass(frozen=True)
class Result:
    engine: str
    events: int
    #: From the first committed batch to the last (the steady state), and the events in it.
    seconds: float
    timed_events: int
    #: From the runner's start to its first committed batch (topics, connections, seeks).
    startup: float
    baseline_seconds: float

    @property
    def rate(self) -> float:
        return self.timed_events / self.seconds

    @property
    def baseline_rate(self) -> float:
        return self.events / self.baseline_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="events per engine")
    parser.add_argument("--batch-size", type=int, default=200,
                        help="events per legacy transaction (BUS_WRITEBACK_BATCH_SIZE)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--bootstrap", default=os.environ.get("BUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry",
                        default=os.environ.get("BUS_REGISTRY_URL", "http://127.0.0.1:8081"))
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    return parser.parse_args(argv)


def request(entity: str, number: int) -> dict[str, Any]:
    common = {"case_id": f"C{number:07d}", "certificate_number": f"Q44{number:09d}",
              "name": f"张小{'一二三四五六七八九十'[number % 10]}", "sex_code": "12"[number % 2],
              "birth_date": date(2026, 1 + number % 12, 1 + number % 28),
              "requested_at": datetime(2026, 11, 25, 8, 30, tzinfo=UTC),
              "source": {"department": "rongtong.newborn_case", "table": "newborn_case",
                         "record_key": f"Q44{number:09d}", "event_id": str(uuid.uuid4()),
                         "op": "c", "updated_at": None}}
    if entity == "household_registration":
        return {**common, "registration_id": f"R{number:08d}", "division_code": "110105",
                "household_address": "北京市朝阳区某街道某号", "father_identity_number": None,
                "mother_identity_number": "11010519900307002X"}
    return {**common, "enrolment_id": f"E{number:08d}", "identity_number": None,
            "employer_credit_code": None}


async def publish(args: argparse.Namespace, serde: AvroSerde, topic: str, entity: str) -> None:
    schema, key_schema = load_avro_schema(entity), load_avro_schema(f"{entity}_key")
    key_field = key_schema["fields"][0]["name"]
    await ensure_topics(args.bootstrap, [TopicSpec.history(topic)])
    encode_value = await serde.encoder(subject_for(topic), schema)
    encode_key = await serde.encoder(subject_for(topic, is_key=True), key_schema)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=10)
    await producer.start()
    try:
        deliveries = []
        for number in range(args.events):
            value = request(entity, number)
            event = CloudEvent(f"rongtong.std.{entity}.upserted", "/bench")
            deliveries.append(await producer.send(
                topic, encode_value(value), key=encode_key({key_field: value[key_field]}),
                headers=event.to_headers()))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def time_sink(args: argparse.Namespace, serde: AvroSerde, config: SinkConfig,
                    state_dir: Path) -> tuple[float, int, float]:
    """Seconds from the first committed batch to the last, events written in them, start-up."""
    runner = SinkRunner(config, build_target(config, state_dir), bootstrap=args.bootstrap,
                        serde=serde, poll_timeout=0.05)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(runner.run(stop))
    first: tuple[float, int] | None = None
    try:
        while runner.status.written < args.events:
            if task.done():
                task.result()
                raise RuntimeError(f"the sink stopped: {runner.status.last_error}")
            if first is None and runner.status.written:
                first = (time.perf_counter(), runner.status.written)
            await asyncio.sleep(0.002)
        assert first is not None
        return time.perf_counter() - first[0], args.events - first[1], first[0] - started
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def baseline_sql(engine: SqlEngine, create: str, config: SinkConfig, rows: list[tuple[Any, ...]],
                 batch: int) -> float:
    """A bare executemany of the same rows into a fresh copy of the table, committed per batch."""
    connection = engine.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(create)
        connection.commit()
        q = engine.quote
        insert = (f"INSERT INTO {q('baseline_' + config.table)} "
                  f"({', '.join(q(c) for c in config.mapping.column_names)}) VALUES "
                  f"({', '.join([engine.param] * len(config.mapping.column_names))})")
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            engine.begin(connection)
            cursor.executemany(insert, rows[start:start + batch])
            connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def baseline_files(directory: Path, config: SinkConfig, rows: list[tuple[Any, ...]],
                   batch: int) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for number, start in enumerate(range(0, len(rows), batch)):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(config.mapping.column_names)
        writer.writerows(["" if v is None else v for v in row] for row in rows[start:start + batch])
        (directory / f"baseline_{number:06d}.csv").write_bytes(buffer.getvalue().encode("gbk"))
    return time.perf_counter() - started


def mapped_rows(config: SinkConfig, events: int, entity: str) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    columns = config.mapping.column_names
    rows = []
    for number in range(events):
        values = config.mapping.apply(request(entity, number), now).values
        rows.append(tuple(values[c] for c in columns))
    return rows


async def run_engine(args: argparse.Namespace, serde: AvroSerde, engine: str, tmp: Path,
                     connection: dict[str, Any], prepare: Callable[[str], None]) -> Result:
    entity = "insurance_enrolment" if engine == "mariadb" else "household_registration"
    mapping = {"mariadb": "writeback/rsj.ac01.yaml", "files": "writeback/mz.csdj.yaml"}.get(
        engine, "writeback/gongan.hj_ryxx.yaml")
    table = {"mariadb": "ac01", "files": "csdj"}.get(engine, "hj_ryxx")
    department = {"mariadb": "rsj", "files": "mz"}.get(engine, "gongan")
    topic = f"bench.{uuid.uuid4().hex[:8]}.{entity}"
    [config] = parse_sink_config({"sinks": [{
        "department": department, "engine": engine, "connection": connection, "topic": topic,
        "table": table, "mapping": mapping, "batch_size": args.batch_size}]})
    console.print(f"{engine}: publishing {args.events:,} {entity} events…")
    await publish(args, serde, topic, entity)
    prepare(table)
    seconds, timed, startup = await time_sink(args, serde, config, tmp / engine)
    rows = mapped_rows(config, args.events, entity)
    if engine == "files":
        baseline = await asyncio.to_thread(baseline_files, tmp / "baseline-files", config, rows,
                                           args.batch_size)
    else:
        sql = sql_engine(engine, connection)
        create = (AC01 if engine == "mariadb" else HJ_RYXX).format(
            table=sql.quote(f"baseline_{table}"),
            stamp="TEXT" if engine == "sqlite" else "timestamp(0)")
        baseline = await asyncio.to_thread(baseline_sql, sql, create, config, rows, args.batch_size)
    result = Result(engine, args.events, seconds, timed, startup, baseline)
    console.print(f"  sink {result.rate:,.0f} rows/s (start-up {startup:.1f}s), executemany "
                  f"{result.baseline_rate:,.0f} rows/s, ratio {result.ratio:.2f}")
    return result


async def run(args: argparse.Namespace) -> list[Result]:
    engines = [e for e in args.engines.split(",") if e]
    results: list[Result] = []
    async with RegistryClient(args.registry) as registry:
        serde = AvroSerde(registry)
        with tempfile.TemporaryDirectory(prefix="rongtong-bench-wb-") as name:
            tmp = Path(name)
            if "sqlite" in engines:
                path = tmp / "gongan.sqlite"

                def create_sqlite(table: str) -> None:
                    with sqlite3.connect(path) as db:
                        db.execute(HJ_RYXX.format(table=table, stamp="TEXT"))
                    db.close()
                results.append(await run_engine(args, serde, "sqlite", tmp, {"path": str(path)},
                                                create_sqlite))
            if "postgres" in engines:
                from tests.servers.postgres import PostgresServer

                with PostgresServer() as pg:
                    results.append(await run_engine(
                        args, serde, "postgres", tmp, {"dsn": pg.dsn},
                        lambda table: pg.execute(HJ_RYXX.format(table=table, stamp="timestamp(0)"))))
            if "mariadb" in engines:
                from tests.servers.mariadb import MariaDbServer

                server = MariaDbServer()
                try:
                    await asyncio.to_thread(server.install)
                    server.create_user("wbbench", "wbbench", "ALL PRIVILEGES")
                    connection = {**server.connection_settings(), "user": "wbbench",
                                  "password": "wbbench"}
                    results.append(await run_engine(
                        args, serde, "mariadb", tmp, connection,
                        lambda table: server.execute(AC01.format(table=table))))
                finally:
                    server.close()
            if "files" in engines:
                results.append(await run_engine(
                    args, serde, "files", tmp, {"directory": str(tmp / "export"), "encoding": "gbk"},
                    lambda _table: None))
    return results


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    table = Table(title=f"write-back, {args.events:,} events per engine, batch {args.batch_size}")
    for column in ("engine", "sink rows/s", "start-up s", "executemany rows/s", "ratio"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.engine, f"{r.rate:,.0f}", f"{r.startup:.1f}", f"{r.baseline_rate:,.0f}",
                      f"{r.ratio:.2f}")
    console.print(table)
    console.print(f"{platform.python_implementation()} {platform.python_version()}, "
                  f"{os.cpu_count()} CPUs")
    if args.markdown:
        print("\n| engine | sink rows/s | sink start-up | bare executemany rows/s | ratio |\n"
              "|---|---:|---:|---:|---:|")
        for r in results:
            print(f"| {r.engine} | {r.rate:,.0f} | {r.startup:.1f} s | {r.baseline_rate:,.0f} | "
                  f"{r.ratio:.2f} |")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report(asyncio.run(run(args)), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
