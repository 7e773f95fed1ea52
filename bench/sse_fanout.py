"""``GET /v1/subscribe`` fan-out: events/s delivered to 100 concurrent SSE subscribers.

A stack of the script's own (Kafka + registry on free ports), ``--events`` person events on
``std.person``, and three runs with ``--subscribers`` concurrent readers of all of them:

1. ``gateway``: ``bus serve`` (a child process), each subscriber a ``GET /v1/subscribe?from=
   beginning`` with an API key and ``X-Purpose`` — per connection a consumer, Avro decoding,
   the field policy, and an audit record acknowledged by Kafka for every event (names and
   identity numbers are personal);
2. ``bare SSE``: a bare aiohttp handler (a child process) streaming the very bytes the gateway
   sent the first subscriber, to as many clients — the transport alone;
3. ``raw consumers``: as many aiokafka consumers in this process, each reading the same records
   without decoding them — Kafka alone.

    .venv/bin/python bench/sse_fanout.py --events 2000 --subscribers 100 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._projection_stack import BusProcess, bus_env, free_port, stack_settings
from bench.query_api import _wait_up as wait_up
from bus.access.clients import CLASSIFICATIONS, ClientStore
from bus.envelope import CloudEvent
from bus.events.publisher import EventPublisher
from bus.governance.sources import load_entities
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.stack.local import LocalStack
from bus.standards.idcard import compute_check_char

console = Console()
TYPE = "rongtong.std.person.upserted"
Result = TypeVar("Result")
BARE = textwrap.dedent("""
    import sys
    from aiohttp import web
    BODY = open(sys.argv[2], "rb").read()
    async def stream(request):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, len(BODY), 65536):
            await response.write(BODY[start:start + 65536])
        await response.write_eof()
        return response
    app = web.Application()
    app.router.add_get("/stream", stream)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


def person(rng: random.Random, n: int) -> dict[str, object]:
    body = f"330106{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{n % 1000:03d}"
    number = body + compute_check_char(body)
    return {"identity_number": number, "name": rng.choice("王李张刘陈杨赵黄周吴") + "小明",
            "sex_code": rng.choice("12"), "birth_date": date(int(number[6:10]), int(number[10:12]),
                                                              int(number[12:14])),
            "division_code": "330106", "household_address": "杭州市西湖区文三路 1 号",
            "source": {"department": "gongan", "table": "hj_ryxx", "record_key": f"R{n}",
                       "event_id": f"bench-{n}", "op": "c", "updated_at": datetime.now(UTC)}}


async def publish_persons(stack: Settings, count: int, progress: Progress | None = None) -> None:
    """``count`` person events on ``std.person`` through the bus's own publisher."""
    entity = {e.entity: e for e in load_entities()}["person"]
    registry = RegistryClient(stack.registry_url)
    publisher = EventPublisher(stack.kafka_bootstrap, AvroSerde(registry))
    rng = random.Random(20261127)
    task = progress.add_task("publish", total=count) if progress else None
    try:
        for start in range(0, count, 200):
            records = [person(rng, n) for n in range(start, min(count, start + 200))]
            await asyncio.gather(*(publisher.publish(
                entity, {"identity_number": r["identity_number"]}, r,
                CloudEvent(TYPE, "/bench", subject=f"person/{r['identity_number']}",
                           dataclassification="sensitive_personal")) for r in records))
            if progress is not None and task is not None:
                progress.update(task, completed=start + len(records))
    finally:
        await publisher.close()
        await registry.close()


async def _read_events(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                       count: int, keep: list[bytes] | None) -> None:
    """Read an SSE stream until ``count`` events (blank-line separated frames with data)."""
    seen = 0
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        async for line in response.content:
            if keep is not None:
                keep.append(line)
            if line.startswith(b"data: "):
                seen += 1
                if seen == count:
                    return


