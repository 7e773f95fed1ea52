"""Rebuild benchmark of ``newborn_case``: ``bus projections rebuild newborn_case`` against a plain
consumer of the same log, and the rebuild's time-order merge against a sort of the same records.

Starts its own stack (Kafka + registry on free ports) in a temp directory, produces ``--flows``
whole newborn flows (mother, father, certificate, application, the newborn's register row, the
enrolment: six canonical events each, Kafka times increasing) on the four input topics, then
times over the very same log:

- ``raw consumer``: a plain ``AIOKafkaConsumer`` (read_committed) fetching the four topics from
  the beginning and Avro-decoding key and value — the floor of any consumer of these events;
- ``rebuild``: ``bus projections rebuild newborn_case --json`` (no live store: nothing to
  compare), its own ``seconds`` and the process's wall time;
- ``merge``: the rebuild's :class:`~projections.rebuilding.LogReader` merging the records the
  raw consumer read (fetches cut every 500 records per partition, in memory, nothing applied)
  against one ``sorted()`` of them by the same key.

    .venv/bin/python bench/newborn_rebuild.py --flows 5000 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._projection_stack import BusProcess, bus_env, stack_settings
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.stack.local import LocalStack
from bus.standards.idcard import compute_check_char
from projections.newborn_case.store import INPUT_TOPICS
from projections.rebuilding import LogReader
from schemas.avro_schemas import load_avro_schema

console = Console()
ENTITY = {"std.person": "person", "std.birth_certificate": "birth_certificate",
          "std.service_case": "service_case", "std.social_insurance": "social_insurance"}
KEY = {"std.person": "identity_number", "std.birth_certificate": "certificate_number",
       "std.service_case": "case_id", "std.social_insurance": "insurance_number"}
AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def identity(division: str, born: date, sequence: int) -> str:
    body = f"{division}{born:%Y%m%d}{sequence:03d}"
    return body + compute_check_char(body)


def source(department: str, table: str, key: str) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"evt-{key}",
            "op": "c", "updated_at": AT}


def flow(i: int) -> list[tuple[str, dict[str, Any]]]:
    """The six canonical events of newborn flow ``i``, in the order they happen."""
    division, home = "330106", f"杭州市西湖区文三路{i}号"
    mother = identity(division, date(1990, 1, 1) + timedelta(days=i // 400), (i % 400) * 2)
    father = identity(division, date(1989, 1, 1) + timedelta(days=i // 400), (i % 400) * 2 + 1)
    born = date(2025, 1, 1) + timedelta(days=i // 900)
    newborn = identity(division, born, i % 900)
    number, case_id, name = f"NB{i:08d}", f"ZW-NB-{i:06d}", f"新生{i}"

    def person(number: str, person_name: str, sex: str, birth: date) -> tuple[str, dict[str, Any]]:
        return "std.person", {"identity_number": number, "name": person_name, "sex_code": sex,
                              "birth_date": birth, "division_code": division,
                              "household_address": home,
                              "source": source("gongan", "hj_ryxx", f"R{number}")}

    return [
        person(mother, f"母{i}", "2", date(1990, 1, 1)),
        person(father, f"父{i}", "1", date(1989, 1, 1)),
        ("std.birth_certificate", {
            "certificate_number": number, "mother_identity_number": mother, "mother_name": f"母{i}",
            "father_identity_number": father, "father_name": f"父{i}", "newborn_sex_code": "2",
            "birth_date": born, "newborn_name": name, "birth_time": None, "birth_place": "市妇幼保健院",
            "issue_date": born, "source": source("wsjk", "csyxzm", number)}),
        ("std.service_case", {
            "case_id": case_id, "case_type": "newborn", "status_code": "submitted",
            "applicant_identity_number": mother, "applicant_name": f"母{i}",
            "subject_reference": f"wsjk.csyxzm/{number}", "steps": [], "submitted_at": AT,
            "updated_at": AT, "source": source("zwfw", "service_case", case_id)}),
        person(newborn, name, "2", born),
        ("std.social_insurance", {
            "insurance_number": f"NB-S-{i:06d}", "identity_number": newborn, "name": name,
            "sex_code": "2", "birth_date": born, "employer_credit_code": None,
            "status_code": "paying", "source": source("rsj", "ac01", f"NB-S-{i:06d}")}),
    ]


async def produce(stack: Settings, flows: int) -> int:
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(t) for t in INPUT_TOPICS])
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    sent = 0
    start_ms = int(time.time() * 1000) - 6 * flows
    try:
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            futures = []
            for i in range(flows):
                for topic, value in flow(i):
                    entity = ENTITY[topic]
                    key = await serde.encode(subject_for(topic, is_key=True),
                                             load_avro_schema(f"{entity}_key"),
                                             {KEY[topic]: value[KEY[topic]]})
                    body = await serde.encode(subject_for(topic), load_avro_schema(entity), value)
                    headers = CloudEvent(f"rongtong.std.{entity}.upserted", "/bench").to_headers()
                    futures.append(await producer.send(topic, body, key, headers=headers,
                                                       timestamp_ms=start_ms + sent))
                    sent += 1
                if len(futures) >= 2_000:
                    await asyncio.gather(*futures)
                    futures = []
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def raw_consumer(stack: Settings) -> tuple[float, dict[TopicPartition, list[Any]]]:
    """Seconds to fetch and decode every input record; the records per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    records: dict[TopicPartition, list[Any]] = {}
    try:
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(t, p) for t in INPUT_TOPICS for p in consumer.partitions_for_topic(t) or ()]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            started = time.perf_counter()
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    for record in batch.get(tp, []):
                        await serde.decode(record.key)
                        await serde.decode(record.value)
                        records.setdefault(tp, []).append(record)
            return time.perf_counter() - started, records
    finally:
        await consumer.stop()


