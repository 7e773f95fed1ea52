"""Webhook deliveries/s to a local aiohttp receiver, beside a bare aiohttp client.

A stack of the script's own (Kafka + registry on free ports), ``--events`` person events on
``std.person``, a receiver (a child process answering every POST with 204) and two runs:

1. ``dispatcher``: ``bus webhooks run`` (a child process) delivering every event to
   ``--webhooks`` webhooks registered with ``start: beginning`` — per webhook a consumer, Avro
   decoding, the field policy, an audit record acknowledged by Kafka per event (names and
   identity numbers are personal), the Standard Webhooks signature, the POST, and the delivery
   log row with the webhook's position in one SQLite transaction;
2. ``bare client``: this process POSTing the very bodies the receiver got from the first
   webhook, one loop per webhook, each waiting for its answer before the next POST (as a
   webhook delivers in order) — the HTTP round trips alone.

The dispatcher's rate is counted from its first delivery (its start-up is left out).

    .venv/bin/python bench/webhooks.py --events 2000 --webhooks 10 --markdown
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._projection_stack import BusProcess, bus_env, free_port
from bench.query_api import _wait_up as wait_up
from bench.sse_fanout import TYPE, on_own_stack, print_table, publish_persons
from bus.access.clients import CLASSIFICATIONS, ClientStore
from bus.settings import Settings, load_settings
from bus.webhooks.store import WebhookStore

console = Console()
RECEIVER = textwrap.dedent("""
    import collections, json, sys
    from aiohttp import web
    counts = collections.Counter()
    kept = []
    async def receive(request):
        body = await request.read()
        counts[request.path] += 1
        if request.path == "/w0":
            kept.append(body)
        return web.Response(status=204)
    async def count(request):
        return web.json_response(counts)
    async def bodies(request):
        return web.Response(body=b"\\n".join(kept))
    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_get("/bodies", bodies)
    app.router.add_post("/{tail:.*}", receive)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


async def _counts(session: aiohttp.ClientSession, receiver: str) -> dict[str, int]:
    async with session.get(f"{receiver}/count") as response:
        return dict(await response.json())


async def _dispatcher(args: argparse.Namespace, root: Path, stack: Settings, receiver: str
                      ) -> float:
    state = root / "webhooks"
    settings = load_settings(state_dir=state)
    clients = ClientStore(settings.clients_path)
    clients.add("bench", "bench", classifications=list(CLASSIFICATIONS), purposes=["service-desk"])
    clients.close()
    store = WebhookStore(settings.webhooks_path)
    for n in range(args.webhooks):
        store.register("bench", f"{receiver}/w{n}", [TYPE], None, None, purpose="service-desk",
                       start="beginning")
    store.close()
    env = bus_env(stack, state, BUS_WEBHOOKS_ALLOWED_HOSTS="127.0.0.1",
                  BUS_WEBHOOKS_PORT=str(free_port()), BUS_WEBHOOKS_RELOAD_SECONDS="0.2")
    total = args.events * args.webhooks
    dispatcher = BusProcess("webhooks", ["webhooks", "run"], env, root / "logs").start()
    try:
        async with aiohttp.ClientSession() as session:
            with Progress(TextColumn("dispatcher"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("deliver", total=total)
                first: tuple[float, int] | None = None
                while True:
                    done = sum((await _counts(session, receiver)).values())
                    now = time.monotonic()
                    progress.update(task, completed=done)
                    if first is None and done > 0:
                        first = (now, done)
                    if done >= total:
                        break
                    if not dispatcher.alive():
                        raise RuntimeError("the dispatcher stopped:\n" + dispatcher.log_tail())
                    await asyncio.sleep(0.1)
        assert first is not None
        return float((total - first[1]) / (now - first[0]))
    finally:
        dispatcher.stop()


async def _bare(args: argparse.Namespace, receiver: str) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{receiver}/bodies") as response:
            bodies = (await response.read()).split(b"\n")
        assert len(bodies) == args.events, len(bodies)
        headers = {"content-type": "application/json"}

        async def loop(n: int) -> None:
            for body in bodies:
                async with session.post(f"{receiver}/b{n}", data=body, headers=headers) as answer:
                    await answer.read()
                    assert answer.status == 204

        began = time.monotonic()
        await asyncio.gather(*(loop(n) for n in range(args.webhooks)))
        return float(args.events * args.webhooks / (time.monotonic() - began))


async def _runs(args: argparse.Namespace, root: Path, stack: Settings) -> list[tuple[str, str, float]]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        await publish_persons(stack, args.events, progress)
    port = free_port()
    receiver_process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    receiver = f"http://127.0.0.1:{port}"
    try:
        await wait_up(f"{receiver}/count")
        dispatched = await _dispatcher(args, root, stack, receiver)
        bare = await _bare(args, receiver)
    finally:
        receiver_process.terminate()
        receiver_process.wait(10)
    return [("dispatcher", "bus webhooks run: consumer per webhook, decode, policy, audit acked "
             "by Kafka, signature, POST, log row + position in one SQLite transaction", dispatched),
            ("bare client", "aiohttp POSTing the same bodies, one in-order loop per webhook", bare)]


def _report(args: argparse.Namespace, rows: list[tuple[str, str, float]]) -> None:
    bare = rows[-1][2]
    print_table(f"webhooks: {args.webhooks} webhooks × {args.events:,} events",
                ("path", "what", "deliveries/s", "vs bare"),
                [(name, what, f"{rate:,.0f}", f"{rate / bare:.2f}") for name, what, rate in rows],
                args.markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    _report(args, on_own_stack("rongtong-bench-webhooks-",
                               lambda root, stack: _runs(args, root, stack)))


if __name__ == "__main__":
    main()
