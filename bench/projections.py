"""Projection benchmarks: worker throughput, rebuild time, freshness from legacy commit to read store.

Starts its own stack (Kafka + registry on free ports, ``LocalStack``) in a temp directory, then:

1. **throughput** — produces ``--events`` canonical events (a deterministic mix over the seven
   ``std.*`` topics the profiles read, ``bench/_projection_load.py``) and times, over the very
   same log:

   - ``raw consumer``: a plain ``AIOKafkaConsumer`` (read_committed) fetching a projection's
     input topics and Avro-decoding key and value (``AvroSerde.decode``) — the floor of any
     Kafka consumer of these events;
   - ``store apply``: ``ProfileProjection.from_event`` + ``ProfileStore.apply`` in-process on
     the decoded events (decoding untimed), no Kafka — the projection's own cost;
   - ``worker``: ONE ``python -m bus projections run`` (every projection of the bus on one faust
     app: citizen_profile, enterprise_profile and newborn_case, outbox publishers included),
     from its first applied event until each store's ``projection_position`` reaches the end
     offsets; each topic's own rate too.

   plus the apply cost of a ``std.social_insurance`` event against the size of its employer's
   ``insured_employees`` facet (``--facet-probe``), in-process.
2. **rebuild** — ``bus projections rebuild citizen_profile --json`` over the same log, beside the
   worker's live store; events/s and the time 1,000,000 events would take at that rate. Run
   without ``throughput`` (``--phases rebuild --events 1000000``) it produces the events and
   times the rebuild alone, with no live store to compare with.
3. **freshness** — the whole path: ``bus adapters run`` (Public Security SQLite only,
   ``incremental``) and ``bus projections run``; a writer commits one ``hj_ryxx`` row at a time
   at ``--rate`` rows/s, and a tight loop reads each new citizen through
   ``CitizenProfileQueries`` until it appears. p50/p99 of (seen − commit), with
   ``BUS_CAPTURE_POLL_INTERVAL`` 0.2 and 1.0; the profile's ``projected_at`` (Kafka time of
   the ``std.person`` event) splits each delay into capture + standardize and projection.

    .venv/bin/python bench/projections.py --events 50000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._projection_load import ENTITY, generate
from bench._projection_stack import BusProcess, bus_env, outbox_size, positions, stack_settings
from bench.capture_throughput import console, progress_bar
from bus.demo.seed import seed_gongan
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics, send_batched
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.stack.local import LocalStack
from bus.standards.idcard import compute_check_char
from projections.app import profile_projections
from projections.batching import BATCH_SIZE
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.enterprise_profile.extract import enterprise_projection
from projections.newborn_case.store import INPUT_TOPICS as NEWBORN_INPUTS
from projections.profiles.projection import ProfileProjection
from projections.profiles.store import Change, InputPosition, ProfileStore
from schemas.avro_schemas import load_avro_schema

PHASES = ("throughput", "rebuild", "freshness")
PRODUCE_CHUNK = 2_000
MILLION = 1_000_000

GONGAN_ONLY = """
sources:
  - department: gongan
    engine: sqlite
    connection: {path: "${BUS_STATE_DIR}/legacy/gongan.sqlite"}
    tables:
      - {table: hj_ryxx, key: [RYBH], strategy: incremental, updated_column: GXSJ,
         batch_size: 500, poll_interval: "${BUS_CAPTURE_POLL_INTERVAL:-1.0}"}
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000,
                        help="canonical events produced for throughput and rebuild")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of {', '.join(PHASES)}")
    parser.add_argument("--facet-probe", type=int, default=2_000,
                        help="largest insured_employees facet probed in-process (0: skip)")
    parser.add_argument("--samples", type=int, default=300,
                        help="freshness rows committed per poll interval")
    parser.add_argument("--rate", type=float, default=5.0, help="freshness rows committed per second")
    parser.add_argument("--poll-intervals", default="0.2,1.0",
                        help="BUS_CAPTURE_POLL_INTERVAL values for freshness")
    parser.add_argument("--worker-timeout", type=float, default=3_600,
                        help="seconds the worker may take to catch up")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the tables as Markdown (for docs/benchmarks.md)")
    parser.add_argument("--profile-worker", type=Path, metavar="FILE",
                        help="run the throughput worker under cProfile, stats written to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (stores, logs)")
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if args.events <= 0 or args.samples <= 0 or args.rate <= 0:
        parser.error("--events, --samples and --rate must be positive")
    return args