class _Fetches:
    """The records read, handed to the reader 500 per partition and fetch."""

    def __init__(self, records: dict[TopicPartition, list[Any]]) -> None:
        self.records = records
        self.positions = dict.fromkeys(records, 0)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        fetched = {}
        for tp in tps:
            start = self.positions[tp]
            fetched[tp] = self.records[tp][start:start + 500]
            self.positions[tp] += len(fetched[tp])
        return fetched


async def merge(records: dict[TopicPartition, list[Any]]) -> tuple[float, float]:
    """Seconds for the reader's merge, and for one sort of the same records."""
    applied: list[Any] = []

    async def apply(batch: list[Any]) -> None:
        applied.extend(batch)

    reader = LogReader(_Fetches(records), INPUT_TOPICS, apply, None)
    started = time.perf_counter()
    await reader.read_until({tp: len(rs) for tp, rs in records.items()}, 0)
    merged = time.perf_counter() - started
    started = time.perf_counter()
    ordered = sorted((r for rs in records.values() for r in rs),
                     key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
    sorted_in = time.perf_counter() - started
    assert [(r.topic, r.offset) for r in applied] == [(r.topic, r.offset) for r in ordered]
    return merged, sorted_in


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=5_000, help="newborn flows (six events each)")
    parser.add_argument("--markdown", action="store_true", help="also print the table for the docs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-newborn-") as scratch:
        tmp = Path(scratch)
        stack = stack_settings(tmp / "stack")
        local = LocalStack(stack)
        console.print(f"stack in {tmp}: Kafka {stack.kafka_bootstrap}")
        local.up(timeout=180)
        try:
            events = asyncio.run(produce(stack, args.flows))
            console.print(f"{events} events produced")
            raw_s, records = asyncio.run(raw_consumer(stack))
            merge_s, sort_s = asyncio.run(merge(records))
            command = BusProcess("rebuild", ["projections", "rebuild", "newborn_case", "--json"],
                                 bus_env(stack, tmp / "state"), tmp / "logs")
            started = time.perf_counter()
            done = command.run(timeout=3_600)
            process_s = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"rebuild failed ({done.returncode}):\n{command.log_tail()}")
            report = json.loads(done.stdout)
        finally:
            local.down()
    rebuild_s = float(report["seconds"])
    rows = [
        ("raw consumer (fetch + Avro decode)", events, raw_s, "1.00"),
        ("bus projections rebuild newborn_case", int(report["events"]), rebuild_s,
         f"{rebuild_s / raw_s:.1f}"),
        ("  (its process, wall)", int(report["events"]), process_s, f"{process_s / raw_s:.1f}"),
        ("merge in time order (LogReader, in memory)", events, merge_s, f"{merge_s / sort_s:.1f} × sort"),
        ("one sorted() of the same records", events, sort_s, "1.00 × sort"),
    ]
    table = Table(title=f"newborn_case rebuild, {args.flows} flows ({platform.node()}, shared machine)")
    for column in ("what", "events", "s", "events/s", "ratio"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for what, count, seconds, ratio in rows:
        table.add_row(what, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", ratio)
    console.print(table)
    if args.markdown:
        print("| what | events | s | events/s | ratio |\n|---|--:|--:|--:|--:|")
        for what, count, seconds, ratio in rows:
            print(f"| {what.strip()} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
