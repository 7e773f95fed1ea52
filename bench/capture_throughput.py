"""SQLite capture → Kafka throughput, beside raw aiokafka producing the same bytes in the same run.

Three timed paths publish the same change events:

1. ``capture``: the production path — ``SqlTableSource(SqliteDialect(path), spec)`` with the
   ``incremental`` strategy driven by ``CaptureRunner`` until every row is on the topic (read a
   batch from the legacy SQLite file, build the change envelopes, Avro-encode them, publish
   them with their checkpoint in one Kafka transaction per batch, acknowledge).
2. ``raw``: the exact (key, value, headers) bytes the capture produced, read back from its
   topic (untimed), sent by a plain idempotent ``AIOKafkaProducer`` (acks=all, same linger
   and batch size, no transactions), timed from the first send to the last acknowledgement.
3. ``raw+tx``: the same bytes through a transactional producer committing every
   ``--batch-size`` records — what transactions alone cost.
4. ``raw batch`` and ``raw batch+tx``: the same bytes queued the way the capture queues them
   (``bus.kafka.send_batched``: ``create_batch()`` + ``send_batch`` per partition), without and
   with a transaction per ``--batch-size`` records. The capture produces this way, so
   ``capture / raw batch`` is the ratio that does not flatter it; ``capture / raw`` compares
   with the plain per-message ``send()`` a client would write.

Every run uses fresh topics (``legacy.benchNNNNNN.hj_ryxx`` and four baseline topics) and a
fresh capture owner, so runs never see each other's data or positions.

    .venv/bin/python bench/capture_throughput.py --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.runner import CaptureRunner
from adapters.capture.source import TableSpec
from adapters.capture.sql_source import SqlTableSource
from bus.demo.seed import seed_gongan
from bus.kafka import TopicSpec, ensure_topics, send_batched, transactional_producer
from bus.positions import POSITIONS_TOPIC_SPEC
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings

# Same producer tuning as bus.kafka.transactional_producer, so the baselines differ from the
# capture only in what they leave out.
LINGER_MS = 5
MAX_BATCH_SIZE = 256 * 1024

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]
console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Measurement:
    """One timed path: how many records and bytes it published in how many seconds."""

    name: str
    what: str
    records: int
    payload_bytes: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def megabytes_per_second(self) -> float:
        return self.payload_bytes / self.seconds / 1e6


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the legacy table")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="rows per poll and per Kafka transaction")
    parser.add_argument("--bootstrap", default=os.environ.get("BUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--registry",
                        default=os.environ.get("BUS_REGISTRY_URL", "http://127.0.0.1:8081"))
    parser.add_argument("--pipeline", action=argparse.BooleanOptionalAction,
                        default=Settings.model_fields["capture_pipeline"].default,
                        help="read ahead while batches are built and committed (BUS_CAPTURE_PIPELINE)")
    parser.add_argument("--workers", type=int,
                        default=Settings.model_fields["capture_workers"].default,
                        help="worker processes building the records (BUS_CAPTURE_WORKERS)")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table as Markdown (for docs/benchmarks.md)")
    parser.add_argument("--keep-topics", action="store_true",
                        help="leave the benchmark topics on the broker (deleted by default)")
    args = parser.parse_args(argv)
    if args.rows <= 0 or args.batch_size <= 0:
        parser.error("--rows and --batch-size must be positive")
    return args


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console)


def seed_legacy_table(db_path: Path, rows: int) -> int:
    """The 公安 household register with ``rows`` persons (untimed); rows actually in the table."""
    with progress_bar() as progress:
        task = progress.add_task("seeding hj_ryxx", total=rows, rate="")
        seed_gongan(db_path, persons=rows,
                    progress=lambda done, _total: progress.update(task, completed=done))
    connection = sqlite3.connect(db_path)
    try:
        (count,) = connection.execute("SELECT count(*) FROM hj_ryxx").fetchone()
        return int(count)
    finally:
        connection.close()


async def time_capture(spec: TableSpec, db_path: Path, rows: int, args: argparse.Namespace,
                       serde: AvroSerde, state_dir: Path) -> float:
    """Seconds the production runner takes to publish the whole table (until it reports idle)."""
    source = SqlTableSource(SqliteDialect(db_path), spec, state_dir=state_dir)
    runner = CaptureRunner(source, bootstrap=args.bootstrap, serde=serde,
                           producer_factory=lambda owner: transactional_producer(args.bootstrap,
                                                                                 owner),
                           pipeline=args.pipeline, workers=args.workers)
    stop = asyncio.Event()
    with progress_bar() as progress:
        task = progress.add_task("capture → Kafka", total=rows, rate="")
        started = time.perf_counter()
        running = asyncio.create_task(runner.run(stop))
        # The runner stops on its own only for a misconfigured source; watch its status until
        # every row is published and the snapshot is over (the first idle batch).
        while not running.done():
            published = runner.status.rows
            elapsed = time.perf_counter() - started
            progress.update(task, completed=published,
                            rate=f"{published / elapsed:,.0f} rows/s" if elapsed else "")
            if published >= rows and runner.status.state == "streaming":
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        stop.set()
        await running
    if runner.status.rows != rows or runner.status.errors:
        raise SystemExit(f"capture published {runner.status.rows} rows with "
                         f"{runner.status.errors} errors; the table has {rows}")
    return seconds


async def read_back(bootstrap: str, topic: str, expected: int) -> list[Message]:
    """The committed messages of ``topic`` exactly as the capture wrote them (untimed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        messages: list[Message] = []
        with progress_bar() as progress:
            task = progress.add_task("reading back", total=expected, rate="")
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
                for record in batch.get(tp, []):
                    if record.key is None or record.value is None:
                        raise SystemExit(f"unexpected null key/value at offset {record.offset}")
                    messages.append((record.key, record.value, list(record.headers)))
                progress.update(task, completed=len(messages))
    finally:
        await consumer.stop()
    if len(messages) != expected:
        raise SystemExit(f"read back {len(messages)} messages from {topic}, expected {expected}")
    return messages


async def time_raw(bootstrap: str, topic: str, messages: Sequence[Message]) -> float:
    """Seconds a plain idempotent producer takes from the first send to the last ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=LINGER_MS, max_batch_size=MAX_BATCH_SIZE)
    await producer.start()
    try:
        started = time.perf_counter()
        acks = [await producer.send(topic, key=key, value=value, headers=headers)
                for key, value, headers in messages]
        await asyncio.gather(*acks)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def time_raw_transactional(bootstrap: str, topic: str, messages: Sequence[Message],
                                 batch_size: int) -> float:
    """Seconds for the same bytes in one transaction per ``batch_size`` records."""
    producer = transactional_producer(bootstrap, f"bench.raw-tx.{topic}")
    await producer.start()
    try:
        started = time.perf_counter()
        for first in range(0, len(messages), batch_size):
            async with producer.transaction():
                for key, value, headers in messages[first:first + batch_size]:
                    await producer.send(topic, key=key, value=value, headers=headers)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def time_raw_batched(bootstrap: str, topic: str, messages: Sequence[Message],
                           batch_size: int) -> float:
    """Seconds for the same bytes queued with ``send_batched``, ``batch_size`` at a time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=LINGER_MS, max_batch_size=MAX_BATCH_SIZE)
    await producer.start()
    try:
        started = time.perf_counter()
        acks = []
        for first in range(0, len(messages), batch_size):
            acks += await send_batched(producer, [(topic, key, value, headers) for key, value, headers
                                                  in messages[first:first + batch_size]])
        await asyncio.gather(*acks)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def time_raw_batched_transactional(bootstrap: str, topic: str, messages: Sequence[Message],
                                         batch_size: int) -> float:
    """Seconds for ``send_batched`` in one transaction per ``batch_size`` records."""
    producer = transactional_producer(bootstrap, f"bench.raw-batch-tx.{topic}")
    await producer.start()
    try:
        started = time.perf_counter()
        for first in range(0, len(messages), batch_size):
            async with producer.transaction():
                await send_batched(producer, [(topic, key, value, headers) for key, value, headers
                                              in messages[first:first + batch_size]])
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