# -- output --------------------------------------------------------------------------------------

@dataclass
class Report:
    """Tables printed at the end (rich on the console, Markdown with ``--markdown``)."""

    markdown: bool
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)

    def add(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        self.tables.append((title, columns, rows))
        table = Table(title=title)
        for column in columns:
            table.add_column(column, justify="left" if column in LEFT else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)

    def print_markdown(self) -> None:
        if not self.markdown:
            return
        for title, columns, rows in self.tables:
            print(f"\n{title}\n\n| " + " | ".join(columns) + " |")
            print("|" + "|".join("---" if c in LEFT else "--:" for c in columns) + "|")
            for row in rows:
                print("| " + " | ".join(row) + " |")


LEFT = {"path", "projection", "what is timed", "topic", "poll s", "phase"}


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f}" if seconds > 0 else "—"


# -- 1. producing the canonical log ---------------------------------------------------------------

async def produce(stack: Settings, events: int) -> Counter[str]:
    """``events`` canonical events on the std.* topics (untimed); the count per topic."""
    inputs = sorted({t for p in profile_projections() for t in p.topics} | set(NEWBORN_INPUTS))
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(t) for t in inputs])
    counts: Counter[str] = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            schemas = {t: (load_avro_schema(f"{e}_key"), load_avro_schema(e)) for t, e in ENTITY.items()}
            encoders = {t: (await serde.encoder(subject_for(t, is_key=True), k),
                            await serde.encoder(subject_for(t), v)) for t, (k, v) in schemas.items()}
            acks: list[Any] = []
            chunk: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []
            with progress_bar() as progress:
                task = progress.add_task("producing std.*", total=events, rate="")
                for n, event in enumerate(generate(events), 1):
                    encode_key, encode_value = encoders[event.topic]
                    headers = CloudEvent(f"rongtong.std.{ENTITY[event.topic]}.upserted",
                                         "/bench/projections").to_headers()
                    chunk.append((event.topic, encode_key(event.key), encode_value(event.value),
                                  headers))
                    counts[event.topic] += 1
                    if len(chunk) == PRODUCE_CHUNK or n == events:
                        acks += await send_batched(producer, chunk)
                        chunk = []
                        progress.update(task, completed=n)
            await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return counts


# -- 1a. baselines in-process ---------------------------------------------------------------------

async def read_log(stack: Settings, topics: Iterable[str], counts: Counter[str],
                   store: tuple[ProfileProjection, ProfileStore] | None = None,
                   batch: int = 0) -> tuple[float, float]:
    """Fetch + decode every event of ``topics``: (wall seconds, seconds spent in apply).

    With ``store``, each decoded batch is then applied (``from_event`` + ``ProfileStore.apply``
    per event, or ``apply_batch`` per ``batch`` events as the worker does) and only that is added
    to the second figure.
    """
    tps = [TopicPartition(t, 0) for t in topics if counts[t]]
    ends = {tp: counts[tp.topic] for tp in tps}
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    await consumer.start()
    applying = 0.0
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            started = time.perf_counter()
            open_ = set(tps)
            while open_:
                batches = await consumer.getmany(*open_, timeout_ms=1000, max_records=5_000)
                decoded = []
                for records in batches.values():
                    for r in records:
                        at = InputPosition(r.topic, r.partition, r.offset, r.timestamp)
                        decoded.append((at, await serde.decode(r.key),
                                        None if r.value is None else await serde.decode(r.value)))
                if store is not None:
                    projection, target = store
                    began = time.perf_counter()
                    if batch:
                        changes = [Change(at, *projection.from_event(at, key, value))
                                   for at, key, value in decoded]
                        for start in range(0, len(changes), batch):
                            target.apply_batch(changes[start:start + batch])
                    else:
                        for at, key, value in decoded:
                            source_key, contributions = projection.from_event(at, key, value)
                            target.apply(at, source_key, contributions)
                    applying += time.perf_counter() - began
                for tp in list(open_):
                    if await consumer.position(tp) >= ends[tp]:
                        open_.discard(tp)
            return time.perf_counter() - started, applying
    finally:
        await consumer.stop()


