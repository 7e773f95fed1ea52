"""Freshness: legacy commit → change event committed in Kafka, ``log`` versus ``incremental``.

For PostgreSQL and MariaDB (throw-away servers from Debian's packages, ``tests/servers``) and
each capture configuration — ``log`` and ``incremental`` with ``poll_interval`` 1.0 (the
default) and 0.2 — a fresh table is captured on the production path
(``build_sources(parse_config(...))`` + ``CaptureRunner`` + transactional producer) while a
writer inserts one row every ``--interval`` seconds (default 0.02) in its own transaction,
with the wall time just before ``COMMIT`` in the row (``committed_ms``). A ``read_committed``
consumer decodes every event and records

- ``visible``: consumer receive time − ``committed_ms`` — when the event became readable, i.e.
  after the capture's Kafka transaction committed (upper bound of "committed in Kafka", by at
  most one fetch: the consumer long-polls with ``fetch_max_wait_ms=5``);
- ``produced``: the Kafka record timestamp (CreateTime, stamped by the transactional producer
  at ``send``) − ``committed_ms`` — before the commit, so a lower bound.

``--samples`` events per configuration (default 1,000); prints p50/p95/p99/max.

    .venv/bin/python bench/capture_freshness.py --samples 1000 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_engines import LiveCapture, build_source
from bench.capture_throughput import console, delete_topics, progress_bar
from bus.kafka import TopicSpec, ensure_topics
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient

TABLE = "fresh"
CONFIGS = (("log", 1.0), ("log", 0.2), ("incremental", 1.0), ("incremental", 0.2))
PG_TABLE = f"""CREATE TABLE {TABLE} (id bigint PRIMARY KEY, committed_ms bigint NOT NULL,
    payload varchar(100), updated_at timestamp(6) NOT NULL DEFAULT clock_timestamp())"""
MARIA_TABLE = f"""CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, committed_ms BIGINT NOT NULL,
    payload VARCHAR(100), updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY {TABLE}_updated (updated_at, id)) DEFAULT CHARSET utf8mb4"""


@dataclass
class Result:
    engine: str
    strategy: str
    poll_interval: float
    visible: list[float]
    produced: list[float]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=1000, help="events per configuration")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between commits")
    parser.add_argument("--engines", default="postgres,mariadb")
    parser.add_argument("--bootstrap", default=os.environ.get("BUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry",
                        default=os.environ.get("BUS_REGISTRY_URL", "http://127.0.0.1:8081"))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--keep-topics", action="store_true")
    return parser.parse_args(argv)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def writer(engine: str, server: Any, table: str, count: int, interval: float,
           stop: threading.Event) -> None:
    """Insert one row per ``interval`` seconds, each in its own transaction."""
    statement = f"INSERT INTO {table} (id, committed_ms, payload) VALUES (%s, %s, %s)"
    connection = (server.connect(autocommit=False) if engine == "postgres"
                  else server.admin(server.database))
    try:
        with connection.cursor() as cursor:
            next_at = time.monotonic()
            for i in range(1, count + 1):
                if stop.is_set():
                    break
                if engine != "postgres":
                    connection.begin()
                # The wall time goes in with the INSERT, the COMMIT follows at once (< 1 ms).
                cursor.execute(statement, (i, int(time.time() * 1000), f"行{i}"))
                connection.commit()
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        connection.close()


async def measure(engine: str, server: Any, connection: dict[str, Any], strategy: str,
                  poll_interval: float, args: argparse.Namespace, serde: AvroSerde,
                  tmp: Path, topics: list[str]) -> Result:
    run_id = uuid.uuid4().hex[:6]
    department = f"f{run_id}{engine[:2]}{strategy[:3]}"
    table = f"{TABLE}_{run_id}"
    ddl = (PG_TABLE if engine == "postgres" else MARIA_TABLE).replace(TABLE, table)
    await asyncio.to_thread(server.execute, ddl)
    topic = f"legacy.{department}.{table}"
    topics += [topic, f"quarantine.{department}.{table}"]
    await ensure_topics(args.bootstrap, [TopicSpec.history(topic)])
    source = build_source(department, engine, connection, strategy, args, tmp / department,
                          poll_interval=poll_interval, table_name=table)
    live = LiveCapture(source, args.bootstrap, serde)
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=5)
    await consumer.start()
    stop = threading.Event()
    visible: list[float] = []
    produced: list[float] = []
    label = f"{engine}/{strategy} poll {poll_interval}"
    try:
        live.start()
        while live.runner.status.state != "streaming":
            await asyncio.sleep(0.05)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        writing = asyncio.create_task(asyncio.to_thread(
            writer, engine, server, table, args.samples + 50, args.interval, stop))
        with progress_bar() as progress:
            task = progress.add_task(label, total=args.samples, rate="")
            async with asyncio.timeout(args.samples * args.interval * 5 + 60):
                while len(visible) < args.samples:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    received_ms = time.time() * 1000
                    for record in batch.get(tp, []):
                        if record.value is None:
                            continue
                        event = await serde.decode(record.value)
                        committed = int((event.get("after") or {})["committed_ms"])
                        if len(visible) < args.samples:
                            visible.append(received_ms - committed)
                            produced.append(record.timestamp - committed)
                    progress.update(task, completed=len(visible),
                                    rate=f"p50 {statistics.median(visible):,.0f} ms"
                                    if visible else "")
        stop.set()
        await writing
    finally:
        stop.set()
        await consumer.stop()
        await live.stop()
    return Result(engine, strategy, poll_interval, visible, produced)


async def run(args: argparse.Namespace) -> list[Result]:
    from tests.servers.mariadb import MariaDbServer
    from tests.servers.postgres import PostgresServer

    args.batch_size = 500
    registry = RegistryClient(args.registry)
    serde = AvroSerde(registry)
    results: list[Result] = []
    topics: list[str] = []
    await ensure_topics(args.bootstrap, [POSITIONS_TOPIC_SPEC])
    with tempfile.TemporaryDirectory(prefix="rongtong-fresh-") as name:
        tmp = Path(name)
        try:
            if "postgres" in args.engines:
                with PostgresServer() as pg:
                    for strategy, poll in CONFIGS:
                        results.append(await measure("postgres", pg, {"dsn": pg.dsn}, strategy,
                                                     poll, args, serde, tmp, topics))
                        report_one(results[-1])
                        pg.drop_replication_slots()
            if "mariadb" in args.engines:
                server = MariaDbServer()
                try:
                    await asyncio.to_thread(server.install)
                    for strategy, poll in CONFIGS:
                        results.append(await measure("mariadb", server,
                                                     server.connection_settings(), strategy,
                                                     poll, args, serde, tmp, topics))
                        report_one(results[-1])
                finally:
                    server.close()
        finally:
            await registry.close()
            if topics and not args.keep_topics:
                await delete_topics(args.bootstrap, topics)
    return results


def cells(r: Result) -> list[str]:
    row = [r.engine, r.strategy, f"{r.poll_interval:g}", f"{len(r.visible):,}"]
    for values in (r.visible,):
        row += [f"{percentile(values, p):,.0f}" for p in (50, 95, 99)] + [f"{max(values):,.0f}"]
    row += [f"{percentile(r.produced, 50):,.0f}", f"{percentile(r.produced, 99):,.0f}"]
    return row


HEADERS = ("engine", "strategy", "poll s", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms",
           "produced p50 ms", "produced p99 ms")


def report_one(r: Result) -> None:
    console.print("  " + " ".join(f"{h}={c}" for h, c in zip(HEADERS, cells(r), strict=True)))


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    table = Table(title=f"freshness: legacy commit → event readable (read_committed), "
                        f"one commit every {args.interval * 1000:.0f} ms")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("engine", "strategy") else "right")
    for r in results:
        table.add_row(*cells(r))
    console.print(table)
    if args.markdown:
        print("\n| " + " | ".join(HEADERS) + " |")
        print("|---|---|" + "--:|" * (len(HEADERS) - 2))
        for r in results:
            print("| " + " | ".join(cells(r)) + " |")
        print()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