def payload_size(messages: Sequence[Message]) -> int:
    return sum(len(k) + len(v) + sum(len(n) + len(b) for n, b in h) for k, v, h in messages)


RATIOS = [("capture", "raw"), ("capture", "raw batch"), ("capture", "raw batch+tx"),
          ("capture", "raw+tx"), ("raw+tx", "raw"), ("raw batch", "raw")]


def report(results: Sequence[Measurement], args: argparse.Namespace, rows: int) -> None:
    rate = {m.name: m.rows_per_second for m in results}
    columns = ("path", "what is timed", "rows", "seconds", "rows/s", "MB/s", "vs raw",
               "vs raw batch")
    table = Table(title=f"capture throughput — {rows:,} rows, batch {args.batch_size}, "
                        f"Kafka {args.bootstrap}")
    for column in columns:
        table.add_column(column, justify="left" if column in ("path", "what is timed") else "right")
    cells = [(m.name, m.what, f"{m.records:,}", f"{m.seconds:.2f}", f"{m.rows_per_second:,.0f}",
              f"{m.megabytes_per_second:.1f}", f"{m.rows_per_second / rate['raw']:.2f}",
              f"{m.rows_per_second / rate['raw batch']:.2f}") for m in results]
    for row in cells:
        table.add_row(*row)
    console.print(table)
    for top, bottom in RATIOS:
        console.print(f"{top + ' / ' + bottom:<26} = {rate[top] / rate[bottom]:.3f}")
    if args.markdown:
        print("\n| " + " | ".join(columns) + " |")
        print("|---|---|--:|--:|--:|--:|--:|--:|")
        for row in cells:
            print("| " + " | ".join(row) + " |")
        print("\n" + ", ".join(f"{top} / {bottom} = **{rate[top] / rate[bottom]:.2f}**"
                               for top, bottom in RATIOS) + "\n")
    capture = results[0]
    console.print(f"payload: {capture.payload_bytes / capture.records:,.0f} bytes/record "
                  f"(key + value + headers); python {platform.python_version()}, "
                  f"{os.cpu_count()} CPUs")