def facet_probe(largest: int, tmp: Path) -> list[list[str]]:
    """ms per std.social_insurance event whose employer already has k insured employees."""
    projection = enterprise_projection()
    store = ProfileStore(tmp / "facet-probe.sqlite", projection.authority)
    window = 50
    checkpoints = [k for k in (10, 100, 500, 1_000, 2_000, 5_000) if k <= largest]
    rows: list[list[str]] = []
    register = {"credit_code": "913301060000000001", "name": "杭州大厂有限公司",
                "legal_rep_identity_number": "330106199003071236", "legal_rep_name": "王小明",
                "registered_capital": None, "founding_date": datetime(2000, 1, 1).date(),
                "status_code": "1", "source": _source("scjg", "qy_jbxx", "E1")}
    offsets: Counter[str] = Counter()

    def apply(topic: str, key: dict[str, Any], value: dict[str, Any]) -> None:
        at = InputPosition(topic, 0, offsets[topic], 1_700_000_000_000 + sum(offsets.values()))
        offsets[topic] += 1
        store.apply(at, *projection.from_event(at, key, value))

    try:
        apply("std.enterprise", {"credit_code": register["credit_code"]}, register)
        employees = 0
        for k in checkpoints:
            while employees < k - window:
                apply("std.social_insurance", *_employee(employees, register["credit_code"]))
                employees += 1
            started = time.perf_counter()
            for _ in range(window):
                apply("std.social_insurance", *_employee(employees, register["credit_code"]))
                employees += 1
            ms = (time.perf_counter() - started) / window * 1000
            rows.append([f"{k:,}", f"{ms:.2f}", rate(1, ms / 1000)])
    finally:
        store.close()
    return rows


def _source(department: str, table: str, key: str) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"e-{key}",
            "op": "c", "updated_at": None}


