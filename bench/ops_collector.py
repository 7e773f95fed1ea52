"""The ops collector's cost: one sample of a broker with many topics and consumer groups.

A stack of the script's own (Kafka + registry on free ports), ``--topics`` topics and
``--groups`` consumer groups (offsets committed directly), then, ``--rounds`` times each:

1. ``raw offsets``: the bare minimum a lag view needs — one ListOffsets for every partition
   (end offsets) and one OffsetFetch per group, the same concurrency — with plain aiokafka;
2. ``collector``: :meth:`KafkaSampler.sample` — that, plus first offsets, metadata and topic
   sizes (DescribeLogDirs); past 100 groups their states are refreshed every 10 s, so a
   usual round skips them — and the round that describes every group (DescribeGroups, one
   request per group) is timed on its own;
3. ``groups page``: building one sorted, filtered page of ``GET /ops/api/groups`` from 90
   samples in memory (what a request costs the web service; no I/O).

    .venv/bin/python bench/ops_collector.py --topics 200 --groups 500 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.protocol.commit import OffsetCommitRequest
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._projection_stack import stack_settings
from bus.stack.local import LocalStack
from bus.web.ops.collector import KafkaSampler
from bus.web.ops.listing import Query, page_of
from bus.web.ops.samples import GroupSample, History, PartitionOffsets, Sample, group_rows

console = Console()


async def coordinator_of(admin: AIOKafkaAdminClient, group: str) -> int:
    for _ in range(100):
        try:
            return int(await admin.find_coordinator(group))
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(0.2)
    raise RuntimeError("no group coordinator")


async def populate(bootstrap: str, topics: int, groups: int) -> tuple[list[str], list[str]]:
    names = [f"bench.t{n:04d}" for n in range(topics)]
    group_ids = [f"bench.g{n:04d}" for n in range(groups)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in names])
        node = await coordinator_of(admin, group_ids[0])

        async def commit(n: int, group: str) -> None:
            request = OffsetCommitRequest(group, -1, "", -1, [(names[n % topics], [(0, 0, "")])])
            for _ in range(50):  # a coordinator still loading answers with a retriable error
                response = await admin._send_request(request, node)
                if all(error == 0 for _, parts in response.topics for _, error in parts):
                    return
                await asyncio.sleep(0.2)
            raise RuntimeError(f"offsets of {group} not committed")

        await asyncio.gather(*(commit(n, g) for n, g in enumerate(group_ids)))
    finally:
        await admin.close()
    return names, group_ids


async def raw_offsets(bootstrap: str, topics: list[str], groups: list[str]
                      ) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """(one round, close)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    await consumer._client.set_topics(topics)
    tps = [TopicPartition(t, 0) for t in topics]
    node = await coordinator_of(admin, groups[0])
    limit = asyncio.Semaphore(32)

    async def fetch(group: str) -> None:
        async with limit:
            await admin.list_consumer_group_offsets(group, node)

    async def once() -> None:
        await consumer.end_offsets(tps)
        await asyncio.gather(*(fetch(g) for g in groups))

    async def close() -> None:
        await consumer.stop()
        await admin.close()
    return once, close


async def timed(what: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    await what()  # warm: connections, metadata, coordinators
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await what()
        times.append(time.perf_counter() - started)
    return times


def page_cost(topics: int, groups: int, rounds: int) -> list[float]:
    history = History()
    for n in range(90):
        history.add(Sample(1000.0 + 2 * n,
                           {f"bench.t{t:04d}": {0: PartitionOffsets(0, 10 * n + t)} for t in range(topics)},
                           {f"bench.g{g:04d}": GroupSample(f"bench.g{g:04d}", {
                               (f"bench.t{g % topics:04d}", 0): 5 * n}, "Stable", 1)
                            for g in range(groups)}))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        page_of(group_rows(history), Query.parse({"q": "bench", "sort": "-lag", "size": "25"}),
                name="group", columns=["group", "lag"])
        times.append(time.perf_counter() - started)
    return times


async def measure(bootstrap: str, args: argparse.Namespace) -> dict[str, list[float]]:
    with console.status(f"creating {args.topics} topics and {args.groups} groups…"):
        topics, groups = await populate(bootstrap, args.topics, args.groups)
    results: dict[str, list[float]] = {}
    once, close = await raw_offsets(bootstrap, topics, groups)
    try:
        with console.status("raw offsets…"):
            results["raw offsets"] = await timed(once, args.rounds)
    finally:
        await close()
    sampler = KafkaSampler(bootstrap)

    async def describing() -> object:
        sampler._states_at = 0.0  # as the round every 10 s that describes every group
        return await sampler.sample()
    try:
        with console.status("collector…"):
            results["collector"] = await timed(sampler.sample, args.rounds)
            results["collector, describing every group"] = await timed(describing, args.rounds)
    finally:
        await sampler.close()
    results["groups page"] = page_cost(args.topics, args.groups, args.rounds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--markdown", action="store_true", help="Also print a Markdown table.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rongtong-bench-ops-") as tmp:
        settings = stack_settings(Path(tmp))
        local = LocalStack(settings)
        with console.status("starting a stack of the benchmark's own…"):
            local.up(timeout=180)
        try:
            results = asyncio.run(measure(settings.kafka_bootstrap, args))
        finally:
            local.down()
    base = statistics.median(results["raw offsets"])
    table = Table(title=f"ops collector — {args.topics} topics, {args.groups} groups, "
                        f"median of {args.rounds} ({platform.processor() or platform.machine()})")
    for column in ("what", "median ms", "p90 ms", "× raw offsets"):
        table.add_column(column, justify="left" if column == "what" else "right")
    rows = []
    for what, times in results.items():
        median = statistics.median(times) * 1000
        p90 = sorted(times)[int(0.9 * (len(times) - 1))] * 1000
        ratio = statistics.median(times) / base
        table.add_row(what, f"{median:.1f}", f"{p90:.1f}", f"{ratio:.2f}")
        rows.append(f"| {what} | {median:.1f} | {p90:.1f} | {ratio:.2f} |")
    console.print(table)
    if args.markdown:
        print("| what | median ms | p90 ms | × raw offsets |\n|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