async def fan_out(url: str, headers: dict[str, str], subscribers: int, count: int,
                  keep: list[bytes] | None = None) -> float:
    """Seconds until every subscriber has read ``count`` events."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    connector = aiohttp.TCPConnector(limit=subscribers + 10)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        began = time.monotonic()
        await asyncio.gather(*(_read_events(session, url, headers, count,
                                            keep if n == 0 else None) for n in range(subscribers)))
        return time.monotonic() - began


async def raw_consumers(bootstrap: str, subscribers: int, count: int) -> float:
    async def one() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed", max_poll_records=200)
        await consumer.start()
        try:
            tp = TopicPartition("std.person", 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            seen = 0
            while seen < count:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                seen += len(batch.get(tp, []))
        finally:
            await consumer.stop()

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(subscribers)))
    return time.monotonic() - began


async def _runs(args: argparse.Namespace, root: Path, stack: Settings) -> list[tuple[str, str, float]]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        await publish_persons(stack, args.events, progress)
    state = root / "api"
    clients = ClientStore(state / "access" / "clients.sqlite")
    key = clients.add("bench", "bench", projections=["citizen_profile"],
                      classifications=list(CLASSIFICATIONS), purposes=["service-desk"]).text
    clients.close()
    env = bus_env(stack, state, BUS_API_RATE="1000000", BUS_API_BURST="1000000")
    serve = BusProcess("serve", ["serve"], env, root / "logs").start()
    rows: list[tuple[str, str, float]] = []
    bare: subprocess.Popen[bytes] | None = None
    try:
        web = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
        await wait_up(f"{web}/healthz")
        url = f"{web}/v1/subscribe?types={TYPE}&from=beginning"
        auth = {"Authorization": f"Bearer {key}", "X-Purpose": "service-desk"}
        await fan_out(url, auth, 1, 10)  # warm: registry schemas, metadata
        frames: list[bytes] = []
        console.print(f"gateway: {args.subscribers} subscribers × {args.events:,} events …")
        seconds = await fan_out(url, auth, args.subscribers, args.events, frames)
        rows.append(("gateway", "bus serve GET /v1/subscribe: consumer per connection, Avro "
                     "decode, field policy, audit acked by Kafka per event", seconds))
        body = root / "stream.bin"
        body.write_bytes(b"".join(frames))
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(port), str(body)])
        await wait_up(f"http://127.0.0.1:{port}/none")
        console.print("bare SSE …")
        seconds = await fan_out(f"http://127.0.0.1:{port}/stream", {}, args.subscribers,
                                args.events)
        rows.append(("bare SSE", f"bare aiohttp handler streaming the same "
                     f"{body.stat().st_size / 2**20:.1f} MiB to each client", seconds))
        console.print("raw consumers …")
        seconds = await raw_consumers(stack.kafka_bootstrap, args.subscribers, args.events)
        rows.append(("raw consumers", "aiokafka consumers reading the same records, no decoding",
                     seconds))
    finally:
        serve.stop()
        if bare is not None:
            bare.terminate()
            bare.wait(10)
    return rows


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                markdown: bool) -> None:
    """A rich table, the machine's load, and with ``markdown`` the same rows for the docs."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    lines = ["| " + " | ".join(columns) + " |", "|---|---|" + "--:|" * (len(columns) - 2)]
    for cells in rows:
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    console.print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
                  f"load {os.getloadavg()[0]:.1f}")
    if markdown:
        print("\n".join(lines))


def on_own_stack(prefix: str, runs: Callable[[Path, Settings], Coroutine[Any, Any, Result]]
                 ) -> Result:
    """``runs(root, stack)`` against a Kafka broker and registry of its own, in a temp dir."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        stack = stack_settings(root / "stack")
        local = LocalStack(stack)
        local.up(timeout=180)
        try:
            return asyncio.run(runs(root, stack))
        finally:
            local.down()


def _report(args: argparse.Namespace, rows: list[tuple[str, str, float]]) -> None:
    total = args.events * args.subscribers
    gateway = total / rows[0][2]
    print_table(f"SSE fan-out: {args.subscribers} subscribers × {args.events:,} events",
                ("path", "what", "seconds", "events/s delivered", "gateway ÷ this"),
                [(name, what, f"{seconds:.1f}", f"{total / seconds:,.0f}",
                  f"{gateway / (total / seconds):.2f}") for name, what, seconds in rows],
                args.markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    _report(args, on_own_stack("rongtong-bench-sse-", lambda root, stack: _runs(args, root, stack)))


if __name__ == "__main__":
    main()