def _employee(n: int, employer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    number = f"S{n:010d}"
    return {"insurance_number": number}, {
        "insurance_number": number, "identity_number": f"33010619900307{n % 10_000:04d}",
        "name": "张三", "sex_code": "1", "birth_date": datetime(1990, 3, 7).date(),
        "employer_credit_code": employer, "status_code": "1", "source": _source("rsj", "ac01", number)}


# -- 1b. the worker -------------------------------------------------------------------------------

@dataclass
class Progression:
    """When each (projection, topic) applied its first event and reached its end offset."""

    first: dict[tuple[str, str], float] = field(default_factory=dict)
    done: dict[tuple[str, str], float] = field(default_factory=dict)
    outbox_drained: dict[str, float] = field(default_factory=dict)
    #: The worker's CPU seconds (user + system) when every position reached the end offsets.
    cpu_at_done: float | None = None


def projection_inputs(counts: Counter[str]) -> dict[str, list[str]]:
    inputs = {p.name: list(p.topics) for p in profile_projections()}
    inputs["newborn_case"] = list(NEWBORN_INPUTS)
    return {name: [t for t in topics if counts[t]] for name, topics in inputs.items()}


def run_worker(stack: Settings, state_dir: Path, counts: Counter[str], timeout: float,
               log_dir: Path, profile: Path | None = None) -> tuple[float, Progression]:
    """Start one ``bus projections run`` and watch its stores until every position is at the
    end and every outbox is empty; (seconds from start to the first applied event, timeline)."""
    inputs = projection_inputs(counts)
    stores = {name: state_dir / "projections" / f"{name}.sqlite" for name in inputs}
    python = ["-m", "cProfile", "-o", str(profile.resolve())] if profile else []
    worker = BusProcess("projections-throughput", ["projections", "run"], bus_env(stack, state_dir),
                        log_dir, python=python).start()
    seen = Progression()
    total = sum(counts[t] for topics in inputs.values() for t in topics)
    started = time.perf_counter()
    try:
        with progress_bar() as progress:
            task = progress.add_task("bus projections run", total=total, rate="")
            while True:
                now = time.perf_counter() - started
                applied = 0
                for name, topics in inputs.items():
                    at = positions(stores[name])
                    for topic in topics:
                        offset = at.get(topic, 0)
                        applied += offset
                        if offset > 0:
                            seen.first.setdefault((name, topic), now)
                        if offset >= counts[topic]:
                            seen.done.setdefault((name, topic), now)
                    if (all((name, t) in seen.done for t in topics) and name not in seen.outbox_drained
                            and outbox_size(stores[name]) == 0):
                        seen.outbox_drained[name] = now
                if seen.cpu_at_done is None and len(seen.done) == sum(map(len, inputs.values())):
                    seen.cpu_at_done = worker.cpu_seconds()
                first = min(seen.first.values(), default=0.0)
                progress.update(task, completed=applied,
                                rate=f"{applied / (now - first):,.0f} applied/s" if now > first else "")
                if len(seen.outbox_drained) == len(inputs):
                    break
                if not worker.alive():
                    raise SystemExit(f"the worker exited:\n{worker.log_tail()}")
                if now > timeout:
                    raise SystemExit(f"the worker did not catch up in {timeout:.0f}s")
                time.sleep(0.1)
    finally:
        worker.stop()
    return min(seen.first.values()), seen


def throughput(stack: Settings, args: argparse.Namespace, tmp: Path, report: Report) -> Counter[str]:
    counts = asyncio.run(produce(stack, args.events))
    console.print("events per topic: " + ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items())))
    inputs = projection_inputs(counts)
    rows: list[list[str]] = []
    per_topic: list[list[str]] = []
    console.print("raw consumer and in-process apply baselines…")
    baseline: dict[str, tuple[int, float, float, float]] = {}
    for projection in profile_projections():
        events = sum(counts[t] for t in inputs[projection.name])
        raw_seconds, _ = asyncio.run(read_log(stack, inputs[projection.name], counts))
        store = ProfileStore(tmp / "apply" / f"{projection.name}.sqlite", projection.authority)
        try:
            _, apply_seconds = asyncio.run(read_log(stack, inputs[projection.name], counts,
                                                    (projection, store)))
        finally:
            store.close()
        store = ProfileStore(tmp / "apply-batch" / f"{projection.name}.sqlite", projection.authority)
        try:
            _, batch_seconds = asyncio.run(read_log(stack, inputs[projection.name], counts,
                                                    (projection, store), BATCH_SIZE))
        finally:
            store.close()
        baseline[projection.name] = (events, raw_seconds, apply_seconds, batch_seconds)
    startup, seen = run_worker(stack, tmp / "worker", counts, args.worker_timeout, tmp / "logs",
                               args.profile_worker)
    for name, topics in inputs.items():
        events = sum(counts[t] for t in topics)
        first = min(seen.first[(name, t)] for t in topics)
        done = max(seen.done[(name, t)] for t in topics)
        raw = baseline.get(name)
        worker_rate = events / (done - first)
        if raw is not None:
            _events, raw_seconds, apply_seconds, batch_seconds = raw
            rows.append([name, "raw consumer: fetch + Avro decode (key, value)", f"{events:,}",
                         f"{raw_seconds:.2f}", rate(events, raw_seconds), "1.00"])
            rows.append([name, "store apply in-process: from_event + ProfileStore.apply",
                         f"{events:,}", f"{apply_seconds:.2f}", rate(events, apply_seconds),
                         f"{raw_seconds / apply_seconds:.2f}"])
            rows.append([name, f"store apply in-process: from_event + apply_batch ({BATCH_SIZE})",
                         f"{events:,}", f"{batch_seconds:.2f}", rate(events, batch_seconds),
                         f"{raw_seconds / batch_seconds:.2f}"])
        rows.append([name, "worker: bus projections run, first applied event → last position "
                           f"(outbox empty +{seen.outbox_drained[name] - done:.1f} s)",
                     f"{events:,}", f"{done - first:.2f}", f"{worker_rate:,.0f}",
                     f"{raw[1] / (done - first):.2f}" if raw else ""])
        for topic in topics:
            seconds = seen.done[(name, topic)] - seen.first[(name, topic)]
            per_topic.append([name, topic, f"{counts[topic]:,}", f"{seconds:.2f}",
                              rate(counts[topic], seconds)])
    everything = sum(counts.values())
    last = max(seen.done.values())
    applied = sum(counts[t] for topics in inputs.values() for t in topics)
    rows.append(["(all)", f"worker: {everything:,} distinct input messages, {applied:,} applications "
                          f"in three projections; startup to first apply {startup:.1f} s",
                 f"{everything:,}", f"{last - startup:.2f}", rate(everything, last - startup), ""])
    if seen.cpu_at_done:
        rows.append(["(all)", "worker CPU seconds (user + system), start → last position",
                     f"{everything:,}", f"{seen.cpu_at_done:.2f}",
                     rate(everything, seen.cpu_at_done), ""])
    report.add(f"projection throughput — {args.events:,} canonical events, one worker",
               ["projection", "what is timed", "events", "seconds", "events/s", "vs raw consumer"],
               rows)
    report.add("worker, per input topic (first applied event → end offset; topics run concurrently)",
               ["projection", "topic", "events", "seconds", "events/s"], per_topic)
    if args.facet_probe:
        report.add("store apply of a std.social_insurance event vs its employer's insured_employees",
                   ["employees k", "ms/event", "events/s"], facet_probe(args.facet_probe, tmp))
    return counts