async def run(args: argparse.Namespace) -> list[Measurement]:
    run_id = uuid.uuid4().hex[:6]
    table = TableSpec(department=f"bench{run_id}", table="hj_ryxx", key_columns=("RYBH",),
                      strategy="incremental", updated_column="GXSJ", batch_size=args.batch_size,
                      poll_interval=0.05)
    raw_topic, raw_tx_topic = f"bench.raw.{run_id}", f"bench.raw-tx.{run_id}"
    batch_topic, batch_tx_topic = f"bench.raw-batch.{run_id}", f"bench.raw-batch-tx.{run_id}"
    topics = [table.topic, raw_topic, raw_tx_topic, batch_topic, batch_tx_topic]
    console.print(f"run {run_id}: topics {', '.join(topics)}; registry {args.registry}; "
                  f"pipeline {'on' if args.pipeline else 'off'}, {args.workers} workers")
    with tempfile.TemporaryDirectory(prefix="rongtong-bench-") as tmp:
        db_path = Path(tmp) / "gongan.sqlite"
        rows = seed_legacy_table(db_path, args.rows)
        await ensure_topics(args.bootstrap, [POSITIONS_TOPIC_SPEC,
                                             *(TopicSpec.history(t) for t in topics)])
        registry = RegistryClient(args.registry)
        try:
            capture_seconds = await time_capture(table, db_path, rows, args, AvroSerde(registry),
                                                 Path(tmp) / "state")
        finally:
            await registry.close()
    try:
        messages = await read_back(args.bootstrap, table.topic, rows)
        size = payload_size(messages)
        console.print("raw aiokafka producer (idempotent, acks=all)…")
        raw_seconds = await time_raw(args.bootstrap, raw_topic, messages)
        console.print(f"transactional producer, commit every {args.batch_size}…")
        raw_tx_seconds = await time_raw_transactional(args.bootstrap, raw_tx_topic, messages,
                                                      args.batch_size)
        console.print(f"idempotent producer, send_batch per {args.batch_size}…")
        batch_seconds = await time_raw_batched(args.bootstrap, batch_topic, messages,
                                               args.batch_size)
        console.print(f"transactional producer, send_batch, commit every {args.batch_size}…")
        batch_tx_seconds = await time_raw_batched_transactional(args.bootstrap, batch_tx_topic,
                                                                messages, args.batch_size)
    finally:
        if not args.keep_topics:
            await delete_topics(args.bootstrap, topics)
    return [
        Measurement("capture", "SqlTableSource (incremental) + CaptureRunner: read + envelope + "
                    "Avro + tx produce with checkpoint",
                    rows, size, capture_seconds),
        Measurement("raw", "same bytes, idempotent producer, no transactions",
                    rows, size, raw_seconds),
        Measurement("raw+tx", f"same bytes, one transaction per {args.batch_size} records",
                    rows, size, raw_tx_seconds),
        Measurement("raw batch", "same bytes, idempotent producer, create_batch/send_batch per "
                    "partition", rows, size, batch_seconds),
        Measurement("raw batch+tx", f"same bytes, send_batch, one transaction per "
                    f"{args.batch_size} records", rows, size, batch_tx_seconds),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    report(results, args, results[0].records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
