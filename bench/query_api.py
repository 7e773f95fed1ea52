"""Query API throughput and latency on a 1,000,000-person read store, auth and audit on.

Three servers, each a child process, driven by the same load generator in this process
(``--connections`` concurrent keep-alive connections, ``--seconds`` per run after a warm-up):

1. ``bare``: a bare aiohttp handler returning a constant JSON body — the baseline;
2. ``profile``: ``bus serve`` answering ``GET /v1/citizens/{random identity number}`` with an API
   key and ``X-Purpose`` (authentication, default-deny policy, masking, the SQLite read, the
   audit record acknowledged by Kafka before the answer);
3. ``profile (masked)``: the same without a purpose (fields masked; still audited).

Kafka and the registry run on a stack of the script's own (free ports, temp dir). The read store
is built once (``bench/_citizen_store.py``) and cached in ``~/.cache/rongtong/bench``.

    .venv/bin/python bench/query_api.py --persons 1000000 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._citizen_store import build_store, identity_numbers
from bench._projection_stack import BusProcess, bus_env, free_port, stack_settings
from bus.access.clients import ClientStore
from bus.stack.local import LocalStack

console = Console()
BARE = textwrap.dedent("""
    import sys
    from aiohttp import web
    BODY = '{"status": "ok", "identity_number": "330106199003071236", "name": "王小明"}'.encode()
    async def constant(request):
        return web.Response(body=BODY, content_type="application/json")
    app = web.Application()
    app.router.add_get("/constant", constant)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


async def _wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


async def _load(urls: list[str], headers: dict[str, str], connections: int, seconds: float,
                warmup: float) -> tuple[int, list[float], dict[int, int]]:
    """Requests done in ``seconds`` (after ``warmup``), their latencies, statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    rng = random.Random(1)
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            began = time.monotonic()
            if began >= stop_at:
                return
            async with session.get(rng.choice(urls), headers=headers) as response:
                await response.read()
            ended = time.monotonic()
            if began >= measure_from:
                latencies.append(ended - began)
                statuses[response.status] = statuses.get(response.status, 0) + 1

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return len(latencies), latencies, statuses


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    cache = Path.home() / ".cache" / "rongtong" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    store = cache / f"citizen_profile-{args.persons}.sqlite"
    began = time.monotonic()
    with Progress(TextColumn("read store"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("build", total=args.persons)
        build_store(store, args.persons, lambda n: progress.update(task, completed=n))
    console.print(f"read store: {store} ({store.stat().st_size / 2**30:.2f} GiB, "
                  f"{time.monotonic() - began:.0f} s)")
    numbers = identity_numbers(args.persons)

    with tempfile.TemporaryDirectory(prefix="rongtong-bench-api-") as tmp:
        root = Path(tmp)
        stack = stack_settings(root / "stack")
        local = LocalStack(stack)
        local.up(timeout=180)
        try:
            rows = asyncio.run(_runs(args, root, stack, store, numbers))
        finally:
            local.down()
    _report(args, rows)


async def _runs(args: argparse.Namespace, root: Path, stack: object, store: Path,
                numbers: list[str]) -> list[tuple[str, str, int, float, list[float], dict[int, int]]]:
    state = root / "api"
    (state / "projections").mkdir(parents=True)
    (state / "projections" / "citizen_profile.sqlite").symlink_to(store)
    clients = ClientStore(state / "access" / "clients.sqlite")
    key = clients.add("bench", "bench", projections=["citizen_profile"],
                      classifications=["public", "internal", "personal", "sensitive_personal"],
                      purposes=["service-desk"]).text
    clients.close()
    env = bus_env(stack, state, BUS_API_RATE="1000000", BUS_API_BURST="1000000")  # type: ignore[arg-type]
    serve = BusProcess("serve", ["serve"], env, root / "logs").start()
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], env=os.environ.copy())
    rows = []
    try:
        web = f"http://127.0.0.1:{env['BUS_WEB_PORT']}"
        await _wait_up(f"{web}/healthz")
        await _wait_up(f"http://127.0.0.1:{bare_port}/constant")
        sample = random.Random(3).sample(numbers, min(len(numbers), 200_000))
        urls = [f"{web}/v1/citizens/{n}" for n in sample]
        auth = {"Authorization": f"Bearer {key}"}
        plan = [
            ("bare", "bare aiohttp handler, constant JSON body",
             [f"http://127.0.0.1:{bare_port}/constant"], {}),
            ("profile",
             "GET /v1/citizens/{id}: API key + X-Purpose, policy, SQLite read, audit acked by Kafka",
             urls, {**auth, "X-Purpose": "service-desk"}),
            ("profile (masked)", "same, no purpose: personal fields masked or left out, still audited",
             urls, auth),
        ]
        for name, what, targets, headers in plan:
            console.print(f"running {name} for {args.seconds:.0f} s …")
            count, latencies, statuses = await _load(targets, headers, args.connections,
                                                     args.seconds, args.warmup)
            rows.append((name, what, count, count / args.seconds, latencies, statuses))
    finally:
        serve.stop()
        bare.terminate()
        bare.wait(10)
    return rows


def _report(args: argparse.Namespace,
            rows: list[tuple[str, str, int, float, list[float], dict[int, int]]]) -> None:
    baseline = rows[0][3]
    table = Table(title=f"query API, {args.persons:,} persons, {args.connections} connections, "
                        f"{args.seconds:.0f} s per row")
    for column in ("path", "what", "requests", "req/s", "p50 ms", "p99 ms", "vs bare", "statuses"):
        table.add_column(column)
    lines = ["| path | what | requests | req/s | p50 ms | p99 ms | vs bare | statuses |",
             "|---|---|--:|--:|--:|--:|--:|---|"]
    for name, what, count, rate, latencies, statuses in rows:
        cells = (name, what, f"{count:,}", f"{rate:,.0f}", f"{_percentile(latencies, 0.5):.1f}",
                 f"{_percentile(latencies, 0.99):.1f}", f"{rate / baseline:.2f}",
                 ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    console.print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
                  f"load {os.getloadavg()[0]:.1f}; mean latency of the profile read "
                  f"{statistics.fmean(rows[1][4]) * 1000:.1f} ms")
    if args.markdown:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