# -- 2. rebuild -----------------------------------------------------------------------------------

def rebuild(stack: Settings, counts: Counter[str], tmp: Path, report: Report) -> None:
    command = BusProcess("rebuild", ["projections", "rebuild", "citizen_profile", "--json"],
                         bus_env(stack, tmp / "worker"), tmp / "logs")
    console.print("bus projections rebuild citizen_profile --json …")
    started = time.perf_counter()
    done = command.run(timeout=6 * 3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"rebuild failed ({done.returncode}):\n{command.log_tail()}")
    result = json.loads(done.stdout)
    events, seconds = int(result["events"]), float(result["seconds"])
    report.add("rebuild citizen_profile (bus projections rebuild --json)",
               ["events", "rebuild s", "process s", "events/s", "1,000,000 events at this rate",
                "equal to live"],
               [[f"{events:,}", f"{seconds:.1f}", f"{wall:.1f}", rate(events, seconds),
                 f"{MILLION / (events / seconds) / 60:.1f} min" if events else "—",
                 str(result["equal"])]])


# -- 3. freshness ---------------------------------------------------------------------------------

@dataclass
class Sample:
    number: str
    committed: float
    seen: float
    kafka: float = 0.0  # Kafka timestamp of the row's std.person event


class Watcher(threading.Thread):
    """Reads each awaited citizen through the query side until it appears."""

    def __init__(self, queries: CitizenProfileQueries) -> None:
        super().__init__(daemon=True)
        self.queries = queries
        self.pending: dict[str, float] = {}
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def expect(self, number: str, committed: float) -> None:
        with self.lock:
            self.pending[number] = committed

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                waiting = list(self.pending.items())
            for number, committed in waiting:
                profile = self.queries.get(number)
                if profile is not None:
                    seen = time.time()
                    with self.lock:
                        del self.pending[number]
                        self.samples.append(Sample(number, committed, seen))
            time.sleep(0.002)


class LegacyWriter:
    """Commits one new person per row into the Public Security register."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.n = 0
        self.rng = random.Random(11)

    def commit_one(self) -> tuple[str, float]:
        self.n += 1
        n = self.n
        body = f"330106{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n // 600 % 1000:03d}"
        number = body + compute_check_char(body)
        row = (f"B{n:08d}", number, self.rng.choice("王李张刘陈") + "小雨",
               "1" if int(number[16]) % 2 else "2",
               f"{number[6:10]}年{int(number[10:12])}月{int(number[12:14])}日",
               "浙江省杭州市西湖区文三路1号", "330106", datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
        with sqlite3.connect(self.db) as connection:
            connection.execute("INSERT INTO hj_ryxx (RYBH, SFZH, XM, XB, CSRQ, HJDZ, XZQH, GXSJ) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return number, time.time()


def freshness(stack: Settings, args: argparse.Namespace, tmp: Path, report: Report) -> None:
    state = tmp / "freshness"
    db = state / "legacy" / "gongan.sqlite"
    accepted = seed_gongan(db, persons=200).expected_valid
    (state / "adapters.yaml").write_text(GONGAN_ONLY, encoding="utf-8")
    queries = CitizenProfileQueries(state / "projections" / "citizen_profile.sqlite")
    base = bus_env(stack, state, BUS_ADAPTERS_CONFIG=str(state / "adapters.yaml"))
    worker = BusProcess("projections-freshness", ["projections", "run"], base, tmp / "logs").start()
    writer = LegacyWriter(db)
    rows: list[list[str]] = []
    try:
        for poll in [float(p) for p in args.poll_intervals.split(",")]:
            adapters = BusProcess(f"adapters-{poll}", ["adapters", "run"],
                                  {**base, "BUS_CAPTURE_POLL_INTERVAL": str(poll)}, tmp / "logs").start()
            try:
                _wait(lambda: queries.count() >= accepted, 180, "the seeded profiles", adapters, worker)
                probe, _ = writer.commit_one()  # warm: the path is up end to end
                _wait(lambda probe=probe: queries.get(probe) is not None, 60, "a probe row", adapters,
                      worker)
                watcher = Watcher(queries)
                watcher.start()
                with progress_bar() as progress:
                    task = progress.add_task(f"freshness, poll {poll} s", total=args.samples, rate="")
                    next_at = time.perf_counter()
                    for n in range(args.samples):
                        next_at += 1 / args.rate
                        time.sleep(max(0.0, next_at - time.perf_counter()))
                        watcher.expect(*writer.commit_one())
                        progress.update(task, completed=n + 1)
                _wait(lambda w=watcher: not w.pending, 120, "the last rows", adapters, worker)
                watcher.stopping.set()
                watcher.join()
            finally:
                adapters.stop()
            times = asyncio.run(kafka_times(stack, "std.person"))
            for sample in watcher.samples:
                sample.kafka = times[sample.number]
            rows.append(_freshness_row(poll, watcher.samples))
    finally:
        worker.stop()
    report.add(f"freshness: legacy commit → citizen readable in the read store "
               f"({args.rate:g} rows/s, one row per transaction)",
               ["poll s", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "to std.person p50 ms",
                "to std.person p99 ms", "projection p50 ms", "projection p99 ms"], rows)


async def kafka_times(stack: Settings, topic: str) -> dict[str, float]:
    """Kafka timestamp (s) of the last event per subject of ``topic``. Not the profile's
    ``projected_at``: the live worker stores faust's timestamp in seconds as milliseconds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    await consumer.start()
    times: dict[str, float] = {}
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            while await consumer.position(tp) < end:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    key = await serde.decode(record.key)
                    times[str(key["identity_number"])] = record.timestamp / 1000
    finally:
        await consumer.stop()
    return times


def _freshness_row(poll: float, samples: list[Sample]) -> list[str]:
    def pct(values: list[float], q: int) -> str:
        return f"{statistics.quantiles(values, n=100, method='inclusive')[q - 1] * 1000:,.0f}"

    total = [s.seen - s.committed for s in samples]
    upstream = [s.kafka - s.committed for s in samples]
    projection = [s.seen - s.kafka for s in samples]
    return [f"{poll:g}", f"{len(samples):,}", pct(total, 50), pct(total, 95), pct(total, 99),
            f"{max(total) * 1000:,.0f}", pct(upstream, 50), pct(upstream, 99), pct(projection, 50),
            pct(projection, 99)]


def _wait(check: Any, timeout: float, what: str, *processes: BusProcess) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for process in processes:
            if not process.alive():
                raise SystemExit(f"{process.name} exited while waiting for {what}:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def private_stack(state_dir: Path) -> Iterator[Settings]:
    stack = stack_settings(state_dir)
    local = LocalStack(stack)
    console.print(f"stack in {state_dir}: Kafka {stack.kafka_bootstrap}, registry {stack.registry_url}")
    local.up(timeout=180)
    try:
        yield stack
    finally:
        local.down()


# -- main -----------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (and SIGINT in a background job, which ignores it) must still stop the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report(args.markdown)
    tmp = Path(tempfile.mkdtemp(prefix="rongtong-bench-projections-"))
    began = time.perf_counter()
    try:
        if "throughput" in args.phases:
            with private_stack(tmp / "stack") as stack:
                counts = throughput(stack, args, tmp, report)
                if "rebuild" in args.phases:
                    rebuild(stack, counts, tmp, report)
        elif "rebuild" in args.phases:
            # The rebuild alone (no live worker first): the time to build the projection from
            # the whole log, e.g. for 1,000,000 events; there is no live store to compare with.
            with private_stack(tmp / "stack") as stack:
                counts = asyncio.run(produce(stack, args.events))
                rebuild(stack, counts, tmp, report)
        if "freshness" in args.phases:
            # A stack of its own: a new worker would first project the whole throughput log.
            with private_stack(tmp / "stack-freshness") as stack:
                freshness(stack, args, tmp, report)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report.print_markdown()
    console.print(f"total {time.perf_counter() - began:.0f} s; python {platform.python_version()}, "
                  f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
